# Two commands for a fresh machine (see README):
#   make demo   set everything up, then draft a sample letter with the embedded local model and verify it
#   make test   set everything up, then run ruff, mypy, the template lint and both test lanes
# and, while working:
#   make fast   the fast lane only (what bare `pytest` runs), under branch coverage with its gate
#   make slow   the slow lane only: the tests that run the real local model (`pytest -m local_model`)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test fast slow bench setup clean libreoffice

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,local]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	mkdir -p demo
	$(VENV)/bin/courrier draft examples/requests/decision-defavorable.json \
		--journal demo/journal.sqlite3 -o demo/brouillon.json
	$(VENV)/bin/courrier export demo/brouillon.json
	$(VENV)/bin/courrier verify demo/brouillon.json --journal demo/journal.sqlite3 --require journal

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/local_model.py
	$(PY) benchmarks/drafting.py

test: $(STAMP)
	$(VENV)/bin/ruff check courrier tests examples benchmarks
	$(VENV)/bin/ruff format --check courrier tests examples benchmarks
	$(VENV)/bin/mypy courrier tests
	$(VENV)/bin/courrier lint
	@command -v soffice >/dev/null || $(MAKE) --no-print-directory libreoffice \
		|| echo "LibreOffice non installé : les tests de conversion en PDF seront ignorés"
	$(MAKE) --no-print-directory fast
	$(MAKE) --no-print-directory slow

# The fast lane: every test but the real model's, under branch coverage; the report fails below the
# gate ([tool.coverage.report] fail_under in pyproject.toml).
fast: $(STAMP)
	$(PY) -m coverage run -m pytest
	$(PY) -m coverage report

# The slow lane: the real local model (the embedded GGUF), minutes rather than seconds.
slow: $(STAMP)
	$(PY) -m pytest -m local_model

# LibreOffice, from Debian's packages, for the tests that convert ODT and DOCX exports to PDF (needs root).
libreoffice:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		libreoffice-writer-nogui >/dev/null

clean:
	rm -rf $(VENV) demo build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage
