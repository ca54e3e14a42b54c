# zonegate: `make run` starts the whole local multi-zone cluster,
# `make test` installs what it needs and runs ruff, mypy and pytest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_PACKAGES := etcd-server:etcd prometheus:promtool chromium:chromium prometheus-alertmanager:prometheus-alertmanager docker-compose:docker-compose kubernetes-client:kubectl
BENCH_PACKAGES := nginx:nginx wrk:wrk
PYTEST_ARGS ?=
# the node's request path, compiled with mypyc (scripts/compile_hot_path.py)
COMPILED := $(VENV)/.compiled
SOURCES := $(shell find zonegate -name '*.py' 2>/dev/null)

.PHONY: all run test lint typecheck pytest bench system-packages clean compile

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,load]'
	touch $(STAMP)

# Rebuilt when any source changes: compiled code bakes in the types it imports.
$(COMPILED): $(STAMP) $(SOURCES) scripts/compile_hot_path.py
	$(BIN)/python scripts/compile_hot_path.py
	touch $(COMPILED)

compile: $(COMPILED)

system-packages:
	@scripts/ensure-system-packages.sh $(SYSTEM_PACKAGES)

# `make run` needs only etcd (not the test tools); `make run UP_ARGS="-c FILE"`
RUN_PACKAGES := etcd-server:etcd
UP_ARGS ?=
run: $(STAMP) $(COMPILED)
	@scripts/ensure-system-packages.sh $(RUN_PACKAGES)
	$(BIN)/zonegate up $(UP_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy zonegate tests bench scripts

pytest: $(STAMP) $(COMPILED) system-packages
	$(BIN)/pytest -q -n 2 $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP) $(COMPILED)
	@scripts/ensure-system-packages.sh $(BENCH_PACKAGES)
	$(BIN)/python bench/proxy.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build
	find zonegate -name '*.so' -delete
