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
from gaplib.train import accuracy, get_device, predict, seed_everything, train_classifier


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


def test_device_is_cpu_or_cuda():
    assert get_device().type in {"cpu", "cuda"}


def test_glue_returns_plain_python_numbers():
    assert book.glue("ratio", np.float64(0.5)) == 0.5 and type(book.glue("ratio", np.float64(0.5))) is float
    assert type(book.glue("count", torch.tensor(3))) is int
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
