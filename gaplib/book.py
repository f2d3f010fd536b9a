"""Glue between the notebooks and the rendered book, usable where the book's tooling is absent (Colab).

myst-nb's ``glue`` stores a computed value in the notebook so that the prose can quote it
(``{glue:text}`name:.3f```) instead of a number typed by hand.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, display: bool = False) -> Any:
    """Store ``value`` under ``name`` for the book's prose; return it unchanged.

    NumPy and torch scalars are stored as plain Python numbers: the book formats ``{glue:text}`x:.3f``` from
    the stored text, and NumPy 2 would store ``np.float64(0.5)``, which no format spec can read. Outside the
    book (no myst-nb installed, as in Colab) the value is still returned, so cells behave the same.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"glue: expected a name made of letters, digits and underscores, got {name!r}")
    if getattr(value, "shape", None) == () or getattr(value, "ndim", None) == 0:
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=display)
    return value
