"""Say in plain words why `make book` failed: which notebook, which cell, what happened, how to rerun it.

Sphinx's own output for a failed notebook is a long traceback through nbclient and jupyter-cache; this reads the
build log (the first argument) and prints one short paragraph per failing notebook, finding the cell's number by
matching the source that nbclient quotes against the notebook itself.

    python .ci/explain_build_failure.py _build/book.log
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

FAILED = re.compile(r"^(?P<path>\S+\.(?:ipynb|md)): WARNING: Executing notebook failed: (?P<error>\w+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _quoted_source(lines: list[str]) -> str:
    """The cell source nbclient quotes between two lines of dashes, after 'the following cell:' or 'preview'."""
    for index, line in enumerate(lines):
        if line.strip().startswith("---") and index > 0:
            body = []
            for rest in lines[index + 1:]:
                if rest.strip().startswith("---"):
                    return "\n".join(body)
                body.append(rest)
    return ""


def _cell_number(path: Path, source: str) -> tuple[int, int] | None:
    """(cell index from 0, code cell number from 1) of the cell whose source starts like ``source``."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if not first or not path.exists():
        return None
    code_number = 0
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        code_number += 1
        if first in cell.source:
            return index, code_number
    return None


def explain(log: str, root: Path) -> list[str]:
    lines = [ANSI.sub("", line) for line in log.splitlines()]
    paragraphs = []
    for start, line in enumerate(lines):
        match = FAILED.match(line)
        if not match:
            continue
        path = Path(match["path"])
        relative = path.relative_to(root) if path.is_absolute() and root in path.parents else path
        block = lines[start + 1:start + 400]
        end = next((i for i, text in enumerate(block) if FAILED.match(text)), len(block))
        block = block[:end]
        text = "\n".join(block)
        timed_out = re.search(r"timed out while it was being executed, after (\d+) seconds", text)
        found = _cell_number(path, _quoted_source(block))
        where = (f"in cell {found[0]} (code cell {found[1]})" if found else "in a cell")
        if timed_out:
            what = (f"did not finish within {timed_out[1]} s, the per-cell limit (execute.timeout in _config.yml). "
                    "A hung cell, or a machine far busier than usual.")
        else:
            last_error = [t for t in block if re.match(r"^\w*(Error|Exception|Interrupt)\b", t)]
            what = "raised " + (last_error[-1].strip() if last_error else match["error"]) + "."
        paragraphs.append(f"The book build failed: {relative} {where} {what}\n"
                          f"  Run it alone to see the whole story: .venv/bin/python -m pytest --nbval-lax {relative}")
    return paragraphs


def main() -> int:
    log = Path(sys.argv[1]).read_text(errors="replace")
    paragraphs = explain(log, Path.cwd().resolve())
    print()
    print("\n".join(paragraphs) if paragraphs else
          "The book build failed, but not in a notebook cell: see the first WARNING or ERROR above.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
