r"""Inputs of any size (chapter 11): the networks, the apparent-object-size experiment and its FixRes step.

A GAP network runs at any input size, but its filters were learned for objects of some size *in pixels*.
Resizing a test image by a factor :math:`s'/s` changes every object's apparent size by the same factor, so
a network trained on objects of :math:`a` pixels and tested on objects of :math:`b` pixels sees them at
their training size when the test image is resized to

.. math:: s' = s \, \frac{a}{b}.

This is the train/test discrepancy of apparent object size that Touvron et al. (2019, FixRes) find between
random-resized-crop training and centre-crop testing. Their fix has two steps: test at the larger size
:math:`s'`, then fine-tune the classifier and the batch-norm layers at :math:`s'` on training images
prepared as at test time (:func:`finetune_at_resolution`), because the pooled features' statistics also
change with the resolution.

Both experiments of the chapter live here so that the notebook's live run and the recorded sweep
(``sweeps/ch11_any_size.py``) run the same code at the same budget: :func:`resolution_run` (one seed of
the size experiment) and :func:`arrangement_run` (one seed of the GAP / SPP / flatten comparison and of the
bag of local features).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from gaplib.data import digits_on_canvas, part_arrangements
from gaplib.heads import make_head
from gaplib.models import Classifier, make_classifier
from gaplib.pyramid import SPPHead
from gaplib.train import accuracy, offset_seed, recalibrate_batch_norm, seed_everything, train_classifier

#: Test sizes of the resolution experiment (pixels); the networks are trained at 16.
SIZES = (12, 14, 16, 18, 20, 22, 24)
#: Training resolution, test digit size and the zoomed training digit size (pixels).
TRAIN_SIZE, TEST_DIGIT, ZOOMED_DIGIT = 16, 8, 11
#: The test size at which the 8-pixel test digits look as large as the 11-pixel training digits.
MATCHED_SIZE = TRAIN_SIZE * ZOOMED_DIGIT // TEST_DIGIT
#: Epochs of every training run: every arm that can represent its task fits its training set (>= 0.95).
EPOCHS = 12
#: Epochs of the FixRes fine-tuning step (classifier and batch norm only).
FINETUNE_EPOCHS = 2
#: The arrangement models, in the order the chapter shows them.
ARRANGEMENT_HEADS = ("local trunk + GAP", "local trunk + SPP", "local trunk + flatten", "deep trunk + GAP")


def _positive_int(value: object, name: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where}: expected {name} to be a positive int, got {value!r}")
    return value


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of ``(N, C, H, W)`` images to ``(N, C, size, size)``: every object scales by size / H."""
    _positive_int(size, "size", "resize")
    if images.ndim != 4:
        raise ValueError(f"resize: expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


def fit(model: Classifier, images: torch.Tensor, labels: torch.Tensor, seed: int,
        epochs: int = EPOCHS) -> Classifier:
    """Train with the chapter's one recipe (Adam, lr 1e-2, batches of 32), then recalibrate batch norm."""
    train_classifier(model, images, labels, epochs=_positive_int(epochs, "epochs", "fit"), batch_size=32,
                     lr=1e-2, seed=seed, progress=False)
    recalibrate_batch_norm(model, images)
    return model


def deep_net(classes: int, size: int, seed: int) -> Classifier:
    """Three conv blocks (16, 32, 32 channels) with batch norm and two 2x2 max pools, then GAP.

    Its receptive field covers the whole image at the chapter's sizes.
    """
    seed_everything(seed)
    return make_classifier("gap", classes, size, widths=(16, 32, 32), batch_norm=True)


def bag_net(head: str, classes: int, size: int, seed: int, width: int = 8) -> Classifier:
    """Three 3x3 convolutions with batch norm and no pooling (every feature sees 7 x 7 pixels), then a head.

    Args:
        head: ``"gap"``, ``"flatten"`` (built for ``size x size`` maps) or ``"spp"`` (levels 1, 2, 4).
        classes, size, seed: number of classes, input side, initialisation seed.
        width: channels of every convolution.
    """
    if head not in ("gap", "flatten", "spp"):
        raise ValueError(f"bag_net: expected head in ('gap', 'flatten', 'spp'), got {head!r}")
    seed_everything(seed)
    layers: list[nn.Module] = []
    channels = 1
    for _ in range(3):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    pool = SPPHead(width, classes, (1, 2, 4)) if head == "spp" else make_head(head, width, classes, size, size)
    return Classifier(nn.Sequential(*layers), pool)


def finetune_at_resolution(model: Classifier, images: torch.Tensor, labels: torch.Tensor, size: int,
                           seed: int, epochs: int = FINETUNE_EPOCHS) -> Classifier:
    r"""FixRes's step: a copy of ``model`` with only its head and batch-norm layers fine-tuned at ``size``.

    The training ``images`` are prepared as the test images are (here: digits of the test size) and resized
    to ``size``; the trunk's convolutions stay frozen, so only the classifier and the normalisation of the
    pooled statistics adapt (Touvron et al. 2019, section 3). Adam at lr :math:`10^{-3}`, batches of 32,
    then batch norm is recalibrated on the same images.
    """
    where = "finetune_at_resolution"
    _positive_int(size, "size", where)
    _positive_int(epochs, "epochs", where)
    tuned = copy.deepcopy(model)
    for parameter in tuned.parameters():
        parameter.requires_grad_(False)
    for module in tuned.modules():
        if isinstance(module, nn.BatchNorm2d) or module is tuned.head:
            for parameter in module.parameters():
                parameter.requires_grad_(True)
    seen = resize(images, size)
    # train_classifier's Adam skips the frozen parameters: they never receive a gradient
    train_classifier(tuned, seen, labels, epochs=epochs, batch_size=32, lr=1e-3, seed=seed, progress=False)
    recalibrate_batch_norm(tuned, seen)
    return tuned


def resolution_run(seed: int, epochs: int = EPOCHS, test_count: int = 500) -> dict[str, object]:
    r"""One seed of the apparent-object-size experiment, at one budget.

    Two deep GAP networks are trained at 16 px: ``matched`` on 8-px digits (the test digits' size) and
    ``zoomed`` on 11-px digits (random-resized-crop training in miniature). Both are tested on 8-px test
    digits resized to every size in :data:`SIZES`. The zoomed network is then adapted three ways, each
    scored on the same test digits: batch norm recalibrated at :data:`MATCHED_SIZE` on training digits of
    the test size (``zoomed_bn``), head and batch norm fine-tuned there (``zoomed_fixres``, FixRes), and
    the same fine-tuning at the training size 16 (``zoomed_ft16``: the same steps on the same images,
    without the change of resolution).

    Returns:
        ``matched_curve`` and ``zoomed_curve`` (accuracy at each of :data:`SIZES`), ``matched_train`` and
        ``zoomed_train`` (training accuracy, the fit criterion), ``zoomed_bn``, ``zoomed_fixres``,
        ``zoomed_ft16``, and the models (``models``: name -> network) for the notebook's figures.
    """
    where = "resolution_run"
    _positive_int(epochs, "epochs", where)
    test_images, test_labels = digits_on_canvas(test_count, TRAIN_SIZE, TEST_DIGIT, subset="test",
                                                seed=100 + seed)[:2]
    out: dict[str, object] = {}
    models = {}
    for name, digit in (("matched", TEST_DIGIT), ("zoomed", ZOOMED_DIGIT)):
        images, labels = digits_on_canvas(512, TRAIN_SIZE, digit, seed=seed)[:2]
        model = fit(deep_net(10, TRAIN_SIZE, seed), images, labels, seed, epochs)
        out[f"{name}_train"] = accuracy(model, images, labels)
        out[f"{name}_curve"] = [accuracy(model, resize(test_images, size), test_labels) for size in SIZES]
        models[name] = model
    # the same training digits, prepared as at test time: drawn at the test digits' size
    images, labels = digits_on_canvas(512, TRAIN_SIZE, TEST_DIGIT, seed=seed)[:2]
    recalibrated = copy.deepcopy(models["zoomed"])
    recalibrate_batch_norm(recalibrated, resize(images, MATCHED_SIZE))
    out["zoomed_bn"] = accuracy(recalibrated, resize(test_images, MATCHED_SIZE), test_labels)
    tuned = finetune_at_resolution(models["zoomed"], images, labels, MATCHED_SIZE, seed)
    out["zoomed_fixres"] = accuracy(tuned, resize(test_images, MATCHED_SIZE), test_labels)
    at_train_size = finetune_at_resolution(models["zoomed"], images, labels, TRAIN_SIZE, seed)
    out["zoomed_ft16"] = accuracy(at_train_size, test_images, test_labels)
    models["zoomed_fixres"] = tuned
    out["models"] = models
    return out


def padded_arrangements(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The arrangement task on 16 x 16 (8 empty rows between the parts) inside 3 px of noise: 22 x 22.

    The noise border keeps every part away from the zero padding, which would leak absolute position.
    The data are fixed by ``seed`` (not shifted by the audit's offset: the audit re-draws training).
    """
    images, labels, _ = part_arrangements(_positive_int(n, "n", "padded_arrangements"), 16, 8, seed=seed)
    padded = 0.1 * torch.randn(n, 1, 22, 22, generator=torch.Generator().manual_seed(seed))
    padded[:, :, 3:19, 3:19] = images
    return padded, labels


def arrangement_model(name: str, seed: int) -> Classifier:
    """One of :data:`ARRANGEMENT_HEADS`, for two classes on 22 x 22 images."""
    if name not in ARRANGEMENT_HEADS:
        raise ValueError(f"arrangement_model: expected one of {ARRANGEMENT_HEADS}, got {name!r}")
    if name == "deep trunk + GAP":
        return deep_net(2, 22, seed)
    return bag_net(name.split(" + ")[1].lower(), 2, 22, seed)


def arrangement_run(seed: int, epochs: int = EPOCHS) -> dict[str, object]:
    """One seed of the layout comparison and of the bag of local features, at one budget.

    Each of :data:`ARRANGEMENT_HEADS` is trained on 256 arrangements and tested on 1,000. A null arm,
    the SPP model trained on shuffled labels (``spp_shuffled``), shows what the test accuracy is when the
    labels carry nothing. On digits (8 px on 16 x 16, 10 classes), the local trunk with GAP and 16 channels
    is trained the same way (``bag_digits``).

    Returns:
        ``{name}`` test accuracy and ``{name} train`` training accuracy for each head, ``spp_shuffled``,
        ``bag_digits``, ``bag_digits_train``, and the models (``models``).
    """
    _positive_int(epochs, "epochs", "arrangement_run")
    images, labels = padded_arrangements(256, seed)
    test = padded_arrangements(1000, 100 + seed)
    out: dict[str, object] = {}
    models = {}
    for name in ARRANGEMENT_HEADS:
        model = fit(arrangement_model(name, seed), images, labels, seed, epochs)
        out[name], out[f"{name} train"] = accuracy(model, *test), accuracy(model, images, labels)
        models[name] = model
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(offset_seed(seed)))]
    model = fit(arrangement_model("local trunk + SPP", seed), images, shuffled, seed, epochs)
    out["spp_shuffled"] = accuracy(model, *test)
    digits, digit_labels = digits_on_canvas(512, TRAIN_SIZE, TEST_DIGIT, seed=seed)[:2]
    bag = fit(bag_net("gap", 10, TRAIN_SIZE, seed, width=16), digits, digit_labels, seed, epochs)
    test_digits = digits_on_canvas(500, TRAIN_SIZE, TEST_DIGIT, subset="test", seed=100 + seed)[:2]
    out["bag_digits"], out["bag_digits_train"] = accuracy(bag, *test_digits), accuracy(bag, digits, digit_labels)
    models["bag"] = bag
    out["models"] = models
    return out
