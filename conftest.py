"""Suite-wide pytest hooks: notebooks under nbval run as they do in Jupyter and in the book, and are measured.

- nbval sends every cell with ``store_history=False``; IPython then decides whether a trailing ``;`` silences
  a cell by looking at the *previous* cell in the history, so ``fig.tight_layout();`` prints a stray value
  under nbval that neither Jupyter nor the book shows, and regression mode (``--nbval``) fails on it. We send
  cells with history, as Jupyter does.
- Each notebook's cells stay on one pytest-xdist worker, in order: ``--dist loadfile`` in pyproject.toml.
- Each notebook has a CPU-time budget (``NOTEBOOK_BUDGET_S`` seconds of the kernel's user + system time, at
  one thread). CPU time, unlike wall time, hardly moves when other jobs share the machine, so the budget is
  enforced by measuring it, not by a timeout: the per-cell timeouts are generous (600 s) and exist only to
  stop a hung kernel. A notebook over budget fails the run, with a plain sentence saying which and by how
  much; ``GAP_BUDGET_REPORT_ONLY=1`` (``make bench``) turns that into a report.
- Kernels draw figures inline, as in the book, even where the caller set ``MPLBACKEND=Agg``.
- Regression mode does not compare the outputs of cells tagged ``remove-cell``: the book shows none of them.
- A failing cell is named in plain words: the notebook, the cell number, and how to run it alone.
- The run ends with a table of every notebook's wall and CPU time, slowest first, against the budget.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

# A kernel started with MPLBACKEND=Agg (a common setting for headless test runs) shows no figure at all, so the
# notebooks would run differently from the book, which draws them inline. Kernels inherit this environment; the
# tests in this process need no backend setting (matplotlib picks Agg by itself where there is no display).
if os.environ.get("MPLBACKEND", "").lower() == "agg":
    del os.environ["MPLBACKEND"]

NOTEBOOK_BUDGET_S = float(os.environ.get("GAP_NOTEBOOK_BUDGET_S", "40"))
# Two kernels at once share the 2 cores' caches and memory bandwidth, which inflates each one's CPU time. On
# 2026-11-27, two at a time (make book) against alone, same machine, same hour: chapter 10 (attention) 43.2 s
# against 30.1 s (x1.44), chapter 2 x1.21, chapter 11 x1.16, chapters 5, 6 and 7 x1.06-1.10. Where notebooks
# share the cores, the check allows x1.5, so that it measures the notebook, not its neighbour, and a busy
# machine does not fail the build; `make bench` measures each notebook alone against the plain budget.
SHARED_CPU_ALLOWANCE = 1.5
_budget_s = NOTEBOOK_BUDGET_S


@pytest.fixture(scope="session")
def notebook_budget() -> tuple[float, float]:
    """(CPU seconds a notebook may use alone at one thread, the factor allowed when two kernels share the cores)."""
    return NOTEBOOK_BUDGET_S, SHARED_CPU_ALLOWANCE


def pytest_configure(config):
    global _budget_s
    workers = getattr(config.option, "numprocesses", None)
    shared = isinstance(workers, int) and workers > 1 or workers == "auto"
    _budget_s = NOTEBOOK_BUDGET_S * (SHARED_CPU_ALLOWANCE if shared else 1.0)
OUTPUT_TIMEOUT_S = 60  # nbval waits 5 s for a cell's outputs after it finished: too short on a busy machine

try:  # nbval is a dev dependency; without it there are no notebook items and nothing below applies
    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbCell
except ImportError:  # pragma: no cover
    RunningKernel = IPyNbCell = None

if RunningKernel is not None:
    def _execute_with_history(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)

    RunningKernel.execute_cell_input = _execute_with_history

_wall: dict[str, float] = defaultdict(float)
_cpu: dict[str, float] = {}


def _is_cell(item) -> bool:
    return IPyNbCell is not None and isinstance(item, IPyNbCell)


def _expected_seconds(item) -> float:
    """The seconds a test marked ``@pytest.mark.long(seconds)`` is expected to take; 0 for the others."""
    marker = item.get_closest_marker("long")
    return float(marker.args[0]) if marker and marker.args else 0.0


def _notebook(nodeid: str) -> str | None:
    path = nodeid.split("::")[0]
    return path if path.endswith(".ipynb") else None


def pytest_collection_modifyitems(items):
    # Tests marked long first, longest first (a stable sort: notebook cells keep their order), so that under
    # -n 2 no worker is left running one of them alone at the end.
    items.sort(key=lambda item: -_expected_seconds(item))
    for item in items:
        if _is_cell(item):
            item.output_timeout = OUTPUT_TIMEOUT_S
            # A cell tagged remove-cell (the live explorers) shows nothing in the book, so regression mode runs it
            # (it must not raise) without comparing its outputs. nbval would not compare them faithfully anyway:
            # it ignores the clear_output messages of a widget's Output area, so the figure drawn inside the
            # widget turns up as an extra output of the cell.
            if "remove-cell" in item.cell.metadata.get("tags", []):
                item.options["check"] = False


def _kernel_cpu_seconds(item) -> float | None:
    try:
        import psutil

        process = psutil.Process(item.parent.kernel.km.provisioner.process.pid)
        times = process.cpu_times()
    except Exception:  # the kernel died or nbval changed its internals: report no number rather than fail
        return None
    return times.user + times.system + times.children_user + times.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _is_cell(item):
        return
    report = outcome.get_result()
    if call.when == "call":
        seconds = _kernel_cpu_seconds(item)
        if seconds is not None:
            report.user_properties.append(("kernel_cpu_s", seconds))
    if report.failed:
        path = item.nodeid.split("::")[0]
        source = path.removeprefix("_build/executed/")
        compared = "" if source == path else (
            f"This is regression mode: the cell's output differs from the one the book shows ({path}), or the cell "
            "raised. Numbers differ by nature when the book was executed on another machine type, CPU code path "
            "(ATEN_CPU_CAPABILITY) or torch build: run `make book` here first (the cache key names all three). On "
            "the same machine, a difference means a number that depends on the run: seed it and pin the threads, "
            "or, if the output legitimately varies, add a pattern to .ci/nbval-sanitize.cfg.\n")
        report.sections.append((
            "in plain words",
            f"The notebook {source} failed in code cell {item.cell_num} (code cells counted from 0, Markdown not "
            "counted).\n"
            + compared +
            f"Run it alone to see the whole story: python -m pytest --nbval-lax {source}\n"
            "or open it in Jupyter and run all cells.",
        ))


def pytest_runtest_logreport(report):
    path = _notebook(report.nodeid)
    if path is None:
        return
    _wall[path] += report.duration
    for name, value in report.user_properties:
        if name == "kernel_cpu_s":
            _cpu[path] = max(_cpu.get(path, 0.0), value)


def over_budget() -> dict[str, float]:
    """The notebooks whose kernel used more CPU time than the budget, with their CPU seconds."""
    return {path: cpu for path, cpu in _cpu.items() if cpu > _budget_s}


def pytest_terminal_summary(terminalreporter):
    if not _wall:
        return
    terminalreporter.section("notebook times, slowest first (CPU = the kernel's user + system time)")
    terminalreporter.write_line(f"{'wall s':>7} {'CPU s':>7} {'budget':>7}  notebook")
    for path in sorted(_wall, key=lambda p: -_cpu.get(p, _wall[p])):
        cpu = _cpu.get(path)
        flag = "  OVER BUDGET" if cpu is not None and cpu > _budget_s else ""
        cpu_text = f"{cpu:7.1f}" if cpu is not None else f"{'?':>7}"
        terminalreporter.write_line(f"{_wall[path]:7.1f} {cpu_text} {_budget_s:7.0f}  {path}{flag}")
    terminalreporter.write_line(f"{sum(_wall.values()):7.1f} {sum(_cpu.values()):7.1f}          all notebooks")
    for path, cpu in over_budget().items():
        terminalreporter.write_line(
            f"{path} used {cpu:.1f} s of CPU time, over its budget of {_budget_s:.0f} s "
            f"({NOTEBOOK_BUDGET_S:.0f} s at one thread alone on the machine): make it cheaper (fewer epochs, seeds "
            "or samples)."
        )


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):  # under xdist only the controller sees every notebook
        return
    if over_budget() and not os.environ.get("GAP_BUDGET_REPORT_ONLY") and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
