"""Chapter 6, arrangement: how well local filters + GAP read which of two parts lies above the other, against
circular padding (no border), a flatten head and CoordConv + GAP, over 12 seeds and two budgets.

The chapter's experiment, repeated with the same gaplib calls (the notebook keeps its short ``local_net``,
copied here): 512 training and 1,000 test images of ``gaplib.data.part_arrangements`` (12 x 12, parts at least
3 rows apart), a 3 x 3 convolution (16 channels) and a 1 x 1 convolution with ReLUs, then the head; Adam at
lr 1e-2 in batches of 32. The seed draws the data, the initialisation and the batch order, as in the
notebook. ``gaplib.dynamics.accuracy_at_budgets`` reads each run at 12 epochs (the notebook's budget) and at
24 (the doubled budget), with the training accuracy as the fit criterion. For the zero-padded GAP network,
the test accuracy is also split into images where a part touches the top or bottom border and images where
both parts keep away from it.
"""

from __future__ import annotations

from torch import nn

from gaplib.data import part_arrangements
from gaplib.dynamics import accuracy_at_budgets
from gaplib.evidence import Claim
from gaplib.heads import make_head
from gaplib.models import Classifier, CoordChannels
from gaplib.train import predict, seed_everything

SEEDS = range(12)
BUDGETS = (12, 24)
VARIANTS = {"gap": dict(head="gap"), "circular": dict(head="gap", padding_mode="circular"),
            "flatten": dict(head="flatten"), "coord": dict(head="gap", coords=True)}

CLAIMS = (
    *(Claim(f"After {e} epochs local filters + GAP score above chance (0.55)", f"gap_test_e{e}", above=0.55)
      for e in BUDGETS),
    *(Claim(f"After {e} epochs local filters + GAP stay far from perfect (below 0.9)", f"gap_test_e{e}", below=0.9)
      for e in BUDGETS),
    *(Claim(f"Where both parts keep away from the border GAP is at chance (within 0.06) after {e} epochs",
            f"gap_inside_e{e}", above=0.44, below=0.56) for e in BUDGETS),
    *(Claim(f"After {e} epochs GAP is more accurate where a part touches the border than elsewhere (by > 0.05)",
            f"border_edge_e{e}", above=0.05) for e in BUDGETS),
    Claim("Taking the border away (circular padding) costs GAP more than 0.05", "gap_minus_circular_e12",
          above=0.05),
    Claim("Without a border (circular padding), the same network is at chance (within 0.05)", "circular_test_e12",
          above=0.45, below=0.55),
    Claim("A flatten head reads the arrangement (above 0.95)", "flatten_test_e12", above=0.95),
    Claim("CoordConv + GAP reads the arrangement (above 0.95)", "coord_test_e12", above=0.95),
)


def local_net(head, coords=False, padding_mode="zeros"):
    first = nn.Conv2d(1 + 2 * coords, 16, 3, padding=1, padding_mode=padding_mode)
    trunk = nn.Sequential(*[CoordChannels()] * coords, first, nn.ReLU(), nn.Conv2d(16, 16, 1), nn.ReLU())
    return Classifier(trunk, make_head(head, 16, 2, 12, 12))


def one_seed(seed: int) -> dict[str, float]:
    results: dict[str, float] = {}
    train = part_arrangements(512, 12, 3, seed=seed)[:2]
    test_x, test_y, test_corners = part_arrangements(1000, 12, 3, seed=100 + seed)
    rows = test_corners[:, :, 0]
    touching = ((rows == 0) | (rows == 12 - 3)).any(1)

    def probe(epochs, model):
        right = predict(model, test_x) == test_y
        results[f"gap_touching_e{epochs}"] = right[touching].float().mean().item()
        results[f"gap_inside_e{epochs}"] = right[~touching].float().mean().item()

    for name, options in VARIANTS.items():
        seed_everything(seed)
        model = local_net(**options)
        scores = accuracy_at_budgets(model, train, (test_x, test_y), BUDGETS, batch_size=32, lr=1e-2, seed=seed,
                                     probe=probe if name == "gap" else None)
        for epochs, (train_acc, test_acc) in scores.items():
            results[f"{name}_train_e{epochs}"] = train_acc
            results[f"{name}_test_e{epochs}"] = test_acc
    for epochs in BUDGETS:
        results[f"border_edge_e{epochs}"] = results[f"gap_touching_e{epochs}"] - results[f"gap_inside_e{epochs}"]
        results[f"gap_minus_circular_e{epochs}"] = results[f"gap_test_e{epochs}"] - results[f"circular_test_e{epochs}"]
    return results
