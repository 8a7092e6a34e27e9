# fake-llm developer commands. `make run` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench schema goldens layers clean docker-test fuzz

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
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(ARGS)

# Long fuzz run (not part of `make test`): FUZZ_BODIES mutated bodies across every dialect; reports 5xx, resets and
# timeouts, and fails if there is any.
FUZZ_BODIES ?= 100000
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz_run --bodies $(FUZZ_BODIES) $(ARGS)

schema: $(STAMP)
	$(BIN)/fake-llm schema > docs/scenario.schema.json

# Rewrite fixtures/golden/ from the current code (never part of `make test`); review the diff before committing.
goldens: $(STAMP)
	$(BIN)/python -m tests.goldens $(ARGS)

# Module count per layer (package folder), for the architecture notes.
layers:
	python3 scripts/layers.py

clean:
	rm -rf $(VENV) .coverage .pytest_cache .mypy_cache .ruff_cache

# Image + examples/compose end to end (slow; not part of `make test`): run it when Dockerfile or compose files change.
docker-test:
	bash scripts/docker-test.sh
