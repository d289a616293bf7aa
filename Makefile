# Two commands: `make run` and `make test` (see README). Everything else is set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := storefront

.PHONY: run test venv clean

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

test: $(VENV)/.test-installed
	bash scripts/test_prereqs.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
