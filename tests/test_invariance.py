"""gaplib.invariance.flip_rate: flips counted only on the images every compared model gets right."""

import pytest
import torch
from torch import nn

from gaplib.invariance import flip_rate


class _Lookup(nn.Module):
    """A 'classifier' whose prediction is read from the image's first pixel (a class index)."""

    def __init__(self, offset: int = 0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.offset = offset

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        classes = (images[:, 0, 0, 0].long() + self.offset) % 4
        return nn.functional.one_hot(classes, 4).float() * self.scale


def _images(values: list[int]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).reshape(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def test_flips_are_counted_only_where_every_model_is_right():
    labels = torch.tensor([0, 1, 2, 3])
    images = _images([0, 1, 2, 0])                  # the last image is misclassified by the plain model
    moved = _images([0, 3, 2, 1])                   # the shift changes images 1 and 3
    rates, kept = flip_rate([_Lookup()], images, labels, [moved])
    # image 3 started wrong and is dropped: one flip (image 1) among three correct images, not 2 of 4
    assert kept == 3 and rates == [pytest.approx(1 / 3)]
    both, kept = flip_rate([_Lookup(), _Lookup()], images, labels, [moved, images])
    assert kept == 3 and both == [pytest.approx(1 / 6)] * 2   # averaged over the two shifts


def test_an_invariant_model_never_flips():
    labels = torch.tensor([0, 1, 2])
    images = _images([0, 1, 2])
    rates, kept = flip_rate([_Lookup()], images, labels, [images.clone()])
    assert rates == [0.0] and kept == 3


def test_bad_input_is_refused():
    labels = torch.tensor([0, 1])
    images = _images([0, 1])
    with pytest.raises(ValueError, match="at least one model"):
        flip_rate([], images, labels, [images])
    with pytest.raises(ValueError, match="shifted copy"):
        flip_rate([_Lookup()], images, labels, [images[:1]])
    with pytest.raises(ValueError, match=r"labels \(N,\)"):
        flip_rate([_Lookup()], images, labels[:1], [images])
    with pytest.raises(ValueError, match="no image is classified correctly"):
        flip_rate([_Lookup(offset=1)], images, labels, [images])
    with pytest.raises(TypeError, match="floating-point"):
        flip_rate([_Lookup()], images.long(), labels, [images])
