"""Suite-wide pytest hooks: a per-notebook timing table at the end of every run.

Each notebook must run alone in a fresh kernel in 30 s or less on a 2-core CPU; the table shows where the
suite's time goes (under `-n 2`, two notebooks share the CPU, so these times are upper bounds).
"""

from collections import defaultdict

NOTEBOOK_BUDGET_S = 30.0
_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook run times (s)")
    for path, seconds in sorted(_notebook_seconds.items(), key=lambda item: -item[1]):
        flag = "  over the 30 s budget" if seconds > NOTEBOOK_BUDGET_S else ""
        terminalreporter.write_line(f"{seconds:7.1f}  {path}{flag}")
    terminalreporter.write_line(f"{sum(_notebook_seconds.values()):7.1f}  all notebooks")
