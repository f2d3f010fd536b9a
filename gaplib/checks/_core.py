"""What every exercise checker shares: calling the student's function safely, and speaking to the student.

A checker calls the student's function on inputs chosen to tell mistakes apart and compares with a reference.
It fails with :class:`CheckFailed`, whose message names the input and the mistake and never the solution; in
Jupyter and Colab that message is all the student sees (no traceback through this package). A right answer
prints one line saying what was checked, so that a pass cannot be confused with a cell that did not run.
"""

from __future__ import annotations

import math
import textwrap
import types
from collections.abc import Callable, Iterable

import numpy as np
import torch


class CheckFailed(AssertionError):
    """A check that did not pass: the message is the hint, shown without a traceback in IPython."""

    def _render_traceback_(self) -> list[str]:
        # IPython (Jupyter, Colab) calls this instead of formatting a traceback through the checker's code.
        return [f"\x1b[1;31m✗ Not yet:\x1b[0m {self}"]


def fail(message: str) -> CheckFailed:
    """The exception to raise: ``raise fail(...)`` reads as what it does."""
    return CheckFailed(message)


def passed(what: str, checked: str) -> None:
    """Tell the student the answer is right, and what was checked, in lines that fit the code column."""
    # Wrapped at 78 characters: the book shows cell outputs in an 80-character column, Colab a little wider.
    print(textwrap.fill(f"✓ {what} passes: {checked}.", width=78, subsequent_indent="  "))


def seeded_randn(seed: int) -> Callable[..., torch.Tensor]:
    """``randn(*shape, dtype=...)`` drawing from its own generator: a checker's inputs are the same every run."""
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    return randn


def shape_text(x: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in x.shape) + ")"


# What a crash usually means, by the exception's type: the raw message stays, the hint comes first.
_CRASH_HINTS = {
    "NotImplementedError": "you have not written it yet (the stub raises this); write the function and run "
                           "the cell again",
    "IndexError": "an index or a dim does not exist for this input; does your code assume a number of dims or "
                  "a size of at least 2?",
    "RuntimeError": "torch refused an operation, often because two shapes do not match or a dtype differs",
    "TypeError": "a value of the wrong type reached an operation (a tensor where a number was expected, or "
                 "the reverse?)",
    "ValueError": "an operation got a value it cannot use",
    "AttributeError": "a method or attribute that this kind of object does not have",
    "ZeroDivisionError": "a division by zero: which count can be 0 on this input?",
    "KeyError": "a dictionary lookup failed",
}


def call(fn: Callable, label: str, *args: object) -> object:
    """Call a candidate; a crash becomes a hint naming the input and what that kind of crash usually means."""
    try:
        return fn(*args)
    except CheckFailed:
        raise
    except Exception as error:  # a student's crash becomes a hint, not a traceback
        name = type(error).__name__
        hint = _CRASH_HINTS.get(name, "an error inside your function")
        end = "" if hint.endswith("?") else "."
        raise fail(f"your function raised {name} on {label}: {error}\n  Hint: {hint}{end}") from None


def call_tensor(fn: Callable, label: str, *args: object) -> torch.Tensor:
    """Call a candidate that must return a tensor."""
    result = call(fn, label, *args)
    if not isinstance(result, torch.Tensor):
        raise fail(f"on {label}: expected a torch.Tensor, got {type(result).__name__}. Stay in torch (a NumPy "
                   f"array cannot carry gradients).")
    return result


def call_untouched(fn: Callable, label: str, *args: object, tensor: bool = True) -> object:
    """Call a candidate on copies of the tensor arguments and fail if it changed any of them in place."""
    copies = [a.detach().clone().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a
              for a in args]
    result = (call_tensor if tensor else call)(fn, label, *copies)
    for position, (original, copy) in enumerate(zip(args, copies, strict=True)):
        if isinstance(original, torch.Tensor) and not same_values(original, copy.detach()):
            raise fail(f"on {label}: your function changed its input (argument {position + 1}) in place, "
                       f"e.g. with `x -= ...`, `x[...] = ...`, `x.clamp_()` or `x.pow_()`. Leave the inputs as "
                       f"they are: compute on a copy, or with out-of-place operations.")
    return result


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.equal(a, b) or (torch.isnan(a) == torch.isnan(b)).all()
                                       and torch.equal(a.nan_to_num(0.0), b.nan_to_num(0.0)))


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Same shape and values; NaN is never close to anything."""
    return a.shape == b.shape and bool(torch.allclose(a.detach().double(), b.detach().double(), rtol=rtol,
                                                      atol=atol))


def not_finite(x: torch.Tensor) -> str | None:
    """A hint when a tensor holds NaN or inf, else None."""
    if torch.isnan(x).any():
        return "your output contains NaN (a 0/0, a log or root of a negative number, or an empty mean?)"
    if torch.isinf(x).any():
        return "your output contains inf (a division by zero or an overflow?)"
    return None


def best_scale(got: torch.Tensor, expected: torch.Tensor) -> float:
    """The factor s minimising |got - s * expected|: a wrong normalisation shows up as s != 1."""
    expected = expected.detach().double()
    return ((got.detach().double() * expected).sum() / expected.pow(2).sum().clamp(min=1e-300)).item()


def number(value: object, label: str, what: str) -> float:
    """A Python float from a number or a one-element tensor, or a hint saying what came instead."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise fail(f"on {label}: expected {what} to be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise fail(f"on {label}: {what} is {value}, not a finite number")
    return value


def refuse_library(fn: Callable, references: Iterable[Callable], task: str) -> None:
    """Refuse gaplib's own solution, passed directly or called by a thin wrapper, with a friendly word."""
    references = list(references)
    if any(fn is ref for ref in references) or _module_of(fn).startswith("gaplib."):
        raise fail(f"that is gaplib's own {_name(fn)}, not yours. The point of this exercise is to {task}: write "
                   f"your own function, then run the check again.")
    code, names = getattr(fn, "__code__", None), set()
    if code is not None:
        names = _names_used(code)
    found = [ref for ref in references if ref.__name__ in names
             and _refers_to_gaplib(getattr(fn, "__globals__", {}), names, ref)]
    if found:
        raise fail(f"your function calls gaplib's own {found[0].__name__}, which is the answer itself. The point "
                   f"of this exercise is to {task}: write your own function, then run the check again.")


def _module_of(fn: Callable) -> str:
    return (getattr(fn, "__module__", None) or "") + "."


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", "function")


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_used(constant)
    return names


def _refers_to_gaplib(namespace: dict, names: set[str], reference: Callable) -> bool:
    for name in names:
        if name.startswith("gaplib"):  # a module imported inside the function
            return True
        value = namespace.get(name)
        if value is reference:
            return True
        if isinstance(value, types.ModuleType) and value.__name__.startswith("gaplib"):
            return True
    return False


def grad_hint(label: str) -> CheckFailed:
    return fail(f"on {label}: the output does not require grad, so the layer could not be trained. Stay in "
                f"torch: no NumPy, no .detach(), no .item(), no torch.tensor(...) around a result, no "
                f"torch.no_grad().")
