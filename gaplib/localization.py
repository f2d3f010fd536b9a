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

It also builds the maps that a class-specific map must beat (blurred input, class-blind channel sum, points;
and two that know the class without CAM: occlusion of a trained model and matching class-mean digits), the
threshold-free box score MaxBoxAcc of Choe et al. 2020, the training to a fit criterion that the chapter's
models share, and the cascading randomisation sanity check of Adebayo et al. 2018. CAMs are computed through
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
from gaplib.data import load_digit_images
from gaplib.train import accuracy, offset_seed, recalibrate_batch_norm


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


def train_to_fit(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, target: float = 0.9,
                 max_epochs: int = 40, batch_size: int = 64, lr: float = 3e-3, seed: int = 0) -> int:
    r"""Train with Adam on cross-entropy until the training accuracy reaches ``target``: the fit criterion.

    Comparing the maps of two heads trained for the same number of epochs compares two fits as much as two
    heads (a GMP head fits these canvases in a third of the epochs a GAP head needs). Here every model
    trains until its training accuracy, measured after each epoch in evaluation mode with freshly
    recalibrated batch norm (:func:`gaplib.train.recalibrate_batch_norm`), is at least ``target``.
    The batches, the optimiser and the seed (shifted by the audit's offset) are those of
    :func:`gaplib.train.train_classifier`, so ``train_classifier(..., epochs=2 * E, seed=seed)`` on a fresh
    copy of the same initial model replays these ``E`` epochs and then trains as many again (the doubled
    budget). The model is left recalibrated, in evaluation mode.

    Args:
        model: maps ``(B, 1, H, W)`` to ``(B, K)`` logits, freshly initialised by the caller.
        images, labels: the training set ``(N, 1, H, W)`` and ``(N,)``.
        target: the training accuracy to reach, in ``(0, 1]``.
        max_epochs: give up after this many epochs.
        batch_size, lr, seed: as in :func:`gaplib.train.train_classifier`.
    Returns:
        ``E``, the number of epochs it took.
    Raises:
        RuntimeError: the criterion was not met within ``max_epochs``.
    """
    require_tensor(images, "images", "train_to_fit")
    if not 0 < target <= 1:
        raise ValueError(f"train_to_fit: expected 0 < target <= 1, got {target}")
    if not isinstance(max_epochs, int) or max_epochs < 1:
        raise ValueError(f"train_to_fit: expected max_epochs to be an int >= 1, got {max_epochs!r}")
    labels = torch.as_tensor(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"train_to_fit: expected labels of shape ({len(images)},), got {tuple(labels.shape)}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(offset_seed(seed))
    fit = 0.0
    for epoch in range(1, max_epochs + 1):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), batch_size):
            batch = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        recalibrate_batch_norm(model, images)
        fit = accuracy(model, images, labels)
        if fit >= target:
            return epoch
    raise RuntimeError(f"train_to_fit: training accuracy {fit:.3f} < {target} after {max_epochs} epochs")


def box_accuracy_curves(maps: torch.Tensor, boxes: torch.Tensor, thresholds: np.ndarray,
                        iou_thresholds: tuple[float, ...] = (0.3, 0.5, 0.7),
                        relative_to: str = "max") -> np.ndarray:
    r"""Box accuracy at every map threshold :math:`\tau` and IoU threshold :math:`\delta`: ``(D, T)``.

    .. math:: \mathrm{BoxAcc}(\tau, \delta) = \frac{1}{N} \sum_n
              \big[\mathrm{IoU}(\mathrm{box}(M_n, \tau), B_n) \ge \delta\big]

    with :math:`\mathrm{box}(M, \tau)` the book's box rule (:func:`gaplib.cam.cam_boxes`).

    Args:
        maps: ``(N, H, W)`` at the input resolution; boxes: ``(N, 4)``.
        thresholds: ``(T,)`` values of :math:`\tau` in ``(0, 1]``.
        iou_thresholds: the ``D`` values of :math:`\delta` in ``(0, 1]``.
        relative_to: the rule of :func:`gaplib.cam.cam_to_box`, ``"max"`` or ``"range"``.
    """
    where = "box_accuracy_curves"
    maps = _check_maps(maps, where)
    boxes = _check_boxes(boxes, len(maps), "boxes", where)
    deltas = _iou_thresholds(iou_thresholds, where)
    taus = np.asarray(thresholds, dtype=float).reshape(-1)
    if len(taus) == 0:
        raise ValueError(f"{where}: expected at least one threshold, got none")
    ious = torch.stack([_cam.box_iou(_cam.cam_boxes(maps, float(t), relative_to), boxes) for t in taus])
    return np.array([[(row >= d).double().mean().item() for row in ious] for d in deltas])


def _iou_thresholds(iou_thresholds: tuple[float, ...], where: str) -> np.ndarray:
    deltas = np.asarray(iou_thresholds, dtype=float).reshape(-1)
    if len(deltas) == 0 or not np.all((deltas > 0) & (deltas <= 1)):
        raise ValueError(f"{where}: expected IoU thresholds in (0, 1], got {list(iou_thresholds)}")
    return deltas


