"""The checkers of the exercises appendix: correct answers pass, typical mistakes get a hint naming the problem."""

import itertools
import math
import time

import numpy as np
import pytest
import torch
from scipy import ndimage

import gaplib
from gaplib import checks


def crash(*args):
    raise NotImplementedError("write me")


def assert_hint(checker, fn, *fragments):
    """The checker rejects fn with an AssertionError whose message contains every fragment."""
    with pytest.raises(AssertionError) as caught:
        checker(fn)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --- head cost -------------------------------------------------------------------------------------------------

def cost_direct(kind, channels, height, width, num_classes):
    inputs = channels * height * width if kind == "flatten" else channels
    params = num_classes * (inputs + 1)
    flops = 2 * num_classes * inputs + (channels * height * width if kind == "gap" else 0)
    return params, 4 * params, flops


def cost_from_torch(kind, channels, height, width, num_classes):
    inputs = channels * height * width if kind == "flatten" else channels
    layer = torch.nn.Linear(inputs, num_classes)
    params = sum(p.numel() for p in layer.parameters())
    size = sum(p.numel() * p.element_size() for p in layer.parameters())
    pooling = channels * height * width if kind == "gap" else 0
    return torch.tensor(params), size, 2 * layer.weight.numel() + pooling


def cost_with(**change):
    def fn(kind, channels, height, width, num_classes):
        params, size, flops = cost_direct(kind, channels, height, width, num_classes)
        values = {"params": params, "size": size, "flops": flops}
        for key, rule in change.items():
            values[key] = rule(kind, channels, height, width, num_classes, values)
        return values["params"], values["size"], values["flops"]
    return fn


def cost_from_modules(kind, channels, height, width, num_classes):
    """Count on the real layers, and the pooling's additions as the work of summing H*W values per channel."""
    inputs = channels * height * width if kind == "flatten" else channels
    layer = torch.nn.Linear(inputs, num_classes)
    params = sum(p.numel() for p in layer.parameters())
    pooling = channels * height * width if kind == "gap" else 0
    return float(params), float(params * 4), float(2 * inputs * num_classes + pooling)


@pytest.mark.parametrize("fn", [cost_direct, cost_from_torch, cost_from_modules])
def test_head_cost_accepts_correct_counts(fn):
    checks.check_head_cost(fn)


@pytest.mark.parametrize("fn, fragments", [
    (cost_with(params=lambda k, c, h, w, n, v: v["params"] - n, size=lambda k, c, h, w, n, v: 4 * v["params"]),
     ["count the K biases"]),
    (cost_with(params=lambda k, c, h, w, n, v: n * c + n, size=lambda k, c, h, w, n, v: 4 * v["params"]),
     ["kind='flatten'", "one weight per class, channel *and position*"]),
    (cost_with(size=lambda k, c, h, w, n, v: v["params"]), ["1 bytes per parameter", "float32 takes 4"]),
    (cost_with(size=lambda k, c, h, w, n, v: 8 * v["params"]), ["8 bytes per parameter"]),
    (cost_with(flops=lambda k, c, h, w, n, v: v["flops"] - n * (c * h * w if k == "flatten" else c)),
     ["multiply-add as two FLOPs"]),
    (cost_with(flops=lambda k, c, h, w, n, v: v["flops"] - (c * h * w if k == "gap" else 0)),
     ["kind='gap'", "pooling itself is not free"]),
    (cost_with(flops=lambda k, c, h, w, n, v: v["flops"] + 2 * n), ["leave the bias additions out"]),
    (lambda *args: {"params": 1}, ["expected a tuple (params, bytes, flops)"]),
    (lambda *args: (1.5, None, 3), ["expected bytes to be a number, got NoneType"]),
    (lambda *args: (float("nan"), 4, 2), ["params is nan, not a finite number"]),
    (crash, ["raised NotImplementedError on kind='gap', C=128"]),
])
def test_head_cost_names_the_mistake(fn, fragments):
    assert_hint(checks.check_head_cost, fn, *fragments)


# --- pooled noise variance -------------------------------------------------------------------------------------

def noise_torch(side, sigma, n_maps, seed):
    generator = torch.Generator().manual_seed(seed)
    maps = 1.0 + sigma * torch.randn(n_maps, 1, side, side, generator=generator, dtype=torch.float64)
    return (maps.mean(dim=(2, 3)) - 1.0).var().item()


def noise_numpy(side, sigma, n_maps, seed):
    maps = 3.0 + np.random.default_rng(seed).normal(0, sigma, size=(n_maps, side, side))
    return float(np.var(maps.mean(axis=(1, 2)) - 3.0, ddof=1))


def noise_gaplib(side, sigma, n_maps, seed):
    from gaplib.data import noisy_maps
    from gaplib.pooling import global_avg_pool

    return torch.var(global_avg_pool(noisy_maps(n_maps, side, side, 1.0, sigma, seed=seed)).double())


def noise_variant(transform):
    return lambda side, sigma, n_maps, seed: transform(noise_torch(side, sigma, n_maps, seed), side, sigma)


