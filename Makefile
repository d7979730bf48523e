# Two entry points for a fresh machine: `make run` and `make test`.
# Each installs what it needs: Python packages into .venv, crates via cargo,
# PostgreSQL (Debian package) for the database tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The Solana runtime takes long to build: keep its artefacts outside the clone
# so later sessions and CI reuse them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/tandem/target
export TANDEM_LOCALNET_BIN ?= $(CARGO_TARGET_DIR)/debug/localnet

.PHONY: run test venv build rust-test py-test postgres bench clean idl idl-check dashboard-vendor

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# The Kalshi SDK declares Python 3.13 but runs on 3.11 (issue #4).
	$(PY) -m pip install -q --ignore-requires-python kalshi-python-async==3.34.0
	touch $@

venv: $(VENV)/.installed

build: venv
	cargo build -p localnet

rust-test:
	cargo test --workspace
	bash scripts/gen-idl.sh --check

# The program's IDL is generated from its code (Anchor's idl-build feature) and committed.
idl:
	bash scripts/gen-idl.sh --write

idl-check:
	bash scripts/gen-idl.sh --check

py-test: venv build
	$(VENV)/bin/lint-imports  # imports point one way (.importlinter; DESIGN.md, Layering)
	TEST_POSTGRES_URL=$$(bash scripts/ensure-postgres.sh) TANDEM_TEST_CHROMIUM=$$(bash scripts/ensure-chromium.sh) $(PY) -m pytest -q

test: rust-test py-test

run: build
	$(VENV)/bin/tandem up

# `make bench` runs every benchmark; `make bench B=engine` one of them.
bench: venv build
	$(PY) -m bench $(B)

# The dashboard's charting library (uPlot, npm) is committed under indexer/dashboard/static/vendor,
# so a fresh clone needs no npm; this refreshes it after a version bump in its package.json.
dashboard-vendor:
	cd indexer/dashboard && npm ci --no-audit --no-fund && npm run vendor

clean:
	rm -rf $(VENV) .tandem
