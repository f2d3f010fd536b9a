"""Training dynamics: accuracy as a function of the training budget, read off one run.

A conclusion about trained models can be a conclusion about the budget: an arm that is at chance after a few
epochs may be *late*, not *stuck*. :func:`accuracy_at_budgets` trains once and reads the training and test
accuracy at several epoch counts on the way, so that a curve of budgets costs one run of the longest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from gaplib._validate import require_tensor
from gaplib.train import accuracy, offset_seed, recalibrate_batch_norm


def accuracy_at_budgets(model: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                        test: tuple[torch.Tensor, torch.Tensor], budgets: Sequence[int],
                        batch_size: int = 64, lr: float = 1e-2,
                        seed: int = 0,
                        probe: Callable[[int, nn.Module], None] | None = None) -> dict[int, tuple[float, float]]:
    r"""Train with Adam on cross-entropy and score the model after each budget of ``budgets`` epochs.

    .. math:: \mathcal{L} = -\frac{1}{B}\sum_b \log \mathrm{softmax}(z_b)_{y_b}, \qquad
              \text{score}(e) = \big(\mathrm{acc}_\text{train}(\theta_e),\ \mathrm{acc}_\text{test}(\theta_e)\big)

    The loop is :func:`gaplib.train.train_classifier`'s, step for step (one Adam optimizer for the whole run,
    the batch order drawn from ``offset_seed(seed)``), so the score at ``e`` epochs is the score of a run
    trained for exactly ``e`` epochs. At each budget batch norm's running statistics are recomputed with the
    current weights (:func:`gaplib.train.recalibrate_batch_norm`); that changes no weight and nothing the
    training steps compute, since training uses each batch's own statistics.

    Args:
        model: maps ``(B, ...)`` images to ``(B, K)`` logits, freshly initialised (seed it before building).
        train, test: ``(images, labels)``, ``(N, ...)`` and ``(N,)``.
        budgets: epoch counts at which to score, increasing and positive, e.g. ``(3, 6, 12, 24)``.
        batch_size, lr: Adam's batch size and learning rate.
        seed: fixes the batch order (shifted by the audit's offset, as in ``train_classifier``).
        probe: called as ``probe(epochs, model)`` at each budget, after scoring, with the model in evaluation
            mode, to measure anything else at that budget (it must not change the model).
    Returns:
        ``{epochs: (training accuracy, test accuracy)}`` for each budget.
    """
    where = "accuracy_at_budgets"
    for name, (images, labels) in (("train", train), ("test", test)):
        require_tensor(images, f"{name} images", where)
        require_tensor(labels, f"{name} labels", where)
        if labels.dim() != 1 or len(images) != len(labels):
            raise ValueError(f"{where}: expected {name} images (N, ...) and labels (N,), got "
                             f"{tuple(images.shape)} and {tuple(labels.shape)}")
    budgets = tuple(budgets)
    if not budgets or any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in budgets) \
            or list(budgets) != sorted(set(budgets)):
        raise ValueError(f"{where}: expected increasing positive epoch counts, got {budgets!r}")
    if probe is not None and not callable(probe):
        raise TypeError(f"{where}: expected probe to be callable or None, got {type(probe).__name__}")
    images, labels = train
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(offset_seed(seed))
    scores: dict[int, tuple[float, float]] = {}
    for epoch in range(1, budgets[-1] + 1):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), batch_size):
            batch = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(images[batch].to(device)), labels[batch].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch in budgets:
            recalibrate_batch_norm(model, images)
            scores[epoch] = (accuracy(model, *train), accuracy(model, *test))
            if probe is not None:
                with torch.no_grad():
                    probe(epoch, model)
    model.eval()
    return scores
