r"""Class activation maps (CAM, Zhou et al. 2016) and how to turn them into boxes and scores.

For a model that ends in GAP followed by a linear layer, the logit of class :math:`k` is

.. math:: z_k = \sum_c w_{kc} \bar F_c + b_k = \frac{1}{HW} \sum_{i, j} \mathrm{CAM}_k(i, j) + b_k,
   \qquad \mathrm{CAM}_k(i, j) = \sum_c w_{kc} F_c(i, j),

so the raw map says where the evidence for class :math:`k` sits. :func:`class_activation_maps` returns it
raw: no ReLU and no normalisation, so that the identity above holds exactly. Display and localisation steps
(upsampling, normalising, thresholding) are separate functions.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from gaplib._validate import require_tensor, spatial_dims

#: The book's box rule keeps the pixels at or above this fraction of the map's maximum (``relative_to="max"``).
#: It is the value the CAM chapter chooses on held-out canvases (never on its test canvases, as Choe et al.
#: 2020 require) and asserts; exercise 5 teaches the same rule with this default.
DEFAULT_BOX_THRESHOLD = 0.55


def class_activation_maps(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    r"""Raw class activation maps, one per class.

    .. math:: \mathrm{CAM}_k(i, j) = \sum_{c=1}^{C} w_{kc} F_c(i, j)

    Args:
        features: the last feature maps ``(N, C, H, W)``, before pooling.
        weight: the linear classifier's weight ``(K, C)`` (``nn.Linear(C, K).weight``).
    Returns:
        ``(N, K, H, W)``: no ReLU, no normalisation; the spatial mean of map ``k`` plus the bias ``b_k`` is
        logit ``z_k``.
    """
    spatial_dims(features, "class_activation_maps", 2, 2)
    require_tensor(weight, "weight", "class_activation_maps")
    if weight.dim() != 2:
        raise ValueError(f"class_activation_maps: expected weight of shape (K, C), got shape {tuple(weight.shape)}")
    if weight.shape[1] != features.shape[1]:
        raise ValueError(
            f"class_activation_maps: weight has C = {weight.shape[1]} input channels but features have "
            f"C = {features.shape[1]} (features {tuple(features.shape)}, weight {tuple(weight.shape)})"
        )
    return torch.einsum("kc,nchw->nkhw", weight.to(features.dtype), features)


def upsample_cam(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of maps ``(N, K, h, w)`` to the input's ``size = (H, W)``, for overlays and boxes."""
    spatial_dims(cam, "upsample_cam", 2, 2)
    return F.interpolate(cam, size=tuple(size), mode="bilinear", align_corners=False)


def normalize_cam(cam: torch.Tensor) -> torch.Tensor:
    r"""Min-max normalise each map to ``[0, 1]``.

    .. math:: \hat M(i, j) = \frac{M(i, j) - \min M}{\max M - \min M}

    A constant map has no preferred location: it becomes all zeros rather than ``0/0 = NaN``. All-negative
    maps are handled like any other, since only differences matter.

    Args:
        cam: maps ``(..., H, W)``; every leading index is normalised separately.
    """
    require_tensor(cam, "cam", "normalize_cam")
    if cam.dim() < 2:
        raise ValueError(f"normalize_cam: expected maps of shape (..., H, W), got shape {tuple(cam.shape)}")
    low = cam.amin(dim=(-2, -1), keepdim=True)
    span = cam.amax(dim=(-2, -1), keepdim=True) - low
    safe_span = torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, (cam - low) / safe_span, torch.zeros_like(cam))


