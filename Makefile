# Two commands for a fresh machine (see README):
#   make demo   set everything up, then draft a sample letter and query the embedded local model
#   make test   set everything up, then run ruff, mypy and the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench setup clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,local]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/courrier draft examples/requests/accuse-reception-acceptation.json --no-llm
	$(PY) -c "from courrier import LocalChatModel; m = LocalChatModel.default(max_tokens=48); \
	print('\nModèle local', m.fingerprint.file_name, m.fingerprint.sha256[:12], '- réponse à « Bonjour » :'); \
	print(m.invoke('Bonjour').content)"

bench: $(STAMP)
	$(PY) benchmarks/local_model.py

test: $(STAMP)
	$(VENV)/bin/ruff check courrier tests examples benchmarks
	$(VENV)/bin/ruff format --check courrier tests examples benchmarks
	$(VENV)/bin/mypy courrier
	$(VENV)/bin/courrier lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
