"""Exercise 6: two different inputs with the same channel means, which GAP cannot tell apart."""

from __future__ import annotations

from collections.abc import Callable

import torch

from gaplib.checks._core import call, fail, passed, shape_text

SHAPES = [(3, 4, 5), (1, 2, 2), (4, 7, 3), (2, 1, 2), (1, 2, 1), (3, 1, 5)]


def check_gap_blind_pair(fn: Callable[[int, int, int], tuple]) -> None:
    """Check a pair of inputs that GAP cannot tell apart although they differ.

    ``fn(channels, height, width)`` returns two float tensors ``(C, H, W)`` whose per-channel means agree (to
    1e-5) while the maps themselves differ by more than 0.1 somewhere, for every shape with at least two
    positions (``H = 1`` or ``W = 1`` included).

    Raises:
        CheckFailed: (an ``AssertionError``) naming the requested shape and what failed.
    """
    for channels, height, width in SHAPES:
        label = f"channels={channels}, height={height}, width={width}"
        pair = call(fn, label, channels, height, width)
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise fail(f"on {label}: expected a pair (a, b) of tensors, got {type(pair).__name__}")
        for name, x in zip("ab", pair, strict=True):
            if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x):
                raise fail(f"on {label}: expected {name} to be a floating-point torch.Tensor")
            if tuple(x.shape) != (channels, height, width):
                raise fail(f"on {label}: expected {name} of shape ({channels}, {height}, {width}) = (C, H, W), "
                           f"got {shape_text(x)}.")
            if not torch.isfinite(x).all():
                raise fail(f"on {label}: {name} contains NaN or inf, which has no mean to compare.")
        a, b = (x.detach().double() for x in pair)
        means_a, means_b = a.mean(dim=(1, 2)), b.mean(dim=(1, 2))
        for c in range(channels):
            if abs(means_a[c] - means_b[c]) > 1e-5:
                raise fail(f"on {label}: channel {c} has mean {means_a[c]:.4g} in a but {means_b[c]:.4g} in b: "
                           f"GAP tells them apart.")
        if (a - b).abs().max() <= 0.1:
            raise fail(f"on {label}: a and b differ by at most {(a - b).abs().max():.3g}: make them differ by "
                       f"more than 0.1 somewhere.")
    passed("gap_blind_pair", f"{len(SHAPES)} shapes, H = 1 and W = 1 included")
