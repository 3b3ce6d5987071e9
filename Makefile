# kkot — the two commands a newcomer needs are `make run` and `make test`.
# Both set up what they need (virtualenv, packages, the default model, chromium) and
# are safe to repeat.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_DIR ?= var/models/default
# The lock of the development virtualenv: every extra (requirements/, `make lock`).
LOCK ?= requirements/all.txt
CHECKOV_VENV ?= .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

.PHONY: help setup lock model chromium checkov axe run test lint typecheck unit bench templates \
	clean engine engine-down images compose-test

help:
	@echo "make run           start gateway, web, WAS and the model server on http://127.0.0.1:8080"
	@echo "make test          lint, type-check, the unit tests, then build the images and test them"
	@echo "make unit          lint, type-check and every test but the container tests (faster)"
	@echo "make images        build kkot/{gateway,web,was,model,model-train,emulator}:local"
	@echo "make compose-test  build the images, run the compose stack and SageMaker's contract"
	@echo "make bench         run the benchmarks in bench/"
	@echo "make lock          regenerate requirements/*.txt after a change of pyproject.toml"

# Every package from the lock, each checked against its hashes (torch is the CPU build,
# 2.13.0+cpu, which pip finds in PIP_FIND_LINKS: /opt/wheels on this project's machines),
# then kkot itself, editable, with nothing more.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP)

# After a change of the dependencies in pyproject.toml: re-resolve with uv, keeping every
# pin that still fits (UPGRADE=1: the newest allowed versions), then reinstall.
lock: $(STAMP)
	$(BIN)/python -m services.ci.lock $(if $(UPGRADE),--upgrade)
	$(MAKE) setup

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

# Everything but the container tests: the quick loop for development. Prints the coverage
# of services, shared and cfn, subprocesses included ([tool.coverage.*] in pyproject.toml).
unit: setup model chromium checkov axe lint typecheck
	KKOT_TEST_MODEL_DIR=$(abspath $(MODEL_DIR)) KKOT_CHECKOV=$(abspath $(CHECKOV)) \
		$(BIN)/pytest -m "not containers" --cov --cov-report=term

# The README's test command (and .ci/run's): the unit tests, then the containers.
test: unit
	$(MAKE) compose-test

# The container engine (Docker Engine, docker-compose 1.29, debootstrap from apt-get;
# `dockerd` started if none answers) and the base image kkot/base:bookworm, made from
# Debian's packages because Docker Hub may be unreachable; its root filesystem is cached
# in $(KKOT_CACHE_DIR), outside the clone. `engine-down` stops only a daemon `engine` started.
# The engine module is stdlib only, so the system Python runs it.
PYTHON_IMAGE ?= kkot/base:bookworm
KKOT_CACHE_DIR ?= /var/cache/kkot
export PYTHON_IMAGE KKOT_CACHE_DIR

engine:
	$(PYTHON) -m tests.containers.engine up --base-image $(PYTHON_IMAGE)

engine-down:
	$(PYTHON) -m tests.containers.engine down

# Classic builder, PYTHON_IMAGE as the base, the host's local CAs for pip (EXTRA_CA_CERTS);
# prints each image's build time and size.
images: setup engine
	$(BIN)/python -m tests.containers.build

# Builds the images, runs the compose stack and the model image as SageMaker runs it,
# tears all down, and stops the daemon if `engine` started it (even when a test failed).
compose-test: setup model
	$(MAKE) images && KKOT_CONTAINERS=1 KKOT_TEST_MODEL_DIR=$(abspath $(MODEL_DIR)) \
		$(BIN)/pytest tests/containers -m containers; \
	status=$$?; $(MAKE) engine-down; exit $$status

bench: setup model
	$(BIN)/python bench/run_all.py

templates: setup
	$(BIN)/generate-templates --out build/templates

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) var build test-artifacts .pytest_cache .mypy_cache .ruff_cache
