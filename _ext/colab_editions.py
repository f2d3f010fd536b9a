"""Point the book's Colab (and Binder) launch buttons at the notebooks' Colab editions, and keep the student
edition free of solutions.

sphinx-book-theme builds a page's Colab button from the page's own path, so ``chapters/05_cam.ipynb`` would
open the source notebook, whose MyST markup Colab shows raw. tools/make_colab_editions.py writes a plain
Markdown edition of every notebook under ``colab/``; this extension makes the buttons open it. In the student
edition (``hide_solutions: true``, see teaching.md), an exercise page's buttons open the student version
(``colab/exercises/student/...``), its "download source" buttons are removed, and the exercises' sources are
not copied into the site: nothing on the page leads to a solution.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

COLAB_DIR = "colab"
EXERCISE_PAGE = re.compile(r"^exercises/\d\d_[\w-]+$")


def _is_exercise(pagename: str) -> bool:
    return bool(EXERCISE_PAGE.match(pagename))


def edition_path(pagename: str, student: bool) -> str:
    """The repository path a launch button of ``pagename`` opens."""
    if student and _is_exercise(pagename):
        folder, name = pagename.split("/", 1)
        return f"{COLAB_DIR}/{folder}/student/{name}.ipynb"
    return f"{COLAB_DIR}/{pagename}.ipynb"


def _rewrite(buttons: list[dict], pagename: str, student: bool) -> list[dict]:
    source = f"{pagename}.ipynb"
    kept = []
    for button in buttons:
        if isinstance(button.get("buttons"), list):
            had = bool(button["buttons"])
            button["buttons"] = _rewrite(button["buttons"], pagename, student)
            if had and not button["buttons"]:
                continue  # a dropdown left empty (the downloads of an exercise page) goes too
        url = button.get("url", "")
        if "colab.research.google.com" in url and url.endswith(f"/{source}"):
            button["url"] = url[: -len(source)] + edition_path(pagename, student)
        elif "mybinder" in url or "binder" in button.get("text", "").lower():
            if student and _is_exercise(pagename):
                button["url"] = url.replace(source, edition_path(pagename, student))
        if student and _is_exercise(pagename) and "_sources" in url:
            continue  # the source of an exercise page is its solution notebook
        kept.append(button)
    return kept


def rewrite_buttons(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if doctree is None or not isinstance(context.get("header_buttons"), list):
        return
    context["header_buttons"] = _rewrite(context["header_buttons"], pagename, bool(app.config.hide_solutions))


def drop_exercise_sources(app: Any, exception: Exception | None) -> None:
    """The student edition ships no copy of the exercises' sources (they hold the solutions)."""
    if exception is not None or not app.config.hide_solutions or app.builder.format != "html":
        return
    for source in (Path(app.outdir) / "_sources" / "exercises").glob("[0-9][0-9]_*"):
        if source.is_dir():
            shutil.rmtree(source)
        else:
            source.unlink()


def setup(app: Any) -> dict[str, Any]:
    app.setup_extension("sphinx_exercise")  # which defines hide_solutions
    app.connect("html-page-context", rewrite_buttons, priority=600)  # after the theme's buttons (500, 501)
    app.connect("build-finished", drop_exercise_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
