r"""Exercise 8: generalized-mean pooling, and the smallest exponent p at which it imitates max pooling.

.. math:: \mathrm{GeM}_p(F_c) = \Big(\frac{1}{HW}\sum_{i,j} \max(F_c(i,j), \varepsilon)^p\Big)^{1/p}
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from gaplib.checks._core import (
    call_tensor,
    call_untouched,
    close,
    fail,
    grad_hint,
    number,
    passed,
    refuse_library,
    shape_text,
)
from gaplib.pooling import gem_pool

EPS = 1e-6


def reference(x: torch.Tensor, p: float) -> torch.Tensor:
    spatial = tuple(range(2, x.dim()))
    return x.double().clamp(min=EPS).pow(p).mean(dim=spatial).pow(1 / p).to(x.dtype)


def inputs() -> list[tuple[str, torch.Tensor, float]]:
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 4, 5, generator=generator)
    return [
        ("x of shape (2, 3, 4, 5) with negative values, p=3", x, 3.0),
        ("the same x, p=1", x, 1.0),
        ("the same x, p=2.5", x, 2.5),
        ("a 1-D signal x of shape (2, 3, 7), p=4", torch.randn(2, 3, 7, generator=generator).abs(), 4.0),
        ("a float64 x of shape (1, 2, 3, 3), p=6", torch.rand(1, 2, 3, 3, generator=generator, dtype=torch.float64),
         6.0),
        ("a volume x of shape (1, 2, 2, 3, 2), p=2", torch.rand(1, 2, 2, 3, 2, generator=generator), 2.0),
        ("x with H = 1, shape (2, 2, 1, 6), p=3", torch.rand(2, 2, 1, 6, generator=generator), 3.0),
    ]


def diagnose(x: torch.Tensor, p: float, got: torch.Tensor, label: str) -> str:
    spatial = tuple(range(2, x.dim()))
    expected = reference(x, p)
    clamped = x.double().clamp(min=EPS)
    if got.shape != expected.shape:
        return (f"expected shape {shape_text(expected)} = (N, C), got {shape_text(got)}: pool over every spatial "
                f"dim, whatever their number")
    if torch.isnan(got).any():
        return "you get NaN: a negative activation to a fractional power is undefined, clamp at eps first"
    if got.dtype != x.dtype:
        return f"expected dtype {x.dtype}, the input's, got {got.dtype}"
    if close(got, clamped.pow(p).mean(dim=spatial)):
        return "the values are the mean of the p-th powers: take the 1/p-th root of it"
    if close(got, x.double().pow(p).mean(dim=spatial).pow(1 / p)):
        return "the negative activations are not clamped at eps before the power"
    if close(got, x.double().abs().pow(p).mean(dim=spatial).pow(1 / p)):
        return "negative activations are made positive (abs): clamp them at eps instead"
    positions = math.prod(x.shape[2:])
    if close(got, expected * positions ** (1 / p), rtol=1e-4, atol=1e-5):
        return "the values are too large by (H*W)^(1/p): average the powers, do not sum them"
    if close(got, clamped.pow(p).mean(dim=spatial).pow(p)):
        return "the root is taken as a p-th power: the outer exponent is 1/p"
    return "the shape is right but the values are not the generalized means"


def check_gem_pool(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    r"""Check generalized-mean pooling, :math:`(\frac{1}{HW}\sum_{i,j} \max(F_c(i,j), \varepsilon)^p)^{1/p}`.

    ``fn(x, p)`` maps ``(N, C, *spatial)`` with 1 to 3 spatial dims to ``(N, C)``, clamping at ``eps = 1e-6``
    before the power, leaving ``x`` unchanged. The book trains GeM heads, so a backward pass must give the
    gradient of the formula with respect to ``x``.

    Raises:
        CheckFailed: (an ``AssertionError``) naming the input and the slip (shape, clamp, root, mean, gradient).
    """
    refuse_library(fn, [gem_pool], "write GeM pooling yourself")
    for label, x, p in inputs():
        got = call_untouched(fn, label, x, p)
        if not (got.shape == x.shape[:2] and got.dtype == x.dtype
                and close(got, reference(x, p), rtol=1e-4, atol=1e-5)):
            raise fail(f"on {label}: {diagnose(x, p, got, label)}.")
    label, x, p = inputs()[0]
    label += ", with requires_grad=True"
    leaf = x.double().requires_grad_()
    got = call_tensor(fn, label, leaf, p)
    if not got.requires_grad:
        raise grad_hint(label)
    got.sum().backward()
    twin = x.double().requires_grad_()
    reference(twin, p).sum().backward()
    if leaf.grad is None or not torch.isfinite(leaf.grad).all() or not close(leaf.grad, twin.grad, rtol=1e-4,
                                                                           atol=1e-6):
        raise fail(f"on {label}: after out.sum().backward(), the gradient with respect to x is not that of the "
                   f"formula (is the clamp or the root done outside torch?).")
    passed("gem", f"{len(inputs())} inputs (negative values, p from 1 to 6, 1 to 3 spatial dims, H = 1), the "
           "gradient, input left unchanged")


def shortfall(x: torch.Tensor, p: float) -> float:
    """The worst relative gap (max - GeM) / max over images and channels, computed stably for large p."""
    x = x.double().clamp(min=EPS).flatten(2)
    peak = x.amax(dim=2)
    gem = peak * (x / peak.unsqueeze(2)).pow(p).mean(dim=2).pow(1 / p)
    return ((peak - gem) / peak).max().item()


def _two_levels(high_share: float, low: float, shape: tuple[int, ...]) -> torch.Tensor:
    """Maps with a share of positions at 1 and the rest at ``low``: GeM nears max at a small p."""
    x = torch.full(shape, low, dtype=torch.float64)
    flat = x.view(*shape[:2], -1)
    flat[..., : round(high_share * flat.shape[-1])] = 1.0
    return x


def p_inputs() -> list[tuple[str, torch.Tensor, float]]:
    generator = torch.Generator().manual_seed(3)
    cases = []
    for shape, rel_tol in [((1, 4, 8, 8), 0.05), ((2, 3, 16, 16), 0.02), ((1, 2, 5, 7), 0.1)]:
        x = torch.rand(*shape, generator=generator, dtype=torch.float64)
        x = (x / x.flatten(2).amax(dim=2)[..., None, None]) ** 2  # peak 1, mostly small: a max-like task
        cases.append((f"x of shape {shape} in [0, 1], rel_tol={rel_tol}", x, rel_tol))
    cases.append(("x of shape (1, 1, 4, 4), half the positions at 1 and half at 0.6, rel_tol=0.21 (p below 1)",
                  _two_levels(0.5, 0.6, (1, 1, 4, 4)), 0.21))
    cases.append(("x of shape (2, 2, 3, 3), a third of the positions at 1 and the rest at 0.5, rel_tol=0.15",
                  _two_levels(1 / 3, 0.5, (2, 2, 3, 3)), 0.15))
    return cases


def check_gem_p_for_max(fn: Callable[[torch.Tensor, float], float]) -> None:
    r"""Check a search for the smallest GeM exponent :math:`p` that brings GeM within ``rel_tol`` of the max.

    ``fn(x, rel_tol)`` takes non-negative maps ``(N, C, H, W)`` and returns ``p > 0`` such that for every image
    and channel :math:`(\max - \mathrm{GeM}_p) / \max \le` ``rel_tol``, while ``p / 1.05`` does not achieve it
    (the smallest such ``p`` to within 5%, which may be below 1), leaving ``x`` unchanged.

    Raises:
        CheckFailed: (an ``AssertionError``) saying whether ``p`` is too small or larger than needed, and on
        which input.
    """
    for label, x, rel_tol in p_inputs():
        p = number(call_untouched(fn, label, x, rel_tol, tensor=False), label, "p")
        if p <= 0:
            raise fail(f"on {label}: p = {p:.4g}, but GeM needs p > 0.")
        gap = shortfall(x, p)
        if gap > rel_tol + 1e-9:
            raise fail(f"on {label}: at your p = {p:.4g}, GeM is still {gap:.1%} below the max on some image "
                       f"or channel (allowed: {rel_tol:.0%}): p is too small. Check every image and channel, "
                       f"not only the first.")
        if shortfall(x, p / 1.05) <= rel_tol:
            hint = "find the smallest p, to within 5%"
            if p == round(p):
                hint += " (a search over whole numbers is too coarse, and the answer may be below 1)"
            else:
                hint += " (a bound such as ln(HW) / (-ln(1 - rel_tol)) holds for a single spike, not for this map)"
            raise fail(f"on {label}: p = {p:.4g} works, but so does p / 1.05 = {p / 1.05:.4g}: {hint}.")
    passed("p_for_max", f"{len(p_inputs())} sets of maps, answers from below 1 to far above, each the smallest "
           "p within 5%")
