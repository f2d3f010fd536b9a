"""Automatic checks for the exercises: quiet when an answer is right, a precise hint when it is wrong.

Each checker calls the student's function on a few inputs chosen to tell mistakes apart (non-square maps,
1 to 3 spatial dims, float64, negative values, K != C) and compares with the reference. A failure raises
``AssertionError`` saying what is wrong (shape, axis, scale, dtype, gradient) and on which input, never the
solution itself. A candidate that crashes is reported the same way, not as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gaplib.cam import class_activation_maps
from gaplib.pooling import global_avg_pool


def _shape(x: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in x.shape) + ")"


def _call(fn: Callable, label: str, *args: torch.Tensor) -> torch.Tensor:
    try:
        result = fn(*args)
    except Exception as error:  # a student's crash becomes a hint, not a traceback
        raise AssertionError(f"your function raised {type(error).__name__} on {label}: {error}") from None
    if not isinstance(result, torch.Tensor):
        raise AssertionError(f"on {label}: expected a torch.Tensor, got {type(result).__name__}")
    return result


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6)


def _pool_inputs() -> list[tuple[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)

    def randn(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    return [
        ("a 4-D input of shape (2, 3, 4, 5) (N=2, C=3, H=4, W=5)", randn(2, 3, 4, 5)),
        ("a 3-D input of shape (2, 3, 7) (a 1-D signal: N=2, C=3, L=7)", randn(2, 3, 7)),
        ("a 5-D input of shape (1, 2, 3, 4, 5) (a volume)", randn(1, 2, 3, 4, 5)),
        ("a float64 input of shape (3, 2, 6, 2)", randn(3, 2, 6, 2, dtype=torch.float64)),
    ]


def _diagnose_pool(x: torch.Tensor, got: torch.Tensor, label: str) -> str:
    spatial = tuple(range(2, x.dim()))
    expected = global_avg_pool(x)
    if got.shape != expected.shape:
        return (f"on {label}: expected output shape {_shape(expected)} (one number per image and channel), "
                f"got {_shape(got)}. Average over every spatial dim, whatever their number, and keep N and C.")
    if got.dtype != x.dtype and _close(got, expected):
        return f"on {label}: expected dtype {x.dtype} (same as the input), got {got.dtype}."
    positions = 1
    for d in spatial:
        positions *= x.shape[d]
    if _close(got, expected * positions):
        return f"on {label}: your values are {positions} times too large: that is a sum, not a mean."
    scale = _best_scale(got, expected)
    if _close(got, expected * scale):
        return (f"on {label}: your values are off by a factor {scale:.4g}: divide the sum by the number of "
                f"positions, here {positions} = {' x '.join(str(x.shape[d]) for d in spatial)}.")
    return f"on {label}: the shape is right but the values are not the per-channel spatial means."


def _best_scale(got: torch.Tensor, expected: torch.Tensor) -> float:
    """The factor s minimising |got - s * expected|: a wrong normalisation shows up as s != 1."""
    expected = expected.detach().double()
    return ((got.detach().double() * expected).sum() / expected.pow(2).sum().clamp(min=1e-300)).item()


def check_global_avg_pool(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    r"""Check an implementation of global average pooling, :math:`\bar F_c = \frac{1}{HW}\sum_{i,j} F_c(i,j)`.

    ``fn(x)`` must map ``(N, C, *spatial)`` with 1 to 3 spatial dims to ``(N, C)``, keep the dtype, and let
    gradients flow (each position receives ``1/(HW)`` of the upstream gradient).

    Raises:
        AssertionError: with a hint on what is wrong and on which input.
    """
    for label, x in _pool_inputs():
        got = _call(fn, label, x)
        if not (_close(got, global_avg_pool(x)) and got.dtype == x.dtype):
            raise AssertionError(_diagnose_pool(x, got, label))
    label, x = "a 4-D input of shape (2, 3, 4, 5) with requires_grad=True", _pool_inputs()[0][1].requires_grad_()
    got = _call(fn, label, x)
    if not got.requires_grad:
        raise AssertionError(f"on {label}: the output does not require grad; stay in torch (no numpy, no .detach()).")
    got.sum().backward()
    if x.grad is None or not torch.allclose(x.grad, torch.full_like(x, 1 / 20)):
        raise AssertionError(f"on {label}: each position should receive gradient 1/(H*W) = 1/20 from out.sum().")


def _cam_inputs() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)

    def randn(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    return [
        ("features (2, 3, 4, 5) and weight (6, 3) (N=2, C=3, H=4, W=5, K=6)", randn(2, 3, 4, 5), randn(6, 3)),
        ("features (1, 4, 3, 3) and weight (4, 4) (K = C)", randn(1, 4, 3, 3), randn(4, 4)),
        ("float64 features (3, 2, 5, 2) and weight (1, 2)", randn(3, 2, 5, 2, dtype=torch.float64),
         randn(1, 2, dtype=torch.float64)),
    ]


def _diagnose_cam(features: torch.Tensor, weight: torch.Tensor, got: torch.Tensor, label: str) -> str:
    expected = class_activation_maps(features, weight)
    if got.shape != expected.shape:
        return (f"on {label}: expected shape {_shape(expected)}, i.e. (N, K, H, W) with one map per class, "
                f"got {_shape(got)}.")
    if _close(got, expected.clamp(min=0)):
        return f"on {label}: negative values are missing: CAM here is raw, without ReLU."
    if got.dtype != features.dtype and _close(got, expected):
        return f"on {label}: expected dtype {features.dtype} (same as the features), got {got.dtype}."
    square = weight.shape[0] == weight.shape[1]
    if square and _close(got, class_activation_maps(features, weight.T.contiguous())):
        return f"on {label}: weight is (K, C) with w[k, c]; it looks like you used it transposed."
    if _close(got.flatten(2).mean(-1), expected.flatten(2).mean(-1)):
        return f"on {label}: the spatial means are right but the maps are not: the maps must keep their shape."
    scale = _best_scale(got, expected)
    if _close(got, expected * scale):
        return f"on {label}: the maps are right up to a factor {scale:.4g}: no averaging or normalising here."
    return f"on {label}: the shape is right but map k should be the w[k, c]-weighted sum of the channels c."


def check_class_activation_maps(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    r"""Check an implementation of raw class activation maps, :math:`\mathrm{CAM}_k = \sum_c w_{kc} F_c`.

    ``fn(features, weight)`` takes features ``(N, C, H, W)`` and a classifier weight ``(K, C)`` and must
    return ``(N, K, H, W)``: no ReLU, no normalisation, same dtype, differentiable.

    Raises:
        AssertionError: with a hint on what is wrong and on which input.
    """
    for label, features, weight in _cam_inputs():
        got = _call(fn, label, features, weight)
        if not (_close(got, class_activation_maps(features, weight)) and got.dtype == features.dtype):
            raise AssertionError(_diagnose_cam(features, weight, got, label))
    label, features, weight = _cam_inputs()[0]
    features.requires_grad_()
    got = _call(fn, label + " with requires_grad=True", features, weight)
    if not got.requires_grad:
        raise AssertionError(f"on {label}: the output does not require grad; stay in torch (no numpy, no .detach()).")
