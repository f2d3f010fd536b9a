"""The CAM chapter's localisation checks must fail on a map that does not know the class.

The stand-in below replaces ``class_activation_maps`` (and ``grad_cam``) by a class-blind impostor: every
class gets the same picture, the average of the real class maps, shifted so that each class's map keeps
its own spatial mean. The CAM identity, mean(CAM_k) + b_k = z_k, still holds exactly, so the chapter's
identity check passes; a chapter whose localisation claims could not tell this map from the real one
would prove nothing. The chapter runs up to its sanity check (its GAP models only), with the stand-in
patched into ``gaplib.cam`` before any cell imports it.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "chapters" / "05_cam.ipynb"

STAND_IN = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import torch
import gaplib.cam as _cam

_real_cams = _cam.class_activation_maps


def _class_blind_cams(features, weight):
    maps = _real_cams(features, weight)
    picture = maps.mean(dim=1, keepdim=True)             # the same for every class
    return picture - picture.mean(dim=(2, 3), keepdim=True) + maps.mean(dim=(2, 3), keepdim=True)


def _class_blind_grad_cam(model, images, classes, relu=True):
    with torch.no_grad():
        features = model.features(images)
        maps = _class_blind_cams(features, model.head.linear.weight)
    index = torch.as_tensor(classes).reshape(-1).expand(len(images))
    picked = maps[torch.arange(len(images)), index] / (features.shape[-2] * features.shape[-1])
    return picked.clamp(min=0) if relu else picked


_cam.class_activation_maps = _class_blind_cams
_cam.grad_cam = _class_blind_grad_cam
"""


def _cell_containing(nb, text):
    matches = [cell for cell in nb.cells if cell.cell_type == "code" and text in cell.source]
    assert len(matches) == 1, f"expected one chapter cell containing {text!r}, found {len(matches)}"
    return matches[0]


def _error(cell):
    errors = [o for o in cell.outputs if o.output_type == "error"]
    return errors[0] if errors else None


# The chapter runs once, with the stand-in, for all of these: on one worker (--dist loadgroup), and early.
pytestmark = [pytest.mark.long(20), pytest.mark.xdist_group("cam_chapter_class_blind")]


@pytest.fixture(scope="module")
def blind_run():
    nb = nbformat.read(CHAPTER, as_version=4)
    last = nb.cells.index(_cell_containing(nb, "correlation[:, 0].max() < 0.7"))
    nb.cells = [nbformat.v4.new_code_cell(STAND_IN)] + [
        cell for cell in nb.cells[:last + 1] if "remove-cell" not in cell.metadata.get("tags", [])]
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(CHAPTER.parent)}}).execute()
    return nb


def test_the_stand_in_keeps_the_cam_identity(blind_run):
    assert _error(_cell_containing(blind_run, "reconstructed = cams.mean")) is None


@pytest.mark.parametrize("check, fragments", [
    ("no better than a class-blind map", ["CAM, GAP head vs", "Grad-CAM, GAP head vs"]),
    ("the distractor's map peaks on the distractor", []),
    ("correlation[:, 0].max() < 0.7", []),
])
def test_the_localisation_checks_fail_on_a_class_blind_map(blind_run, check, fragments):
    error = _error(_cell_containing(blind_run, check))
    assert error is not None and error.ename == "AssertionError", f"{check!r} passed on a class-blind map"
    for fragment in fragments:
        assert fragment in error.evalue, (fragment, error.evalue)
