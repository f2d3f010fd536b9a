"""Small CNNs for the book: one convolutional trunk, interchangeable heads.

Every experiment that compares heads keeps the trunk fixed, so a difference in the result is the head's.
The trunk is deliberately tiny: chapters train it on a laptop CPU in seconds.
"""

from __future__ import annotations

import torch
from torch import nn

from gaplib._validate import require_float, spatial_dims
from gaplib.heads import GAPOnlyHead, make_head


class BlurPool2d(nn.Module):
    r"""Blur, then keep every second row and column: subsampling by 2 with a low-pass filter first.

    Each channel is convolved with the binomial filter
    :math:`\frac{1}{16}\begin{pmatrix}1 & 2 & 1\end{pmatrix}^\top\begin{pmatrix}1 & 2 & 1\end{pmatrix}`
    (reflect padding), with stride 2. Keeping every second sample of a signal that still holds detail finer
    than the new grid aliases it: which samples survive changes with a one-pixel shift, and the output jumps.
    The blur removes most of that detail first (Zhang 2019, "Making convolutional networks shift-invariant
    again"). Maps ``(N, C, H, W)`` to ``(N, C, ceil(H / 2), ceil(W / 2))``.
    """

    def __init__(self) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (taps[:, None] * taps[None, :] / 16.0)[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial_dims(x, "BlurPool2d", 2, 2)
        require_float(x, "x", "BlurPool2d")
        channels = x.shape[1]
        padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
        weight = self.kernel.to(x.dtype).expand(channels, 1, 3, 3)
        return nn.functional.conv2d(padded, weight, stride=2, groups=channels)


def _downsample_layers(antialias: bool) -> list[nn.Module]:
    if not antialias:
        return [nn.MaxPool2d(2)]
    # Zhang's MaxBlurPool: the max is taken densely (stride 1), and only the blurred result is subsampled.
    # A 2x2 max at stride 1 turns H into H - 1; reflect padding and stride 2 bring it to ceil((H - 1) / 2),
    # which is H / 2 for even H, the size MaxPool2d(2) gives.
    return [nn.MaxPool2d(2, stride=1), BlurPool2d()]


def conv_trunk(in_channels: int = 1, widths: tuple[int, ...] = (16, 32), downsample: tuple[bool, ...] | None = None,
               padding_mode: str = "zeros", batch_norm: bool = False, antialias: bool = False) -> nn.Sequential:
    """3x3 conv (+ batch norm) + ReLU blocks, each followed by 2x2 max pooling where ``downsample`` says so.

    Args:
        in_channels: channels of the input image.
        widths: output channels of each block; the last one is ``C`` for the head.
        downsample: per block, whether to halve the resolution (default: all but the last block).
        padding_mode: ``"zeros"`` (the usual) or ``"circular"`` (exactly equivariant to circular shifts).
        batch_norm: put ``nn.BatchNorm2d`` between each convolution and its ReLU. A GAP head on a tiny trunk
            trains several times faster with it; in evaluation mode it is a per-channel affine map, so it
            keeps the trunk's equivariance. After a short run call :func:`gaplib.train.recalibrate_batch_norm`.
        antialias: subsample as Zhang (2019) does, a 2x2 max at stride 1 and then :class:`BlurPool2d`,
            instead of a 2x2 max at stride 2. Same output size for even inputs, no new parameters.
    Returns:
        The trunk; it maps ``(N, in_channels, H, W)`` to ``(N, widths[-1], H / 2**d, W / 2**d)``.
    """
    if not widths:
        raise ValueError("conv_trunk: expected at least one block width, got an empty tuple")
    if downsample is None:
        downsample = tuple(i < len(widths) - 1 for i in range(len(widths)))
    if len(downsample) != len(widths):
        raise ValueError(f"conv_trunk: expected {len(widths)} downsample flags, got {len(downsample)}")
    layers: list[nn.Module] = []
    channels = in_channels
    for width, halve in zip(widths, downsample, strict=True):
        layers.append(nn.Conv2d(channels, width, 3, padding=1, padding_mode=padding_mode))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.ReLU())
        if halve:
            layers += _downsample_layers(antialias)
        channels = width
    return nn.Sequential(*layers)


