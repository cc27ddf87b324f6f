# One command each: `make demo` (all connectors against local fakes) and `make test` (lint + every test).
# Both build the virtualenv from nothing when it is missing. Nothing here contacts anything but 127.0.0.1 and
# the package index: DO_NOT_TRACK=1 turns off the fivetran CLI's telemetry.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

export DO_NOT_TRACK := 1
export PATH := $(BIN):$(PATH)

CONNECTOR ?=
ARGS ?=

CHAOS_SEED ?= $(shell date +%s)
CHAOS_ROUNDS ?= 6

.PHONY: install test lint demo package deploy chaos clean bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest

# Randomized fault and crash runs; the seed is printed first and in every failure, so a run can be replayed
# with `make chaos CHAOS_SEED=<seed>`.
chaos: install
	@echo "chaos seed: $(CHAOS_SEED) (replay with: make chaos CHAOS_SEED=$(CHAOS_SEED))"
	CHAOS_SEED=$(CHAOS_SEED) CHAOS_ROUNDS=$(CHAOS_ROUNDS) $(BIN)/pytest -m "chaos or e2e" tests/e2e

demo: install
	$(BIN)/python -m sandbox.demo

# Every connector against its sandbox fake, measured against the SDK runner's own ceiling; exits 1 when a target is
# missed. Table in build/bench.md. ARGS="--rows 10000 100000 --million --connectors pindrop courier".
bench: install
	$(BIN)/python -m tools.bench $(ARGS)

# build/<connector>.zip for one connector (CONNECTOR=courier) or all of them.
package: install
	$(BIN)/python -m tools.package package $(CONNECTOR)

# fivetran deploy on build/<connector>/; key, destination and connection as the CLI takes them:
#   FIVETRAN_API_KEY=... make deploy CONNECTOR=courier ARGS="--destination D --connection C --configuration F"
deploy: install
	@test -n "$(CONNECTOR)" || (echo "name the connector: make deploy CONNECTOR=<name> ARGS='...'"; exit 2)
	@$(BIN)/python -m tools.package deploy $(CONNECTOR) $(ARGS)

clean:
	rm -rf build $(VENV) */files */crash-reports .pytest_cache .ruff_cache
