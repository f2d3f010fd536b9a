"""Write the Colab link and the Colab setup cell into every notebook, from the repository URL in _config.yml.

The URL is typed once, in _config.yml; this script copies it into the notebooks, and tests/test_notebooks.py
fails when a notebook is out of date. Run it after adding a notebook or changing the URL:

    .venv/bin/python tools/sync_notebooks.py

An exercise in the book (exercises/NN_name.ipynb) gets a visible link to its student version in Colab, so
that readers try it before they open the solution; tools/make_student_notebooks.py applies the same cells
to the student versions it writes. tests/test_colab_setup.py runs the setup cell offline.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIRS = ("chapters", "exercises")
BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"

SETUP_TEMPLATE = '''\
# Colab only: install gaplib from the course repository, keeping Colab's own torch. Elsewhere: nothing to do.
import sys

GAPLIB_SOURCE = "git+{url}@{branch}"
if "google.colab" in sys.modules:
    import subprocess
    from importlib import metadata

    # Pinned to the versions Colab ships: pip may add what is missing, but can never swap torch or torchvision.
    keep = {{f"{{d.name}}=={{d.version}}" for d in metadata.distributions() if d.name in ("torch", "torchvision")}}
    pip = [sys.executable, "-m", "pip", "install", "--quiet", f"gaplib @ {{GAPLIB_SOURCE}}", *sorted(keep)]
    subprocess.run(pip, check=True)'''


def repository() -> tuple[str, str]:
    """The repository URL and branch, as written in _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/"), config["repository"].get("branch", "main")


def colab_url(notebook: Path) -> str:
    url, branch = repository()
    github_path = url.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{github_path}/blob/{branch}/{notebook.relative_to(ROOT).as_posix()}"


def student_path(notebook: Path) -> Path:
    """Where tools/make_student_notebooks.py writes the student version of an exercise (stubs, no solutions)."""
    return notebook.parent / "student" / notebook.name


def is_exercise_solution(notebook: Path) -> bool:
    """An exercise as written, with its solutions: in the book, unlike its generated student version."""
    return notebook.parent == ROOT / "exercises"


def badge_source(notebook: Path) -> str:
    if is_exercise_solution(notebook):
        # The book shows this link, so readers can try the exercise before they open the solution.
        return (f"**Try it:** [open the exercise in Google Colab]({colab_url(student_path(notebook))}) (stubs and "
                f"checks, no solutions; runs on the CPU in seconds), or [this page with its solutions]"
                f"({colab_url(notebook)}).")
    return f"[Open this notebook in Google Colab]({colab_url(notebook)}) · runs on the CPU in under a minute."


def badge_tags(notebook: Path) -> list[str]:
    return [BADGE_TAG] if is_exercise_solution(notebook) else [BADGE_TAG, "remove-cell"]


def setup_source() -> str:
    url, branch = repository()
    return SETUP_TEMPLATE.format(url=url, branch=branch)


def notebooks() -> list[Path]:
    """Every notebook the course ships (the student versions of the exercises included)."""
    return sorted(p for d in NOTEBOOK_DIRS for p in (ROOT / d).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _find(nb: nbformat.NotebookNode, tag: str) -> int | None:
    return next((i for i, cell in enumerate(nb.cells) if tag in cell.metadata.get("tags", [])), None)


def synced(path: Path) -> nbformat.NotebookNode:
    """The notebook with its badge cell (after the title) and setup cell (first code cell) up to date."""
    return sync(nbformat.read(path, as_version=4), path)


def sync(nb: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """Bring the badge and setup cells of ``nb``, to be saved at ``path``, up to date (in place)."""
    badge, setup = _find(nb, BADGE_TAG), _find(nb, SETUP_TAG)
    if badge is None:
        nb.cells.insert(1, nbformat.v4.new_markdown_cell("", metadata={"tags": badge_tags(path)}))
        badge = 1
    nb.cells[badge].source = badge_source(path)
    nb.cells[badge].metadata["tags"] = badge_tags(path)
    if setup is None:
        setup = badge + 1
        nb.cells.insert(setup, nbformat.v4.new_code_cell("", metadata={"tags": [SETUP_TAG, "remove-cell"]}))
    nb.cells[setup].source = setup_source()
    return nb


def _normalised(nb: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    return [(cell.cell_type, cell.source, repr(sorted(cell.metadata.items()))) for cell in nb.cells]


def stale_notebooks() -> list[Path]:
    """Notebooks whose badge or setup cell differs from what _config.yml says."""
    return [p for p in notebooks() if _normalised(nbformat.read(p, as_version=4)) != _normalised(synced(p))]


def main() -> int:
    for path in notebooks():
        nbformat.write(synced(path), path)
    print(f"synced {len(notebooks())} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
