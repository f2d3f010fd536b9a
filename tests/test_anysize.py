"""Chapter 11's experiment code (gaplib.anysize): sizes, locality, the frozen trunk of FixRes's step, bad input."""

import pytest
import torch

from gaplib import anysize
from gaplib.anysize import (
    ARRANGEMENT_HEADS,
    MATCHED_SIZE,
    arrangement_model,
    bag_net,
    deep_net,
    finetune_at_resolution,
    padded_arrangements,
    resize,
)


def test_the_matched_size_makes_test_digits_look_like_training_digits():
    assert MATCHED_SIZE * anysize.TEST_DIGIT == anysize.TRAIN_SIZE * anysize.ZOOMED_DIGIT
    assert MATCHED_SIZE in anysize.SIZES and anysize.TRAIN_SIZE in anysize.SIZES


def test_resize_scales_every_side_and_refuses_bad_input():
    assert resize(torch.rand(3, 1, 16, 16), 22).shape == (3, 1, 22, 22)
    with pytest.raises(ValueError, match="positive int"):
        resize(torch.rand(3, 1, 16, 16), 0)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        resize(torch.rand(16, 16), 8)


def test_a_bag_net_feature_sees_only_its_seven_by_seven_patch():
    model = bag_net("gap", 10, 16, seed=0).eval()
    image = torch.randn(1, 1, 16, 16)
    changed = image.clone()
    outside = torch.ones(16, 16, dtype=torch.bool)
    outside[5:12, 5:12] = False
    changed[:, :, outside] = torch.randn(int(outside.sum()))
    with torch.no_grad():
        before, after = model.features(image), model.features(changed)
    assert torch.allclose(before[..., 8, 8], after[..., 8, 8], atol=1e-6)
    assert not torch.allclose(before[..., 4, 4], after[..., 4, 4], atol=1e-3)


def test_every_arrangement_model_runs_and_only_flatten_is_tied_to_its_size():
    images, labels = padded_arrangements(6, seed=0)
    assert images.shape == (6, 1, 22, 22) and labels.shape == (6,)
    for name in ARRANGEMENT_HEADS:
        model = arrangement_model(name, seed=0).eval()
        assert model(images).shape == (6, 2)
        if name != "local trunk + flatten":
            assert model(torch.rand(2, 1, 30, 30)).shape == (2, 2)
    with pytest.raises(ValueError, match="expected one of"):
        arrangement_model("local trunk + GMP", 0)
    with pytest.raises(ValueError, match="expected head in"):
        bag_net("gmp", 2, 22, 0)


def test_fixres_step_changes_only_the_head_and_batch_norm():
    model = deep_net(10, 16, seed=0).eval()
    images, labels = torch.randn(64, 1, 16, 16), torch.randint(0, 10, (64,))
    tuned = finetune_at_resolution(model, images, labels, 22, seed=0, epochs=1)
    for (name, before), after in zip(model.named_parameters(), tuned.parameters(), strict=True):
        module = dict(model.named_modules())[name.rsplit(".", 1)[0]]
        if isinstance(module, torch.nn.Conv2d):
            assert torch.equal(before, after), name
    changed = [not torch.equal(a, b) for a, b in zip(model.head.parameters(), tuned.head.parameters(), strict=True)]
    assert any(changed)
    assert all(p.requires_grad for p in model.parameters())   # the original is untouched
