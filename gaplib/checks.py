"""Automatic checks for the exercises: quiet when an answer is right, a precise hint when it is wrong.

Each checker calls the student's function on a few inputs chosen to tell mistakes apart (non-square maps,
1 to 3 spatial dims, float64, negative values, K != C) and compares with the reference. A failure raises
``AssertionError`` saying what is wrong (shape, axis, scale, dtype, gradient) and on which input, never the
solution itself. A candidate that crashes is reported the same way, not as a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from gaplib.cam import box_iou, cam_to_box, class_activation_maps, normalize_cam
from gaplib.data import stripes_and_checkerboards
from gaplib.heads import head_cost
from gaplib.pooling import gem_pool, global_avg_pool, global_max_pool


def _shape(x: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in x.shape) + ")"


def _call(fn: Callable, label: str, *args: torch.Tensor) -> torch.Tensor:
    try:
        result = fn(*args)
    except Exception as error:  # a student's crash becomes a hint, not a traceback
        raise AssertionError(f"your function raised {type(error).__name__} on {label}: {error}") from None
    if not isinstance(result, torch.Tensor):
        raise AssertionError(f"on {label}: expected a torch.Tensor, got {type(result).__name__}")
    return result


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-5, atol=1e-6)


def _pool_inputs() -> list[tuple[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)

    def randn(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    return [
        ("a 4-D input of shape (2, 3, 4, 5) (N=2, C=3, H=4, W=5)", randn(2, 3, 4, 5)),
        ("a 3-D input of shape (2, 3, 7) (a 1-D signal: N=2, C=3, L=7)", randn(2, 3, 7)),
        ("a 5-D input of shape (1, 2, 3, 4, 5) (a volume)", randn(1, 2, 3, 4, 5)),
        ("a float64 input of shape (3, 2, 6, 2)", randn(3, 2, 6, 2, dtype=torch.float64)),
    ]


def _diagnose_pool(x: torch.Tensor, got: torch.Tensor, label: str) -> str:
    spatial = tuple(range(2, x.dim()))
    expected = global_avg_pool(x)
    if got.shape != expected.shape:
        return (f"on {label}: expected output shape {_shape(expected)} (one number per image and channel), "
                f"got {_shape(got)}. Average over every spatial dim, whatever their number, and keep N and C.")
    if got.dtype != x.dtype and _close(got, expected):
        return f"on {label}: expected dtype {x.dtype} (same as the input), got {got.dtype}."
    positions = 1
    for d in spatial:
        positions *= x.shape[d]
    if _close(got, expected * positions):
        return f"on {label}: your values are {positions} times too large: that is a sum, not a mean."
    scale = _best_scale(got, expected)
    if _close(got, expected * scale):
        return (f"on {label}: your values are off by a factor {scale:.4g}: divide the sum by the number of "
                f"positions, here {positions} = {' x '.join(str(x.shape[d]) for d in spatial)}.")
    return f"on {label}: the shape is right but the values are not the per-channel spatial means."


def _best_scale(got: torch.Tensor, expected: torch.Tensor) -> float:
    """The factor s minimising |got - s * expected|: a wrong normalisation shows up as s != 1."""
    expected = expected.detach().double()
    return ((got.detach().double() * expected).sum() / expected.pow(2).sum().clamp(min=1e-300)).item()


def check_global_avg_pool(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    r"""Check an implementation of global average pooling, :math:`\bar F_c = \frac{1}{HW}\sum_{i,j} F_c(i,j)`.

    ``fn(x)`` must map ``(N, C, *spatial)`` with 1 to 3 spatial dims to ``(N, C)``, keep the dtype, and let
    gradients flow (each position receives ``1/(HW)`` of the upstream gradient).

    Raises:
        AssertionError: with a hint on what is wrong and on which input.
    """
    for label, x in _pool_inputs():
        got = _call(fn, label, x)
        if not (_close(got, global_avg_pool(x)) and got.dtype == x.dtype):
            raise AssertionError(_diagnose_pool(x, got, label))
    label, x = "a 4-D input of shape (2, 3, 4, 5) with requires_grad=True", _pool_inputs()[0][1].requires_grad_()
    got = _call(fn, label, x)
    if not got.requires_grad:
        raise AssertionError(f"on {label}: the output does not require grad; stay in torch (no numpy, no .detach()).")
    got.sum().backward()
    if x.grad is None or not torch.allclose(x.grad, torch.full_like(x, 1 / 20)):
        raise AssertionError(f"on {label}: each position should receive gradient 1/(H*W) = 1/20 from out.sum().")


def _cam_inputs() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)

    def randn(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    return [
        ("features (2, 3, 4, 5) and weight (6, 3) (N=2, C=3, H=4, W=5, K=6)", randn(2, 3, 4, 5), randn(6, 3)),
        ("features (1, 4, 3, 3) and weight (4, 4) (K = C)", randn(1, 4, 3, 3), randn(4, 4)),
        ("float64 features (3, 2, 5, 2) and weight (1, 2)", randn(3, 2, 5, 2, dtype=torch.float64),
         randn(1, 2, dtype=torch.float64)),
    ]


def _diagnose_cam(features: torch.Tensor, weight: torch.Tensor, got: torch.Tensor, label: str) -> str:
    expected = class_activation_maps(features, weight)
    if got.shape != expected.shape:
        return (f"on {label}: expected shape {_shape(expected)}, i.e. (N, K, H, W) with one map per class, "
                f"got {_shape(got)}.")
    if _close(got, expected.clamp(min=0)):
        return f"on {label}: negative values are missing: CAM here is raw, without ReLU."
    if got.dtype != features.dtype and _close(got, expected):
        return f"on {label}: expected dtype {features.dtype} (same as the features), got {got.dtype}."
    square = weight.shape[0] == weight.shape[1]
    if square and _close(got, class_activation_maps(features, weight.T.contiguous())):
        return f"on {label}: weight is (K, C) with w[k, c]; it looks like you used it transposed."
    if _close(got.flatten(2).mean(-1), expected.flatten(2).mean(-1)):
        return f"on {label}: the spatial means are right but the maps are not: the maps must keep their shape."
    scale = _best_scale(got, expected)
    if _close(got, expected * scale):
        return f"on {label}: the maps are right up to a factor {scale:.4g}: no averaging or normalising here."
    return f"on {label}: the shape is right but map k should be the w[k, c]-weighted sum of the channels c."


def check_class_activation_maps(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    r"""Check an implementation of raw class activation maps, :math:`\mathrm{CAM}_k = \sum_c w_{kc} F_c`.

    ``fn(features, weight)`` takes features ``(N, C, H, W)`` and a classifier weight ``(K, C)`` and must
    return ``(N, K, H, W)``: no ReLU, no normalisation, same dtype, differentiable.

    Raises:
        AssertionError: with a hint on what is wrong and on which input.
    """
    for label, features, weight in _cam_inputs():
        got = _call(fn, label, features, weight)
        if not (_close(got, class_activation_maps(features, weight)) and got.dtype == features.dtype):
            raise AssertionError(_diagnose_cam(features, weight, got, label))
    label, features, weight = _cam_inputs()[0]
    features.requires_grad_()
    got = _call(fn, label + " with requires_grad=True", features, weight)
    if not got.requires_grad:
        raise AssertionError(f"on {label}: the output does not require grad; stay in torch (no numpy, no .detach()).")


# --- Checkers for the exercises appendix (exercises/). Each compares with a small reference of its own, so the
# --- exercises depend on nothing but this module and gaplib's core.


def _number(value: object, label: str, what: str) -> float:
    """A Python float from a number or a one-element tensor, or a hint saying what came instead."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise AssertionError(f"on {label}: expected {what} to be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise AssertionError(f"on {label}: {what} is {value}, not a finite number")
    return value


