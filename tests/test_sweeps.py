"""The recorded sweeps and the rule that asserts claims on them (gaplib.stats, gaplib.evidence, tools/run_sweep.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gaplib import evidence, stats
from gaplib.evidence import Claim
from gaplib.train import offset_seed, seed_everything, train_classifier

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import run_sweep  # noqa: E402

SCRIPTS = sorted(run_sweep.SWEEPS.glob("ch*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_recorded_results_come_from_the_current_code(script: Path) -> None:
    recorded = run_sweep.RECORDED / f"{script.stem}.json"
    assert recorded.is_file(), f"{script.name} has no recorded results: run python tools/run_sweep.py {script}"
    data = json.loads(recorded.read_text())
    assert data["code_sha256"] == run_sweep.fingerprint(script), (
        f"{script.name} or the gaplib code it imports changed since its results were recorded: "
        f"run python tools/run_sweep.py sweeps/{script.name} (or make sweeps) and commit the new results")
    assert data["claims"] == run_sweep.claims_of(run_sweep.load_script(script)), (
        f"{script.name}'s CLAIMS differ from the recorded ones: "
        f"python tools/run_sweep.py --claims sweeps/{script.name}")


@pytest.mark.parametrize("name", evidence.names())
def test_every_recorded_claim_holds_on_at_least_eight_seeds(name: str) -> None:
    sweep = evidence.load(name)
    assert len(sweep.seeds) >= stats.MIN_SEEDS and len(set(sweep.seeds)) == len(sweep.seeds)
    assert all(len(values) == len(sweep.seeds) for values in sweep.results.values())
    assert sweep.claims, f"{name} records no claim"
    assert len(sweep.verify()) == len(sweep.claims)
    assert (ROOT / sweep.record["script"]).is_file(), f"{name}: its script {sweep.record['script']} is gone"


def test_fingerprint_ignores_docstrings_and_claims_but_not_code(tmp_path: Path) -> None:
    script = tmp_path / "ch99_probe.py"
    body = 'from gaplib.pooling import global_avg_pool\nSEEDS = range(8)\nCLAIMS = ()\n\ndef one_seed(seed):\n'
    script.write_text(f'"""One wording."""\n{body}    """Say it."""\n    return {{"x": 1.0}}\n')
    first = run_sweep.fingerprint(script)
    script.write_text(f'"""Another wording."""\n{body.replace("CLAIMS = ()", "CLAIMS = (1,)")}'
                      '    # a comment\n    return {"x": 1.0}\n')
    assert run_sweep.fingerprint(script) == first
    script.write_text(f'{body}    return {{"x": 2.0}}\n')
    assert run_sweep.fingerprint(script) != first


def test_paired_interval_matches_the_t_formula() -> None:
    a, b = np.array([0.9, 0.8, 0.85, 0.95]), np.array([0.5, 0.55, 0.5, 0.6])
    d = a - b
    half = 3.182446305284263 * d.std(ddof=1) / 2  # t_{3, 0.975}, sqrt(4) = 2
    interval = stats.paired_interval(a, b)
    assert interval.mean == pytest.approx(d.mean()) and interval.n == 4
    assert (interval.low, interval.high) == pytest.approx((d.mean() - half, d.mean() + half))
    with pytest.raises(ValueError, match="paired by seed"):
        stats.paired_interval([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2"):
        stats.paired_interval([1.0])
    with pytest.raises(ValueError, match="finite"):
        stats.paired_interval([1.0, float("nan")])


def test_the_interval_rule_has_the_stated_false_alarm_rate() -> None:
    # a true mean exactly at the margin: the rule may pass it about 2.5% of the time, never much more
    generator = np.random.default_rng(0)
    claim = Claim("gain above 0.05", "gain", above=0.05)
    passes = [claim.holds(0.05 + 0.04 * generator.standard_normal(8)) for _ in range(4000)]
    assert 0.015 < np.mean(passes) < 0.035, np.mean(passes)
    # and a real effect of two standard deviations is confirmed on most draws of eight seeds
    assert np.mean([claim.holds(0.13 + 0.04 * generator.standard_normal(8)) for _ in range(500)]) > 0.9


def test_a_claim_fails_on_a_null_effect_under_every_rule() -> None:
    null = np.array([0.01, -0.02, 0.015, -0.01, 0.0, 0.02, -0.015, 0.005])
    for rule in ("interval", "sign", "every"):
        assert not Claim("a gain", "gain", above=0.0, rule=rule).holds(null), rule
    sweep = evidence.Evidence("probe", tuple(range(8)), {"gain": null}, (Claim("a gain", "gain", above=0.0),))
    with pytest.raises(AssertionError, match="does not hold"):
        sweep.verify()


def test_sign_test_and_two_sided_claims() -> None:
    assert stats.sign_test(np.ones(8)) == pytest.approx(1 / 256)
    assert stats.sign_test([1, -1, 0, 1]) == pytest.approx(0.5)
    equivalent = Claim("no difference beyond 0.05", "d", above=-0.05, below=0.05)
    assert equivalent.holds(np.array([0.01, -0.01, 0.0, 0.02, -0.02, 0.01, 0.0, -0.01]))
    assert not equivalent.holds(np.array([0.06, 0.04, 0.07, 0.05, 0.06, 0.08, 0.05, 0.06]))
    with pytest.raises(ValueError, match="expected a bound"):
        Claim("nothing", "d")
    with pytest.raises(ValueError, match="rule"):
        Claim("x", "d", above=0.0, rule="vibes")


def test_check_live_rejects_a_draw_far_outside_the_sweep() -> None:
    sweep = evidence.Evidence("probe", tuple(range(8)), {"acc": np.linspace(0.80, 0.88, 8)}, ())
    sweep.check_live("acc", 0.86)
    with pytest.raises(AssertionError, match="outside the recorded sweep"):
        sweep.check_live("acc", 0.5)


def test_the_seed_offset_shifts_training_draws_and_keeps_data(monkeypatch: pytest.MonkeyPatch) -> None:
    def draw() -> tuple[float, list[float]]:
        seed_everything(3)
        model = torch.nn.Linear(4, 2)
        x, y = torch.ones(16, 4), torch.arange(16) % 2
        losses = train_classifier(model, x, y, epochs=1, batch_size=4, progress=False)
        return model.weight.sum().item(), losses

    monkeypatch.delenv("GAPLIB_SEED_OFFSET", raising=False)
    base = draw()
    assert offset_seed(3) == 3 and draw() == base
    monkeypatch.setenv("GAPLIB_SEED_OFFSET", "5")
    assert offset_seed(3) == 8 and draw() != base
    monkeypatch.setenv("GAPLIB_SEED_OFFSET", "five")
    with pytest.raises(ValueError, match="GAPLIB_SEED_OFFSET"):
        offset_seed(3)
    assert os.environ["GAPLIB_SEED_OFFSET"] == "five"
