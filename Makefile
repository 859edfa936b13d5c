# qrepro: `make book` and `make test` set everything up on a fresh machine (python3 >= 3.10 needed).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup browser book lint test test-fast bench sync clean

setup: $(STAMP) browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $@

# Chromium for the browser check of the built book (tests/test_html.py): Debian's package where apt-get exists.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { command -v apt-get >/dev/null 2>&1 && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  echo "note: no Chromium here and it could not be installed: the browser check of the book will be skipped"

# --all: every page is read and executed again, so a change to qrepro or to the records under runs/ (which no
# chapter file shows) can never leave a page with stale results; records make the re-execution cheap.
# The chapters' runs are trained first, one process per core (smoke steps keep one core busy each); the chapters
# then find every record. WORKERS=1 trains them one after another.
WORKERS ?= auto
book: $(STAMP)  ## execute every chapter (profile smoke unless records exist) and build _build/html
	$(BIN)/jupytext --sync book/*.py
	$(BIN)/python -m qrepro run all --workers $(WORKERS) --quiet
	$(BIN)/jupyter-book build . --all --warningiserror --nitpick --keep-going

lint: $(STAMP)  ## ruff's check of the package, the tests and the chapters (config: pyproject.toml [tool.ruff])
	$(BIN)/ruff check .

test: setup lint  ## the whole test suite, after lint (the browser check needs `make book` first)
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## the tests not marked slow (no notebook, no extra process, no training to an accuracy)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)  ## throughput and memory benchmarks (figures to stdout and runs/bench/)
	$(BIN)/python -m qrepro bench

sync: $(STAMP)  ## pair book/*.py with book/*.ipynb after editing either
	$(BIN)/jupytext --sync book/*.py

clean:
	rm -rf _build
