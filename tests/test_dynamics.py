"""gaplib.dynamics: accuracy read at several budgets of one run equals separate runs of those budgets."""

from __future__ import annotations

import pytest
import torch

from gaplib.dynamics import accuracy_at_budgets
from gaplib.models import make_classifier
from gaplib.train import accuracy, recalibrate_batch_norm, seed_everything, train_classifier


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    images = torch.randn(n, 1, 8, 8, generator=generator) + labels[:, None, None, None].float()
    return images, labels


@pytest.mark.parametrize("batch_norm", [False, True])
def test_the_score_at_a_budget_is_the_score_of_a_run_of_that_budget(batch_norm: bool) -> None:
    train, test = _data(96, 0), _data(64, 1)
    seed_everything(3)
    model = make_classifier("gap", 2, 8, widths=(4,), downsample=(False,), batch_norm=batch_norm)
    seen = []
    scores = accuracy_at_budgets(model, train, test, (1, 3), batch_size=32, seed=3,
                                 probe=lambda epochs, m: seen.append((epochs, m.training)))
    assert seen == [(1, False), (3, False)]
    for epochs in (1, 3):
        seed_everything(3)
        alone = make_classifier("gap", 2, 8, widths=(4,), downsample=(False,), batch_norm=batch_norm)
        train_classifier(alone, *train, epochs=epochs, batch_size=32, lr=1e-2, seed=3, progress=False)
        recalibrate_batch_norm(alone, train[0])
        assert scores[epochs] == (accuracy(alone, *train), accuracy(alone, *test))


def test_bad_budgets_and_data_are_refused() -> None:
    model = make_classifier("gap", 2, 8, widths=(4,), downsample=(False,))
    train = _data(16, 0)
    for budgets in [(), (3, 2), (0, 1), (2, 2), (1.5,)]:
        with pytest.raises(ValueError, match="increasing positive epoch counts"):
            accuracy_at_budgets(model, train, train, budgets)
    with pytest.raises(ValueError, match="labels"):
        accuracy_at_budgets(model, train, (train[0], train[1][:3]), (1,))
    with pytest.raises(TypeError, match="probe"):
        accuracy_at_budgets(model, train, train, (1,), probe=3)
