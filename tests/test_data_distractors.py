"""digits_with_distractors: a target and other-class digits on one canvas, with every digit's ink box."""

import pytest
import torch

from gaplib.cam import box_iou
from gaplib.data import digits_with_distractors


def test_shapes_classes_and_disjoint_boxes():
    images, labels, boxes, other_labels, other_boxes = digits_with_distractors(
        200, canvas_size=24, digit_size=8, distractors=2, noise=0.0, seed=5)
    assert images.shape == (200, 1, 24, 24) and images.dtype == torch.float32
    assert labels.shape == (200,) and boxes.shape == (200, 4)
    assert other_labels.shape == (200, 2) and other_boxes.shape == (200, 2, 4)
    every_label = torch.cat([labels[:, None], other_labels], dim=1)
    # pairwise different classes on each canvas
    assert all(len(set(row)) == 3 for row in every_label.tolist())
    every_box = torch.cat([boxes[:, None], other_boxes], dim=1)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert torch.all(box_iou(every_box[:, a], every_box[:, b]) == 0)  # no two digits overlap
    assert torch.all(every_box[..., :2] >= 0) and torch.all(every_box[..., 2:] <= 24)
    assert torch.all(every_box[..., 2:] > every_box[..., :2])


def test_the_boxes_hold_the_ink_and_the_target_has_no_preferred_place():
    images, labels, boxes, _, other_boxes = digits_with_distractors(400, noise=0.0, seed=1)
    assert images.min() >= 0
    for image, box, others in zip(images[:30, 0], boxes[:30].tolist(), other_boxes[:30].tolist(), strict=True):
        inside = sum(image[y0:y1, x0:x1].sum() for x0, y0, x1, y1 in [box, *others])
        assert inside == pytest.approx(image.sum().item(), rel=0.05)
    # the target is left of the distractor about as often as right of it
    left = (boxes[:, 0] < other_boxes[:, 0, 0]).float().mean().item()
    assert 0.4 < left < 0.6, left
    assert len(set(labels.tolist())) == 10


def test_seeded_and_subsets_differ():
    a = digits_with_distractors(20, seed=3)
    b = digits_with_distractors(20, seed=3)
    c = digits_with_distractors(20, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])
    train = digits_with_distractors(20, seed=3, subset="train")
    assert not torch.equal(a[0], train[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"canvas_size": 16, "digit_size": 12}, "do not fit"),
    ({"distractors": 0}, "distractors to be a positive int"),
    ({"distractors": 10}, "at most 9 distractors"),
    ({"gap": -1}, "gap to be an int >= 0"),
    ({"noise": -0.5}, "noise >= 0"),
    ({"subset": "validation"}, "subset"),
])
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        digits_with_distractors(4, **kwargs)
