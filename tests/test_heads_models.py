"""Heads, models and their cost formulas."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gaplib.heads import FlattenHead, GAPHead, GeMHead, GMPHead, head_cost, make_head, tied_flatten_head
from gaplib.models import conv_trunk, count_parameters, make_classifier


def test_head_cost_matches_the_articles_example_and_the_real_layers():
    gap, flat = head_cost("gap", 128, 64, 64, 10), head_cost("flatten", 128, 64, 64, 10)
    assert (gap.weights, flat.weights) == (1_280, 5_242_880)
    assert flat.bytes - gap.bytes == (5_242_880 - 1_280) * 4  # about 21 MB in float32
    assert gap.params == count_parameters(GAPHead(128, 10))
    assert flat.params == count_parameters(FlattenHead(128, 64, 64, 10))
    assert flat.multiply_adds == 5_242_880 and gap.pooling_adds == 128 * 64 * 64
    assert flat.flops == 2 * 5_242_880 and gap.flops == 2 * 1_280 + 128 * 64 * 64


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "max"}, "'gap' or 'flatten'"),
    ({"channels": 0}, "channels to be a positive int"),
    ({"height": 2.5}, "height to be a positive int"),
])
def test_head_cost_rejects_bad_input(kwargs, message):
    arguments = {"kind": "gap", "channels": 8, "height": 4, "width": 4, "num_classes": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        head_cost(**arguments)


def test_pooling_heads_accept_any_map_size_flatten_head_only_its_own():
    features = torch.rand(2, 8, 5, 7)
    for head in (GAPHead(8, 3), GMPHead(8, 3), GeMHead(8, 3)):
        assert head(features).shape == (2, 3)
        assert head(torch.rand(2, 8, 9, 4)).shape == (2, 3)
    flat = FlattenHead(8, 5, 7, 3)
    assert flat(features).shape == (2, 3)
    with pytest.raises(ValueError, match="only accepts the map size it was built for"):
        flat(torch.rand(2, 8, 7, 5))


def test_make_head_names():
    assert isinstance(make_head("gmp", 4, 2), GMPHead)
    assert isinstance(make_head("flatten", 4, 2, 3, 3), FlattenHead)
    with pytest.raises(ValueError, match="height and width"):
        make_head("flatten", 4, 2)
    with pytest.raises(ValueError, match="expected kind in"):
        make_head("attention", 4, 2)


def test_classifiers_share_the_trunk_shape_and_differ_only_in_the_head():
    models = {kind: make_classifier(kind, 10, 32, widths=(8, 16)) for kind in ("gap", "gmp", "gem", "flatten")}
    x = torch.rand(3, 1, 32, 32)
    for model in models.values():
        assert model(x).shape == (3, 10)
        assert model.features(x).shape == (3, 16, 16, 16)
    trunk_params = count_parameters(models["gap"].trunk)
    assert count_parameters(models["flatten"]) - trunk_params == 16 * 16 * 16 * 10 + 10
    assert count_parameters(models["gap"]) - trunk_params == 16 * 10 + 10


def test_circular_trunk_with_gap_is_exactly_shift_invariant_for_circular_shifts():
    torch.manual_seed(0)
    model = make_classifier("gap", 4, 16, widths=(6, 8), downsample=(False, False), padding_mode="circular").double()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    assert torch.allclose(model(torch.roll(x, (3, -5), dims=(2, 3))), model(x), atol=1e-12)


def test_trunk_arguments_are_checked():
    with pytest.raises(ValueError, match="at least one block"):
        conv_trunk(widths=())
    with pytest.raises(ValueError, match="downsample flags"):
        conv_trunk(widths=(4, 8), downsample=(True,))


@settings(max_examples=25, deadline=None)
@given(channels=st.integers(1, 6), height=st.integers(1, 5), width=st.integers(1, 5), classes=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_tied_flatten_head_reproduces_the_gap_head(channels, height, width, classes, seed):
    torch.manual_seed(seed)
    gap = GAPHead(channels, classes).double()
    flat = tied_flatten_head(gap, height, width)
    features = torch.randn(3, channels, height, width, dtype=torch.float64)
    assert isinstance(flat, FlattenHead) and flat.linear.weight.dtype == torch.float64
    assert torch.allclose(flat(features), gap(features), atol=1e-12)
    # untied weights are what lets a flatten head see position; tied ones do not
    assert torch.allclose(flat(torch.roll(features, (1, 2), dims=(2, 3))), gap(features), atol=1e-12)


def test_tied_flatten_head_is_an_independent_copy_and_checks_its_input():
    gap = GAPHead(3, 2)
    flat = tied_flatten_head(gap, 2, 2)
    with torch.no_grad():
        flat.linear.weight.zero_()
    assert gap.linear.weight.abs().sum() > 0
    with pytest.raises(TypeError, match="expected a GAPHead, got GMPHead"):
        tied_flatten_head(GMPHead(3, 2), 2, 2)
    with pytest.raises(ValueError, match="height to be a positive int"):
        tied_flatten_head(gap, 0, 2)


def test_batch_norm_trunk_keeps_its_shape_and_circular_invariance_in_eval_mode():
    torch.manual_seed(0)
    plain = make_classifier("gap", 4, 16, widths=(6, 8), downsample=(False, False), padding_mode="circular")
    model = make_classifier("gap", 4, 16, widths=(6, 8), downsample=(False, False), padding_mode="circular",
                            batch_norm=True)
    norms = [m for m in model.trunk if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 2 and count_parameters(model) == count_parameters(plain) + 2 * (6 + 8)
    # building the model (its shape probe) must not have touched the running statistics
    assert all(torch.equal(m.running_mean, torch.zeros_like(m.running_mean)) for m in norms)
    model.train()
    model(torch.rand(8, 1, 16, 16))  # move the running statistics away from (0, 1)
    model = model.eval().double()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    assert torch.allclose(model(torch.roll(x, (5, -3), dims=(2, 3))), model(x), atol=1e-12)
