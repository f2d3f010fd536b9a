r"""Exercise 2: the pooled error's variance by simulation, against the law :math:`\sigma^2 / (HW)`."""

from __future__ import annotations

import math
from collections.abc import Callable

from gaplib.checks._core import call, fail, number, passed


def check_pooled_noise_variance(fn: Callable[[int, float, int, int], float]) -> None:
    r"""Check a simulation of the pooled error's variance, whose law is :math:`\sigma^2 / (HW)`.

    ``fn(side, sigma, n_maps, seed)`` must draw ``n_maps`` maps of ``side x side`` positions with independent
    zero-mean noise of standard deviation ``sigma`` around a signal, pool each with GAP, and return the sample
    variance of the pooled error, as a number. The same seed must give the same number; another seed, another.

    Raises:
        CheckFailed: when the estimate is off by more than the sampling error, saying by how much.
    """
    cases = [(4, 1.0, 4000, 0), (8, 2.0, 4000, 1), (3, 0.5, 4000, 2), (16, 1.0, 2000, 3)]
    for side, sigma, n_maps, seed in cases:
        label = f"side={side}, sigma={sigma}, n_maps={n_maps}, seed={seed}"
        value = number(call(fn, label, side, sigma, n_maps, seed), label, "the variance")
        law = sigma**2 / side**2
        # six standard errors of a sample variance: a correct simulation fails about once in a billion runs
        tolerance = 6 * math.sqrt(2 / (n_maps - 1))
        ratio = value / law
        if abs(ratio - 1) <= tolerance:
            continue
        positions = side * side
        if value > 0 and abs(math.sqrt(value) / law - 1) <= tolerance:
            hint = "the square of your number is: you returned a variance of something else, or squared twice"
        elif abs(value / math.sqrt(law) - 1) <= tolerance:
            hint = "that is a standard deviation: return the variance"
        elif abs(ratio / positions - 1) <= tolerance:
            hint = f"it is {positions} = H*W times too large: that is the noise of one position, did you pool?"
        elif abs(ratio / positions**2 - 1) <= tolerance:
            hint = f"it is (H*W)^2 = {positions**2} times too large: that is a sum, not a mean"
        elif ratio > 1 + tolerance and value > sigma**2:
            hint = "it exceeds the noise of a single position: did you subtract the signal before squaring?"
        else:
            hint = f"it is {ratio:.3g} times the law sigma^2/(H*W), beyond the sampling tolerance of ±{tolerance:.2f}"
        raise fail(f"on {label}: your variance {value:.4g} does not match: {hint}.")
    label = "side=4, sigma=1.0, n_maps=4000"
    first, again = (number(call(fn, label, 4, 1.0, 4000, 0), label, "the variance") for _ in range(2))
    other = number(call(fn, label, 4, 1.0, 4000, 7), label, "the variance")
    if first != again:
        raise fail(f"on {label}: two calls with seed=0 gave {first!r} and {again!r}: seed your random "
                             f"generator with the seed argument.")
    if first == other:
        raise fail(f"on {label}: seeds 0 and 7 gave the same {first!r}: simulate the noise from the seed "
                             f"rather than computing the formula.")
    passed("pooled_noise_variance", "4 map sizes within 6 standard errors of the law, same seed same number")
