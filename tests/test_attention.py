"""Channel attention (gaplib.attention): parameter counts, what the gate can see, and bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gaplib.attention import ChannelAttention, SqueezeExcitation, with_channel_attention
from gaplib.models import conv_trunk, count_parameters

settings.register_profile("course", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("course")


@given(st.sampled_from([(4, 1), (4, 2), (8, 4), (12, 3), (32, 8)]), st.booleans())
def test_excitation_has_two_c_squared_over_r_weights_plus_biases(channels_and_r, bias):
    channels, r = channels_and_r
    expected = 2 * channels**2 // r + (channels // r + channels if bias else 0)
    assert count_parameters(SqueezeExcitation(channels, r, bias=bias)) == expected
    assert count_parameters(ChannelAttention(channels, r, bias=bias)) == expected


@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.sampled_from(["avg", "max"]))
def test_se_output_is_input_times_a_gate_in_zero_one(seed, n_spatial, squeeze):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 8, *([5] * n_spatial), generator=generator, dtype=torch.float64)
    block = SqueezeExcitation(8, 2, squeeze=squeeze).double()
    gate = block.gate(x)
    assert gate.shape == (2, 8) and (gate > 0).all() and (gate < 1).all()
    assert torch.allclose(block(x), x * gate.reshape(2, 8, *([1] * n_spatial)))


@given(st.integers(0, 2**31 - 1), st.integers(-5, 5), st.integers(-5, 5))
def test_se_gate_depends_only_on_channel_means(seed, di, dj):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 8, 5, 6, generator=generator, dtype=torch.float64)
    other = 4 * torch.randn(3, 8, 5, 6, generator=generator, dtype=torch.float64)
    same_means = other - other.mean(dim=(2, 3), keepdim=True) + x.mean(dim=(2, 3), keepdim=True)
    block = SqueezeExcitation(8, 4).double()
    reference = block.gate(x)
    assert torch.allclose(block.gate(torch.roll(x, (di, dj), dims=(2, 3))), reference, atol=1e-12)
    assert torch.allclose(block.gate(same_means), reference, atol=1e-12)


def test_cbam_gate_sees_the_maxima_but_ignores_shifts():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    other = 4 * torch.randn(2, 8, 6, 6, dtype=torch.float64)
    same_means = other - other.mean(dim=(2, 3), keepdim=True) + x.mean(dim=(2, 3), keepdim=True)
    block = ChannelAttention(8, 2).double()
    assert torch.allclose(block.gate(torch.roll(x, (1, 2), dims=(2, 3))), block.gate(x), atol=1e-12)
    assert not torch.allclose(block.gate(same_means), block.gate(x), atol=1e-3)


def test_cbam_gate_is_the_sigmoid_of_the_shared_mlp_on_both_descriptors():
    torch.manual_seed(1)
    x = torch.randn(2, 4, 3, 3)
    block = ChannelAttention(4, 2)
    expected = torch.sigmoid(block.mlp(x.mean(dim=(2, 3))) + block.mlp(x.amax(dim=(2, 3))))
    assert torch.allclose(block.gate(x), expected, atol=1e-6)


def test_with_channel_attention_adds_one_block_per_relu_and_keeps_shapes():
    trunk = conv_trunk(1, (8, 16))
    x = torch.randn(2, 1, 12, 12)
    expected_shape = trunk(x).shape
    for kind, block_type in (("se", SqueezeExcitation), ("cbam", ChannelAttention)):
        attended = with_channel_attention(conv_trunk(1, (8, 16)), kind, reduction=4)
        blocks = [m for m in attended if isinstance(m, block_type)]
        assert [b.channels for b in blocks] == [8, 16]
        assert attended(x).shape == expected_shape
    max_se = with_channel_attention(conv_trunk(1, (8, 16)), "se", reduction=4, squeeze="max")
    assert all(m.squeeze == "max" for m in max_se if isinstance(m, SqueezeExcitation))


def test_with_channel_attention_works_on_1d_trunks():
    trunk = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU())
    attended = with_channel_attention(trunk, "se", reduction=2)
    assert attended(torch.randn(2, 1, 10)).shape == (2, 4, 10)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: SqueezeExcitation(8, 3), ValueError, "divides C = 8"),
    (lambda: SqueezeExcitation(0), ValueError, "positive int"),
    (lambda: SqueezeExcitation(8, 2, squeeze="mean"), ValueError, "squeeze"),
    (lambda: SqueezeExcitation(8, 2)(torch.randn(2, 4, 3, 3)), ValueError, "C = 8"),
    (lambda: SqueezeExcitation(8, 2)(torch.randn(2, 8)), ValueError, "(N, C, *spatial)"),
    (lambda: ChannelAttention(8, 2)(torch.randn(2, 4, 3, 3)), ValueError, "C = 8"),
    (lambda: with_channel_attention([nn.ReLU()]), TypeError, "nn.Sequential"),
    (lambda: with_channel_attention(nn.Sequential(nn.ReLU())), ValueError, "before any convolution"),
    (lambda: with_channel_attention(conv_trunk(1, (8,)), kind="sk"), ValueError, "'se' or 'cbam'"),
])
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        call()


def test_se_matches_torchvisions_squeeze_excitation_with_the_same_weights():
    from torchvision.ops import SqueezeExcitation as TorchvisionSE

    torch.manual_seed(2)
    ours, theirs = SqueezeExcitation(8, reduction=4), TorchvisionSE(8, 2)
    with torch.no_grad():
        ours.excitation[0].weight.copy_(theirs.fc1.weight.flatten(1))
        ours.excitation[0].bias.copy_(theirs.fc1.bias)
        ours.excitation[2].weight.copy_(theirs.fc2.weight.flatten(1))
        ours.excitation[2].bias.copy_(theirs.fc2.bias)
    x = torch.randn(3, 8, 5, 7)
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)
