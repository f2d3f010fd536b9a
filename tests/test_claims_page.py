"""The page "How sure is each claim?" (how_sure.md) says what the recorded sweeps and audits say, and nothing else."""

from __future__ import annotations

from tools.make_claims_page import PAGE, page


def test_the_page_is_generated_from_the_current_records() -> None:
    assert PAGE.read_text() == page(), "how_sure.md is stale: run .venv/bin/python tools/make_claims_page.py"


def test_the_page_lists_every_chapter_and_exercise() -> None:
    from tools.execute_notebooks import ROOT, book_notebooks

    text = page()
    for notebook in book_notebooks():
        assert f"]({notebook.relative_to(ROOT).as_posix()})" in text, notebook