@pytest.mark.parametrize("fn", [noise_torch, noise_numpy, noise_gaplib])
def test_noise_variance_accepts_simulations(fn):
    checks.check_pooled_noise_variance(fn)


_NEW_SEED_AT_EACH_CALL = itertools.count(1)


@pytest.mark.parametrize("fn, fragments", [
    (noise_variant(lambda v, side, sigma: math.sqrt(v)), ["side=4", "standard deviation"]),
    (noise_variant(lambda v, side, sigma: v * side**2), ["H*W times too large", "did you pool"]),
    (noise_variant(lambda v, side, sigma: v * side**4), ["that is a sum, not a mean"]),
    (noise_variant(lambda v, side, sigma: 1.3 * v), ["times the law", "beyond the sampling tolerance"]),
    (lambda side, sigma, n_maps, seed: sigma**2 / side**2, ["seeds 0 and 7 gave the same", "simulate"]),
    # ignores its seed and takes a new one at every call (a counter, not a random draw: two random draws can
    # agree, and then this wrong answer would pass by chance)
    (lambda side, sigma, n_maps, seed: noise_torch(side, sigma, n_maps, next(_NEW_SEED_AT_EACH_CALL)),
     ["two calls with seed=0 gave"]),
    (lambda *args: "0.06", ["expected the variance to be a number, got str"]),
    (lambda *args: float("nan"), ["the variance is nan"]),
    (crash, ["raised NotImplementedError on side=4, sigma=1.0"]),
])
def test_noise_variance_names_the_mistake(fn, fragments):
    assert_hint(checks.check_pooled_noise_variance, fn, *fragments)


# --- CAM to box (the book's rule: M >= tau * max M, largest 8-connected region) ---------------------------------

def _tight(mask):
    rows, cols = np.nonzero(mask)
    return (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)


def box_scipy(cam, tau):
    if cam.max() <= 0:
        return (0, 0, cam.shape[1], cam.shape[0])
    regions, _ = ndimage.label((cam >= tau * cam.max()).numpy(), structure=np.ones((3, 3)))
    return _tight(regions == 1 + np.bincount(regions.ravel())[1:].argmax())


def box_normalised(cam, tau):
    peak = float(cam.max())
    if peak <= 0:
        return torch.tensor([0, 0, cam.shape[1], cam.shape[0]])
    regions, count = ndimage.label((cam / peak >= tau).numpy(), structure=ndimage.generate_binary_structure(2, 2))
    sizes = ndimage.sum_labels(np.ones(cam.shape), regions, index=np.arange(1, count + 1))
    return torch.tensor(_tight(regions == 1 + int(np.argmax(sizes))))


def box_flood_fill(cam, tau):
    """A breadth-first search instead of scipy: the rule, not the library, is what is checked."""
    height, width = cam.shape
    if cam.max() <= 0:
        return (0, 0, width, height)
    kept = (cam >= tau * cam.max()).tolist()
    seen, best = set(), []
    for start in ((r, c) for r in range(height) for c in range(width)):
        if not kept[start[0]][start[1]] or start in seen:
            continue
        region, frontier = [], [start]
        seen.add(start)
        while frontier:
            r, c = frontier.pop()
            region.append((r, c))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    n = (r + dr, c + dc)
                    if 0 <= n[0] < height and 0 <= n[1] < width and kept[n[0]][n[1]] and n not in seen:
                        seen.add(n)
                        frontier.append(n)
        best = max(best, region, key=len)
    rows, cols = zip(*best, strict=True)
    return (min(cols), min(rows), max(cols) + 1, max(rows) + 1)


def box_variant(transform):
    return lambda cam, tau: transform(box_scipy(cam, tau))


def box_rule(**change):
    from gaplib.checks.cam_box import reference

    return lambda cam, tau: reference(cam, tau, **change)


def box_min_max(cam, tau):
    """The rule this exercise taught before: min-max normalise, then threshold."""
    low, high = cam.min(), cam.max()
    if high == low:
        return (0, 0, cam.shape[1], cam.shape[0])
    regions, _ = ndimage.label(((cam - low) / (high - low) >= tau).numpy(), structure=np.ones((3, 3)))
    return _tight(regions == 1 + np.bincount(regions.ravel())[1:].argmax())


def box_constant_crash(cam, tau):
    regions, _ = ndimage.label((cam >= tau * cam.max()).numpy(), structure=np.ones((3, 3)))
    return _tight(regions == 1 + np.bincount(regions.ravel())[1:].argmax())


def box_in_place(cam, tau):
    cam /= cam.max().clamp(min=1e-12)
    return box_scipy(cam, tau)


def box_nan(cam, tau):
    return (float("nan"), 0, 1, 1)


@pytest.mark.parametrize("fn", [box_scipy, box_normalised, box_flood_fill])
def test_cam_to_box_accepts_correct_boxes(fn):
    checks.check_cam_to_box(fn)


