"""Run the recorded sweeps in sweeps/ and write their evidence into gaplib/recorded/sweeps/ (``make sweeps``).

A sweep script defines ``SEEDS``, ``CLAIMS`` (``gaplib.evidence.Claim``) and ``one_seed(seed) -> dict``. Each seed
runs in its own process at one thread, ``--jobs`` at a time; the results are written with the fingerprint of
the code that produced them and the machine that ran it. A test (tests/test_sweeps.py) fails when a script or
the gaplib code it imports changed but its recorded results did not. jupyter-cache has no notion of a
parameter sweep, and papermill would run a whole notebook per seed: this file is the small gap between them.

    python tools/run_sweep.py sweeps/ch02_antialias.py     # one sweep
    python tools/run_sweep.py --stale                      # every sweep whose code changed
    python tools/run_sweep.py --claims sweeps/ch02_antialias.py   # rewrite only the claims' wording
"""

from __future__ import annotations

import argparse
import ast
import datetime
import hashlib
import importlib.util
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SWEEPS = ROOT / "sweeps"
RECORDED = ROOT / "gaplib" / "recorded" / "sweeps"


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"sweep_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("SEEDS", "CLAIMS", "one_seed"):
        if not hasattr(module, name):
            raise SystemExit(f"{path}: a sweep script defines SEEDS, CLAIMS and one_seed(seed); {name} is missing")
    return module


def _code_of(tree: ast.Module) -> str:
    """The code's AST without docstrings or the CLAIMS assignment (wording, not behaviour)."""
    body = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CLAIMS" for t in node.targets):
            continue
        body.append(node)
    module = ast.Module(body=body, type_ignores=[])
    for node in ast.walk(module):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                    and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(module)


def _gaplib_imports(tree: ast.Module) -> set[str]:
    """The gaplib modules a file imports (``import gaplib.x``, ``from gaplib.x import``, ``from gaplib import x``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("gaplib")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gaplib"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def fingerprint(script: Path) -> str:
    """sha256 of the script's code and of every gaplib module it imports, directly or through gaplib itself."""
    tree = ast.parse(script.read_text())
    parts = [_code_of(tree)]
    pending, seen = sorted(_gaplib_imports(tree) | {"gaplib.train"}), set()
    while pending:
        module = pending.pop()
        path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
        if module in seen or not path.is_file():
            continue  # ``from gaplib import glue`` names a function, not a module
        seen.add(module)
        module_tree = ast.parse(path.read_text())
        parts.append(f"{module}:{_code_of(module_tree)}")
        pending.extend(sorted(_gaplib_imports(module_tree) - seen))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def environment() -> dict[str, str]:
    import numpy
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "platform": platform.platform(), "machine": platform.machine(), "processor": _cpu_name(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": str(torch.get_num_threads())}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _one(script: str, seed: int) -> tuple[int, dict, float]:
    import torch

    torch.set_num_threads(1)
    start = time.process_time()
    result = load_script(Path(script)).one_seed(seed)
    if not isinstance(result, dict) or not result:
        raise SystemExit(f"{script}: one_seed({seed}) must return a non-empty dict of metrics, got {result!r}")
    return seed, {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in result.items()}, \
        time.process_time() - start


def claims_of(module: ModuleType) -> list[dict]:
    return [{k: v for k, v in asdict(claim).items() if v is not None} for claim in module.CLAIMS]


def run(script: Path, jobs: int) -> Path:
    module = load_script(script)
    seeds = [int(s) for s in module.SEEDS]
    started = time.time()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = list(pool.map(_one, [str(script)] * len(seeds), seeds))
    by_seed = {seed: (result, cpu) for seed, result, cpu in done}
    metrics = list(by_seed[seeds[0]][0])
    record = {
        "name": script.stem,
        "script": script.relative_to(ROOT).as_posix(),
        "description": (module.__doc__ or "").strip(),
        "code_sha256": fingerprint(script),
        "recorded": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "environment": environment(),
        "wall_seconds": round(time.time() - started, 1),
        "cpu_seconds": round(sum(cpu for _, cpu in by_seed.values()), 1),
        "seeds": seeds,
        "claims": claims_of(module),
        "results": {m: [by_seed[s][0][m] for s in seeds] for m in metrics},
    }
    return write(record, RECORDED / f"{script.stem}.json")


def write(record: dict, out: Path) -> Path:
    """One key a line, each list on its line: a re-run's diff shows which results moved."""
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in record.items() if key != "results"]
    lines.append(' "results": {\n' + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}"
                                              for k, v in record["results"].items()) + "\n }")
    out.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    return out


def rewrite_claims(script: Path) -> Path:
    out = RECORDED / f"{script.stem}.json"
    record = json.loads(out.read_text())
    module = load_script(script)
    record["claims"] = claims_of(module)
    record["description"] = (module.__doc__ or "").strip()
    return write(record, out)


def is_stale(script: Path) -> bool:
    out = RECORDED / f"{script.stem}.json"
    return not out.is_file() or json.loads(out.read_text()).get("code_sha256") != fingerprint(script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scripts", nargs="*", type=Path)
    parser.add_argument("--stale", action="store_true", help="run every sweep whose code changed")
    parser.add_argument("--all", action="store_true", help="run every sweep")
    parser.add_argument("--claims", action="store_true", help="rewrite only the claims and description")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    os.environ.pop("GAPLIB_SEED_OFFSET", None)  # the recorded seeds are the seeds the file names
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    scripts = [s.resolve() for s in args.scripts]
    if args.all or args.stale:
        scripts += [s for s in sorted(SWEEPS.glob("ch*.py")) if args.all or is_stale(s)]
    if not scripts:
        print("sweeps: nothing to run (every recorded sweep matches its code)")
    RECORDED.mkdir(parents=True, exist_ok=True)
    for script in scripts:
        if args.claims:
            print(f"sweeps: {rewrite_claims(script).relative_to(ROOT)} (claims only)")
            continue
        started = time.time()
        out = run(script, args.jobs)
        print(f"sweeps: {out.relative_to(ROOT)} in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