def _call_any(fn: Callable, label: str, *args: object) -> object:
    """Call a candidate with any arguments; a crash becomes a hint naming the input."""
    try:
        return fn(*args)
    except Exception as error:  # a student's crash becomes a hint, not a traceback
        raise AssertionError(f"your function raised {type(error).__name__} on {label}: {error}") from None


def check_head_cost(fn: Callable[[str, int, int, int, int], tuple]) -> None:
    r"""Check a count of a classifier head's parameters, float32 bytes and FLOPs.

    ``fn(kind, channels, height, width, num_classes)`` with ``kind`` ``"gap"`` or ``"flatten"`` must return
    ``(params, bytes, flops)`` for one image: weights plus biases of the linear layer; 4 bytes per parameter;
    2 FLOPs per multiply-add plus, for GAP, one addition per activation (:math:`CHW`).

    Raises:
        AssertionError: naming the quantity that is wrong and the head it is wrong on.
    """
    cases = [("gap", 128, 64, 64, 10), ("flatten", 128, 64, 64, 10), ("gap", 3, 5, 7, 2), ("flatten", 3, 5, 7, 2),
             ("flatten", 1, 1, 1, 1)]
    for kind, channels, height, width, classes in cases:
        label = f"kind={kind!r}, C={channels}, H={height}, W={width}, K={classes}"
        result = _call_any(fn, label, kind, channels, height, width, classes)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise AssertionError(f"on {label}: expected a tuple (params, bytes, flops), got {result!r}")
        params, size, flops = (_number(v, label, name) for v, name in zip(result, ("params", "bytes", "flops"),
                                                                             strict=True))
        cost = head_cost(kind, channels, height, width, classes)
        inputs = channels * (height * width if kind == "flatten" else 1)
        if params != cost.params:
            if params == cost.weights:
                raise AssertionError(f"on {label}: params is {params:.0f}, the weights alone: count the K biases too.")
            if kind == "flatten" and params == classes * channels + classes:
                raise AssertionError(f"on {label}: params is {params:.0f}, as if the head were GAP: a flatten "
                                     f"head has one weight per class, channel *and position*.")
            raise AssertionError(f"on {label}: params is {params:.0f}, not the weights plus biases of a linear "
                                 f"layer from {inputs} inputs to {classes} classes.")
        if size != cost.bytes:
            ratio = size / cost.params
            hint = f"{ratio:g} bytes per parameter" if ratio == int(ratio) else "not a whole number per parameter"
            raise AssertionError(f"on {label}: bytes is {size:.0f}, that is {hint}; float32 takes 4.")
        if flops != cost.flops:
            if flops == cost.multiply_adds + cost.pooling_adds:
                raise AssertionError(f"on {label}: flops is {flops:.0f}: count a multiply-add as two FLOPs.")
            if kind == "gap" and flops == 2 * cost.multiply_adds:
                raise AssertionError(f"on {label}: flops is {flops:.0f}: the pooling itself is not free, add "
                                     f"its additions (one per activation).")
            if flops in (cost.flops + classes, cost.flops + 2 * classes):
                raise AssertionError(f"on {label}: flops is {flops:.0f}: leave the bias additions out.")
            raise AssertionError(f"on {label}: flops is {flops:.0f}, not 2 per multiply-add plus the pooling's "
                                 f"additions.")


