"""Class activation maps: the identity mean(CAM) + b = logits, and robust helpers."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gaplib
from gaplib.cam import box_iou, cam_to_box, class_activation_maps, normalize_cam, pointing_hits, upsample_cam
from gaplib.models import make_classifier

settings.register_profile("course", deadline=None, max_examples=30, derandomize=True)
settings.load_profile("course")


@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(2, 10), st.integers(3, 20))
def test_cam_mean_plus_bias_is_the_logit(seed, n, num_classes, size):
    torch.manual_seed(seed)
    model = make_classifier("gap", num_classes, size, widths=(4, 6)).double()
    x = torch.randn(n, 1, size, size, dtype=torch.float64)
    features = model.features(x)
    cams = class_activation_maps(features, model.head.linear.weight)
    reconstructed = cams.mean(dim=(2, 3)) + model.head.linear.bias
    assert torch.allclose(reconstructed, model(x), atol=1e-10)


def test_cam_shape_dtype_and_no_relu():
    features, weight = torch.randn(2, 3, 4, 5, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    cams = class_activation_maps(features, weight)
    assert cams.shape == (2, 6, 4, 5) and cams.dtype == torch.float64
    assert (cams < 0).any()
    assert torch.allclose(cams[1, 4], (weight[4, :, None, None] * features[1]).sum(0))


def test_cam_rejects_mismatched_channels_and_bad_ranks():
    with pytest.raises(ValueError, match="C = 4 input channels but features have C = 3"):
        class_activation_maps(torch.ones(1, 3, 2, 2), torch.ones(5, 4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        class_activation_maps(torch.ones(3, 2, 2), torch.ones(5, 3))
    with pytest.raises(ValueError, match=r"weight of shape \(K, C\)"):
        class_activation_maps(torch.ones(1, 3, 2, 2), torch.ones(3))
    with pytest.raises(TypeError, match="weight to be a torch.Tensor"):
        class_activation_maps(torch.ones(1, 3, 2, 2), np.ones((2, 3)))


@pytest.mark.parametrize("cam", [torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), -5.0), -torch.rand(2, 3, 4, 4) - 1])
def test_normalise_and_box_never_give_nan(cam):
    normalized = normalize_cam(upsample_cam(cam, (16, 16)))
    assert torch.isfinite(normalized).all() and normalized.min() >= 0 and normalized.max() <= 1
    x0, y0, x1, y1 = cam_to_box(normalized[0, 0])
    assert 0 <= x0 < x1 <= 16 and 0 <= y0 < y1 <= 16


def test_constant_map_boxes_the_whole_image():
    assert cam_to_box(torch.full((6, 9), 3.0)) == (0, 0, 9, 6)


def test_box_surrounds_the_largest_blob_not_the_strongest_pixel():
    cam = torch.zeros(20, 20)
    cam[2:5, 3:9] = 1.0       # large, moderate blob
    cam[15, 15] = 2.0         # tiny, strongest spot
    assert cam_to_box(cam, threshold=0.2) == (3, 2, 9, 5)


def test_box_iou_and_pointing():
    assert box_iou((0, 0, 4, 4), (0, 0, 4, 4)).item() == 1.0
    assert box_iou((0, 0, 4, 4), (2, 0, 6, 4)).item() == pytest.approx(8 / 24)
    assert box_iou((0, 0, 2, 2), (5, 5, 6, 6)).item() == 0.0
    cams = torch.zeros(2, 8, 8)
    cams[0, 3, 6] = 1.0
    cams[1, 0, 0] = 1.0
    hits = pointing_hits(cams, torch.tensor([[5, 2, 8, 5], [4, 4, 8, 8]]))
    assert hits.tolist() == [True, False]


def test_threshold_is_validated():
    with pytest.raises(ValueError, match="0 < threshold <= 1"):
        cam_to_box(torch.rand(4, 4), threshold=0)


def test_top_level_names_are_stable():
    for name in ["global_avg_pool", "global_max_pool", "gem_pool", "class_activation_maps", "seed_everything",
                 "get_device"]:
        assert callable(getattr(gaplib, name))


@pytest.mark.parametrize("relative_to", ["max", "range"])
@pytest.mark.parametrize("threshold", [0.05, 0.35, 0.6, 1.0])
def test_cam_boxes_of_a_stack_equal_cam_to_box_map_by_map(relative_to, threshold):
    """The stacked labelling must give each map the box that labelling it alone gives, ties included."""
    from gaplib.cam import cam_boxes

    generator = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.randn(200, 1, 5, 5, generator=generator), size=(20, 20),
                                             mode="bilinear")[:, 0]
    blocky = torch.randint(0, 3, (200, 7, 9), generator=generator).float()    # many equal-sized regions
    flat = torch.zeros(3, 7, 9)                                                # degenerate: the whole image
    for maps in (smooth, blocky, flat, -torch.ones(2, 7, 9)):
        expected = torch.tensor([cam_to_box(m, threshold, relative_to) for m in maps])
        assert torch.equal(cam_boxes(maps, threshold, relative_to), expected)
    assert cam_boxes(torch.zeros(0, 4, 4)).shape == (0, 4)