def cam_to_box(cam: torch.Tensor | np.ndarray, threshold: float = DEFAULT_BOX_THRESHOLD,
               relative_to: str = "max") -> tuple[int, int, int, int]:
    r"""The book's box rule (the CAM paper's): threshold the map, box the largest connected region.

    Keeps the positions with :math:`M(i, j) \ge \tau \max M` (``relative_to="max"``, the default), labels
    8-connected regions and returns the tight box around the largest one. A map with no positive value has
    no evidence, and a constant map no location: both box the whole map. The default
    :math:`\tau` = :data:`DEFAULT_BOX_THRESHOLD` is the value the CAM chapter selects on held-out canvases.

    ``relative_to="range"`` thresholds the min-max normalised map
    :math:`\hat M = (M - \min M) / (\max M - \min M)` instead, as a threshold on a library's normalised
    map would. The two agree only when the map's minimum is 0 (a ReLU-ed map); on raw CAMs with a large
    negative part the min-max rule keeps far more and gives much larger boxes.

    Args:
        cam: one map ``(H, W)``, already upsampled to the input size.
        threshold: :math:`\tau`, the fraction of the maximum (or of the normalised range) to keep, in ``(0, 1]``.
        relative_to: ``"max"`` (the book's rule) or ``"range"``.
    Returns:
        ``(x0, y0, x1, y1)`` in pixels, ``x`` along columns, ends exclusive (torchvision's convention).

    Example:
        >>> cam = torch.zeros(6, 8); cam[1:3, 2:5] = 1.0
        >>> cam_to_box(cam)
        (2, 1, 5, 3)
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"cam_to_box: expected 0 < threshold <= 1, got {threshold}")
    cam = torch.as_tensor(cam)
    if cam.dim() != 2:
        raise ValueError(f"cam_to_box: expected one map of shape (H, W), got shape {tuple(cam.shape)}")
    if relative_to not in ("range", "max"):
        raise ValueError(f"cam_to_box: expected relative_to 'range' or 'max', got {relative_to!r}")
    return _box_of(cam.detach().cpu().double().numpy(), threshold, relative_to)


_EIGHT_NEIGHBOURS = np.ones((3, 3))


def _box_of(cam: np.ndarray, threshold: float, relative_to: str) -> tuple[int, int, int, int]:
    """:func:`cam_to_box` on a float64 NumPy map, arguments already checked (shared by :func:`cam_boxes`)."""
    height, width = cam.shape
    if relative_to == "max":
        peak = cam.max()
        if not peak > 0:
            return (0, 0, width, height)
        normalized = cam / peak
    else:
        low, span = cam.min(), cam.max() - cam.min()
        if not span > 0:
            return (0, 0, width, height)
        normalized = (cam - low) / span
    regions, count = ndimage.label(normalized >= threshold, structure=_EIGHT_NEIGHBOURS)
    largest = 1 + int(np.argmax(np.bincount(regions.ravel(), minlength=count + 1)[1:]))
    rows, cols = np.nonzero(regions == largest)
    return (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)


def box_iou(box_a: torch.Tensor | tuple, box_b: torch.Tensor | tuple) -> torch.Tensor:
    r"""Intersection over union of boxes ``(x0, y0, x1, y1)``, paired row by row.

    .. math:: \mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A \cup B|}

    Args:
        box_a, box_b: ``(4,)`` or ``(M, 4)`` each, same ``M``.
    Returns:
        ``(M,)`` IoU values in ``[0, 1]``.
    """
    a = torch.as_tensor(box_a, dtype=torch.float64).reshape(-1, 4)
    b = torch.as_tensor(box_b, dtype=torch.float64).reshape(-1, 4)
    if a.shape != b.shape:
        raise ValueError(f"box_iou: expected the same number of boxes, got {a.shape[0]} and {b.shape[0]}")
    # Imported here: torchvision costs a second at start-up in every notebook, and only this function needs it.
    from torchvision.ops import box_iou as pairwise_iou

    return pairwise_iou(a, b).diagonal()


def pointing_hits(cams: torch.Tensor, boxes: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    r"""The pointing game (Zhang et al. 2018): does each map's arg-max fall inside its box?

    .. math:: \mathrm{hit} = [\, \arg\max_{i, j} M(i, j) \in \text{box grown by } t \text{ px} \,]

    Zhang et al. grow the box by a tolerance (15 px on their images) so that a peak just off the object's
    edge still counts; ``tolerance`` is that :math:`t`, in pixels, on every side.

    Args:
        cams: maps ``(M, H, W)`` at the input resolution.
        boxes: ``(M, 4)`` as ``(x0, y0, x1, y1)``, ends exclusive.
        tolerance: :math:`t \ge 0`, pixels added on each side of each box.
    Returns:
        ``(M,)`` booleans.
    """
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance < 0:
        raise ValueError(f"pointing_hits: expected tolerance to be an int >= 0, got {tolerance!r}")
    require_tensor(cams, "cams", "pointing_hits")
    if cams.dim() != 3 or torch.as_tensor(boxes).shape != (cams.shape[0], 4):
        raise ValueError(
            f"pointing_hits: expected cams (M, H, W) and boxes (M, 4), got {tuple(cams.shape)} and "
            f"{tuple(torch.as_tensor(boxes).shape)}"
        )
    flat_index = cams.flatten(1).argmax(dim=1)
    rows, cols = flat_index // cams.shape[2], flat_index % cams.shape[2]
    grown = torch.as_tensor(boxes) + torch.tensor([-tolerance, -tolerance, tolerance, tolerance])
    return points_in_boxes(torch.stack([cols, rows], dim=1), grown)


def grad_cam(model: torch.nn.Module, images: torch.Tensor, classes: int | torch.Tensor,
             relu: bool = True) -> torch.Tensor:
    r"""Grad-CAM (Selvaraju et al. 2017) on the last feature maps of a ``features``/``head`` model.

    .. math:: \alpha_{kc} = \frac{1}{HW} \sum_{i, j} \frac{\partial z_k}{\partial F_c(i, j)}, \qquad
       \mathrm{GradCAM}_k(i, j) = \mathrm{ReLU}\Big( \sum_c \alpha_{kc} F_c(i, j) \Big)

    For a GAP-then-linear head :math:`\partial z_k / \partial F_c(i, j) = w_{kc} / (HW)` at every position,
    so :math:`\alpha_{kc} = w_{kc}/(HW)` and Grad-CAM is :math:`\mathrm{ReLU}(\mathrm{CAM}_k)/(HW)`: the same
    map, clipped and rescaled. For other heads (max pooling, several layers) the two differ.

    Args:
        model: has ``model.features(x)`` giving ``F`` ``(N, C, H, W)`` and ``model.head(F)`` giving the logits
            ``(N, K)``, like :class:`gaplib.models.Classifier`. Its parameters are left untouched (no ``.grad``).
        images: the input batch ``(N, ...)``.
        classes: the class ``k`` to explain, one int for the whole batch or ``(N,)`` ints, one per image.
        relu: apply the ReLU of the paper (``False`` returns the signed map).
    Returns:
        ``(N, H, W)`` at the feature resolution, not normalised (libraries usually min-max normalise it to
        ``[0, 1]`` and upsample it for display; :func:`normalize_cam` and :func:`upsample_cam` do that here).

    Example:
        >>> maps = grad_cam(model, images, classes=labels)   # doctest: +SKIP
    """
    require_tensor(images, "images", "grad_cam")
    if not (callable(getattr(model, "features", None)) and callable(getattr(model, "head", None))):
        raise TypeError(f"grad_cam: expected a model with .features(x) and .head(F) (a gaplib Classifier), "
                        f"got {type(model).__name__}")
    with torch.enable_grad():
        features = model.features(images).detach().requires_grad_(True)
        spatial_dims(features, "grad_cam", 2, 2)
        logits = model.head(features)
        index = torch.as_tensor(classes, dtype=torch.long, device=logits.device).reshape(-1)
        if index.numel() not in (1, logits.shape[0]):
            raise ValueError(f"grad_cam: expected one class or {logits.shape[0]} classes (one per image), "
                             f"got {index.numel()}")
        index = index.expand(logits.shape[0])
        if (index < 0).any() or (index >= logits.shape[1]).any():
            raise ValueError(f"grad_cam: expected classes in 0..{logits.shape[1] - 1}, got {index.tolist()}")
        # The images are independent, so one backward pass of the summed scores gives every image's gradient.
        score = logits.gather(1, index[:, None]).sum()
        (gradient,) = torch.autograd.grad(score, features)
    alpha = gradient.mean(dim=(2, 3), keepdim=True)
    maps = (alpha * features.detach()).sum(dim=1)
    return maps.clamp(min=0) if relu else maps


def cam_boxes(cams: torch.Tensor, threshold: float = DEFAULT_BOX_THRESHOLD, relative_to: str = "max") -> torch.Tensor:
    """:func:`cam_to_box` for each of ``M`` maps ``(M, H, W)``: boxes ``(M, 4)`` long, ``(x0, y0, x1, y1)``."""
    require_tensor(cams, "cams", "cam_boxes")
    if cams.dim() != 3:
        raise ValueError(f"cam_boxes: expected maps of shape (M, H, W), got shape {tuple(cams.shape)}")
    if not 0 < threshold <= 1:
        raise ValueError(f"cam_boxes: expected 0 < threshold <= 1, got {threshold}")
    if relative_to not in ("range", "max"):
        raise ValueError(f"cam_boxes: expected relative_to 'range' or 'max', got {relative_to!r}")
    return _boxes_of(cams.detach().cpu().double(), threshold, relative_to)


def _boxes_of(cams: torch.Tensor, threshold: float, relative_to: str) -> torch.Tensor:
    """:func:`_box_of` for all maps ``(M, H, W)`` (float64) at once, with the same boxes and the same ties.

    One call of ``scipy.ndimage.label`` labels the whole stack, with a structure that connects the 8
    neighbours within a map and nothing across maps. Components are numbered in raster order of the stack,
    so within each map in the order that labelling the map alone gives; among equal largest components the
    first one wins, as in :func:`_box_of`.
    """
    maps = cams.numpy()
    count, height, width = maps.shape
    full = np.array([0, 0, width, height])
    if count == 0:
        return torch.zeros(0, 4, dtype=torch.long)
    flat = maps.reshape(count, -1)
    if relative_to == "max":
        low, scale = np.zeros(count), flat.max(axis=1)
    else:
        low = flat.min(axis=1)
        scale = flat.max(axis=1) - low
    degenerate = ~(scale > 0)
    scale = np.where(degenerate, 1.0, scale)
    normalized = (maps - low[:, None, None]) / scale[:, None, None] if relative_to == "range" \
        else maps / scale[:, None, None]
    kept = (normalized >= threshold) & ~degenerate[:, None, None]
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True                                   # 8 neighbours in the map, none across maps
    regions, total = ndimage.label(kept, structure=structure)
    sizes = np.bincount(regions.ravel(), minlength=total + 1)
    owner = np.zeros(total + 1, dtype=np.int64)          # the map each component lies in
    owner[regions.ravel()] = np.repeat(np.arange(count), height * width)
    # per map: the largest component, the first (smallest label) among equal ones
    order = np.lexsort((np.arange(1, total + 1), -sizes[1:], owner[1:])) + 1
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]] if total else order
    chosen = np.full(count, -1)
    chosen[owner[first]] = first
    region = regions == chosen[:, None, None]
    rows, cols = region.any(axis=2), region.any(axis=1)
    boxes = np.stack([cols.argmax(axis=1), rows.argmax(axis=1),
                      width - cols[:, ::-1].argmax(axis=1), height - rows[:, ::-1].argmax(axis=1)], axis=1)
    boxes[chosen < 0] = full
    return torch.from_numpy(boxes).long()


def localization_hits(predicted: torch.Tensor, true: torch.Tensor, iou_threshold: float = 0.5) -> torch.Tensor:
    r"""The CAM paper's localisation criterion: a predicted box counts when it overlaps the true one enough.

    .. math:: \mathrm{hit} = [\, \mathrm{IoU}(\hat B, B) \ge 0.5 \,]

    Args:
        predicted, true: boxes ``(M, 4)`` as ``(x0, y0, x1, y1)``, paired row by row.
        iou_threshold: 0.5 in the CAM paper and in PASCAL VOC.
    Returns:
        ``(M,)`` booleans; their mean is the localisation accuracy.
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"localization_hits: expected 0 < iou_threshold <= 1, got {iou_threshold}")
    return box_iou(predicted, true) >= iou_threshold


