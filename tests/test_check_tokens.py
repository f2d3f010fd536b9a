"""The checker of exercise 11 (gaplib.check_tokens) passes the right answer and names each wrong one."""

import re

import pytest
import torch

from gaplib.check_tokens import check_token_class_maps


def right(tokens, weight):
    return torch.einsum("kd,ntd->nkt", weight, tokens)


def test_the_right_answer_passes():
    check_token_class_maps(right)


@pytest.mark.parametrize("wrong, hint", [
    (lambda h, w: torch.einsum("kd,ntd->ntk", w, h), "the axes are (N, T, K)"),
    (lambda h, w: right(h, w).mean(dim=2), "you returned the mean over tokens"),
    (lambda h, w: right(h, w).relu(), "no ReLU"),
    (lambda h, w: right(h, w).softmax(dim=1), "a softmax over classes"),
    (lambda h, w: 2 * right(h, w), "the values differ"),
    (lambda h, w: right(h, w)[:, :, :-1], "expected shape"),
    (lambda h, w: right(h, w).float(), "dtype"),
    (lambda h, w: right(h.detach(), w), "differentiable"),
    (lambda h, w: h @ w, "raised RuntimeError"),
    (lambda h, w: right(h, w).tolist(), "expected a torch.Tensor"),
])
def test_each_wrong_answer_gets_its_hint(wrong, hint):
    with pytest.raises(AssertionError, match=re.escape(hint)):
        check_token_class_maps(wrong)
