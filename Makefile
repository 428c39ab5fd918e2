# The two commands: `make run` (national study on the bundled demo) and `make test`.
# Both set everything up from nothing: uv (if absent), then .venv from the committed uv.lock, every
# optional extra (pyproject.toml: dask, s3, pdf, postgres) included, compiled to bytecode at install so the
# first run is not the slowest (uv compiles only what is not compiled yet: a later sync adds ~1 s).
# `make setup` and `make run` also build Prefect's database in PREFECT_HOME for the same reason (about 10 s
# once, 1.2 s after); `make test` does not: every test session uses a Prefect home of its own.
PYTHON ?= python3
UV := $(PYTHON) -m uv
ARGS ?=

.PHONY: venv setup run test lint

venv:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.9"
	@$(UV) sync --frozen --all-extras --compile-bytecode --quiet

setup: venv
	@.venv/bin/python -m operations.prefect_database

run: setup
	@scripts/install-report-deps --pdf-only
	.venv/bin/maturity run $(ARGS)

# PostgreSQL-backed tests use a local server that scripts/start-postgres starts (skipped if it cannot).
# Reports: Debian's chromium, poppler-utils and Pango, and the pinned axe-core (tests/a11y) for report tests.
# Two pytest-xdist workers, one per core of the CI machine, each with its own Prefect home and test server
# (tests/conftest.py); a file's tests stay on one worker so its module fixtures are built once.
test: venv
	@scripts/install-report-deps
	.venv/bin/ruff check .
	.venv/bin/deptry .
	MATURITY_TEST_POSTGRES_URL="$$(scripts/start-postgres 2>/dev/null)" .venv/bin/pytest --numprocesses 2 --dist loadfile

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/deptry .
