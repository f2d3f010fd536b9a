r"""Exercise 5: from a CAM to a box (the book's rule), and the IoU that scores the box.

The rule of the whole book: keep the positions where :math:`M(i, j) \ge \tau \max M`, take the largest
8-connected region of kept positions, return its tight box ``(x0, y0, x1, y1)``, ``x`` along the columns, ends
exclusive. A map with no positive value holds no evidence of a location: its box is the whole map.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage

from gaplib.cam import box_iou, cam_to_box
from gaplib.checks._core import call, call_untouched, fail, number, passed, refuse_library

EIGHT, FOUR = np.ones((3, 3), dtype=int), ndimage.generate_binary_structure(2, 1)


def _box_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    return (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)


def _regions(kept: np.ndarray, structure: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    regions, count = ndimage.label(kept, structure=structure)
    return regions, np.bincount(regions.ravel(), minlength=count + 1)[1:]


def reference(cam: torch.Tensor, tau: float, *, above: bool = False, structure: np.ndarray = EIGHT,
              pick: str = "largest", scale: str = "max") -> tuple[int, int, int, int]:
    """The book's box; the keyword arguments give the typical mistakes, to recognise them."""
    values = cam.detach().double().numpy()
    height, width = values.shape
    if scale == "range":
        span = values.max() - values.min()
        values = (values - values.min()) / span if span > 0 else np.zeros_like(values)
        limit = tau
    elif scale == "raw":
        limit = tau
    else:
        if values.max() <= 0:
            return (0, 0, width, height)
        limit = tau * values.max()
    kept = values > limit if above else values >= limit
    if not kept.any():
        return (0, 0, width, height)
    if pick == "all":
        return _box_of(kept)
    regions, sizes = _regions(kept, structure)
    if pick == "first":
        label = 1
    elif pick == "peak":
        label = regions.flat[np.argmax(np.where(kept, values, -np.inf))]
    else:
        label = 1 + int(np.argmax(sizes))
    return _box_of(regions == label)


def _blob(height: int, width: int, row: float, col: float, radius: float) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                                indexing="ij")
    return torch.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * radius**2))


def _grid(text: str) -> torch.Tensor:
    """A small map from rows of digits, for regions whose shape matters."""
    return torch.tensor([[float(c) for c in row] for row in text.split()], dtype=torch.float64)


def inputs() -> list[tuple[str, torch.Tensor, float]]:
    one = _blob(12, 20, 4.0, 13.0, 2.0)
    two = 0.8 * _blob(16, 24, 5.0, 5.0, 2.5) + _blob(16, 24, 11.0, 19.0, 1.0)
    return [
        ("a 12x20 map (H=12, W=20) with one blob, tau=0.5", one, 0.5),
        ("the same map minus 0.3 (negative away from the blob), tau=0.5", one - 0.3, 0.5),
        ("the same map times 10, tau=0.2", 10 * one, 0.2),
        ("a 16x24 map: a wide low blob and a narrow higher one, tau=0.3", two, 0.3),
        ("a 6x8 map where 5 positions sit exactly at tau * max, tau=0.5",
         _grid("00000000 00000000 01111000 00012200 00000000 00000000"), 0.5),
        ("a 7x9 map whose largest region is a diagonal line (8-connected, not 4-connected), tau=0.5",
         _grid("100000000 010000000 001000000 000100000 000010000 000000111 000000000"), 0.5),
        ("an 8x10 map with three regions: the first found (top left), the largest, and the one holding the "
         "peak are all different, tau=0.5",
         _grid("1100000000 0000000000 0000000090 0000000090 0111000000 0111000000 0000000000 0000000000")
         / 9.0, 0.1),
        ("a constant map of ones, 5x7, tau=0.5", torch.ones(5, 7, dtype=torch.float64), 0.5),
        ("a map of zeros, 4x4 (no evidence anywhere), tau=0.5", torch.zeros(4, 4, dtype=torch.float64), 0.5),
        ("a map with no positive value, 3x6, tau=0.5", -1.0 - _blob(3, 6, 1.0, 2.0, 1.0), 0.5),
        ("a 1x9 map (H = 1), tau=0.5", _grid("012100220"), 0.5),
        ("a 7x1 map (W = 1), tau=0.5", _grid("0 2 0 1 2 1 0"), 0.5),
        ("a float32 map 12x20 with one blob, tau=0.25", one.float(), 0.25),
    ]


def as_box(value: object, label: str) -> tuple[int, ...]:
    if isinstance(value, torch.Tensor | np.ndarray):
        value = value.tolist()
    if not isinstance(value, tuple | list) or len(value) != 4:
        raise fail(f"on {label}: expected a box (x0, y0, x1, y1), got {value!r}")
    box = []
    for v in value:
        coordinate = number(v, label, "each box coordinate")
        if coordinate != int(coordinate):
            raise fail(f"on {label}: expected whole-pixel coordinates, got {value!r}")
        box.append(int(coordinate))
    return tuple(box)


