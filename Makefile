# mppoci: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what they need (as root, from Debian and PyPI) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: dev system-deps demo test lint bench clean fuzz

# A virtualenv with mppoci installed in editable mode plus the dev tools.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

dev: $(BIN)/.installed

# Debian packages (only the missing ones) and a running Docker engine.
system-deps:
	bash scripts/system-deps.sh

# Scaffold a sample tool, build it, inspect it (grows with every feature).
demo: dev system-deps
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# Lint and type checks, then the whole suite (unit and integration), in a
# random order whose seed pytest prints first ("Using --randomly-seed=N");
# replay one with `make test PYTEST_ARGS=--randomly-seed=N`.
test: dev system-deps lint
	$(BIN)/pytest $(PYTEST_ARGS)

lint: dev
	$(BIN)/ruff check mppoci tests bench examples
	$(BIN)/ruff format --check mppoci tests bench examples
	$(BIN)/mypy --strict mppoci

# The fuzz tests only, with the long hypothesis profile (tests/conftest.py);
# `make test` runs the same tests with the bounded one.
fuzz: dev
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m fuzz --hypothesis-show-statistics

# One table of every benchmark, with the machine it ran on (a few minutes).
bench: dev system-deps
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
