"""statistics_pool: the mean, the spatial variance and the derivative energies of each channel."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gaplib
from gaplib.data import stripes_and_checkerboards
from gaplib.pooling import POOLED_STATISTICS, statistics_pool

maps = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 7), st.integers(2, 7), st.integers(0, 10_000))


def _random(shape_and_seed, dtype=torch.float64):
    n, c, h, w, seed = shape_and_seed
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_each_statistic_matches_its_definition_on_a_non_square_map():
    x = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    mean, variance, energy_y, energy_x = statistics_pool(x).split(3, dim=1)
    assert torch.allclose(mean, gaplib.global_avg_pool(x))
    centred = x - x.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(variance, (centred**2).sum(dim=(2, 3)) / (4 * 6))
    down = sum((x[:, :, i + 1] - x[:, :, i]) ** 2 for i in range(3)).sum(-1) / (3 * 6)
    across = sum((x[..., j + 1] - x[..., j]) ** 2 for j in range(5)).sum(-1) / (4 * 5)
    assert torch.allclose(energy_y, down) and torch.allclose(energy_x, across)


def test_output_is_statistic_major_and_follows_the_requested_order():
    x = torch.randn(5, 2, 3, 4)
    full = statistics_pool(x)
    assert full.shape == (5, len(POOLED_STATISTICS) * 2) and full.dtype == x.dtype
    picked = statistics_pool(x, ("energy_x", "mean"))
    assert torch.equal(picked, torch.cat([full[:, 6:8], full[:, 0:2]], dim=1))


def test_stripes_have_energy_along_one_axis_only_and_a_constant_map_has_none():
    rows = torch.arange(8.0).div(2, rounding_mode="floor").remainder(2)  # 0 0 1 1 0 0 1 1
    horizontal = rows.view(1, 1, 8, 1).expand(1, 1, 8, 5).contiguous()
    _, variance, energy_y, energy_x = statistics_pool(horizontal)[0]
    assert variance == 0.25 and energy_x == 0
    assert energy_y == pytest.approx(3 / 7)  # 3 changes among the 7 row pairs
    assert torch.equal(statistics_pool(horizontal.transpose(2, 3))[0, 2:], torch.stack([energy_x, energy_y]))
    assert torch.all(statistics_pool(torch.full((1, 2, 3, 3), 4.0))[:, 2:] == 0)
    # the same rows in another order (0 0 0 0 1 1 1 1): same mean and variance, a third of the energy
    blocks = horizontal[:, :, rows.argsort(stable=True)]
    assert torch.equal(statistics_pool(blocks)[0, :2], torch.tensor([0.5, 0.25]))
    assert statistics_pool(blocks)[0, 2] == pytest.approx(1 / 7)


def test_the_books_textures_share_mean_and_variance_but_not_energies():
    images, labels = stripes_and_checkerboards(200, size=16, seed=5)
    stats = statistics_pool(images)
    assert torch.all(stats[:, 0] == 0.5) and torch.all(stats[:, 1] == 0.25)
    stripes, checkerboards = stats[labels == 0, 2:], stats[labels == 1, 2:]
    assert torch.all((stripes == 0).sum(1) == 1) and torch.all(checkerboards > 0)


@settings(max_examples=40, deadline=None)
@given(maps)
def test_mean_and_variance_ignore_where_values_sit(shape_and_seed):
    x = _random(shape_and_seed)
    n, c, h, w = x.shape
    permutation = torch.randperm(h * w, generator=torch.Generator().manual_seed(shape_and_seed[-1]))
    shuffled = x.flatten(2)[:, :, permutation].reshape(x.shape)
    assert torch.allclose(statistics_pool(shuffled)[:, :2 * c], statistics_pool(x)[:, :2 * c])


@settings(max_examples=40, deadline=None)
@given(maps, st.floats(-3, 3), st.floats(0.1, 4))
def test_shift_and_scale(shape_and_seed, shift, scale):
    x = _random(shape_and_seed)
    c = x.shape[1]
    base, moved = statistics_pool(x), statistics_pool(scale * x + shift)
    assert torch.allclose(moved[:, :c], scale * base[:, :c] + shift)  # the mean follows the map
    assert torch.allclose(moved[:, c:], scale**2 * base[:, c:], rtol=1e-9, atol=1e-9)  # the rest: squared scale


@settings(max_examples=30, deadline=None)
@given(maps)
def test_transposing_the_map_swaps_the_two_energies(shape_and_seed):
    x = _random(shape_and_seed)
    energies = statistics_pool(x, ("energy_y", "energy_x"))
    swapped = statistics_pool(x.transpose(2, 3), ("energy_x", "energy_y"))
    assert torch.allclose(energies, swapped)


def test_gradients_reach_every_position():
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    statistics_pool(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert torch.autograd.gradcheck(statistics_pool, (x,))


def test_a_one_row_map_is_fine_without_the_vertical_energy():
    x = torch.randn(2, 3, 1, 5)
    assert statistics_pool(x, ("mean", "variance", "energy_x")).shape == (2, 9)


@pytest.mark.parametrize("x, statistics, error, message", [
    (torch.randn(2, 3, 4), POOLED_STATISTICS, ValueError, r"\(N, C, H, W\)"),
    (torch.randn(2, 3, 4, 4, 4), POOLED_STATISTICS, ValueError, r"\(N, C, H, W\)"),
    (torch.ones(2, 3, 4, 4, dtype=torch.long), POOLED_STATISTICS, TypeError, "floating-point"),
    (torch.randn(2, 3, 4, 4), ("mean", "skewness"), ValueError, "skewness"),
    (torch.randn(2, 3, 4, 4), "mean", ValueError, "tuple of statistics"),
    (torch.randn(2, 3, 4, 4), (), ValueError, "non-empty"),
    (torch.randn(2, 3, 1, 4), POOLED_STATISTICS, ValueError, "at least 2 positions"),
    (torch.randn(2, 3, 4, 1), ("energy_x",), ValueError, "at least 2 positions"),
    (torch.randn(0, 3, 4, 4), POOLED_STATISTICS, ValueError, "non-empty"),
    ([[1.0]], POOLED_STATISTICS, TypeError, "torch.Tensor"),
])
def test_bad_input_is_refused_with_what_was_expected(x, statistics, error, message):
    with pytest.raises(error, match=message):
        statistics_pool(x, statistics)
