"""The course as something to reuse: licenses, a citation that validates, one version, a portable lock, valid CI."""

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
import yaml

import gaplib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
LOCK = (ROOT / "requirements.lock").read_text()
# Wheels that exist only for Linux (torch's CUDA build pulls them in there): the lock must say so with a marker.
LINUX_ONLY = re.compile(r"^(nvidia-|cuda-|triton\b)")


def _requirements() -> dict[str, str]:
    """Each locked requirement line, by package name."""
    lines = [line for line in LOCK.splitlines() if line and not line.startswith((" ", "#"))]
    return {re.split(r"[=<>!~ ;\[]", line, maxsplit=1)[0].lower(): line for line in lines}


def test_version_is_written_once_and_everything_agrees():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(citation["version"]) == VERSION
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[?{re.escape(VERSION)}\]?", changelog, re.M), "CHANGELOG.md has no entry for it"


def test_gaplib_reports_the_installed_version():
    assert gaplib.__version__ == version("gaplib"), "gaplib.__version__ must come from the package metadata"
    assert gaplib.__version__ == VERSION, (f"the installed gaplib is {gaplib.__version__}, pyproject.toml says "
                                           f"{VERSION}: reinstall (make venv)")


def test_code_and_content_have_licenses():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    content = (ROOT / "LICENSE-CONTENT").read_text()
    assert "Attribution 4.0 International" in content and "creativecommons.org/licenses/by/4.0" in content
    assert "MIT" in PYPROJECT["project"]["license"]["text"]


def test_every_locked_requirement_is_pinned_and_linux_only_wheels_carry_a_marker():
    requirements = _requirements()
    assert {"torch", "torchvision", "jupyter-book", "nbval"} <= requirements.keys()
    for name, line in requirements.items():
        assert re.match(rf"{re.escape(name)}==\S+", line, re.I), f"not pinned: {line}"
        if LINUX_ONLY.match(name):
            assert "sys_platform == 'linux'" in line, f"a Linux-only wheel pinned for every platform: {line}"
    assert re.match(r"jupyter-book==1\.", requirements["jupyter-book"]), "the book needs Jupyter Book 1.x"


def test_pyproject_keeps_ranges_and_never_pins_torch():
    for requirement in PYPROJECT["project"]["dependencies"]:
        assert "==" not in requirement, f"pyproject.toml keeps ranges (Colab keeps its own torch): {requirement}"


def _check_jsonschema(*args):
    executable = Path(sys.executable).parent / "check-jsonschema"
    if not executable.exists():
        if os.environ.get("CI"):
            pytest.fail("check-jsonschema is missing (it is in the lock's dev extra)")
        pytest.skip("check-jsonschema is not installed here (make venv installs it from the lock)")
    return subprocess.run([str(executable), *args], capture_output=True, text=True)


def test_workflows_validate_against_the_github_workflow_schema():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) >= 2
    result = _check_jsonschema("--builtin-schema", "vendor.github-workflows", *map(str, workflows))
    assert result.returncode == 0, result.stdout + result.stderr


def test_citation_validates_against_the_citation_file_format_schema():
    result = _check_jsonschema("--builtin-schema", "vendor.citation-file-format", str(ROOT / "CITATION.cff"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", sorted((ROOT / ".github" / "workflows").glob("*.yml")), ids=lambda p: p.name)
def test_workflows_are_least_privilege_and_pin_actions_to_commits(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow.get("permissions") == {"contents": "read"}, "top-level permissions: contents: read"
    assert "concurrency" in workflow
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), f"not pinned: {step['uses']}"
