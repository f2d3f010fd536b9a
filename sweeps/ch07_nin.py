"""Chapter 7: a small Network in Network (class maps + GAP) against the same trunk with a flatten head.

The chapter's experiment repeated for 12 paired seeds (the seed draws the initialisation and the batch order;
the data are fixed, as in the notebook): 800 training and 500 test canvases of 20 px with 8-px handwritten
digits placed anywhere, ``make_nin(widths=(16, 32))``, Adam at gaplib's default learning rate and batch.
The notebook keeps its training loop visible; this script repeats the same gaplib calls at the same settings.

The flatten arm gets chapter 3's regularisation, weight decay (Adam's L2 penalty), beside the plain flatten
head: at chapter 3's strength, 0.1, and at 0.01, since a strength does not carry over between networks
(this NiN has no batch norm). The NiN claim is asserted against the best of all flatten arms on the test
canvases, a choice that favours the flatten head. Weight decay runs at 15 epochs; at 30 epochs (the doubled
budget) NiN and the plain flatten head.

Budget: 15 epochs (the chapter's) and 30 (doubled); the fit criterion, training accuracy >= 0.95, is recorded
per arm. The localisation claim (the target's class map peaks on the target more often than any class-blind
map: the sum of all class maps, an untrained NiN's class map, the blurred input) is measured on 300 test
canvases with a distractor digit, for the NiN of each seed at 15 epochs.
"""

from __future__ import annotations

import numpy as np
import torch

from gaplib import localization as loc
from gaplib.cam import upsample_cam
from gaplib.data import digits_on_canvas, digits_with_distractors
from gaplib.evidence import Claim
from gaplib.models import make_nin
from gaplib.train import accuracy, seed_everything, train_classifier

SEEDS = range(12)
BUDGETS, DECAYS, WEIGHT_DECAY = (15, 30), (0.01, 0.1), 0.1
CANVAS, DIGIT, CLASSES = 20, 8, 10
MARGIN = 0.05

CLAIMS = (
    *(Claim(f"NiN beats the plain flatten head by more than {MARGIN} test accuracy ({e} epochs)",
            f"nin_minus_flat_{e}", above=MARGIN) for e in BUDGETS),
    Claim(f"NiN beats the best flatten arm (plain, weight decay 0.01 or 0.1) by more than {MARGIN} (15 epochs)",
          "nin_minus_best_flat_15", above=MARGIN),
    Claim("the plain flatten head fits its training canvases at 15 epochs", "flat_train_15", above=0.95),
    Claim("NiN's test accuracy is well above chance (0.1): above 0.2 at 15 epochs", "nin_test_15", above=0.2),
    Claim("NiN's class map peaks on the target more often than the best class-blind map, by more than 0.2",
          "nin_minus_blind_target", above=0.2),
)


def upsampled(maps: torch.Tensor) -> torch.Tensor:
    return upsample_cam(maps, (CANVAS, CANVAS))


def one_seed(seed: int) -> dict[str, float]:
    seed_everything(seed, threads=1)
    train_x, train_y, _ = digits_on_canvas(800, CANVAS, DIGIT, subset="train", seed=1)
    test_x, test_y, _ = digits_on_canvas(500, CANVAS, DIGIT, subset="test", seed=2)
    out: dict[str, float] = {}
    nins = {}
    for e in BUDGETS:
        decays = DECAYS if e == BUDGETS[0] else ()
        arms = {"nin": ("gap", 0.0), "flat": ("flatten", 0.0), **{f"decay{d}": ("flatten", d) for d in decays}}
        for arm, (head, decay) in arms.items():
            seed_everything(seed, threads=1)
            model = make_nin(CLASSES, CANVAS, widths=(16, 32), head=head)
            train_classifier(model, train_x, train_y, epochs=e, weight_decay=decay, seed=seed, progress=False)
            out[f"{arm}_train_{e}"] = accuracy(model, train_x, train_y)
            out[f"{arm}_test_{e}"] = accuracy(model, test_x, test_y)
            if arm == "nin":
                nins[e] = model
        best = max(out[f"{arm}_test_{e}"] for arm in arms if arm != "nin")
        out[f"nin_minus_flat_{e}"] = out[f"nin_test_{e}"] - out[f"flat_test_{e}"]
        out[f"nin_minus_best_flat_{e}"] = out[f"nin_test_{e}"] - best
    x, y, boxes, _, other_boxes = digits_with_distractors(300, CANVAS, DIGIT, subset="test", seed=4)
    seed_everything(seed, threads=1)
    fresh = make_nin(CLASSES, CANVAS, widths=(16, 32)).eval()
    with torch.no_grad():
        maps = upsampled(nins[BUDGETS[0]].features(x))
        fresh_maps = upsampled(fresh.features(x))
    pick = torch.arange(len(y)), y
    scored = {"nin": maps[pick], "sum": maps.sum(1), "untrained": fresh_maps[pick],
              "blurred": loc.blurred_input_maps(x)}
    for name, chosen in scored.items():
        out[f"{name}_target"] = loc.localization_scores(chosen, boxes, other_boxes, tolerance=1)["peak_on_target"]
    out["nin_minus_blind_target"] = out["nin_target"] - float(np.max([out[f"{n}_target"]
                                                                       for n in ("sum", "untrained", "blurred")]))
    return out
