"""The data behind chapters 8 and 9's controlled experiments, and CBAM's spatial gate."""

import pytest
import torch

from gaplib.attention import SpatialAttention
from gaplib.data import context_switched_digits, counting_sets
from gaplib.pooling import graph_readout


def test_context_channel_mean_is_exactly_the_context_and_labels_follow_it():
    images, labels, contexts, digits = context_switched_digits(64, context=0.3, clutter=1.0, seed=3)
    assert images.shape == (64, 3, 12, 12) and images.dtype == torch.float32
    means = images[:, 2].mean(dim=(1, 2))
    assert torch.allclose(means, 0.3 * (2 * contexts.float() - 1), atol=1e-5)
    assert torch.equal(labels, digits[torch.arange(64), contexts])
    assert set(contexts.tolist()) == {0, 1} and set(labels.tolist()) <= {0, 1}


def test_context_is_hidden_from_small_windows_by_the_clutter():
    images, _, contexts, _ = context_switched_digits(400, context=0.3, clutter=1.0, seed=4)
    window_means = images[:, 2, 4:7, 4:7].mean(dim=(1, 2))  # one 3x3 window
    right = ((window_means > 0).long() == contexts).float().mean().item()
    assert right < 0.75, right  # a window guesses the context poorly; the whole-map mean never errs
    clear, _, clear_contexts, _ = context_switched_digits(400, context=0.3, clutter=0.0, seed=4)
    assert ((clear[:, 2, 4:7, 4:7].mean(dim=(1, 2)) > 0).long() == clear_contexts).all()


def test_context_switched_digits_is_seeded():
    first = context_switched_digits(8, seed=5)
    again = context_switched_digits(8, seed=5)
    other = context_switched_digits(8, seed=6)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize(("kwargs", "words"), [({"canvas_size": 10}, "multiple of 4"),
                                               ({"context": 0.0}, "context > 0"),
                                               ({"clutter": -1.0}, "clutter >= 0"), ({"n": 0}, "positive int")])
def test_context_switched_digits_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        context_switched_digits(**{"n": 4, **kwargs})


def _readout(nodes: torch.Tensor, reduce: str) -> torch.Tensor:
    present = nodes[..., 2] > 0
    return graph_readout(nodes[present][:, :2], torch.nonzero(present)[:, 0], reduce)


def test_counting_sets_varying_size_mean_carries_no_count_but_sum_does():
    nodes, labels, sizes = counting_sets(300, counts=(2, 3, 4, 5), threshold=4, multiples=(2, 3, 4), seed=1)
    assert torch.equal(nodes[..., 2].sum(1).long(), sizes)
    counts = _readout(nodes, "sum")[:, 0]
    assert torch.equal(labels, (counts >= 4).long())  # the sum gives the label exactly
    share = _readout(nodes, "mean")[:, 0]
    # the share of A is 1/m in both classes: the same set of values, whatever the label
    assert set(share[labels == 0].mul(12).round().tolist()) == set(share[labels == 1].mul(12).round().tolist())
    assert torch.allclose(share, counts / sizes)


def test_counting_sets_fixed_size_mean_is_the_sum_over_a_constant():
    nodes, labels, sizes = counting_sets(200, multiples=None, size=12, seed=2)
    assert (sizes == 12).all() and nodes.shape == (200, 12, 3)
    assert torch.allclose(_readout(nodes, "mean") * 12, _readout(nodes, "sum"))
    assert torch.equal(labels, (_readout(nodes, "mean")[:, 0] * 12 >= 3.5).long())


@pytest.mark.parametrize(("kwargs", "words"), [({"counts": ()}, "at least one count"),
                                               ({"multiples": ()}, "at least one"),
                                               ({"multiples": None, "size": 3}, "size >= max"),
                                               ({"counts": (0, 2)}, "positive int")])
def test_counting_sets_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        counting_sets(**{"n": 4, **kwargs})


def test_spatial_gate_pools_over_channels_and_moves_with_the_content():
    torch.manual_seed(0)
    block = SpatialAttention(kernel_size=3).double()
    x = torch.zeros(2, 5, 10, 10, dtype=torch.float64)
    x[:, :, 1:3, 1:4] = torch.rand(2, 5, 2, 3, dtype=torch.float64) + 1
    gate = block.gate(x)
    assert gate.shape == (2, 1, 10, 10) and (gate > 0).all() and (gate < 1).all()
    expected = torch.sigmoid(block.conv(torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)))
    assert torch.allclose(gate, expected)
    assert torch.allclose(block(x), x * gate)
    moved = block.gate(torch.roll(x, shifts=(4, 3), dims=(2, 3)))
    assert torch.allclose(moved[..., 4:, 3:], gate[..., :-4, :-3])
    # the same multiset of channel values at each position gives the same gate
    assert torch.allclose(block.gate(x[:, torch.randperm(5)]), gate)


@pytest.mark.parametrize("kernel_size", [0, 4, 2.0, True])
def test_spatial_attention_rejects_even_or_non_int_kernels(kernel_size):
    with pytest.raises(ValueError, match="odd positive int"):
        SpatialAttention(kernel_size)


def test_spatial_attention_needs_four_dimensional_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        SpatialAttention().gate(torch.randn(2, 3, 5))
