# Entry points. Each target installs what it needs on a fresh Debian 12 machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' docker_credential_convox/__init__.py)

.PHONY: help deps venv lint test demo bench dist clean deb zipapp artifacts-test

help:
	@echo "make test   install everything, lint, type-check, run the whole suite (loopback only)"
	@echo "make demo   walk through the main job end to end against local stand-ins"
	@echo "make bench  time whole-process get/list side by side with the Go helpers, and a fleet"
	@echo "make dist   build the sdist and wheel"
	@echo "make deb    build the Debian package (dist/deb/) and run lintian on it"
	@echo "make zipapp build the single-file executable (dist/*.pyz)"
	@echo "make artifacts-test  build all three, install each like a user, test each installed"

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
	$(BIN)/ruff check docker_credential_convox standins tests bench packaging
	$(BIN)/ruff format --check docker_credential_convox standins tests bench packaging
	$(BIN)/mypy

# The suite runs in a loopback-only network namespace: nothing it starts can leave 127.0.0.1.
# The slowest tests are listed at the end, to keep an eye on CI's time.
test: deps venv lint
	scripts/isolated.sh $(BIN)/pytest --durations=30 $(PYTEST_ARGS)

# The story end to end against local stand-ins, in the same loopback-only namespace as the tests.
demo: deps venv
	VENV=$(VENV) scripts/isolated.sh scripts/demo.sh

# Whole-process timings beside the Go helpers (about 6 minutes); writes bench/RESULTS.md.
# Then a simulated fleet sharing one registry (about 5 minutes); writes bench/FLEET.md.
# Then a Kubernetes node through the kubelet provider (about 3 minutes); writes bench/KUBELET.md.
# Loopback only, like the tests. BENCH_ARGS passes options, e.g. BENCH_ARGS="--runs 40";
# FLEET_ARGS those of bench.fleet, e.g. FLEET_ARGS="--machines 50".
bench: deps venv
	WITH_BENCH=1 scripts/install-system-deps.sh
	scripts/isolated.sh $(BIN)/python -m bench.run $(BENCH_ARGS)
	scripts/isolated.sh $(BIN)/python -m bench.fleet $(FLEET_ARGS)
	scripts/isolated.sh $(BIN)/python -m bench.kubelet

dist: venv
	rm -f dist/*.whl dist/*.tar.gz
	$(BIN)/python -m pip install -q build twine
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*.whl dist/*.tar.gz

# The Debian package, built with dpkg-buildpackage from a copy of the tree; lintian checks it.
deb:
	@WITH_DEB=1 scripts/install-system-deps.sh
	scripts/build-deb.sh

# One executable file with every dependency inside (a zipapp): needs only a python3 >= 3.9.
zipapp: dist
	scripts/build-zipapp.sh dist/docker_credential_convox-$(VERSION)-py3-none-any.whl

# Build every artifact, install each the way users do, run the protocol tests against each.
artifacts-test: deps venv dist deb zipapp
	scripts/test-artifacts.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
