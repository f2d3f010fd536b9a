"""Write how_sure.md, the page "How sure is each claim?", from the recorded sweeps and the audit records.

Every number on that page is read from gaplib/recorded/ (what ``make sweeps`` and ``make audit`` wrote), never
typed: rerun this after either, and commit the page. tests/test_claims_page.py fails when the page differs from
what the records give.

    .venv/bin/python tools/make_claims_page.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PAGE = ROOT / "how_sure.md"
RULE_WORDS = {"interval": "t interval", "sign": "sign test", "every": "every seed"}

INTRO = """# How sure is each claim?

A chapter's comparison of two trained models is a statement about a distribution: another seed, CPU or
torch release trains another run. This page collects, for every chapter, the evidence behind each comparative
conclusion and how its checks fared when the notebooks were run again on fresh draws. It is generated from the
recorded data (`tools/make_claims_page.py`); [the teaching notes](teaching.md) explain how to rerun it.

**The claims.** Each conclusion below is asserted in its chapter on a recorded sweep: the chapter's experiment
at a budget where the models fit, over at least eight seeds paired across the arms (`sweeps/`, `make sweeps`).
The rule is stated with it: *t interval*, the 95% t interval of the mean clears the bound (a true mean lying
exactly on the bound would pass at most 2.5% of the time); *sign test*, a one-sided sign test at p <= 0.01;
*every seed*, every seed clears the bound (kept for effects many standard deviations wide). The chapter's live
run, which you can repeat, is checked to be a plausible draw of the same sweep.

**The audit.** `make audit` ran every chapter and exercise again with every training seed shifted by a constant
(a fresh draw of initialisations and batch orders; the data stay the same), alternating between this
machine's own CPU kernels (*native*) and the portable ones that any CPU runs (*default*). A check cell *held*
when it ran without an error.
"""


def _bound(claim: dict) -> str:
    above, below = claim.get("above"), claim.get("below")
    if above is not None and below is not None:
        return f"between {above:.3g} and {below:.3g}"
    return f"above {above:.3g}" if above is not None else f"below {below:.3g}"


def _title(notebook: Path) -> str:
    import nbformat

    for cell in nbformat.read(notebook, 4).cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return notebook.stem


def _claims_table(sweeps: list[dict]) -> list[str]:
    """One row per claim: four columns, so that the table fits a phone's column."""
    from gaplib.evidence import from_json

    rows = ["| conclusion | mean (95% interval) | bound (rule) | holds |", "| --- | --- | --- | --- |"]
    for data in sweeps:
        evidence = from_json(data)
        for claim, entry in zip(evidence.claims, data["claims"], strict=True):
            mean, low, high = evidence.interval(claim.metric)[:3]
            holds = "yes" if claim.holds(evidence.values(claim.metric)) else "**no**"
            rows.append(f"| {claim.text} | {mean:.3f} ({low:.3f} to {high:.3f}) | {_bound(entry)} "
                        f"({RULE_WORDS[claim.rule]}) | {holds} |")
    return rows


def _audit_line(record: dict | None) -> str:
    if record is None:
        return "Not audited yet."
    cells = record["cells"].values()
    held, runs = sum(c["held"] for c in cells), sum(c["runs"] for c in cells)
    paths = sorted({d["path"] for d in record["draws"]})
    rate = f"{held / runs:.0%}" if runs else "no check cells"
    return (f"Audit: {len(record['cells'])} check cells x {record['runs']} runs ({len(record['draws'])} fresh draws on "
            f"the {' and '.join(paths)} code paths, {record['recorded']}): {held} of {runs} held ({rate}).")


def page() -> str:
    from tools.audit import OUT as AUDIT
    from tools.execute_notebooks import book_notebooks
    from tools.run_sweep import RECORDED

    sweeps = [json.loads(p.read_text()) for p in sorted(RECORDED.glob("*.json"))]
    lines = [INTRO]
    audits = {}
    for path in sorted(AUDIT.glob("*.json")):
        record = json.loads(path.read_text())
        audits[record["notebook"]] = record
    machines = sorted({f"{r['environment']['processor']}, torch {r['environment']['torch']}, "
                       f"native path {r['environment']['cpu_capability']}" for r in audits.values()})
    if machines:
        lines.append(f"The audit ran on: {'; '.join(machines)}.\n")
    for notebook in book_notebooks():
        shown = notebook.relative_to(ROOT).as_posix()
        if not shown.startswith("chapters/"):
            continue
        number = notebook.stem.split("_")[0]
        lines.append(f"## {int(number)} · {_title(notebook)}\n\n[Open the chapter]({shown}).\n")
        own = [s for s in sweeps if s["name"].startswith(f"ch{number}_")]
        if own:
            lines += _claims_table(own)
            lines.append("")
            for data in own:
                env = data["environment"]
                lines.append(f"Sweep `{data['script']}`: {len(data['seeds'])} seeds, "
                             f"{data['cpu_seconds']:.0f} s of CPU on {env['processor']} ({env['cpu_capability']}), "
                             f"torch {env['torch']}, {data['recorded']}.\n")
        else:
            lines.append("No comparative claim: this chapter's checks are exact results and effects many standard "
                         "deviations wide.\n")
        lines.append(_audit_line(audits.get(shown)) + "\n")
    lines.append("## The exercises\n")
    lines.append("| exercise | check cells | runs | held |\n| --- | ---: | ---: | ---: |")
    for notebook in [n for n in book_notebooks() if n.parent.name == "exercises"]:
        record = audits.get(notebook.relative_to(ROOT).as_posix())
        if record is None:
            lines.append(f"| [{_title(notebook)}](exercises/{notebook.name}) | | not audited yet | |")
            continue
        cells = record["cells"].values()
        lines.append(f"| [{_title(notebook)}](exercises/{notebook.name}) | {len(record['cells'])} | {record['runs']} | "
                     f"{sum(c['held'] for c in cells)} of {sum(c['runs'] for c in cells)} |")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    PAGE.write_text(page())
    print(f"make_claims_page: wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
