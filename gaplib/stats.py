"""The book's one rule for comparative claims: paired seeds, an interval, a known false-alarm rate.

Training is a random draw: another seed, CPU or torch release gives another run. A claim such as "A beats B
by more than m" is therefore a claim about the distribution of the paired difference :math:`d_s = A_s - B_s`
over seeds :math:`s`, and the book asserts it only when a confidence interval for the mean of :math:`d`
clears the margin. With a 95% two-sided interval, a true mean at the margin passes at most 2.5% of the time
(the false-alarm rate of the rule), whatever the number of seeds; more seeds only make true effects easier to
confirm. scipy.stats gives the t quantile and the binomial tail; what it lacks is the rule itself, stated once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as _scipy_stats

#: The fewest paired seeds a comparative claim may rest on (the book's standard).
MIN_SEEDS = 8


class Interval(NamedTuple):
    """A mean and its two-sided confidence interval, over ``n`` paired seeds."""

    mean: float
    low: float
    high: float
    n: int
    level: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} ({self.level:.0%} CI {self.low:.3f} to {self.high:.3f}, {self.n} seeds)"


def _values(values: Sequence[float] | np.ndarray, name: str, where: str, fewest: int = 2) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{where}: expected {name} to be one value per seed (1-D), got shape {array.shape}")
    if len(array) < fewest:
        raise ValueError(f"{where}: expected at least {fewest} values in {name}, got {len(array)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: expected finite values in {name}, got {array.tolist()}")
    return array


def _level(level: float, where: str) -> float:
    if not isinstance(level, (int, float)) or not 0.5 <= level < 1:
        raise ValueError(f"{where}: expected level in [0.5, 1), got {level!r}")
    return float(level)


def paired_interval(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray | None = None,
                    level: float = 0.95) -> Interval:
    r"""Student-t interval for the mean paired difference :math:`\bar d` of ``a - b`` (or of ``a`` alone).

    .. math:: \bar d \pm t_{n-1,\,(1+\ell)/2} \; \frac{s_d}{\sqrt{n}}, \qquad
              s_d^2 = \frac{1}{n-1} \sum_s (d_s - \bar d)^2

    Pairing (the same seed for both arms: the same data order and, where the shapes allow, the same
    initialisation) removes the seed-to-seed variation that both arms share.

    Args:
        a: one value per seed for arm A, or the paired differences themselves when ``b`` is None.
        b: one value per seed for arm B, same seeds in the same order.
        level: the two-sided confidence level :math:`\ell`.
    Returns:
        An :class:`Interval` (mean, low, high, n, level).

    Example:
        >>> paired_interval([0.9, 0.8, 0.85], [0.5, 0.55, 0.5]).low > 0.2
        True
    """
    where = "paired_interval"
    level = _level(level, where)
    first = _values(a, "a", where)
    if b is not None:
        second = _values(b, "b", where)
        if second.shape != first.shape:
            raise ValueError(f"{where}: expected a and b paired by seed (same length), got {len(first)} and "
                             f"{len(second)}")
        first = first - second
    n = len(first)
    mean = float(first.mean())
    half = float(_scipy_stats.t.ppf((1 + level) / 2, n - 1) * first.std(ddof=1) / np.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, level)


def sign_test(differences: Sequence[float] | np.ndarray) -> float:
    r"""One-sided sign-test p-value that positive differences are more likely than negative ones.

    .. math:: p = P(K \ge k), \quad K \sim \mathrm{Binomial}(n, 1/2),

    with :math:`k` positive and :math:`n` non-zero differences (ties carry no sign and are dropped). It assumes
    nothing about the shape of the distribution, so it suits differences with outliers (a run that collapses).
    Eight positive signs out of eight give :math:`p = 1/256`.
    """
    where = "sign_test"
    values = _values(differences, "differences", where, fewest=1)
    nonzero = values[values != 0]
    if len(nonzero) == 0:
        raise ValueError(f"{where}: expected at least one non-zero difference, got {values.tolist()}")
    positive = int((nonzero > 0).sum())
    return float(_scipy_stats.binom.sf(positive - 1, len(nonzero), 0.5))


def inside_recorded(value: float, recorded: Sequence[float] | np.ndarray, spreads: float = 4.0,
                    floor: float = 0.02) -> bool:
    r"""Whether a live draw is plausible under a recorded sweep: within ``spreads`` standard deviations.

    .. math:: |x - \bar r| \le k \, \max(s_r, \text{floor})

    A notebook's live run is one more draw of the distribution that its recorded sweep measured (another seed,
    CPU or torch), so it is checked against that distribution, not against the sweep's exact numbers. With
    :math:`k = 4` a draw from a normal distribution falls outside less than 0.01% of the time; ``floor`` keeps
    a sweep whose seeds happened to agree closely from rejecting every other machine.
    """
    where = "inside_recorded"
    if not isinstance(value, (int, float, np.floating)) or not np.isfinite(value):
        raise ValueError(f"{where}: expected a finite number for value, got {value!r}")
    if spreads <= 0 or floor < 0:
        raise ValueError(f"{where}: expected spreads > 0 and floor >= 0, got {spreads!r} and {floor!r}")
    sweep = _values(recorded, "recorded", where)
    return bool(abs(value - sweep.mean()) <= spreads * max(sweep.std(ddof=1), floor))
