"""The tiny vision transformer (gaplib.tokens): the token-CAM identity, the bag of tokens, and bad input."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gaplib.models import count_parameters
from gaplib.tokens import (
    AttentionPool,
    PatchEmbedding,
    TinyViT,
    digits_at_places,
    fit_tiny_vit,
    pool_tokens,
    token_class_maps,
    train_with_warmup,
)

settings.register_profile("course", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("course")


def _model(seed, readout="gap", position="learned", size=8, patch=4, classes=3, dim=8, heads=2):
    torch.manual_seed(seed)
    return TinyViT(size, patch, classes, readout, position, dim=dim, depth=2, heads=heads).double().eval()


def _permute_patches(images, patch, order):
    n, c, height, width = images.shape
    grid_h, grid_w = height // patch, width // patch
    tiles = images.reshape(n, c, grid_h, patch, grid_w, patch).permute(0, 1, 2, 4, 3, 5)
    tiles = tiles.reshape(n, c, grid_h * grid_w, patch, patch)[:, :, order]
    tiles = tiles.reshape(n, c, grid_h, grid_w, patch, patch).permute(0, 1, 2, 4, 3, 5)
    return tiles.reshape(n, c, height, width)


@settings(max_examples=20)  # each example builds a transformer
@given(st.integers(0, 2**31 - 1), st.sampled_from([(8, 4), (8, 2), (12, 4), (6, 3)]), st.integers(2, 5),
       st.sampled_from(["learned", "none"]))
def test_mean_of_the_token_cam_plus_bias_is_the_logit(seed, size_patch, classes, position):
    size, patch = size_patch
    model = _model(seed, "gap", position, size, patch, classes)
    images = torch.randn(3, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        maps = token_class_maps(model.patch_tokens(images), model.linear.weight)
        logits = model(images)
    assert maps.shape == (3, classes, (size // patch) ** 2)
    assert torch.allclose(maps.mean(dim=2) + model.linear.bias, logits, atol=1e-10)


@settings(max_examples=10)
@given(st.integers(0, 2**31 - 1))
def test_the_identity_fails_for_the_cls_readout(seed):
    # The same construction on a CLS model misses the logits: the identity is the mean's, not any model's.
    model = _model(seed, "cls")
    images = torch.randn(4, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        maps = token_class_maps(model.patch_tokens(images), model.linear.weight)
        assert not torch.allclose(maps.mean(dim=2) + model.linear.bias, model(images), atol=1e-6)


@settings(max_examples=15)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["gap", "gmp", "map"]))
def test_without_positions_the_model_is_a_bag_of_patches(seed, readout):
    model = _model(seed, readout, "none", size=12)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(2, 1, 12, 12, dtype=torch.float64, generator=generator)
    order = torch.randperm(9, generator=generator)
    with torch.no_grad():
        assert torch.allclose(model(_permute_patches(images, 4, order)), model(images), atol=1e-10)


def test_position_embeddings_make_the_order_of_patches_matter():
    model = _model(0, "gap", "learned", size=12)
    with torch.no_grad():
        model.positions.normal_()
        images = torch.randn(2, 1, 12, 12, dtype=torch.float64)
        swapped = _permute_patches(images, 4, torch.tensor([8, 7, 6, 5, 4, 3, 2, 1, 0]))
        assert not torch.allclose(model(swapped), model(images), atol=1e-3)


def test_readouts_differ_only_by_the_cls_token_and_the_attention_pool():
    sizes = {r: count_parameters(TinyViT(16, 4, 4, r, dim=32, heads=4)) for r in ("cls", "gap", "gmp", "map")}
    assert sizes["gap"] == sizes["gmp"]
    assert sizes["cls"] == sizes["gap"] + 32
    assert sizes["map"] == sizes["gap"] + 32 + 4 * 32 * 32 + 4 * 32  # query, in/out projections, biases


def test_cls_attention_is_a_distribution_over_the_patches():
    model = _model(1, "cls", size=8, patch=2)
    images = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        weights = model.cls_attention(images)
        to_itself = model.encode(images)[1][-1][:, :, 0, 0].mean(dim=1)
    assert weights.shape == (5, 16) and (weights >= 0).all()
    assert torch.allclose(weights.sum(dim=1) + to_itself, torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="needs readout 'cls'"):
        _model(1, "gap").cls_attention(torch.randn(1, 1, 8, 8, dtype=torch.float64))


def test_attention_pool_weights_sum_to_one_and_pool_identical_tokens_to_one_value():
    torch.manual_seed(0)
    pool = AttentionPool(8, 2).double()
    tokens = torch.randn(3, 5, 8, dtype=torch.float64)
    weights = pool.weights(tokens)
    assert weights.shape == (3, 2, 5)
    assert torch.allclose(weights.sum(dim=2), torch.ones(3, 2, dtype=torch.float64))
    same = tokens[:, :1].expand(3, 7, 8)
    assert torch.allclose(pool(same), pool(tokens[:, :1]), atol=1e-12)


def test_pool_tokens_is_the_mean_and_the_max_over_tokens():
    tokens = torch.tensor([[[1.0, -2.0], [3.0, 0.0], [-1.0, 5.0]]])
    assert torch.equal(pool_tokens(tokens, "gap"), torch.tensor([[1.0, 1.0]]))
    assert torch.equal(pool_tokens(tokens, "gmp"), torch.tensor([[3.0, 5.0]]))
    with pytest.raises(ValueError, match="expected readout 'gap' or 'gmp'"):
        pool_tokens(tokens, "cls")
    with pytest.raises(ValueError, match=r"expected tokens of shape \(N, T, D\)"):
        pool_tokens(torch.zeros(2, 3), "gap")
    with pytest.raises(TypeError, match="torch.Tensor"):
        pool_tokens([[1.0]], "gap")


def test_patch_embedding_cuts_patches_row_by_row():
    embed = PatchEmbedding(2, 1)
    with torch.no_grad():
        embed.project.weight.fill_(1.0)
        embed.project.bias.zero_()
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(embed(image)[0, :, 0], torch.tensor([0 + 1 + 4 + 5, 2 + 3 + 6 + 7, 8 + 9 + 12 + 13,
                                                            10 + 11 + 14 + 15.0]))
    with pytest.raises(ValueError, match="multiples of 2"):
        embed(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        embed(torch.zeros(4, 4))


def test_token_class_maps_checks_the_weight():
    with pytest.raises(ValueError, match=r"expected weight \(K, D\) with D = 4"):
        token_class_maps(torch.zeros(1, 3, 4), torch.zeros(2, 5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        token_class_maps(torch.zeros(1, 3, 4), [[0.0] * 4])


@pytest.mark.parametrize("kwargs, message", [
    (dict(readout="mean"), "expected readout in"),
    (dict(position="sincos"), "expected position in"),
    (dict(patch_size=3), "expected patch_size to divide image_size"),
    (dict(heads=3), "expected heads to divide dim"),
    (dict(num_classes=0), "expected num_classes to be a positive int"),
])
def test_tiny_vit_refuses_bad_settings(kwargs, message):
    settings_ = dict(image_size=8, patch_size=4, num_classes=2, dim=8, heads=2) | kwargs
    with pytest.raises(ValueError, match=message):
        TinyViT(**settings_)


def test_learned_positions_fix_the_size_and_no_positions_accept_any():
    with pytest.raises(ValueError, match="built for 2x2 patches"):
        _model(0, "gap", "learned")(torch.randn(1, 1, 12, 12, dtype=torch.float64))
    assert _model(0, "gap", "none")(torch.randn(2, 1, 12, 16, dtype=torch.float64)).shape == (2, 3)


def _tiny_task(n=16, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, size, size, generator=generator), torch.arange(n) % 2


def test_warmup_rises_linearly_then_decays_along_a_cosine():
    # The schedule, read back from the optimiser: every step's rate is what the docstring's formula says.
    seen = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy
    try:
        images, labels = _tiny_task()
        torch.manual_seed(0)
        model = TinyViT(8, 4, 2, "gap", dim=8, heads=2)
        train_with_warmup(model, images, labels, epochs=4, batch_size=8, lr=1e-2, warmup_epochs=1)
    finally:
        torch.optim.Adam.step = original
    expected = [1e-2 * (s + 1) / 2 for s in range(2)]
    expected += [1e-2 * 0.5 * (1 + math.cos(math.pi * (s - 2) / 6)) for s in range(2, 8)]
    assert seen == pytest.approx(expected)
    assert not model.training


def test_fit_tiny_vit_is_paired_by_seed_and_honours_the_audit_offset(monkeypatch):
    images, labels = _tiny_task()
    first = fit_tiny_vit("gap", images, labels, seed=3, epochs=2)
    again = fit_tiny_vit("gap", images, labels, seed=3, epochs=2)
    other_batches = fit_tiny_vit("gap", images, labels, seed=3, epochs=2, batch_seed=4)
    assert torch.equal(first.linear.weight, again.linear.weight)
    assert not torch.equal(first.linear.weight, other_batches.linear.weight)
    monkeypatch.setenv("GAPLIB_SEED_OFFSET", "5")
    shifted = fit_tiny_vit("gap", images, labels, seed=3, epochs=2)
    assert not torch.equal(first.linear.weight, shifted.linear.weight)
    assert first.linear.out_features == 2 and first.readout == "gap"


def test_digits_at_places_pastes_the_same_digit_at_every_offset():
    digits = torch.rand(3, 1, 4, 4)
    moved = digits_at_places(digits, 6, offsets=(0, 2), noise=0.0)
    assert moved.shape == (4, 3, 1, 6, 6)
    assert torch.equal(moved[3, :, :, 2:, 2:], digits) and moved[3, :, :, :2].abs().sum() == 0
    with pytest.raises(ValueError, match="digits_at_places"):
        digits_at_places(digits, 5, offsets=(0, 2))


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"warmup_epochs": 4}, {"lr": 0.0}, {"batch_size": 0}])
def test_train_with_warmup_rejects_bad_budgets(kwargs):
    images, labels = _tiny_task()
    settings_ = {"epochs": 4, "warmup_epochs": 1, **kwargs}
    with pytest.raises(ValueError, match="train_with_warmup"):
        train_with_warmup(TinyViT(8, 4, 2, "gap", dim=8, heads=2), images, labels, **settings_)
    with pytest.raises(ValueError, match="train_with_warmup"):
        train_with_warmup(TinyViT(8, 4, 2, "gap", dim=8, heads=2), images, labels[:3])
