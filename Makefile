# deskbase: `make run` starts the server with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench docs clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/deskbase serve --demo

# Four workers on the CI machine's two cores: the suite spends over half its time waiting (servers starting,
# kill -9 and failover, browsers, replication), and a worker that waits lends its core to another. Whole files per
# worker, so module fixtures are built once.
test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n 4 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

docs: $(STAMP)
	$(BIN)/python -m deskbase.cli.docgen > docs/cli.md
	$(BIN)/python -m deskbase.config > docs/configuration.md

clean:
	rm -rf $(VENV) .pytest_cache
