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

# Mutation testing (not part of CI; a whole run is long on 2 cores, MUTATE narrows it): mutmut over the
# judge, the gate, the plugin's collection and the resolver, against the tests that cover them
# ([tool.mutmut] in pyproject.toml).
# It runs in a copy, build/mutation, where checks/ is named alexnet_audit (mutmut names mutants by file
# path, and the tests import alexnet_audit); nothing in the checkout is mutated. `MUTATE=...` narrows the run,
# e.g. make mutation MUTATE='alexnet_audit.judge.verdict*'. Survivors: cd build/mutation && mutmut show NAME.
MUTATION_DIR := build/mutation
MUTATE ?=
.PHONY: mutation
mutation: $(STAMP)
	$(PIP) -e ".[mutation]"
	rm -rf $(MUTATION_DIR) && mkdir -p $(MUTATION_DIR)
	cp -r checks $(MUTATION_DIR)/alexnet_audit
	cp -r tests docs .github .ci README.md Makefile paper_spec.yaml pyproject.toml $(MUTATION_DIR)/
	find $(MUTATION_DIR) -name __pycache__ -prune -exec rm -rf {} +
	cd $(MUTATION_DIR) && $(CURDIR)/$(VENV)/bin/mutmut run $(MUTATE); \
		$(CURDIR)/$(VENV)/bin/mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json && echo
