"""Chapter 9: the comparative and trained-model conclusions about GAP on signals, sentences and sets.

Three experiments, each repeated with the few gaplib calls of the notebook (its ``SentenceClassifier`` and
``SetClassifier`` are written again here), paired by seed: seed k fixes the initialisation and the batch order
of every arm. The data sets keep the notebook's fixed seeds (signals 1 and 2, sentences 1 and 2); the counting
sets are drawn with seeds 10 + k and 100 + k, as in the notebook's loop.

- Signals (``motif_signals``, 600 training and 300 test signals): the 1-D GAP CNN's test accuracy and the
  share of motif-bearing test signals on which the peak of the true class's CAM falls inside the motif
  (a random time step does so 16/96 of the time).
- Sentences (``key_word_sentences``, 1,000 training and 1,000 test sentences): bag of words (GAP over the
  tokens) against flatten, on the "which key word" and the "which comes first" tasks. The "which" task is
  the null arm of the order claim: there the order does not matter and flatten should gain nothing.
- Counting (``counting_sets``, 600 training and 1,000 test sets): mean against sum readouts, with a fixed
  and a varying number of nodes. The fixed size is the null arm: there the mean is the sum over a
  constant, and the sum should gain nothing.

Fit criterion: training accuracy >= 0.95 for every arm that can represent its task (the bag of words on
the order task cannot, by construction, and the mean readout with varying sizes cannot either). Budgets: the
signals 10 epochs (the chapter's earlier budget, recorded to show it had not fit), 20 and 40; sentences 15 and
30; counting 30 and 60: a claim at a budget where the models fit and at that budget doubled.
"""

from __future__ import annotations

import torch
from torch import nn

import gaplib
from gaplib.data import counting_sets, key_word_sentences, motif_signals
from gaplib.evidence import Claim
from gaplib.models import make_signal_classifier
from gaplib.pooling import graph_readout
from gaplib.train import accuracy, seed_everything, train_classifier

SEEDS = range(12)

CLAIMS = (
    Claim("the 1-D GAP CNN classifies the signals with accuracy above 0.8 (chance 1/3), 20 epochs",
          "signal_acc_20", above=0.8),
    Claim("the same with the budget doubled (40 epochs)", "signal_acc_40", above=0.8),
    Claim("the CAM's peak falls on the motif for more than 0.8 of the motif signals (a random step: 1/6)",
          "cam_hit_20", above=0.8),
    Claim("the same with the budget doubled (40 epochs)", "cam_hit_40", above=0.8),
    Claim("on the order task flatten beats the bag of words by more than 0.3 (15 epochs)",
          "order_flatten_minus_gap_15", above=0.3),
    Claim("the same with the budget doubled (30 epochs)", "order_flatten_minus_gap_30", above=0.3),
    Claim("null arm: on the 'which' task flatten and the bag of words differ by less than 0.05",
          "which_flatten_minus_gap_15", above=-0.05, below=0.05),
    Claim("the bag of words stays within 0.05 of chance on the order task (30 epochs)",
          "order_gap_minus_half_30", above=-0.05, below=0.05),
    Claim("with varying sizes the sum readout beats the mean by more than 0.3 (30 epochs)",
          "varying_sum_minus_mean_30", above=0.3),
    Claim("the same with the budget doubled (60 epochs)", "varying_sum_minus_mean_60", above=0.3),
    Claim("null arm: with a fixed size, mean and sum differ by less than 0.02 (30 epochs)",
          "fixed_sum_minus_mean_30", above=-0.02, below=0.02),
    Claim("the same with the budget doubled (60 epochs)", "fixed_sum_minus_mean_60", above=-0.02, below=0.02),
    Claim("the bag of words stays within 0.05 of chance on the order task (15 epochs)",
          "order_gap_minus_half_15", above=-0.05, below=0.05),
    Claim("fit: the signal CNN reaches a training accuracy of 0.95 at 20 epochs", "signal_train_20", above=0.95),
    Claim("fit: the bag of words fits the 'which' task (training accuracy >= 0.95, 15 epochs)",
          "train_which_gap_15", above=0.95),
    Claim("fit: the flatten model fits the order task (training accuracy >= 0.95, 15 epochs)",
          "train_order_flatten_15", above=0.95),
    Claim("fit: the mean readout fits the fixed-size sets (training accuracy >= 0.95, 30 epochs)",
          "train_fixed_mean_30", above=0.95),
    Claim("fit: the sum readout fits the varying-size sets (training accuracy >= 0.95, 30 epochs)",
          "train_varying_sum_30", above=0.95),
)


