"""Live explorers for the notebooks, written against the API that ipywidgets 7 and 8 share.

Colab ships ipywidgets 7.7 and a local Jupyter usually has 8. Only ``interactive`` and the basic sliders and
dropdowns are used here: their signatures are the same in both, so the same cell runs in either.

The book build sets ``GAPLIB_STATIC_WIDGETS=1`` (Makefile). There the controls are plain settings with a
``value`` and ``explorer`` draws nothing: the book removes the explorer cells anyway, and a notebook executor
can wait for ever on a cell that opens widget comms (jupyter/nbclient#312), which hung the book build on this
machine in two builds out of three.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import SimpleNamespace

import ipywidgets as widgets

IPYWIDGETS_MAJOR = int(widgets.__version__.split(".")[0])


def _live() -> bool:
    return os.environ.get("GAPLIB_STATIC_WIDGETS") != "1"


def _widget(kind: type, **settings: object) -> object:
    """The widget, or, in a static build, a plain record of its settings (no comm is opened)."""
    return kind(**settings) if _live() else SimpleNamespace(**settings)


def int_slider(description: str, min: int, max: int, value: int | None = None, step: int = 1) -> widgets.IntSlider:
    """An integer slider that updates on release, so a slow redraw does not queue up while dragging."""
    if min > max:
        raise ValueError(f"int_slider: expected min <= max, got min={min}, max={max}")
    return _widget(widgets.IntSlider, value=min if value is None else value, min=min, max=max, step=step,
                   description=description, continuous_update=False)


def float_slider(description: str, min: float, max: float, value: float | None = None,
                 step: float = 0.01) -> widgets.FloatSlider:
    """A float slider that updates on release."""
    if min > max:
        raise ValueError(f"float_slider: expected min <= max, got min={min}, max={max}")
    return _widget(widgets.FloatSlider, value=min if value is None else value, min=min, max=max, step=step,
                   description=description, continuous_update=False)


def dropdown(description: str, options: Sequence, value: object = None) -> widgets.Dropdown:
    """A dropdown over ``options`` (values, or ``(label, value)`` pairs)."""
    if len(options) == 0:
        raise ValueError("dropdown: expected at least one option, got none")
    first = options[0][1] if isinstance(options[0], tuple) else options[0]
    return _widget(widgets.Dropdown, options=list(options), value=first if value is None else value,
                   description=description)


def explorer(update: Callable[..., None], **controls: widgets.Widget) -> widgets.VBox | None:
    """Controls above the output of ``update(**values)``, which redraws whenever a control changes.

    ``update`` draws with matplotlib and calls ``plt.show()``; the returned box is what the cell displays.
    In a static build (``GAPLIB_STATIC_WIDGETS=1``) it returns None and draws nothing.
    """
    if not controls:
        raise ValueError("explorer: expected at least one control, got none")
    if not _live():
        return None
    return widgets.interactive(update, **controls)


def static_view(update: Callable[..., object], **controls: object) -> object:
    """Draw an explorer once, at its default settings: the figure the book shows in place of the live one.

    ``controls`` are the same keyword arguments that :func:`explorer` receives: each widget stands for its
    current ``value`` (its default, before anyone moves it); a plain value is passed as it is. Defining the
    controls once and passing them to both functions keeps the static figure and the live explorer's first
    frame identical::

        controls = {"side": int_slider("side (px)", 2, 48, 16)}
        static_view(show_noise, **controls)   # visible cell (tag hide-input)
        explorer(show_noise, **controls)      # live cell (tag remove-cell)

    Returns:
        Whatever ``update`` returns (usually None: it draws and calls ``plt.show()``).
    """
    if not callable(update):
        raise TypeError(f"static_view: expected a drawing function, got {type(update).__name__}")
    if not controls:
        raise ValueError("static_view: expected at least one setting, got none")
    values = {name: control.value if isinstance(control, (widgets.ValueWidget, SimpleNamespace)) else control
              for name, control in controls.items()}
    return update(**values)
