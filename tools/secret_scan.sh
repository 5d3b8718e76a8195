#!/usr/bin/env bash
# Secret scan gate with detect-secrets (offline).
#
#   tools/secret_scan.sh                    exit 1 if any file holds a secret that is not in
#                                           .secrets.baseline (exit 2 if the scan cannot run)
#   tools/secret_scan.sh --update-baseline  regenerate .secrets.baseline; review it, then commit
#
# Files scanned: everything git tracks plus untracked files that are not ignored, minus the
# baseline itself and lock files (their sha256 hashes are high-entropy noise).
# detect-secrets is taken from $VIRTUAL_ENV/bin, else .venv/bin, else PATH.
set -euo pipefail

die() { echo "secret scan: $*" >&2; exit 2; }

mode=check
case "${1:-}" in
    "") ;;
    --update-baseline) mode=update ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (expected --update-baseline)" ;;
esac

root=$(git rev-parse --show-toplevel 2>/dev/null) || die "not inside a git work tree"
cd "$root"

BASELINE=.secrets.baseline
# Python regex (detect-secrets --exclude-files) and bash ERE at once.
EXCLUDE_RE='(^|/)([^/]*\.lock\.txt|[^/]*\.lock|\.secrets\.baseline)$'

bin=""
for dir in ${VIRTUAL_ENV:+"$VIRTUAL_ENV/bin"} .venv/bin; do
    if [ -x "$dir/detect-secrets-hook" ]; then bin="$dir/"; break; fi
done
command -v "${bin}detect-secrets-hook" >/dev/null || die "detect-secrets not found (.venv/bin or PATH)"

files=()
excluded=()
git ls-files >/dev/null || die "git ls-files failed"
while IFS= read -r -d '' f; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue       # deleted in the work tree, symlink, submodule
    if [[ "$f" =~ $EXCLUDE_RE ]]; then excluded+=("$f"); else files+=("$f"); fi
done < <(git ls-files -z --cached --others --exclude-standard | sort -zu)
[ "${#files[@]}" -gt 0 ] || die "no files to scan"

echo "secret scan: detect-secrets $("${bin}detect-secrets" --version), ${#files[@]} files" \
     "(git-tracked + untracked non-ignored) in $root"
echo "secret scan: not scanned: ${excluded[*]:-(nothing)}"

if [ "$mode" = update ]; then
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    "${bin}detect-secrets" scan --exclude-files "$EXCLUDE_RE" "${files[@]}" >"$tmp"
    mv "$tmp" "$BASELINE"
    n=$(python3 -c 'import json,sys; print(sum(map(len, json.load(open(sys.argv[1]))["results"].values())))' "$BASELINE")
    echo "secret scan: wrote $BASELINE with $n accepted finding(s)."
    echo "secret scan: review them (detect-secrets audit $BASELINE) before committing."
    exit 0
fi

[ -f "$BASELINE" ] || die "$BASELINE is missing; create it with: tools/secret_scan.sh --update-baseline"

# The hook rewrites its baseline when line numbers move; give it a copy so that the
# committed baseline is never modified by a check.
copy=$(mktemp)
trap 'rm -f "$copy"' EXIT
cp "$BASELINE" "$copy"
set +e
"${bin}detect-secrets-hook" --baseline "$copy" "${files[@]}"
rc=$?
set -e
case $rc in
    0) echo "secret scan: no new secrets (baseline: $BASELINE)" ;;
    3) echo "secret scan: no new secrets; note: $BASELINE is stale (line numbers moved or" \
            "findings gone), refresh it with tools/secret_scan.sh --update-baseline"; rc=0 ;;
    1) echo "secret scan: FAILED: new secret(s) above are not in $BASELINE" >&2 ;;
    *) echo "secret scan: FAILED: detect-secrets-hook exited $rc" >&2 ;;
esac
exit $rc
