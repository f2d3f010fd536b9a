"""Write the student version of every exercise: the solutions replaced by stubs that raise NotImplementedError.

Each exercise is written once, with its solution, in ``exercises/NN_name.ipynb``: the book shows it with the
solution behind a toggle, and nbval runs it. This script derives ``exercises/student/NN_name.ipynb``, the
notebook a student opens in Colab; it is committed (Colab opens committed files) and tests fail when it is
stale. In the student version:

* in a code cell, each block between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` becomes one
  ``raise NotImplementedError(...)`` at the block's indentation (the signature and docstring above it stay);
* the markdown cells that open and close a gated solution (sphinx-exercise's ``solution-start`` and
  ``solution-end`` directives) are dropped;
* the ``{exercise}`` directive around a task becomes plain markdown, which Jupyter and Colab render;
* the Colab link and setup cell point at the student notebook (see tools/sync_notebooks.py).

Run it after editing an exercise:

    .venv/bin/python tools/make_student_notebooks.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

if __package__ in (None, ""):  # run as a script: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.sync_notebooks import ROOT, student_path, sync  # noqa: E402

EXERCISES = ROOT / "exercises"
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
GATE = re.compile(r"^\s*[`:]{3,}\s*\{solution-(start|end)\}", re.MULTILINE)
EXERCISE_OPEN = re.compile(r"^[`:]{3,}\s*\{exercise\}[ \t]*(.*)\n(?::[a-z-]+:.*\n)*\s*", re.MULTILINE)
RELATIVE_LINK = re.compile(r"\]\(\.\./")
FENCE_CLOSE = re.compile(r"^[`:]{3,}\s*$\n?", re.MULTILINE)
FUNCTION = re.compile(r"^\s*def (\w+)\(")


def solution_notebooks() -> list[Path]:
    """The exercises as written, with their solutions, in book order."""
    return sorted(EXERCISES.glob("[0-9]*.ipynb"))


def stub(source: str) -> str:
    """The code with each solution block replaced by a ``raise NotImplementedError`` naming the function."""
    lines, out, inside, function = source.splitlines(), [], False, None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if match := FUNCTION.match(line):
            function = match.group(1)
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution block")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            what = f"write {function}" if function else "write this part"
            out.append(f'{indent}raise NotImplementedError("{what}, then run the check cell below")')
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    return "\n".join(out)


def plain_task(source: str) -> str:
    """Markdown for a notebook one folder deeper, with the ``{exercise}`` directive unwrapped into bold text."""
    source = RELATIVE_LINK.sub("](../../", source)
    if not EXERCISE_OPEN.search(source):
        return source
    source = EXERCISE_OPEN.sub(lambda m: f"**Your task: {m.group(1).strip() or 'exercise'}.**\n\n", source)
    return FENCE_CLOSE.sub("", source).rstrip()


def student_version(solution: Path) -> nbformat.NotebookNode:
    """The student notebook derived from ``solution`` (nothing is written)."""
    nb = nbformat.read(solution, as_version=4)
    if not any(BEGIN in cell.source for cell in nb.cells if cell.cell_type == "code"):
        raise ValueError(f"{solution.name}: no '{BEGIN}' block, so the student version would give the answer away")
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and GATE.search(cell.source):
            continue
        if cell.cell_type == "code":
            cell.source = stub(cell.source)
            cell.outputs, cell.execution_count = [], None
        else:
            cell.source = plain_task(cell.source)
        cells.append(cell)
    nb.cells = cells
    return sync(nb, student_path(solution))


def stale_student_notebooks() -> list[Path]:
    """Student notebooks that are missing or differ from what this script would write."""
    stale = []
    for solution in solution_notebooks():
        target = student_path(solution)
        expected = nbformat.writes(student_version(solution))
        if not target.exists() or nbformat.writes(nbformat.read(target, as_version=4)) != expected:
            stale.append(target)
    names = {student_path(s).name for s in solution_notebooks()}
    stale += [p for p in sorted((EXERCISES / "student").glob("*.ipynb")) if p.name not in names]
    return stale


def main() -> int:
    (EXERCISES / "student").mkdir(exist_ok=True)
    expected = set()
    for solution in solution_notebooks():
        target = student_path(solution)
        nbformat.write(student_version(solution), target)
        expected.add(target.name)
    for orphan in (EXERCISES / "student").glob("*.ipynb"):
        if orphan.name not in expected:
            orphan.unlink()
            print(f"removed {orphan.relative_to(ROOT)}: its exercise is gone")
    print(f"wrote {len(expected)} student notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
