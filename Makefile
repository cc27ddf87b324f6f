# One command each: `make demo` (all connectors against local fakes) and `make test` (lint + every test).
# Both build the virtualenv from nothing when it is missing. Nothing here contacts anything but 127.0.0.1 and
# the package index: DO_NOT_TRACK=1 turns off the fivetran CLI's telemetry.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

export DO_NOT_TRACK := 1
export PATH := $(BIN):$(PATH)

.PHONY: install test lint demo clean

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

demo: install
	$(BIN)/python -m sandbox.demo

clean:
	rm -rf build $(VENV) */files */crash-reports .pytest_cache .ruff_cache
