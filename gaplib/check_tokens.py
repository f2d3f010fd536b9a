r"""The checker of exercise 11 (the token CAM), beside its reference :func:`gaplib.tokens.token_class_maps`.

.. math:: M_k(t) = \sum_d w_{kd}\, h_{t,d}, \qquad z_k = \frac{1}{T}\sum_t M_k(t) + b_k

Quiet when the answer is right; otherwise an ``AssertionError`` that names the input and the likely slip
(axes, pooling, a ReLU, the dtype, the gradient), never the solution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gaplib.tokens import token_class_maps


def _inputs() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(11)
    cases = []
    for n, tokens, dim, classes in ((2, 16, 8, 3), (1, 5, 4, 7), (3, 9, 6, 2)):
        label = f"tokens ({n}, {tokens}, {dim}) and weight ({classes}, {dim})"
        cases.append((label, torch.randn(n, tokens, dim, generator=generator, dtype=torch.float64),
                      torch.randn(classes, dim, generator=generator, dtype=torch.float64)))
    return cases


def _hint(tokens: torch.Tensor, weight: torch.Tensor, got: torch.Tensor, expected: torch.Tensor) -> str:
    n, count, _ = tokens.shape
    classes = weight.shape[0]
    if got.shape == (n, count, classes) and torch.allclose(got.transpose(1, 2), expected):
        return "the axes are (N, T, K): put the classes before the tokens, (N, K, T)"
    if got.shape == (n, classes) and torch.allclose(got, expected.mean(dim=2)):
        return "you returned the mean over tokens (the logit minus the bias): return one score per token"
    if got.shape == expected.shape and torch.allclose(got, expected.clamp(min=0)):
        return "negative scores were cut to zero: the map is raw, no ReLU, so that its mean is the logit"
    if got.shape == expected.shape and torch.allclose(got, torch.softmax(expected, dim=1)):
        return "a softmax over classes was applied: the map is raw class scores"
    if got.shape != expected.shape:
        return f"expected shape ({n}, {classes}, {count}), got {tuple(got.shape)}"
    return "the values differ from the sum over features of weight times token"


def check_token_class_maps(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check ``fn(tokens, weight)``: tokens ``(N, T, D)``, weight ``(K, D)`` -> raw maps ``(N, K, T)``.

    Raises:
        AssertionError: naming the input and what differs.
    """
    for label, tokens, weight in _inputs():
        try:
            got = fn(tokens.clone(), weight.clone())
        except Exception as error:  # a student's crash becomes a hint, not a traceback
            raise AssertionError(f"your function raised {type(error).__name__} on {label}: {error}") from None
        if not isinstance(got, torch.Tensor):
            raise AssertionError(f"on {label}: expected a torch.Tensor, got {type(got).__name__}")
        expected = token_class_maps(tokens, weight)
        if got.shape != expected.shape or not torch.allclose(got.double(), expected, rtol=1e-5, atol=1e-6):
            raise AssertionError(f"on {label}: {_hint(tokens, weight, got.double(), expected)}.")
        if got.dtype != tokens.dtype:
            raise AssertionError(f"on {label}: expected the tokens' dtype {tokens.dtype}, got {got.dtype}")
    tokens = torch.randn(2, 4, 3, requires_grad=True)
    got = fn(tokens, torch.randn(2, 3))
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise AssertionError("the maps must stay differentiable: compute them with torch operations, "
                             "without .detach(), .numpy() or torch.no_grad()")
