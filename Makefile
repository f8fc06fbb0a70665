# The interface: `make run` (whole pipeline) and `make test`. Both create or reuse .venv by themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast bench lab browse clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU wheel first: installed afterwards, sentence-transformers would pull a multi-GB CUDA torch.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)  ## generate the catalogue, index it, run every notebook, render reports/
	$(BIN)/fincommerce run

test: $(STAMP)  ## every test, slow and browser ones included
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python benchmarks/run_benchmarks.py

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser --allow-root notebooks/

browse: $(STAMP)
	$(BIN)/fincommerce browse

clean:
	rm -rf data/store data/catalog.csv data/tuned_weights.json reports/*