class CoordChannels(nn.Module):
    r"""CoordConv's input layer (Liu et al. 2018): append each position's row and column as two channels.

    .. math:: \text{row}(i) = \frac{2i}{H - 1} - 1, \qquad \text{col}(j) = \frac{2j}{W - 1} - 1

    both in :math:`[-1, 1]` (0 where a side has one position). A convolution is the same at every position,
    so on its own it cannot know *where* it is; given these channels, a filter can weigh its response by
    position, and the pooled features can carry where things were. Maps ``(N, C, H, W)`` to
    ``(N, C + 2, H, W)``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial_dims(x, "CoordChannels", 2, 2)
        n, _, height, width = x.shape
        rows = torch.linspace(-1.0, 1.0, height, dtype=x.dtype, device=x.device) if height > 1 else x.new_zeros(1)
        cols = torch.linspace(-1.0, 1.0, width, dtype=x.dtype, device=x.device) if width > 1 else x.new_zeros(1)
        grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij")).expand(n, 2, height, width)
        return torch.cat([x, grid], dim=1)


class Classifier(nn.Module):
    """A trunk and a head; ``features(x)`` exposes the maps that CAM needs."""

    def __init__(self, trunk: nn.Module, head: nn.Module):
        super().__init__()
        self.trunk = trunk
        self.head = head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature maps ``F``, shape ``(N, C, H, W)``."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def make_classifier(head: str, num_classes: int, image_size: int, in_channels: int = 1,
                    widths: tuple[int, ...] = (16, 32), downsample: tuple[bool, ...] | None = None,
                    padding_mode: str = "zeros", batch_norm: bool = False, antialias: bool = False) -> Classifier:
    """The same trunk with a ``"gap"``, ``"gmp"``, ``"gem"`` or ``"flatten"`` head.

    ``image_size`` fixes the flatten head's input (``C x H x W`` after the trunk); pooling heads accept any size.
    ``batch_norm`` and ``antialias`` are passed to :func:`conv_trunk`.
    """
    trunk = conv_trunk(in_channels, widths, downsample, padding_mode, batch_norm, antialias)
    # The shape probe runs in eval mode so that it leaves batch norm's running statistics untouched.
    with torch.no_grad():
        feature_shape = trunk.eval()(torch.zeros(1, in_channels, image_size, image_size)).shape
    trunk.train()
    _, channels, height, width = feature_shape
    return Classifier(trunk, make_head(head, channels, num_classes, height, width))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def mlpconv(in_channels: int, out_channels: int, kernel_size: int = 3) -> list[nn.Module]:
    r"""Network in Network's mlpconv block (Lin et al. 2014): a ``k x k`` convolution, then two ``1 x 1`` ones.

    A ``1 x 1`` convolution is a small fully connected layer applied at every position with shared weights,
    so the block is a per-position MLP on top of a local patch:
    :math:`F' = \phi(W_3\, \phi(W_2\, \phi(W_1 * F)))`, where :math:`W_2, W_3` are ``1 x 1`` and
    :math:`\phi` is the ReLU.

    Returns:
        The six layers (three convolutions, each followed by a ReLU), for an ``nn.Sequential``.
    """
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
    ]


def _he_init(module: nn.Module) -> None:
    # Stacked mlpconv blocks with no normalisation: under PyTorch's default initialisation the activations
    # shrink layer after layer and a NiN on the book's digits does not train at all; He et al.'s (2015)
    # variance-preserving initialisation fixes that.
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)


def make_nin(num_classes: int, image_size: int, in_channels: int = 1, widths: tuple[int, ...] = (16, 32),
             head: str = "gap") -> Classifier:
    r"""A small Network in Network: mlpconv blocks with 2x2 max pooling between them, then a class-map head.

    With ``head="gap"`` (the NiN design) the last ``1 x 1`` convolution of the last block outputs ``K``
    class maps (no ReLU, so a logit may be negative) and GAP makes each one a logit,
    :math:`z_k = \frac{1}{HW}\sum_{i,j} F_k(i, j)`: no fully connected layer. With ``head="flatten"`` that
    last convolution is replaced by flatten + linear on the same trunk, the comparison the book makes.

    Args:
        num_classes: ``K``.
        image_size: the side of the square input; only the flatten head needs it.
        in_channels: channels of the input image.
        widths: output channels of each mlpconv block.
        head: ``"gap"`` or ``"flatten"``.
    """
    if head not in ("gap", "flatten"):
        raise ValueError(f"make_nin: expected head 'gap' or 'flatten', got {head!r}")
    if not widths:
        raise ValueError("make_nin: expected at least one block width, got an empty tuple")
    layers: list[nn.Module] = []
    channels = in_channels
    for index, width in enumerate(widths):
        layers += mlpconv(channels, width)
        if index < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        channels = width
    shared = layers[:-2]  # everything but the last block's final 1x1 convolution and its ReLU
    if head == "gap":
        trunk = nn.Sequential(*shared, nn.Conv2d(channels, num_classes, 1))
        _he_init(trunk)
        return Classifier(trunk, GAPOnlyHead())
    trunk = nn.Sequential(*shared)
    _he_init(trunk)
    with torch.no_grad():
        _, channels, height, width = trunk(torch.zeros(1, in_channels, image_size, image_size)).shape
    return Classifier(trunk, make_head("flatten", channels, num_classes, height, width))


def make_signal_classifier(num_classes: int, in_channels: int = 1, widths: tuple[int, ...] = (16, 32),
                           kernel_size: int = 7) -> Classifier:
    r"""A 1-D CNN for signals ``(N, C_in, L)``: conv + ReLU blocks, GAP over time, a linear layer.

    The fully convolutional time-series baseline of Wang et al. 2017 in miniature: no pooling inside the
    trunk, so the last maps keep the input's length ``L`` and a 1-D CAM,
    :math:`\mathrm{CAM}_k(t) = \sum_c w_{kc} F_c(t)`, reads directly in input time steps.

    Args:
        num_classes: ``K``.
        in_channels: channels of the signal.
        widths: output channels of each block.
        kernel_size: an odd kernel length, so that "same" padding keeps ``L``.
    """
    if not widths:
        raise ValueError("make_signal_classifier: expected at least one block width, got an empty tuple")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"make_signal_classifier: expected an odd kernel_size, got {kernel_size}")
    layers: list[nn.Module] = []
    channels = in_channels
    for width in widths:
        layers += [nn.Conv1d(channels, width, kernel_size, padding=kernel_size // 2), nn.ReLU()]
        channels = width
    return Classifier(nn.Sequential(*layers), make_head("gap", channels, num_classes))
