# The two commands a newcomer needs:
#   make run   - install and start idnest on its embedded default (SQLite, no services)
#   make test  - install and run the whole test suite on both profiles
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: run test test-embedded test-postgres lint bench-http install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/idnest serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core tenants resolver portal billing
	IDNEST_TEST_PROFILE=embedded $(BIN)/python -m pytest -q --durations=15
	IDNEST_TEST_PROFILE=postgres $(BIN)/python -m pytest -q --durations=15

test-embedded: $(STAMP)
	IDNEST_TEST_PROFILE=embedded $(BIN)/python -m pytest -q --durations=15

test-postgres: $(STAMP)
	IDNEST_TEST_PROFILE=postgres $(BIN)/python -m pytest -q --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy core tenants resolver portal billing

bench-http: $(STAMP)
	$(BIN)/python bench/resolve_http.py
