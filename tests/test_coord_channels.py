"""CoordChannels: CoordConv's row and column channels."""

import pytest
import torch

from gaplib.models import CoordChannels


def test_two_channels_are_appended_and_the_input_is_kept():
    x = torch.randn(3, 2, 4, 6)
    out = CoordChannels()(x)
    assert out.shape == (3, 4, 4, 6) and out.dtype == x.dtype
    assert torch.equal(out[:, :2], x)


def test_rows_and_columns_run_from_minus_one_to_one_along_their_own_axis():
    rows, cols = CoordChannels()(torch.zeros(1, 1, 5, 3))[0, 1:]
    assert torch.allclose(rows[:, 0], torch.linspace(-1, 1, 5)) and torch.allclose(cols[0], torch.linspace(-1, 1, 3))
    assert torch.all(rows == rows[:, :1]) and torch.all(cols == cols[:1])  # each constant along the other axis


def test_a_side_of_one_position_gets_zero():
    rows, cols = CoordChannels()(torch.zeros(2, 1, 1, 4))[0, 1:]
    assert torch.all(rows == 0) and torch.allclose(cols[0], torch.linspace(-1, 1, 4))


def test_float64_input_gets_float64_coordinates():
    assert CoordChannels()(torch.zeros(1, 1, 2, 2, dtype=torch.float64)).dtype == torch.float64


def test_a_map_that_is_not_nchw_is_refused():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        CoordChannels()(torch.zeros(1, 1, 5))
