"""Write the Colab link and the setup cell into every notebook, from _config.yml's URL and pyproject's version.

The URL is typed once, in _config.yml; this script copies it into the notebooks, and tests/test_notebooks.py
fails when a notebook is out of date. Run it after adding a notebook or changing the URL:

    .venv/bin/python tools/sync_notebooks.py

An exercise in the book (exercises/NN_name.ipynb) gets a visible link to its student version in Colab, so
that readers try it before they open the solution; tools/make_student_notebooks.py applies the same cells
to the student versions it writes. Colab links open the notebooks' Colab editions under colab/ (written by
tools/make_colab_editions.py), where the book's markup is plain Markdown.

The setup cell installs ``git+<repository>@v<version>`` (the version written once, in pyproject.toml) when
gaplib is missing or at another version, and does nothing otherwise, on any host. tests/test_colab_setup.py
runs it offline.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIRS = ("chapters", "exercises")
BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"

SETUP_TEMPLATE = '''\
# Setup: the gaplib release of this book, installed only where it is missing or at another version (Colab,
# Kaggle, a fresh Jupyter). Your own torch stays: pip may add what is missing, never swap torch or torchvision.
import importlib
import subprocess
import sys
from importlib import metadata

GAPLIB_VERSION = "{version}"
GAPLIB_SOURCE = "git+{url}@v{version}"
try:
    found = metadata.version("gaplib")
except metadata.PackageNotFoundError:
    found = None
if found != GAPLIB_VERSION:
    keep = [f"{{d.metadata['Name']}}=={{d.version}}" for d in metadata.distributions()
            if (d.metadata["Name"] or "").lower() in ("torch", "torchvision")]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", f"gaplib @ {{GAPLIB_SOURCE}}", *sorted(keep)]
    subprocess.run(pip, check=True)
    importlib.invalidate_caches()
    if "gaplib" in sys.modules:
        print(f"gaplib {{found}} was replaced by {{GAPLIB_VERSION}}: restart the runtime, then run this again.")'''


def version() -> str:
    """The book's release, written once in pyproject.toml; the git tag is v<version>."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["version"]


def repository() -> tuple[str, str]:
    """The repository URL and branch, as written in _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/"), config["repository"].get("branch", "main")


COLAB_DIR = "colab"


def colab_edition(notebook: Path) -> Path:
    """Where tools/make_colab_editions.py writes the plain-Markdown edition of a notebook, which Colab opens."""
    return ROOT / COLAB_DIR / notebook.relative_to(ROOT)


def colab_url(notebook: Path) -> str:
    """The Colab address of a notebook's Colab edition (plain Markdown, values of the book's build)."""
    url, branch = repository()
    github_path = url.removeprefix("https://github.com/")
    path = colab_edition(notebook).relative_to(ROOT).as_posix()
    return f"https://colab.research.google.com/github/{github_path}/blob/{branch}/{path}"


def student_path(notebook: Path) -> Path:
    """Where tools/make_student_notebooks.py writes the student version of an exercise (stubs, no solutions)."""
    return notebook.parent / "student" / notebook.name


def is_exercise_solution(notebook: Path) -> bool:
    """An exercise as written, with its solutions: in the book, unlike its generated student version."""
    return notebook.parent == ROOT / "exercises"


def badge_source(notebook: Path) -> str:
    if is_exercise_solution(notebook):
        # The book shows this link, so readers can try the exercise before they open the solution.
        # No link to the solution notebook here: the student edition of the book shows this cell too.
        return (f"**Try it:** [open the exercise in Google Colab]({colab_url(student_path(notebook))}) (stubs and "
                f"checks, no solutions; runs on the CPU in seconds).")
    return f"[Open this notebook in Google Colab]({colab_url(notebook)}) · runs on the CPU in under a minute."


def badge_tags(notebook: Path) -> list[str]:
    return [BADGE_TAG] if is_exercise_solution(notebook) else [BADGE_TAG, "remove-cell"]


def setup_source() -> str:
    url, _ = repository()
    return SETUP_TEMPLATE.format(url=url, version=version())


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
