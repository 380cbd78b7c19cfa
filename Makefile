# The README's two commands: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ANVIL_VERSION := 1.7.1
ANVIL := .tools/node_modules/.bin/anvil
DEMO_CASE := fixtures/evm-exchange-hack/case.toml
DEMO_OUT := out/demo

.PHONY: install demo test lint pytest bench docs clean anvil chromium

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $@

install: $(BIN)/.installed

# anvil: pinned, from npm (the package ships the binary for this platform).
$(ANVIL):
	npm install --silent --no-audit --no-fund --prefix .tools @foundry-rs/anvil@$(ANVIL_VERSION)

anvil: $(ANVIL)

# Debian's Chromium for the report's browser tests.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: install
	@$(BIN)/tracer investigate $(DEMO_CASE) --out $(DEMO_OUT)

lint: install
	$(BIN)/ruff check tracer heuristics tests bench fixtures tools
	$(BIN)/ruff format --check tracer heuristics tests bench fixtures tools
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: install anvil chromium
	TRACER_ANVIL=$(abspath $(ANVIL)) $(BIN)/pytest -q

test: lint pytest

bench: install anvil
	TRACER_ANVIL=$(abspath $(ANVIL)) $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .tools out .mypy_cache .ruff_cache
