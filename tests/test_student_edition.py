"""The student edition of the book holds no solution: not on a page, in a download, a copied source, the search
index, nor behind a link (GitHub, Colab or Binder).

It reads the built student edition (teaching.md: ``hide_solutions: true``, built into ``_build/student/html``
by ``make student-book``, or wherever ``BOOK_STUDENT_HTML`` points). Without one the test is skipped, except
where ``CI`` is set: there a missing student edition fails.
"""

import html
import os
import re
from pathlib import Path

import nbformat
import pytest

from tools import make_student_notebooks as students
from tools.sync_notebooks import ROOT

SITE = Path(os.environ.get("BOOK_STUDENT_HTML", ROOT / "_build" / "student" / "html"))
SOLUTIONS = students.solution_notebooks()
# A link to an exercise's solution notebook: its source, its Colab edition or its page's download.
SOLUTION_LINK = re.compile(r"(?<!student/)(?<![\w-])(\d\d_[\w-]+)\.ipynb")


def public_text() -> str:
    """What the book may show anyway: the chapters and gaplib (a solution line found there tells nothing)."""
    parts = [c.source for p in sorted((ROOT / "chapters").glob("*.ipynb")) for c in nbformat.read(p, 4).cells]
    parts += [p.read_text() for p in sorted((ROOT / "gaplib").rglob("*.py"))]
    return re.sub(r"\s+", "", "\n".join(parts))


def solution_lines() -> dict[str, str]:
    """Each solution's telling lines (long, and found nowhere but in the solution), whitespace removed."""
    public, lines = public_text(), {}
    for path in SOLUTIONS:
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if line.strip() == students.BEGIN:
                    inside = True
                elif line.strip() == students.END:
                    inside = False
                elif inside and len(line.strip()) >= 24 and not line.strip().startswith("#"):
                    compact = re.sub(r"\s+", "", line)
                    if compact not in public:
                        lines[compact] = f"{path.name}: {line.strip()}"
    return lines


def site_text(path: Path) -> str:
    text = path.read_text(errors="replace")
    if path.suffix == ".html":
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"\s+", "", text).replace("\\", "")


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        if os.environ.get("CI"):
            pytest.fail(f"no student edition at {SITE}: build it as teaching.md says")
        pytest.skip(f"no student edition at {SITE}: build it as teaching.md says")
    return SITE


def test_no_file_of_the_student_edition_contains_a_solution(site):
    lines = solution_lines()
    assert len(lines) >= 10, "too few solution lines to look for"
    leaks = []
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".txt", ".ipynb", ".json", ".md", ".py"):
            text = site_text(path)
            leaks += [f"{path.relative_to(site)}: {where}" for line, where in lines.items() if line in text]
    assert not leaks, "solutions in the student edition:\n" + "\n".join(leaks[:10])


def test_no_link_or_download_leads_to_a_solution_notebook(site):
    problems = []
    for path in site.rglob("*.html"):
        for href in re.findall(r"href=\"([^\"]+)\"", path.read_text()):
            if "exercises" in href and SOLUTION_LINK.search(href.split("?")[-1]):
                problems.append(f"{path.relative_to(site)}: {href}")
    assert not problems, "links to solution notebooks:\n" + "\n".join(problems[:10])
    copied = [p.name for p in (site / "_sources" / "exercises").glob("[0-9][0-9]_*")]
    assert not copied, f"the exercises' sources are copied into the site: {copied}"


def test_every_exercise_page_opens_its_student_version_in_colab(site):
    for path in SOLUTIONS:
        page = (site / "exercises" / f"{path.stem}.html").read_text()
        assert f"colab/exercises/student/{path.stem}.ipynb" in page, path.stem
        assert "solution-start" not in page and 'class="solution' not in page, path.stem
