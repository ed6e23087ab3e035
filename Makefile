# Two commands for a fresh machine (see README):
#   make demo   set everything up, then draft a sample letter with the embedded local model and verify it
#   make test   set everything up, then run ruff, mypy and the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench setup clean libreoffice

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
	$(VENV)/bin/courrier verify demo/brouillon.json

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/local_model.py
	$(PY) benchmarks/drafting.py

test: $(STAMP)
	$(VENV)/bin/ruff check courrier tests examples benchmarks
	$(VENV)/bin/ruff format --check courrier tests examples benchmarks
	$(VENV)/bin/mypy courrier
	$(VENV)/bin/courrier lint
	@command -v soffice >/dev/null || $(MAKE) --no-print-directory libreoffice \
		|| echo "LibreOffice non installé : les tests de conversion en PDF seront ignorés"
	$(PY) -m pytest

# LibreOffice, from Debian's packages, for the tests that convert ODT and DOCX exports to PDF (needs root).
libreoffice:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		libreoffice-writer-nogui >/dev/null

clean:
	rm -rf $(VENV) demo build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
