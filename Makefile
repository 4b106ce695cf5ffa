# crmlite: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := CRMLITE_ENV=development $(BIN)/flask --app wsgi

.PHONY: install run test test-fast lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## Migrate, load defaults and (on an empty database) demo data, then serve on :5000 with the
## worker (outbox and track steps) beside it; Ctrl-C stops both.
run: install
	$(FLASK) db upgrade
	$(FLASK) crm init
	$(FLASK) crm demo --if-empty
	PUBLIC_URL=$${PUBLIC_URL:-http://127.0.0.1:5000} $(FLASK) crm worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port 5000

## The whole suite, browser tests included (on PostgreSQL with DATABASE_URL=postgresql://…).
test: install
	$(BIN)/python -m pytest

## Everything but the browser tests.
test-fast: install
	$(BIN)/python -m pytest -m "not browser"

## ruff (lint and format) and mypy (types; configured in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check crmlite tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format crmlite tests bench

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