@pytest.mark.parametrize("fn, fragments", [
    (box_min_max, ["minus 0.3", "fraction of the map's maximum", "not of the min-max range"]),
    (box_rule(scale="raw"), ["times 10", "not with tau itself"]),
    (box_rule(above=True), ["exactly at tau * max", "use >=, not >"]),
    (box_rule(structure=ndimage.generate_binary_structure(2, 1)), ["diagonal line", "8-connected"]),
    (box_rule(pick="all"), ["keep only the largest connected region"]),
    (box_rule(pick="first"), ["three regions", "first region met scanning"]),
    (box_rule(pick="peak"), ["narrow higher one", "the region holding the maximum"]),
    (box_variant(lambda b: (b[1], b[0], b[3], b[2])), ["12x20", "x and y are swapped"]),
    (box_variant(lambda b: (b[0], b[1], b[2] - 1, b[3] - 1)), ["the ends are inclusive"]),
    (box_constant_crash, ["a map with no positive value", "raised ValueError"]),
    (lambda cam, tau: box_scipy(cam, tau) if cam.max() > 0 else (0, 0, 1, 1),
     ["a map of zeros", "its box is the whole map"]),
    (box_in_place, ["changed its input", "in place"]),
    (box_nan, ["each box coordinate is nan"]),
    (box_variant(lambda b: (b[0] + 1, b[1], b[2], b[3])), ["not the tight box"]),
    (box_variant(lambda b: (0.5, 1, 2, 3)), ["whole-pixel coordinates"]),
    (lambda cam, tau: (1, 2, 3), ["expected a box (x0, y0, x1, y1)"]),
    (crash, ["raised NotImplementedError on a 12x20 map", "you have not written it yet"]),
    (gaplib.cam.cam_to_box, ["gaplib's own cam_to_box, not yours"]),
    (lambda cam, tau: gaplib.cam.cam_to_box(cam, tau), ["calls gaplib's own cam_to_box"]),
])
def test_cam_to_box_names_the_mistake(fn, fragments):
    assert_hint(checks.check_cam_to_box, fn, *fragments)


# --- IoU ---------------------------------------------------------------------------------------------------------

def iou_plain(a, b):
    inter = max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def iou_torchvision(a, b):
    from torchvision.ops import box_iou

    return box_iou(torch.tensor([a], dtype=torch.float32), torch.tensor([b], dtype=torch.float32))[0, 0]


def iou_masks(a, b):
    canvas_a, canvas_b = np.zeros((12, 12), bool), np.zeros((12, 12), bool)
    canvas_a[a[1]:a[3], a[0]:a[2]] = True
    canvas_b[b[1]:b[3], b[0]:b[2]] = True
    return (canvas_a & canvas_b).sum() / (canvas_a | canvas_b).sum()


def iou_unclamped(a, b):
    inter = (min(a[2], b[2]) - max(a[0], b[0])) * (min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def iou_inclusive(a, b):
    return iou_plain((a[0], a[1], a[2] + 1, a[3] + 1), (b[0], b[1], b[2] + 1, b[3] + 1))


def iou_double_union(a, b):
    inter = max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]))


def iou_over_first(a, b):
    inter = max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]))


@pytest.mark.parametrize("fn", [iou_plain, iou_torchvision, iou_masks])
def test_box_iou_accepts_correct_ious(fn):
    checks.check_box_iou(fn)


@pytest.mark.parametrize("fn, fragments", [
    (iou_unclamped, ["boxes (0, 0, 2, 2) and (5, 5, 8, 9)", "clamp them at 0"]),
    (iou_inclusive, ["the ends are exclusive"]),
    (iou_double_union, ["counts the overlap twice"]),
    (iou_over_first, ["divided by one box's area"]),
    (lambda a, b: 0.5, ["0.5 is not the intersection's area over the union's"]),
    (lambda a, b: [0.1, 0.2], ["expected the IoU to be a number, got list"]),
    (crash, ["raised NotImplementedError on boxes (0, 0, 4, 4) and (2, 2, 6, 6)"]),
    (gaplib.cam.box_iou, ["gaplib's own box_iou, not yours"]),
    (lambda a, b: float("nan"), ["the IoU is nan"]),
])
def test_box_iou_names_the_mistake(fn, fragments):
    assert_hint(checks.check_box_iou, fn, *fragments)


# --- GAP-blind pair ----------------------------------------------------------------------------------------------

def pair_spot(channels, height, width):
    a, b = torch.zeros(channels, height, width), torch.zeros(channels, height, width)
    a[:, 0, 0], b[:, -1, -1] = 1.0, 1.0
    return a, b


def pair_shuffle(channels, height, width):
    a = torch.arange(channels * height * width, dtype=torch.float64).reshape(channels, height, width)
    return a, a.flip(-1).flip(-2)


def pair_zero_mean(channels, height, width):
    a = torch.zeros(channels, height, width)
    a[:, 0, 0], a[:, -1, -1] = 2.0, -2.0
    return a, torch.zeros_like(a)


def pair_fixed_corner(channels, height, width):
    """Works only when H and W are at least 2."""
    a, b = torch.zeros(channels, height, width), torch.zeros(channels, height, width)
    a[:, 0, 0], b[:, 1, 1] = 1.0, 1.0
    return a, b


