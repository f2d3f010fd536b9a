"""The code behind the applications chapters: 1-D and token data, graph readouts, NiN and the 1-D CNN."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gaplib.data import MOTIF_CLASSES, key_word_sentences, motif_signals
from gaplib.heads import GAPOnlyHead
from gaplib.models import count_parameters, make_nin, make_signal_classifier, mlpconv
from gaplib.pooling import graph_readout

settings.register_profile("course", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("course")


# --- motif_signals -------------------------------------------------------------------------------------------

def test_motif_signals_are_seeded_and_shaped():
    signals, labels, spans = motif_signals(30, length=50, motif_length=10, seed=3)
    again = motif_signals(30, length=50, motif_length=10, seed=3)
    assert signals.shape == (30, 1, 50) and signals.dtype == torch.float32
    assert labels.shape == (30,) and set(labels.tolist()) == {0, 1, 2} and len(MOTIF_CLASSES) == 3
    assert all(torch.equal(a, b) for a, b in zip((signals, labels, spans), again, strict=True))
    assert not torch.equal(signals, motif_signals(30, length=50, motif_length=10, seed=4)[0])


def test_motifs_sit_in_their_span_and_have_zero_mean():
    signals, labels, spans = motif_signals(60, length=40, motif_length=8, noise=0.0, seed=0)
    for signal, label, (start, end) in zip(signals[:, 0], labels, spans, strict=True):
        if label == 0:
            assert start == end == 0 and not signal.any()
            continue
        assert end - start == 8 and 0 <= start and end <= 40
        inside = signal[start:end]
        assert signal.abs().sum() == pytest.approx(inside.abs().sum())  # nothing outside the span
        assert inside.abs().max() == pytest.approx(1.0, abs=1e-6)
        assert inside.sum().item() == pytest.approx(0.0, abs=1e-5)


def test_the_two_motifs_differ():
    signals, labels, spans = motif_signals(30, length=16, motif_length=16, noise=0.0, seed=0)
    sine, square = signals[labels == 1][0, 0], signals[labels == 2][0, 0]
    assert not torch.allclose(sine, square, atol=0.1)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"n": 0}, "positive int"), ({"n": 5, "length": 8, "motif_length": 9}, "motif_length <= length"),
    ({"n": 5, "noise": -1.0}, "noise >= 0"),
])
def test_motif_signals_reject_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        motif_signals(**kwargs)


# --- key_word_sentences --------------------------------------------------------------------------------------

@given(st.integers(0, 2**31 - 1), st.integers(2, 10))
def test_which_task_has_exactly_one_key_word_and_it_is_the_label(seed, length):
    tokens, labels = key_word_sentences(20, "which", length=length, seed=seed)
    assert tokens.shape == (20, length) and labels.sum() == 10
    keys = tokens < 2
    assert (keys.sum(dim=1) == 1).all()
    assert torch.equal(tokens[keys], labels)


@given(st.integers(0, 2**31 - 1), st.integers(2, 10))
def test_order_task_labels_whether_token_zero_comes_first(seed, length):
    tokens, labels = key_word_sentences(20, "order", length=length, vocab_size=7, seed=seed)
    assert tokens.max() < 7 and labels.sum() == 10
    for sentence, label in zip(tokens, labels, strict=True):
        assert (sentence == 0).sum() == 1 and (sentence == 1).sum() == 1
        first_zero = int(torch.nonzero(sentence == 0)) < int(torch.nonzero(sentence == 1))
        assert first_zero == bool(label)


def test_order_classes_share_their_bags_of_words():
    tokens, labels = key_word_sentences(2, "order", length=2, vocab_size=3, seed=0)
    assert sorted(tokens[0].tolist()) == sorted(tokens[1].tolist()) == [0, 1] and labels[0] != labels[1]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"n": 4, "task": "count"}, "'which' or 'order'"), ({"n": 4, "length": 1}, "length >= 2"),
    ({"n": 4, "vocab_size": 2}, "vocab_size >= 3"),
])
def test_key_word_sentences_reject_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        key_word_sentences(**kwargs)


# --- graph_readout -------------------------------------------------------------------------------------------

@given(st.integers(0, 2**31 - 1), st.integers(1, 20), st.integers(1, 4), st.sampled_from(["mean", "sum", "max"]))
def test_readouts_are_permutation_invariant_and_match_the_definition(seed, nodes, graphs, reduce):
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(nodes, 3, generator=generator, dtype=torch.float64)
    index = torch.randint(0, graphs, (nodes,), generator=generator)
    order = torch.randperm(nodes, generator=generator)
    out = graph_readout(features, index, reduce)
    assert torch.allclose(graph_readout(features[order], index[order], reduce), out, atol=1e-12)
    for g in range(int(index.max()) + 1):
        members = features[index == g]
        if len(members) == 0:
            assert not out[g].any()
            continue
        expected = {"mean": members.mean(0), "sum": members.sum(0), "max": members.amax(0)}[reduce]
        assert torch.allclose(out[g], expected, atol=1e-12)


def test_only_the_sum_tells_a_multiset_from_its_repetition():
    a, b = torch.eye(2)
    once, twice = torch.stack([a, b]), torch.stack([a, a, b, b])
    assert torch.equal(graph_readout(once), graph_readout(twice))
    assert torch.equal(graph_readout(once, reduce="max"), graph_readout(twice, reduce="max"))
    assert torch.equal(graph_readout(twice, reduce="sum"), 2 * graph_readout(once, reduce="sum"))


def test_readout_without_index_is_one_graph_and_keeps_gradients():
    features = torch.randn(5, 3, requires_grad=True)
    out = graph_readout(features)
    assert out.shape == (1, 3)
    out.sum().backward()
    assert torch.allclose(features.grad, torch.full_like(features, 1 / 5))


@pytest.mark.parametrize(("args", "error", "words"), [
    ((torch.randn(3),), ValueError, "shape \\(V, C\\)"),
    ((torch.randn(0, 2),), ValueError, "V >= 1"),
    ((torch.randn(3, 2), torch.zeros(2, dtype=torch.long)), ValueError, "graph_index of shape"),
    ((torch.randn(3, 2), torch.zeros(3)), ValueError, "dtype long"),
    ((torch.randn(3, 2), None, "median"), ValueError, "reduce"),
    (([[1.0, 2.0]],), TypeError, "torch.Tensor"),
])
def test_graph_readout_rejects_bad_input(args, error, words):
    with pytest.raises(error, match=words):
        graph_readout(*args)


# --- NiN and the 1-D CNN -------------------------------------------------------------------------------------

def test_mlpconv_is_a_conv_and_two_one_by_one_convs():
    convs = [m for m in mlpconv(3, 8, kernel_size=5) if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5), (1, 1), (1, 1)]
    assert nn.Sequential(*mlpconv(3, 8, kernel_size=5))(torch.zeros(1, 3, 7, 9)).shape == (1, 8, 7, 9)


def test_nin_logits_are_the_means_of_its_class_maps_and_it_has_no_linear_layer():
    torch.manual_seed(0)
    model = make_nin(5, 16, widths=(4, 8))
    x = torch.randn(3, 1, 16, 16)
    maps = model.features(x)
    assert maps.shape == (3, 5, 8, 8)
    assert torch.allclose(model(x), maps.mean(dim=(2, 3)), atol=1e-6)
    assert isinstance(model.head, GAPOnlyHead)
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    assert model(torch.randn(2, 1, 24, 20)).shape == (2, 5)  # any input size


def test_nin_and_its_flatten_twin_share_the_trunk():
    gap, flat = make_nin(10, 20, widths=(4, 8)), make_nin(10, 20, widths=(4, 8), head="flatten")
    shared = count_parameters(flat.trunk)
    assert count_parameters(gap) == shared + 8 * 10 + 10
    assert count_parameters(flat) == shared + 8 * 10 * 10 * 10 + 10
    assert flat(torch.zeros(2, 1, 20, 20)).shape == (2, 10)


def test_signal_classifier_keeps_the_length_and_pools_over_time():
    model = make_signal_classifier(3, widths=(4, 6), kernel_size=5)
    x = torch.randn(2, 1, 40)
    features = model.features(x)
    assert features.shape == (2, 6, 40)
    expected = features.mean(dim=2) @ model.head.linear.weight.T + model.head.linear.bias
    assert torch.allclose(model(x), expected, atol=1e-6)


@pytest.mark.parametrize(("call", "words"), [
    (lambda: make_nin(3, 16, head="gmp"), "'gap' or 'flatten'"),
    (lambda: make_nin(3, 16, widths=()), "at least one"),
    (lambda: make_signal_classifier(3, kernel_size=4), "odd kernel_size"),
    (lambda: make_signal_classifier(3, widths=()), "at least one"),
])
def test_model_builders_reject_bad_arguments(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# --- gaplib.book.table ---------------------------------------------------------------------------------------

def test_table_is_escaped_html_with_one_row_per_entry():
    from gaplib.book import table

    out = table(["name", "value"], [["a<b", 1], ["c & d", 2.5]], align="lr")
    markup = out.data
    assert markup.count("<tr>") == 3 and markup.count("<th ") == 2 and markup.count("<td ") == 4
    assert "a&lt;b" in markup and "c &amp; d" in markup and "a<b" not in markup
    assert 'style="text-align: right">2.5</td>' in markup


@pytest.mark.parametrize(("rows", "align", "words"), [
    ([["a"]], None, "row 0 has 1 cells, expected 2"), ([["a", "b"]], "lx", "align"), ([["a", "b"]], "l", "align"),
])
def test_table_rejects_ragged_rows_and_bad_alignment(rows, align, words):
    from gaplib.book import table

    with pytest.raises(ValueError, match=words):
        table(["x", "y"], rows, align=align)
