r"""Exercise 9: a squeeze-and-excitation block (Hu et al. 2018), written as a function of its weights.

.. math:: s = \sigma(W_2\, \mathrm{ReLU}(W_1 \bar F + b_1) + b_2), \qquad \tilde F_c = s_c F_c
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gaplib.checks._core import (
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


def _mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=(2, 3))


def reference(x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor, *,
              pool: Callable = _mean, hidden: Callable = torch.relu, gate: Callable = torch.sigmoid,
              transpose: bool = True, combine: str = "multiply") -> torch.Tensor:
    """The SE block; the keyword arguments give the typical mistakes, to recognise them."""
    first, second = (w1.T, w2.T) if transpose else (w1, w2)
    gates = gate(hidden(pool(x) @ first + b1) @ second + b2)
    if combine == "gates":
        return gates
    if combine == "add":
        return x + gates[:, :, None, None]
    return x * gates[:, :, None, None]


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _swap(x, w1, b1, w2, b2):
    return x * torch.relu(torch.sigmoid(_mean(x) @ w1.T + b1) @ w2.T + b2)[:, :, None, None]


def _zero(t: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(t)


MISTAKES: list[tuple[Callable, str]] = [
    (lambda *t: reference(*t, gate=_identity), "the gates are not squashed into (0, 1): apply the sigmoid"),
    (lambda *t: reference(*t, hidden=_identity), "the hidden layer has no ReLU"),
    (_swap, "ReLU and sigmoid are swapped: ReLU after the first layer, sigmoid after the second"),
    (lambda *t: reference(*t, gate=lambda z: torch.softmax(z, dim=1)),
     "the gates are a softmax over channels: SE gates each channel on its own with a sigmoid"),
    (lambda *t: reference(*t, gate=torch.tanh), "the gates use tanh, which can be negative: use the sigmoid"),
    (lambda *t: reference(*t, pool=lambda x: x.amax(dim=(2, 3))),
     "the squeeze uses the maximum; SE squeezes each channel by its average"),
    (lambda *t: reference(*t, pool=lambda x: x.sum(dim=(2, 3))),
     "the squeeze sums the positions: average them (divide by H*W)"),
    (lambda x, w1, b1, w2, b2: reference(x, w1, _zero(b1), w2, b2), "the bias b1 of the first layer is missing"),
    (lambda x, w1, b1, w2, b2: reference(x, w1, b1, w2, _zero(b2)), "the bias b2 of the second layer is missing"),
    (lambda *t: reference(*t, transpose=False),
     "the weights are used untransposed: in nn.Linear's layout a layer computes s @ W.T + b"),
    (lambda *t: reference(*t, combine="add"), "the gates are added to x: multiply each channel by its gate"),
]


def inputs() -> list[tuple[str, tuple[torch.Tensor, ...]]]:
    randn = seeded_randn(4)

    return [
        ("x (2, 6, 4, 5), w1 (3, 6), w2 (6, 3) (N=2, C=6, H=4, W=5, r=2)",
         (randn(2, 6, 4, 5), randn(3, 6), randn(3), randn(6, 3), randn(6))),
        ("x (1, 4, 3, 3), w1 (1, 4), w2 (4, 1) (r=4)", (randn(1, 4, 3, 3), randn(1, 4), randn(1), randn(4, 1),
                                                        randn(4))),
        ("float64 x (3, 2, 2, 6), w1 (2, 2), w2 (2, 2) (r=1)",
         tuple(randn(*s, dtype=torch.float64) for s in ((3, 2, 2, 6), (2, 2), (2,), (2, 2), (2,)))),
        ("x (2, 4, 1, 3), w1 (2, 4), w2 (4, 2) (H = 1)", (randn(2, 4, 1, 3), randn(2, 4), randn(2), randn(4, 2),
                                                           randn(4))),
    ]


def diagnose(tensors: tuple[torch.Tensor, ...], got: torch.Tensor) -> str:
    x = tensors[0]
    if got.shape != x.shape:
        hint = f"expected the rescaled features, shape {shape_text(x)} like x, got {shape_text(got)}"
        if close(got, reference(*tensors, combine="gates")):
            hint += ": these are the gates; multiply x by them"
        return hint
    if (problem := not_finite(got)) is not None:
        return problem
    if got.dtype != x.dtype:
        return f"expected dtype {x.dtype}, the input's, got {got.dtype}"
    for mistake, hint in MISTAKES:
        try:
            if close(got, mistake(*tensors)):
                return hint
        except RuntimeError:  # a mistake that cannot happen on these shapes
            continue
    return "the shape is right but the values are not x rescaled channel by channel by the SE gates"


def check_squeeze_excite(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check a squeeze-and-excitation block, written as a function of its weights.

    ``fn(x, w1, b1, w2, b2)`` takes features ``(N, C, H, W)``, ``w1 (C/r, C)``, ``b1 (C/r,)``, ``w2 (C, C/r)``,
    ``b2 (C,)`` (``nn.Linear`` layout) and returns the rescaled features ``(N, C, H, W)``, leaving its inputs
    unchanged. The book trains SE blocks, so a backward pass must reach ``x`` and all four weights.

    Raises:
        CheckFailed: (an ``AssertionError``) naming the input and the step that differs.
    """
    refuse_library(fn, [], "write the SE block yourself")
    for label, tensors in inputs():
        got = call_untouched(fn, label, *tensors)
        if not (close(got, reference(*tensors)) and got.dtype == tensors[0].dtype):
            raise fail(f"on {label}: {diagnose(tensors, got)}.")
    label, tensors = inputs()[0]
    label += ", every tensor with requires_grad=True"
    leaves = [t.detach().clone().double().requires_grad_() for t in tensors]
    got = call_tensor(fn, label, *leaves)
    if not got.requires_grad:
        raise grad_hint(label)
    got.sum().backward()
    twins = [t.detach().clone().double().requires_grad_() for t in tensors]
    reference(*twins).sum().backward()
    for name, leaf, twin in zip(("x", "w1", "b1", "w2", "b2"), leaves, twins, strict=True):
        if leaf.grad is None:
            raise fail(f"on {label}: no gradient reaches {name}, so training could not change it: use {name} in "
                       f"torch operations (no .detach(), no NumPy, no torch.tensor(...) copy).")
        if not close(leaf.grad, twin.grad, rtol=1e-4, atol=1e-6):
            raise fail(f"on {label}: the gradient with respect to {name} is not that of the SE block.")
    passed("squeeze_excite", f"{len(inputs())} inputs (r from 1 to 4, float64, H = 1), gradients to x and all "
           "four weights, inputs left unchanged")