MISTAKES = [
    ({"scale": "range"}, "the threshold is a fraction of the map's maximum, tau * max(M), not of the min-max "
                         "range: do not subtract the minimum"),
    ({"scale": "raw"}, "compare the map with tau times its maximum, not with tau itself"),
    ({"above": True}, "positions exactly at tau * max(M) are kept too: use >=, not >"),
    ({"structure": FOUR}, "diagonal neighbours belong to the same region: label 8-connected regions "
                          "(a 3x3 structure of ones), not 4-connected ones"),
    ({"pick": "all"}, "the box covers every kept position: keep only the largest connected region"),
    ({"pick": "first"}, "region 1 is only the first region met scanning from the top left: keep the largest"),
    ({"pick": "peak"}, "that is the region holding the maximum: keep the largest region, whatever its values"),
]


def check_cam_to_box(fn: Callable[[torch.Tensor, float], tuple]) -> None:
    """Check a CAM-to-box step: keep ``M >= tau * max(M)``, box the largest 8-connected region.

    ``fn(cam, tau)`` takes one map ``(H, W)`` and a fraction ``tau`` in ``(0, 1]`` and returns
    ``(x0, y0, x1, y1)`` in pixels with ``x`` along the columns and the ends exclusive; a map with no positive
    value boxes the whole map. The map must be left unchanged.

    Raises:
        CheckFailed: (an ``AssertionError``) naming the input and the step that differs.
    """
    refuse_library(fn, [cam_to_box], "turn a map into a box yourself")
    for label, cam, tau in inputs():
        got = as_box(call_untouched(fn, label, cam, tau, tensor=False), label)
        expected = reference(cam, tau)
        if got == expected:
            continue
        x0, y0, x1, y1 = expected
        hint = next((text for change, text in MISTAKES if got == reference(cam, tau, **change)), None)
        if hint is not None:
            pass  # a known mistake, named above
        elif got == (y0, x0, y1, x1):
            hint = "x and y are swapped: x runs along the columns (width), y along the rows (height)"
        elif got == (x0, y0, x1 - 1, y1 - 1):
            hint = "the ends are inclusive: use exclusive ends, so that the width is x1 - x0"
        elif expected == (0, 0, cam.shape[1], cam.shape[0]):
            hint = ("a map with no positive value, or a constant one, has no preferred location: "
                    "its box is the whole map")
        else:
            hint = "it is not the tight box of the largest region kept by the threshold"
        raise fail(f"on {label}: your box {got} is wrong: {hint}.")
    passed("cam_box", f"{len(inputs())} maps (a value exactly at the threshold, diagonal regions, three "
           "competing regions, constant maps, H or W = 1), input left unchanged")


def reference_iou(box_a: tuple[int, ...], box_b: tuple[int, ...]) -> float:
    """IoU of two boxes with exclusive ends (computed here: torchvision's import alone takes seconds)."""
    width = max(min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]), 0)
    height = max(min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]), 0)
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return width * height / (area(box_a) + area(box_b) - width * height)


def check_box_iou(fn: Callable[[tuple, tuple], float]) -> None:
    r"""Check an intersection-over-union of two boxes ``(x0, y0, x1, y1)`` with exclusive ends.

    .. math:: \mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A \cup B|}

    ``fn(box_a, box_b)`` takes two 4-tuples of ints and returns a number in ``[0, 1]``.

    Raises:
        CheckFailed: naming the pair of boxes and the likely slip (ends, overlap clamp, union).
    """
    refuse_library(fn, [box_iou], "compute the IoU yourself")
    cases = [((0, 0, 4, 4), (2, 2, 6, 6)), ((1, 2, 9, 5), (1, 2, 9, 5)), ((0, 0, 2, 2), (5, 5, 8, 9)),
             ((0, 0, 2, 2), (2, 0, 4, 2)), ((0, 0, 10, 6), (2, 1, 5, 3)), ((3, 0, 7, 8), (0, 2, 10, 5))]
    for box_a, box_b in cases:
        label = f"boxes {box_a} and {box_b}"
        got = number(call(fn, label, box_a, box_b), label, "the IoU")
        expected = reference_iou(box_a, box_b)
        if abs(got - expected) <= 1e-6:
            continue
        ax0, ay0, ax1, ay1 = box_a
        bx0, by0, bx1, by1 = box_b
        overlap_w, overlap_h = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
        area_a, area_b = (ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0)
        inclusive_inter = max(overlap_w + 1, 0) * max(overlap_h + 1, 0)
        inclusive_union = (ax1 - ax0 + 1) * (ay1 - ay0 + 1) + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inclusive_inter
        intersection = max(overlap_w, 0) * max(overlap_h, 0)
        if got < 0 or got > 1:
            hint = f"{got:.4g} is outside [0, 1]"
            if overlap_w < 0 or overlap_h < 0:
                hint += ": boxes that do not overlap have overlap width or height <= 0; clamp them at 0"
        elif abs(got - inclusive_inter / inclusive_union) <= 1e-6:
            hint = "the ends are exclusive: a box (x0, y0, x1, y1) is x1 - x0 pixels wide, not x1 - x0 + 1"
        elif abs(got - intersection / (area_a + area_b)) <= 1e-6:
            hint = "the union counts the overlap twice: subtract the intersection once"
        elif abs(got - intersection / area_a) <= 1e-6 or abs(got - intersection / area_b) <= 1e-6:
            hint = "you divided by one box's area: divide by the area of the union"
        else:
            hint = f"{got:.4g} is not the intersection's area over the union's"
        raise fail(f"on {label}: {hint}.")
    passed("iou", "6 pairs of boxes (overlapping, equal, apart, touching, nested, crossing)")
