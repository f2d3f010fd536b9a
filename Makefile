# Two commands do everything on a fresh machine with Python 3.11 and make: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-lock
JOBS ?= 2
BOOK_FLAGS := --builder html -W -n --keep-going

.PHONY: book test lint venv lock linkcheck clean

# One torch/BLAS thread everywhere, in the book build as in the tests: the rendered book, nbval and a reader's
# laptop then print the same numbers (gaplib.seed_everything pins torch to one thread as well).
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export MPLBACKEND := Agg

# The stamp is older than the lock when the lock changed: rebuild the venv from scratch, so that nothing
# installed by hand or left over from an older lock survives.
$(STAMP): requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --requirement requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --editable .
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(VENV)/bin/jupyter-book build . $(BOOK_FLAGS)
	@test -f _build/html/index.html && echo "book: _build/html/index.html"

lint: $(STAMP)
	$(PY) -m ruff check .

# The book first (tests/test_browser.py reads _build/html in a real browser), then one pytest run: unit tests
# and every notebook through nbval in a fresh kernel of its own. loadscope keeps a notebook's cells on one
# worker; one thread per kernel keeps the two workers off each other's core.
test: lint book
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(PY) -m pytest tests chapters exercises --nbval-lax --nbval-current-env \
		-n $(JOBS) --dist loadscope -q

lock: $(STAMP)
	{ echo "# Exact versions that \`make\` installs (pip freeze of a working .venv). pyproject.toml keeps ranges."; \
	  echo "# Regenerate: make lock"; $(PY) -m pip freeze --exclude-editable | grep -v '^-e'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	touch $(STAMP)

# External links need the internet, which the suite never uses: run this one by hand.
linkcheck: $(STAMP)
	$(VENV)/bin/jupyter-book build . --builder linkcheck

clean:
	rm -rf _build $(VENV) _config_student.yml
