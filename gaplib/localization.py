r"""Does a map know *which* object it explains? Scores and baselines for class-specific localisation.

On a canvas with one digit, any map of "where the ink is" finds the digit, so a good score says nothing
about the class. The book's benchmark (:func:`gaplib.data.digits_with_distractors`) puts a target digit and
distractor digits of other classes on each canvas, and this module scores a map :math:`M` (one per canvas,
at the input resolution) on the target in three ways:

* the pointing game (Zhang et al. 2018): is :math:`\arg\max M` inside the target's box, grown by a
  ``tolerance`` in pixels?
* the CAM paper's box (Zhou et al. 2016): the box of the largest 8-connected region with
  :math:`M \ge \tau \max M` (:func:`gaplib.cam.cam_to_box`) overlaps the target's box with IoU >= 0.5;
* target versus distractor: is the map's maximum over the target's box larger than over every
  distractor's box? A map blind to the class scores about 1/2 here, whatever it detects.

It also builds the maps that a class-specific map must beat (blurred input, class-blind channel sum, points)
and the cascading randomisation sanity check of Adebayo et al. 2018. CAMs are computed through
``gaplib.cam.class_activation_maps`` looked up at call time, so a test can swap in a class-blind stand-in.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy import ndimage, stats
from torch import nn

from gaplib import cam as _cam
from gaplib._validate import require_tensor, spatial_dims


def _check_maps(maps: torch.Tensor, where: str) -> torch.Tensor:
    require_tensor(maps, "maps", where)
    if maps.dim() != 3:
        raise ValueError(f"{where}: expected maps of shape (N, H, W), got shape {tuple(maps.shape)}")
    return maps


def _check_boxes(boxes: torch.Tensor, n: int, name: str, where: str, per_image: bool = False) -> torch.Tensor:
    boxes = torch.as_tensor(boxes)
    expected = (n, boxes.shape[1] if boxes.dim() == 3 else -1, 4) if per_image else (n, 4)
    if boxes.dim() != len(expected) or boxes.shape[0] != n or boxes.shape[-1] != 4:
        shape = "(N, D, 4)" if per_image else "(N, 4)"
        raise ValueError(f"{where}: expected {name} of shape {shape} with N = {n}, got {tuple(boxes.shape)}")
    return boxes


def _box_maxima(maps: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """The largest value of each map ``(N, H, W)`` inside each of its boxes ``(N, 4)``: ``(N,)``."""
    inside = _cam.box_masks(boxes, maps.shape[1], maps.shape[2])
    return maps.double().masked_fill(~inside, -torch.inf).flatten(1).amax(dim=1)


def peak_on_target(maps: torch.Tensor, boxes: torch.Tensor, distractor_boxes: torch.Tensor) -> torch.Tensor:
    r"""Target versus distractor: 1 where the map peaks higher on the target than on every distractor.

    .. math:: s = \big[\max_{(i,j) \in B} M(i,j) > \max_d \max_{(i,j) \in B_d} M(i,j)\big]
                  + \tfrac12 \big[\text{equal}\big]

    A tie (a flat map) counts one half, so a map that knows nothing about the class averages about 1/2 with
    one distractor (1/(D+1) with ``D``, when the digits are alike).

    Args:
        maps: ``(N, H, W)``, one map per canvas at the input resolution.
        boxes: the targets' boxes ``(N, 4)`` as ``(x0, y0, x1, y1)``, ends exclusive.
        distractor_boxes: ``(N, D, 4)``.
    Returns:
        ``(N,)`` float64 in ``{0, 0.5, 1}``; its mean is the rate.
    """
    where = "peak_on_target"
    maps = _check_maps(maps, where)
    boxes = _check_boxes(boxes, len(maps), "boxes", where)
    distractor_boxes = _check_boxes(distractor_boxes, len(maps), "distractor_boxes", where, per_image=True)
    on_target = _box_maxima(maps, boxes)
    on_distractors = torch.stack([_box_maxima(maps, distractor_boxes[:, d])
                                  for d in range(distractor_boxes.shape[1])]).amax(dim=0)
    return (on_target > on_distractors).double() + 0.5 * (on_target == on_distractors).double()


def localization_scores(maps: torch.Tensor, boxes: torch.Tensor, distractor_boxes: torch.Tensor,
                        threshold: float = _cam.DEFAULT_BOX_THRESHOLD, tolerance: int = 1,
                        predicted_boxes: torch.Tensor | None = None) -> dict[str, float]:
    """The three scores of one method on the target, as rates in ``[0, 1]``.

    Args:
        maps: ``(N, H, W)`` at the input resolution.
        boxes, distractor_boxes: ``(N, 4)`` and ``(N, D, 4)``.
        threshold: :math:`\\tau` of the box rule (:func:`gaplib.cam.cam_to_box`, fraction of the maximum).
        tolerance: pixels by which each target box is grown for the pointing game.
        predicted_boxes: ``(N, 4)`` boxes to score instead of boxing the maps (the box baselines).
    Returns:
        ``{"pointing": ..., "box_iou50": ..., "peak_on_target": ...}``.
    """
    maps = _check_maps(maps, "localization_scores")
    boxes = _check_boxes(boxes, len(maps), "boxes", "localization_scores")
    if predicted_boxes is None:
        predicted_boxes = _cam.cam_boxes(maps, threshold)
    return {
        "pointing": _cam.pointing_hits(maps, boxes, tolerance=tolerance).double().mean().item(),
        "box_iou50": _cam.localization_hits(predicted_boxes, boxes).double().mean().item(),
        "peak_on_target": peak_on_target(maps, boxes, distractor_boxes).mean().item(),
    }


def box_accuracy_by_threshold(maps: torch.Tensor, boxes: torch.Tensor, thresholds: np.ndarray,
                              relative_to: str = "max") -> np.ndarray:
    """Localisation accuracy (IoU >= 0.5) of the box rule at each threshold, ``(T,)``.

    Choose :math:`\tau` with it on held-out maps, never on the test maps (Choe et al. 2020).

    Args:
        maps: ``(N, H, W)`` at the input resolution; boxes: ``(N, 4)``.
        thresholds: ``(T,)`` values of :math:`\tau` in ``(0, 1]``.
        relative_to: the rule of :func:`gaplib.cam.cam_to_box`, ``"max"`` or ``"range"``.
    """
    maps = _check_maps(maps, "box_accuracy_by_threshold")
    boxes = _check_boxes(boxes, len(maps), "boxes", "box_accuracy_by_threshold")
    return np.array([_cam.localization_hits(_cam.cam_boxes(maps, float(t), relative_to), boxes)
                     .double().mean().item() for t in np.asarray(thresholds).reshape(-1)])


def class_maps(model: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    r"""The CAM of one class per image, :math:`\mathrm{CAM}_{k_n}`, upsampled to the input: ``(N, H, W)``.

    Args:
        model: a :class:`gaplib.models.Classifier` whose head keeps its linear layer as ``head.linear``.
        images: ``(N, C_in, H, W)``.
        classes: ``(N,)`` the class to explain on each image.
    """
    require_tensor(images, "images", "class_maps")
    classes = torch.as_tensor(classes).reshape(-1)
    if classes.shape[0] != images.shape[0]:
        raise ValueError(f"class_maps: expected one class per image ({images.shape[0]}), got {classes.shape[0]}")
    with torch.no_grad():
        maps = _cam.class_activation_maps(model.features(images), model.head.linear.weight)
    picked = maps[torch.arange(len(classes)), classes][:, None]
    return _cam.upsample_cam(picked, images.shape[-2:])[:, 0]


def channel_sum_maps(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    r"""Baseline blind to the class: :math:`\sum_c F_c(i, j)` of the trained features, upsampled: ``(N, H, W)``."""
    require_tensor(images, "images", "channel_sum_maps")
    with torch.no_grad():
        features = model.features(images)
    spatial_dims(features, "channel_sum_maps", 2, 2)
    return _cam.upsample_cam(features.sum(dim=1, keepdim=True), images.shape[-2:])[:, 0]


def blurred_input_maps(images: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """Baseline with no model at all: the input intensity under a Gaussian blur of ``sigma`` px: ``(N, H, W)``."""
    spatial_dims(images, "blurred_input_maps", 2, 2)
    if not sigma > 0:
        raise ValueError(f"blurred_input_maps: expected sigma > 0, got {sigma}")
    intensity = images.detach().double().sum(dim=1).cpu().numpy()
    return torch.from_numpy(ndimage.gaussian_filter(intensity, sigma=(0, sigma, sigma))).float()


def point_maps(points: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Baseline maps that peak at given points ``(N, 2)`` as ``(x, y)``: minus the distance to the point.

    The pointing game then scores the point itself, and target versus distractor asks which box is nearer.
    """
    points = torch.as_tensor(points, dtype=torch.float64).reshape(-1, 2)
    rows = torch.arange(height, dtype=torch.float64)[None, :, None]
    cols = torch.arange(width, dtype=torch.float64)[None, None, :]
    return -torch.sqrt((cols - points[:, 0, None, None]) ** 2 + (rows - points[:, 1, None, None]) ** 2)


