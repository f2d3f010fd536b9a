"""Heads, models and their cost formulas."""

import pytest
import torch

from gaplib.heads import FlattenHead, GAPHead, GeMHead, GMPHead, head_cost, make_head
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
