"""The harness itself: failures are caught and explained, nbval runs as instructors run it, budgets are measured."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.execute_notebooks import book_notebooks

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture
def failing_book(tmp_path):
    """A one-page book using the project's own _config.yml, whose notebook raises in its second cell."""
    shutil.copy(ROOT / "_config.yml", tmp_path)
    shutil.copy(ROOT / "references.bib", tmp_path)
    for folder in ("_ext", "_static"):  # local Sphinx extensions and assets that _config.yml may name
        if (ROOT / folder).is_dir():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: broken\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# A broken chapter"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("assert x == 2, 'the claim is false'")]
    nbformat.write(nb, tmp_path / "broken.ipynb")
    return tmp_path


def test_nbval_fails_on_a_raising_cell(failing_book):
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax",
                             "--nbval-current-env", "broken.ipynb"], cwd=failing_book, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "the claim is false" in result.stdout


def _explain(log: str, root: Path) -> list[str]:
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        from explain_build_failure import explain
    finally:
        sys.path.remove(str(ROOT / ".ci"))
    return explain(log, root)


@pytest.mark.long(11)
def test_book_build_fails_on_a_raising_cell_and_says_where_in_plain_words(failing_book):
    result = subprocess.run([str(BIN / "jupyter-book"), "build", ".", "--builder", "html", "-W", "-n",
                             "--keep-going"], cwd=failing_book, capture_output=True, text=True)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-2000:]
    assert "the claim is false" in log
    assert "report this" not in log.lower(), "Sphinx's internal-error message instead of the notebook's own"
    explained = "\n".join(_explain(log, failing_book.resolve()))
    assert "broken.ipynb in cell 2 (code cell 2) raised AssertionError: the claim is false" in explained, explained


def _execute_into(cache, *notebooks):
    """tools/execute_notebooks.py, as `make book` runs it, on these notebooks and this cache."""
    return subprocess.run([sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), "--cache", str(cache),
                           *map(str, notebooks)], capture_output=True, text=True, timeout=600)


def test_the_book_executor_fails_on_a_raising_cell_and_says_where_in_plain_words(failing_book):
    result = _execute_into(failing_book / "cache", failing_book / "broken.ipynb")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"The notebook {failing_book / 'broken.ipynb'} failed in cell 2 (CellExecutionError)" in result.stderr
    assert "the claim is false" in result.stderr
    assert "\x1b[" not in result.stderr and "nbclient" not in result.stderr, "colour codes or nbclient's own frames"
    # nothing was cached for it: a second run executes it again
    assert "0 of 1 notebooks already in the cache" in _execute_into(failing_book / "cache",
                                                                     failing_book / "broken.ipynb").stdout


@pytest.mark.long(12)
def test_the_book_executor_caches_each_notebook_and_runs_it_only_when_its_code_changes(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("sum(i * i for i in range(2_000_000))")]
    nbformat.write(nb, tmp_path / "busy.ipynb")
    first = _execute_into(tmp_path / "cache", tmp_path / "busy.ipynb")
    assert first.returncode == 0 and "0 of 1 notebooks already in the cache, 1 to execute" in first.stdout, (
        first.stdout + first.stderr)
    times = json.loads((tmp_path / "notebook_times.json").read_text())[str(tmp_path / "busy.ipynb")]
    assert times["cpu_s"] > 0.05 and times["wall_s"] >= times["cpu_s"] * 0.5, times  # the kernel's CPU, measured
    again = _execute_into(tmp_path / "cache", tmp_path / "busy.ipynb")
    assert "1 of 1 notebooks already in the cache, 0 to execute" in again.stdout, again.stdout
    nb.cells.append(nbformat.v4.new_code_cell("print('changed')"))
    nbformat.write(nb, tmp_path / "busy.ipynb")
    changed = _execute_into(tmp_path / "cache", tmp_path / "busy.ipynb")
    assert "0 of 1 notebooks already in the cache, 1 to execute" in changed.stdout, changed.stdout


