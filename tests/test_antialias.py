"""Anti-aliased subsampling (Zhang 2019): BlurPool2d and the trunk option that uses it."""

import numpy as np
import pytest
import torch
from torch import nn

from gaplib.models import BlurPool2d, conv_trunk, count_parameters, make_classifier


def _reference_blur_pool(x: np.ndarray) -> np.ndarray:
    """Reflect-pad by one, weigh each 3x3 window by the binomial filter, keep every second window."""
    taps = np.array([1.0, 2.0, 1.0])
    kernel = np.outer(taps, taps) / 16.0
    padded = np.pad(x, 1, mode="reflect")
    rows, cols = -(-x.shape[0] // 2), -(-x.shape[1] // 2)
    out = np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = (kernel * padded[2 * i:2 * i + 3, 2 * j:2 * j + 3]).sum()
    return out


@pytest.mark.parametrize("height, width", [(6, 6), (7, 5), (2, 3)])
def test_blur_pool_matches_a_loop_over_windows(height, width):
    x = torch.randn(2, 3, height, width, dtype=torch.float64, generator=torch.Generator().manual_seed(height))
    out = BlurPool2d()(x)
    assert out.shape == (2, 3, -(-height // 2), -(-width // 2)) and out.dtype == torch.float64
    for n in range(2):
        for c in range(3):
            assert np.allclose(out[n, c].numpy(), _reference_blur_pool(x[n, c].numpy()), atol=1e-12)


def test_blur_pool_keeps_constants_and_removes_the_finest_stripes():
    assert torch.allclose(BlurPool2d()(torch.full((1, 2, 8, 8), 3.0)), torch.full((1, 2, 4, 4), 3.0))
    stripes = (torch.arange(12) % 2).float().expand(1, 1, 12, 12)      # columns 0, 1, 0, 1, ...
    moved = torch.roll(stripes, 1, dims=3)
    # plain subsampling sees all ones or all zeros depending on a one-pixel shift ...
    assert (stripes[..., ::2, ::2] - moved[..., ::2, ::2]).abs().min() == 1
    # ... the blurred one sees one half either way (interior columns; reflect padding changes the edge)
    inner = (slice(None), slice(None), slice(None), slice(1, None))
    assert torch.allclose(BlurPool2d()(stripes)[inner], torch.full((1, 1, 6, 5), 0.5))
    assert torch.allclose(BlurPool2d()(moved)[inner], torch.full((1, 1, 6, 5), 0.5))


def test_blur_pool_checks_its_input():
    with pytest.raises(ValueError, match=r"expected a tensor of shape \(N, C, H, W\), got shape \(3, 4, 4\)"):
        BlurPool2d()(torch.rand(3, 4, 4))
    with pytest.raises(TypeError, match="floating-point tensor, got dtype torch.int64"):
        BlurPool2d()(torch.ones(1, 1, 4, 4, dtype=torch.long))


def test_antialiased_trunk_has_the_same_shapes_and_parameters():
    plain = make_classifier("gap", 10, 24, widths=(4, 8, 8), downsample=(True, True, False), batch_norm=True)
    smooth = make_classifier("gap", 10, 24, widths=(4, 8, 8), downsample=(True, True, False), batch_norm=True,
                             antialias=True)
    x = torch.rand(3, 1, 24, 24)
    assert smooth.features(x).shape == plain.features(x).shape == (3, 8, 6, 6)
    assert count_parameters(smooth) == count_parameters(plain)
    pools = [m for m in smooth.trunk if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 2 and all(m.stride == 1 for m in pools)
    assert sum(isinstance(m, BlurPool2d) for m in smooth.trunk) == 2


def test_antialiasing_makes_pooled_features_move_less_under_one_pixel_shifts():
    # same convolution weights, only the subsampling differs; images with detail at the pixel scale
    torch.manual_seed(0)
    images = (torch.rand(16, 1, 24, 24) > 0.7).float()
    change = {}
    for antialias in (False, True):
        torch.manual_seed(1)
        trunk = conv_trunk(1, (8, 16, 16), (True, True, False), antialias=antialias).eval()
        with torch.no_grad():
            pooled = trunk(images).mean(dim=(2, 3))
            moved = trunk(torch.roll(images, 1, dims=3)).mean(dim=(2, 3))
        change[antialias] = ((moved - pooled).norm(dim=1) / pooled.norm(dim=1)).mean().item()
    assert change[True] < 0.5 * change[False], change
