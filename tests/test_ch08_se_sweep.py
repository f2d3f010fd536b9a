"""Chapter 8's recorded sweep: the three arms are what its docstring says, the null control is truly null."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from gaplib import attention
from gaplib.models import count_parameters
from gaplib.train import train_classifier

SCRIPT = Path(__file__).resolve().parent.parent / "sweeps" / "ch08_se_context.py"


def _sweep():
    spec = importlib.util.spec_from_file_location("ch08_se_context", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arms_have_the_parameter_counts_the_chapter_quotes():
    sweep = _sweep()
    models = {arm: sweep.build(arm) for arm in ("plain", "se", "frozen")}
    trainable = {arm: count_parameters(model) for arm, model in models.items()}
    assert trainable == {"plain": 5846, "se": 5950, "frozen": 5250}  # the frozen excitations' 700 are fixed
    assert sum(p.numel() for p in models["frozen"].parameters()) == trainable["se"]


def test_frozen_gates_stay_at_one_half_through_training():
    sweep = _sweep()
    torch.manual_seed(0)
    model = sweep.build("frozen")
    images, labels = torch.randn(64, 3, 12, 12), torch.randint(0, 2, (64,))
    train_classifier(model, images, labels, epochs=2, batch_size=16, lr=1e-2, progress=False)
    blocks = [block for block in model.trunk if isinstance(block, attention.SqueezeExcitation)]
    assert len(blocks) == 2
    features = images
    with torch.no_grad():
        for layer in model.trunk:
            if isinstance(layer, attention.SqueezeExcitation):
                assert torch.equal(layer.gate(features), torch.full_like(layer.gate(features), 0.5))
            features = layer(features)


def test_trained_se_gates_are_not_constant():
    """The counterpart: the same recipe without freezing gives a gate that depends on the input."""
    sweep = _sweep()
    torch.manual_seed(0)
    model = sweep.build("se")
    images, labels = torch.randn(64, 3, 12, 12), torch.randint(0, 2, (64,))
    train_classifier(model, images, labels, epochs=2, batch_size=16, lr=1e-2, progress=False)
    first = model.trunk[3]
    with torch.no_grad():
        gate = first.gate(model.trunk[:3](images))
    assert gate.std(dim=0).max() > 1e-3
