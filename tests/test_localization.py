"""Class-specific localisation scores, baselines and the cascading randomisation check."""

import inspect

import numpy as np
import pytest
import torch
from scipy import stats

import gaplib
from gaplib import localization as loc
from gaplib.cam import DEFAULT_BOX_THRESHOLD, cam_boxes, cam_to_box, class_activation_maps, pointing_hits, upsample_cam
from gaplib.models import make_classifier

TARGET = torch.tensor([[1, 1, 4, 4], [1, 1, 4, 4]])
DISTRACTOR = torch.tensor([[[10, 10, 14, 14]], [[10, 10, 14, 14]]])


def test_the_box_rule_defaults_to_the_chapters_threshold_of_the_maximum():
    defaults = inspect.signature(cam_to_box).parameters
    assert defaults["threshold"].default == DEFAULT_BOX_THRESHOLD
    assert defaults["relative_to"].default == "max"
    assert inspect.signature(cam_boxes).parameters["threshold"].default == DEFAULT_BOX_THRESHOLD
    assert 0 < DEFAULT_BOX_THRESHOLD < 1
    cam = torch.zeros(10, 10)
    cam[2:5, 2:5] = 1.0
    cam[7:9, 7:9] = DEFAULT_BOX_THRESHOLD - 0.01   # just below the threshold: left out
    assert cam_to_box(cam) == (2, 2, 5, 5)
    cam[7:9, 7:9] = DEFAULT_BOX_THRESHOLD + 0.01
    cam[5:7, 5:7] = DEFAULT_BOX_THRESHOLD + 0.01   # now kept and 8-connected to the first blob
    assert cam_to_box(cam) == (2, 2, 9, 9)


def test_peak_on_target_compares_the_two_boxes_and_counts_ties_half():
    maps = torch.zeros(2, 16, 16)
    maps[0, 2, 2] = 1.0        # peak on the target
    maps[1, 12, 12] = 1.0      # peak on the distractor
    assert loc.peak_on_target(maps, TARGET, DISTRACTOR).tolist() == [1.0, 0.0]
    assert loc.peak_on_target(torch.ones(2, 16, 16), TARGET, DISTRACTOR).tolist() == [0.5, 0.5]
    # only the maxima inside the boxes count, not the global maximum elsewhere
    maps[1, 0, 15] = 9.0
    maps[1, 3, 3] = 2.0
    assert loc.peak_on_target(maps, TARGET, DISTRACTOR)[1] == 1.0


def test_peak_on_target_rejects_mismatched_boxes():
    with pytest.raises(ValueError, match=r"distractor_boxes of shape \(N, D, 4\)"):
        loc.peak_on_target(torch.zeros(2, 16, 16), TARGET, DISTRACTOR[0])
    with pytest.raises(ValueError, match=r"maps of shape \(N, H, W\)"):
        loc.peak_on_target(torch.zeros(16, 16), TARGET, DISTRACTOR)


def test_pointing_tolerance_grows_the_box():
    maps = torch.zeros(1, 16, 16)
    maps[0, 2, 4] = 1.0                 # column 4 is just right of the box (x1 = 4 is exclusive)
    assert not pointing_hits(maps, TARGET[:1]).item()
    assert pointing_hits(maps, TARGET[:1], tolerance=1).item()
    with pytest.raises(ValueError, match="tolerance"):
        pointing_hits(maps, TARGET[:1], tolerance=-1)


def test_localization_scores_on_a_perfect_and_a_wrong_map():
    perfect = torch.zeros(2, 16, 16)
    perfect[:, 1:4, 1:4] = 1.0
    scores = loc.localization_scores(perfect, TARGET, DISTRACTOR, tolerance=0)
    assert scores == {"pointing": 1.0, "box_iou50": 1.0, "peak_on_target": 1.0}
    wrong = torch.zeros(2, 16, 16)
    wrong[:, 10:14, 10:14] = 1.0
    scores = loc.localization_scores(wrong, TARGET, DISTRACTOR, tolerance=0)
    assert scores == {"pointing": 0.0, "box_iou50": 0.0, "peak_on_target": 0.0}
    given = loc.localization_scores(wrong, TARGET, DISTRACTOR, predicted_boxes=TARGET)
    assert given["box_iou50"] == 1.0


