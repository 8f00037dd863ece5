# Two commands for a fresh clone; each sets up what it needs (a virtual environment in
# .venv with the package and its test tools). Python >= 3.11 must be on PATH as python3.
VENV ?= .venv
PY := $(VENV)/bin/python
# import-linter apart: its dependency click, importable in .venv, makes httpx load its own
# command-line interface in every dispatch process (2.5 MB more per process).
LINT_VENV ?= .venv-lint
DEMO_ARGS ?=

.PHONY: demo test lint unit clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(LINT_VENV)/.installed: Makefile
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet 'import-linter>=2.1,<3'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/dispatch demo $(DEMO_ARGS)

test: lint unit

lint: $(VENV)/.installed $(LINT_VENV)/.installed
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	PYTHONPATH=src $(LINT_VENV)/bin/lint-imports

unit: $(VENV)/.installed
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(LINT_VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
