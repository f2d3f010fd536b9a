r"""A tiny vision transformer whose only difference between variants is how it pools its tokens.

An image ``(N, C_in, H, W)`` is cut into ``p x p`` patches; each patch becomes a token, a vector of ``D``
numbers, so the image becomes ``T = (H/p)(W/p)`` tokens ``h_1, ..., h_T`` (Dosovitskiy et al. 2021). A few
transformer layers mix the tokens, a final layer norm acts on each token, and a *readout* turns the ``T``
tokens into one vector for the linear classifier :math:`z = W u + b`:

.. math::
    u^{\text{cls}} = h_0, \qquad
    u^{\text{gap}} = \frac{1}{T}\sum_{t=1}^{T} h_t, \qquad
    u^{\text{gmp}}_d = \max_t h_{t,d}, \qquad
    u^{\text{map}} = \sum_{t=1}^{T} a_t\, V h_t,\ a = \operatorname{softmax}_t\big(q^\top K h_t / \sqrt{d}\big)

(``map``, multi-head attention pooling, has one learned query :math:`q` and one such sum per head). Only the
``cls`` readout adds a token, :math:`h_0`, learned and prepended before the first layer. With the mean, the
CAM identity of the CNN chapters carries over to tokens unchanged: see :func:`token_class_maps`.
"""

from __future__ import annotations

import torch
from torch import nn

from gaplib._validate import require_tensor, spatial_dims

READOUTS = ("cls", "gap", "gmp", "map")
POSITIONS = ("learned", "none")


def _positive_int(value: object, name: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where}: expected {name} to be a positive int, got {value!r}")
    return value


def _check_tokens(tokens: object, where: str) -> torch.Tensor:
    tokens = require_tensor(tokens, "tokens", where)
    if tokens.dim() != 3 or tokens.shape[1] == 0:
        raise ValueError(f"{where}: expected tokens of shape (N, T, D) with T >= 1, got shape {tuple(tokens.shape)}")
    return tokens


