# NamoID developer entry points. A newcomer needs two: `make serve` and `make test`.
# Everything installs from hashed lock files into local virtual environments.

PYTHON ?= python3
BOOT   := .venv-bootstrap
UV     := $(BOOT)/bin/uv
VENV   := .venv
SEMGREP_VENV := .venv-semgrep
export UV_PYTHON_DOWNLOADS := never
# Python writes its bytecode caches: some environments set PYTHONDONTWRITEBYTECODE, and then
# every `namoid` subprocess the tests start compiles the whole code base again (6 s, not 2 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: serve test lint security install lock clean-venvs bench

serve: $(VENV)/.installed  ## run the server on the embedded default (SQLite, dev TLS, demo data)
	$(VENV)/bin/namoid serve

# pytest-xdist: the suite mostly waits (servers, subprocesses, browsers), so more workers than cores pay.
# PYTEST_ARGS comes after and wins: PYTEST_ARGS="-n 0" runs serially.
# Serial until a full parallel run is shown green on a quiet machine: XDIST_ARGS="-n 4 --dist worksteal".
XDIST_ARGS ?= -n 0

test: $(VENV)/.installed $(SEMGREP_VENV)/.installed  ## the whole test suite (PostgreSQL/Redis parts skip when absent)
	$(VENV)/bin/python -m pytest $(XDIST_ARGS) $(PYTEST_ARGS)

lint: $(VENV)/.installed  ## ruff and mypy
	$(VENV)/bin/ruff check namoid tests tools bench
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict tools

security: $(VENV)/.installed $(SEMGREP_VENV)/.installed  ## secret scan, CVE audit, static security analysis
	bash tools/secret_scan.sh
	$(VENV)/bin/python -m tools.cve_audit --lock requirements.lock.txt --lock tools/bootstrap.lock.txt \
		--lock tools/semgrep/requirements.lock.txt --db $(ADVISORY_DB) $(CVE_AUDIT_ARGS)
	bash tools/static_analysis.sh

ADVISORY_DB ?= ../shared/data/pypa-advisory-db

install: $(VENV)/.installed

bench: $(VENV)/.installed  ## side by side: NamoID (SQLite, PostgreSQL) and node-oidc-provider (needs a quiet machine)
	$(VENV)/bin/python bench/run.py --with-node --readme bench/README.md $(BENCH_ARGS)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "NamoID needs Python 3.11 or newer"; exit 1; }
	@$(PYTHON) -m venv $(BOOT) \
		|| { echo "python venv support missing: on Debian/Ubuntu run 'sudo apt install python3-venv'"; exit 1; }
	$(BOOT)/bin/pip install -q --disable-pip-version-check --require-hashes -r tools/bootstrap.lock.txt

$(VENV)/.installed: requirements.lock.txt pyproject.toml | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync -q --python $(VENV)/bin/python --require-hashes requirements.lock.txt
	$(UV) pip install -q --python $(VENV)/bin/python --no-deps --no-build-isolation -e .
	@touch $@

$(SEMGREP_VENV)/.installed: tools/semgrep/requirements.lock.txt | $(UV)
	$(UV) venv -q --allow-existing --python $(PYTHON) $(SEMGREP_VENV)
	$(UV) pip sync -q --python $(SEMGREP_VENV)/bin/python --require-hashes tools/semgrep/requirements.lock.txt
	@touch $@

lock:  ## refresh the hashed locks (honours the 7-day cool-off in pyproject.toml)
	$(UV) pip compile pyproject.toml --universal --group dev --generate-hashes --python-version 3.11 \
		-q -o requirements.lock.txt
	$(UV) pip compile tools/semgrep/requirements.in --universal --generate-hashes --python-version 3.11 \
		--exclude-newer "7 days" -q -o tools/semgrep/requirements.lock.txt
	$(UV) pip compile tools/bootstrap.in --universal --generate-hashes --python-version 3.11 \
		--exclude-newer "7 days" -q -o tools/bootstrap.lock.txt

clean-venvs:
	rm -rf $(VENV) $(SEMGREP_VENV) $(BOOT)
