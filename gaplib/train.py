"""Reproducible training on in-memory tensors, small enough to read in one sitting.

The datasets in the book fit in memory, so a random permutation per epoch replaces a DataLoader: fewer
moving parts, and the order of batches depends only on the seed.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from gaplib._validate import require_tensor

#: The environment variable that shifts every training seed, for the audit's fresh draws (``make audit``).
SEED_OFFSET_VARIABLE = "GAPLIB_SEED_OFFSET"


def offset_seed(seed: int) -> int:
    """``seed`` plus the audit's offset (``GAPLIB_SEED_OFFSET``, 0 when unset): the seed a run really uses.

    The offset is the same constant for every seed in a process, so arms trained from the same seed stay
    paired, while the whole notebook becomes a fresh draw of its initialisations and batch orders. Data sets
    keep their own seeds: the audit re-draws training, not the data a claim is about.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"offset_seed: expected seed to be an int, got {type(seed).__name__}")
    text = os.environ.get(SEED_OFFSET_VARIABLE, "0").strip() or "0"
    try:
        offset = int(text)
    except ValueError:
        raise ValueError(f"offset_seed: expected {SEED_OFFSET_VARIABLE} to be an integer, got {text!r}") from None
    return seed + offset


def seed_everything(seed: int = 0, threads: int | None = 1) -> None:
    """Seed Python, NumPy and torch, and pin torch's CPU thread count (one thread unless told otherwise).

    It returns nothing, so that it can close a notebook's setup cell without printing anything.

    What it promises: the same numbers on the same machine type and software. The thread count is pinned
    because it changes results (a reduction split over another number of threads adds floats in another
    order), so one thread makes the book, nbval and a rerun print the same numbers whatever
    ``OMP_NUM_THREADS`` says. What it cannot promise: the same numbers on another CPU or torch release, whose
    kernels round differently; over a few epochs those last bits become another training run. The book's
    conclusions are therefore measured over many seeds and audited on fresh draws (:func:`offset_seed`) and
    two CPU code paths, so that they hold everywhere even where the numbers differ. Pass ``threads=None`` to
    leave torch's setting alone.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed_everything: expected seed to be an int, got {type(seed).__name__}")
    seed = offset_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"seed_everything: expected threads to be a positive int or None, got {threads!r}")
        torch.set_num_threads(threads)


def get_device() -> torch.device:
    """CUDA when present (a Colab GPU runtime), otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_dataset(images: torch.Tensor, labels: torch.Tensor, where: str) -> None:
    require_tensor(images, "images", where)
    require_tensor(labels, "labels", where)
    if labels.dim() != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{where}: expected images (N, ...) and labels (N,), got {tuple(images.shape)} and {tuple(labels.shape)}"
        )


def train_classifier(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int = 10,
                     batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 0.0, seed: int = 0,
                     progress: bool = True, description: str = "training") -> list[float]:
    r"""Train with Adam on cross-entropy, :math:`\mathcal{L} = -\frac{1}{B}\sum_b \log \mathrm{softmax}(z_b)_{y_b}`.

    Args:
        model: maps ``(B, ...)`` images to ``(B, K)`` logits; trained in place on its current device.
        images, labels: the whole training set, ``(N, ...)`` and ``(N,)``.
        epochs, batch_size, lr, weight_decay: the usual.
        seed: fixes the batch order, shifted by the audit's offset like :func:`seed_everything` (the model's
            initialisation is the caller's, via :func:`seed_everything`).
        progress: show a tqdm progress bar over batches.
    Returns:
        The mean training loss of each epoch.
    """
    _check_dataset(images, labels, "train_classifier")
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(offset_seed(seed))
    batches_per_epoch = -(-len(labels) // batch_size)
    losses: list[float] = []
    model.train()
    with tqdm(total=epochs * batches_per_epoch, desc=description, disable=not progress, leave=False) as bar:
        for _ in range(epochs):
            order = torch.randperm(len(labels), generator=generator)
            total = 0.0
            for start in range(0, len(labels), batch_size):
                batch = order[start:start + batch_size]
                loss = nn.functional.cross_entropy(model(images[batch].to(device)), labels[batch].to(device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
                bar.update()
            losses.append(total / len(labels))
    model.eval()
    return losses


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> int:
    r"""Recompute every batch-norm layer's running statistics on ``images`` with the model's final weights.

    .. math:: \mu_c = \frac{1}{NHW} \sum_{n, i, j} x_{nc}(i, j), \qquad
              \sigma_c^2 = \frac{1}{NHW - 1} \sum_{n, i, j} \big(x_{nc}(i, j) - \mu_c\big)^2

    Training keeps an exponential moving average of batch statistics, mostly gathered while the weights were
    still moving; after a run of a few hundred steps that average lags behind the final network, and the
    model scores far lower in evaluation mode than in training mode. Recomputing the statistics with the
    final weights removes the lag: with a single batch the running statistics become exactly the mean and
    unbiased variance above, with several the plain average (momentum ``None``) of their per-batch values.
    Only the running statistics change, never the weights; the model is left in evaluation mode.

    Args:
        model: a model with ``nn.BatchNorm*`` layers, on its device.
        images: inputs ``(N, ...)``, usually the training set.
        batch_size: images per forward pass; the per-batch statistics are averaged with equal weight.
    Returns:
        The number of batch-norm layers recalibrated (0 leaves the model unchanged).
    """
    require_tensor(images, "images", "recalibrate_batch_norm")
    if len(images) == 0:
        raise ValueError(f"recalibrate_batch_norm: expected at least one image, got shape {tuple(images.shape)}")
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved_momentum = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    if layers:
        device = next(model.parameters()).device
        model.train()
        for start in range(0, len(images), batch_size):
            model(images[start:start + batch_size].to(device))
    for layer, momentum in zip(layers, saved_momentum, strict=True):
        layer.momentum = momentum
    model.eval()
    return len(layers)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted classes ``(N,)`` of a classifier, in evaluation mode and without gradients."""
    require_tensor(images, "images", "predict")
    model.eval()
    device = next(model.parameters()).device
    chunks = [model(images[i:i + batch_size].to(device)).argmax(dim=1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` whose predicted class equals ``labels``."""
    _check_dataset(images, labels, "accuracy")
    return (predict(model, images) == labels).float().mean().item()
