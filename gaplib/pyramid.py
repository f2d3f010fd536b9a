r"""Spatial pyramid pooling (SPP, He et al. 2014): the middle ground between GAP and flatten.

At level :math:`\ell` the map is split into an :math:`\ell \times \ell` grid of cells and each channel is
pooled within each cell; the levels' outputs are concatenated. Level 1 alone is global pooling. A fixed grid
of cells, whatever ``H x W`` is, gives a fixed-length vector, so an SPP head still accepts any input size,
but it keeps where things were down to the finest grid:

.. math:: \mathrm{SPP}(F) = \big(\mathrm{pool}_{R^{\ell}_{uv}}(F_c)\big)_{\ell \in L,\ 1 \le u, v \le \ell,\ c \le C},
   \qquad \text{length } C \sum_{\ell \in L} \ell^2

with :math:`R^{\ell}_{uv}` the cell in row ``u``, column ``v`` of the level-:math:`\ell` grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gaplib._validate import spatial_dims

SPP_MODES = ("avg", "max")


def _check_levels(levels: object, where: str) -> tuple[int, ...]:
    if (not isinstance(levels, tuple) or not levels
            or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in levels)):
        raise ValueError(f"{where}: expected levels to be a non-empty tuple of positive ints, got {levels!r}")
    return levels


def spatial_pyramid_pool(x: torch.Tensor, levels: tuple[int, ...] = (1, 2, 4), mode: str = "max") -> torch.Tensor:
    r"""Pool each channel over an :math:`\ell \times \ell` grid of cells for every level :math:`\ell`.

    Cells follow ``adaptive_*_pool2d``: cell ``u`` of ``H`` rows spans rows
    :math:`\lfloor uH/\ell \rfloor` to :math:`\lceil (u+1)H/\ell \rceil`, so any ``H, W >= 1`` works (cells
    overlap or repeat a row when ``H`` is not a multiple of :math:`\ell`).

    Args:
        x: feature maps ``(N, C, H, W)``.
        levels: the grid sides, e.g. ``(1, 2, 4)``; ``(1,)`` is global pooling.
        mode: ``"max"`` (the paper's) or ``"avg"``; ``levels=(1,), mode="avg"`` is GAP.
    Returns:
        ``(N, C * sum(l**2))``: level by level, within a level channel-major (channel ``c``'s cells in
        row-major order).

    Example:
        >>> spatial_pyramid_pool(torch.ones(2, 3, 5, 7), levels=(1, 2)).shape
        torch.Size([2, 15])
    """
    spatial_dims(x, "spatial_pyramid_pool", 2, 2)
    levels = _check_levels(levels, "spatial_pyramid_pool")
    if mode not in SPP_MODES:
        raise ValueError(f"spatial_pyramid_pool: expected mode in {SPP_MODES}, got {mode!r}")
    pool = F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d
    return torch.cat([pool(x, level).flatten(1) for level in levels], dim=1)


class SPPHead(nn.Module):
    r"""Spatial pyramid pooling then linear: :math:`z = W\,\mathrm{SPP}(F) + b`, :math:`K C \sum_\ell \ell^2`
    weights whatever the map size (a flatten head has :math:`KCHW`)."""

    def __init__(self, channels: int, num_classes: int, levels: tuple[int, ...] = (1, 2, 4), mode: str = "max"):
        super().__init__()
        self.levels = _check_levels(levels, "SPPHead")
        if mode not in SPP_MODES:
            raise ValueError(f"SPPHead: expected mode in {SPP_MODES}, got {mode!r}")
        self.mode = mode
        self.linear = nn.Linear(channels * sum(level**2 for level in self.levels), num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        spatial_dims(features, "SPPHead", 2, 2)
        expected = self.linear.in_features // sum(level**2 for level in self.levels)
        if features.shape[1] != expected:
            raise ValueError(f"SPPHead: built for C = {expected} channels, got features of shape "
                             f"{tuple(features.shape)}")
        return self.linear(spatial_pyramid_pool(features, self.levels, self.mode))