def check_pooled_noise_variance(fn: Callable[[int, float, int, int], float]) -> None:
    r"""Check a simulation of the pooled error's variance, whose law is :math:`\sigma^2 / (HW)`.

    ``fn(side, sigma, n_maps, seed)`` must draw ``n_maps`` maps of ``side x side`` positions with independent
    zero-mean noise of standard deviation ``sigma`` around a signal, pool each with GAP, and return the sample
    variance of the pooled error, as a number. The same seed must give the same number; another seed, another.

    Raises:
        AssertionError: when the estimate is off by more than the sampling error, saying by how much.
    """
    cases = [(4, 1.0, 4000, 0), (8, 2.0, 4000, 1), (3, 0.5, 4000, 2), (16, 1.0, 2000, 3)]
    for side, sigma, n_maps, seed in cases:
        label = f"side={side}, sigma={sigma}, n_maps={n_maps}, seed={seed}"
        value = _number(_call_any(fn, label, side, sigma, n_maps, seed), label, "the variance")
        law = sigma**2 / side**2
        # six standard errors of a sample variance: a correct simulation fails about once in a billion runs
        tolerance = 6 * math.sqrt(2 / (n_maps - 1))
        ratio = value / law
        if abs(ratio - 1) <= tolerance:
            continue
        positions = side * side
        if value > 0 and abs(math.sqrt(value) / law - 1) <= tolerance:
            hint = "the square of your number is: you returned a variance of something else, or squared twice"
        elif abs(value / math.sqrt(law) - 1) <= tolerance:
            hint = "that is a standard deviation: return the variance"
        elif abs(ratio / positions - 1) <= tolerance:
            hint = f"it is {positions} = H*W times too large: that is the noise of one position, did you pool?"
        elif abs(ratio / positions**2 - 1) <= tolerance:
            hint = f"it is (H*W)^2 = {positions**2} times too large: that is a sum, not a mean"
        elif ratio > 1 + tolerance and value > sigma**2:
            hint = "it exceeds the noise of a single position: did you subtract the signal before squaring?"
        else:
            hint = f"it is {ratio:.3g} times the law sigma^2/(H*W), beyond the sampling tolerance of ±{tolerance:.2f}"
        raise AssertionError(f"on {label}: your variance {value:.4g} does not match: {hint}.")
    label = "side=4, sigma=1.0, n_maps=4000"
    first, again = (_number(_call_any(fn, label, 4, 1.0, 4000, 0), label, "the variance") for _ in range(2))
    other = _number(_call_any(fn, label, 4, 1.0, 4000, 7), label, "the variance")
    if first != again:
        raise AssertionError(f"on {label}: two calls with seed=0 gave {first!r} and {again!r}: seed your random "
                             f"generator with the seed argument.")
    if first == other:
        raise AssertionError(f"on {label}: seeds 0 and 7 gave the same {first!r}: simulate the noise from the seed "
                             f"rather than computing the formula.")


