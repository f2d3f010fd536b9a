"""High-density figures (gaplib.plot.use_high_density) and the static view of an explorer (gaplib.widgets)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

import gaplib  # noqa: F401  (importing gaplib sets the figure resolution)
from gaplib import plot, widgets


def test_importing_gaplib_sets_high_density_figures() -> None:
    assert plt.rcParams["figure.dpi"] == plot.FIGURE_DPI
    assert plt.rcParams["savefig.dpi"] >= 150
    assert plot.use_high_density() is False  # no IPython shell under pytest: only matplotlib's settings


def test_high_density_sets_the_inline_backend_to_retina(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.testing.globalipapp import get_ipython
    from matplotlib_inline.config import InlineBackend

    shell = get_ipython()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    assert plot.use_high_density() is True
    assert InlineBackend.instance(parent=shell).figure_formats == {"retina"}


def test_static_view_draws_once_with_the_controls_defaults() -> None:
    calls = []
    side = widgets.int_slider("side", 2, 48, 16, step=2)
    length = widgets.float_slider("length", 0.0, 4.0, 1.0)
    mode = widgets.dropdown("mode", [("mean", "gap"), ("max", "gmp")])
    result = widgets.static_view(lambda **kw: calls.append(kw) or "drawn", side=side, length=length, mode=mode,
                                 title="plain value")
    assert result == "drawn"
    assert calls == [{"side": 16, "length": 1.0, "mode": "gap", "title": "plain value"}]


def test_static_view_refuses_bad_input() -> None:
    with pytest.raises(TypeError, match="drawing function"):
        widgets.static_view("not a function", side=1)
    with pytest.raises(ValueError, match="at least one setting"):
        widgets.static_view(lambda: None)


def test_a_static_build_opens_no_widget_and_draws_the_same_first_frame(monkeypatch):
    """The book build (GAPLIB_STATIC_WIDGETS=1) gets plain settings: no comm, so no executor can hang on one."""
    import ipywidgets

    from gaplib import widgets as gw

    drawn = []
    monkeypatch.setenv("GAPLIB_STATIC_WIDGETS", "1")
    controls = {"side": gw.int_slider("side", 2, 48, 16), "p": gw.float_slider("p", 1.0, 9.0, 3.0),
                "kind": gw.dropdown("kind", [("a", 1), ("b", 2)])}
    assert not any(isinstance(c, ipywidgets.Widget) for c in controls.values())
    assert gw.explorer(lambda **v: drawn.append(v), **controls) is None and drawn == []
    gw.static_view(lambda **v: drawn.append(v), **controls)
    assert drawn == [{"side": 16, "p": 3.0, "kind": 1}]
    with pytest.raises(ValueError, match="min <= max"):
        gw.int_slider("side", 5, 2)
    monkeypatch.delenv("GAPLIB_STATIC_WIDGETS")
    live = gw.int_slider("side", 2, 48, 16)
    assert isinstance(live, ipywidgets.IntSlider) and live.value == 16
