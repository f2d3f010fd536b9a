"""The generators of the limitations chapter: bright patches in noise, and two parts in two arrangements."""

import numpy as np
import pytest
import torch

import gaplib
from gaplib.data import PART_A, PART_B, bright_patches, part_arrangements


def test_bright_patches_are_balanced_and_boxed():
    images, labels, boxes = bright_patches(100, size=20, patch_size=3, seed=2)
    assert images.shape == (100, 1, 20, 20) and images.dtype == torch.float32 and labels.dtype == torch.long
    assert labels.sum().item() == 50
    assert torch.all(boxes[labels == 0] == 0)
    with_patch = boxes[labels == 1]
    assert torch.all(with_patch[:, 2:] - with_patch[:, :2] == 3)
    assert with_patch.min() >= 0 and with_patch.max() <= 20


def test_without_noise_a_patch_raises_the_mean_by_exactly_alpha_delta():
    images, labels, boxes = bright_patches(40, size=16, patch_size=4, brightness=3.0, noise=0.0, seed=0)
    means = gaplib.global_avg_pool(images).squeeze(1)
    assert torch.all(means[labels == 1] == (4 / 16) ** 2 * 3.0) and torch.all(means[labels == 0] == 0)
    for image, label, (x0, y0, x1, y1) in zip(images, labels, boxes, strict=True):
        if label:
            assert torch.all(image[0, y0:y1, x0:x1] == 3.0) and image.sum() == 3.0 * 16


def test_bright_patches_same_seed_same_data():
    first, second, other = (bright_patches(30, seed=s)[0] for s in (4, 4, 5))
    assert torch.equal(first, second) and not torch.equal(first, other)


@pytest.mark.parametrize("kwargs, message", [
    ({"patch_size": 30, "size": 24}, "patch_size <= size"),
    ({"patch_size": 0}, "patch_size"),
    ({"noise": -1.0}, "noise >= 0"),
    ({"n": 0}, "positive int"),
])
def test_bright_patches_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bright_patches(**{"n": 10, **kwargs})


def test_every_arrangement_holds_one_plus_and_one_ring_where_the_corners_say():
    images, labels, corners = part_arrangements(60, size=14, min_gap=4, noise=0.0, seed=1)
    assert images.shape == (60, 1, 14, 14) and labels.sum().item() == 30 and corners.shape == (60, 2, 2)
    for image, (a, b) in zip(images[:, 0], corners, strict=True):
        expected = torch.zeros(14, 14)
        expected[a[0]:a[0] + 3, a[1]:a[1] + 3] += torch.from_numpy(PART_A)
        expected[b[0]:b[0] + 3, b[1]:b[1] + 3] += torch.from_numpy(PART_B)
        assert torch.equal(image, expected)


def test_the_label_is_the_arrangement_and_the_gap_is_respected():
    _, labels, corners = part_arrangements(400, size=16, min_gap=5, seed=3)
    row_a, row_b = corners[:, 0, 0], corners[:, 1, 0]
    assert torch.equal(labels == 0, row_a < row_b)
    assert torch.all((row_a - row_b).abs() >= 3 + 5)
    assert corners.min() >= 0 and corners.max() <= 16 - 3
    # positions are drawn the same way for both classes: the top part's row does not depend on the label
    top = torch.minimum(row_a, row_b).double()
    assert abs(top[labels == 0].mean() - top[labels == 1].mean()) < 0.5
    assert len(np.unique(corners[:, :, 1].numpy())) == 16 - 3 + 1  # every column is used


def test_part_arrangements_same_seed_same_data():
    first, second, other = (part_arrangements(20, seed=s)[0] for s in (6, 6, 7))
    assert torch.equal(first, second) and not torch.equal(first, other)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 10, "min_gap": 5}, "size >= 11"),
    ({"min_gap": -1}, "min_gap"),
    ({"min_gap": 2.5}, "min_gap"),
    ({"noise": -0.1}, "noise >= 0"),
])
def test_part_arrangements_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        part_arrangements(**{"n": 10, **kwargs})