def _blob(height: int, width: int, row: float, col: float, radius: float) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                                indexing="ij")
    return torch.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * radius**2))


def _box_inputs() -> list[tuple[str, torch.Tensor, float]]:
    one = _blob(12, 20, 4.0, 13.0, 2.0)
    two = _blob(16, 24, 5.0, 5.0, 2.5) + 0.8 * _blob(16, 24, 11.0, 19.0, 1.2)
    return [
        ("a 12x20 map (H=12, W=20) with one blob, threshold=0.5", one, 0.5),
        ("the same map minus 5 (all values negative), threshold=0.5", one - 5, 0.5),
        ("the same map times 10, threshold=0.2", 10 * one, 0.2),
        ("a 16x24 map with a large and a small blob, threshold=0.3", two, 0.3),
    ]


def _as_box(value: object, label: str) -> tuple[int, ...]:
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        raise AssertionError(f"on {label}: expected a box (x0, y0, x1, y1), got {value!r}")
    box = []
    for v in value:
        number = _number(v, label, "each box coordinate")
        if number != int(number):
            raise AssertionError(f"on {label}: expected whole-pixel coordinates, got {value!r}")
        box.append(int(number))
    return tuple(box)


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    return (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)


def check_cam_to_box(fn: Callable[[torch.Tensor, float], tuple]) -> None:
    """Check a CAM-to-box step: min-max normalise, keep ``>= threshold``, box the largest 8-connected region.

    ``fn(cam, threshold)`` takes one map ``(H, W)`` and returns ``(x0, y0, x1, y1)`` in pixels with ``x`` along
    the columns and the ends exclusive.

    Raises:
        AssertionError: naming the convention or step that differs (axes, ends, normalisation, region).
    """
    for label, cam, threshold in _box_inputs():
        got = _as_box(_call_any(fn, label, cam.clone(), threshold), label)
        expected = cam_to_box(cam, threshold)
        if got == expected:
            continue
        x0, y0, x1, y1 = expected
        if got == (y0, x0, y1, x1):
            hint = "x and y are swapped: x runs along the columns (width), y along the rows (height)"
        elif got == (x0, y0, x1 - 1, y1 - 1):
            hint = "the ends are inclusive: use exclusive ends, so that the width is x1 - x0"
        elif got == _tight_box(normalize_cam(cam).numpy() >= threshold):
            hint = "the box covers every kept pixel: keep only the largest connected region"
        elif got in (_tight_box((cam >= threshold).numpy()), (0, 0, cam.shape[1], cam.shape[0])):
            hint = "the threshold is applied to the raw map: min-max normalise it to [0, 1] first"
        else:
            hint = "it is not the tight box of the largest region kept by the threshold"
        raise AssertionError(f"on {label}: your box {got} is wrong: {hint}.")