def max_box_accuracy(maps: torch.Tensor, boxes: torch.Tensor, thresholds: np.ndarray,
                     iou_thresholds: tuple[float, ...] = (0.3, 0.5, 0.7),
                     relative_to: str = "max") -> np.ndarray:
    r"""MaxBoxAcc (Choe et al. 2020): box accuracy at each map's best threshold, for each IoU threshold.

    .. math:: \mathrm{MaxBoxAcc}(\delta) = \max_\tau \mathrm{BoxAcc}(\tau, \delta)

    A box score at one threshold measures the map *and* how well that threshold was calibrated for it;
    taking each method's best threshold removes the calibration, so maps of different kinds (a CAM, a
    blurred input, a template match) compare on what they show. Choe et al. report the mean over
    :math:`\delta \in \{0.3, 0.5, 0.7\}` (their MaxBoxAccV2, which also boxes every region rather than the
    largest one; here the book's box rule is kept).

    Returns:
        ``(D,)``, one MaxBoxAcc per IoU threshold; see :func:`box_accuracy_curves` for the arguments.
    """
    return box_accuracy_curves(maps, boxes, thresholds, iou_thresholds, relative_to).max(axis=1)


def fixed_box_accuracy(predicted: torch.Tensor, boxes: torch.Tensor,
                       iou_thresholds: tuple[float, ...] = (0.3, 0.5, 0.7)) -> np.ndarray:
    """Box accuracy of given boxes ``(N, 4)`` (a baseline with no map to threshold) at each IoU threshold: ``(D,)``."""
    where = "fixed_box_accuracy"
    boxes = _check_boxes(boxes, len(torch.as_tensor(boxes)), "boxes", where)
    predicted = _check_boxes(predicted, len(boxes), "predicted", where)
    ious = _cam.box_iou(predicted, boxes)
    return np.array([(ious >= d).double().mean().item() for d in _iou_thresholds(iou_thresholds, where)])


def occlusion_maps(model: nn.Module, images: torch.Tensor, classes: torch.Tensor, patch: int = 4,
                   stride: int = 2, fill: float = 0.0, batch_size: int = 2048) -> torch.Tensor:
    r"""Occlusion sensitivity (Zeiler and Fergus 2014): how much the class logit drops when a patch is hidden.

    .. math:: M(i, j) = \frac{1}{|P_{ij}|} \sum_{p \in P_{ij}} \big(z_k(x) - z_k(x \odot \bar p + f\,p)\big)

    with :math:`P_{ij}` the square patches (side ``patch``, every ``stride`` pixels, the last one flush with
    the edge) that cover pixel :math:`(i, j)`, each filled with the value :math:`f`. It asks the trained
    model about the class, like CAM, but never looks at the features or the head's weights: a saliency map
    that owes nothing to the CAM identity.

    Args:
        model: maps ``(B, C_in, H, W)`` to ``(B, K)`` logits.
        images: ``(N, C_in, H, W)``; classes: ``(N,)``, the class to explain on each image.
        patch, stride: side and step of the occluding square, in pixels.
        fill: the value written into the patch (0: the canvas background's mean).
        batch_size: occluded images per forward pass.
    Returns:
        ``(N, H, W)`` float32, in logit units.
    """
    where = "occlusion_maps"
    spatial_dims(images, where, 2, 2)
    classes = torch.as_tensor(classes).reshape(-1)
    if classes.shape[0] != images.shape[0]:
        raise ValueError(f"{where}: expected one class per image ({images.shape[0]}), got {classes.shape[0]}")
    height, width = images.shape[-2:]
    if not (isinstance(patch, int) and isinstance(stride, int) and 0 < patch <= min(height, width)
            and stride > 0):
        raise ValueError(f"{where}: expected 0 < patch <= {min(height, width)} and stride > 0, "
                         f"got patch {patch!r}, stride {stride!r}")
    corners = [(top, left) for top in _starts(height, patch, stride) for left in _starts(width, patch, stride)]
    masks = torch.zeros(len(corners), height, width, dtype=torch.bool)
    for index, (top, left) in enumerate(corners):
        masks[index, top:top + patch, left:left + patch] = True
    drops = torch.empty(len(images), len(corners))
    rows = torch.arange(len(images))
    with torch.no_grad():
        full = model(images)[rows, classes]
        occluded = images[:, None].expand(-1, len(corners), *images.shape[1:])
        occluded = occluded.masked_fill(masks[None, :, None], fill).reshape(-1, *images.shape[1:])
        picked = classes.repeat_interleave(len(corners))
        logits = torch.cat([model(occluded[s:s + batch_size])[torch.arange(len(occluded[s:s + batch_size])),
                                                               picked[s:s + batch_size]]
                            for s in range(0, len(occluded), batch_size)])
        drops = full[:, None] - logits.reshape(len(images), len(corners))
    weights = masks.flatten(1).float()
    return ((drops @ weights) / weights.sum(dim=0)).reshape(len(images), height, width)


