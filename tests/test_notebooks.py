"""The notebooks as documents: synced Colab cells, no stored outputs, alt text, hidden widgets, glued numbers."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from tools import sync_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sync_notebooks.notebooks()
BOOK_NOTEBOOKS = [p for p in NOTEBOOKS if "student" not in p.parts]


def _ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def _toc_files(entries):
    for entry in entries or []:
        if "file" in entry:
            yield entry["file"]
        yield from _toc_files(entry.get("sections"))
        yield from _toc_files(entry.get("chapters"))
        for part in entry.get("parts", []):
            yield from _toc_files(part.get("chapters"))


def toc_files() -> set[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return {toc["root"], *_toc_files([{"parts": toc.get("parts", [])}])}


def test_there_are_notebooks():
    assert any(p.parent.name == "chapters" for p in NOTEBOOKS)


def test_colab_cells_match_the_repository_url_in_config():
    stale = sync_notebooks.stale_notebooks()
    assert not stale, f"run tools/sync_notebooks.py: stale Colab cells in {_ids(stale)}"


def test_every_book_notebook_is_in_the_toc_and_every_toc_entry_exists():
    listed = toc_files()
    missing = [p for p in _ids(BOOK_NOTEBOOKS) if p.removesuffix(".ipynb") not in listed]
    assert not missing, f"notebooks not in _toc.yml: {missing}"
    for entry in listed:
        assert any((ROOT / f"{entry}{suffix}").exists() for suffix in ("", ".md", ".ipynb")), entry


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"stored output in {path.name}"


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=_ids(BOOK_NOTEBOOKS))
def test_figures_have_alt_text_and_widgets_stay_out_of_the_book(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if "explorer(" in cell.source or "interact(" in cell.source:
            assert "remove-cell" in tags, f"{path.name}: a widget cell must be tagged remove-cell"
        elif "plt.show()" in cell.source and "remove-cell" not in tags:
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt) > 20, f"{path.name}: figure cell without alt text:\n{cell.source[:200]}"
        assert not re.search(r"""cmap\s*=\s*["'](jet|rainbow|hsv)""", cell.source), f"{path.name}: rainbow colormap"


@pytest.mark.parametrize("path", [p for p in BOOK_NOTEBOOKS if p.parent.name == "chapters"],
                         ids=_ids([p for p in BOOK_NOTEBOOKS if p.parent.name == "chapters"]))
def test_chapters_check_their_claims_and_glue_every_quoted_number(path):
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert code.count("assert ") >= 3, f"{path.name}: a chapter checks its claims with asserts"
    quoted = set(re.findall(r"\{glue:(?:text|any|md|figure)\}`([A-Za-z_][A-Za-z0-9_]*)", prose))
    glued = set(re.findall(r"""glue\(\s*f?["']([^"']+)["']""", code))
    patterns = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", r"[A-Za-z0-9_]+", re.escape(g)) + "$") for g in glued]
    unglued = [name for name in quoted if not any(p.match(name) for p in patterns)]
    assert not unglued, f"{path.name}: prose quotes values that no cell glues: {unglued}"
