r"""Exercise 1: global average pooling, :math:`\bar F_c = \frac{1}{HW}\sum_{i,j} F_c(i,j)`, for 1 to 3 spatial dims."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from gaplib.checks._core import (
    best_scale,
    call_tensor,
    call_untouched,
    close,
    fail,
    grad_hint,
    not_finite,
    passed,
    refuse_library,
    seeded_randn,
    shape_text,
)
from gaplib.pooling import global_avg_pool


def reference(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=tuple(range(2, x.dim())))


def inputs() -> list[tuple[str, torch.Tensor]]:
    randn = seeded_randn(0)

    return [
        ("a 4-D input of shape (2, 3, 4, 5) (N=2, C=3, H=4, W=5)", randn(2, 3, 4, 5)),
        ("a 3-D input of shape (2, 3, 7) (a 1-D signal: N=2, C=3, L=7)", randn(2, 3, 7)),
        ("a 5-D input of shape (1, 2, 3, 4, 5) (a volume)", randn(1, 2, 3, 4, 5)),
        ("a float64 input of shape (3, 2, 6, 2)", randn(3, 2, 6, 2, dtype=torch.float64)),
        ("an input with H = 1, shape (2, 3, 1, 5)", randn(2, 3, 1, 5)),
        ("an input with W = 1 and N = C = 1, shape (1, 1, 4, 1)", randn(1, 1, 4, 1)),
        ("a single position, shape (2, 2, 1, 1)", randn(2, 2, 1, 1)),
    ]


def diagnose(x: torch.Tensor, got: torch.Tensor, label: str) -> str:
    spatial = tuple(range(2, x.dim()))
    expected = reference(x)
    if got.shape != expected.shape:
        hint = (f"expected output shape {shape_text(expected)} (one number per image and channel), got "
                f"{shape_text(got)}. Average over every spatial dim, whatever their number, and keep N and C")
        if got.numel() == expected.numel():
            hint += " (a size-1 dim lost to .squeeze()?)"
        return f"on {label}: {hint}."
    if (problem := not_finite(got)) is not None:
        return f"on {label}: {problem}."
    if got.dtype != x.dtype and close(got, expected):
        return f"on {label}: expected dtype {x.dtype} (same as the input), got {got.dtype}."
    positions = math.prod(x.shape[d] for d in spatial)
    if positions > 1 and close(got, expected * positions):
        return f"on {label}: your values are {positions} times too large: that is a sum, not a mean."
    if close(got, x.amax(dim=spatial)):
        return f"on {label}: these are the maxima of each channel (global max pooling), not the means."
    scale = best_scale(got, expected)
    if close(got, expected * scale):
        return (f"on {label}: your values are off by a factor {scale:.4g}: divide the sum by the number of "
                f"positions, here {positions} = {' x '.join(str(x.shape[d]) for d in spatial)}.")
    return f"on {label}: the shape is right but the values are not the per-channel spatial means."


def check_global_avg_pool(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    r"""Check an implementation of global average pooling, :math:`\bar F_c = \frac{1}{HW}\sum_{i,j} F_c(i,j)`.

    ``fn(x)`` must map ``(N, C, *spatial)`` with 1 to 3 spatial dims (any sizes, 1 included) to ``(N, C)``,
    keep the dtype, leave ``x`` unchanged, and let gradients flow: the book trains networks through this layer,
    so a backward pass must give each position ``1/(HW)`` of the upstream gradient.

    Raises:
        CheckFailed: (an ``AssertionError``) with a hint on what is wrong and on which input.
    """
    refuse_library(fn, [global_avg_pool], "write global average pooling yourself")
    for label, x in inputs():
        got = call_untouched(fn, label, x)
        if not (close(got, reference(x)) and got.dtype == x.dtype):
            raise fail(diagnose(x, got, label))
    label = "a 4-D input of shape (2, 3, 4, 5) with requires_grad=True"
    leaf = inputs()[0][1].requires_grad_()
    got = call_tensor(fn, label, leaf)
    if not got.requires_grad:
        raise grad_hint(label)
    got.sum().backward()
    if leaf.grad is None:
        raise fail(f"on {label}: no gradient reaches x, so nothing before this layer could be trained: keep the "
                   f"computation in torch, from x to the output (no .detach(), no NumPy).")
    if not torch.allclose(leaf.grad, torch.full_like(leaf, 1 / 20)):
        raise fail(f"on {label}: after out.sum().backward(), each position should receive gradient "
                   f"1/(H*W) = 1/20.")
    passed("global_avg_pool", "7 inputs (1 to 3 spatial dims, H or W = 1, float64), the gradient, "
           "inputs left unchanged")
