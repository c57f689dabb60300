# kubemu: every target creates .venv and installs what it needs, so a fresh clone works with one command.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/kubemu demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# `bench store` installs Debian's etcd-server and wrk with apt-get when they are missing (root needed).
bench: $(STAMP)
	$(BIN)/python -m pytest -m slow tests
	$(BIN)/kubemu bench actor-messaging --out benchmarks/results/actor_messaging.json
	$(BIN)/kubemu bench store --out benchmarks/results/store.json
	$(BIN)/kubemu bench apiserver --out benchmarks/results/apiserver.json
	$(BIN)/kubemu bench scheduler --out benchmarks/results/scheduler.json
	$(BIN)/kubemu bench scheduler --nodes 5000 --pods 50000 --workloads basic --out benchmarks/results/scheduler-50k.json
	$(BIN)/kubemu bench density --out benchmarks/results/density.json
	$(BIN)/kubemu bench reconcile --out benchmarks/results/reconcile.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