@pytest.mark.parametrize("fn", [pair_spot, pair_shuffle, pair_zero_mean])
def test_blind_pair_accepts_pairs_with_equal_means(fn):
    checks.check_gap_blind_pair(fn)


@pytest.mark.parametrize("fn, fragments", [
    (lambda c, h, w: (torch.zeros(c, h, w), torch.ones(c, h, w)), ["channel 0 has mean 0 in a but 1 in b"]),
    (lambda c, h, w: (torch.zeros(c, h, w), torch.zeros(c, h, w)), ["differ by at most 0"]),
    (lambda c, h, w: (torch.zeros(h, w, c), torch.zeros(h, w, c)), ["expected a of shape (3, 4, 5) = (C, H, W)"]),
    (lambda c, h, w: pair_spot(c, h, w)[0], ["expected a pair (a, b)"]),
    (lambda c, h, w: (np.zeros((c, h, w)), np.ones((c, h, w))), ["floating-point torch.Tensor"]),
    (lambda c, h, w: pair_spot(1, 4, 5), ["channels=3"]),
    (lambda c, h, w: (torch.randn(c, h, w), torch.randn(c, h, w).roll(1, 0)), ["GAP tells them apart"]),
    (crash, ["raised NotImplementedError on channels=3, height=4, width=5"]),
    (lambda c, h, w: pair_fixed_corner(c, h, w), ["height=1", "raised IndexError", "size of at least 2"]),
    (lambda c, h, w: (torch.full((c, h, w), float("nan")), torch.zeros(c, h, w)), ["contains NaN"]),
])
def test_blind_pair_names_the_mistake(fn, fragments):
    assert_hint(checks.check_gap_blind_pair, fn, *fragments)


# --- texture statistic -------------------------------------------------------------------------------------------

def corners(images):
    return ((images - images.roll(1, -1)).abs() * (images - images.roll(1, -2)).abs()).mean(dim=(1, 2, 3))


def min_energy(images):
    across = (images[..., :, 1:] - images[..., :, :-1]).pow(2).mean(dim=(1, 2, 3))
    down = (images[..., 1:, :] - images[..., :-1, :]).pow(2).mean(dim=(1, 2, 3))
    return torch.minimum(across, down)


