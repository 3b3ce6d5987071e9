# kkot — the two commands a newcomer needs are `make run` and `make test`.
# Both set up what they need (virtualenv, packages, the default model, chromium) and
# are safe to repeat.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_DIR ?= var/models/default
EXTRAS ?= serve,was,web,train,infra,dev
CHECKOV_VENV ?= .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

.PHONY: help setup model chromium checkov axe run test lint typecheck unit bench templates clean

help:
	@echo "make run    start gateway, web, WAS and the model server on http://127.0.0.1:8080"
	@echo "make test   lint, type-check and run every test"
	@echo "make bench  run the benchmarks in bench/"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch==2.13.0 (the CPU build) comes first so nothing else pulls a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

setup: $(STAMP)

$(MODEL_DIR)/model.onnx: | $(STAMP)
	$(BIN)/kkot model prepare --out $(MODEL_DIR)

model: $(MODEL_DIR)/model.onnx

# Debian's chromium for the browser tests (Playwright drives it; it never downloads one),
# and CJK fonts so Korean pages render as text rather than boxes in screenshots.
chromium:
	@command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# checkov pins dependencies that clash with the project's (boto3/botocore below what
# aioboto3 needs, networkx, packaging), so it gets a virtualenv of its own.
$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==3.3.30
	touch $@

checkov: $(CHECKOV)

# axe-core for the accessibility tests: the npm package pinned in tests/e2e/axe.py,
# installed into the git-ignored build/axe/.
axe: setup
	$(BIN)/python -m tests.e2e.axe

# Serves the model the pipeline deployed last, else the default one in $(MODEL_DIR).
run: setup model
	$(BIN)/kkot run

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

test: setup model chromium checkov axe lint typecheck
	KKOT_TEST_MODEL_DIR=$(abspath $(MODEL_DIR)) KKOT_CHECKOV=$(abspath $(CHECKOV)) $(BIN)/pytest

bench: setup model
	$(BIN)/python bench/run_all.py

templates: setup
	$(BIN)/generate-templates --out build/templates

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) var build test-artifacts .pytest_cache .mypy_cache .ruff_cache
