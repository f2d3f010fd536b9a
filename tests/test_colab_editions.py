"""Every notebook the book opens in Colab reads cleanly in plain Jupyter: no MyST markup, every glued number
filled in, and the edition is what tools/make_colab_editions.py writes from today's sources.

The book opens Colab from two places: the launch button of every notebook page (_ext/colab_editions.py sends
it to ``colab/<page>.ipynb``, or, in the student edition, an exercise's student version) and the links written
into the notebooks (tools/sync_notebooks.py). Both must land on a committed Colab edition.
"""

import re

import nbformat
import pytest
import yaml

from _ext import colab_editions as extension
from tools import make_colab_editions as editions
from tools.sync_notebooks import ROOT, colab_edition, notebooks

# What plain Jupyter and Colab would show raw: MyST roles and directive fences, equation labels, targets, links
# to the book's source files, and the placeholder written when no build gave a value.
BOOK_ONLY = {
    "a MyST role": re.compile(r"\{[a-zA-Z][\w:+-]*\}`"),
    "a directive fence": re.compile(r"^[ \t]*(`{3,}|:{3,})\{[\w:+-]+\}", re.MULTILINE),
    "a leftover colon fence": re.compile(r"^[ \t]*:{3,}[ \t]*$", re.MULTILINE),
    "an equation label": re.compile(r"\$\$[ \t]*\([\w:.-]+\)"),
    "a MyST target": re.compile(r"^\([\w:.-]+\)=[ \t]*$", re.MULTILINE),
    "a relative link to a source file": re.compile(r"\]\((?!https?:|mailto:|#)[^)]*\.(md|ipynb)\b"),
    "a value missing from the build": re.compile(re.escape(editions.MISSING)),
}
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/([^)\s\"']+\.ipynb)")
SOURCES = notebooks()
EDITIONS = sorted((ROOT / "colab").rglob("*.ipynb"))


def _ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def book_only_markup(text: str) -> list[str]:
    return [f"{what}: {match.group(0)!r}" for what, pattern in BOOK_ONLY.items() for match in pattern.finditer(text)]


def test_every_source_notebook_has_a_colab_edition():
    missing = [colab_edition(p).relative_to(ROOT).as_posix() for p in SOURCES if not colab_edition(p).exists()]
    assert not missing, f"run tools/make_colab_editions.py: missing {missing}"


def test_colab_editions_are_current():
    stale = editions.stale_editions()
    assert not stale, ("build the book, then run tools/make_colab_editions.py: stale "
                       f"{[p.relative_to(ROOT).as_posix() for p in stale]}")


@pytest.mark.parametrize("path", EDITIONS, ids=_ids(EDITIONS))
def test_a_colab_edition_has_no_book_only_markup(path):
    nb = nbformat.read(path, as_version=4)
    problems = [f"cell {i}: {p}" for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
                for p in book_only_markup(cell.source)]
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems[:5])
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "outputs committed"


def test_every_colab_link_in_the_book_opens_a_clean_edition():
    """The links written into the notebooks, and the launch buttons of every notebook page, both editions."""
    targets = set()
    for path in SOURCES:
        for cell in nbformat.read(path, as_version=4).cells:
            targets.update(COLAB_LINK.findall(cell.source))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = re.findall(r"file:\s*(\S+)", yaml.safe_dump(toc))
    for page in pages:
        if (ROOT / f"{page}.ipynb").exists():
            targets.update(extension.edition_path(page, student) for student in (False, True))
    assert targets, "found no Colab link at all"
    for target in sorted(targets):
        assert target.startswith("colab/"), f"a Colab link opens {target}, a source notebook with MyST markup"
        path = ROOT / target
        assert path.exists(), f"a Colab link opens {target}, which does not exist"
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        assert not book_only_markup(text), target


def test_the_student_editions_launch_buttons_open_student_versions():
    assert extension.edition_path("exercises/05_cam_box_iou", student=True) == \
        "colab/exercises/student/05_cam_box_iou.ipynb"
    assert extension.edition_path("exercises/05_cam_box_iou", student=False) == "colab/exercises/05_cam_box_iou.ipynb"
    assert extension.edition_path("chapters/05_cam", student=True) == "colab/chapters/05_cam.ipynb"
    buttons = [{"type": "group", "buttons": [
        {"url": "https://colab.research.google.com/github/o/r/blob/main/exercises/01_implement_gap.ipynb"},
        {"url": "https://mybinder.org/v2/gh/o/r/main?urlpath=tree/exercises/01_implement_gap.ipynb",
         "text": "Binder"}]},
        {"type": "group", "buttons": [{"url": "../_sources/exercises/01_implement_gap.ipynb"}]}]
    rewritten = extension._rewrite(buttons, "exercises/01_implement_gap", student=True)
    assert len(rewritten) == 1, "the emptied download dropdown is gone"
    urls = [b["url"] for group in rewritten for b in group["buttons"]]
    assert urls == ["https://colab.research.google.com/github/o/r/blob/main/colab/exercises/student/01_implement_gap.ipynb",
                    "https://mybinder.org/v2/gh/o/r/main?urlpath=tree/colab/exercises/student/01_implement_gap.ipynb"]