def two_energies(images):
    across = (images[..., :, 1:] - images[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    down = (images[..., 1:, :] - images[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return torch.stack([across * down, across + down], dim=1)


@pytest.mark.parametrize("fn", [corners, min_energy, two_energies])
def test_texture_statistic_accepts_separating_statistics(fn):
    checks.check_texture_statistic(fn)


@pytest.mark.parametrize("fn, fragments", [
    (lambda images: images.mean(dim=(1, 2, 3)), ["same value on every image"]),
    (lambda images: images.var(dim=(1, 2, 3)), ["same value on every image"]),
    (lambda images: (images[..., :, 1:] - images[..., :, :-1]).abs().mean(dim=(1, 2, 3)), ["fresh", "needs 95%"]),
    (lambda images: corners(images) - corners(images).mean(), ["first 3", "left out of the batch"]),
    (lambda images: corners(images).mean(), ["expected features (N,) or (N, F) with N = 200"]),
    (lambda images: corners(images) / 0, ["NaN or inf"]),
    (crash, ["raised NotImplementedError on 200 training images"]),
    (lambda images: corners(images.sub_(0.5)), ["changed its input", "in place"]),
])
def test_texture_statistic_names_the_mistake(fn, fragments):
    assert_hint(checks.check_texture_statistic, fn, *fragments)


# --- GeM ---------------------------------------------------------------------------------------------------------

def gem_plain(x, p):
    return x.clamp(min=1e-6).pow(p).mean(dim=tuple(range(2, x.dim()))).pow(1 / p)


def gem_flatten(x, p):
    return torch.relu(x.flatten(2)).clamp(min=1e-6).pow(p).mean(-1) ** (1.0 / p)


def gem_gaplib(x, p):
    from gaplib.pooling import gem_pool

    return gem_pool(x, p=p)


def gem_pool_by_hand(x, p):
    clamped = torch.where(x > 1e-6, x, torch.full_like(x, 1e-6))
    return torch.exp(torch.log(clamped.pow(p).flatten(2).mean(-1)) / p)


def gem_in_place(x, p):
    return x.clamp_(min=1e-6).pow(p).mean(dim=tuple(range(2, x.dim()))).pow(1 / p)


def gem_numpy(x, p):
    values = np.maximum(x.detach().numpy(), 1e-6) ** p
    return torch.from_numpy(values.reshape(*values.shape[:2], -1).mean(-1) ** (1 / p))


@pytest.mark.parametrize("fn", [gem_plain, gem_flatten, gem_pool_by_hand])
def test_gem_accepts_correct_implementations(fn):
    checks.check_gem_pool(fn)


@pytest.mark.parametrize("fn, fragments", [
    (lambda x, p: x.pow(p).mean(dim=tuple(range(2, x.dim()))).pow(1 / p), ["NaN", "clamp at eps"]),
    (lambda x, p: x.clamp(min=1e-6).pow(p).mean(dim=tuple(range(2, x.dim()))), ["take the 1/p-th root"]),
    (lambda x, p: x.clamp(min=1e-6).pow(p).sum(dim=tuple(range(2, x.dim()))).pow(1 / p),
     ["too large by (H*W)^(1/p)"]),
    (lambda x, p: x.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1 / p), ["raised IndexError on a 1-D signal"]),
    (lambda x, p: gem_plain(x, p).float(), ["expected dtype torch.float64"]),
    (lambda x, p: gem_plain(x, 3.0), ["p=1", "not the generalized means"]),
    (lambda x, p: gem_plain(x, p)[..., None], ["expected shape (2, 3) = (N, C)"]),
    (crash, ["raised NotImplementedError on x of shape (2, 3, 4, 5)"]),
    (gem_gaplib, ["calls gaplib's own gem_pool"]),
    (__import__("gaplib").gem_pool, ["gaplib's own gem_pool, not yours"]),
    (gem_in_place, ["changed its input", "in place"]),
    (gem_numpy, ["requires_grad=True", "could not be trained", "no NumPy"]),
    (lambda x, p: gem_plain(x, p).detach(), ["does not require grad"]),
    (lambda x, p: x.abs().clamp(min=1e-6).pow(p).mean(dim=tuple(range(2, x.dim()))).pow(1 / p),
     ["made positive (abs)"]),
    (lambda x, p: x.clamp(min=1e-6).pow(p).mean(dim=tuple(range(2, x.dim()))).pow(p), ["the outer exponent is 1/p"]),
    (lambda x, p: x.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1 / p) if x.dim() != 4 or x.shape[2] > 1
     else x.clamp(min=1e-6).pow(p).squeeze().mean(-1).pow(1 / p), ["raised IndexError on a 1-D signal"]),
])
def test_gem_names_the_mistake(fn, fragments):
    assert_hint(checks.check_gem_pool, fn, *fragments)


def _fits(x, rel_tol, p):
    peak = x.amax(dim=(2, 3))
    return bool((peak - gem_plain(x, p) <= rel_tol * peak).all())


def p_by_bisection(x, rel_tol):
    high = 1.0
    while not _fits(x, rel_tol, high):
        high *= 2
    low = high / 2
    while _fits(x, rel_tol, low):
        low, high = low / 2, low
    while high / low > 1.01:
        middle = math.sqrt(low * high)
        low, high = (low, middle) if _fits(x, rel_tol, middle) else (middle, high)
    return high


def p_from_one_up(x, rel_tol):
    """The search this exercise's solution used to do: it never looks below p = 1."""
    low, high = 1.0, 2.0
    while not _fits(x, rel_tol, high):
        low, high = high, 2 * high
    while high / low > 1.01:
        middle = math.sqrt(low * high)
        low, high = (low, middle) if _fits(x, rel_tol, middle) else (middle, high)
    return high


def p_by_integers(x, rel_tol):
    p = 1
    while not _fits(x, rel_tol, p):
        p += 1
    return p


def p_by_spike_bound(x, rel_tol):
    return math.log(x.shape[2] * x.shape[3]) / -math.log(1 - rel_tol)


def p_first_channel_only(x, rel_tol):
    return p_by_bisection(x[:1, :1], rel_tol)


def p_in_place(x, rel_tol):
    x.mul_(2.0)  # GeM and max scale alike, so p is unchanged: only the mutation is wrong
    return p_by_bisection(x, rel_tol)


def p_by_grid(x, rel_tol):
    peak = x.amax(dim=(2, 3))
    for p in np.geomspace(0.01, 1e4, 1000):
        if bool((peak - gem_plain(x, float(p)) <= rel_tol * peak).all()):
            return torch.tensor(p)
    raise RuntimeError("no p found")


def p_by_log_bisection(x, rel_tol):
    """Bisection on log p between fixed brackets, far below and far above any answer."""
    low, high = math.log(1e-3), math.log(1e4)
    while high - low > 0.01:
        middle = (low + high) / 2
        low, high = (low, middle) if _fits(x, rel_tol, math.exp(middle)) else (middle, high)
    return math.exp(high)


@pytest.mark.parametrize("fn", [p_by_bisection, p_by_grid, p_by_log_bisection])
def test_p_for_max_accepts_searches(fn):
    checks.check_gem_p_for_max(fn)


@pytest.mark.parametrize("fn, fragments", [
    (lambda x, rel_tol: 3.0, ["at your p = 3", "below the max", "p is too small"]),
    (lambda x, rel_tol: 1e4, ["so does p / 1.05", "smallest p"]),
    (lambda x, rel_tol: 1.2 * p_by_bisection(x, rel_tol), ["so does p / 1.05"]),
    (lambda x, rel_tol: -1.0, ["GeM needs p > 0"]),
    (lambda x, rel_tol: None, ["expected p to be a number, got NoneType"]),
    (crash, ["raised NotImplementedError on x of shape (1, 4, 8, 8)"]),
    (p_from_one_up, ["p below 1", "so does p / 1.05", "smallest p"]),
    (p_by_integers, ["so does p / 1.05", "whole numbers"]),
    (p_by_spike_bound, ["so does p / 1.05", "single spike"]),
    (p_first_channel_only, ["p is too small", "not only the first"]),
    (p_in_place, ["changed its input", "in place"]),
    (lambda x, rel_tol: float("nan"), ["p is nan, not a finite number"]),
])
def test_p_for_max_names_the_mistake(fn, fragments):
    assert_hint(checks.check_gem_p_for_max, fn, *fragments)


# --- squeeze-and-excitation --------------------------------------------------------------------------------------

def se_plain(x, w1, b1, w2, b2):
    gates = torch.sigmoid(torch.relu(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)
    return x * gates[:, :, None, None]


def se_functional(x, w1, b1, w2, b2):
    import torch.nn.functional as F

    squeezed = F.adaptive_avg_pool2d(x, 1).flatten(1)
    gates = torch.sigmoid(F.linear(F.relu(F.linear(squeezed, w1, b1)), w2, b2))
    return x * gates.view(*gates.shape, 1, 1)


def se_einsum(x, w1, b1, w2, b2):
    hidden = torch.relu(torch.einsum("rc,nc->nr", w1, x.mean(dim=(2, 3))) + b1)
    return torch.einsum("nchw,nc->nchw", x, torch.sigmoid(torch.einsum("cr,nr->nc", w2, hidden) + b2))


def se_in_place(x, w1, b1, w2, b2):
    gates = torch.sigmoid(torch.relu(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)
    return x.mul_(gates[:, :, None, None])


def se_numpy(x, w1, b1, w2, b2):
    x_, w1_, b1_, w2_, b2_ = (t.detach().numpy() for t in (x, w1, b1, w2, b2))
    hidden = np.maximum(x_.mean(axis=(2, 3)) @ w1_.T + b1_, 0)
    gates = 1 / (1 + np.exp(-(hidden @ w2_.T + b2_)))
    return torch.from_numpy(x_ * gates[:, :, None, None])


@pytest.mark.parametrize("fn", [se_plain, se_functional, se_einsum])
def test_squeeze_excite_accepts_correct_blocks(fn):
    checks.check_squeeze_excite(fn)


@pytest.mark.parametrize("fn, fragments", [
    (lambda x, w1, b1, w2, b2: torch.sigmoid(torch.relu(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2),
     ["expected the rescaled features", "these are the gates; multiply x by them"]),
    (lambda x, w1, b1, w2, b2: x * (torch.relu(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)[:, :, None, None],
     ["apply the sigmoid"]),
    (lambda x, w1, b1, w2, b2: x * torch.sigmoid((x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)[:, :, None, None],
     ["the hidden layer has no ReLU"]),
    (lambda x, w1, b1, w2, b2: se_plain(x.amax(dim=(2, 3), keepdim=True).expand_as(x), w1, b1, w2, b2) / (
        x.amax(dim=(2, 3), keepdim=True)) * x, ["squeezes each channel by its average"]),
    (lambda x, w1, b1, w2, b2: x + torch.sigmoid(torch.relu(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)[
        :, :, None, None], ["the gates are added to x"]),
    (lambda x, w1, b1, w2, b2: se_plain(x, w1, b1, w2, b2).float(), ["float64 x", "expected dtype torch.float64"]),
    (lambda x, w1, b1, w2, b2: x * torch.sigmoid(torch.relu(x.mean(dim=(2, 3)) @ w1 + b1) @ w2 + b2)[
        :, :, None, None], ["raised RuntimeError on x (2, 6, 4, 5)"]),
    (lambda x, w1, b1, w2, b2: 0.5 * x, ["not x rescaled channel by channel"]),
    (crash, ["raised NotImplementedError on x (2, 6, 4, 5)"]),
    (lambda x, w1, b1, w2, b2: se_plain(x, w1, 0 * b1, w2, b2), ["the bias b1 of the first layer is missing"]),
    (lambda x, w1, b1, w2, b2: se_plain(x, w1, b1, w2, 0 * b2), ["the bias b2 of the second layer is missing"]),
    (lambda x, w1, b1, w2, b2: x * torch.relu(torch.sigmoid(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)[
        :, :, None, None], ["ReLU and sigmoid are swapped"]),
    (lambda x, w1, b1, w2, b2: x * torch.softmax(torch.relu(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2, 1)[
        :, :, None, None], ["softmax over channels"]),
    (lambda x, w1, b1, w2, b2: x * torch.tanh(torch.relu(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)[
        :, :, None, None], ["tanh"]),
    (lambda x, w1, b1, w2, b2: x * torch.sigmoid(torch.relu(x.sum(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)[
        :, :, None, None], ["sums the positions"]),
    (se_in_place, ["changed its input", "in place"]),
    (se_numpy, ["does not require grad", "no NumPy"]),
    (lambda x, w1, b1, w2, b2: se_plain(x, w1.detach(), b1, w2, b2), ["no gradient reaches w1"]),
    (lambda x, w1, b1, w2, b2: se_plain(x, w1, b1, w2, b2) * float("nan"), ["contains NaN"]),
])
def test_squeeze_excite_names_the_mistake(fn, fragments):
    assert_hint(checks.check_squeeze_excite, fn, *fragments)


# --- graph readout -----------------------------------------------------------------------------------------------

def readout_index_add(nodes, graph_index, num_graphs, reduce):
    sums = torch.zeros(num_graphs, nodes.shape[1], dtype=nodes.dtype).index_add(0, graph_index, nodes)
    if reduce == "sum":
        return sums
    return sums / torch.bincount(graph_index, minlength=num_graphs).clamp(min=1).unsqueeze(1).to(nodes.dtype)


def readout_loop(nodes, graph_index, num_graphs, reduce):
    rows = []
    for g in range(num_graphs):
        members = nodes[graph_index == g]
        if len(members) == 0:
            rows.append(torch.zeros(nodes.shape[1], dtype=nodes.dtype))
        else:
            rows.append(members.mean(0) if reduce == "mean" else members.sum(0))
    return torch.stack(rows)


def readout_one_hot(nodes, graph_index, num_graphs, reduce):
    membership = torch.nn.functional.one_hot(graph_index, num_graphs).T.to(nodes.dtype)
    if reduce == "mean":
        membership = membership / membership.sum(1, keepdim=True).clamp(min=1)
    return membership @ nodes


def readout_sorted(nodes, graph_index, num_graphs, reduce):
    ordered = torch.arange(num_graphs).repeat_interleave(torch.bincount(graph_index, minlength=num_graphs))
    return readout_index_add(nodes, ordered, num_graphs, reduce)


def readout_in_place(nodes, graph_index, num_graphs, reduce):
    if reduce == "mean":
        nodes /= torch.bincount(graph_index, minlength=num_graphs)[graph_index].unsqueeze(1).to(nodes.dtype)
    return readout_index_add(nodes, graph_index, num_graphs, "sum")


@pytest.mark.parametrize("fn", [readout_index_add, readout_loop, readout_one_hot])
def test_graph_readout_accepts_correct_readouts(fn):
    checks.check_graph_readout(fn)


@pytest.mark.parametrize("fn, fragments", [
    (lambda n, i, g, r: readout_index_add(n, i, g, "sum" if r == "mean" else "mean"),
     ["reduce='mean'", "these are the sums"]),
    (lambda n, i, g, r: readout_index_add(n, i, g, "mean"), ["reduce='sum'", "these are the means"]),
    (lambda n, i, g, r: getattr(n, r)(dim=0, keepdim=True).expand(g, -1), ["group the nodes by their graph_index"]),
    (lambda n, i, g, r: getattr(n, r)(dim=0), ["expected (3, 3) = (G, D)"]),
    (lambda n, i, g, r: torch.zeros(g, n.shape[1], dtype=n.dtype).index_add(0, i, n) / (
        torch.bincount(i, minlength=g).unsqueeze(1) if r == "mean" else 1), ["graph 1 empty", "gives NaN"]),
    (lambda n, i, g, r: readout_index_add(n.float(), i, g, r), ["float64", "expected dtype torch.float64"]),
    (lambda n, i, g, r: torch.stack([getattr(chunk, r)(0) for chunk in n.chunk(g)]), ["row g should be the mean"]),
    (crash, ["raised NotImplementedError on 7 nodes"]),
    (lambda n, i, g, r: readout_index_add(n, i, int(i.max()) + 1, r), ["the last two empty", "still graphs"]),
    (lambda n, i, g, r: readout_index_add(n, i, g, "sum") / (n.shape[0] if r == "mean" else 1),
     ["divided by the number of all nodes"]),
    (readout_sorted, ["any order"]),
    (readout_in_place, ["changed its input", "in place"]),
    (lambda n, i, g, r: torch.from_numpy(readout_index_add(n, i, g, r).detach().numpy().copy()),
     ["does not require grad"]),
    (gaplib.pooling.graph_readout, ["gaplib's own graph_readout, not yours"]),
])
def test_graph_readout_names_the_mistake(fn, fragments):
    assert_hint(checks.check_graph_readout, fn, *fragments)


# --- token class maps ---------------------------------------------------------------------------------------------

def maps_einsum(tokens, weight):
    return torch.einsum("kd,ntd->nkt", weight, tokens)


def maps_matmul(tokens, weight):
    return (tokens @ weight.T).transpose(1, 2)


def maps_linear(tokens, weight):
    return torch.nn.functional.linear(tokens, weight).permute(0, 2, 1)


def maps_broadcast(tokens, weight):
    return (weight[None, :, None, :] * tokens[:, None]).sum(-1)


def maps_in_place(tokens, weight):
    tokens -= tokens.mean(dim=1, keepdim=True)
    return maps_einsum(tokens, weight)


def maps_numpy(tokens, weight):
    return torch.from_numpy(np.einsum("kd,ntd->nkt", weight.detach().numpy(), tokens.detach().numpy()))


@pytest.mark.parametrize("fn", [maps_einsum, maps_matmul, maps_linear, maps_broadcast])
def test_token_class_maps_accepts_correct_maps(fn, capsys):
    checks.check_token_class_maps(fn)
    assert capsys.readouterr().out.startswith("✓ token_class_maps passes")


@pytest.mark.parametrize("fn, fragments", [
    (lambda h, w: h @ w.T, ["expected shape (2, 3, 6)", "the axes are (N, T, K)"]),
    (lambda h, w: maps_einsum(h, w).mean(dim=2), ["expected shape (2, 3, 6)", "averaged over the tokens"]),
    (lambda h, w: maps_einsum(h, w).sum(dim=2), ["summed over the tokens"]),
    (lambda h, w: maps_einsum(h, w)[:, :, :-1], ["expected shape (2, 3, 6)", "got (2, 3, 5)"]),
    (lambda h, w: maps_einsum(h, w).relu(), ["without ReLU"]),
    (lambda h, w: maps_einsum(h, w).softmax(dim=1), ["softmax over the classes"]),
    (lambda h, w: maps_einsum(h, w).softmax(dim=2), ["softmax over the tokens"]),
    (lambda h, w: maps_einsum(h, w).float(), ["float64 tokens", "expected dtype torch.float64"]),
    (lambda h, w: torch.einsum("dk,ntd->nkt", w, h) if w.shape[0] == w.shape[1] else maps_einsum(h, w),
     ["K = D", "used it transposed"]),
    (lambda h, w: maps_einsum(h, w) / h.shape[1], ["up to a factor 0.1667", "no averaging"]),
    (lambda h, w: maps_einsum(h, w) / h.shape[2], ["up to a factor 0.25"]),
    (lambda h, w: maps_einsum(h, w).mean(dim=2, keepdim=True).expand(-1, -1, h.shape[1]),
     ["the means over the tokens are right but the maps are not"]),
    (lambda h, w: maps_einsum(h - h.mean(dim=1, keepdim=True), w), ["w[k, d]-weighted sum"]),
    (lambda h, w: maps_einsum(h, w).log(), ["contains NaN"]),
    (lambda h, w: maps_einsum(h, w) * float("nan"), ["contains NaN"]),
    (lambda h, w: h @ w, ["raised RuntimeError on tokens (2, 6, 4)"]),
    (crash, ["raised NotImplementedError on tokens (2, 6, 4)"]),
    (lambda h, w: maps_einsum(h, w).tolist(), ["expected a torch.Tensor, got list"]),
    (maps_in_place, ["changed its input (argument 1) in place"]),
    (lambda h, w: maps_einsum(h, w.clamp_(min=0)), ["changed its input (argument 2) in place"]),
    (maps_numpy, ["does not require grad", "no NumPy"]),
    (lambda h, w: maps_einsum(h, w).detach(), ["does not require grad"]),
    (lambda h, w: maps_einsum(h.detach(), w), ["no gradient reaches tokens"]),
    (lambda h, w: maps_einsum(h, w.detach()), ["no gradient reaches weight"]),
    (lambda h, w: maps_einsum(h, w).detach().requires_grad_(h.requires_grad), ["no gradient reaches tokens"]),
    (gaplib.tokens.token_class_maps, ["gaplib's own token_class_maps, not yours"]),
    (lambda h, w: gaplib.tokens.token_class_maps(h, w), ["calls gaplib's own token_class_maps"]),
])
def test_token_class_maps_names_the_mistake(fn, fragments):
    message = assert_hint(checks.check_token_class_maps, fn, *fragments)
    assert "einsum" not in message and "@" not in message


def test_token_class_maps_failure_is_a_check_failed():
    with pytest.raises(checks.CheckFailed) as caught:
        checks.check_token_class_maps(lambda h, w: maps_einsum(h, w).relu())
    assert len(caught.value._render_traceback_()) == 1


# --- every checker answers fast (CPU time, so that a loaded machine does not fail it) ---------------------------

@pytest.mark.parametrize("checker, fn", [
    (checks.check_head_cost, cost_direct), (checks.check_pooled_noise_variance, noise_torch),
    (checks.check_cam_to_box, box_scipy), (checks.check_box_iou, iou_plain),
    (checks.check_gap_blind_pair, pair_spot), (checks.check_texture_statistic, corners),
    (checks.check_gem_pool, gem_plain), (checks.check_gem_p_for_max, p_by_bisection),
    (checks.check_squeeze_excite, se_plain), (checks.check_graph_readout, readout_index_add),
    (checks.check_global_avg_pool, lambda x: x.flatten(2).mean(-1)),
    (checks.check_class_activation_maps, lambda f, w: torch.einsum("kc,nchw->nkhw", w, f)),
    (checks.check_token_class_maps, maps_einsum),
], ids=lambda value: getattr(value, "__name__", "fn"))
def test_a_check_answers_in_under_a_second(checker, fn, capsys):
    """Timed on a second run: the first may import scikit-learn or scipy once per session."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        checker(fn)
        start = time.process_time()
        checker(fn)
        assert time.process_time() - start < 1.0
    finally:
        torch.set_num_threads(threads)
    assert capsys.readouterr().out.startswith("✓ ")