class PatchEmbedding(nn.Module):
    r"""Cut an image into ``p x p`` patches and map each to a ``D``-vector: :math:`h_t = E\,\mathrm{vec}(x_t) + e`.

    A convolution with kernel and stride ``p`` is exactly one shared linear map per non-overlapping patch.
    Maps ``(N, C_in, H, W)`` with ``H`` and ``W`` multiples of ``p`` to tokens ``(N, T, D)``, row by row.
    """

    def __init__(self, patch_size: int, dim: int, in_channels: int = 1):
        super().__init__()
        self.patch_size = _positive_int(patch_size, "patch_size", "PatchEmbedding")
        self.in_channels = _positive_int(in_channels, "in_channels", "PatchEmbedding")
        self.project = nn.Conv2d(in_channels, _positive_int(dim, "dim", "PatchEmbedding"), patch_size,
                                 stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        spatial_dims(images, "PatchEmbedding", 2, 2)
        height, width = images.shape[2:]
        if height % self.patch_size or width % self.patch_size or images.shape[1] != self.in_channels:
            raise ValueError(f"PatchEmbedding: expected (N, {self.in_channels}, H, W) with H and W "
                             f"multiples of {self.patch_size}, got shape {tuple(images.shape)}")
        return self.project(images).flatten(2).transpose(1, 2)


class Block(nn.Module):
    r"""One pre-norm transformer layer: :math:`h \leftarrow h + \mathrm{MHA}(\mathrm{LN}(h))`, then
    :math:`h \leftarrow h + \mathrm{MLP}(\mathrm{LN}(h))`, as in ViT."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 2):
        super().__init__()
        if dim % heads:
            raise ValueError(f"Block: expected heads to divide dim, got dim={dim}, heads={heads}")
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The new tokens ``(N, T, D)`` and the attention weights ``(N, heads, T, T)`` (row: who attends)."""
        x = self.norm1(h)
        mixed, weights = self.attention(x, x, x, need_weights=True, average_attn_weights=False)
        h = h + mixed
        return h + self.mlp(self.norm2(h)), weights


class AttentionPool(nn.Module):
    r"""Multi-head attention pooling (MAP): one learned query attends over the tokens.

    .. math:: u = \sum_{t=1}^{T} a_t V h_t, \qquad a = \operatorname{softmax}_t\big(q^\top K h_t / \sqrt{d}\big)

    per head (then concatenated and projected by ``nn.MultiheadAttention``'s output map). The weights
    :math:`a` depend on the tokens, so unlike the mean the readout is not a fixed linear map of them.
    Maps tokens ``(N, T, D)`` to ``(N, D)``.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)

    def weights(self, tokens: torch.Tensor) -> torch.Tensor:
        """The pooling weights :math:`a`, shape ``(N, heads, T)``; each head's sum to 1."""
        _check_tokens(tokens, "AttentionPool")
        query = self.query.expand(len(tokens), -1, -1)
        return self.attention(query, tokens, tokens, need_weights=True, average_attn_weights=False)[1][:, :, 0]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _check_tokens(tokens, "AttentionPool")
        query = self.query.expand(len(tokens), -1, -1)
        return self.attention(query, tokens, tokens, need_weights=False)[0][:, 0]


def pool_tokens(tokens: torch.Tensor, readout: str) -> torch.Tensor:
    r"""The weight-free readouts over the ``T`` patch tokens ``(N, T, D) -> (N, D)``: ``"gap"`` or ``"gmp"``.

    .. math:: u^{\text{gap}} = \frac{1}{T}\sum_t h_t, \qquad u^{\text{gmp}}_d = \max_t h_{t,d}

    GAP of the CNN chapters with the tokens in place of the positions: the order of the tokens is forgotten.
    """
    tokens = _check_tokens(tokens, "pool_tokens")
    if readout == "gap":
        return tokens.mean(dim=1)
    if readout == "gmp":
        return tokens.amax(dim=1)
    raise ValueError(f"pool_tokens: expected readout 'gap' or 'gmp', got {readout!r}")


def token_class_maps(tokens: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""The token CAM: the class score of each token, :math:`M_k(t) = \sum_d w_{kd}\, h_{t,d}`.

    For a mean-pooled model, :math:`z_k = \sum_d w_{kd} \frac{1}{T}\sum_t h_{t,d} + b_k
    = \frac{1}{T}\sum_t M_k(t) + b_k`: the mean of the map plus the bias *is* the logit, exactly as for a
    CNN with GAP (the sum over tokens and the sum over features swap).

    Args:
        tokens: the final (normalised) patch tokens ``(N, T, D)``, e.g. :meth:`TinyViT.patch_tokens`.
        weight: the classifier's weight ``(K, D)``.
    Returns:
        ``(N, K, T)``, raw: no ReLU, no normalisation.
    """
    tokens = _check_tokens(tokens, "token_class_maps")
    require_tensor(weight, "weight", "token_class_maps")
    if weight.dim() != 2 or weight.shape[1] != tokens.shape[2]:
        raise ValueError(f"token_class_maps: expected weight (K, D) with D = {tokens.shape[2]}, "
                         f"got shape {tuple(weight.shape)}")
    return torch.einsum("kd,ntd->nkt", weight.to(tokens.dtype), tokens)


class TinyViT(nn.Module):
    r"""Patch embedding, optional learned position embeddings, ``depth`` transformer layers, a readout, a linear layer.

    .. math:: h^{(0)}_t = E\,\mathrm{vec}(x_t) + e + P_t, \quad h^{(\ell)} = \mathrm{Block}(h^{(\ell-1)}),
              \quad z = W\, \mathrm{readout}\big(\mathrm{LN}(h^{(L)})\big) + b

    Every variant has the same patch embedding, layers and classifier; the ``cls`` readout adds one token
    :math:`h_0` (``D`` numbers) and ``map`` an attention layer, so the comparison is between readouts.
    Without position embeddings (``position="none"``) every layer treats the tokens as a set: permuting the
    patches permutes the tokens, and a ``gap``, ``gmp`` or ``map`` readout does not change at all.

    Args:
        image_size: side of the square input the position embeddings are built for.
        patch_size: ``p``; must divide ``image_size``.
        num_classes: ``K``.
        readout: ``"cls"``, ``"gap"``, ``"gmp"`` or ``"map"``.
        position: ``"learned"`` (one vector per patch position, ViT's choice) or ``"none"``.
        dim, depth, heads: ``D``, the number of layers, attention heads per layer (must divide ``D``).
        in_channels: channels of the input image.
    """

    def __init__(self, image_size: int, patch_size: int, num_classes: int, readout: str = "gap",
                 position: str = "learned", dim: int = 32, depth: int = 2, heads: int = 4, in_channels: int = 1):
        super().__init__()
        where = "TinyViT"
        for name, value in (("image_size", image_size), ("num_classes", num_classes), ("depth", depth),
                            ("heads", heads)):
            _positive_int(value, name, where)
        if readout not in READOUTS:
            raise ValueError(f"{where}: expected readout in {READOUTS}, got {readout!r}")
        if position not in POSITIONS:
            raise ValueError(f"{where}: expected position in {POSITIONS}, got {position!r}")
        if image_size % _positive_int(patch_size, "patch_size", where):
            raise ValueError(f"{where}: expected patch_size to divide image_size, got {patch_size} and {image_size}")
        self.readout, self.position = readout, position
        self.grid = image_size // patch_size
        self.embed = PatchEmbedding(patch_size, dim, in_channels)
        self.positions = nn.Parameter(0.02 * torch.randn(1, self.grid**2, dim)) if position == "learned" else None
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if readout == "cls" else None
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.pool = AttentionPool(dim, heads) if readout == "map" else None
        self.linear = nn.Linear(dim, num_classes)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """All final tokens ``(N, T', D)`` after the last layer norm (``T' = T + 1`` with a CLS token, first),
        and each layer's attention weights ``(N, heads, T', T')``."""
        h = self.embed(images)
        if self.positions is not None:
            if h.shape[1] != self.positions.shape[1]:
                raise ValueError(f"TinyViT: position embeddings are built for {self.grid}x{self.grid} patches, "
                                 f"got an image of shape {tuple(images.shape)}")
            h = h + self.positions
        if self.cls_token is not None:
            h = torch.cat([self.cls_token.expand(len(h), -1, -1), h], dim=1)
        attention = []
        for block in self.blocks:
            h, weights = block(h)
            attention.append(weights)
        return self.norm(h), attention

    def patch_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """The final patch tokens ``(N, T, D)``, without the CLS token: what the mean pools."""
        tokens = self.encode(images)[0]
        return tokens[:, 1:] if self.cls_token is not None else tokens

    def cls_attention(self, images: torch.Tensor) -> torch.Tensor:
        """How much the CLS token attends to each patch in the last layer, averaged over heads: ``(N, T)``.

        The weights are non-negative and sum to one minus the CLS token's attention to itself."""
        if self.cls_token is None:
            raise ValueError(f"TinyViT.cls_attention: needs readout 'cls', this model's is {self.readout!r}")
        return self.encode(images)[1][-1][:, :, 0, 1:].mean(dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.encode(images)[0]
        if self.readout == "cls":
            pooled = tokens[:, 0]
        elif self.readout == "map":
            pooled = self.pool(tokens)
        else:
            pooled = pool_tokens(tokens, self.readout)
        return self.linear(pooled)
