"""Seeded, offline datasets for the book.

Nothing here downloads anything: the real data is scikit-learn's bundled 8x8 handwritten digits, and the
rest is generated from a seed. The same arguments always give the same tensors.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

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


def _non_negative(value: float, name: str, where: str) -> float:
    if not value >= 0:  # written this way so that NaN is refused too
        raise ValueError(f"{where}: expected {name} >= 0, got {value}")
    return value


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


def bright_patches(n: int, size: int = 24, patch_size: int = 4, brightness: float = 2.0, noise: float = 1.0,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Gaussian noise, with (label 1) or without (label 0) one bright square patch at a random position.

    The patch covers a fraction :math:`\alpha = (\text{patch\_size} / \text{size})^2` of the image and adds
    :math:`\delta` = ``brightness`` to it, so it raises the image mean by exactly :math:`\alpha\delta`.

    Args:
        n: number of images; an even ``n`` gives exactly balanced classes.
        size: side of the square image in pixels.
        patch_size: side of the patch in pixels, at most ``size``.
        brightness: ``delta``, added to every pixel of the patch.
        noise: standard deviation of the background noise, everywhere.
        seed: same seed, same data.
    Returns:
        images ``(n, 1, size, size)`` float32, labels ``(n,)`` long, boxes ``(n, 4)`` long as
        ``(x0, y0, x1, y1)`` (ends exclusive) of the patch, ``(0, 0, 0, 0)`` where there is none.
    """
    where = "bright_patches"
    n, size = _positive_int(n, "n", where), _positive_int(size, "size", where)
    patch_size = _positive_int(patch_size, "patch_size", where)
    if patch_size > size:
        raise ValueError(f"{where}: expected patch_size <= size, got {patch_size} > {size}")
    _non_negative(noise, "noise", where)
    rng = _rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    images = (noise * rng.standard_normal((n, size, size))).astype(np.float32)
    corners = rng.integers(0, size - patch_size + 1, size=(n, 2))
    boxes = np.zeros((n, 4), dtype=np.int64)
    for index in np.flatnonzero(labels):
        top, left = corners[index]
        images[index, top:top + patch_size, left:left + patch_size] += brightness
        boxes[index] = (left, top, left + patch_size, top + patch_size)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long(), torch.from_numpy(boxes)


# The two parts of part_arrangements. Their masses differ (5 and 8 pixels), which gives nothing away: every
# image of either class holds one of each.
PART_A = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.float32)  # a plus
PART_B = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float32)  # a ring


