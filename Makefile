# Two commands do everything on a fresh machine with Python 3.11 and make: `make book` and `make test`.
# teaching.md explains every target; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-from-lock
# pytest-xdist workers for the suite.
JOBS ?= 2
# Notebooks the book executes at once (tools/execute_notebooks.py), and Sphinx processes that then render it.
BOOK_JOBS ?= 2
SPHINX_FLAGS := -W -n --keep-going -q
# The PyTorch release the lock pins. PyPI has it for Linux (CUDA build), macOS arm64 and Windows (CPU builds);
# machines with a pip constraint on torch (like the course's own CI machine) need exactly this one.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
LOCK_PLATFORMS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu aarch64-apple-darwin x86_64-pc-windows-msvc
# uv makes the venv, installs the lock and resolves it. pip installs it into _build/uv, at this version.
UV_VERSION := 0.13.9
UV ?= $(shell command -v uv 2>/dev/null || echo _build/uv/bin/uv)

.PHONY: help book student-book test regression bench sweeps audit lint venv lock lock-check linkcheck clean

help:
	@echo "make book          execute the notebooks (only those that changed) and render _build/html"
	@echo "make student-book  the student edition, without solutions, in _build/student/html"
	@echo "make test          ruff, the book (every notebook executed once), unit tests, the book in a browser"
	@echo "make regression    nbval's regression mode: every notebook again, compared with the book (after make book)"
	@echo "make sweeps        re-run the recorded sweeps whose code changed (SWEEPS=sweeps/chNN_x.py for one)"
	@echo "make audit         every notebook under DRAWS=10 fresh seed draws, alternating two CPU code paths"
	@echo "make bench         each notebook alone at one thread, slowest first, against its budget"
	@echo "make lock          re-resolve requirements.lock for Linux, macOS and Windows (uses uv)"
	@echo "make lock-check    prove the lock installs on each platform in LOCK_PLATFORMS (dry run, uv)"
	@echo "make venv          (re)build .venv from requirements.lock (every other target does this first)"
	@echo "make lint          ruff on the code and the notebooks"
	@echo "make linkcheck     check the book's external links (needs the internet)"
	@echo "make clean         remove _build and .venv"

# One torch/BLAS thread everywhere, in the book build as in the tests: the rendered book and nbval then print the
# same numbers on the same machine type and software (gaplib.seed_everything pins one thread as well), and the two
# notebooks that run at once never fight over the cores. MPLBACKEND stays unset: a kernel started with
# MPLBACKEND=Agg draws every figure into nothing, and the book would have no figures (conftest.py drops it too).
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
unexport MPLBACKEND
# Bytecode is written on first import (some machines set PYTHONDONTWRITEBYTECODE, the course CI machine too): else
# every kernel would compile torch again, twice the import time of each of the 22 notebooks.
unexport PYTHONDONTWRITEBYTECODE

# The stamp is older than the lock when the lock changed: rebuild the venv from scratch, so that nothing
# installed by hand or left over from an older lock survives. uv installs the lock (its environment markers make
# the same file right on Linux, macOS and Windows) in about half a minute where pip took three here. uv reads no
# pip configuration, so the package indexes pip is configured with (this machine's local copies of torch) are
# passed on, and, as pip does, the best match across all of them is taken. Then importing what the notebooks
# import (two processes at once) writes its bytecode: pip compiled all of site-packages, this compiles what is
# used, and no kernel pays for compiling torch inside its CPU budget.
PIP_EXTRA_INDEXES := $(shell $(PYTHON) -m pip config get global.extra-index-url 2>/dev/null)
UV_INSTALL := $(UV) pip install --quiet --python $(PY) \
	$(if $(PIP_EXTRA_INDEXES),--index-strategy unsafe-best-match $(addprefix --extra-index-url ,$(PIP_EXTRA_INDEXES)))
$(STAMP): requirements.lock pyproject.toml | $(UV)
	rm -rf $(VENV)
	$(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV_INSTALL) --requirement requirements.lock
	$(UV_INSTALL) --no-deps --no-build-isolation --editable .
	$(PY) -c "import torch" & torch=$$!; $(PY) -c "import matplotlib.pyplot, scipy.ndimage, sklearn.linear_model, \
		ipykernel.kernelapp, nbclient, jupyter_cache, tqdm.auto, ipywidgets" && wait $$torch
	$(PY) -c "import gaplib"
	touch $(STAMP)

