r"""Classifier heads: what sits between the last feature maps ``(N, C, H, W)`` and the logits ``(N, K)``.

The book compares two families:

* a pooling head, :math:`z = W \,\mathrm{pool}(F) + b` with :math:`W \in \mathbb{R}^{K \times C}`;
* a flatten head, :math:`z = W \,\mathrm{vec}(F) + b` with :math:`W \in \mathbb{R}^{K \times CHW}`.

Each pooling head keeps its linear layer as ``.linear`` so that CAM can read ``head.linear.weight``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gaplib._validate import spatial_dims
from gaplib.pooling import gem_pool, global_avg_pool, global_max_pool


class GAPHead(nn.Module):
    r"""GAP then linear: :math:`z_k = \sum_c w_{kc} \bar F_c + b_k`."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.linear = nn.Linear(channels, num_classes)

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        return global_avg_pool(features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.pool(features))


class GMPHead(GAPHead):
    r"""Global max pooling then linear: :math:`z_k = \sum_c w_{kc} \max_{i,j} F_c(i, j) + b_k`."""

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        return global_max_pool(features)


class GeMHead(GAPHead):
    r"""GeM pooling with a learnable exponent :math:`p` (initialised at ``p``), then linear."""

    def __init__(self, channels: int, num_classes: int, p: float = 3.0):
        super().__init__(channels, num_classes)
        self.p = nn.Parameter(torch.tensor(float(p)))

    def pool(self, features: torch.Tensor) -> torch.Tensor:
        # A floor on p keeps a runaway optimiser step from reaching p <= 0, where GeM is undefined.
        return gem_pool(features, p=self.p.clamp(min=1.0))


class FlattenHead(nn.Module):
    r"""Flatten then linear: one weight per class, channel *and position*, :math:`K \cdot CHW` in all."""

    def __init__(self, channels: int, height: int, width: int, num_classes: int):
        super().__init__()
        self.feature_shape = (channels, height, width)
        self.linear = nn.Linear(channels * height * width, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        spatial_dims(features, "FlattenHead", 2, 2)
        if tuple(features.shape[1:]) != self.feature_shape:
            raise ValueError(
                f"FlattenHead: built for features (N, {', '.join(map(str, self.feature_shape))}), got "
                f"{tuple(features.shape)}; a flatten head only accepts the map size it was built for"
            )
        return self.linear(features.flatten(1))


def tied_flatten_head(gap_head: GAPHead, height: int, width: int) -> FlattenHead:
    r"""The flatten head that computes exactly what ``gap_head`` computes on ``height x width`` maps.

    Give every position of channel :math:`c` the same weight :math:`w_{kc} / (HW)`:

    .. math:: \sum_{c, i, j} \frac{w_{kc}}{HW} F_c(i, j) + b_k = \sum_c w_{kc} \bar F_c + b_k .

    So every GAP head is a flatten head with weights tied across positions, and the GAP head's functions
    are a subset of the flatten head's. The copy is independent: training one does not change the other.

    Args:
        gap_head: a :class:`GAPHead` (not a max or GeM head, which no linear layer reproduces).
        height, width: the feature map size the flatten head is built for.
    Returns:
        A :class:`FlattenHead` for ``(N, C, height, width)`` features, same dtype and device as ``gap_head``.
    """
    if type(gap_head) is not GAPHead:
        raise TypeError(f"tied_flatten_head: expected a GAPHead, got {type(gap_head).__name__}")
    for name, value in (("height", height), ("width", width)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"tied_flatten_head: expected {name} to be a positive int, got {value!r}")
    num_classes, channels = gap_head.linear.weight.shape
    weight = gap_head.linear.weight.detach()
    flat = FlattenHead(channels, height, width, num_classes).to(device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        # flatten(1) orders features channel-major, (c, i, j) -> c*HW + i*W + j: each w_kc repeats HW times.
        flat.linear.weight.copy_(weight.repeat_interleave(height * width, dim=1) / (height * width))
        flat.linear.bias.copy_(gap_head.linear.bias.detach())
    return flat


class GAPOnlyHead(nn.Module):
    r"""GAP and nothing else, Network in Network's head: the trunk's last layer makes one map per class.

    .. math:: z_k = \frac{1}{HW} \sum_{i, j} F_k(i, j)

    No weights: the feature maps *are* the class maps, so their number must equal the number of classes.
    Works on ``(N, K, *spatial)`` with 1 to 3 spatial dims.
    """

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return global_avg_pool(features)


HEADS = {"gap": GAPHead, "gmp": GMPHead, "gem": GeMHead}


def make_head(kind: str, channels: int, num_classes: int, height: int | None = None,
              width: int | None = None) -> nn.Module:
    """A head by name: ``"gap"``, ``"gmp"``, ``"gem"`` or ``"flatten"`` (which needs ``height`` and ``width``)."""
    if kind == "flatten":
        if height is None or width is None:
            raise ValueError("make_head: a 'flatten' head needs the feature map's height and width")
        return FlattenHead(channels, height, width, num_classes)
    if kind not in HEADS:
        raise ValueError(f"make_head: expected kind in {sorted([*HEADS, 'flatten'])}, got {kind!r}")
    return HEADS[kind](channels, num_classes)


@dataclass(frozen=True)
class HeadCost:
    """The cost of one head's classifier layer for one image (biases counted in ``params``)."""

    weights: int
    params: int
    bytes: int
    multiply_adds: int
    pooling_adds: int

    @property
    def flops(self) -> int:
        """Floating-point operations counting a multiply-add as two, plus the pooling additions."""
        return 2 * self.multiply_adds + self.pooling_adds


def head_cost(kind: str, channels: int, height: int, width: int, num_classes: int,
              bytes_per_param: int = 4) -> HeadCost:
    r"""Weights, parameters, memory and operations of a ``"gap"`` or ``"flatten"`` head.

    .. math::
        \text{GAP: } KC \text{ weights},\ KC \text{ multiply-adds} + CHW \text{ additions};\qquad
        \text{flatten: } KCHW \text{ weights and multiply-adds}

    Args:
        kind: ``"gap"`` or ``"flatten"``.
        channels, height, width: the feature map ``C x H x W``.
        num_classes: ``K``.
        bytes_per_param: 4 for float32.
    """
    for name, value in (("channels", channels), ("height", height), ("width", width),
                        ("num_classes", num_classes), ("bytes_per_param", bytes_per_param)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"head_cost: expected {name} to be a positive int, got {value!r}")
    inputs = {"gap": channels, "flatten": channels * height * width}
    if kind not in inputs:
        raise ValueError(f"head_cost: expected kind 'gap' or 'flatten', got {kind!r}")
    weights = num_classes * inputs[kind]
    params = weights + num_classes
    # GAP sums H*W values per channel (the 1/(HW) scale can be folded into the weights).
    pooling_adds = channels * height * width if kind == "gap" else 0
    return HeadCost(weights, params, params * bytes_per_param, weights, pooling_adds)
