"""The audit records (tools/audit.py): every notebook audited on its current code, every check held."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.audit import OUT, PATHS, code_sha256, is_check
from tools.execute_notebooks import ROOT, book_notebooks

MIN_DRAWS = 10


def record_of(notebook: Path) -> Path:
    return OUT / f"{notebook.parent.name}_{notebook.stem}.json"


@pytest.mark.parametrize("notebook", book_notebooks(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_check_held_on_every_audited_draw_of_the_current_code(notebook: Path) -> None:
    import nbformat

    shown = notebook.relative_to(ROOT).as_posix()
    again = f"run: NOTEBOOKS={shown} make audit"
    path = record_of(notebook)
    assert path.is_file(), f"{shown} was never audited; {again}"
    record = json.loads(path.read_text())
    assert record["code_sha256"] == code_sha256(notebook), f"{shown} changed since its audit; {again}"
    draws = record["draws"]
    assert len({d["offset"] for d in draws}) >= MIN_DRAWS and 0 not in {d["offset"] for d in draws}, draws
    assert {d["path"] for d in draws} == set(PATHS), f"{shown}: audited on {draws}, not on both code paths"
    assert record["runs"] == len(draws) and not record["failures"], record["failures"]
    cells = nbformat.read(notebook, 4).cells
    checking = {str(i) for i, c in enumerate(cells) if c.cell_type == "code" and is_check(c.source)}
    assert set(record["cells"]) == checking, f"{shown}: the audited checking cells differ from today's; {again}"
    for index, cell in record["cells"].items():
        assert cell["held"] == cell["runs"] == len(draws), f"{shown} cell {index} held {cell['held']} of {cell['runs']}"


def test_the_ci_slice_audits_what_a_change_can_move(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    from types import SimpleNamespace

    from tools import audit

    def diff(names: list[str]):
        monkeypatch.setattr(subprocess, "run", lambda *a, **k: SimpleNamespace(stdout="\n".join(names)))
        return [p.relative_to(ROOT).as_posix() for p in audit.changed_notebooks("HEAD~1")]

    assert diff(["chapters/05_cam.ipynb", "README.md"]) == ["chapters/05_cam.ipynb"]
    assert diff(["README.md", "how_sure.md", "gaplib/recorded/audit/chapters_05_cam.json"]) == []
    everything = [p.relative_to(ROOT).as_posix() for p in book_notebooks()]
    assert diff(["gaplib/pooling.py"]) == everything
    assert diff(["requirements.lock"]) == everything
