"""The harness itself: a notebook cell that raises must fail both the suite (nbval) and the book build."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture
def failing_book(tmp_path):
    """A one-page book using the project's own _config.yml, whose notebook raises in its second cell."""
    shutil.copy(ROOT / "_config.yml", tmp_path)
    shutil.copy(ROOT / "references.bib", tmp_path)
    for folder in ("_ext", "_static"):  # local Sphinx extensions and assets that _config.yml may name
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: broken\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# A broken chapter"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("assert x == 2, 'the claim is false'")]
    nbformat.write(nb, tmp_path / "broken.ipynb")
    return tmp_path


def test_nbval_fails_on_a_raising_cell(failing_book):
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax",
                             "--nbval-current-env", "broken.ipynb"], cwd=failing_book, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "the claim is false" in result.stdout


def test_book_build_fails_on_a_raising_cell(failing_book):
    result = subprocess.run([str(BIN / "jupyter-book"), "build", ".", "--builder", "html", "-W", "-n",
                             "--keep-going"], cwd=failing_book, capture_output=True, text=True)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "the claim is false" in result.stdout + result.stderr
