# The README's commands. Each creates .venv when missing and installs the project into it, with the
# exact versions of constraints.txt (torch and torchvision install from the local wheel files).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP := $(PY) -m pip install -q -c constraints.txt

.PHONY: report test test-slow test-all lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py constraints.txt | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PIP) "torch==2.14.1" "torchvision==0.29.1"
	$(PIP) -e ".[test,lint]"
	touch $(STAMP)

report: $(STAMP)
	$(VENV)/bin/alexnet-audit compare reference torchvision seed-000 seed-001 seed-002 seed-003 seed-004 --out reports

# The default run (under 10 minutes on 2 cores): everything but the tests marked `slow`.
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# The catalogues and end-to-end runs (mutants, wild forms, capture fixtures, hostile targets); CI runs them too.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check checks alexnet_ref tests benchmarks setup.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo

clean:
	rm -rf $(VENV) build *.egg-info
