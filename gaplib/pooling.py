r"""Global pooling: collapse each channel's spatial map to one number.

All functions take feature maps ``x`` of shape ``(N, C, *spatial)`` with 1 to 3 spatial dims (a signal,
an image, a volume) and return ``(N, C)``. Notation as in the book: :math:`F_c(i, j)` is channel ``c`` at
position ``(i, j)`` of an ``H x W`` map.
"""

from __future__ import annotations

import torch

from gaplib._validate import require_float, spatial_dims


def global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    r"""Global average pooling (GAP): the mean of each channel over all positions.

    .. math:: \bar F_c = \frac{1}{HW} \sum_{i=1}^{H} \sum_{j=1}^{W} F_c(i, j)

    Args:
        x: feature maps ``(N, C, *spatial)``, 1 to 3 spatial dims.
    Returns:
        ``(N, C)``, same dtype as ``x``; differentiable, each position receives gradient ``1/(HW)``.

    Example:
        >>> global_avg_pool(torch.ones(2, 3, 4, 5)).shape
        torch.Size([2, 3])
    """
    return x.mean(dim=spatial_dims(x, "global_avg_pool"))


def global_max_pool(x: torch.Tensor) -> torch.Tensor:
    r"""Global max pooling (GMP): the largest activation of each channel.

    .. math:: \hat F_c = \max_{i, j} F_c(i, j)

    The whole upstream gradient goes to the arg-max position; every other position gets zero.

    Args:
        x: feature maps ``(N, C, *spatial)``, 1 to 3 spatial dims.
    Returns:
        ``(N, C)``, same dtype as ``x``.
    """
    return x.amax(dim=spatial_dims(x, "global_max_pool"))


def gem_pool(x: torch.Tensor, p: float | torch.Tensor = 3.0, eps: float = 1e-6) -> torch.Tensor:
    r"""Generalized-mean (GeM) pooling, Radenović et al. 2018.

    .. math:: \tilde F_c = \Big( \frac{1}{HW} \sum_{i, j} \max(F_c(i, j), \varepsilon)^p \Big)^{1/p}

    ``p = 1`` is GAP (on activations above ``eps``); as ``p`` grows the result tends to GMP. The clamp
    keeps fractional powers of negative numbers out, so GeM expects non-negative (post-ReLU) features.

    Args:
        x: feature maps ``(N, C, *spatial)``, 1 to 3 spatial dims.
        p: the exponent, a positive number or a positive scalar tensor (learnable in :class:`gaplib.heads.GeMHead`).
        eps: the floor applied before the power.
    Returns:
        ``(N, C)``, same dtype as ``x``.
    """
    dims = spatial_dims(x, "gem_pool")
    if isinstance(p, torch.Tensor):
        if p.numel() != 1:
            raise ValueError(f"gem_pool: expected p to be a scalar, got a tensor of shape {tuple(p.shape)}")
        if p.item() <= 0:
            raise ValueError(f"gem_pool: expected p > 0, got p = {p.item()}")
    elif isinstance(p, (int, float)) and not isinstance(p, bool):
        if p <= 0:
            raise ValueError(f"gem_pool: expected p > 0, got p = {p}")
    else:
        raise TypeError(f"gem_pool: expected p to be a number or a scalar tensor, got {type(p).__name__}")
    if eps <= 0:
        raise ValueError(f"gem_pool: expected eps > 0, got eps = {eps}")
    require_float(x, "x", "gem_pool")
    return x.clamp(min=eps).pow(p).mean(dim=dims).pow(1.0 / p)