def test_a_timed_out_cell_is_explained_in_plain_words(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("import time\ntime.sleep(1000)")]
    nbformat.write(nb, tmp_path / "slow.ipynb")
    log = (f"{tmp_path}/slow.ipynb: WARNING: Executing notebook failed: CellTimeoutError\n"
           "nbclient.exceptions.CellTimeoutError: A cell timed out while it was being executed, after 600 seconds.\n"
           "The message was: Cell execution timed out.\nHere is a preview of the cell contents:\n"
           "-------------------\nimport time\ntime.sleep(1000)\n-------------------\n")
    explained = "\n".join(_explain(log, tmp_path))
    assert "slow.ipynb in cell 1 (code cell 2) did not finish within 600 s" in explained, explained


def _pytest_with_project_config(args, cwd, **env):
    """pytest as the repository configures it (pyproject.toml's options, conftest.py's hooks), run elsewhere."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
                           str(cwd), "-p", "conftest", *args], cwd=cwd, capture_output=True, text=True,
                          env=environment)


def _chain_notebook(path, cells=6):
    """A notebook whose every cell needs the one before it: split across workers, it raises NameError."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("x0 = 0")]
    nb.cells += [nbformat.v4.new_code_cell(f"x{i} = x{i - 1} + 1") for i in range(1, cells)]
    nbformat.write(nb, path)


@pytest.mark.long(20)
def test_plain_nbval_lax_from_the_root_collects_every_book_notebook():
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--collect-only", "-q"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    collected = {line.split("::")[0] for line in result.stdout.splitlines() if ".ipynb::" in line}
    expected = {p.relative_to(ROOT).as_posix() for p in book_notebooks()}
    assert expected and collected == expected, sorted(collected ^ expected)


@pytest.mark.long(20)
def test_n_workers_alone_keep_each_notebook_on_one_worker(tmp_path):
    for name in ("a", "b", "c"):
        _chain_notebook(tmp_path / f"{name}.ipynb")
    result = _pytest_with_project_config(["--nbval-lax", "-n", "2", "a.ipynb", "b.ipynb", "c.ipynb"], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "18 passed" in result.stdout


def test_regression_mode_honours_a_trailing_semicolon_as_jupyter_does(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    result_cell = nbformat.v4.new_code_cell("x + 2", execution_count=3)
    result_cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "3"}, execution_count=3)]
    nb.cells = [nbformat.v4.new_code_cell("x = 1", execution_count=1),
                nbformat.v4.new_code_cell("x + 1;", execution_count=2), result_cell]
    nbformat.write(nb, tmp_path / "semicolon.ipynb")
    result = _pytest_with_project_config(["--nbval", "semicolon.ipynb"], tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 passed" in result.stdout


def test_a_notebook_over_its_cpu_budget_fails_the_run_and_bench_only_reports_it(tmp_path):
    _chain_notebook(tmp_path / "busy.ipynb", cells=2)
    failed = _pytest_with_project_config(["--nbval-lax", "busy.ipynb"], tmp_path, GAP_NOTEBOOK_BUDGET_S="0.01")
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "busy.ipynb used" in failed.stdout and "over its budget of 0 s" in failed.stdout
    assert "2 passed" in failed.stdout
    reported = _pytest_with_project_config(["--nbval-lax", "busy.ipynb"], tmp_path, GAP_NOTEBOOK_BUDGET_S="0.01",
                                           GAP_BUDGET_REPORT_ONLY="1")
    assert reported.returncode == 0, reported.stdout[-3000:]
    assert "OVER BUDGET" in reported.stdout


def test_kernels_draw_figures_inline_even_when_the_caller_sets_agg(tmp_path):
    """MPLBACKEND=Agg reaching a kernel makes every figure vanish: the book would show none, nbval compare none."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    figure = nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()",
                                       execution_count=1)
    figure.outputs = [nbformat.v4.new_output("display_data", {"text/plain": "<Figure size 640x480 with 1 Axes>",
                                                              "image/png": "iVBORw0KGgo="})]
    nb.cells = [figure]
    nbformat.write(nb, tmp_path / "figure.ipynb")
    result = _pytest_with_project_config(["--nbval", "figure.ipynb"], tmp_path, MPLBACKEND="Agg")
    assert result.returncode == 0, result.stdout[-3000:]


def test_make_help_lists_every_target():
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1).split()
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    missing = [target for target in phony if target != "help" and f"make {target} " not in shown]
    assert not missing, f"make help omits {missing}"
