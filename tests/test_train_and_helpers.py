"""Training helpers, seeding, plotting, widgets and glue."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from gaplib import book, plot, widgets
from gaplib.data import digits_on_canvas
from gaplib.models import make_classifier
from gaplib.train import accuracy, get_device, predict, recalibrate_batch_norm, seed_everything, train_classifier


def _train_once(seed):
    seed_everything(seed)
    images, labels, _ = digits_on_canvas(256, canvas_size=16, digit_size=8, classes=(0, 1), seed=seed)
    model = make_classifier("gap", 2, 16, widths=(8, 16))
    losses = train_classifier(model, images, labels, epochs=8, batch_size=32, lr=1e-2, seed=seed, progress=False)
    return model, images, labels, losses


def test_training_learns_an_easy_task_and_is_reproducible():
    model, images, labels, losses = _train_once(0)
    assert losses[-1] < losses[0]
    assert accuracy(model, images, labels) > 0.8
    _, _, _, again = _train_once(0)
    assert np.allclose(losses, again)
    assert predict(model, images).shape == labels.shape


def test_training_checks_its_data():
    model = make_classifier("gap", 2, 8, widths=(4,))
    with pytest.raises(ValueError, match=r"labels \(N,\)"):
        train_classifier(model, torch.rand(4, 1, 8, 8), torch.zeros(3, dtype=torch.long), progress=False)
    with pytest.raises(TypeError, match="seed to be an int"):
        seed_everything("0")
    with pytest.raises(ValueError, match="positive int or None"):
        seed_everything(0, threads=0)


def test_seed_everything_pins_one_thread_by_default():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        seed_everything(0)
        assert torch.get_num_threads() == 1
        seed_everything(0, threads=None)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_device_is_cpu_or_cuda():
    assert get_device().type in {"cpu", "cuda"}


def test_glue_stores_plain_python_numbers_and_returns_nothing(monkeypatch):
    import myst_nb

    stored = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: stored.update({name: value}))
    assert book.glue("ratio", np.float64(0.5)) is None     # a cell ending in glue(...) prints nothing
    book.glue("count", torch.tensor(3))
    assert stored == {"ratio": 0.5, "count": 3}
    assert type(stored["ratio"]) is float and type(stored["count"]) is int
    with pytest.raises(ValueError, match="letters, digits"):
        book.glue("not a name", 1)


def test_plots_refuse_rainbow_colormaps_and_draw_labelled_axes():
    with pytest.raises(ValueError, match="perceptual colormap"):
        plot.show_maps([np.zeros((3, 3))], cmap="jet")
    fig = plot.show_maps([np.zeros((3, 3)), torch.ones(1, 3, 3)], titles=["a", "b"], colorbar_label="activation")
    assert fig.axes[0].get_xlabel() == "column j (px)"
    fig_overlay, ax = plt.subplots()
    plot.overlay_cam(ax, np.zeros((8, 8)), np.ones((8, 8)), true_box=(1, 1, 4, 4), cam_box=(2, 2, 5, 5))
    assert len(ax.patches) == 2
    plt.close("all")


def test_widgets_build_on_this_ipywidgets():
    assert widgets.IPYWIDGETS_MAJOR in (7, 8)
    seen = []
    box = widgets.explorer(lambda size, name: seen.append((size, name)),
                           size=widgets.int_slider("size", 1, 5, 2), name=widgets.dropdown("name", ["a", "b"]))
    assert isinstance(box, ipywidgets.interactive)
    box.children[0].value = 4
    assert seen[-1] == (4, "a")
    with pytest.raises(ValueError, match="min <= max"):
        widgets.float_slider("x", 2.0, 1.0)


def test_recalibrated_batch_norm_holds_the_exact_statistics_of_the_data():
    seed_everything(0)
    model = make_classifier("gap", 3, 12, widths=(4, 6), batch_norm=True)
    images = 2.0 + torch.randn(40, 1, 12, 12)
    weights_before = [p.clone() for p in model.parameters()]
    assert recalibrate_batch_norm(model, images, batch_size=40) == 2
    assert not model.training
    first = model.trunk[1]
    conv_out = model.trunk[0](images)
    assert torch.allclose(first.running_mean, conv_out.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(first.running_var, conv_out.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4)
    assert first.momentum == 0.1  # restored for any later training
    assert all(torch.equal(a, b) for a, b in zip(weights_before, model.parameters(), strict=True))
    # a model without batch norm is left alone
    assert recalibrate_batch_norm(make_classifier("gap", 3, 12, widths=(4,)), images) == 0
    with pytest.raises(ValueError, match="at least one image"):
        recalibrate_batch_norm(model, images[:0])


def test_recalibration_removes_the_train_eval_gap_of_a_short_run():
    seed_everything(0)
    images, labels, _ = digits_on_canvas(200, canvas_size=16, digit_size=8, classes=(0, 1, 2), seed=0)
    model = make_classifier("gap", 3, 16, widths=(8, 16), batch_norm=True)
    train_classifier(model, images, labels, epochs=6, batch_size=32, lr=1e-2, seed=0, progress=False)
    model.train()
    with torch.no_grad():
        train_mode = (model(images).argmax(1) == labels).float().mean().item()
    recalibrate_batch_norm(model, images)
    assert abs(accuracy(model, images, labels) - train_mode) < 0.05
