"""Same numbers on the same machine: the numbers the book shows come back in a fresh run, at another thread count.

A reduction split over a different number of threads adds floats in a different order, and a few epochs of
training grow those last bits into a different accuracy. The book is built at one thread (Makefile), a reader's
laptop may have eight, and every notebook pins torch to one thread through ``gaplib.seed_everything``. (Another
CPU or torch release gives other numbers; that the conclusions hold there is the audit's job, ``make audit``.)

The second test takes the training-dynamics chapter exactly as the book executed it (outputs and glued values,
from the book's execution cache) and runs it again in nbval's regression mode, in a fresh kernel started with
``OMP_NUM_THREADS=2``: every output the book shows, every glued number included, must come back identical
(.ci/nbval-sanitize.cfg lists the few outputs allowed to differ, such as a progress bar's elapsed time). So one
run checks three things: the book's numbers reproduce, they do not depend on the thread count, and nbval's
regression mode passes on the book's own executed notebooks (`make regression` runs it on all of them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.execute_notebooks import CACHE

ROOT = Path(__file__).resolve().parent.parent
# The training-dynamics chapter trains several heads over several seeds and glues their accuracies. (Before the
# thread pinning, 23 of the CAM chapter's 36 glued values changed between one and two threads; chapter 4 is the
# cheaper of the two to run again.)
NOTEBOOK = ROOT / "chapters" / "04_training_dynamics.ipynb"

EXECUTED = ROOT / "_build" / "executed" / NOTEBOOK.relative_to(ROOT)


def _environment(threads: int) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_torch_reads_the_thread_count_from_the_environment():
    """Without this the comparison below would run one thread twice and prove nothing."""
    code = "import torch; print(torch.get_num_threads())"
    counts = [subprocess.run([sys.executable, "-c", code], env=_environment(n), capture_output=True, text=True,
                             check=True).stdout.strip() for n in (1, 2)]
    assert counts == ["1", "2"]


@pytest.fixture(scope="module")
def executed_by_the_book() -> Path:
    """The chapter as the book executed it, written out of the book's cache (.ci/export_executed.py)."""
    if not CACHE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no execution cache at {CACHE.relative_to(ROOT)}: make test builds the book first")
        pytest.skip(f"the book is not built ({CACHE.relative_to(ROOT)} is missing): run make book first")
    result = subprocess.run([sys.executable, str(ROOT / ".ci" / "export_executed.py"), str(NOTEBOOK)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return EXECUTED


@pytest.mark.long(40)
@pytest.mark.skipif(not NOTEBOOK.exists(), reason=f"{NOTEBOOK.name} is not in this checkout")
def test_the_book_numbers_come_back_at_two_threads(executed_by_the_book):
    glued = [output for cell in nbformat.read(executed_by_the_book, as_version=4).cells
             for output in cell.get("outputs", []) if output.get("metadata", {}).get("scrapbook")]
    assert len(glued) >= 5, f"{NOTEBOOK.name} glues too few values to compare ({len(glued)})"
    # The budget is checked on the book's own run (tests/test_budgets.py), at one thread.
    env = dict(_environment(2), GAP_BUDGET_REPORT_ONLY="1")
    command = [sys.executable, "-m", "pytest", str(executed_by_the_book), "--nbval", "-n", "0", "-q",
               "--nbval-sanitize-with", str(ROOT / ".ci" / "nbval-sanitize.cfg")]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, (
        f"{NOTEBOOK.name} run again at two threads does not reproduce what the book shows "
        f"({len(glued)} glued values compared):\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
