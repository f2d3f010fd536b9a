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
from torchvision.ops import box_iou as _torchvision_box_iou

from gaplib._validate import require_tensor, spatial_dims


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


def cam_to_box(cam: torch.Tensor | np.ndarray, threshold: float = 0.2) -> tuple[int, int, int, int]:
    r"""The CAM paper's box: threshold the normalised map, box the largest connected region.

    Keeps positions with :math:`\hat M(i, j) \ge` ``threshold`` (20% of the map's range in Zhou et al. 2016),
    labels 8-connected regions and returns the tight box around the largest one. A constant map carries no
    location, so its box is the whole map.

    Args:
        cam: one map ``(H, W)``, already upsampled to the input size.
        threshold: the fraction of the normalised range to keep, in ``(0, 1]``.
    Returns:
        ``(x0, y0, x1, y1)`` in pixels, ``x`` along columns, ends exclusive (torchvision's convention).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"cam_to_box: expected 0 < threshold <= 1, got {threshold}")
    cam = torch.as_tensor(cam)
    if cam.dim() != 2:
        raise ValueError(f"cam_to_box: expected one map of shape (H, W), got shape {tuple(cam.shape)}")
    height, width = cam.shape
    normalized = normalize_cam(cam.double()).numpy()
    if not normalized.any():
        return (0, 0, width, height)
    regions, count = ndimage.label(normalized >= threshold, structure=np.ones((3, 3)))
    sizes = ndimage.sum_labels(np.ones_like(normalized), regions, index=np.arange(1, count + 1))
    rows, cols = np.nonzero(regions == 1 + int(np.argmax(sizes)))
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
    return _torchvision_box_iou(a, b).diagonal()


def pointing_hits(cams: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    r"""The pointing game: does each map's arg-max fall inside its box?

    .. math:: \mathrm{hit} = [\, \arg\max_{i, j} M(i, j) \in \text{box} \,]

    Args:
        cams: maps ``(M, H, W)`` at the input resolution.
        boxes: ``(M, 4)`` as ``(x0, y0, x1, y1)``, ends exclusive.
    Returns:
        ``(M,)`` booleans.
    """
    require_tensor(cams, "cams", "pointing_hits")
    if cams.dim() != 3 or torch.as_tensor(boxes).shape != (cams.shape[0], 4):
        raise ValueError(
            f"pointing_hits: expected cams (M, H, W) and boxes (M, 4), got {tuple(cams.shape)} and "
            f"{tuple(torch.as_tensor(boxes).shape)}"
        )
    boxes = torch.as_tensor(boxes)
    flat_index = cams.flatten(1).argmax(dim=1)
    rows, cols = flat_index // cams.shape[2], flat_index % cams.shape[2]
    return (cols >= boxes[:, 0]) & (cols < boxes[:, 2]) & (rows >= boxes[:, 1]) & (rows < boxes[:, 3])
