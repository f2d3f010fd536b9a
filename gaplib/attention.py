r"""Channel attention built on global pooling: squeeze-and-excitation (SE) and CBAM's channel gate.

Both blocks summarise each channel of ``x`` (shape ``(N, C, *spatial)``) by a global pool, pass the
``C``-vector through a small bottleneck MLP (``C -> C/r -> C``) and rescale every channel by a gate in
``(0, 1)``:

.. math:: \tilde F_c(i, j) = s_c \, F_c(i, j), \qquad s = \sigma\big(W_2 \, \delta(W_1 \, \mathrm{pool}(F))\big),

with :math:`W_1 \in \mathbb{R}^{C/r \times C}`, :math:`W_2 \in \mathbb{R}^{C \times C/r}`, :math:`\delta` the
ReLU and :math:`\sigma` the logistic sigmoid. SE (Hu et al. 2018) pools with GAP; CBAM (Woo et al. 2018) feeds
the GAP and the global-max descriptors through the *same* MLP and adds the results before the sigmoid.
CBAM then applies a *spatial* gate, :class:`SpatialAttention`, which pools over the channels instead of over
the positions. No module here is new to the literature; this one exists so the book can test the claims made about them.
"""

from __future__ import annotations

import torch
from torch import nn

from gaplib._validate import spatial_dims
from gaplib.pooling import global_avg_pool, global_max_pool

SQUEEZES = {"avg": global_avg_pool, "max": global_max_pool}


def _bottleneck(channels: int, reduction: int, bias: bool, where: str) -> nn.Sequential:
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"{where}: expected channels to be a positive int, got {channels!r}")
    if not isinstance(reduction, int) or isinstance(reduction, bool) or reduction < 1 or channels % reduction:
        raise ValueError(f"{where}: expected a positive int reduction r that divides C = {channels}, got {reduction!r}")
    hidden = channels // reduction
    return nn.Sequential(nn.Linear(channels, hidden, bias=bias), nn.ReLU(), nn.Linear(hidden, channels, bias=bias))


def _check_input(x: torch.Tensor, channels: int, where: str) -> None:
    spatial_dims(x, where)
    if x.shape[1] != channels:
        raise ValueError(f"{where}: built for C = {channels} channels, got input of shape {tuple(x.shape)}")


