# Two commands do everything on a fresh machine with Python 3.11 and make: `make book` and `make test`.
# teaching.md explains every target; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-lock
# pytest-xdist workers for the suite.
JOBS ?= 2
# Sphinx processes executing notebooks for the book. One by default: with two (Sphinx's forked parallel readers,
# _ext/parallel_read.py), a notebook's execution once hung for good on this 2-core machine, its kernel idle and
# its client still waiting, until the 600 s cell timeout. `make book BOOK_JOBS=2` is faster when it works.
BOOK_JOBS ?= 1
SPHINX_FLAGS := -W -n --keep-going -q
# The PyTorch release the lock pins. PyPI has it for Linux (CUDA build), macOS arm64 and Windows (CPU builds);
# machines with a pip constraint on torch (like the course's own CI machine) need exactly this one.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
LOCK_PLATFORMS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu aarch64-apple-darwin x86_64-pc-windows-msvc
UV ?= $(shell command -v uv 2>/dev/null || echo _build/uv/bin/uv)

.PHONY: help book student-book test regression bench lint venv lock lock-check linkcheck clean

help:
	@echo "make book          execute the notebooks (only those that changed) and render _build/html"
	@echo "make student-book  the student edition, without solutions, in _build/student/html"
	@echo "make test          ruff, the book, unit tests, every notebook again in regression mode, the book in a browser"
	@echo "make regression    nbval's regression mode on the book's executed notebooks (part of make test)"
	@echo "make bench         each notebook alone at one thread, slowest first, against its budget"
	@echo "make lock          re-resolve requirements.lock for Linux, macOS and Windows (uses uv)"
	@echo "make lock-check    prove the lock installs on each platform in LOCK_PLATFORMS (dry run, uv)"

# One torch/BLAS thread everywhere, in the book build as in the tests: the rendered book, nbval and a reader's
# laptop then print the same numbers (gaplib.seed_everything pins torch to one thread as well), and the two
# notebooks that run at once never fight over the cores. MPLBACKEND stays unset: a kernel started with
# MPLBACKEND=Agg draws every figure into nothing, and the book would have no figures (conftest.py drops it too).
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
unexport MPLBACKEND

# The stamp is older than the lock when the lock changed: rebuild the venv from scratch, so that nothing
# installed by hand or left over from an older lock survives. pip reads the lock's environment markers, so the
# same file installs on Linux, macOS and Windows.
$(STAMP): requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --requirement requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation --editable .
	touch $(STAMP)

venv: $(STAMP)

# Jupyter Book 1.x cannot pass Sphinx's -j, so the book is built the way its docs describe for plain Sphinx:
# `jupyter-book config sphinx` writes conf.py from _config.yml, and sphinx-build executes the notebooks (BOOK_JOBS).
# The notebooks run through jupyter-cache (_build/.jupyter_cache): only the changed ones execute again.
# On failure .ci/explain_build_failure.py names each failing notebook and cell in plain words.
# GAPLIB_STATIC_WIDGETS=1: the explorers open no widget comms in the book, which removes their cells anyway
# (an executor can hang on such a cell: gaplib/widgets.py).
define sphinx_build
	$(VENV)/bin/jupyter-book config sphinx . $(1) >/dev/null
	mkdir -p _build
	set -o pipefail; PYTHONPATH=_ext GAPLIB_STATIC_WIDGETS=1 $(VENV)/bin/sphinx-build -b html -j $(BOOK_JOBS) $(SPHINX_FLAGS) \
		-d $(2)/.doctrees . $(2)/html 2>&1 | tee _build/book.log \
		|| { $(PY) .ci/explain_build_failure.py _build/book.log; rm -f conf.py; exit 1; }
	rm -f conf.py
endef

# jupyter-cache knows a notebook's code, not the code it imports: a change to gaplib, the lock or the way this
# Makefile runs the kernels empties the
# cache, so that the book never shows numbers that the current gaplib would not reproduce.
CACHE_KEY = $(shell { find gaplib -name '*.py' | sort | xargs cat; cat requirements.lock Makefile; } | sha256sum | cut -c1-16)
book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	@if [ "$$(cat _build/.jupyter_cache.key 2>/dev/null)" != "$(CACHE_KEY)" ]; then \
		rm -rf _build/.jupyter_cache; mkdir -p _build; echo "$(CACHE_KEY)" > _build/.jupyter_cache.key; fi
	$(call sphinx_build,,_build)
	@echo "book: _build/html/index.html"

# The same book with every solution left out (teaching.md). It reuses the cache: nothing executes again.
student-book: $(STAMP)
	rm -rf _build/student
	sed 's/hide_solutions: false/hide_solutions: true/' _config.yml > _config_student.yml
	$(call sphinx_build,--config _config_student.yml,_build/student)
	rm -f _config_student.yml
	@echo "student edition: _build/student/html/index.html"

lint: $(STAMP)
	$(PY) -m ruff check .

# The book and its student edition first (the browser test reads _build/html, tests/test_student_edition.py
# _build/student/html; the student edition reuses the execution cache), then one pytest run on two workers: the
# unit tests, and every chapter and exercise in nbval's regression mode, run again in a fresh kernel and compared,
# output by output and glued number by glued number, with the copy the book rendered (a raising cell fails too).
REGRESSION = $(PY) .ci/export_executed.py && \
	$(PY) -m pytest $(1) _build/executed --nbval --nbval-sanitize-with .ci/nbval-sanitize.cfg -n $(JOBS) -q

test: lint book student-book
	$(call REGRESSION,tests)

# nbval's regression mode alone (after make book): the book's executed notebooks, outputs included, are
# written to _build/executed and run again; .ci/nbval-sanitize.cfg lists the outputs allowed to differ.
regression: $(STAMP)
	$(call REGRESSION,)

# Timings are a report, not a test: each notebook alone, one after another, at one thread.
bench: $(STAMP)
	GAP_BUDGET_REPORT_ONLY=1 $(PY) -m pytest chapters exercises --nbval-lax -n 0 -q

$(UV):
	$(PYTHON) -m venv _build/uv
	_build/uv/bin/pip install --quiet uv

# A universal lock: one file with environment markers, resolved for every platform at once from PyPI (the CUDA
# wheels torch needs on Linux carry Linux markers). Afterwards run `make lock-check`.
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--constraint <(printf '%s\n' $(TORCH_PINS)) --custom-compile-command "make lock" \
		--output-file requirements.lock

# Resolve the lock for each platform as its installer would, wheels only, without installing anything.
# torch 2.14 needs macOS 14 on Apple silicon (hence MACOSX_DEPLOYMENT_TARGET).
lock-check: $(UV)
	@set -o pipefail; for platform in $(LOCK_PLATFORMS); do \
		echo "== $$platform"; \
		MACOSX_DEPLOYMENT_TARGET=14.0 $(UV) pip install --dry-run --only-binary :all: --python-version 3.11 \
			--python-platform $$platform --target _build/lock-check/$$platform -r requirements.lock 2>&1 \
			| grep -E "^(Resolved|Would install|error| \+ torch| \+ nvidia-cublas)" || exit 1; \
	done

# External links need the internet, which the suite never uses: run this one by hand.
linkcheck: $(STAMP)
	$(VENV)/bin/jupyter-book build . --builder linkcheck

clean:
	rm -rf _build $(VENV) _config_student.yml conf.py
