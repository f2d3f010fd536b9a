"""The book's sources, checked before any build: code lines that fit the column, the landing page's cards,
and the two local extensions that clean up the rendered book (``_ext/``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tools.execute_notebooks import book_notebooks

ROOT = Path(__file__).resolve().parent.parent
# The code column shows about 80 characters at 1280 px; longer lines scroll out of sight.
MAX_CODE_LINE = 80
BOOK_NOTEBOOKS = book_notebooks()
MAX_THUMBNAIL_BYTES = 100_000

sys.path.insert(0, str(ROOT / "_ext"))
import author_year_labels  # noqa: E402
import strip_solution_markers  # noqa: E402


def _chapters_in_toc() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [entry["file"] for part in toc["parts"] for entry in part["chapters"]
            if entry["file"].startswith("chapters/")]


@pytest.mark.parametrize("path", BOOK_NOTEBOOKS, ids=[p.relative_to(ROOT).as_posix() for p in BOOK_NOTEBOOKS])
def test_code_lines_fit_the_column(path: Path) -> None:
    """The Colab setup cell (written by tools/sync_notebooks.py, removed from the book) is exempt."""
    notebook = nbformat.read(path, as_version=4)
    long = [line for cell in notebook.cells if cell.cell_type == "code"
            and "colab-setup" not in cell.metadata.get("tags", [])
            for line in cell.source.splitlines() if len(line) > MAX_CODE_LINE]
    assert not long, f"{len(long)} code lines longer than {MAX_CODE_LINE} characters, e.g. {long[:3]}"


def test_every_chapter_has_a_card_with_a_thumbnail_on_the_landing_page() -> None:
    intro = (ROOT / "intro.md").read_text()
    cards = re.findall(r":::\{grid-item-card\}.*?\n:::", intro, flags=re.S)
    linked = {re.search(r":link: (\S+)", card).group(1): card for card in cards}
    chapters = _chapters_in_toc()
    assert [c for c in chapters if c not in linked] == [], "chapters without a card in intro.md"
    for chapter in chapters:
        image = re.search(r":img-top: (\S+)", linked[chapter])
        assert image, f"the card of {chapter} has no image"
        assert re.search(r":img-alt: \S", linked[chapter]), f"the card of {chapter} has no alt text"
        path = ROOT / image.group(1)
        assert path.is_file(), f"missing thumbnail {image.group(1)} (run tools/make_thumbnails.py)"
        assert path.stat().st_size < MAX_THUMBNAIL_BYTES, f"{image.group(1)} is too large for a thumbnail"
    assert "slider" not in intro.split("## How to read")[0].lower()


def test_solution_markers_are_dropped_and_nothing_else() -> None:
    source = "def f(x):\n    # BEGIN SOLUTION\n    return x  # END SOLUTION stays\n    # END SOLUTION\n\n# done"
    assert strip_solution_markers.without_markers(source) == "def f(x):\n    return x  # END SOLUTION stays\n\n# done"


def test_the_student_generator_still_finds_the_markers_in_the_sources() -> None:
    exercises = [p for p in ROOT.glob("exercises/*.ipynb") if "# BEGIN SOLUTION" in p.read_text()]
    assert exercises, "no exercise notebook holds a '# BEGIN SOLUTION' marker any more"


@pytest.mark.parametrize(("authors", "label"), [
    (["Lin, Min"], "Lin, 2014"),
    (["He, Kaiming", "Sun, Jian"], "He and Sun, 2014"),
    (["Zhou, Bolei", "Khosla, Aditya", "Lapedriza, Agata"], "Zhou et al., 2014"),
    (["{van der Maaten}, Laurens"], "van der Maaten, 2014"),
    (["Sch{\\\"o}lkopf, Bernhard"], "Scholkopf, 2014"),
])
def test_author_year_label(authors: list[str], label: str) -> None:
    from pybtex.database import Entry, Person

    entry = Entry("article", fields={"year": "2014", "title": "T"}, persons={"author": [Person(a) for a in authors]})
    assert author_year_labels.author_year(entry) == label


def test_equal_labels_get_letters() -> None:
    from pybtex.database import Entry, Person

    entries = [Entry("article", fields={"year": "2016", "title": t}, persons={"author": [Person("He, Kaiming")]})
               for t in ("A", "B")] + [Entry("misc", fields={"year": "2015", "title": "C"})]
    labels = list(author_year_labels.AuthorYearLabels().format_labels(entries))
    assert labels == ["He, 2016a", "He, 2016b", "C, 2015"]


def _png(width: int, height: int, colour: str) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_thumbnail_takes_the_key_figure_and_shrinks_it() -> None:
    import io

    from PIL import Image

    from tools import make_thumbnails

    def figure_cell(name: str | None, colour: str) -> nbformat.NotebookNode:
        cell = nbformat.v4.new_code_cell("plt.show()")
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _png(1200, 600, colour)})]
        if name:
            cell.metadata["mystnb"] = {"figure": {"name": name}}
        return cell

    notebook = nbformat.v4.new_notebook(cells=[figure_cell(None, "red"), figure_cell("fig-a", "green"),
                                               figure_cell("fig-key", "blue")])
    image = Image.open(io.BytesIO(make_thumbnails.thumbnail(make_thumbnails.key_figure(notebook, "fig-key"))))
    assert image.size == (make_thumbnails.WIDTH, make_thumbnails.WIDTH // 2)
    assert image.convert("RGB").getpixel((10, 10)) == (0, 0, 255)
    renamed = make_thumbnails.key_figure(notebook, "fig-renamed")  # falls back to the first named figure
    assert Image.open(io.BytesIO(renamed)).convert("RGB").getpixel((0, 0)) == (0, 128, 0)
    with pytest.raises(ValueError, match="PNG output"):
        make_thumbnails.key_figure(nbformat.v4.new_notebook(), "fig-key")
