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


def test_each_claim_row_shows_its_own_bound_even_where_texts_repeat() -> None:
    from tools.make_claims_page import _claims_table

    record = {"name": "ch99_probe", "seeds": list(range(8)), "results": {"a": [0.5 + 0.01 * i for i in range(8)]},
              "claims": [{"text": "Same at twice the budget", "metric": "a", "above": 0.4, "rule": "interval"},
                         {"text": "Same at twice the budget", "metric": "a", "below": 0.7, "rule": "interval"}]}
    rows = _claims_table([record])[2:]
    assert [row.split(" | ")[2] for row in rows] == ["above 0.4 (t interval)", "below 0.7 (t interval)"], rows
    assert all(row.endswith("| yes |") for row in rows), rows
