"""The Colab setup cell, proven offline: with a stand-in ``google.colab`` module and a local clone of this
repository in place of GitHub, the notebooks' real first code cell installs gaplib and leaves torch alone.

The install goes into a throwaway virtual environment that sees the project's packages (torch included) through
links, so /work/main/.venv is never written to, and pip runs with ``--no-index``: nothing is downloaded.
"""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from tools import sync_notebooks

ROOT = sync_notebooks.ROOT
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])

COLAB_KERNEL = """
import json, sys, types
google, colab = types.ModuleType("google"), types.ModuleType("google.colab")  # what Colab's kernel has loaded
google.colab = colab
sys.modules.update({"google": google, "google.colab": colab})
exec(open(sys.argv[1]).read())
import gaplib, gaplib.checks, torch
print(json.dumps({"gaplib": gaplib.__file__, "torch": torch.__file__, "version": gaplib.__version__}))
"""


def first_code_cell() -> str:
    """The setup cell exactly as a notebook ships it (the first code cell of the first chapter)."""
    notebook = sorted((ROOT / "chapters").glob("*.ipynb"))[0]
    cell = next(c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    assert sync_notebooks.SETUP_TAG in cell.metadata.get("tags", []), f"{notebook.name}: first code cell is not setup"
    return cell.source


def test_setup_cell_does_nothing_outside_colab(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"the setup cell ran {args} outside Colab")

    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(first_code_cell(), {})


def _site_packages_snapshot() -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in SITE_PACKAGES.iterdir()}


@pytest.fixture
def fake_colab(tmp_path):
    """A local clone of the repository on the configured branch, and a Python that sees the project's packages
    (torch, numpy, ...) but not gaplib, and installs into a folder of its own."""
    url, branch = sync_notebooks.repository()
    clone = tmp_path / "repository"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "-B", branch], check=True)

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


def test_setup_cell_installs_gaplib_in_colab_without_reinstalling_torch(fake_colab):
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

    result = subprocess.run([str(fake_colab["python"]), "-c", COLAB_KERNEL, str(cell)], cwd=fake_colab["tmp"],
                            env=env, capture_output=True, text=True, timeout=180)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(imported["gaplib"]).is_relative_to(site), f"gaplib imported from {imported['gaplib']}"
    assert Path(imported["torch"]).resolve().is_relative_to(SITE_PACKAGES), "torch is not the preinstalled one"
    installed = [item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]]
    assert installed == ["gaplib"], f"pip installed {installed}"
    assert not any(p.name.startswith(("torch", "torchvision")) for p in site.iterdir())
    assert _site_packages_snapshot() == before, "the project's .venv changed"
