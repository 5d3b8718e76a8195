#!/usr/bin/env bash
# Static security analysis (offline). Exits non-zero on any finding or if a tool cannot run.
#   1. ruff's flake8-bandit rules (S) on namoid/
#   2. semgrep with the house rules (tools/semgrep/rules.yml) on namoid/ and tools/
# semgrep lives in its own venv (it conflicts with the project's dependencies):
#   uv venv -q .venv-semgrep && \
#     VIRTUAL_ENV=.venv-semgrep uv pip sync -q --require-hashes tools/semgrep/requirements.lock.txt
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "static analysis: $*" >&2; exit 2; }

ruff=.venv/bin/ruff
[ -x "$ruff" ] || ruff=$(command -v ruff) || die "ruff not found (.venv/bin or PATH)"
semgrep=.venv-semgrep/bin/semgrep
[ -x "$semgrep" ] || die "$semgrep is missing; create it as described at the top of $0"

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
rc=0

t=$(now)
echo "== ruff check --select S namoid"
"$ruff" check --select S namoid || rc=1
echo "-- ruff: $(took "$t")"

t=$(now)
echo "== semgrep (tools/semgrep/rules.yml) on namoid tools"
# Without --metrics=off and --disable-version-check semgrep retries the network for ~100 s.
# Exit codes: 0 clean, 1 findings (--error), anything else: semgrep could not run.
set +e
SEMGREP_SEND_METRICS=off SEMGREP_ENABLE_VERSION_CHECK=0 \
    "$semgrep" scan --config tools/semgrep/rules.yml --metrics=off --disable-version-check \
    --error --quiet namoid tools
src=$?
set -e
echo "-- semgrep: $(took "$t") (exit $src)"
[ "$src" -eq 0 ] || rc=1

if [ "$rc" -ne 0 ]; then
    echo "static analysis: FAILED" >&2
else
    echo "static analysis: no findings"
fi
exit "$rc"
