r"""Exercise 11: the token CAM, one class score per token, :math:`M_k(t) = \sum_d w_{kd}\, h_{t,d}`.

For a mean-pooled transformer, :math:`z_k = \frac{1}{T}\sum_t M_k(t) + b_k`: the mean of the map plus the bias is
the logit, as for a CNN with GAP.
"""

from __future__ import annotations

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
from gaplib.tokens import token_class_maps


def reference(tokens: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return torch.einsum("kd,ntd->nkt", weight, tokens)


def inputs() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    randn = seeded_randn(11)

    return [
        ("tokens (2, 6, 4) and weight (3, 4) (N=2, T=6, D=4, K=3)", randn(2, 6, 4), randn(3, 4)),
        ("tokens (1, 5, 3) and weight (3, 3) (K = D)", randn(1, 5, 3), randn(3, 3)),
        ("float64 tokens (3, 4, 2) and weight (5, 2)", randn(3, 4, 2, dtype=torch.float64),
         randn(5, 2, dtype=torch.float64)),
        ("tokens (2, 1, 3) and weight (4, 3) (T = 1)", randn(2, 1, 3), randn(4, 3)),
        ("tokens (2, 3, 1) and weight (2, 1) (D = 1)", randn(2, 3, 1), randn(2, 1)),
    ]


def diagnose(tokens: torch.Tensor, weight: torch.Tensor, got: torch.Tensor) -> str:
    expected = reference(tokens, weight)
    n, count, _ = tokens.shape
    classes = weight.shape[0]
    if got.shape != expected.shape:
        hint = (f"expected shape {shape_text(expected)}, i.e. (N, K, T) with one map per class, got "
                f"{shape_text(got)}")
        if got.shape == (n, count, classes) and close(got.transpose(1, 2), expected):
            hint += ": the values are right but the axes are (N, T, K); put the classes before the tokens"
        elif got.shape == (n, classes) and close(got, expected.mean(dim=2)):
            hint += ": these are the maps averaged over the tokens (the logits minus the bias); keep one score " \
                    "per token"
        elif got.shape == (n, classes) and close(got, expected.sum(dim=2)):
            hint += ": these are the maps summed over the tokens; keep one score per token"
        return hint
    if (problem := not_finite(got)) is not None:
        return problem
    if close(got, expected.clamp(min=0)):
        return "negative scores are missing: the token CAM is raw, without ReLU, so that its mean is the logit"
    if close(got, torch.softmax(expected, dim=1)):
        return "a softmax over the classes was applied: the maps are raw class scores, so that their mean is " \
               "the logit"
    if close(got, torch.softmax(expected, dim=2)):
        return "a softmax over the tokens was applied: the maps are raw class scores, so that their mean is " \
               "the logit"
    if got.dtype != tokens.dtype and close(got, expected):
        return f"expected dtype {tokens.dtype} (the tokens' dtype), got {got.dtype}"
    if classes == weight.shape[1] and close(got, reference(tokens, weight.T)):
        return "weight is (K, D) with w[k, d], as nn.Linear(D, K) stores it; it looks like you used it transposed"
    if close(got.mean(dim=2), expected.mean(dim=2)):
        return "the means over the tokens are right but the maps are not: each token keeps its own score"
    scale = best_scale(got, expected)
    if close(got, expected * scale):
        return f"the maps are right up to a factor {scale:.4g}: no averaging or normalising here"
    return "the shape is right but the score of class k at token t should be the w[k, d]-weighted sum of " \
           "that token's features d"


def check_token_class_maps(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    r"""Check an implementation of the token CAM, :math:`M_k(t) = \sum_d w_{kd}\, h_{t,d}`.

    ``fn(tokens, weight)`` takes the final patch tokens ``(N, T, D)`` and the classifier's weight ``(K, D)``
    (``nn.Linear(D, K)`` layout) and must return the raw maps ``(N, K, T)``: no ReLU, no softmax, the tokens'
    dtype, inputs left unchanged, and differentiable: a backward pass through the maps must reach both the
    tokens and the weight with the right gradients.

    Raises:
        CheckFailed: (an ``AssertionError``) with a hint on what is wrong and on which input.
    """
    refuse_library(fn, [token_class_maps], "compute the token class maps yourself")
    for label, tokens, weight in inputs():
        got = call_untouched(fn, label, tokens, weight)
        if not (close(got, reference(tokens, weight)) and got.dtype == tokens.dtype):
            raise fail(f"on {label}: {diagnose(tokens, weight, got)}.")
    label, tokens, weight = inputs()[2]
    label += ", both with requires_grad=True"
    leaves = [tokens.clone().requires_grad_(), weight.clone().requires_grad_()]
    got = call_tensor(fn, label, *leaves)
    if not got.requires_grad:
        raise grad_hint(label)
    upstream = torch.linspace(-1, 1, got.numel(), dtype=got.dtype).reshape(got.shape)
    (got * upstream).sum().backward()
    twins = [tokens.clone().requires_grad_(), weight.clone().requires_grad_()]
    (reference(*twins) * upstream.to(tokens.dtype)).sum().backward()
    for name, leaf, twin in zip(("tokens", "weight"), leaves, twins, strict=True):
        if leaf.grad is None:
            raise fail(f"on {label}: no gradient reaches {name}: use {name} in torch operations (no .detach(), no "
                       f"NumPy, no torch.tensor(...) copy).")
        if not close(leaf.grad, twin.grad, rtol=1e-4, atol=1e-6):
            raise fail(f"on {label}: the gradient with respect to {name} is not that of the token class maps.")
    passed("token_class_maps", f"{len(inputs())} inputs (K = D, float64, T = 1, D = 1), gradients to tokens and "
           "weight, inputs left unchanged")