venv: $(STAMP)

# Jupyter Book 1.x cannot pass Sphinx's -j, so the book is built the way its docs describe for plain Sphinx:
# `jupyter-book config sphinx` writes conf.py from _config.yml, and sphinx-build renders the pages.
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

# The notebooks run through jupyter-cache (_build/.jupyter_cache): tools/execute_notebooks.py first executes
# those whose code the cache lacks, BOOK_JOBS at a time, longest first, measuring each kernel's CPU time
# (_build/notebook_times.json); Sphinx then finds every notebook in the cache and only renders.
# jupyter-cache knows a notebook's code, not the code it imports: a change to gaplib (its recorded sweeps too),
# the lock or the way the kernels are run (this Makefile, the executor) empties the cache, so that the book never
# shows numbers that the current gaplib would not reproduce.
# The key also names what changes numbers without changing code: the torch build, the CPU code path torch takes
# here (ATEN_CPU_CAPABILITY can force another) and the thread count, so that no build mixes two machines' runs.
KERNEL_ENV = $(shell $(PY) -c "import torch; print(torch.__version__, torch.backends.cpu.get_cpu_capability())") \
	$(OMP_NUM_THREADS) $(MKL_NUM_THREADS)
CACHE_KEY = $(shell { find gaplib -name '*.py' -o -path 'gaplib/recorded/sweeps/*.json' | sort | xargs cat; cat requirements.lock Makefile tools/execute_notebooks.py; \
	echo "$(KERNEL_ENV)"; } | sha256sum | cut -c1-16)
book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	@if [ "$$(cat _build/.jupyter_cache.key 2>/dev/null)" != "$(CACHE_KEY)" ]; then \
		rm -rf _build/.jupyter_cache; mkdir -p _build; echo "$(CACHE_KEY)" > _build/.jupyter_cache.key; fi
	$(PY) tools/execute_notebooks.py --jobs $(BOOK_JOBS)
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

# The book and its student edition first (tools/execute_notebooks.py executes every notebook once, two at a
# time, and the student edition reuses that execution), then the suite on two workers: the unit tests, the book
# in a browser (_build/html) and the student edition (_build/student/html), each notebook's measured CPU time
# against its budget, and one chapter run again in nbval's regression mode at two threads, which must show
# every output and glued number the book shows (tests/test_threads.py). The unit tests need no --dist loadfile
# (that keeps a notebook's cells together): each worker takes the next test, the long ones first (conftest.py),
# and the tests that share one costly fixture stay together (xdist_group).
test: lint book student-book
	$(PY) -m pytest tests -n $(JOBS) --dist loadgroup -q

# nbval's regression mode on every notebook (after make book; CI runs it as a job of its own): the book's
# executed notebooks, outputs included, are written to _build/executed and run again in fresh kernels, each
# output compared with the one the book shows; .ci/nbval-sanitize.cfg lists the outputs allowed to differ.
regression: $(STAMP)
	$(PY) .ci/export_executed.py
	$(PY) -m pytest _build/executed --nbval --nbval-sanitize-with .ci/nbval-sanitize.cfg -n $(JOBS) -q

# Timings are a report, not a test: each notebook alone, one after another, at one thread.
bench: $(STAMP)
	GAP_BUDGET_REPORT_ONLY=1 $(PY) -m pytest chapters exercises --nbval-lax -n 0 -q

# The many-seed evidence behind the comparative claims (gaplib.evidence): each script in sweeps/ runs its seeds
# JOBS at a time and writes gaplib/recorded/sweeps/<name>.json; commit what it writes.
SWEEPS ?=
sweeps: $(STAMP)
	$(PY) tools/run_sweep.py --jobs $(JOBS) $(if $(SWEEPS),$(SWEEPS),--stale)

# Every assert on fresh draws: DRAWS seed offsets alternating two CPU code paths; writes gaplib/recorded/audit/.
DRAWS ?= 10
AUDIT_OUT ?= gaplib/recorded/audit
audit: $(STAMP)
	$(PY) tools/audit.py --draws $(DRAWS) --jobs $(JOBS) --out $(AUDIT_OUT) $(NOTEBOOKS)

$(UV):
	PIP_ROOT_USER_ACTION=ignore $(PYTHON) -m pip install --quiet --target _build/uv uv==$(UV_VERSION)

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
