"""Chapter 4: what each head hands the trunk and the classifier at initialisation, over 12 seeds.

The notebook's two measurements at the initial weights, repeated here with the same gaplib calls (the
notebook keeps its short functions ``gradient_share_on_digit`` and ``start_statistics``, copied here): on 256
training canvases of each task (small digits: 8 px on 20 x 20; large: 14 px on 16 x 16), (1) the share of the
feature gradient's squared norm that falls on the digit's cells, for GAP, GMP and GeM heads on the trunk
without batch norm, and (2) the pooled features' scale (root mean square), their spread across images and
the norm of the loss gradient at the first convolution, for GAP and GMP with and without batch norm (batch
norm in training mode, as in the first step). No training: the seed draws only the initial weights; the
arms of a seed share them (batch norm layers draw no random numbers), so the ratios are paired.
"""

from __future__ import annotations

import torch
from torch import nn

from gaplib.cam import box_masks
from gaplib.data import digits_on_canvas
from gaplib.evidence import Claim
from gaplib.models import make_classifier
from gaplib.train import seed_everything

SEEDS = range(12)
TASKS = {"small": (20, 8), "large": (16, 14)}             # canvas, digit (px)

CLAIMS = (
    Claim("On small digits GeM puts more of its initial gradient on the digit than GAP", "small_gem_minus_gap_share",
          above=0.0),
    Claim("On small digits GMP puts more of its initial gradient on the digit than GeM", "small_gmp_minus_gem_share",
          above=0.0),
    Claim("On small digits GMP puts more than twice GAP's share of its gradient on the digit",
          "small_gmp_over_gap_share", above=2.0),
    Claim("GMP's edge over GAP in gradient on the digit is smaller on large digits, by more than 0.2",
          "edge_small_minus_large", above=0.2),
    *(Claim(f"Without BN, GMP's pooled {name} exceeds GAP's more than {bound}x on {task} digits",
            f"{task}_gmp_over_gap_{key}", above=bound)
      for task in ("small", "large")
      for key, name, bound in (("scale", "scale", 1.5), ("spread", "spread across images", 4.0),
                               ("grad", "first-layer gradient", 2.0))),
    *(Claim(f"Batch norm raises GAP's pooled {name} more than {bound}x on {task} digits",
            f"{task}_bn_over_gap_{key}", above=bound)
      for task in ("small", "large")
      for key, name, bound in (("scale", "scale", 3.0), ("spread", "spread across images", 10.0),
                               ("grad", "first-layer gradient", 3.0))),
    *(Claim(f"With BN, GAP's spread across images exceeds GMP's without BN on {task} digits",
            f"{task}_gap_bn_over_gmp_spread", above=1.0) for task in ("small", "large")),
)


def build(task: str, head: str, bn: bool, seed: int) -> nn.Module:
    seed_everything(seed)
    return make_classifier(head, 10, TASKS[task][0], widths=(8, 16), batch_norm=bn)


def gradient_share_on_digit(task, head, seed, x, y, boxes):
    images, labels, boxes = x[:256], y[:256], boxes[:256]
    model = build(task, head, False, seed)
    features = model.features(images)
    loss = nn.functional.cross_entropy(model.head(features), labels)
    (gradient,) = torch.autograd.grad(loss, features)
    scale = images.shape[-1] // features.shape[-1]
    cells = torch.cat([boxes[:, :2] // scale, -(-boxes[:, 2:] // scale)], 1)
    on_digit = box_masks(cells, *features.shape[-2:])
    energy = gradient.pow(2).sum(dim=1)
    on_share = (energy * on_digit).sum(dim=(1, 2)) / energy.sum(dim=(1, 2))
    return on_share.mean().item(), on_digit.float().mean().item()


def start_statistics(task, head, bn, seed, x, y):
    model = build(task, head, bn, seed)
    pooled = model.head.pool(model.features(x[:256]))
    loss = nn.functional.cross_entropy(model.head.linear(pooled), y[:256])
    (first_layer,) = torch.autograd.grad(loss, model.trunk[0].weight)
    return pooled.pow(2).mean().sqrt().item(), pooled.std(dim=0).mean().item(), first_layer.norm().item()


def one_seed(seed: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for task, (canvas, digit) in TASKS.items():
        x, y, boxes = digits_on_canvas(800, canvas, digit, seed=1)
        for head in ("gap", "gmp", "gem"):
            share, cells = gradient_share_on_digit(task, head, seed, x, y, boxes)
            results[f"{task}_{head}_share"] = share
        results[f"{task}_cells_share"] = cells
        results[f"{task}_gmp_edge"] = results[f"{task}_gmp_share"] - results[f"{task}_gap_share"]
        results[f"{task}_gem_minus_gap_share"] = results[f"{task}_gem_share"] - results[f"{task}_gap_share"]
        results[f"{task}_gmp_minus_gem_share"] = results[f"{task}_gmp_share"] - results[f"{task}_gem_share"]
        results[f"{task}_gmp_over_gap_share"] = results[f"{task}_gmp_share"] / results[f"{task}_gap_share"]
        stats = {(head, bn): start_statistics(task, head, bn, seed, x, y)
                 for head in ("gap", "gmp") for bn in (False, True)}
        for i, name in enumerate(("scale", "spread", "grad")):
            gap = stats["gap", False][i]
            results[f"{task}_gmp_over_gap_{name}"] = stats["gmp", False][i] / gap
            results[f"{task}_bn_over_gap_{name}"] = stats["gap", True][i] / gap
        results[f"{task}_gap_relative_spread"] = stats["gap", False][1] / stats["gap", False][0]
        results[f"{task}_gmp_relative_spread"] = stats["gmp", False][1] / stats["gmp", False][0]
        results[f"{task}_gap_bn_over_gmp_spread"] = stats["gap", True][1] / stats["gmp", False][1]
    results["edge_small_minus_large"] = results["small_gmp_edge"] - results["large_gmp_edge"]
    return results
