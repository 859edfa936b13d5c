# qrepro: `make book` and `make test` set everything up on a fresh machine (python3 >= 3.10 needed).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup book test bench sync clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

book: $(STAMP)  ## execute every chapter (profile smoke unless records exist) and build _build/html
	$(BIN)/jupytext --sync book/*.py
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

test: $(STAMP)  ## the test suite
	$(BIN)/python -m pytest

bench: $(STAMP)  ## throughput and memory benchmarks (figures to stdout and runs/bench/)
	$(BIN)/python -m qrepro bench

sync: $(STAMP)  ## pair book/*.py with book/*.ipynb after editing either
	$(BIN)/jupytext --sync book/*.py

clean:
	rm -rf _build
