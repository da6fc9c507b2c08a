# Wishflow — run `make help` for the list of targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := False
export DO_NOT_TRACK := 1

.DEFAULT_GOAL := help

help: ## Show this list of targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create the virtual environment and install Wishflow with its dev tools

demo: $(STAMP) ## Run the whole order cycle against a fresh sandbox into .wishflow/demo.db (never .wishflow/warehouse.db)
	$(BIN)/wishflow demo

test: $(STAMP) ## Run the whole test suite (PostgreSQL tests too when WISHFLOW_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## The edit loop: unit and SQLite tests, no end-to-end or slow scenarios (a few minutes)
	WISHFLOW_TEST_POSTGRES_URL= $(BIN)/python -m pytest -m "not e2e and not slow and not postgres" -q $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check; mypy (strict on the library, bodies checked in flows/tasks/blocks)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy wishflow flows tasks blocks

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

sandbox: $(STAMP) ## Serve the Wish API sandbox on 127.0.0.1:8765
	$(BIN)/wishflow sandbox serve

$(VENV)/.bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(VENV)/.bench

bench: $(VENV)/.bench ## Run every benchmark (about 20 minutes) and rewrite bench/RESULTS.md
	$(BIN)/python -m bench.run --full

bench-quick: $(VENV)/.bench ## A few minutes' version of the benchmarks (also rewrites bench/RESULTS.md)
	$(BIN)/python -m bench.run --quick

reliability: $(STAMP) ## Long reliability suite (30 crash seeds, fault storm, bad inputs, concurrency); rewrites docs/reliability.md
	WISHFLOW_TEST_POSTGRES_URL=$${WISHFLOW_TEST_POSTGRES_URL:-postgresql+psycopg2://postgres@127.0.0.1:5432/postgres} \
		$(BIN)/python -m tests.reliability.report --long

clean: ## Remove the virtual environment and local state
	rm -rf $(VENV) .wishflow .pytest_cache

.PHONY: help venv demo test test-fast lint format sandbox bench bench-quick reliability clean
