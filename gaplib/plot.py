"""Figures in the book's house style: perceptual colormaps, labelled axes, a title that states the finding.

Alt text for a figure lives in the notebook cell's metadata (``mystnb.image.alt``), where the book reads it.

Importing ``gaplib`` calls :func:`use_high_density`: in a notebook, figures then come out as PNGs with twice
the pixels of their displayed size (IPython's "retina" format), sharp on high-density screens, while the page
still lays them out at ``figure.dpi`` CSS pixels per inch, so a 7 in wide figure fills the ~670 px column.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

FIGURE_DPI = 100  # CSS pixels per figure inch on the page: figsize (7, 4) is laid out 700 px wide
DENSITY = 2  # PNG pixels per CSS pixel: 200 dpi in the file
PERCEPTUAL_CMAPS = ("viridis", "cividis", "magma", "inferno", "plasma", "gray", "Greys", "RdBu_r", "PuOr_r")
TRUE_BOX_COLOR = "#0072B2"  # Okabe-Ito blue and vermillion: distinguishable with every common colour blindness
PRED_BOX_COLOR = "#D55E00"


def use_high_density() -> bool:
    """Render notebook figures at ``DENSITY`` times their displayed resolution; the same layout as before.

    Sets ``figure.dpi`` to ``FIGURE_DPI`` and ``savefig.dpi`` to ``FIGURE_DPI * DENSITY`` (files written with
    ``savefig``), and, inside IPython, switches the inline backend to the "retina" format: each figure is
    rendered at ``2 * figure.dpi`` with its display size, half the pixel size, in the output's metadata,
    which the book writes as the image's width and height. Notebooks never set dpi themselves. In a Jupyter
    kernel whose backend is the non-interactive Agg (no figure would show) it warns.

    Returns:
        True when an IPython shell was found and its figure format set, False elsewhere (scripts, tests).
    """
    plt.rcParams["figure.dpi"] = FIGURE_DPI
    plt.rcParams["savefig.dpi"] = FIGURE_DPI * DENSITY
    try:
        from IPython import get_ipython
        from matplotlib_inline.config import InlineBackend
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if getattr(shell, "kernel", None) is not None and plt.get_backend().lower() == "agg":
        # MPLBACKEND=Agg, right for scripts and tests, reaches notebook kernels too when it is exported, and
        # there plt.show() draws nothing: a book built that way has no figures. Say so (on stderr, which the
        # book build reports as a warning) rather than switching backends behind the notebook's back.
        warnings.warn("matplotlib's backend is Agg in this notebook kernel (MPLBACKEND=Agg in the "
                      "environment?): figures will not be shown; unset MPLBACKEND to build the book",
                      RuntimeWarning, stacklevel=2)
    # The backend reads this setting when it is first activated, and applies it at once if it already is.
    InlineBackend.instance(parent=shell).figure_formats = {"retina"}
    return True


def _check_cmap(cmap: str) -> str:
    if cmap not in PERCEPTUAL_CMAPS:
        raise ValueError(f"expected a perceptual colormap, one of {PERCEPTUAL_CMAPS}, got {cmap!r}")
    return cmap


def _as_image(x: torch.Tensor | np.ndarray) -> np.ndarray:
    image = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    image = np.squeeze(image)
    if image.ndim != 2:
        raise ValueError(f"expected one 2-D map (H, W) (singleton dims allowed), got shape {np.shape(x)}")
    return image


def show_maps(maps: Sequence[torch.Tensor | np.ndarray], titles: Sequence[str] | None = None,
              cmap: str = "viridis", colorbar_label: str | None = None, suptitle: str | None = None,
              size: float = 2.4) -> Figure:
    """Maps side by side, one panel each, axes in pixels, optionally with a shared colour scale label."""
    _check_cmap(cmap)
    fig, axes = plt.subplots(1, len(maps), figsize=(size * len(maps), size + 0.4), squeeze=False,
                             constrained_layout=True)
    for index, (ax, m) in enumerate(zip(axes[0], maps, strict=True)):
        shown = ax.imshow(_as_image(m), cmap=cmap)
        ax.set_xlabel("column j (px)")
        ax.set_ylabel("row i (px)" if index == 0 else "")
        if titles is not None:
            ax.set_title(titles[index], fontsize=9)
        if colorbar_label is not None:
            fig.colorbar(shown, ax=ax, shrink=0.8, label=colorbar_label if index == len(maps) - 1 else None)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def draw_box(ax: Axes, box: Sequence[int] | torch.Tensor, color: str = TRUE_BOX_COLOR, label: str | None = None,
             linestyle: str = "-") -> None:
    """Outline a box ``(x0, y0, x1, y1)`` (ends exclusive) on an ``imshow`` axis."""
    x0, y0, x1, y1 = (float(v) for v in box)
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color, linewidth=2,
                           linestyle=linestyle, label=label))


def overlay_cam(ax: Axes, image: torch.Tensor | np.ndarray, cam: torch.Tensor | np.ndarray,
                true_box: Sequence[int] | None = None, cam_box: Sequence[int] | None = None,
                cmap: str = "magma", alpha: float = 0.55) -> None:
    """A grey input with a CAM on top (already upsampled to the input size), and optional boxes."""
    _check_cmap(cmap)
    ax.imshow(_as_image(image), cmap="gray")
    ax.imshow(_as_image(cam), cmap=cmap, alpha=alpha)
    if true_box is not None:
        draw_box(ax, true_box, TRUE_BOX_COLOR, "true box")
    if cam_box is not None:
        draw_box(ax, cam_box, PRED_BOX_COLOR, "CAM box", linestyle="--")
    ax.set_xticks([])
    ax.set_yticks([])
