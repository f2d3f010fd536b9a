"""Chapter 6, texture: one learned 3 x 3 convolution and a ReLU before GAP tells stripes from checkerboards,
and its key filter is the mixed derivative; over 12 seeds.

The chapter's experiment, repeated with the same gaplib calls (the notebook keeps its short ``texture_net``
and ``key_filter``, copied here): ``gaplib.data.stripes_and_checkerboards`` (16 x 16, widths 2 and 4), 512
training and 1,000 test images (data seeds fixed per seed as in the notebook), 8 filters, Adam at lr 2e-2 in
batches of 32 for 8 epochs (the notebook's budget) and 16 (the doubled budget), read from one run by
``gaplib.dynamics.accuracy_at_budgets``. At each budget, on the seed's own test set: the test accuracy, the
|cosine| of the key filter with the mixed-derivative kernel, and the key channel's pooled activation on
checkerboards over stripes.
"""

from __future__ import annotations

import torch
from torch import nn

from gaplib.data import stripes_and_checkerboards
from gaplib.dynamics import accuracy_at_budgets
from gaplib.evidence import Claim
from gaplib.models import make_classifier
from gaplib.pooling import global_avg_pool
from gaplib.train import seed_everything

SEEDS = range(12)
BUDGETS = (8, 16)
MIXED_DERIVATIVE = torch.tensor([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0], [-1.0, 0.0, 1.0]])

CLAIMS = (
    *(Claim(f"After {e} epochs one conv + GAP tells the textures apart (every seed above 0.95)", f"test_e{e}",
            above=0.95, rule="every") for e in BUDGETS),
    *(Claim(f"After {e} epochs the key filter is the mixed derivative (mean |cosine| above 0.8)",
            f"cosine_e{e}", above=0.8) for e in BUDGETS),
    Claim("The key channel's pooled activation is more than 4 times larger on checkerboards (8 epochs)",
          "ratio_e8", above=4.0),
)


def key_filter(model, x, y):
    with torch.no_grad():
        pooled = global_avg_pool(model.features(x))
    weight = model.head.linear.weight.detach()
    by_class = [pooled[y == label].mean(0) for label in (0, 1)]
    score = (weight[1] - weight[0]) * (by_class[1] - by_class[0])
    channel = int(score.argmax())
    kernel = model.trunk[0].weight.detach()[channel, 0]
    return kernel, by_class[0][channel].item(), by_class[1][channel].item()


def one_seed(seed: int) -> dict[str, float]:
    results: dict[str, float] = {}
    train_x, train_y = stripes_and_checkerboards(1000, 16, (2, 4), seed=seed)
    test = stripes_and_checkerboards(1000, 16, (2, 4), seed=100 + seed)
    seed_everything(seed)
    model = make_classifier("gap", 2, 16, widths=(8,), downsample=(False,))

    def probe(epochs, model):
        kernel, on_stripes, on_checkers = key_filter(model, *test)
        cosine = nn.functional.cosine_similarity(kernel.flatten(), MIXED_DERIVATIVE.flatten(), 0)
        results[f"cosine_e{epochs}"] = abs(cosine.item())
        results[f"ratio_e{epochs}"] = on_checkers / on_stripes

    scores = accuracy_at_budgets(model, (train_x[:512], train_y[:512]), test, BUDGETS, batch_size=32, lr=2e-2,
                                 seed=seed, probe=probe)
    for epochs, (train_acc, test_acc) in scores.items():
        results[f"train_e{epochs}"] = train_acc
        results[f"test_e{epochs}"] = test_acc
    return results