def _randomizable_layers(model: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """The model's weight layers from the head down, each convolution with the batch norm that follows it."""
    groups: list[tuple[str, list[nn.Module]]] = [("head", [model.head])]
    convs: list[tuple[str, list[nn.Module]]] = []
    for layer in model.trunk.children():
        if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
            convs.append((f"conv {len(convs) + 1}", [layer]))
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm) and convs:
            convs[-1][1].append(layer)
    return groups + convs[::-1]


def cascading_randomization(model: nn.Module, images: torch.Tensor, classes: torch.Tensor,
                            seed: int = 0) -> list[tuple[str, torch.Tensor]]:
    """Adebayo et al. 2018's cascading test: re-initialise the layers from the head down, one more at a time.

    The model is copied, never changed. After each step the CAM of ``classes`` is recomputed
    (:func:`class_maps`); a map that explains the trained model must change as its weights are destroyed.

    Returns:
        ``[("trained", maps), ("head", maps), ("conv 3", maps), ...]``, maps ``(N, H, W)`` each; the label
        names the deepest layer randomised so far.
    """
    if not (hasattr(model, "trunk") and hasattr(model, "head")):
        raise TypeError(f"cascading_randomization: expected a gaplib Classifier, got {type(model).__name__}")
    clone = copy.deepcopy(model).eval()
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        steps = [("trained", class_maps(clone, images, classes))]
        for name, layers in _randomizable_layers(clone):
            for layer in layers:
                for module in layer.modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()
            steps.append((name, class_maps(clone, images, classes)))
    finally:
        torch.random.set_rng_state(generator_state)
    return steps


def rank_correlations(reference: torch.Tensor, maps: torch.Tensor) -> np.ndarray:
    """Spearman's rank correlation between each pair of maps ``(N, H, W)``, image by image: ``(N,)``.

    A flat map has no ranking; its correlation is reported as 0.
    """
    reference, maps = _check_maps(reference, "rank_correlations"), _check_maps(maps, "rank_correlations")
    if reference.shape != maps.shape:
        raise ValueError(f"rank_correlations: expected maps of the same shape, got {tuple(reference.shape)} "
                         f"and {tuple(maps.shape)}")
    # Spearman's rho is Pearson's correlation of the ranks (ties get their average rank), all rows at once.
    ranks = [stats.rankdata(m.flatten(1).double().numpy(), axis=1) for m in (reference, maps)]
    centred = [r - r.mean(axis=1, keepdims=True) for r in ranks]
    norms = np.sqrt((centred[0] ** 2).sum(axis=1) * (centred[1] ** 2).sum(axis=1))
    products = (centred[0] * centred[1]).sum(axis=1)
    return np.divide(products, norms, out=np.zeros_like(products), where=norms > 0)
