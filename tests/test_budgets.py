"""Each notebook stays within its CPU-time budget, measured on the book's own execution.

`make book` executes every chapter and exercise once (tools/execute_notebooks.py) and records each kernel's CPU
time, user + system seconds, in _build/notebook_times.json. CPU time hardly moves when other jobs share the
machine, unlike wall time, so the budget is enforced on it; two kernels running at once slow each other a little
(shared caches), which the allowance in conftest.py covers. `make bench` times each notebook alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tools.execute_notebooks import CACHE, TIMES_NAME, book_notebooks

ROOT = Path(__file__).resolve().parent.parent
TIMES = CACHE.parent / TIMES_NAME
BOOK_NOTEBOOKS = [path.relative_to(ROOT).as_posix() for path in book_notebooks()]


@pytest.fixture(scope="module")
def times() -> dict[str, dict]:
    if not TIMES.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{TIMES.relative_to(ROOT)} is missing: make test builds the book first")
        pytest.skip(f"the book is not built ({TIMES.relative_to(ROOT)} is missing): run make book first")
    return json.loads(TIMES.read_text())


@pytest.mark.parametrize("notebook", BOOK_NOTEBOOKS)
def test_notebook_is_within_its_cpu_budget(notebook, times, notebook_budget):
    budget_s, shared_allowance = notebook_budget
    assert notebook in times, f"{notebook} has no measured time: was it executed by make book?"
    row = times[notebook]
    if row["cpu_s"] is None:
        pytest.skip("this platform reports no CPU time for child processes (no rusage)")
    allowed_s = budget_s * (shared_allowance if row["jobs"] > 1 else 1.0)
    assert row["cpu_s"] <= allowed_s, (
        f"{notebook} used {row['cpu_s']:.1f} s of CPU time, over its budget of {allowed_s:.0f} s "
        f"({budget_s:.0f} s alone at one thread" + (f", x{shared_allowance} with {row['jobs']} notebooks at once"
                                                   if row["jobs"] > 1 else "")
        + "): make it cheaper (fewer epochs, seeds or samples).")
