"""Chapter 4: when does each head start learning? Test accuracy of GAP and GMP heads, with and without batch
norm, on small and large digits, read at 3, 6, 12 and 24 epochs of one run per arm and seed.

The chapter's recipe (tiny trunk of 8 and 16 channels, 800 training canvases per task, Adam at lr 1e-2 in
batches of 64, batch norm's statistics recomputed with the final weights) is run through
``gaplib.dynamics.accuracy_at_budgets``, the function the notebook calls, whose score at e epochs is the
score of a run trained for exactly e epochs. The budget is the finding here: at 6 epochs (the chapter's live
budget) GAP without batch norm has not started; the sweep goes on doubling the budget to 24 epochs, where
it has, and records the training accuracy at each budget as the fit criterion. A shuffled-label control (GAP
without batch norm on small digits, labels permuted once) shows that rising above chance at the long budget
is learning the labels, not an artefact of the test.

Each arm of a seed starts from the same convolution and linear weights (batch norm layers draw no random
numbers) and the same batch order, so the differences are paired by seed.
"""

from __future__ import annotations

import torch

from gaplib.data import digits_on_canvas
from gaplib.dynamics import accuracy_at_budgets
from gaplib.evidence import Claim
from gaplib.models import make_classifier
from gaplib.train import seed_everything

SEEDS = range(8)
BUDGETS = (3, 6, 12, 24)
TASKS = {"small": (20, 8), "large": (16, 14)}             # canvas, digit (px)
ARMS = {"gap": ("gap", False), "gmp": ("gmp", False), "gap_bn": ("gap", True), "gmp_bn": ("gmp", True)}

CLAIMS = (
    *(Claim(f"After 6 epochs GAP without BN has not started on {task} digits (below 0.25; chance 0.1)",
            f"{task}_gap_test_e6", below=0.25) for task in TASKS),
    *(Claim(f"After 6 epochs GMP without BN leads GAP without BN by more than 0.25 on {task} digits",
            f"{task}_gmp_lead_e6", above=0.25) for task in TASKS),
    *(Claim(f"After 24 epochs GAP without BN has started on {task} digits (above 0.3)", f"{task}_gap_test_e24",
            above=0.3) for task in TASKS),
    *(Claim(f"From 6 to 24 epochs GAP without BN gains more than 0.2 on {task} digits", f"{task}_gap_rise",
            above=0.2) for task in TASKS),
    Claim("Control: GAP without BN on shuffled labels stays at chance after 24 epochs (within 0.05 of 0.1)",
          "small_gap_shuffled_test_e24", above=0.05, below=0.15),
    *(Claim(f"After 6 epochs BN lifts GAP by more than 0.1 on {task} digits", f"{task}_bn_gain_e6", above=0.1)
      for task in TASKS),
    *(Claim(f"After 24 epochs BN still lifts GAP by more than 0.1 on {task} digits", f"{task}_bn_gain_e24",
            above=0.1) for task in TASKS),
    Claim("BN's lift of GAP is smaller at 24 epochs than at 6 on large digits", "large_bn_gain_shrink", above=0.0),
    Claim("After 6 epochs, with BN, GMP leads GAP by more than 0.05 on small digits", "small_gmp_lead_bn_e6",
          above=0.05),
    Claim("After 6 epochs, with BN, GMP's lead over GAP is larger on small digits than on large ones",
          "lead_bn_small_minus_large_e6", above=0.0),
    Claim("After 6 epochs, with BN, GAP does better on large digits than on small ones by more than 0.1",
          "gap_bn_large_minus_small_e6", above=0.1),
)


def _data(task: str):
    canvas, digit = TASKS[task]
    train = digits_on_canvas(800, canvas, digit, seed=1)[:2]
    test = digits_on_canvas(500, canvas, digit, subset="test", seed=2)[:2]
    return train, test


def one_seed(seed: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for task, (canvas, _) in TASKS.items():
        train, test = _data(task)
        runs = dict(ARMS)
        if task == "small":
            runs["gap_shuffled"] = ("gap", False)
        for name, (head, bn) in runs.items():
            seed_everything(seed)
            model = make_classifier(head, 10, canvas, widths=(8, 16), batch_norm=bn)
            fit_on = train
            if name.endswith("shuffled"):
                order = torch.randperm(len(train[1]), generator=torch.Generator().manual_seed(99))
                fit_on = (train[0], train[1][order])
            scores = accuracy_at_budgets(model, fit_on, test, BUDGETS, lr=1e-2, seed=seed)
            for epochs, (train_acc, test_acc) in scores.items():
                results[f"{task}_{name}_train_e{epochs}"] = train_acc
                results[f"{task}_{name}_test_e{epochs}"] = test_acc
        for epochs in BUDGETS:
            test = {name: results[f"{task}_{name}_test_e{epochs}"] for name in ARMS}
            results[f"{task}_bn_gain_e{epochs}"] = test["gap_bn"] - test["gap"]
            results[f"{task}_gmp_lead_e{epochs}"] = test["gmp"] - test["gap"]
            results[f"{task}_gmp_lead_bn_e{epochs}"] = test["gmp_bn"] - test["gap_bn"]
        results[f"{task}_bn_gain_shrink"] = results[f"{task}_bn_gain_e6"] - results[f"{task}_bn_gain_e24"]
        results[f"{task}_gap_rise"] = results[f"{task}_gap_test_e24"] - results[f"{task}_gap_test_e6"]
    for epochs in BUDGETS:
        results[f"lead_bn_small_minus_large_e{epochs}"] = (results[f"small_gmp_lead_bn_e{epochs}"]
                                                          - results[f"large_gmp_lead_bn_e{epochs}"])
        results[f"gap_bn_large_minus_small_e{epochs}"] = (results[f"large_gap_bn_test_e{epochs}"]
                                                         - results[f"small_gap_bn_test_e{epochs}"])
    return results
