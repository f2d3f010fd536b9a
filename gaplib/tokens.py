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

import math

import torch
from torch import nn

from gaplib._validate import require_tensor, spatial_dims
from gaplib.train import offset_seed, seed_everything

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


def train_with_warmup(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int = 40,
                      batch_size: int = 64, lr: float = 3e-3, warmup_epochs: int = 5, seed: int = 0) -> list[float]:
    r"""Adam on cross-entropy with the transformer's usual schedule: a linear warmup, then a cosine decay.

    .. math:: \eta_s = \eta \min\!\Big(\frac{s + 1}{S_w},\ \tfrac12\big(1 + \cos\frac{\pi (s - S_w)}{S - S_w}\big)\Big)

    for step :math:`s` of :math:`S`, the first :math:`S_w` of them warming up. Without the warmup, Adam's first
    steps at full rate can push a CLS model's attention into a state it does not leave within a short run (a
    collapse to chance); the decay lets every readout settle on a fit instead of hovering around one. The batch
    order depends only on ``seed``, shifted by the audit's offset (:func:`gaplib.train.offset_seed`); the
    initialisation is the caller's.

    Args:
        model: maps ``(B, ...)`` images to ``(B, K)`` logits; trained in place, then left in evaluation mode.
        images, labels: the whole training set, ``(N, ...)`` and ``(N,)``.
        epochs, batch_size, lr: the budget and the peak learning rate :math:`\eta`.
        warmup_epochs: epochs of linear warmup, ``0 <= warmup_epochs < epochs``.
        seed: fixes the batch order.
    Returns:
        The mean training loss of each epoch.
    """
    where = "train_with_warmup"
    require_tensor(images, "images", where)
    require_tensor(labels, "labels", where)
    if labels.dim() != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{where}: expected images (N, ...) and labels (N,), got {tuple(images.shape)} and "
                         f"{tuple(labels.shape)}")
    epochs, batch_size = _positive_int(epochs, "epochs", where), _positive_int(batch_size, "batch_size", where)
    if not isinstance(warmup_epochs, int) or not 0 <= warmup_epochs < epochs:
        raise ValueError(f"{where}: expected 0 <= warmup_epochs < epochs = {epochs}, got {warmup_epochs!r}")
    if not lr > 0:
        raise ValueError(f"{where}: expected lr > 0, got {lr!r}")
    steps_per_epoch = -(-len(labels) // batch_size)
    total, warmup = epochs * steps_per_epoch, warmup_epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    generator = torch.Generator().manual_seed(offset_seed(seed))
    device = next(model.parameters()).device
    losses: list[float] = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        summed = 0.0
        for start in range(0, len(labels), batch_size):
            batch = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(images[batch].to(device)), labels[batch].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            summed += loss.item() * len(batch)
        losses.append(summed / len(labels))
    model.eval()
    return losses


def fit_tiny_vit(readout: str, images: torch.Tensor, labels: torch.Tensor, seed: int, epochs: int = 40,
                 position: str = "learned", patch_size: int = 4, batch_seed: int | None = None) -> TinyViT:
    r"""Chapter 10's recipe: a fresh :class:`TinyViT` (``D = 32``, two layers, four heads), trained to a fit.

    The model is built right after ``seed_everything(seed)``, so every readout trained from the same seed starts
    from the same patch embedding, positions and layers, and sees the same batches (:func:`train_with_warmup`:
    batches of 64, peak rate :math:`3 \cdot 10^{-3}`, 5 warmup epochs, cosine decay). At 40 epochs every readout
    fits 384 digit canvases (training accuracy of 0.98 or more; chapter 10's sweep records it per seed).

    Args:
        readout: ``"cls"``, ``"gap"``, ``"gmp"`` or ``"map"``.
        images, labels: square images ``(N, 1, S, S)`` with ``patch_size`` dividing ``S``, and labels ``(N,)``
            in ``0..K-1`` (``K`` is read from the labels).
        seed: initialisation and batch order (both shifted by the audit's offset).
        epochs: the budget, 5 of them warmup.
        position: ``"learned"`` or ``"none"``.
        patch_size: ``p``.
        batch_seed: another seed for the batch order only (default ``seed``): a second run from the same
            initialisation, the null arm of a comparison between readouts.
    Returns:
        The trained model, in evaluation mode.
    """
    images = require_tensor(images, "images", "fit_tiny_vit")
    require_tensor(labels, "labels", "fit_tiny_vit")
    if images.dim() != 4 or images.shape[2] != images.shape[3] or labels.dim() != 1 or len(labels) == 0:
        raise ValueError(f"fit_tiny_vit: expected square images (N, C, S, S) and labels (N,), got "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    seed_everything(seed)
    model = TinyViT(images.shape[2], patch_size, int(labels.max()) + 1, readout, position, dim=32, depth=2,
                    heads=4, in_channels=images.shape[1])
    train_with_warmup(model, images, labels, epochs=epochs, batch_size=64, lr=3e-3,
                      warmup_epochs=min(5, epochs - 1), seed=seed if batch_seed is None else batch_seed)
    return model


def digits_at_places(digits: torch.Tensor, canvas_size: int, offsets: tuple[int, ...] = (0, 2, 4),
                     noise: float = 0.1, seed: int = 7) -> torch.Tensor:
    """The same digits pasted at every ``(top, left)`` in ``offsets x offsets`` on a noisy canvas.

    Args:
        digits: ``(N, 1, s, s)`` digit images with ``s + max(offsets) <= canvas_size``.
        canvas_size: side of the square canvas.
        offsets: the rows and columns of the digit's top-left corner.
        noise: standard deviation of the background noise (a fixed draw: same seed, same canvases).
    Returns:
        ``(P, N, 1, canvas_size, canvas_size)`` with ``P = len(offsets) ** 2``, places row by row.
    """
    digits = require_tensor(digits, "digits", "digits_at_places")
    if digits.dim() != 4 or digits.shape[1] != 1 or digits.shape[2] + max(offsets) > canvas_size \
            or min(offsets) < 0:
        raise ValueError(f"digits_at_places: expected digits (N, 1, s, s) with s + {max(offsets)} <= "
                         f"{canvas_size} and offsets >= 0, got shape {tuple(digits.shape)} and offsets {offsets}")
    size = digits.shape[2]
    spots = [(top, left) for top in offsets for left in offsets]
    moved = noise * torch.randn(len(spots), len(digits), 1, canvas_size, canvas_size,
                                generator=torch.Generator().manual_seed(seed))
    for k, (top, left) in enumerate(spots):
        moved[k, :, :, top:top + size, left:left + size] += digits
    return moved
