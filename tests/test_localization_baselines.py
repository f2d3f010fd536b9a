"""The CAM chapter's fit criterion, MaxBoxAcc, and the class-aware baselines (occlusion, template matching)."""

import numpy as np
import pytest
import torch
from torch import nn

import gaplib
from gaplib import localization as loc
from gaplib.data import digits_on_canvas
from gaplib.models import make_classifier
from gaplib.train import accuracy, train_classifier

TARGET = torch.tensor([[1, 1, 4, 4], [1, 1, 4, 4]])


def _halo_maps() -> torch.Tensor:
    maps = torch.zeros(2, 16, 16)
    maps[:, 0:6, 0:6] = 0.3           # a halo around the object, 30% of the peak
    maps[:, 1:4, 1:4] = 1.0
    return maps


def test_max_box_accuracy_takes_the_best_threshold_at_each_iou():
    thresholds = np.array([0.2, 0.5])
    curves = loc.box_accuracy_curves(_halo_maps(), TARGET, thresholds, (0.2, 0.5))
    # the halo's 6 x 6 box has IoU 9/36 with the 3 x 3 target: a hit at IoU 0.2, a miss at 0.5
    assert curves.tolist() == [[1.0, 1.0], [0.0, 1.0]]
    assert loc.max_box_accuracy(_halo_maps(), TARGET, thresholds, (0.2, 0.5)).tolist() == [1.0, 1.0]
    assert loc.max_box_accuracy(_halo_maps(), TARGET, thresholds[:1], (0.2, 0.5)).tolist() == [1.0, 0.0]
    at_half = loc.box_accuracy_curves(_halo_maps(), TARGET, thresholds, (0.5,))[0]
    assert at_half.tolist() == loc.box_accuracy_by_threshold(_halo_maps(), TARGET, thresholds).tolist()
    with pytest.raises(ValueError, match="IoU thresholds"):
        loc.max_box_accuracy(_halo_maps(), TARGET, thresholds, (0.0, 0.5))


def test_fixed_box_accuracy_and_peak_boxes():
    assert loc.fixed_box_accuracy(TARGET, TARGET).tolist() == [1.0, 1.0, 1.0]
    shifted = TARGET + torch.tensor([1, 0, 1, 0])          # IoU 6/12 = 0.5
    assert loc.fixed_box_accuracy(shifted, TARGET, (0.3, 0.5, 0.7)).tolist() == [1.0, 1.0, 0.0]
    maps = torch.zeros(2, 10, 12)
    maps[0, 5, 6] = 1.0
    maps[1, 0, 11] = 1.0                                    # a peak in the corner: the box moves inside
    boxes = loc.peak_boxes(maps, (4, 2))
    assert boxes.tolist() == [[4, 4, 8, 6], [8, 0, 12, 2]]
    with pytest.raises(ValueError, match="does not fit"):
        loc.peak_boxes(maps, (13, 2))


class _RegionSum(nn.Module):
    """Logit k = the sum of the pixels in region k: occlusion must find exactly that region."""

    def __init__(self) -> None:
        super().__init__()
        self.regions = torch.zeros(2, 12, 12)
        self.regions[0, 0:4, 0:4] = 1.0
        self.regions[1, 8:12, 8:12] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nchw,khw->nk", x, self.regions)


def test_occlusion_finds_the_pixels_the_class_logit_reads():
    images = torch.ones(2, 1, 12, 12)
    maps = loc.occlusion_maps(_RegionSum(), images, torch.tensor([0, 1]), patch=4, stride=2)
    assert maps.shape == (2, 12, 12)
    assert maps[0, :4, :4].min() > 0 and maps[0, 6:, 6:].abs().max() == 0
    assert maps[1, 8:, 8:].min() > 0 and maps[1, :6, :6].abs().max() == 0
    # a pixel covered only by the patch flush with the corner loses all 16 pixels of the region
    assert maps[0, 0, 0].item() == pytest.approx(16.0)
    with pytest.raises(ValueError, match="one class per image"):
        loc.occlusion_maps(_RegionSum(), images, torch.tensor([0]))
    with pytest.raises(ValueError, match="patch"):
        loc.occlusion_maps(_RegionSum(), images, torch.tensor([0, 1]), patch=13)


def test_template_matching_peaks_where_the_class_mean_digit_sits():
    templates = loc.class_templates(8)
    assert templates.shape == (10, 8, 8) and templates.min() >= 0 and templates.max() <= 1
    canvas = torch.zeros(1, 1, 20, 20)
    canvas[0, 0, 9:17, 4:12] = templates[3]                # the window's top-left corner at (row 9, col 4)
    maps = loc.template_maps(canvas, templates, torch.tensor([3]))
    assert maps.shape == (1, 20, 20) and maps.abs().max() <= 1 + 1e-5
    assert maps.max().item() == pytest.approx(1.0, abs=1e-5)
    # the window is centred as conv2d's padding="same" centres an even one: 3 pixels before, 4 after
    assert divmod(int(maps[0].argmax()), 20) == (12, 7)
    with pytest.raises(ValueError, match="one input channel"):
        loc.template_maps(canvas.repeat(1, 2, 1, 1), templates, torch.tensor([3]))


def test_class_mean_templates_tell_the_classes_apart():
    templates = loc.class_templates(8)
    canvases, labels, _ = digits_on_canvas(100, 20, 8, seed=0)
    best = torch.stack([loc.template_maps(canvases, templates, torch.full((100,), k)).flatten(1).amax(1)
                        for k in range(10)], dim=1).argmax(dim=1)
    assert (best == labels).float().mean() > 0.6           # chance is 0.1


def test_train_to_fit_stops_at_the_criterion_and_replays_train_classifier():
    images, labels, _ = digits_on_canvas(200, 8, 8, noise=0.0, seed=0)
    gaplib.seed_everything(0)
    model = make_classifier("gap", 10, 8, widths=(8, 16), batch_norm=True)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    epochs = loc.train_to_fit(model, images, labels, target=0.5, max_epochs=30, seed=3)
    assert accuracy(model, images, labels) >= 0.5
    twin = make_classifier("gap", 10, 8, widths=(8, 16), batch_norm=True)
    twin.load_state_dict(start)
    train_classifier(twin, images, labels, epochs=epochs, seed=3, progress=False)
    weights = [k for k in start if "running" not in k and "num_batches" not in k]
    assert all(torch.allclose(model.state_dict()[k], twin.state_dict()[k], atol=1e-6) for k in weights)
    with pytest.raises(RuntimeError, match="after 1 epochs"):
        loc.train_to_fit(make_classifier("gap", 10, 8, widths=(4,)), images, labels, target=1.0,
                         max_epochs=1)
    with pytest.raises(ValueError, match="target"):
        loc.train_to_fit(model, images, labels, target=1.5)
