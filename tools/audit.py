"""The audit: every notebook again under fresh draws of its seeds and two CPU code paths (``make audit``).

Each run sets ``GAPLIB_SEED_OFFSET`` (gaplib.train.offset_seed: every training seed shifts by the same constant,
so arms stay paired) and either leaves torch on this machine's own CPU kernels or forces the portable ones
(``ATEN_CPU_CAPABILITY=default``), the two code paths a reader's machine may take. The notebook runs to the end
whatever fails; each cell that asserts something is recorded as held or not. The draws alternate between the
code paths (offset 1 native, 2 default, 3 native, ...; ``--every-path`` runs each draw on both). One summary per
notebook goes to gaplib/recorded/audit/<notebook>.json, which the page "How sure is each claim?" reads.
A claim that fails on any audited draw is restated until it does not: the audit exits non-zero and names the run.

    python tools/audit.py [--draws 10] [--first 1] [--every-path] [--jobs 2] [notebook ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from execute_notebooks import (  # noqa: E402
    ROOT,
    _kernel_cpu_s,
    _longest_first,
    _shown,
    book_notebooks,
    cell_timeout_s,
    read_times,
)
from run_sweep import environment  # noqa: E402

OUT = ROOT / "gaplib" / "recorded" / "audit"
PATHS = {"native": None, "default": "default"}  # name: ATEN_CPU_CAPABILITY (None: the machine's best)
CHECKING = ("assert ", ".verify(", ".check_live(", "checks.check")  # what makes a cell a check


def is_check(source: str) -> bool:
    return any(marker in source for marker in CHECKING)


def run_once(path: Path, offset: int, code_path: str, timeout_s: int) -> dict:
    """One notebook, one draw, one code path: which checking cells held, and which cells failed."""
    import nbformat
    import torch  # noqa: F401  (only to fail early where torch is missing)
    from jupyter_cache.executors.utils import single_nb_execution

    os.environ["GAPLIB_SEED_OFFSET"] = str(offset)
    capability = PATHS[code_path]
    if capability is None:
        os.environ.pop("ATEN_CPU_CAPABILITY", None)
    else:
        os.environ["ATEN_CPU_CAPABILITY"] = capability
    nb = nbformat.read(path, as_version=4)
    before = _kernel_cpu_s()
    result = single_nb_execution(nb, cwd=str(path.parent), timeout=timeout_s, allow_errors=True,
                                 meta_override=True, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    after = _kernel_cpu_s()
    checks, errors = {}, []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        failed = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if failed:
            errors.append({"cell": index, "error": f"{failed[0].get('ename')}: {failed[0].get('evalue', '')}"[:400]})
        if is_check(cell.source):
            checks[index] = not failed
    if result.err is not None and not errors:
        errors.append({"cell": None, "error": f"{type(result.err).__name__}: {result.err}"[:400]})
    return {"notebook": _shown(path), "offset": offset, "path": code_path, "checks": checks, "errors": errors,
            "cpu_s": None if before is None or after is None else round(after - before, 1)}


def code_sha256(path: Path) -> str:
    """The notebook's code cells, as audited: a later edit makes its audit record stale.

    The Colab setup cell is left out: it installs gaplib where it is missing and does nothing where the book runs,
    so a new release (a new version in it) changes no audited result."""
    import hashlib

    import nbformat

    cells = [c.source for c in nbformat.read(path, 4).cells
             if c.cell_type == "code" and "colab-setup" not in c.metadata.get("tags", [])]
    return hashlib.sha256("\n\0".join(cells).encode()).hexdigest()


def changed_notebooks(since: str) -> list[Path]:
    """The book's notebooks that a change since the git revision ``since`` can move: those edited, or all of them
    when gaplib, the lock or the recorded evidence changed (CI's audit slice on every push)."""
    import subprocess

    names = subprocess.run(["git", "diff", "--name-only", since, "--"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    moves_all = [n for n in names if n == "requirements.lock"
                 or (n.startswith("gaplib/") and not n.startswith("gaplib/recorded/audit/"))]
    if moves_all:
        return book_notebooks()
    return [p for p in book_notebooks() if p.relative_to(ROOT).as_posix() in names]


def summarise(runs: list[dict], sources: dict[str, list[str]]) -> dict:
    notebooks: dict[str, dict] = {}
    for run in sorted(runs, key=lambda r: (r["notebook"], r["offset"], r["path"])):
        entry = notebooks.setdefault(run["notebook"], {"runs": 0, "cells": {}, "failures": [], "cpu_s": []})
        entry["runs"] += 1
        entry["cpu_s"].append(run["cpu_s"])
        for index, held in run["checks"].items():
            cell = entry["cells"].setdefault(str(index), {"held": 0, "runs": 0,
                                                          "first_line": sources[run["notebook"]][int(index)]})
            cell["runs"] += 1
            cell["held"] += int(held)
        for error in run["errors"]:
            entry["failures"].append({"offset": run["offset"], "path": run["path"], **error})
    return notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10, help="fresh seed offsets (default 10)")
    parser.add_argument("--first", type=int, default=1, help="the first offset (default 1; 0 is the book's draw)")
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--every-path", action="store_true", help="run each draw on every code path")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the summaries (default: the book's)")
    parser.add_argument("--changed-since", metavar="REV", help="only the notebooks a change since REV can move")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter and exercise")
    args = parser.parse_args(argv)
    if args.changed_since:
        args.notebooks = changed_notebooks(args.changed_since)
        if not args.notebooks:
            print(f"audit: no notebook can have changed since {args.changed_since}")
            return 0
    for name, value in {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GAPLIB_STATIC_WIDGETS": "1"}.items():
        os.environ[name] = value
    import nbformat

    paths = _longest_first([p.resolve() for p in args.notebooks] or book_notebooks(), read_times())
    sources = {_shown(p): [c.source.splitlines()[0] if c.source else "" for c in nbformat.read(p, 4).cells]
               for p in paths}
    draws = [(args.first + d, code_path) for d in range(args.draws) for i, code_path in enumerate(args.paths)
             if args.every_path or i == d % len(args.paths)]
    tasks = [(p, offset, code_path) for offset, code_path in draws for p in paths]
    print(f"audit: {len(paths)} notebooks x {len(draws)} runs each ({args.draws} draws on {', '.join(args.paths)}) "
          f"= {len(tasks)} runs, {args.jobs} at a time", flush=True)
    timeout_s, started, runs = cell_timeout_s(), time.time(), []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_once, *task, timeout_s) for task in tasks]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            verdict = "ok" if not run["errors"] else "FAILED " + "; ".join(
                f"cell {e['cell']}: {e['error'].splitlines()[0][:160]}" for e in run["errors"])
            print(f"  [{len(runs)}/{len(tasks)}] {run['notebook']} offset {run['offset']} {run['path']}: "
                  f"{run['cpu_s']} s CPU, {verdict}", flush=True)
    header = {"recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
              "environment": environment(), "draws": [{"offset": o, "path": p} for o, p in draws]}
    args.out.mkdir(parents=True, exist_ok=True)
    for notebook, summary in summarise(runs, sources).items():
        out = args.out / f"{Path(notebook).parent.name}_{Path(notebook).stem}.json"
        code = code_sha256(ROOT / notebook)
        record = {"notebook": notebook, "code_sha256": code, **header, **summary}
        out.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    failed = [r for r in runs if r["errors"]]
    print(f"audit: {len(runs) - len(failed)} of {len(runs)} runs held every check, in {time.time() - started:.0f} s; "
          f"written to {_shown(args.out)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
