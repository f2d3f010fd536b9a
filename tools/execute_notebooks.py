"""Execute the book's notebooks two at a time into its execution cache, before Sphinx renders them.

`make book` runs this first. Each chapter and exercise whose code the cache (_build/.jupyter_cache) does not hold
yet is executed exactly as myst-nb would execute it (jupyter-cache's ``single_nb_execution``: nbclient, the
notebook's own folder as working directory, the timeout of _config.yml) and stored in the cache; Sphinx then
finds every notebook there and only renders. Why not Sphinx's own ``-j 2``: it hands each process a fixed run of
pages in file order, so one process got most of the long chapters; here two workers take the next notebook,
longest first, as soon as they are free.

Each notebook's cost is measured, not timed out: the kernel's user + system CPU seconds (its rusage, once it has
exited) and the wall time go to _build/notebook_times.json, and tests/test_budgets.py holds them to the budget.

    .venv/bin/python tools/execute_notebooks.py [--jobs 2] [notebook ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"
TIMES_NAME = "notebook_times.json"  # beside the cache folder: _build/notebook_times.json



def _set_kernel_environment() -> None:
    """The book's kernels run as the Makefile runs them, also when this script is started by hand.

    One torch/BLAS thread (the same numbers on the same machine and software) and explorers that open no widget
    comms (gaplib/widgets.py: an executor can wait for ever on a cell that creates widgets, jupyter/nbclient#312);
    Agg would draw every figure into nothing. Kernels inherit this environment."""
    for name, value in {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GAPLIB_STATIC_WIDGETS": "1"}.items():
        os.environ.setdefault(name, value)
    if os.environ.get("MPLBACKEND", "").lower() == "agg":
        del os.environ["MPLBACKEND"]


def book_notebooks() -> list[Path]:
    """Every chapter and exercise the book executes."""
    return sorted([*ROOT.glob("chapters/*.ipynb"), *ROOT.glob("exercises/*.ipynb")])


def cell_timeout_s() -> int:
    """The per-cell timeout of _config.yml: it only stops a hung kernel."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return int(config.get("execute", {}).get("timeout", 600))


def _kernel_cpu_s() -> float | None:
    """User + system seconds of this process's children that have exited (the kernels it ran)."""
    try:
        import resource
    except ImportError:  # Windows has no rusage: the report says '?'
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _shown(path: Path) -> str:
    """A notebook's path as the reader typed it: relative to the repository where it lies inside it."""
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _failed_cell(nb) -> str:
    """Which cell raised, counted from 0 with Markdown cells included, as nbval and the build log count."""
    for index, cell in enumerate(nb.cells):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return f"cell {index}"
    return "a cell (it ran past the timeout, or the kernel died)"


def _cell_traceback(nb) -> str:
    """The failing cell's own traceback, without terminal colours (nbclient's wrapper and its frames left out)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.get("traceback", [])))
    return ""


def execute(path: Path, timeout_s: int) -> dict:
    """Run one notebook in a fresh kernel; return it executed, with its cost and any error in plain words."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    cpu_before = _kernel_cpu_s()
    # The kernel's own log stays quiet (ipykernel warns at every start that it talks TCP on 127.0.0.1); what
    # the cells print is their output, as in the book.
    result = single_nb_execution(nb, cwd=str(path.parent), timeout=timeout_s, allow_errors=False,
                                 meta_override=True, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    cpu_after = _kernel_cpu_s()
    cpu_s = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    error = None
    if result.err is not None:
        error = (f"The notebook {_shown(path)} failed in {_failed_cell(nb)} ({type(result.err).__name__}). "
                 f"Run it alone to see the whole story: python -m pytest --nbval-lax {_shown(path)}\n"
                 f"{_cell_traceback(nb) or result.exc_string}")
    return {"nb": nb, "wall_s": result.time, "cpu_s": cpu_s, "error": error}


def read_times(cache: Path = CACHE) -> dict[str, dict]:
    """The last measured cost of each notebook: {path: {"wall_s", "cpu_s", "jobs"}} (empty before any run)."""
    try:
        return json.loads((cache.parent / TIMES_NAME).read_text())
    except (OSError, ValueError):
        return {}


def _longest_first(paths: list[Path], previous: dict[str, dict]) -> list[Path]:
    """Longest notebooks first (by the last run, else chapters before exercises): two workers then end together."""

    def expected_s(path: Path) -> float:
        name = _shown(path)
        row = previous.get(name) or {}
        return row.get("cpu_s") or row.get("wall_s") or (30.0 if name.startswith("chapters/") else 10.0)

    return sorted(paths, key=expected_s, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="the execution cache (default: the book's)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter and exercise")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    _set_kernel_environment()

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(args.cache)
    paths = [path.resolve() for path in args.notebooks] or book_notebooks()
    pending = []
    for path in paths:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            pending.append(path)
    print(f"execute_notebooks: {len(paths) - len(pending)} of {len(paths)} notebooks already in the cache, "
          f"{len(pending)} to execute, {args.jobs} at a time")

    # Kept for every notebook of the book, a rebuild updating only those it executed.
    previous = read_times(args.cache)
    times = {name: row for name, row in previous.items() if (ROOT / name).exists()}
    jobs = min(args.jobs, max(len(pending), 1))
    failures = []
    timeout_s = cell_timeout_s()
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(execute, path, timeout_s): path for path in _longest_first(pending, previous)}
        for future in as_completed(futures):
            path = futures[future]
            name = _shown(path)
            outcome = future.result()
            times[name] = {"wall_s": round(outcome["wall_s"], 2), "jobs": jobs,
                           "cpu_s": None if outcome["cpu_s"] is None else round(outcome["cpu_s"], 2)}
            if outcome["error"]:
                failures.append(outcome["error"])
                print(f"  FAILED  {name}", flush=True)
                continue
            # Stored here, in one process, so that two workers never write the cache's database at once.
            cache.cache_notebook_bundle(CacheBundleIn(outcome["nb"], str(path),
                                                      data={"execution_seconds": outcome["wall_s"]}),
                                        check_validity=False, overwrite=True)
            cpu = "?" if outcome["cpu_s"] is None else f"{outcome['cpu_s']:.1f}"
            print(f"  {outcome['wall_s']:6.1f} s wall {cpu:>6} s CPU  {name}", flush=True)
    if pending:
        print(f"execute_notebooks: {len(pending)} notebooks in {time.perf_counter() - started:.0f} s")
        times_file = args.cache.parent / TIMES_NAME
        times_file.parent.mkdir(parents=True, exist_ok=True)
        times_file.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    for failure in failures:
        print("\n" + failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
