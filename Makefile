# Two commands for a newcomer: `make demo` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DBT := $(BIN)/dbt
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
# Demo and tests pin the clock so traits and audiences are reproducible.
DEMO_RUN_AT ?= 2026-11-01 12:00:00
TEST_DB := warehouse/test.duckdb

.PHONY: setup demo test lint build clean bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

profiles.yml: profiles.yml.example
	cp profiles.yml.example profiles.yml

setup: $(BIN)/.installed profiles.yml
	@mkdir -p warehouse

## Build the demo warehouse (warehouse/cdp.duckdb) from the seeds and show what came out.
demo: setup
	rm -f warehouse/cdp.duckdb
	$(DBT) seed
	$(DBT) build --vars '{cdp_run_at: "$(DEMO_RUN_AT)"}'
	$(BIN)/python scripts/demo_report.py warehouse/cdp.duckdb
	$(BIN)/cdp-sync run high_value_to_file

## The whole suite: lint, dbt build (data + unit tests) on a fresh file, then pytest.
test: setup
	$(BIN)/ruff check .
	rm -f $(TEST_DB)
	# seeds first: dbt cannot see that the raw sources are these seeds
	CDP_DUCKDB_PATH=$(TEST_DB) $(DBT) seed
	CDP_DUCKDB_PATH=$(TEST_DB) $(DBT) build --vars '{cdp_run_at: "$(DEMO_RUN_AT)"}'
	CDP_TEST_DB=$(TEST_DB) $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python -m bench.run --scale $(or $(SCALE),10000)

clean:
	rm -rf target logs warehouse/*.duckdb