def check_box_iou(fn: Callable[[tuple, tuple], float]) -> None:
    r"""Check an intersection-over-union of two boxes ``(x0, y0, x1, y1)`` with exclusive ends.

    .. math:: \mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A \cup B|}

    ``fn(box_a, box_b)`` takes two 4-tuples of ints and returns a number in ``[0, 1]``.

    Raises:
        AssertionError: naming the pair of boxes and the likely slip (ends, overlap clamp, union).
    """
    cases = [((0, 0, 4, 4), (2, 2, 6, 6)), ((1, 2, 9, 5), (1, 2, 9, 5)), ((0, 0, 2, 2), (5, 5, 8, 9)),
             ((0, 0, 2, 2), (2, 0, 4, 2)), ((0, 0, 10, 6), (2, 1, 5, 3)), ((3, 0, 7, 8), (0, 2, 10, 5))]
    for box_a, box_b in cases:
        label = f"boxes {box_a} and {box_b}"
        got = _number(_call_any(fn, label, box_a, box_b), label, "the IoU")
        expected = box_iou(torch.tensor(box_a), torch.tensor(box_b)).item()
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
        raise AssertionError(f"on {label}: {hint}.")


def check_gap_blind_pair(fn: Callable[[int, int, int], tuple]) -> None:
    """Check a pair of inputs that GAP cannot tell apart although they differ.

    ``fn(channels, height, width)`` returns two float tensors ``(C, H, W)`` whose per-channel means agree (to
    1e-5) while the maps themselves differ by more than 0.1 somewhere.

    Raises:
        AssertionError: naming the requested shape and what failed (shape, channel means, no difference).
    """
    for channels, height, width in [(3, 4, 5), (1, 2, 2), (4, 7, 3)]:
        label = f"channels={channels}, height={height}, width={width}"
        pair = _call_any(fn, label, channels, height, width)
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise AssertionError(f"on {label}: expected a pair (a, b) of tensors, got {type(pair).__name__}")
        for name, x in zip("ab", pair, strict=True):
            if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x):
                raise AssertionError(f"on {label}: expected {name} to be a floating-point torch.Tensor")
            if tuple(x.shape) != (channels, height, width):
                raise AssertionError(f"on {label}: expected {name} of shape ({channels}, {height}, {width}) = "
                                     f"(C, H, W), got {_shape(x)}.")
        a, b = (x.detach().double() for x in pair)
        means_a, means_b = a.mean(dim=(1, 2)), b.mean(dim=(1, 2))
        for c in range(channels):
            if abs(means_a[c] - means_b[c]) > 1e-5:
                raise AssertionError(f"on {label}: channel {c} has mean {means_a[c]:.4g} in a but {means_b[c]:.4g} "
                                     f"in b: GAP tells them apart.")
        if (a - b).abs().max() <= 0.1:
            raise AssertionError(f"on {label}: a and b differ by at most {(a - b).abs().max():.3g}: make them "
                                 f"differ by more than 0.1 somewhere.")


