# Two commands for a fresh machine (see README):
#   make demo   set everything up, then draft a sample letter
#   make test   set everything up, then run ruff, mypy and the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test setup clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,local]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/courrier draft examples/requests/accuse-reception-acceptation.json --no-llm

test: $(STAMP)
	$(VENV)/bin/ruff check courrier tests examples
	$(VENV)/bin/ruff format --check courrier tests examples
	$(VENV)/bin/mypy courrier
	$(VENV)/bin/courrier lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
