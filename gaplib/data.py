"""Seeded, offline datasets for the book.

Nothing here downloads anything: the real data is scikit-learn's bundled 8x8 handwritten digits, and the
rest is generated from a seed. The same arguments always give the same tensors.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

# scikit-learn's 1,797 digits are split once, by a fixed permutation, so that "train" and "test" canvases
# never reuse the same handwritten digit.
_DIGITS_TRAIN_FRACTION = 0.7


def _rng(seed: int) -> np.random.Generator:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"expected seed to be an int, got {type(seed).__name__}")
    return np.random.default_rng(seed)


def _positive_int(value: object, name: str, where: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where}: expected {name} to be a positive int, got {value!r}")
    return int(value)


def noisy_maps(n: int, height: int, width: int, signal: float = 1.0, sigma: float = 1.0,
               correlation_length: float = 0.0, seed: int = 0) -> torch.Tensor:
    r"""Maps :math:`X_{ij} = S + N_{ij}` with zero-mean noise of variance :math:`\sigma^2` at every position.

    With ``correlation_length = 0`` the noise is independent across positions, the article's assumption,
    under which :math:`\operatorname{Var}(\bar X - S) = \sigma^2 / (HW)`. A positive length smooths white
    noise with a periodic Gaussian of that standard deviation (in pixels) and rescales it back to variance
    :math:`\sigma^2`, so neighbouring positions are correlated and the law no longer holds.

    Returns:
        ``(n, 1, height, width)`` float32.
    """
    where = "noisy_maps"
    n, height, width = (_positive_int(v, k, where) for v, k in ((n, "n"), (height, "height"), (width, "width")))
    if sigma < 0 or correlation_length < 0:
        raise ValueError(f"{where}: expected sigma >= 0 and correlation_length >= 0, got {sigma}, {correlation_length}")
    noise = _rng(seed).standard_normal((n, height, width))
    if correlation_length > 0:
        smooth = (0, correlation_length, correlation_length)
        noise = ndimage.gaussian_filter(noise, sigma=smooth, mode="wrap")
        # The filter shrinks the variance by sum(g**2); the impulse response gives that factor exactly.
        impulse = np.zeros((1, height, width))
        impulse[0, 0, 0] = 1.0
        gain = np.sqrt((ndimage.gaussian_filter(impulse, sigma=smooth, mode="wrap") ** 2).sum())
        noise = noise / gain
    maps = signal + sigma * noise
    return torch.from_numpy(maps).float().unsqueeze(1)


def stripes_and_checkerboards(n: int, size: int = 16, widths: tuple[int, ...] = (2, 4),
                              seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary stripes (label 0) and checkerboards (label 1) that GAP on intensity cannot tell apart.

    Every image has exactly half of its pixels at 1 and half at 0, so the per-image mean (0.5) and the pixel
    histogram are identical across classes. Stripes are horizontal or vertical; both patterns get a random
    band/square width from ``widths`` and a random phase (circular offset) along each axis.

    Args:
        n: number of images; an even ``n`` gives exactly balanced classes.
        size: side of each square image; must be a multiple of ``2 * w`` for every width ``w``.
        widths: stripe and square widths in pixels.
        seed: same seed, same data.
    Returns:
        images ``(n, 1, size, size)`` float32 in ``{0, 1}``, labels ``(n,)`` long.
    """
    where = "stripes_and_checkerboards"
    n, size = _positive_int(n, "n", where), _positive_int(size, "size", where)
    if not widths or any(_positive_int(w, "each width", where) and size % (2 * w) for w in widths):
        raise ValueError(f"{where}: expected every width w to divide size / 2 (size={size}), got widths={widths}")
    rng = _rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    rows, cols = np.indices((size, size))
    images = np.empty((n, size, size), dtype=np.float32)
    for index, label in enumerate(labels):
        width = int(rng.choice(widths))
        row_band = (rows + rng.integers(2 * width)) // width % 2
        col_band = (cols + rng.integers(2 * width)) // width % 2
        if label == 1:
            images[index] = (row_band + col_band) % 2
        else:
            images[index] = row_band if rng.random() < 0.5 else col_band
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long()


@lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    return digits.images[order].astype(np.float32) / 16.0, digits.target[order].astype(np.int64)


