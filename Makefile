# Entry points. Each target installs what it needs on a fresh Debian 12 machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: help deps venv lint test demo bench dist clean

help:
	@echo "make test   install everything, lint, type-check, run the whole suite (loopback only)"
	@echo "make demo   walk through the main job end to end against local stand-ins"
	@echo "make bench  time whole-process get/list side by side with the Go helpers"
	@echo "make dist   build the sdist and wheel"

deps:
	@scripts/install-system-deps.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check docker_credential_convox tests
	$(BIN)/ruff format --check docker_credential_convox tests
	$(BIN)/mypy

# The suite runs in a loopback-only network namespace: nothing it starts can leave 127.0.0.1.
test: deps venv lint
	scripts/isolated.sh $(BIN)/pytest $(PYTEST_ARGS)

dist: venv
	rm -rf dist
	$(BIN)/python -m pip install -q build twine
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
