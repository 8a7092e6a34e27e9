# fake-llm developer commands. Each target sets up .venv with only what it needs, on first use:
# `make run` the package (what serving needs), `make test` the test tools, `make lint` the linters.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
LINT_STAMP := $(VENV)/.installed-lint
# Everything (run + test + lint + bench), for working on fake-llm itself.
STAMP := $(VENV)/.installed

.PHONY: run test lint bench schema dist goldens layers request-path clean docker-test fuzz bench-peers

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(LINT_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[lint]'
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(RUN_STAMP) $(TEST_STAMP) $(LINT_STAMP) $@

run: $(RUN_STAMP)
	$(BIN)/fake-llm serve $(ARGS)

test: $(TEST_STAMP)
	$(BIN)/python -m coverage erase
	COVERAGE_PROCESS_START= $(BIN)/python -m coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m coverage report --fail-under=90 --skip-covered --show-missing

lint: $(LINT_STAMP)
	$(BIN)/ruff format --check fake_llm tests benchmarks
	$(BIN)/ruff check fake_llm tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(ARGS)

# fake-llm beside bare Starlette (asyncio, uvloop) and aimock (from npm into a temp folder; skipped without npm).
bench-peers: $(STAMP)
	$(BIN)/python benchmarks/peers.py $(ARGS)

# Long fuzz run (not part of `make test`): FUZZ_BODIES mutated bodies across every dialect; reports 5xx, resets and
# timeouts, and fails if there is any.
FUZZ_BODIES ?= 100000
fuzz: $(TEST_STAMP)
	$(BIN)/python -m tests.fuzz_run --bodies $(FUZZ_BODIES) $(ARGS)

schema: $(RUN_STAMP)
	$(BIN)/fake-llm schema > docs/scenario.schema.json

# A wheel in dist/, built with hatchling (installed into .venv, so the build needs no network).
dist: $(TEST_STAMP)
	rm -rf dist
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w dist .
	@ls dist

# Rewrite fixtures/golden/ from the current code (never part of `make test`); review the diff before committing.
goldens: $(STAMP)
	$(BIN)/python -m tests.goldens $(ARGS)

# Module count per layer (package folder), for the architecture notes.
layers:
	python3 scripts/layers.py

# Modules, functions and module switches one streamed OpenAI chat request passes through (in-process, profiled).
# On an older commit: `git worktree add /tmp/old <commit>` then `PYTHONPATH=/tmp/old .venv/bin/python scripts/request_path.py`.
request-path: $(STAMP)
	$(BIN)/python scripts/request_path.py

clean:
	rm -rf $(VENV) dist .coverage .pytest_cache .mypy_cache .ruff_cache

# Image + examples/compose end to end (slow; not part of `make test`): run it when Dockerfile or compose files change.
docker-test:
	bash scripts/docker-test.sh