def _starts(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, size - patch + 1, stride))
    return starts if starts[-1] == size - patch else [*starts, size - patch]


def class_templates(digit_size: int, subset: str = "train") -> torch.Tensor:
    """The mean handwritten digit of each class, resized as the canvases resize them: ``(10, s, s)``.

    The digits are those of :func:`gaplib.data.load_digit_images` (``subset``), resized (bilinear) to
    ``digit_size`` pixels and clipped to ``[0, 1]`` as :func:`gaplib.data.digits_with_distractors` does.
    """
    if not isinstance(digit_size, int) or digit_size < 2:
        raise ValueError(f"class_templates: expected digit_size to be an int >= 2, got {digit_size!r}")
    digits, labels = load_digit_images(subset)
    resized = nn.functional.interpolate(torch.from_numpy(digits).float()[:, None], size=(digit_size, digit_size),
                                        mode="bilinear", align_corners=False).clamp(0, 1)[:, 0]
    return torch.stack([resized[torch.from_numpy(labels == k)].mean(dim=0) for k in range(10)])


def template_maps(images: torch.Tensor, templates: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    r"""Template matching: the normalised cross-correlation of each canvas with its class's template.

    .. math:: M(i, j) = \frac{\sum_{u,v} (x_{i+u,j+v} - \bar x_{ij})(T_{uv} - \bar T)}
                             {\sqrt{\sum_{u,v} (x_{i+u,j+v} - \bar x_{ij})^2 \sum_{u,v} (T_{uv} - \bar T)^2}}

    over the window of the template's size centred on :math:`(i, j)` (zero outside the canvas), with
    :math:`\bar x_{ij}` the window's mean: 1 where the canvas looks exactly like the class's mean digit.
    No network and no training: the strongest "knows the class" baseline that ignores everything CAM is
    about.

    Args:
        images: ``(N, 1, H, W)``; templates: ``(K, s, s)`` (:func:`class_templates`); classes: ``(N,)``.
    Returns:
        ``(N, H, W)`` float32 in ``[-1, 1]``.
    """
    where = "template_maps"
    spatial_dims(images, where, 2, 2)
    if images.shape[1] != 1:
        raise ValueError(f"{where}: expected one input channel, got images of shape {tuple(images.shape)}")
    require_tensor(templates, "templates", where)
    if templates.dim() != 3:
        raise ValueError(f"{where}: expected templates of shape (K, s, s), got {tuple(templates.shape)}")
    classes = torch.as_tensor(classes).reshape(-1)
    if classes.shape[0] != images.shape[0]:
        raise ValueError(f"{where}: expected one class per image ({images.shape[0]}), got {classes.shape[0]}")
    x = images.detach().double()
    kernels = templates.double() - templates.double().mean(dim=(1, 2), keepdim=True)
    kernels = kernels / kernels.flatten(1).norm(dim=1)[:, None, None].clamp(min=1e-12)
    ones = torch.ones(1, 1, *templates.shape[1:], dtype=torch.float64)
    count = ones.sum()
    # zero padding as conv2d's padding="same" pads an even window: one more pixel after than before
    (rows, cols) = templates.shape[1:]
    x = nn.functional.pad(x, ((cols - 1) // 2, cols // 2, (rows - 1) // 2, rows // 2))
    window_sum = nn.functional.conv2d(x, ones)
    window_energy = nn.functional.conv2d(x**2, ones)
    spread = (window_energy - window_sum**2 / count).clamp(min=1e-12).sqrt()
    scores = nn.functional.conv2d(x, kernels[:, None])       # the window's mean cancels: sum(T - mean T) = 0
    picked = scores[torch.arange(len(classes)), classes]
    return (picked / spread[:, 0]).float()


def peak_boxes(maps: torch.Tensor, box_size: tuple[int, int]) -> torch.Tensor:
    """Boxes of one fixed size ``(w, h)`` centred on each map's maximum, moved inside the map: ``(N, 4)``.

    It separates *where* a map points from *how large* a region it marks: every map gets the same prior
    on the extent (the average training box), so the box scores measure its peak alone. The box rule of
    :func:`gaplib.cam.cam_to_box` instead takes the extent from the map.

    Args:
        maps: ``(N, H, W)``; box_size: ``(w, h)`` in pixels, no larger than the map.
    Returns:
        ``(N, 4)`` long, ``(x0, y0, x1, y1)``, ends exclusive.
    """
    maps = _check_maps(maps, "peak_boxes")
    height, width = maps.shape[1:]
    box_w, box_h = box_size
    if not (0 < box_w <= width and 0 < box_h <= height):
        raise ValueError(f"peak_boxes: box {box_size} (w, h) does not fit the maps ({height}, {width}) (H, W)")
    peak = maps.flatten(1).argmax(dim=1)
    rows, cols = peak // width, peak % width
    x0 = (cols - box_w // 2).clamp(0, width - box_w)
    y0 = (rows - box_h // 2).clamp(0, height - box_h)
    return torch.stack([x0, y0, x0 + box_w, y0 + box_h], dim=1).long()
