"""Same numbers everywhere: a training notebook glues the same values at one and at two torch threads.

A reduction split over a different number of threads adds floats in a different order, and a few epochs of
training grow those last bits into a different accuracy. The book is built at one thread (Makefile), a reader's
laptop may have eight, and every notebook pins torch to one thread through ``gaplib.seed_everything``. This test
runs a training notebook in two fresh kernels, started with ``OMP_NUM_THREADS=1`` and ``OMP_NUM_THREADS=2``
(torch reads it at import), and requires every glued value to be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The training-dynamics chapter trains several heads over several seeds and glues their accuracies. (Before the
# thread pinning, 23 of the CAM chapter's 36 glued values changed between one and two threads; chapter 4 is the
# cheaper of the two to run twice.)
NOTEBOOK = ROOT / "chapters" / "04_training_dynamics.ipynb"

# Run in a child process so that each kernel inherits exactly the environment we give it.
_RUNNER = r"""
import json, sys
import nbformat
from nbclient import NotebookClient
from jupyter_client.manager import KernelManager
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
km = KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager())
NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": sys.argv[2]}}).execute()
glued = {}
for cell in nb.cells:
    for output in cell.get("outputs", []):
        name = output.get("metadata", {}).get("scrapbook", {}).get("name")
        if name:
            glued[name] = {key: value for key, value in output["data"].items() if "text/plain" in key}
print("GLUED " + json.dumps(glued, sort_keys=True))
"""


def _environment(threads: int) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_torch_reads_the_thread_count_from_the_environment():
    """Without this the comparison below would run one thread twice and prove nothing."""
    code = "import torch; print(torch.get_num_threads())"
    counts = [subprocess.run([sys.executable, "-c", code], env=_environment(n), capture_output=True, text=True,
                             check=True).stdout.strip() for n in (1, 2)]
    assert counts == ["1", "2"]


@pytest.mark.skipif(not NOTEBOOK.exists(), reason=f"{NOTEBOOK.name} is not in this checkout")
def test_a_training_notebook_glues_the_same_values_at_one_and_two_threads():
    # Both kernels at once: on two cores this costs the wall time of one run.
    runs = {threads: subprocess.Popen([sys.executable, "-c", _RUNNER, str(NOTEBOOK), str(NOTEBOOK.parent)],
                                      env=_environment(threads), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            for threads in (1, 2)}
    glued = {}
    for threads, process in runs.items():
        stdout, stderr = process.communicate(timeout=1200)
        assert process.returncode == 0, f"{NOTEBOOK.name} failed at {threads} thread(s):\n{stderr[-3000:]}"
        line = next(line for line in stdout.splitlines() if line.startswith("GLUED "))
        glued[threads] = json.loads(line.removeprefix("GLUED "))
    assert len(glued[1]) >= 5, f"{NOTEBOOK.name} glues too few values to compare: {sorted(glued[1])}"
    assert glued[1].keys() == glued[2].keys()
    differ = {name: (glued[1][name], glued[2][name]) for name in glued[1] if glued[1][name] != glued[2][name]}
    assert not differ, (f"{NOTEBOOK.name}: {len(differ)} of {len(glued[1])} glued values change between one and "
                        f"two threads (one thread, two threads): {differ}")
