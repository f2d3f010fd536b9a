"""Shift invariance of trained classifiers: how often a small shift changes a correct prediction.

A model that is more accurate also has fewer wrong predictions to change, and a wrong prediction near a
decision boundary changes easily. Comparing two models' flip rates over *all* images therefore counts part
of a better classifier as invariance. :func:`flip_rate` measures the flips only on the images that *every*
compared model classifies correctly before the shift, so that the models are compared on the same images,
each of which starts from a right answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gaplib._validate import require_float, require_tensor
from gaplib.train import predict


def flip_rate(models: Sequence[nn.Module], images: torch.Tensor, labels: torch.Tensor,
              shifted: Sequence[torch.Tensor]) -> tuple[list[float], int]:
    r"""Each model's share of correct predictions that a shift changes, on the images all models get right.

    .. math:: S = \{n : \hat y_m(x_n) = y_n \ \text{for every model } m\}, \qquad
              \mathrm{flip}_m = \frac{1}{|T|} \sum_{t \in T} \frac{1}{|S|} \sum_{n \in S}
              \mathbf{1}\left[\hat y_m(t(x_n)) \ne y_n\right]

    where :math:`T` are the shifts (``shifted[t]`` holds every image moved by shift :math:`t`). Since each
    image in :math:`S` starts correct, a flip is a change of the predicted class.

    Args:
        models: the classifiers compared (for example two arms trained from the same seed).
        images: ``(N, C, H, W)`` images at their original position.
        labels: ``(N,)`` their classes.
        shifted: one ``(N, C, H, W)`` tensor per shift, the same images moved.
    Returns:
        The flip rate of each model, in the order given, and :math:`|S|`, the number of images they share.
    """
    where = "flip_rate"
    if len(models) == 0:
        raise ValueError(f"{where}: expected at least one model, got none")
    require_float(require_tensor(images, "images", where), "images", where)
    require_tensor(labels, "labels", where)
    if images.dim() != 4 or labels.shape != (len(images),):
        raise ValueError(f"{where}: expected images (N, C, H, W) and labels (N,), got shapes "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    if len(shifted) == 0:
        raise ValueError(f"{where}: expected at least one shifted copy of the images, got none")
    for moved in shifted:
        if require_tensor(moved, "shifted", where).shape != images.shape:
            raise ValueError(f"{where}: expected each shifted copy to have the images' shape "
                             f"{tuple(images.shape)}, got {tuple(moved.shape)}")
    correct = torch.stack([predict(model, images) == labels for model in models]).all(dim=0)
    kept = int(correct.sum())
    if kept == 0:
        raise ValueError(f"{where}: no image is classified correctly by every model; no flip rate to measure")
    rates = []
    for model in models:
        changed = [(predict(model, moved[correct]) != labels[correct]).float().mean().item()
                   for moved in shifted]
        rates.append(sum(changed) / len(changed))
    return rates, kept
