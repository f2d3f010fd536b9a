"""Write the notebooks exactly as the book executed them, outputs and glued values included, for nbval's
regression mode.

`make book` executes each notebook through jupyter-cache (_build/.jupyter_cache) and renders the page from that
cached, executed copy. _build/jupyter_execute is not the same thing: myst-nb strips the glued values out of it
(into *.glue.json). This script takes each chapter and exercise, finds the executed copy the cache holds for
its current code, and writes it to _build/executed/<same path>. `pytest --nbval` on those files then runs
every notebook again and compares each output, glued numbers included, with what the book shows.

    python .ci/export_executed.py                     # after make book: every chapter and exercise
    python .ci/export_executed.py chapters/04_*.ipynb   # or only these
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.execute_notebooks import CACHE, book_notebooks  # noqa: E402  (the notebooks and cache make book uses)

OUT = ROOT / "_build" / "executed"


def main(paths: list[Path]) -> int:
    if not CACHE.exists():
        print(f"export_executed: no cache at {CACHE.relative_to(ROOT)}: run make book first")
        return 1
    cache = get_cache(CACHE)
    missing = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        try:
            _, executed = cache.merge_match_into_notebook(nb)
        except KeyError:
            missing.append(path.relative_to(ROOT).as_posix())
            continue
        target = OUT / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, target)
    if missing:
        print("export_executed: the book has not executed these notebooks as they are now (run make book): "
              + ", ".join(missing))
        return 1
    print(f"export_executed: {len(paths)} executed notebooks in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main([Path(arg).resolve() for arg in sys.argv[1:]] or book_notebooks()))