def _broadcast(gate: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return gate.reshape(*gate.shape, *([1] * (x.dim() - 2)))


class SqueezeExcitation(nn.Module):
    r"""Squeeze-and-excitation block (Hu et al. 2018).

    .. math::
        z = \mathrm{GAP}(F) \in \mathbb{R}^C, \qquad s = \sigma\big(W_2\, \delta(W_1 z + b_1) + b_2\big),
        \qquad \tilde F_c = s_c F_c

    The excitation has :math:`2C^2/r` weights (plus :math:`C/r + C` biases when ``bias=True``). Because the
    squeeze is a global pool, the gate :math:`s` sees only one number per channel: any rearrangement of the
    positions inside a map, a shift included, leaves it unchanged.

    Args:
        channels: ``C``.
        reduction: ``r``, must divide ``C``.
        squeeze: ``"avg"`` (GAP, the paper's choice) or ``"max"`` (global max pooling, the paper's ablation).
        bias: whether the two linear layers have biases (torchvision's ``SqueezeExcitation`` has them).

    Example:
        >>> block = SqueezeExcitation(8, reduction=4)
        >>> block(torch.randn(2, 8, 5, 5)).shape
        torch.Size([2, 8, 5, 5])
    """

    def __init__(self, channels: int, reduction: int = 4, squeeze: str = "avg", bias: bool = True):
        super().__init__()
        if squeeze not in SQUEEZES:
            raise ValueError(f"SqueezeExcitation: expected squeeze in {sorted(SQUEEZES)}, got {squeeze!r}")
        self.channels = channels
        self.squeeze = squeeze
        self.excitation = _bottleneck(channels, reduction, bias, "SqueezeExcitation")

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The channel weights :math:`s`, shape ``(N, C)``, each in ``(0, 1)``."""
        _check_input(x, self.channels, "SqueezeExcitation")
        return torch.sigmoid(self.excitation(SQUEEZES[self.squeeze](x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * _broadcast(self.gate(x), x)


class ChannelAttention(nn.Module):
    r"""CBAM's channel attention (Woo et al. 2018): one shared MLP on the average- and max-pooled descriptors.

    .. math:: s = \sigma\big(\mathrm{MLP}(\mathrm{GAP}(F)) + \mathrm{MLP}(\mathrm{GMP}(F))\big),
        \qquad \tilde F_c = s_c F_c

    The MLP is shared, so the block has exactly the parameters of an SE block with the same ``r``. Unlike
    SE's, its gate also depends on each channel's peak, not only on its mean.

    Args:
        channels: ``C``.
        reduction: ``r``, must divide ``C``.
        bias: whether the shared MLP's layers have biases.
    """

    def __init__(self, channels: int, reduction: int = 4, bias: bool = True):
        super().__init__()
        self.channels = channels
        self.mlp = _bottleneck(channels, reduction, bias, "ChannelAttention")

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The channel weights :math:`s`, shape ``(N, C)``, each in ``(0, 1)``."""
        _check_input(x, self.channels, "ChannelAttention")
        return torch.sigmoid(self.mlp(global_avg_pool(x)) + self.mlp(global_max_pool(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * _broadcast(self.gate(x), x)


class SpatialAttention(nn.Module):
    r"""CBAM's spatial attention (Woo et al. 2018): one gate per position, from pools over the channels.

    .. math:: m = \sigma\big(k * [\,\mathrm{mean}_c F;\ \max_c F\,]\big) \in (0, 1)^{H \times W},
        \qquad \tilde F_c(i, j) = m(i, j)\, F_c(i, j)

    where :math:`k` is a ``kernel_size x kernel_size`` convolution from the two pooled maps to one. It is the
    transpose of SE's squeeze: SE averages each channel over the positions and gates channels; this averages
    (and maxes) each position over the channels and gates positions. Being a convolution of per-position
    pools, the gate moves with the content (shift-equivariant up to the zero padding at the borders).

    Args:
        kernel_size: odd side of the convolution (the paper uses 7).
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1 or not kernel_size % 2:
            raise ValueError(f"SpatialAttention: expected an odd positive int kernel_size, got {kernel_size!r}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The position weights :math:`m`, shape ``(N, 1, H, W)``, each in ``(0, 1)``."""
        spatial_dims(x, "SpatialAttention", 2, 2)
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


def with_channel_attention(trunk: nn.Sequential, kind: str = "se", reduction: int = 4,
                           squeeze: str = "avg") -> nn.Sequential:
    """A copy of a convolutional trunk with a channel-attention block after every ReLU.

    Each block is placed where SE-ResNet and CBAM place theirs: on the output of a convolution stage, before
    any downsampling, so the trunk's output shape is unchanged. The convolutions are shared with ``trunk``
    (the same modules, not copies), so build the trunk afresh for each model.

    Args:
        trunk: a ``nn.Sequential`` of convolutions and ReLUs, e.g. :func:`gaplib.models.conv_trunk`.
        kind: ``"se"`` (:class:`SqueezeExcitation`) or ``"cbam"`` (:class:`ChannelAttention`).
        reduction: ``r`` of every block.
        squeeze: the SE squeeze, ``"avg"`` or ``"max"`` (only for ``kind="se"``).
    """
    if not isinstance(trunk, nn.Sequential):
        raise TypeError(f"with_channel_attention: expected an nn.Sequential trunk, got {type(trunk).__name__}")
    if kind not in ("se", "cbam"):
        raise ValueError(f"with_channel_attention: expected kind 'se' or 'cbam', got {kind!r}")
    layers: list[nn.Module] = []
    channels = None
    for layer in trunk:
        layers.append(layer)
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            channels = layer.out_channels
        if isinstance(layer, nn.ReLU):
            if channels is None:
                raise ValueError("with_channel_attention: found a ReLU before any convolution")
            block = (SqueezeExcitation(channels, reduction, squeeze) if kind == "se"
                     else ChannelAttention(channels, reduction))
            layers.append(block)
    if channels is None:
        raise ValueError("with_channel_attention: the trunk has no convolution")
    return nn.Sequential(*layers)
