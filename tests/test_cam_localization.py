"""Grad-CAM and the localisation helpers of gaplib.cam: boxes, hits, baselines."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gaplib.cam import (
    box_masks,
    cam_boxes,
    cam_to_box,
    centered_boxes,
    class_activation_maps,
    grad_cam,
    localization_hits,
    pointing_hits,
    points_in_boxes,
    random_boxes,
)
from gaplib.models import make_classifier

settings.register_profile("course", deadline=None, max_examples=30, derandomize=True)
settings.load_profile("course")


@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(2, 6), st.integers(4, 12),
       st.sampled_from(["gap", "gmp"]))
def test_grad_cam_is_relu_cam_over_hw_for_gap_and_gmp_heads(seed, n, num_classes, size, head):
    torch.manual_seed(seed)
    model = make_classifier(head, num_classes, size, widths=(4, 6)).double()
    x = torch.randn(n, 1, size, size, dtype=torch.float64)
    features = model.features(x)
    cams = class_activation_maps(features, model.head.linear.weight)
    positions = features.shape[2] * features.shape[3]
    for k in range(num_classes):
        expected = cams[:, k].clamp(min=0) / positions
        assert torch.allclose(grad_cam(model, x, k), expected, atol=1e-12)
        assert torch.allclose(grad_cam(model, x, k, relu=False), cams[:, k] / positions, atol=1e-12)


def test_grad_cam_per_image_classes_and_leaves_parameters_alone():
    torch.manual_seed(0)
    model = make_classifier("gap", 3, 8, widths=(4, 5)).double()
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    classes = torch.tensor([2, 0, 1])
    together = grad_cam(model, x, classes)
    for i, k in enumerate(classes.tolist()):
        assert torch.allclose(together[i], grad_cam(model, x[i:i + 1], k)[0], atol=1e-12)
    assert all(p.grad is None for p in model.parameters())
    with torch.no_grad():  # works inside no_grad, where notebooks often evaluate
        assert torch.allclose(grad_cam(model, x, classes), together)


def test_grad_cam_differs_from_cam_for_gem():
    torch.manual_seed(0)
    model = make_classifier("gem", 3, 8, widths=(4, 5)).double()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    features = model.features(x)
    cams = class_activation_maps(features, model.head.linear.weight)
    assert not torch.allclose(grad_cam(model, x, 1), cams[:, 1].clamp(min=0) / 16, rtol=1e-3)


def test_grad_cam_rejects_bad_input():
    model = make_classifier("gap", 3, 8, widths=(4,))
    with pytest.raises(ValueError, match="classes in 0..2"):
        grad_cam(model, torch.randn(2, 1, 8, 8), 3)
    with pytest.raises(ValueError, match="one class or 2 classes"):
        grad_cam(model, torch.randn(2, 1, 8, 8), torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match=r"\.features\(x\) and \.head\(F\)"):
        grad_cam(torch.nn.Linear(3, 3), torch.randn(2, 3), 0)
    with pytest.raises(TypeError, match="images to be a torch.Tensor"):
        grad_cam(model, [[0.0]], 0)


def test_max_rule_keeps_a_fraction_of_the_peak_not_of_the_range():
    cam = torch.full((10, 10), -10.0)
    cam[2:6, 3:5] = 1.0          # the evidence
    cam[8, 8] = 0.1              # 10% of the peak: kept by the range rule (it is 92% of the range), not by max
    assert cam_to_box(cam, 0.2, relative_to="max") == (3, 2, 5, 6)
    assert cam_to_box(cam, 0.5, relative_to="range") == (3, 2, 5, 6)
    assert cam_to_box(cam, 0.2, relative_to="range") == (3, 2, 5, 6)  # the two blobs are not connected
    cam[8, 8] = -10.0
    cam[0:10, 0] = 0.1           # a long faint strip, larger than the blob: wins under the range rule only
    assert cam_to_box(cam, 0.2, relative_to="range") == (0, 0, 1, 10)
    assert cam_to_box(cam, 0.2, relative_to="max") == (3, 2, 5, 6)


@pytest.mark.parametrize("cam", [torch.zeros(7, 9), torch.full((7, 9), -3.0), -torch.rand(7, 9) - 0.5])
def test_max_rule_on_maps_without_positive_evidence_boxes_everything(cam):
    assert cam_to_box(cam, relative_to="max") == (0, 0, 9, 7)


def test_relative_to_is_validated():
    with pytest.raises(ValueError, match="relative_to 'range' or 'max'"):
        cam_to_box(torch.rand(4, 4), relative_to="min")


def test_cam_boxes_matches_cam_to_box_and_never_fails_on_flat_maps():
    cams = torch.stack([torch.zeros(6, 6), torch.full((6, 6), -1.0), torch.rand(6, 6)])
    boxes = cam_boxes(cams, 0.3, relative_to="max")
    assert boxes.shape == (3, 4) and boxes.dtype == torch.long
    assert boxes[:2].tolist() == [[0, 0, 6, 6], [0, 0, 6, 6]]
    assert tuple(boxes[2].tolist()) == cam_to_box(cams[2], 0.3, relative_to="max")
    with pytest.raises(ValueError, match=r"\(M, H, W\)"):
        cam_boxes(torch.rand(6, 6))


def test_localization_hits_uses_iou_half():
    true = torch.tensor([[0, 0, 4, 4], [0, 0, 4, 4], [0, 0, 4, 4]])
    predicted = torch.tensor([[0, 0, 4, 4], [0, 0, 4, 2], [0, 0, 4, 1]])  # IoU 1, 0.5, 0.25
    assert localization_hits(predicted, true).tolist() == [True, True, False]
    assert localization_hits(predicted, true, iou_threshold=0.6).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="iou_threshold"):
        localization_hits(predicted, true, iou_threshold=0)


def test_box_masks_and_points_agree_with_pointing_hits():
    boxes = torch.tensor([[1, 2, 4, 3], [0, 0, 5, 5]])
    masks = box_masks(boxes, 5, 6)
    assert masks.shape == (2, 5, 6)
    assert masks[0].sum() == 3 and masks[0, 2, 1:4].all() and masks[1, :, :5].all() and not masks[1, :, 5].any()
    cams = torch.zeros(2, 5, 6)
    cams[0, 2, 3] = 1.0   # (x=3, y=2): inside the first box
    cams[1, 4, 5] = 1.0   # (x=5, y=4): just outside the second box (ends are exclusive)
    points = torch.tensor([[3, 2], [5, 4]])
    assert points_in_boxes(points, boxes).tolist() == pointing_hits(cams, boxes).tolist() == [True, False]
    with pytest.raises(ValueError, match="as many points as boxes"):
        points_in_boxes(points[:1], boxes)


@given(st.integers(1, 20), st.integers(1, 12), st.integers(1, 12), st.integers(0, 100))
def test_baseline_boxes_have_the_size_asked_and_fit_the_image(n, box_w, box_h, seed):
    image = (12, 15)  # (H, W)
    for boxes in (centered_boxes(n, (box_w, box_h), image), random_boxes(n, (box_w, box_h), image, seed=seed)):
        assert boxes.shape == (n, 4)
        assert ((boxes[:, 2] - boxes[:, 0]) == box_w).all() and ((boxes[:, 3] - boxes[:, 1]) == box_h).all()
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 15).all() and (boxes[:, 3] <= 12).all()
    centred = centered_boxes(1, (box_w, box_h), image)[0]
    assert abs((centred[0] + centred[2]) - 15) <= 1 and abs((centred[1] + centred[3]) - 12) <= 1
    again = random_boxes(n, (box_w, box_h), image, seed=seed)
    assert torch.equal(random_boxes(n, (box_w, box_h), image, seed=seed), again)


def test_baseline_boxes_reject_boxes_larger_than_the_image():
    with pytest.raises(ValueError, match="does not fit"):
        centered_boxes(2, (9, 3), (8, 8))
    with pytest.raises(ValueError, match="does not fit"):
        random_boxes(2, (3, 0), (8, 8))