def test_box_accuracy_by_threshold_finds_the_threshold_that_cuts_the_halo():
    maps = torch.zeros(2, 16, 16)
    maps[:, 0:6, 0:6] = 0.3           # a halo around the object, 30% of the peak
    maps[:, 1:4, 1:4] = 1.0
    accuracy = loc.box_accuracy_by_threshold(maps, TARGET, np.array([0.2, 0.5]))
    assert accuracy.tolist() == [0.0, 1.0]


def test_class_maps_is_the_upsampled_cam_of_each_images_class():
    gaplib.seed_everything(0)
    model = make_classifier("gap", 4, 12, widths=(4, 6)).eval()
    images, classes = torch.randn(3, 1, 12, 12), torch.tensor([2, 0, 3])
    with torch.no_grad():
        cams = class_activation_maps(model.features(images), model.head.linear.weight)
    expected = upsample_cam(cams, (12, 12))[torch.arange(3), classes]
    assert torch.allclose(loc.class_maps(model, images, classes), expected)
    with pytest.raises(ValueError, match="one class per image"):
        loc.class_maps(model, images, classes[:2])


def test_baseline_maps():
    images = torch.zeros(2, 1, 16, 16)
    images[0, 0, 5, 9] = 1.0
    blurred = loc.blurred_input_maps(images)
    assert blurred.shape == (2, 16, 16)
    assert divmod(int(blurred[0].argmax()), 16) == (5, 9) and blurred[1].abs().max() == 0
    points = loc.point_maps(torch.tensor([[3, 7]]), 10, 12)
    assert points.shape == (1, 10, 12) and divmod(int(points[0].argmax()), 12) == (7, 3)
    assert points[0, 7, 6].item() == pytest.approx(-3.0)
    gaplib.seed_everything(0)
    model = make_classifier("gap", 3, 16, widths=(4, 5)).eval()
    with torch.no_grad():
        total = model.features(images).sum(dim=1, keepdim=True)
    assert torch.allclose(loc.channel_sum_maps(model, images), upsample_cam(total, (16, 16))[:, 0])
    with pytest.raises(ValueError, match="sigma > 0"):
        loc.blurred_input_maps(images, sigma=0)


def test_rank_correlations_match_scipy_and_flat_maps_give_zero():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(4, 5, 5, generator=generator)
    b = a + torch.randn(4, 5, 5, generator=generator)
    b[1] = b[1].round()                 # ties get average ranks, as in scipy
    b[3] = 0.0
    got = loc.rank_correlations(a, b)
    for i in range(3):
        assert got[i] == pytest.approx(stats.spearmanr(a[i].flatten(), b[i].flatten()).statistic)
    assert got[3] == 0.0
    assert loc.rank_correlations(a, a) == pytest.approx(np.ones(4))
    with pytest.raises(ValueError, match="same shape"):
        loc.rank_correlations(a, b[:2])


def test_cascading_randomization_goes_from_the_head_down_and_leaves_the_model_alone():
    gaplib.seed_everything(0)
    model = make_classifier("gap", 3, 12, widths=(4, 5, 6), batch_norm=True).eval()
    before = {name: p.clone() for name, p in model.state_dict().items()}
    images, classes = torch.randn(5, 1, 12, 12), torch.tensor([0, 1, 2, 0, 1])
    steps = loc.cascading_randomization(model, images, classes, seed=0)
    assert [name for name, _ in steps] == ["trained", "head", "conv 3", "conv 2", "conv 1"]
    assert torch.allclose(steps[0][1], loc.class_maps(model, images, classes))
    for (_, previous), (name, maps) in zip(steps, steps[1:], strict=False):
        assert not torch.allclose(previous, maps), name        # each step changes the map
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    again = loc.cascading_randomization(model, images, classes, seed=0)
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(steps, again, strict=True))
    with pytest.raises(TypeError, match="gaplib Classifier"):
        loc.cascading_randomization(torch.nn.Linear(2, 2), images, classes)