def load_digit_images(subset: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits scaled to ``[0, 1]``: ``(M, 8, 8)`` images and ``(M,)`` labels.

    ``subset`` is ``"train"`` (70%), ``"test"`` (30%) or ``"all"``; the split is fixed.
    """
    images, labels = _sklearn_digits()
    cut = int(_DIGITS_TRAIN_FRACTION * len(labels))
    parts = {"train": slice(0, cut), "test": slice(cut, None), "all": slice(None)}
    if subset not in parts:
        raise ValueError(f"load_digit_images: expected subset 'train', 'test' or 'all', got {subset!r}")
    return images[parts[subset]], labels[parts[subset]]


def digits_on_canvas(n: int, canvas_size: int = 32, digit_size: int = 12,
                     region: tuple[int, int, int, int] | None = None, noise: float = 0.1,
                     subset: str = "train", classes: tuple[int, ...] | None = None,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Real handwritten digits, upscaled and placed at random on a larger noisy canvas.

    Each 8x8 digit is resized (bilinear) to ``digit_size`` pixels and pasted so that it lies wholly inside
    ``region``, at a uniformly random position; Gaussian noise of standard deviation ``noise`` covers the
    canvas. The returned box is the tight box of the digit's ink (pixels above 0.25), which is what a
    localisation method should find.

    Args:
        n: number of canvases.
        canvas_size: side of the square canvas in pixels.
        digit_size: side of the pasted digit in pixels (``8`` keeps the original resolution).
        region: ``(x0, y0, x1, y1)``, ends exclusive: where the digit may lie; default the whole canvas.
        noise: standard deviation of the background noise.
        subset: which handwritten digits to draw from, ``"train"`` or ``"test"`` (disjoint) or ``"all"``.
        classes: keep only these digit classes; labels are then ``0..len(classes)-1`` in that order.
        seed: same seed, same data.
    Returns:
        images ``(n, 1, canvas_size, canvas_size)`` float32, labels ``(n,)`` long, boxes ``(n, 4)`` long
        as ``(x0, y0, x1, y1)`` with ``x`` along columns and ends exclusive.
    """
    where = "digits_on_canvas"
    n = _positive_int(n, "n", where)
    canvas_size = _positive_int(canvas_size, "canvas_size", where)
    digit_size = _positive_int(digit_size, "digit_size", where)
    x0, y0, x1, y1 = region if region is not None else (0, 0, canvas_size, canvas_size)
    if not (0 <= x0 and 0 <= y0 and x1 <= canvas_size and y1 <= canvas_size):
        raise ValueError(f"{where}: region {region} is not inside the {canvas_size}x{canvas_size} canvas")
    if x1 - x0 < digit_size or y1 - y0 < digit_size:
        raise ValueError(f"{where}: region {region} is smaller than the digit ({digit_size} px)")
    if noise < 0:
        raise ValueError(f"{where}: expected noise >= 0, got {noise}")
    source_images, source_labels = load_digit_images(subset)
    if classes is not None:
        keep = np.isin(source_labels, classes)
        if not keep.any():
            raise ValueError(f"{where}: no digit of classes {classes} (expected values in 0..9)")
        relabel = {digit: index for index, digit in enumerate(classes)}
        source_images = source_images[keep]
        source_labels = np.array([relabel[d] for d in source_labels[keep]])
    rng = _rng(seed)
    picks = rng.choice(len(source_labels), size=n, replace=n > len(source_labels))
    digits = torch.from_numpy(source_images[picks]).unsqueeze(1)
    digits = F.interpolate(digits, size=(digit_size, digit_size), mode="bilinear", align_corners=False)
    digits = digits.clamp(0, 1).squeeze(1).numpy()
    images = (noise * rng.standard_normal((n, canvas_size, canvas_size))).astype(np.float32)
    lefts = rng.integers(x0, x1 - digit_size + 1, size=n)
    tops = rng.integers(y0, y1 - digit_size + 1, size=n)
    boxes = np.empty((n, 4), dtype=np.int64)
    for index, (left, top) in enumerate(zip(lefts, tops, strict=True)):
        images[index, top:top + digit_size, left:left + digit_size] += digits[index]
        ink_rows, ink_cols = np.nonzero(digits[index] > 0.25)
        boxes[index] = (left + ink_cols.min(), top + ink_rows.min(),
                        left + ink_cols.max() + 1, top + ink_rows.max() + 1)
    labels = torch.from_numpy(source_labels[picks].astype(np.int64))
    return torch.from_numpy(images).unsqueeze(1), labels, torch.from_numpy(boxes)