class SentenceClassifier(nn.Module):
    def __init__(self, pool: str, vocab_size: int = 20, length: int = 8, dim: int = 8):
        super().__init__()
        self.pool, self.embed = pool, nn.Embedding(vocab_size, dim)
        self.linear = nn.Linear(dim if pool == "gap" else dim * length, 2)

    def sentence_vector(self, tokens: torch.Tensor) -> torch.Tensor:
        vectors = self.embed(tokens)
        if self.pool == "gap":
            return gaplib.global_avg_pool(vectors.transpose(1, 2))
        return vectors.flatten(1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.linear(self.sentence_vector(tokens))


class SetClassifier(nn.Module):
    def __init__(self, reduce: str):
        super().__init__()
        self.reduce, self.linear = reduce, nn.Linear(2, 2)

    def forward(self, sets: torch.Tensor) -> torch.Tensor:
        present = sets[..., 2] > 0
        graph_index = torch.nonzero(present)[:, 0]
        nodes = sets[present][:, :2]
        return self.linear(graph_readout(nodes, graph_index, self.reduce))


def signals(seed: int, out: dict[str, float]) -> None:
    train_s, train_l, _ = motif_signals(600, seed=1)
    test_s, test_l, test_spans = motif_signals(300, seed=2)
    for epochs in (10, 20, 40):
        seed_everything(seed, threads=1)
        model = make_signal_classifier(3, widths=(16, 32), kernel_size=7)
        train_classifier(model, train_s, train_l, epochs=epochs, seed=seed, progress=False)
        out[f"signal_acc_{epochs}"] = accuracy(model, test_s, test_l)
        out[f"signal_train_{epochs}"] = accuracy(model, train_s, train_l)
        with torch.no_grad():
            cams = torch.einsum("kc,nct->nkt", model.head.linear.weight, model.features(test_s))
        has_motif = test_l > 0
        peaks = cams[torch.arange(len(test_l)), test_l].argmax(dim=1)
        on_motif = (peaks >= test_spans[:, 0]) & (peaks < test_spans[:, 1])
        out[f"cam_hit_{epochs}"] = on_motif[has_motif].float().mean().item()


def sentences(seed: int, out: dict[str, float]) -> None:
    for task in ("which", "order"):
        train_t, train_y = key_word_sentences(1000, task, seed=1)
        test_t, test_y = key_word_sentences(1000, task, seed=2)
        for epochs in (15, 30):
            for pool in ("gap", "flatten"):
                seed_everything(seed, threads=1)
                model = SentenceClassifier(pool)
                train_classifier(model, train_t, train_y, epochs=epochs, lr=1e-2, seed=seed, progress=False)
                out[f"{task}_{pool}_{epochs}"] = accuracy(model, test_t, test_y)
                out[f"train_{task}_{pool}_{epochs}"] = accuracy(model, train_t, train_y)
            out[f"{task}_flatten_minus_gap_{epochs}"] = out[f"{task}_flatten_{epochs}"] - out[f"{task}_gap_{epochs}"]
    for epochs in (15, 30):
        out[f"order_gap_minus_half_{epochs}"] = out[f"order_gap_{epochs}"] - 0.5


def counting(seed: int, out: dict[str, float]) -> None:
    for setting, multiples in (("fixed", None), ("varying", (2, 3, 4))):
        train = counting_sets(600, multiples=multiples, seed=10 + seed)[:2]
        test_sets, test_labels, _ = counting_sets(1000, multiples=multiples, seed=100 + seed)
        for epochs in (30, 60):
            for reduce in ("mean", "sum"):
                seed_everything(seed, threads=1)
                model = SetClassifier(reduce)
                train_classifier(model, *train, epochs=epochs, lr=3e-2, seed=seed, progress=False)
                out[f"{setting}_{reduce}_{epochs}"] = accuracy(model, test_sets, test_labels)
                out[f"train_{setting}_{reduce}_{epochs}"] = accuracy(model, *train)
            out[f"{setting}_sum_minus_mean_{epochs}"] = out[f"{setting}_sum_{epochs}"] - out[f"{setting}_mean_{epochs}"]


def one_seed(seed: int) -> dict[str, float]:
    seed_everything(seed, threads=1)
    out: dict[str, float] = {}
    signals(seed, out)
    sentences(seed, out)
    counting(seed, out)
    return out