def part_arrangements(n: int, size: int = 24, min_gap: int = 8, noise: float = 0.1,
                      seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two classes made of the same two parts: part A above part B (label 0) or B above A (label 1).

    A is a 3x3 plus (:data:`PART_A`), B a 3x3 ring (:data:`PART_B`). Each image places the upper part at a
    random row and the lower part at a random row at least ``min_gap`` empty rows below it; each part gets its
    own random column. Positions are drawn the same way for both classes, and only which part goes on top
    depends on the label, so every image of either class holds one A and one B: the classes differ only in
    the arrangement. With ``min_gap`` at least the receptive field of a network, no unit sees both parts.

    Args:
        n: number of images; an even ``n`` gives exactly balanced classes.
        size: side of the square image; at least ``6 + min_gap``.
        min_gap: fewest empty rows between the two parts.
        noise: standard deviation of Gaussian noise added everywhere.
        seed: same seed, same data.
    Returns:
        images ``(n, 1, size, size)`` float32, labels ``(n,)`` long, corners ``(n, 2, 2)`` long: the
        ``(row, column)`` of the top-left pixel of part A (``[:, 0]``) and of part B (``[:, 1]``).
    """
    where = "part_arrangements"
    n, size = _positive_int(n, "n", where), _positive_int(size, "size", where)
    if not isinstance(min_gap, (int, np.integer)) or isinstance(min_gap, bool) or min_gap < 0:
        raise ValueError(f"{where}: expected min_gap to be an int >= 0, got {min_gap!r}")
    if size < 6 + min_gap:
        raise ValueError(f"{where}: two 3x3 parts {min_gap} rows apart need size >= {6 + min_gap}, got {size}")
    _non_negative(noise, "noise", where)
    rng = _rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    images = (noise * rng.standard_normal((n, size, size))).astype(np.float32)
    corners = np.empty((n, 2, 2), dtype=np.int64)
    for index, label in enumerate(labels):
        upper_row = rng.integers(0, size - 6 - min_gap + 1)
        lower_row = rng.integers(upper_row + 3 + min_gap, size - 3 + 1)
        columns = rng.integers(0, size - 3 + 1, size=2)
        rows = (upper_row, lower_row) if label == 0 else (lower_row, upper_row)  # (row of A, row of B)
        for part, (row, column) in enumerate(zip(rows, columns, strict=True)):
            images[index, row:row + 3, column:column + 3] += (PART_A, PART_B)[part]
            corners[index, part] = (row, column)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels).long(), torch.from_numpy(corners)


def _sklearn_digits_file() -> Path | None:
    """The file in which scikit-learn ships its digits (no download), found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    # load_digits() reads one compressed CSV, a row per digit: 64 pixel values, then the label. Reading that
    # file here gives the same arrays (tests/test_data.py) and spares every notebook the 1.5-2 s that importing
    # scikit-learn costs at start-up; where the file is not where it was, load_digits() itself is used.
    path = _sklearn_digits_file()
    if path is not None:
        table = np.loadtxt(path, delimiter=",")
        images, target = table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images, target = digits.images, digits.target
    order = np.random.default_rng(0).permutation(len(target))
    return images[order].astype(np.float32) / 16.0, target[order].astype(np.int64)


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
    _non_negative(noise, "noise", where)
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


def _ink_box(digit: np.ndarray, left: int, top: int) -> tuple[int, int, int, int]:
    """The tight box ``(x0, y0, x1, y1)`` of a pasted digit's ink (pixels above 0.25), ends exclusive."""
    ink_rows, ink_cols = np.nonzero(digit > 0.25)
    return (left + ink_cols.min(), top + ink_rows.min(), left + ink_cols.max() + 1, top + ink_rows.max() + 1)


def _separated_corners(rng: np.random.Generator, count: int, span: int, spacing: int) -> list[tuple[int, int]]:
    """``count`` random corners in ``[0, span)^2``, pairwise ``spacing`` apart along at least one axis."""
    # Rejection sampling, restarted when an early square leaves no room for the next ones (a centred first
    # digit can block a small canvas). The caller checked that a grid arrangement fits, so a restart succeeds
    # with positive probability; the cap only guards against a canvas where that is vanishingly small.
    for _ in range(1000):
        corners: list[tuple[int, int]] = []
        for _ in range(50 * count):
            left, top = (int(v) for v in rng.integers(0, span, size=2))
            if all(abs(left - x) >= spacing or abs(top - y) >= spacing for x, y in corners):
                corners.append((left, top))
                if len(corners) == count:
                    return corners
    raise ValueError(f"digits_with_distractors: could not place {count} digits {spacing} px apart; "
                     "use a larger canvas or fewer distractors")


def digits_with_distractors(n: int, canvas_size: int = 32, digit_size: int = 12, distractors: int = 1,
                            gap: int = 1, noise: float = 0.1, subset: str = "test", seed: int = 0
                            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Canvases holding a target digit and ``distractors`` digits of other classes, with every digit's box.

    A localisation benchmark where an "ink detector" cannot pass: the map for the target's class must find
    the target and not the other digits, which look just as much like ink. Each canvas gets
    ``1 + distractors`` handwritten digits of pairwise different classes, resized (bilinear) to
    ``digit_size`` pixels and pasted at uniformly random positions such that their squares are at least
    ``gap`` pixels apart (so the ink boxes never overlap); Gaussian noise of standard deviation ``noise``
    covers the canvas. Which digit is the target is random, so it has no preferred place. Boxes are the
    tight boxes of each digit's ink (pixels above 0.25), as in :func:`digits_on_canvas`.

    Args:
        n: number of canvases.
        canvas_size: side of the square canvas in pixels.
        digit_size: side of each pasted digit in pixels.
        distractors: ``D >= 1``, digits per canvas besides the target, each of another class.
        gap: fewest empty pixels between two digits' squares.
        noise: standard deviation of the background noise.
        subset: which handwritten digits to draw from, ``"train"``, ``"test"`` or ``"all"``
            (see :func:`load_digit_images`).
        seed: same seed, same data.
    Returns:
        images ``(n, 1, canvas_size, canvas_size)`` float32, labels ``(n,)`` long (the target's class),
        boxes ``(n, 4)`` long (the target's ink box), distractor labels ``(n, D)`` long and distractor boxes
        ``(n, D, 4)`` long; boxes are ``(x0, y0, x1, y1)``, ``x`` along columns, ends exclusive.
    """
    where = "digits_with_distractors"
    n = _positive_int(n, "n", where)
    canvas_size = _positive_int(canvas_size, "canvas_size", where)
    digit_size = _positive_int(digit_size, "digit_size", where)
    distractors = _positive_int(distractors, "distractors", where)
    if not isinstance(gap, (int, np.integer)) or isinstance(gap, bool) or gap < 0:
        raise ValueError(f"{where}: expected gap to be an int >= 0, got {gap!r}")
    if distractors > 9:
        raise ValueError(f"{where}: the ten digit classes allow at most 9 distractors, got {distractors}")
    per_side = (canvas_size + gap) // (digit_size + gap)
    if per_side**2 < 1 + distractors:
        raise ValueError(f"{where}: {1 + distractors} digits of {digit_size} px, {gap} px apart, do not fit "
                         f"a {canvas_size} px canvas")
    _non_negative(noise, "noise", where)
    source_images, source_labels = load_digit_images(subset)
    by_class = [np.flatnonzero(source_labels == k) for k in range(10)]
    rng = _rng(seed)
    count = 1 + distractors
    images = (noise * rng.standard_normal((n, canvas_size, canvas_size))).astype(np.float32)
    classes = np.stack([rng.permutation(10)[:count] for _ in range(n)])
    picks = np.array([[rng.choice(by_class[k]) for k in row] for row in classes])
    digits = torch.from_numpy(source_images[picks.reshape(-1)]).unsqueeze(1)
    digits = F.interpolate(digits, size=(digit_size, digit_size), mode="bilinear", align_corners=False)
    digits = digits.clamp(0, 1).squeeze(1).numpy().reshape(n, count, digit_size, digit_size)
    boxes = np.empty((n, count, 4), dtype=np.int64)
    span = canvas_size - digit_size + 1
    for index in range(n):
        corners = _separated_corners(rng, count, span, digit_size + gap)
        for slot, (left, top) in enumerate(corners):
            images[index, top:top + digit_size, left:left + digit_size] += digits[index, slot]
            boxes[index, slot] = _ink_box(digits[index, slot], left, top)
    labels = torch.from_numpy(classes.astype(np.int64))
    boxes_t = torch.from_numpy(boxes)
    return (torch.from_numpy(images).unsqueeze(1), labels[:, 0].clone(), boxes_t[:, 0].clone(),
            labels[:, 1:].clone(), boxes_t[:, 1:].clone())


MOTIF_CLASSES = ("none", "sine burst", "square pulse")


def motif_signals(n: int, length: int = 96, motif_length: int = 16, noise: float = 0.5,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noisy 1-D signals classified by which motif, if any, they contain somewhere in time.

    Class 0 is Gaussian noise alone; class 1 adds a sine burst (two periods of a sine of amplitude 1) and
    class 2 a square pulse (one period of a +1/-1 square wave), each ``motif_length`` steps long at a
    uniformly random start. Both motifs have zero mean, so the mean of the raw signal says nothing about
    the class: a model must detect the shape, wherever it is.

    Args:
        n: number of signals; labels cycle through the three classes in a random order.
        length: ``L``, time steps per signal.
        motif_length: time steps of a motif, at most ``length``.
        noise: standard deviation of the white noise.
        seed: same seed, same data.
    Returns:
        signals ``(n, 1, L)`` float32, labels ``(n,)`` long in ``0..2``, spans ``(n, 2)`` long as
        ``(start, end)`` of the motif (end exclusive), ``(0, 0)`` for class 0.
    """
    where = "motif_signals"
    n, length = _positive_int(n, "n", where), _positive_int(length, "length", where)
    motif_length = _positive_int(motif_length, "motif_length", where)
    if motif_length > length:
        raise ValueError(f"{where}: expected motif_length <= length, got {motif_length} > {length}")
    _non_negative(noise, "noise", where)
    rng = _rng(seed)
    phase = np.arange(motif_length) / motif_length
    motifs = {1: np.sin(4 * np.pi * phase), 2: np.where(phase < 0.5, 1.0, -1.0)}
    labels = rng.permutation(np.arange(n) % len(MOTIF_CLASSES))
    signals = noise * rng.standard_normal((n, length))
    spans = np.zeros((n, 2), dtype=np.int64)
    starts = rng.integers(0, length - motif_length + 1, size=n)
    for index, (label, start) in enumerate(zip(labels, starts, strict=True)):
        if label:
            signals[index, start:start + motif_length] += motifs[int(label)]
            spans[index] = (start, start + motif_length)
    return (torch.from_numpy(signals).float().unsqueeze(1), torch.from_numpy(labels).long(),
            torch.from_numpy(spans))


def key_word_sentences(n: int, task: str = "which", length: int = 8, vocab_size: int = 20,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences whose label depends on two key words, token 0 and token 1, among filler words.

    Filler tokens are drawn uniformly from ``2..vocab_size-1``. With ``task="which"`` each sentence holds
    exactly one key word at a random position and the label is that word (0 or 1): a bag of words suffices.
    With ``task="order"`` each sentence holds both key words at two random positions and the label is 1 when
    token 0 comes first: the same words in another order, so a bag of words cannot tell the classes apart.

    Args:
        n: number of sentences; an even ``n`` gives exactly balanced classes.
        task: ``"which"`` or ``"order"``.
        length: tokens per sentence, at least 2.
        vocab_size: ``V``, at least 3.
        seed: same seed, same data.
    Returns:
        tokens ``(n, length)`` long in ``0..V-1``, labels ``(n,)`` long in ``{0, 1}``.
    """
    where = "key_word_sentences"
    n, length = _positive_int(n, "n", where), _positive_int(length, "length", where)
    vocab_size = _positive_int(vocab_size, "vocab_size", where)
    if task not in ("which", "order"):
        raise ValueError(f"{where}: expected task 'which' or 'order', got {task!r}")
    if length < 2 or vocab_size < 3:
        raise ValueError(f"{where}: expected length >= 2 and vocab_size >= 3, got {length} and {vocab_size}")
    rng = _rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    tokens = rng.integers(2, vocab_size, size=(n, length))
    for index, label in enumerate(labels):
        first, second = rng.choice(length, size=2, replace=False)
        if task == "which":
            tokens[index, first] = label
        else:
            early, late = sorted((first, second))
            tokens[index, early], tokens[index, late] = (0, 1) if label == 1 else (1, 0)
    return torch.from_numpy(tokens).long(), torch.from_numpy(labels).long()


def context_switched_digits(n: int, canvas_size: int = 12, digit_size: int = 8, context: float = 0.3,
                            clutter: float = 1.0, classes: tuple[int, ...] = (0, 1), noise: float = 0.1,
                            subset: str = "train",
                            seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Two digits in two channels; a global context in a third channel says which digit is the label.

    Channels 0 and 1 each hold an independent handwritten digit at a random place (as in
    :func:`digits_on_canvas`). Channel 2 is the context: a smooth random field of standard deviation
    ``clutter`` with its mean removed, plus :math:`\pm` ``context``. The label is the class of the digit in
    channel 1 when the context is positive and in channel 0 otherwise:

    .. math:: y = \begin{cases} y_1 & \text{if } \overline{X_2} = +\text{context} \\
        y_0 & \text{if } \overline{X_2} = -\text{context} \end{cases}

    The field has mean exactly zero over the whole canvas, so the channel mean gives the context exactly,
    while a small window sees mostly the field: the context is global by construction. A model that
    ignores it can do no better than guess one of the two digits, right whenever they agree and half of
    the other times.

    Args:
        n: number of images.
        canvas_size: side of the square canvas, a multiple of 4 (the field varies on a grid 4 times coarser).
        digit_size: side of each pasted digit.
        context: the size of the context's offset, > 0.
        clutter: standard deviation of the field that hides the context from local windows.
        classes: digit classes; labels are ``0..len(classes)-1`` in that order.
        noise: background noise of the two digit channels.
        subset: handwritten digits to draw from, ``"train"`` or ``"test"`` (disjoint) or ``"all"``.
        seed: same seed, same data.
    Returns:
        images ``(n, 3, canvas_size, canvas_size)`` float32, labels ``(n,)`` long, contexts ``(n,)`` long
        (1 where the label is channel 1's digit, 0 where it is channel 0's), and the labels of both digits
        ``(n, 2)`` long.
    """
    where = "context_switched_digits"
    n = _positive_int(n, "n", where)
    canvas_size = _positive_int(canvas_size, "canvas_size", where)
    if canvas_size % 4:
        raise ValueError(f"{where}: expected canvas_size to be a multiple of 4, got {canvas_size}")
    if not context > 0:
        raise ValueError(f"{where}: expected context > 0, got {context}")
    _non_negative(clutter, "clutter", where)
    rng = _rng(seed)
    digit_seeds = rng.integers(0, 2**31 - 1, size=2)
    digits = [digits_on_canvas(n, canvas_size, digit_size, noise=noise, subset=subset, classes=classes,
                               seed=int(s))[:2] for s in digit_seeds]
    contexts = rng.permutation(np.arange(n) % 2)
    coarse = torch.from_numpy(rng.standard_normal((n, 1, canvas_size // 4, canvas_size // 4)).astype(np.float32))
    field = F.interpolate(coarse, size=(canvas_size, canvas_size), mode="bilinear", align_corners=False)
    field = field - field.mean(dim=(2, 3), keepdim=True)
    field = clutter * field / field.std(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    sign = torch.from_numpy(2.0 * contexts - 1.0).float().reshape(n, 1, 1, 1)
    images = torch.cat([digits[0][0], digits[1][0], field + context * sign], dim=1)
    contexts = torch.from_numpy(contexts).long()
    digit_labels = torch.stack([digits[0][1], digits[1][1]], dim=1)
    labels = torch.where(contexts == 1, digit_labels[:, 1], digit_labels[:, 0])
    return images, labels, contexts, digit_labels


def counting_sets(n: int, counts: tuple[int, ...] = (2, 3, 4, 5), threshold: int = 4,
                  multiples: tuple[int, ...] | None = (2, 3, 4), size: int = 12,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Sets of nodes of two kinds, labelled by whether they hold at least ``threshold`` nodes of kind A.

    Each set holds :math:`k` nodes of kind A (feature ``[1, 0]``), with :math:`k` drawn uniformly from
    ``counts``, and filler nodes of kind B (feature ``[0, 1]``); the label is :math:`[k \ge` ``threshold``:math:`]`.

    - With ``multiples`` given, the set has :math:`|V| = k m` nodes, :math:`m` drawn uniformly from
      ``multiples``: the share of A, :math:`1/m`, has the same distribution in both classes, so the mean of the
      node features carries no information about the label, while the sum, :math:`(k, |V| - k)`, gives it.
    - With ``multiples=None`` every set has ``size`` nodes: the mean, :math:`(k, |V| - k) / |V|`, is the sum
      divided by a constant and gives the label as well as the sum does.

    Args:
        n: number of sets.
        counts: the possible numbers :math:`k` of A nodes, each >= 1.
        threshold: label 1 when :math:`k \ge` ``threshold``.
        multiples: the possible ratios :math:`|V| / k`, each >= 1; ``None`` for sets of fixed size.
        size: the number of nodes of every set when ``multiples`` is ``None``; at least ``max(counts)``.
        seed: same seed, same data.
    Returns:
        nodes ``(n, V_max, 3)`` float32, the two features of each node and a last column that is 1 for a node
        and 0 for padding (sets are padded with zeros to the largest size ``V_max``), labels ``(n,)`` long,
        sizes ``(n,)`` long: the number of nodes :math:`|V|` of each set.
    """
    where = "counting_sets"
    n = _positive_int(n, "n", where)
    counts = tuple(_positive_int(k, "each count", where) for k in counts)
    if not counts:
        raise ValueError(f"{where}: expected at least one count, got {counts!r}")
    if multiples is None:
        size = _positive_int(size, "size", where)
        if size < max(counts):
            raise ValueError(f"{where}: expected size >= max(counts) = {max(counts)}, got {size}")
    else:
        multiples = tuple(_positive_int(m, "each multiple", where) for m in multiples)
        if not multiples:
            raise ValueError(f"{where}: expected at least one multiple or None, got {multiples!r}")
    rng = _rng(seed)
    k = rng.choice(np.array(counts), size=n)
    sizes = np.full(n, size) if multiples is None else k * rng.choice(np.array(multiples), size=n)
    nodes = np.zeros((n, int(sizes.max()), 3), dtype=np.float32)
    for index, (count, total) in enumerate(zip(k, sizes, strict=True)):
        kinds = rng.permutation(np.arange(total) < count)  # True: a node of kind A
        nodes[index, :total, 0] = kinds
        nodes[index, :total, 1] = ~kinds
        nodes[index, :total, 2] = 1
    labels = (k >= threshold).astype(np.int64)
    return torch.from_numpy(nodes), torch.from_numpy(labels), torch.from_numpy(sizes.astype(np.int64))
