"""Exercise 7: a pooled statistic that separates stripes from checkerboards, which GAP of the intensity cannot."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from gaplib.checks._core import call_untouched, fail, passed, shape_text
from gaplib.data import stripes_and_checkerboards


def check_texture_statistic(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check a pooled statistic that separates stripes from checkerboards, which GAP on intensity cannot.

    ``fn(images)`` maps images ``(N, 1, H, W)`` to features ``(N,)`` or ``(N, F)``, each image's features
    computed from that image alone. On fresh images of :func:`gaplib.data.stripes_and_checkerboards` (another
    seed, another size), a logistic regression fitted on the features must reach 95% accuracy.

    Raises:
        CheckFailed: naming the shape, batch dependence or accuracy that fails.
    """
    from sklearn.linear_model import LogisticRegression

    def features(images: torch.Tensor, label: str) -> np.ndarray:
        out = call_untouched(fn, label, images)
        if out.dim() not in (1, 2) or out.shape[0] != images.shape[0]:
            raise fail(f"on {label}: expected features (N,) or (N, F) with N = {images.shape[0]}, got "
                                 f"{shape_text(out)}: one row per image.")
        out = out.detach().double().reshape(images.shape[0], -1)
        if not torch.isfinite(out).all():
            raise fail(f"on {label}: your features contain NaN or inf.")
        return out.numpy()

    train_x, train_y = stripes_and_checkerboards(200, size=16, seed=11)
    train = features(train_x, "200 training images (N=200, 16x16)")
    alone = features(train_x[:3], "the first 3 of those images alone")
    if not np.allclose(alone, train[:3], rtol=1e-5, atol=1e-6):
        raise fail("on the first 3 training images: their features change when the other images are "
                             "left out of the batch; compute each image's statistic from that image alone.")
    spread = train.std(axis=0)
    if np.all(spread < 1e-9):
        raise fail("on 200 training images: your features take the same value on every image, stripes "
                             "and checkerboards alike, just as the mean intensity does.")
    scale = np.where(spread > 0, spread, 1.0)
    center = train.mean(axis=0)
    model = LogisticRegression(C=100.0, max_iter=2000).fit((train - center) / scale, train_y.numpy())
    for size, widths, seed in [(16, (2, 4), 12), (24, (2, 3, 4), 13)]:
        label = f"200 fresh {size}x{size} images with widths {widths} (seed {seed})"
        test_x, test_y = stripes_and_checkerboards(200, size=size, widths=widths, seed=seed)
        accuracy = float((model.predict((features(test_x, label) - center) / scale) == test_y.numpy()).mean())
        if accuracy < 0.95:
            raise fail(f"on {label}: a linear classifier on your features is right on {accuracy:.0%} of "
                                 f"the images (the mean intensity gets 50%); it needs 95%.")
    passed("texture_statistic", "95% or more on fresh images of two sizes, each image on its own")
