"""Small CNNs for the book: one convolutional trunk, interchangeable heads.

Every experiment that compares heads keeps the trunk fixed, so a difference in the result is the head's.
The trunk is deliberately tiny: chapters train it on a laptop CPU in seconds.
"""

from __future__ import annotations

import torch
from torch import nn

from gaplib.heads import make_head


def conv_trunk(in_channels: int = 1, widths: tuple[int, ...] = (16, 32), downsample: tuple[bool, ...] | None = None,
               padding_mode: str = "zeros") -> nn.Sequential:
    """3x3 conv + ReLU blocks, each followed by 2x2 max pooling where ``downsample`` says so.

    Args:
        in_channels: channels of the input image.
        widths: output channels of each block; the last one is ``C`` for the head.
        downsample: per block, whether to halve the resolution (default: all but the last block).
        padding_mode: ``"zeros"`` (the usual) or ``"circular"`` (exactly equivariant to circular shifts).
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
        layers += [nn.Conv2d(channels, width, 3, padding=1, padding_mode=padding_mode), nn.ReLU()]
        if halve:
            layers.append(nn.MaxPool2d(2))
        channels = width
    return nn.Sequential(*layers)


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
                    padding_mode: str = "zeros") -> Classifier:
    """The same trunk with a ``"gap"``, ``"gmp"``, ``"gem"`` or ``"flatten"`` head.

    ``image_size`` fixes the flatten head's input (``C x H x W`` after the trunk); pooling heads accept any size.
    """
    trunk = conv_trunk(in_channels, widths, downsample, padding_mode)
    with torch.no_grad():
        feature_shape = trunk(torch.zeros(1, in_channels, image_size, image_size)).shape
    _, channels, height, width = feature_shape
    return Classifier(trunk, make_head(head, channels, num_classes, height, width))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
