"""The setup cell, proven offline: the notebooks' real first code cell installs the book's gaplib release on a
host without it (a stand-in for Colab, and a plain host such as Kaggle or a fresh Jupyter), from a local clone
of this repository tagged ``v<version>`` in place of GitHub, leaves torch alone, and does nothing, fast, on a
host that already has that release (a re-run included).

The install goes into a throwaway virtual environment that sees the project's packages (torch included) through
links, so /work/main/.venv is never written to, and pip runs with ``--no-index``: nothing is downloaded.
"""

import json
import os
import subprocess
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from tools import sync_notebooks

ROOT = sync_notebooks.ROOT
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()  # .venv may be a link
REAL_VERSION = metadata.version  # before any test replaces it

KERNEL = """
import json, subprocess, sys, time, types
if sys.argv[2] == "colab":
    google, colab = types.ModuleType("google"), types.ModuleType("google.colab")  # what Colab's kernel has loaded
    google.colab = colab
    sys.modules.update({"google": google, "google.colab": colab})
cell = open(sys.argv[1]).read()
exec(cell)
import gaplib, gaplib.checks, torch
calls = []
subprocess.run = lambda *args, **kwargs: calls.append(args)  # a second run must not call pip at all
start = time.perf_counter()
exec(cell)
rerun = time.perf_counter() - start
print(json.dumps({"gaplib": gaplib.__file__, "torch": torch.__file__, "rerun_calls": len(calls),
                  "rerun_seconds": rerun}))
"""


def first_code_cell() -> str:
    """The setup cell exactly as a notebook ships it (the first code cell of the first chapter)."""
    notebook = sorted((ROOT / "chapters").glob("*.ipynb"))[0]
    cell = next(c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    assert sync_notebooks.SETUP_TAG in cell.metadata.get("tags", []), f"{notebook.name}: first code cell is not setup"
    return cell.source


def test_setup_cell_does_nothing_where_the_books_gaplib_is_installed(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"the setup cell ran {args} although gaplib {sync_notebooks.version()} is installed")

    assert metadata.version("gaplib") == sync_notebooks.version(), "this environment's gaplib is not the book's"
    monkeypatch.setattr(subprocess, "run", forbidden)
    source = first_code_cell()
    for _ in range(2):  # idempotent: a re-run changes nothing either
        start = time.perf_counter()
        exec(source, {})
        assert time.perf_counter() - start < 0.5


def test_setup_cell_installs_the_books_release_over_another_version_and_pins_torch(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append(command))
    monkeypatch.setattr(metadata, "version", lambda name: "0.0.1" if name == "gaplib" else REAL_VERSION(name))
    exec(first_code_cell(), {})
    assert len(calls) == 1, calls
    url, _ = sync_notebooks.repository()
    command = calls[0]
    assert f"gaplib @ git+{url}@v{sync_notebooks.version()}" in command
    assert f"torch=={REAL_VERSION('torch')}" in command  # pip may not swap the host's torch
    assert not any("--upgrade" in part or "-U" == part for part in command)


def test_the_version_is_written_once():
    """The cell's version is pyproject's, and the tag it installs is v<version> (teaching.md, "Releases")."""
    source = first_code_cell()
    assert f'GAPLIB_VERSION = "{sync_notebooks.version()}"' in source
    assert "@main" not in source and "@v{version}" not in source


def _site_packages_snapshot() -> dict[str, float | None]:
    """Every entry of the project's site-packages, with the time each distribution was installed.

    A package folder's own time changes whenever Python writes bytecode into it (another test importing it for
    the first time), so only the dist-info folders, which an install or uninstall replaces, carry a time."""
    return {p.name: (p / "RECORD").stat().st_mtime if p.name.endswith(".dist-info") and (p / "RECORD").exists()
            else None for p in SITE_PACKAGES.iterdir()}


@pytest.fixture
def fake_colab(tmp_path):
    """A local clone of the repository on the configured branch, and a Python that sees the project's packages
    (torch, numpy, ...) but not gaplib, and installs into a folder of its own."""
    url, branch = sync_notebooks.repository()
    clone = tmp_path / "repository"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "-B", branch], check=True)
    # the release the setup cell asks for: its tag, as the instructors' release step creates it
    # (-f: a clone of a repository that has the tag already carries it)
    subprocess.run(["git", "-C", str(clone), "tag", "-f", f"v{sync_notebooks.version()}"], check=True,
                   capture_output=True)

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "colab")], check=True)
    python = tmp_path / "colab" / "bin" / "python"
    own_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
    # Colab's preinstalled packages, as links to this project's: everything except gaplib and the .pth hooks.
    preinstalled = tmp_path / "preinstalled"
    preinstalled.mkdir()
    for entry in SITE_PACKAGES.iterdir():
        if not (entry.name.startswith(("gaplib", "__editable__")) or entry.suffix == ".pth"):
            (preinstalled / entry.name).symlink_to(entry)
    (own_site / "colab-preinstalled.pth").write_text(f"{preinstalled}\n")
    return {"url": url, "clone": clone, "python": python, "site": own_site, "tmp": tmp_path}


@pytest.mark.long(15)
@pytest.mark.parametrize("host", ["colab", "plain"])
def test_setup_cell_installs_gaplib_where_it_is_missing_without_reinstalling_torch(fake_colab, host):
    url, clone, site = fake_colab["url"], fake_colab["clone"], fake_colab["site"]
    source = first_code_cell()
    assert f'"git+{url}@' in source
    cell = fake_colab["tmp"] / "setup_cell.py"
    # "localhost": a PEP 508 URL needs a host, and git reads file://localhost/path as a local path
    cell.write_text(source.replace(f"git+{url}@", f"git+file://localhost{clone}@"))
    report = fake_colab["tmp"] / "pip-report.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))}
    # Offline: no index, and the build uses the setuptools already installed instead of fetching one.
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_CACHE_DIR="1", PIP_REPORT=str(report))
    before = _site_packages_snapshot()

    result = subprocess.run([str(fake_colab["python"]), "-c", KERNEL, str(cell), host], cwd=fake_colab["tmp"],
                            env=env, capture_output=True, text=True, timeout=180)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(imported["gaplib"]).is_relative_to(site), f"gaplib imported from {imported['gaplib']}"
    assert Path(imported["torch"]).resolve().is_relative_to(SITE_PACKAGES), "torch is not the preinstalled one"
    installed = [item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]]
    assert installed == ["gaplib"], f"pip installed {installed}"
    assert not any(p.name.startswith(("torch", "torchvision")) for p in site.iterdir())
    assert _site_packages_snapshot() == before, "the project's .venv changed"
    assert imported["rerun_calls"] == 0, "the second run of the cell called pip again"
    assert imported["rerun_seconds"] < 0.5, imported["rerun_seconds"]
