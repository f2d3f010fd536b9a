"""Recorded sweeps: the many-seed evidence behind the book's comparative claims.

A notebook can afford a few seeds at one thread; a claim needs at least :data:`gaplib.stats.MIN_SEEDS`, at a
budget where the models fit. The heavier runs are scripts in ``sweeps/`` (``make sweeps``); each writes one
JSON file into ``gaplib/recorded/sweeps/`` with its per-seed results, the claims it supports, a fingerprint of the
code that ran and the machine it ran on. The notebook loads that file, shows the distribution, asserts the
claims on it (:meth:`Evidence.verify`) and checks that its own live seeds are plausible draws of it
(:meth:`Evidence.check_live`). The files ship inside the package, so Colab reads the same evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from gaplib.stats import MIN_SEEDS, Interval, inside_recorded, paired_interval, sign_test

#: The rules a claim can be asserted with, and the false-alarm rate of each at its boundary.
RULES = {
    "interval": "95% t interval of the mean clears the bound (false alarm <= 2.5% at the bound)",
    "sign": "one-sided sign test against the bound, p <= 0.01",
    "every": "every seed clears the bound (only for effects many standard deviations wide)",
}


@dataclass(frozen=True)
class Claim:
    """One conclusion about a recorded metric: its mean lies above ``above`` and/or below ``below``.

    ``metric`` names a per-seed value of the sweep (often a paired difference such as ``gap - flatten``), so
    "A beats B by more than m" is ``Claim(text, "a_minus_b", above=m)`` and "no difference larger than m" is
    ``Claim(text, "a_minus_b", above=-m, below=m)``, a two-sided test of equivalence.
    """

    text: str
    metric: str
    above: float | None = None
    below: float | None = None
    rule: str = "interval"

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"Claim: expected the claim's sentence as text, got {self.text!r}")
        if self.above is None and self.below is None:
            raise ValueError(f"Claim {self.text!r}: expected a bound, above=... and/or below=..., got neither")
        if self.rule not in RULES:
            raise ValueError(f"Claim {self.text!r}: expected rule in {sorted(RULES)}, got {self.rule!r}")

    def holds(self, values: np.ndarray) -> bool:
        """Whether the rule accepts the claim on these per-seed values."""
        checks = []
        for bound, sign in ((self.above, 1.0), (self.below, -1.0)):
            if bound is None:
                continue
            margin = sign * (values - bound)
            if self.rule == "interval":
                checks.append(paired_interval(margin).low > 0)
            elif self.rule == "sign":
                checks.append(bool(np.any(margin != 0)) and sign_test(margin) <= 0.01)
            else:
                checks.append(bool(np.all(margin > 0)))
        return all(checks)


@dataclass(frozen=True)
class Evidence:
    """One recorded sweep: per-seed results, the claims they support, and where they came from."""

    name: str
    seeds: tuple[int, ...]
    results: dict[str, np.ndarray]
    claims: tuple[Claim, ...]
    environment: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    def values(self, metric: str) -> np.ndarray:
        """The per-seed values of ``metric`` (one row per seed)."""
        if metric not in self.results:
            raise KeyError(f"{self.name}: no metric {metric!r}; recorded: {sorted(self.results)}")
        return self.results[metric]

    def interval(self, metric: str, level: float = 0.95) -> Interval:
        """The mean of ``metric`` over the recorded seeds and its t interval (:func:`gaplib.stats.paired_interval`)."""
        return paired_interval(self.values(metric), level=level)

    def verify(self) -> list[tuple[Claim, Interval]]:
        """Assert every claim on the recorded seeds; return each claim with its interval, for the page."""
        if len(self.seeds) < MIN_SEEDS:
            raise AssertionError(f"{self.name}: {len(self.seeds)} seeds recorded, a claim needs >= {MIN_SEEDS}")
        verified = []
        for claim in self.claims:
            values = self.values(claim.metric)
            assert claim.holds(values), (f"{self.name}: the claim {claim.text!r} does not hold on the recorded "
                                         f"seeds: {self.interval(claim.metric)}; values {np.round(values, 3)}")
            verified.append((claim, self.interval(claim.metric)))
        return verified

    def check_live(self, metric: str, value: float, spreads: float = 4.0, floor: float = 0.02) -> None:
        """Assert that a live run's ``value`` is a plausible draw of the recorded distribution of ``metric``."""
        recorded = self.values(metric)
        assert inside_recorded(float(value), recorded, spreads, floor), (
            f"{self.name}: the live {metric} = {value:.4f} lies outside the recorded sweep "
            f"(mean {recorded.mean():.4f}, sd {recorded.std(ddof=1):.4f}, {len(recorded)} seeds): "
            "this machine's run differs from the evidence more than another seed would")


def _claim_from_json(entry: dict[str, Any]) -> Claim:
    return Claim(entry["text"], entry["metric"], entry.get("above"), entry.get("below"), entry.get("rule", "interval"))


def from_json(data: dict[str, Any]) -> Evidence:
    """An :class:`Evidence` from the dictionary a sweep wrote (``tools/run_sweep.py``)."""
    results = {metric: np.asarray(values, dtype=float) for metric, values in data["results"].items()}
    return Evidence(data["name"], tuple(data["seeds"]), results,
                    tuple(_claim_from_json(entry) for entry in data["claims"]),
                    data.get("environment", {}), {k: v for k, v in data.items() if k not in ("results", "claims")})


def names() -> list[str]:
    """The names of every recorded sweep shipped with gaplib."""
    folder = resources.files("gaplib") / "recorded" / "sweeps"
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".json"))


def load(name: str) -> Evidence:
    """The recorded sweep ``name`` (a file ``gaplib/recorded/sweeps/<name>.json``, written by ``make sweeps``)."""
    if not isinstance(name, str):
        raise TypeError(f"load: expected a sweep name as str, got {type(name).__name__}")
    path = resources.files("gaplib") / "recorded" / "sweeps" / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"load: expected one of the recorded sweeps {names()}, got {name!r}")
    return from_json(json.loads(path.read_text()))
