# secfwt: `make bench` runs the quick suite and its report; `make test` runs the tests.
# Both do all set-up on first use (a virtual environment in .venv).
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.secfwt-installed
PROFILE ?= $(or $(SECFWT_PROFILE),quick)
RECORDS ?= reports/records/$(PROFILE).jsonl

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install --no-deps crypten==0.4.1
	$(PIP) install -e '.[test,bench,models]'
	touch $(STAMP)

install: $(STAMP) ## set up .venv: torch 2.13.0 CPU, CrypTen 0.4.1 (--no-deps), secfwt and its tools

test: $(STAMP) ## run the test suite
	$(PY) -m pytest -q

bench: $(STAMP) ## run the quick benchmark profile (real 2PC runs) and write reports/
	$(PY) -m secfwt bench --profile $(PROFILE) --records $(RECORDS)

report: $(STAMP) ## regenerate reports/ figures and tables from stored records (no MPC)
	$(PY) -m secfwt report --out reports

asv-run: $(STAMP) ## run the asv suite on the current checkout (existing environment)
	$(VENV)/bin/asv machine --yes >/dev/null
	$(VENV)/bin/asv run --python=same --quick --show-stderr --set-commit-hash $$(git rev-parse HEAD)

clean: ## remove build outputs (keeps .venv and committed reports)
	rm -rf .asv build .pytest_cache .benchmarks .hypothesis reports/records/*.partial

distclean: clean ## also remove the virtual environment
	rm -rf $(VENV)

.PHONY: help install test bench report asv-run clean distclean
