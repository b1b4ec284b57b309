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
	$(PIP) install -e '.[test,bench,models,dask]'
	touch $(STAMP)

install: $(STAMP) ## set up .venv: torch 2.13.0 CPU, CrypTen 0.4.1 (--no-deps), secfwt and its tools

lint: $(STAMP) ## ruff over the package, tests and benchmarks, and the import layers (both in pyproject.toml)
	$(VENV)/bin/ruff check secfwt tests benchmarks tools
	$(VENV)/bin/lint-imports --no-cache

TEST_WORKERS ?= 2

test: $(STAMP) ## run the test suite (TEST_WORKERS=2 pytest workers, one test file each at a time)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

test-fast: $(STAMP) ## the tests that start no MPC parties and run in seconds (report, time model, data, CLI input checks)
	$(PY) -m pytest -q -m "not parties and not slow"

BASELINE ?= benchmarks/baselines/$(PROFILE).json

bench: $(STAMP) ## run a benchmark profile (default quick; PROFILE=paper|full), write reports/, gate the counts
	$(PY) -m secfwt bench --profile $(PROFILE) --records $(RECORDS)
	@if [ -f $(BASELINE) ]; then $(PY) -m secfwt gate --records $(RECORDS) --baseline $(BASELINE); \
	else echo "no baseline $(BASELINE): counts not gated (make bench-baseline creates it)"; fi

bench-baseline: $(STAMP) ## rewrite the committed baseline counts from the last `make bench` records
	$(PY) -m secfwt gate --records $(RECORDS) --baseline $(BASELINE) --write

mutation: $(STAMP) ## break the MPC code on purpose (mask, sign, scale, extra opening...): every mutant must fail a test
	$(PY) tools/mutation.py

micro: $(STAMP) ## pytest-benchmark micro-benchmarks of the MPC kernels (JSON in .benchmarks/)
	$(PY) -m pytest tests/micro --benchmark-only --benchmark-autosave --benchmark-columns=min,mean,max,rounds -q

report: $(STAMP) ## regenerate reports/ figures and tables from stored records (no MPC)
	$(PY) -m secfwt report --out reports

ASV := $(VENV)/bin/asv
ASV_MACHINE := $(ASV) machine --yes --machine secfwt-$$(hostname) --os "$$(uname -sr)" --arch $$(uname -m) \
	--cpu "$$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" --num_cpu $$(nproc) \
	--ram "$$(free -g | awk '/Mem:/{print $$2}')GB" >/dev/null
BASE ?= HEAD~1
HEAD ?= HEAD

asv-run: $(STAMP) ## run the asv suite on the current checkout (this environment, quick)
	$(ASV_MACHINE)
	$(ASV) run --machine secfwt-$$(hostname) --python=same --quick --show-stderr --set-commit-hash $$(git rev-parse HEAD)

asv-compare: $(STAMP) ## build BASE and HEAD in asv environments, run the suite on both, print asv compare
	$(ASV_MACHINE)
	$(ASV) run --machine secfwt-$$(hostname) --show-stderr --skip-existing-successful "$$(git rev-parse $(BASE))^!"
	$(ASV) run --machine secfwt-$$(hostname) --show-stderr --skip-existing-successful "$$(git rev-parse $(HEAD))^!"
	$(ASV) compare --machine secfwt-$$(hostname) $$(git rev-parse $(BASE)) $$(git rev-parse $(HEAD))

asv-publish: $(STAMP) ## HTML of all asv results in .asv/html
	$(ASV) publish

clean: ## remove build outputs (keeps .venv and committed reports)
	rm -rf .asv build .pytest_cache .benchmarks .hypothesis reports/records/*.partial

distclean: clean ## also remove the virtual environment
	rm -rf $(VENV)

.PHONY: help install test test-fast bench bench-baseline micro report asv-run asv-compare asv-publish clean distclean
