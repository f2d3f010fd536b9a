"""The book's two local Sphinx extensions (``_ext/``), each on a one-page book built in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace, patch_docutils

EXT = Path(__file__).resolve().parent.parent / "_ext"

# An exercise with a gated solution, as the exercise notebooks write it (there the solution is code cells).
PAGE = """# Exercises

```{exercise}
:label: ex-one

Add one and one.
```

```{solution-start} ex-one
```

SOLUTION-TEXT in the solution.

```{solution-end}
```

Text after the solution.
"""


def _build(tmp_path: Path, extensions: list[str], hide_solutions: bool) -> str:
    source = tmp_path / "source"
    source.mkdir()
    (source / "index.md").write_text(PAGE)
    overrides = {"extensions": ["myst_parser", "sphinx_exercise", "sphinx_thebe", *extensions],
                 "hide_solutions": hide_solutions, "html_theme": "basic"}
    with patch_docutils(source), docutils_namespace():
        app = Sphinx(source, None, tmp_path / "html", tmp_path / "doctrees", "html", confoverrides=overrides,
                     status=None, warning=None, freshenv=True, warningiserror=True)
        app.build()
    return (tmp_path / "html" / "index.html").read_text()


@pytest.fixture
def local_extensions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.syspath_prepend(str(EXT))
    return ["dedupe_inline_scripts", "hide_gated_solutions"]


def test_student_edition_drops_gated_solutions_and_writes_each_script_once(tmp_path, local_extensions) -> None:
    html = _build(tmp_path, local_extensions, hide_solutions=True)
    assert "Add one and one." in html and "Text after the solution." in html
    assert "SOLUTION-TEXT" not in html, "hide_solutions left a gated solution's content in the page"
    assert html.count("const THEBE_JS_URL") == 1, "an inline script is written twice"


def test_without_them_the_solution_shows_and_a_script_repeats(tmp_path) -> None:
    """The two problems the extensions fix. If the second assertion fails, Sphinx no longer writes an inline
    script twice, and _ext/dedupe_inline_scripts.py can go."""
    html = _build(tmp_path, [], hide_solutions=False)
    assert "SOLUTION-TEXT" in html
    assert html.count("const THEBE_JS_URL") == 2
