# fake-llm developer commands. `make run` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench schema golden-realtime clean docker-test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/fake-llm serve $(ARGS)

test: $(STAMP)
	$(BIN)/python -m coverage erase
	COVERAGE_PROCESS_START= $(BIN)/python -m coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m coverage report --fail-under=90 --skip-covered --show-missing

lint: $(STAMP)
	$(BIN)/ruff format --check fake_llm tests benchmarks
	$(BIN)/ruff check fake_llm tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(ARGS)

schema: $(STAMP)
	$(BIN)/fake-llm schema > docs/scenario.schema.json

# Rewrites fixtures/golden/realtime/ (the tests only compare): run it after an intended change to realtime events.
golden-realtime: $(STAMP)
	$(BIN)/python -m tests.realtime_transcripts --write

clean:
	rm -rf $(VENV) .coverage .pytest_cache .mypy_cache .ruff_cache

# Image + examples/compose end to end (slow; not part of `make test`): run it when Dockerfile or compose files change.
docker-test:
	bash scripts/docker-test.sh
