"""Global pooling: exact identities as properties, bad input as examples."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import gaplib

settings.register_profile("course", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("course")


@st.composite
def feature_maps(draw, spatial_dims=None, positive=False):
    """Random (N, C, *spatial) float64 tensors with 1 to 3 spatial dims (or exactly ``spatial_dims``)."""
    n_spatial = spatial_dims or draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 3)), draw(st.integers(1, 4))] + [draw(st.integers(1, 6)) for _ in range(n_spatial)]
    seed = draw(st.integers(0, 2**31 - 1))
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x.abs() + 0.1 if positive else x


@given(feature_maps(spatial_dims=2), st.integers(-7, 7), st.integers(-7, 7))
def test_gap_is_invariant_to_circular_shifts(x, di, dj):
    shifted = torch.roll(x, shifts=(di, dj), dims=(2, 3))
    assert torch.allclose(gaplib.global_avg_pool(shifted), gaplib.global_avg_pool(x), atol=1e-12)


@given(feature_maps())
def test_gap_is_the_mean_over_every_spatial_dim(x):
    expected = x.reshape(x.shape[0], x.shape[1], -1).sum(-1) / x[0, 0].numel()
    pooled = gaplib.global_avg_pool(x)
    assert pooled.shape == x.shape[:2] and pooled.dtype == x.dtype
    assert torch.allclose(pooled, expected, atol=1e-12)


@given(feature_maps(positive=True))
def test_gem_with_p_one_is_gap(x):
    assert torch.allclose(gaplib.gem_pool(x, p=1.0), gaplib.global_avg_pool(x), atol=1e-12)


@given(feature_maps(positive=True))
def test_gem_lies_between_gap_and_gmp_and_tends_to_gmp(x):
    gap, gmp = gaplib.global_avg_pool(x), gaplib.global_max_pool(x)
    gem = gaplib.gem_pool(x, p=3.0)
    assert torch.all(gem >= gap - 1e-12) and torch.all(gem <= gmp + 1e-12)
    # the p-th power mean of M values is at least max / M**(1/p): p = 2000 is within 0.2% for M <= 216
    assert torch.allclose(gaplib.gem_pool(x, p=2000.0), gmp, rtol=3e-3)


def test_gap_matches_torch_adaptive_pooling_in_1d_2d_3d():
    for pool, shape in [(nn.AdaptiveAvgPool1d(1), (2, 3, 7)), (nn.AdaptiveAvgPool2d(1), (2, 3, 4, 5)),
                        (nn.AdaptiveAvgPool3d(1), (2, 3, 2, 3, 4))]:
        x = torch.randn(shape)
        assert torch.allclose(gaplib.global_avg_pool(x), pool(x).flatten(1), atol=1e-6)


def test_gap_spreads_gradient_uniformly_and_gmp_routes_it_to_the_argmax():
    x = torch.randn(1, 1, 4, 5, requires_grad=True)
    gaplib.global_avg_pool(x).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 1 / 20))
    x.grad = None
    gaplib.global_max_pool(x).sum().backward()
    assert x.grad.sum() == 1 and x.grad.flatten()[x.detach().flatten().argmax()] == 1


def test_same_dtype_out():
    for dtype in (torch.float16, torch.float32, torch.float64):
        assert gaplib.global_avg_pool(torch.ones(1, 2, 3, 3, dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("fn", [gaplib.global_avg_pool, gaplib.global_max_pool, gaplib.gem_pool])
@pytest.mark.parametrize("shape", [(3,), (2, 3), (1, 1, 1, 1, 1, 1)])
def test_wrong_rank_names_expected_and_received_shape(fn, shape):
    with pytest.raises(ValueError, match=r"\(N, C, \*spatial\).*got shape"):
        fn(torch.ones(shape))


@pytest.mark.parametrize("fn", [gaplib.global_avg_pool, gaplib.global_max_pool, gaplib.gem_pool])
def test_non_tensor_is_a_type_error(fn):
    with pytest.raises(TypeError, match="torch.Tensor, got list"):
        fn([[1.0, 2.0]])


@pytest.mark.parametrize("p", [0, -1.0, torch.tensor(-2.0)])
def test_gem_rejects_non_positive_p(p):
    with pytest.raises(ValueError, match="p > 0"):
        gaplib.gem_pool(torch.ones(1, 1, 2, 2), p=p)


def test_gem_rejects_non_number_p_and_integer_maps():
    with pytest.raises(TypeError, match="p to be a number"):
        gaplib.gem_pool(torch.ones(1, 1, 2, 2), p="3")
    with pytest.raises(TypeError, match="floating-point"):
        gaplib.gem_pool(torch.ones(1, 1, 2, 2, dtype=torch.long))


def test_empty_maps_are_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        gaplib.global_avg_pool(torch.ones(1, 2, 0, 3))


def test_gem_gradients_match_the_textbook_formula():
    # gem_pool rescales by the channel max for numerical safety; the gradients must be those of the formula
    x = (torch.rand(2, 3, 4, 5, dtype=torch.float64) + 0.1).requires_grad_()
    p = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    naive = x.pow(p).mean(dim=(2, 3)).pow(1 / p).sum()
    ours = gaplib.gem_pool(x, p).sum()
    for a, b in zip(torch.autograd.grad(ours, (x, p)), torch.autograd.grad(naive, (x, p)), strict=True):
        assert torch.allclose(a, b, atol=1e-12)


def test_gem_stays_finite_for_large_p():
    x = torch.full((1, 1, 3, 3), 50.0)
    assert torch.allclose(gaplib.gem_pool(x, p=500.0), torch.tensor([[50.0]]))
