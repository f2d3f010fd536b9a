r"""Exercise 4: raw class activation maps, :math:`\mathrm{CAM}_k = \sum_c w_{kc} F_c`."""

from __future__ import annotations

from collections.abc import Callable

import torch

from gaplib.cam import class_activation_maps
from gaplib.checks._core import (
    best_scale,
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


def reference(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.einsum("kc,nchw->nkhw", weight, features)


def inputs() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    randn = seeded_randn(1)

    return [
        ("features (2, 3, 4, 5) and weight (6, 3) (N=2, C=3, H=4, W=5, K=6)", randn(2, 3, 4, 5), randn(6, 3)),
        ("features (1, 4, 3, 3) and weight (4, 4) (K = C)", randn(1, 4, 3, 3), randn(4, 4)),
        ("float64 features (3, 2, 5, 2) and weight (1, 2)", randn(3, 2, 5, 2, dtype=torch.float64),
         randn(1, 2, dtype=torch.float64)),
        ("features (2, 1, 1, 3) and weight (2, 1) (C = 1, H = 1)", randn(2, 1, 1, 3), randn(2, 1)),
    ]


def diagnose(features: torch.Tensor, weight: torch.Tensor, got: torch.Tensor, label: str) -> str:
    expected = reference(features, weight)
    if got.shape != expected.shape:
        return (f"on {label}: expected shape {shape_text(expected)}, i.e. (N, K, H, W) with one map per class, "
                f"got {shape_text(got)}.")
    if (problem := not_finite(got)) is not None:
        return f"on {label}: {problem}."
    if close(got, expected.clamp(min=0)):
        return f"on {label}: negative values are missing: CAM here is raw, without ReLU."
    if got.dtype != features.dtype and close(got, expected):
        return f"on {label}: expected dtype {features.dtype} (same as the features), got {got.dtype}."
    if weight.shape[0] == weight.shape[1] and close(got, reference(features, weight.T)):
        return f"on {label}: weight is (K, C) with w[k, c]; it looks like you used it transposed."
    if close(got.flatten(2).mean(-1), expected.flatten(2).mean(-1)):
        return f"on {label}: the spatial means are right but the maps are not: the maps must keep their shape."
    scale = best_scale(got, expected)
    if close(got, expected * scale):
        return f"on {label}: the maps are right up to a factor {scale:.4g}: no averaging or normalising here."
    return f"on {label}: the shape is right but map k should be the w[k, c]-weighted sum of the channels c."


def check_class_activation_maps(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    r"""Check an implementation of raw class activation maps, :math:`\mathrm{CAM}_k = \sum_c w_{kc} F_c`.

    ``fn(features, weight)`` takes features ``(N, C, H, W)`` and a classifier weight ``(K, C)`` and must
    return ``(N, K, H, W)``: no ReLU, no normalisation, same dtype, differentiable, inputs left unchanged.

    Raises:
        CheckFailed: (an ``AssertionError``) with a hint on what is wrong and on which input.
    """
    refuse_library(fn, [class_activation_maps], "compute class activation maps yourself")
    for label, features, weight in inputs():
        got = call_untouched(fn, label, features, weight)
        if not (close(got, reference(features, weight)) and got.dtype == features.dtype):
            raise fail(diagnose(features, weight, got, label))
    label, features, weight = inputs()[0]
    label += " with requires_grad=True"
    got = call_untouched(fn, label, features.requires_grad_(), weight)
    if not got.requires_grad:
        raise grad_hint(label)
    passed("class_activation_maps", "4 inputs (K != C, K = C, float64, C = H = 1), differentiable, inputs "
           "left unchanged")
