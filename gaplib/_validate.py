"""Input checks shared by gaplib's public functions.

Every public function checks its input at the door so that a wrong shape fails loudly with the expected and
the received shape, instead of broadcasting into a silently wrong answer.
"""

from __future__ import annotations

import torch


def require_tensor(x: object, name: str, where: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: expected {name} to be a torch.Tensor, got {type(x).__name__}")
    return x


def require_float(x: torch.Tensor, name: str, where: str) -> torch.Tensor:
    if not torch.is_floating_point(x):
        raise TypeError(f"{where}: expected {name} to be a floating-point tensor, got dtype {x.dtype}")
    return x


def spatial_dims(x: object, where: str, min_spatial: int = 1, max_spatial: int = 3) -> tuple[int, ...]:
    """The spatial dims of an (N, C, *spatial) tensor, after checking its rank."""
    x = require_tensor(x, "x", where)
    n_spatial = x.dim() - 2
    if not min_spatial <= n_spatial <= max_spatial:
        expected = f"(N, C, *spatial) with {min_spatial} to {max_spatial} spatial dims"
        if min_spatial == max_spatial == 2:
            expected = "(N, C, H, W)"
        raise ValueError(f"{where}: expected a tensor of shape {expected}, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{where}: expected a non-empty tensor, got shape {tuple(x.shape)}")
    return tuple(range(2, x.dim()))