def check_texture_statistic(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check a pooled statistic that separates stripes from checkerboards, which GAP on intensity cannot.

    ``fn(images)`` maps images ``(N, 1, H, W)`` to features ``(N,)`` or ``(N, F)``, each image's features
    computed from that image alone. On fresh images of :func:`gaplib.data.stripes_and_checkerboards` (another
    seed, another size), a logistic regression fitted on the features must reach 95% accuracy.

    Raises:
        AssertionError: naming the shape, batch dependence or accuracy that fails.
    """
    from sklearn.linear_model import LogisticRegression

    def features(images: torch.Tensor, label: str) -> np.ndarray:
        out = _call(fn, label, images)
        if out.dim() not in (1, 2) or out.shape[0] != images.shape[0]:
            raise AssertionError(f"on {label}: expected features (N,) or (N, F) with N = {images.shape[0]}, got "
                                 f"{_shape(out)}: one row per image.")
        out = out.detach().double().reshape(images.shape[0], -1)
        if not torch.isfinite(out).all():
            raise AssertionError(f"on {label}: your features contain NaN or inf.")
        return out.numpy()

    train_x, train_y = stripes_and_checkerboards(200, size=16, seed=11)
    train = features(train_x, "200 training images (N=200, 16x16)")
    alone = features(train_x[:3], "the first 3 of those images alone")
    if not np.allclose(alone, train[:3], rtol=1e-5, atol=1e-6):
        raise AssertionError("on the first 3 training images: their features change when the other images are "
                             "left out of the batch; compute each image's statistic from that image alone.")
    spread = train.std(axis=0)
    if np.all(spread < 1e-9):
        raise AssertionError("on 200 training images: your features take the same value on every image, stripes "
                             "and checkerboards alike, just as the mean intensity does.")
    scale = np.where(spread > 0, spread, 1.0)
    center = train.mean(axis=0)
    model = LogisticRegression(C=100.0, max_iter=2000).fit((train - center) / scale, train_y.numpy())
    for size, widths, seed in [(16, (2, 4), 12), (24, (2, 3, 4), 13)]:
        label = f"200 fresh {size}x{size} images with widths {widths} (seed {seed})"
        test_x, test_y = stripes_and_checkerboards(200, size=size, widths=widths, seed=seed)
        accuracy = float((model.predict((features(test_x, label) - center) / scale) == test_y.numpy()).mean())
        if accuracy < 0.95:
            raise AssertionError(f"on {label}: a linear classifier on your features is right on {accuracy:.0%} of "
                                 f"the images (the mean intensity gets 50%); it needs 95%.")


def _gem_reference(x: torch.Tensor, p: float) -> torch.Tensor:
    return gem_pool(x.double(), p=p).to(x.dtype)


def check_gem_pool(fn: Callable[[torch.Tensor, float], torch.Tensor]) -> None:
    r"""Check generalized-mean pooling, :math:`(\frac{1}{HW}\sum_{i,j} \max(F_c(i,j), \varepsilon)^p)^{1/p}`.

    ``fn(x, p)`` maps ``(N, C, *spatial)`` with 1 to 3 spatial dims to ``(N, C)``, clamping at
    ``eps = 1e-6`` before the power.

    Raises:
        AssertionError: naming the input and the slip (shape, clamp, root, mean).
    """
    generator = torch.Generator().manual_seed(2)
    cases = [
        ("x of shape (2, 3, 4, 5) with negative values, p=3", torch.randn(2, 3, 4, 5, generator=generator), 3.0),
        ("the same x, p=1", None, 1.0),
        ("x of shape (2, 3, 4, 5), p=2.5", None, 2.5),
        ("a 1-D signal x of shape (2, 3, 7), p=4", torch.randn(2, 3, 7, generator=generator).abs(), 4.0),
        ("a float64 x of shape (1, 2, 3, 3), p=6", torch.rand(1, 2, 3, 3, generator=generator, dtype=torch.float64),
         6.0),
    ]
    x = cases[0][1]
    for label, given, p in cases:
        x = given if given is not None else x
        got = _call(fn, label, x.clone(), p)
        expected = _gem_reference(x, p)
        if got.shape == expected.shape and got.dtype == x.dtype and torch.allclose(got.double(), expected.double(),
                                                                                     rtol=1e-4, atol=1e-5):
            continue
        clamped = x.double().clamp(min=1e-6)
        if got.shape != expected.shape:
            hint = (f"expected shape {_shape(expected)} = (N, C), got {_shape(got)}: pool over every spatial dim, "
                    f"whatever their number")
        elif torch.isnan(got).any():
            hint = "you get NaN: a negative activation to a fractional power is undefined, clamp at eps first"
        elif got.dtype != x.dtype:
            hint = f"expected dtype {x.dtype}, the input's, got {got.dtype}"
        elif _close(got, clamped.pow(p).mean(dim=tuple(range(2, x.dim())))):
            hint = "the values are the mean of the p-th powers: take the 1/p-th root of it"
        elif _close(got, x.double().pow(p).mean(dim=tuple(range(2, x.dim()))).pow(1 / p)):
            hint = "the negative activations are not clamped at eps before the power"
        else:
            positions = math.prod(x.shape[2:])
            if _close(got, expected * positions ** (1 / p)):
                hint = "the values are too large by (H*W)^(1/p): average the powers, do not sum them"
            else:
                hint = "the shape is right but the values are not the generalized means"
        raise AssertionError(f"on {label}: {hint}.")


def _gem_shortfall(x: torch.Tensor, p: float) -> float:
    """The worst relative gap (max - GeM) / max over channels, computed stably for large p."""
    x = x.double().clamp(min=1e-6).flatten(2)
    peak = x.amax(dim=2)
    gem = peak * (x / peak.unsqueeze(2)).pow(p).mean(dim=2).pow(1 / p)
    return ((peak - gem) / peak).max().item()


def check_gem_p_for_max(fn: Callable[[torch.Tensor, float], float]) -> None:
    r"""Check a search for the smallest GeM exponent :math:`p` that brings GeM within ``rel_tol`` of the max.

    ``fn(x, rel_tol)`` takes non-negative maps ``(N, C, H, W)`` and returns ``p`` such that for every image and
    channel :math:`(\max - \mathrm{GeM}_p) / \max \le` ``rel_tol``, while ``p / 1.05`` does not achieve it
    (the smallest such ``p`` to within 5%).

    Raises:
        AssertionError: saying whether ``p`` is too small or larger than needed, and on which input.
    """
    generator = torch.Generator().manual_seed(3)
    cases = []
    for shape, rel_tol in [((1, 4, 8, 8), 0.05), ((2, 3, 16, 16), 0.02), ((1, 2, 5, 7), 0.1)]:
        x = torch.rand(*shape, generator=generator, dtype=torch.float64)
        x = (x / x.flatten(2).amax(dim=2)[..., None, None]) ** 2  # peak 1, mostly small: a max-like task
        cases.append((f"x of shape {shape} in [0, 1], rel_tol={rel_tol}", x, rel_tol))
    for label, x, rel_tol in cases:
        p = _number(_call_any(fn, label, x.clone(), rel_tol), label, "p")
        if p <= 0:
            raise AssertionError(f"on {label}: p = {p:.4g}, but GeM needs p > 0.")
        shortfall = _gem_shortfall(x, p)
        if shortfall > rel_tol + 1e-9:
            raise AssertionError(f"on {label}: at your p = {p:.4g}, GeM is still {shortfall:.1%} below the max on "
                                 f"some channel (allowed: {rel_tol:.0%}): p is too small.")
        if _gem_shortfall(x, p / 1.05) <= rel_tol:
            raise AssertionError(f"on {label}: p = {p:.4g} works, but so does p / 1.05 = {p / 1.05:.4g}: find the "
                                 f"smallest p, to within 5%.")


def _squeeze_excite_reference(x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor,
                              b2: torch.Tensor, pool: Callable = global_avg_pool, gate: Callable = torch.sigmoid,
                              hidden: Callable = torch.relu) -> torch.Tensor:
    squeezed = pool(x)
    gates = gate(hidden(squeezed @ w1.T + b1) @ w2.T + b2)
    return x * gates[:, :, None, None]


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def check_squeeze_excite(fn: Callable[..., torch.Tensor]) -> None:
    r"""Check a squeeze-and-excitation block (Hu et al. 2018), written as a function of its weights.

    .. math:: s = \sigma(W_2\, \mathrm{ReLU}(W_1 \bar F + b_1) + b_2), \qquad \tilde F_c = s_c F_c

    ``fn(x, w1, b1, w2, b2)`` takes features ``(N, C, H, W)``, ``w1 (C/r, C)``, ``b1 (C/r,)``, ``w2 (C, C/r)``,
    ``b2 (C,)`` (``nn.Linear`` layout) and returns the rescaled features ``(N, C, H, W)``.

    Raises:
        AssertionError: naming the input and the step that differs (pool, ReLU, sigmoid, scaling).
    """
    generator = torch.Generator().manual_seed(4)

    def randn(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    cases = [
        ("x (2, 6, 4, 5), w1 (3, 6), w2 (6, 3) (N=2, C=6, H=4, W=5, r=2)",
         randn(2, 6, 4, 5), randn(3, 6), randn(3), randn(6, 3), randn(6)),
        ("x (1, 4, 3, 3), w1 (1, 4), w2 (4, 1) (r=4)", randn(1, 4, 3, 3), randn(1, 4), randn(1), randn(4, 1),
         randn(4)),
        ("float64 x (3, 2, 2, 6), w1 (2, 2), w2 (2, 2)", *(randn(*s, dtype=torch.float64)
                                                          for s in ((3, 2, 2, 6), (2, 2), (2,), (2, 2), (2,)))),
    ]
    for label, *tensors in cases:
        got = _call(fn, label, *(t.clone() for t in tensors))
        x = tensors[0]
        expected = _squeeze_excite_reference(*tensors)
        if _close(got, expected) and got.dtype == x.dtype:
            continue
        gates_only = torch.sigmoid(torch.relu(global_avg_pool(x) @ tensors[1].T + tensors[2]) @ tensors[3].T
                                   + tensors[4])
        if got.shape != x.shape:
            hint = f"expected the rescaled features, shape {_shape(x)} like x, got {_shape(got)}"
            if _close(got, gates_only):
                hint += ": these are the gates; multiply x by them"
        elif got.dtype != x.dtype:
            hint = f"expected dtype {x.dtype}, the input's, got {got.dtype}"
        elif _close(got, _squeeze_excite_reference(*tensors, gate=_identity)):
            hint = "the scales are not squashed into (0, 1): apply the sigmoid"
        elif _close(got, _squeeze_excite_reference(*tensors, hidden=_identity)):
            hint = "the hidden layer has no ReLU"
        elif _close(got, _squeeze_excite_reference(*tensors, pool=global_max_pool)):
            hint = "the squeeze uses the maximum; SE squeezes each channel by its average"
        elif _close(got, x + gates_only[:, :, None, None]):
            hint = "the gates are added to x: multiply each channel by its gate"
        else:
            hint = "the shape is right but the values are not x rescaled channel by channel by the SE gates"
        raise AssertionError(f"on {label}: {hint}.")


def _readout_reference(nodes: torch.Tensor, graph_index: torch.Tensor, num_graphs: int, reduce: str) -> torch.Tensor:
    sums = torch.zeros(num_graphs, nodes.shape[1], dtype=nodes.dtype).index_add_(0, graph_index, nodes)
    if reduce == "sum":
        return sums
    counts = torch.bincount(graph_index, minlength=num_graphs).clamp(min=1).to(nodes.dtype)
    return sums / counts[:, None]


def check_graph_readout(fn: Callable[[torch.Tensor, torch.Tensor, int, str], torch.Tensor]) -> None:
    r"""Check a graph readout: the mean or the sum of the node features of each graph in a batch.

    .. math:: h_g = \frac{1}{|V_g|} \sum_{v \in V_g} x_v \ \text{(mean)}, \qquad h_g = \sum_{v \in V_g} x_v
       \ \text{(sum)}

    ``fn(nodes, graph_index, num_graphs, reduce)`` takes node features ``(V, D)``, the graph of each node
    ``(V,)`` (any order), the number of graphs ``G`` and ``reduce`` in ``{"mean", "sum"}``; it returns
    ``(G, D)``, with zeros for a graph that has no nodes.

    Raises:
        AssertionError: naming the input and the slip (shape, reduction, grouping, empty graph).
    """
    generator = torch.Generator().manual_seed(5)
    index = torch.tensor([2, 0, 1, 0, 2, 2, 1])
    cases = [
        ("7 nodes with D=3 in 3 graphs, graph_index [2, 0, 1, 0, 2, 2, 1]", torch.randn(7, 3, generator=generator),
         index, 3),
        ("5 nodes with D=2 in 4 graphs, graph 1 empty, graph_index [0, 0, 2, 3, 3]",
         torch.randn(5, 2, generator=generator), torch.tensor([0, 0, 2, 3, 3]), 4),
        ("float64, 4 nodes with D=1 in 2 graphs, graph_index [1, 1, 1, 0]",
         torch.randn(4, 1, generator=generator, dtype=torch.float64), torch.tensor([1, 1, 1, 0]), 2),
    ]
    for reduce in ("mean", "sum"):
        for description, nodes, graph_index, num_graphs in cases:
            label = f"{description}, reduce={reduce!r}"
            got = _call(fn, label, nodes.clone(), graph_index.clone(), num_graphs, reduce)
            expected = _readout_reference(nodes, graph_index, num_graphs, reduce)
            if _close(got, expected) and got.dtype == nodes.dtype:
                continue
            other = _readout_reference(nodes, graph_index, num_graphs, "sum" if reduce == "mean" else "mean")
            if got.shape != expected.shape:
                hint = f"expected {_shape(expected)} = (G, D), one row per graph, got {_shape(got)}"
            elif torch.isnan(got).any():
                hint = "a graph with no nodes gives NaN: read it out as zeros"
            elif got.dtype != nodes.dtype:
                hint = f"expected dtype {nodes.dtype}, the input's, got {got.dtype}"
            elif _close(got, other):
                hint = f"these are the {'sums' if reduce == 'mean' else 'means'}; reduce={reduce!r} asks for the other"
            elif _close(got, getattr(nodes, reduce)(dim=0, keepdim=True).expand_as(got)):
                hint = f"every row is the {reduce} over all nodes: group the nodes by their graph_index"
            else:
                hint = f"row g should be the {reduce} of the features of the nodes whose graph_index is g"
            raise AssertionError(f"on {label}: {hint}.")
