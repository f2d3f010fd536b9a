"""Exercise 3: a classifier head's parameters, float32 bytes and FLOPs, GAP head against flatten head."""

from __future__ import annotations

from collections.abc import Callable

from gaplib.checks._core import call, fail, number, passed
from gaplib.heads import head_cost


def check_head_cost(fn: Callable[[str, int, int, int, int], tuple]) -> None:
    r"""Check a count of a classifier head's parameters, float32 bytes and FLOPs.

    ``fn(kind, channels, height, width, num_classes)`` with ``kind`` ``"gap"`` or ``"flatten"`` must return
    ``(params, bytes, flops)`` for one image: weights plus biases of the linear layer; 4 bytes per parameter;
    2 FLOPs per multiply-add plus, for GAP, one addition per activation (:math:`CHW`).

    Raises:
        CheckFailed: naming the quantity that is wrong and the head it is wrong on.
    """
    cases = [("gap", 128, 64, 64, 10), ("flatten", 128, 64, 64, 10), ("gap", 3, 5, 7, 2), ("flatten", 3, 5, 7, 2),
             ("flatten", 1, 1, 1, 1)]
    for kind, channels, height, width, classes in cases:
        label = f"kind={kind!r}, C={channels}, H={height}, W={width}, K={classes}"
        result = call(fn, label, kind, channels, height, width, classes)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise fail(f"on {label}: expected a tuple (params, bytes, flops), got {result!r}")
        params, size, flops = (number(v, label, name) for v, name in zip(result, ("params", "bytes", "flops"),
                                                                             strict=True))
        cost = head_cost(kind, channels, height, width, classes)
        inputs = channels * (height * width if kind == "flatten" else 1)
        if params != cost.params:
            if params == cost.weights:
                raise fail(f"on {label}: params is {params:.0f}, the weights alone: count the K biases too.")
            if kind == "flatten" and params == classes * channels + classes:
                raise fail(f"on {label}: params is {params:.0f}, as if the head were GAP: a flatten "
                                     f"head has one weight per class, channel *and position*.")
            raise fail(f"on {label}: params is {params:.0f}, not the weights plus biases of a linear "
                                 f"layer from {inputs} inputs to {classes} classes.")
        if size != cost.bytes:
            ratio = size / cost.params
            hint = f"{ratio:g} bytes per parameter" if ratio == int(ratio) else "not a whole number per parameter"
            raise fail(f"on {label}: bytes is {size:.0f}, that is {hint}; float32 takes 4.")
        if flops != cost.flops:
            if flops == cost.multiply_adds + cost.pooling_adds:
                raise fail(f"on {label}: flops is {flops:.0f}: count a multiply-add as two FLOPs.")
            if kind == "gap" and flops == 2 * cost.multiply_adds:
                raise fail(f"on {label}: flops is {flops:.0f}: the pooling itself is not free, add "
                                     f"its additions (one per activation).")
            if flops in (cost.flops + classes, cost.flops + 2 * classes):
                raise fail(f"on {label}: flops is {flops:.0f}: leave the bias additions out.")
            raise fail(f"on {label}: flops is {flops:.0f}, not 2 per multiply-add plus the pooling's "
                                 f"additions.")
    passed("count_head", "both heads on 5 shapes (1 x 1 maps included): params, bytes and FLOPs")
