"""Datasets: seeded, offline, and with the properties the chapters rely on."""

import numpy as np
import pytest
import torch

import gaplib
from gaplib.data import digits_on_canvas, load_digit_images, noisy_maps, stripes_and_checkerboards


def test_stripes_and_checkerboards_share_every_first_order_statistic():
    images, labels = stripes_and_checkerboards(200, size=16, seed=3)
    assert images.shape == (200, 1, 16, 16) and images.dtype == torch.float32 and labels.dtype == torch.long
    assert labels.sum().item() == 100  # balanced
    # identical histograms: every image is exactly half zeros and half ones
    assert set(images.unique().tolist()) == {0.0, 1.0}
    assert torch.all(images.mean(dim=(1, 2, 3)) == 0.5)
    assert torch.all(gaplib.global_avg_pool(images).squeeze(1) == 0.5)


def test_stripes_are_constant_along_one_axis_and_checkerboards_along_none():
    images, labels = stripes_and_checkerboards(100, seed=1)
    rows_constant = (images.diff(dim=3) == 0).flatten(1).all(1)
    cols_constant = (images.diff(dim=2) == 0).flatten(1).all(1)
    stripes = rows_constant | cols_constant
    assert torch.equal(stripes, labels == 0)


def test_same_seed_same_data_other_seed_other_data():
    a, la = stripes_and_checkerboards(50, seed=7)
    b, lb = stripes_and_checkerboards(50, seed=7)
    c, _ = stripes_and_checkerboards(50, seed=8)
    assert torch.equal(a, b) and torch.equal(la, lb) and not torch.equal(a, c)
    x1, y1, b1 = digits_on_canvas(20, seed=4)
    x2, y2, b2 = digits_on_canvas(20, seed=4)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(b1, b2)


@pytest.mark.parametrize("kwargs", [{"size": 10, "widths": (2, 4)}, {"widths": ()}, {"widths": (0,)}])
def test_stripes_reject_sizes_that_cannot_be_half_on(kwargs):
    with pytest.raises(ValueError):
        stripes_and_checkerboards(4, **kwargs)


def test_digits_lie_inside_their_region_with_boxes_on_the_ink():
    region = (0, 0, 16, 32)  # the left half of a 32 x 32 canvas
    images, labels, boxes = digits_on_canvas(300, canvas_size=32, digit_size=12, region=region, noise=0.0, seed=2)
    assert images.shape == (300, 1, 32, 32) and labels.min() >= 0 and labels.max() <= 9
    assert torch.all(boxes[:, 0] >= 0) and torch.all(boxes[:, 2] <= 16)
    assert torch.all(images[:, :, :, 16:] == 0)  # nothing outside the region without noise
    for image, (x0, y0, x1, y1) in zip(images[:20, 0], boxes[:20].tolist(), strict=True):
        inside = image[y0:y1, x0:x1].sum()
        assert inside == pytest.approx(image.sum().item(), rel=0.05)  # the ink box holds (nearly) all the ink


def test_digit_subsets_are_disjoint_and_classes_relabelled():
    train, _ = load_digit_images("train")
    test, _ = load_digit_images("test")
    assert len(train) + len(test) == 1797
    train_keys = {image.tobytes() for image in train}
    assert sum(image.tobytes() in train_keys for image in test) < 5  # sklearn has a few exact duplicates
    _, labels, _ = digits_on_canvas(200, classes=(3, 8), seed=0)
    assert set(labels.tolist()) == {0, 1}


@pytest.mark.parametrize("kwargs, message", [
    ({"region": (0, 0, 8, 8), "digit_size": 12}, "smaller than the digit"),
    ({"region": (0, 0, 40, 40)}, "not inside"),
    ({"noise": -1.0}, "noise >= 0"),
    ({"subset": "validation"}, "subset"),
    ({"classes": (11,)}, "no digit of classes"),
])
def test_digits_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        digits_on_canvas(4, canvas_size=32, **kwargs)


def test_noisy_maps_have_the_requested_marginal_variance_independent_or_not():
    for length in (0.0, 1.5):
        maps = noisy_maps(400, 16, 16, signal=2.0, sigma=0.5, correlation_length=length, seed=0)
        assert maps.shape == (400, 1, 16, 16)
        assert maps.mean().item() == pytest.approx(2.0, abs=0.01)
        assert maps.var().item() == pytest.approx(0.25, rel=0.05)


def test_correlated_noise_is_correlated_between_neighbours():
    def neighbour_correlation(maps):
        a, b = maps[..., :-1].flatten().numpy(), maps[..., 1:].flatten().numpy()
        return np.corrcoef(a, b)[0, 1]

    assert abs(neighbour_correlation(noisy_maps(200, 16, 16, seed=1))) < 0.02
    assert neighbour_correlation(noisy_maps(200, 16, 16, correlation_length=2.0, seed=1)) > 0.8


def test_seed_must_be_an_int():
    with pytest.raises(TypeError, match="seed to be an int"):
        noisy_maps(2, 4, 4, seed=1.5)


def test_digits_read_from_scikit_learns_file_equal_load_digits(monkeypatch):
    """gaplib reads the digits file scikit-learn ships rather than importing scikit-learn: same arrays."""
    from gaplib import data

    assert data._sklearn_digits_file() is not None, "scikit-learn's digits file was not found: the fallback runs"
    read_directly = data._sklearn_digits.__wrapped__()
    monkeypatch.setattr(data, "_sklearn_digits_file", lambda: None)  # the fallback: load_digits() itself
    through_load_digits = data._sklearn_digits.__wrapped__()
    for direct, loaded in zip(read_directly, through_load_digits, strict=True):
        assert direct.dtype == loaded.dtype and direct.shape == loaded.shape
        assert np.array_equal(direct, loaded)
    assert read_directly[0].shape == (1797, 8, 8)