def box_masks(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Boolean masks ``(M, height, width)``, true inside each box ``(x0, y0, x1, y1)`` (ends exclusive)."""
    boxes = torch.as_tensor(boxes).reshape(-1, 4)
    rows = torch.arange(height)[None, :, None]
    cols = torch.arange(width)[None, None, :]
    x0, y0, x1, y1 = (boxes[:, i, None, None] for i in range(4))
    return (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Whether each point ``(x, y)`` (column, row, in pixels) lies in its box; ``(M, 2)`` and ``(M, 4)`` in."""
    points, boxes = torch.as_tensor(points).reshape(-1, 2), torch.as_tensor(boxes).reshape(-1, 4)
    if points.shape[0] != boxes.shape[0]:
        raise ValueError(
            f"points_in_boxes: expected as many points as boxes, got {points.shape[0]} and {boxes.shape[0]}"
        )
    x, y = points[:, 0], points[:, 1]
    return (x >= boxes[:, 0]) & (x < boxes[:, 2]) & (y >= boxes[:, 1]) & (y < boxes[:, 3])


def centered_boxes(n: int, box_size: tuple[int, int], image_size: tuple[int, int]) -> torch.Tensor:
    """Baseline: ``n`` copies of a ``box_size = (w, h)`` box centred in an ``image_size = (H, W)`` image."""
    (box_w, box_h), (height, width) = box_size, image_size
    if not (0 < box_w <= width and 0 < box_h <= height):
        raise ValueError(f"centered_boxes: box {box_size} (w, h) does not fit the image {image_size} (H, W)")
    x0, y0 = (width - box_w) // 2, (height - box_h) // 2
    return torch.tensor([x0, y0, x0 + box_w, y0 + box_h]).repeat(n, 1)


def random_boxes(n: int, box_size: tuple[int, int], image_size: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """Baseline: ``n`` boxes of ``box_size = (w, h)`` at uniformly random positions inside an ``(H, W)`` image."""
    (box_w, box_h), (height, width) = box_size, image_size
    if not (0 < box_w <= width and 0 < box_h <= height):
        raise ValueError(f"random_boxes: box {box_size} (w, h) does not fit the image {image_size} (H, W)")
    generator = torch.Generator().manual_seed(seed)
    x0 = torch.randint(0, width - box_w + 1, (n,), generator=generator)
    y0 = torch.randint(0, height - box_h + 1, (n,), generator=generator)
    return torch.stack([x0, y0, x0 + box_w, y0 + box_h], dim=1)
