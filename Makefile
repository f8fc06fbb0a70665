# The interface: `make run` (whole pipeline) and `make test`. Both create or reuse .venv by themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# What the tests need from Debian: Chromium and its driver, and a colour emoji font for the seed's emoji (browser
# tests); a Java 17 runtime for the Spark standalone cluster that pyspark's jars start (the Spark engine tests).
SYSTEM_PACKAGES := chromium chromium-driver fonts-noto-color-emoji openjdk-17-jre-headless

.PHONY: run test test-fast bench bench-month lab browse clean system-packages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU wheel first: installed afterwards, sentence-transformers would pull a multi-GB CUDA torch.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/fincommerce setup
	touch $(STAMP)

system-packages:  ## apt-get what the browser and Spark tests need (as root), or say in one line what is missing
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "make test needs the Debian packages$$missing: run 'sudo apt-get install$$missing', then make test again"; exit 1; fi; \
	fi

run: $(STAMP)  ## generate the catalogue, index it, run every notebook, render reports/
	$(BIN)/fincommerce run

test: $(STAMP) system-packages  ## the linter first (a finding fails fast), then every test, slow and browser ones included
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python benchmarks/run_benchmarks.py

bench-month: $(STAMP)  ## issue 24's month-scale store at 1M, 5M and 20M events (hours; never part of make test). EVENTS="1000000" to pick sizes
	nice $(BIN)/python benchmarks/month.py $(if $(EVENTS),--events $(EVENTS))

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser --allow-root notebooks/

browse: $(STAMP)
	$(BIN)/fincommerce browse

clean:
	rm -rf data/store data/catalog.csv data/simulation data/tuned_weights*.json data/trending_settings-*.json data/learned_ranker*
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} +