# --- the converter, on the markup the book uses -----------------------------------------------------------------

def convert(tmp_path, markdown, values=None, code="x = 1\nglue('slope', x)"):
    notebook = ROOT / "chapters" / "zz_example.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code), nbformat.v4.new_markdown_cell(markdown)])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    converter = editions.Converter(notebook, values or {})
    converter.equations = editions._number_equations(nb)
    return converter.markdown(markdown)


def test_glue_becomes_the_builds_value_formatted_as_the_book_does(tmp_path):
    values = {"slope": {"text/plain": "-1.0021594534991867"}, "share": {"text/plain": "0.25"}}
    text = convert(tmp_path, "slope {glue:text}`slope:.3f`, share {glue:text}`share:.0%`", values)
    assert text == "slope -1.002, share 25%"


def test_a_missing_glue_value_is_an_error_not_a_silent_gap(tmp_path):
    with pytest.raises(KeyError, match="build the book first"):
        convert(tmp_path, "{glue:text}`nowhere:.2f`")


def test_citations_become_author_year_links_to_the_bibliography(tmp_path):
    text = convert(tmp_path, "as {cite}`zhou2016cam` showed {cite:p}`lin2014nin,hu2018senet`")
    assert f"[Zhou et al. (2016)]({editions.book_url()}bibliography.html)" in text
    assert text.count("bibliography.html") == 3 and "(2014)" not in text and " 2014]" in text


def test_cross_references_become_links_to_the_published_book(tmp_path):
    text = convert(tmp_path, "a {term}`GAP` and {term}`maps <feature map>`; see {doc}`../exercises/01_implement_gap`"
                             " and [notation](../notation.md#symbols)")
    base = editions.book_url()
    assert f"[GAP]({base}glossary.html)" in text and f"[maps]({base}glossary.html)" in text
    assert f"]({base}exercises/01_implement_gap.html)" in text and "[Exercise 1" in text
    assert f"[notation]({base}notation.html#symbols)" in text


def test_directives_become_markdown(tmp_path):
    text = convert(tmp_path, ":::{admonition} Answer\n:class: dropdown\n\nIt is $1/HW$.\n:::\n\n"
                             "```{note}\nMind the {term}`GAP`.\n```")
    assert text.startswith("<details><summary><b>Answer</b></summary>\n\nIt is $1/HW$.\n\n</details>")
    assert "> **Note.**" in text and "> Mind the [GAP]" in text and ":::" not in text


def test_equations_are_numbered_and_plain_code_blocks_left_alone(tmp_path):
    markdown = "$$\na = b\n$$ (eq-a)\n\nBy {eq}`eq-a`.\n\n```python\nprint('{cite}`x`')\n```"
    text = convert(tmp_path, markdown)
    assert "By (1)." in text and "\\tag{1}" in text and "print('{cite}`x`')" in text


BUILD_MARK = "The numbers in this cell are those of the book's build"


def unmarked_quotes(source: nbformat.NotebookNode, edition: nbformat.NotebookNode) -> list[str]:
    """How an edition's cells that quote glued numbers fail to say that they are the book's build's numbers.

    A reader's run (another CPU, another torch) prints other numbers than the build the edition quotes; only the
    mark keeps that from reading as an error. Each source cell that quotes a glued value must become an edition
    cell with the mark."""
    quoting = [c.source for c in source.cells if c.cell_type == "markdown" and "{glue" in c.source]
    marked = [c.source for c in edition.cells if c.cell_type == "markdown" and BUILD_MARK in c.source]
    if len(marked) != len(quoting):
        return [f"{len(quoting)} cells quote glued numbers, {len(marked)} carry the mark"]
    return []


@pytest.mark.parametrize("path", SOURCES, ids=_ids(SOURCES))
def test_every_quoted_build_number_in_colab_is_marked_as_the_builds(path):
    edition = nbformat.read(colab_edition(path), as_version=4)
    problems = unmarked_quotes(nbformat.read(path, as_version=4), edition)
    assert not problems, f"{colab_edition(path).relative_to(ROOT)}: {problems}"


def test_an_edition_without_the_mark_is_caught():
    source = ROOT / "chapters" / "02_inductive_bias.ipynb"
    edition = nbformat.read(colab_edition(source), as_version=4)
    for cell in edition.cells:
        cell.source = cell.source.replace(BUILD_MARK, "Numbers")
    assert unmarked_quotes(nbformat.read(source, as_version=4), edition)
