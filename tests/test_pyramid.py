"""Spatial pyramid pooling (gaplib.pyramid): level 1 is global pooling, fixed length at any size, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gaplib.models import count_parameters
from gaplib.pooling import global_avg_pool, global_max_pool
from gaplib.pyramid import SPPHead, spatial_pyramid_pool

settings.register_profile("course", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("course")


@given(st.integers(0, 2**31 - 1), st.integers(1, 9), st.integers(1, 9))
def test_level_one_is_global_pooling(seed, height, width):
    x = torch.randn(2, 3, height, width, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    assert torch.allclose(spatial_pyramid_pool(x, (1,), "avg"), global_avg_pool(x))
    assert torch.equal(spatial_pyramid_pool(x, (1,), "max"), global_max_pool(x))


@given(st.integers(4, 20), st.integers(4, 20), st.sampled_from([(1,), (1, 2), (1, 2, 4), (3, 1)]))
def test_the_length_depends_on_the_levels_not_on_the_size(height, width, levels):
    out = spatial_pyramid_pool(torch.rand(2, 5, height, width), levels)
    assert out.shape == (2, 5 * sum(level**2 for level in levels))


def test_level_two_pools_each_quadrant_in_row_major_order():
    x = torch.zeros(1, 1, 4, 6)
    x[0, 0, 0, 0], x[0, 0, 1, 5], x[0, 0, 3, 1], x[0, 0, 2, 4] = 1.0, 2.0, 3.0, 4.0
    assert torch.equal(spatial_pyramid_pool(x, (2,), "max"), torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    assert torch.allclose(spatial_pyramid_pool(x, (2,), "avg"), torch.tensor([[1.0, 2.0, 3.0, 4.0]]) / 6)


def test_spp_keeps_where_gap_forgets():
    top, bottom = torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    top[..., 0, 0], bottom[..., 3, 0] = 1.0, 1.0
    assert torch.equal(global_avg_pool(top), global_avg_pool(bottom))
    assert not torch.equal(spatial_pyramid_pool(top), spatial_pyramid_pool(bottom))


def test_spp_head_accepts_any_size_with_the_same_weights():
    head = SPPHead(8, 3, (1, 2, 4))
    assert count_parameters(head) == 3 * 8 * 21 + 3
    for height, width in ((4, 4), (7, 5), (16, 9)):
        assert head(torch.rand(2, 8, height, width)).shape == (2, 3)
    with pytest.raises(ValueError, match="built for C = 8 channels"):
        head(torch.rand(2, 4, 4, 4))


@pytest.mark.parametrize("levels", [(), (0, 1), [1, 2], (1.0,), (True,)])
def test_bad_levels_are_refused(levels):
    with pytest.raises(ValueError, match="non-empty tuple of positive ints"):
        spatial_pyramid_pool(torch.rand(1, 1, 4, 4), levels)
    with pytest.raises(ValueError, match="non-empty tuple of positive ints"):
        SPPHead(1, 2, levels)


def test_bad_mode_and_shape_are_refused():
    with pytest.raises(ValueError, match="expected mode in"):
        spatial_pyramid_pool(torch.rand(1, 1, 4, 4), (1,), "mean")
    with pytest.raises(ValueError, match="expected mode in"):
        SPPHead(1, 2, (1,), "mean")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        spatial_pyramid_pool(torch.rand(1, 4, 4), (1,))
