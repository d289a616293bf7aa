# Two commands: `make run` and `make test` (see README). `make test` runs `make lint` first;
# `make format` fixes what ruff can fix by itself. Everything else is set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := storefront

.PHONY: run test lint format clean

$(VENV)/.run-installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.run-installed requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

.env:
	$(BIN)/python scripts/make_env.py

run: $(VENV)/.run-installed .env
	$(BIN)/flask db upgrade
	$(BIN)/flask seed demo
	$(BIN)/python scripts/devrun.py -f Procfile

# Ruff (lint, then format) and mypy, settings in pyproject.toml. All three run even when one fails,
# so one pass shows everything; the last lines say what to do.
lint: $(VENV)/.test-installed
	@failed=""; \
	echo "lint: ruff check"; $(BIN)/ruff check --quiet --output-format concise . || failed="$$failed ruff-check"; \
	echo "lint: ruff format --check"; $(BIN)/ruff format --check --quiet --output-format concise . || failed="$$failed ruff-format"; \
	echo "lint: mypy"; $(BIN)/mypy || failed="$$failed mypy"; \
	if [ -n "$$failed" ]; then \
	  echo "make lint failed:$$failed"; \
	  case "$$failed" in *ruff*) echo "  ruff: run 'make format' (fixes formatting and the findings marked [*]); fix the rest by hand";; esac; \
	  case "$$failed" in *mypy*) echo "  mypy: fix the type errors listed above (see docs/development.md#lint-format-and-types)";; esac; \
	  exit 1; \
	fi; \
	echo "lint: clean"

# Applies ruff's safe fixes, then its formatting, to every Python file. Review the diff before committing.
format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix --quiet . || true
	$(BIN)/ruff format --quiet .

test: $(VENV)/.test-installed lint
	bash scripts/test_prereqs.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
