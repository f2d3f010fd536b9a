"""Glue between the notebooks and the rendered book, usable where the book's tooling is absent (Colab).

myst-nb's ``glue`` stores a computed value in the notebook so that the prose can quote it
(``{glue:text}`name:.3f```) instead of a number typed by hand.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's prose.

    It returns nothing, so a cell that ends with ``glue(...)`` prints no stray number on the page.

    NumPy and torch scalars are stored as plain Python numbers: the book formats ``{glue:text}`x:.3f``` from
    the stored text, and NumPy 2 would store ``np.float64(0.5)``, which no format spec can read. Outside the
    book (no myst-nb installed, as in Colab) it does nothing.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"glue: expected a name made of letters, digits and underscores, got {name!r}")
    if getattr(value, "shape", None) == () or getattr(value, "ndim", None) == 0:
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> Any:
    """A table as a cell's output, rendered the same in Jupyter, Colab and the book.

    The book renders a ``text/markdown`` output as CommonMark, which has no tables, so a Markdown table would
    show as rows of pipes; an HTML table renders everywhere. Cells are escaped: pass plain text.

    Args:
        header: the column titles.
        rows: one sequence of cells per row, each as long as ``header``; cells are formatted with ``str``.
        align: one letter per column, ``"l"`` (text) or ``"r"`` (numbers); default all left.
    Returns:
        An ``IPython.display.HTML`` object (let it be the cell's last expression).
    """
    from IPython.display import HTML

    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"table: expected align to be {len(header)} letters 'l' or 'r', got {align!r}")
    for index, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"table: row {index} has {len(row)} cells, expected {len(header)} like the header")
    sides = {"l": "left", "r": "right"}

    def cells(tag: str, values: Sequence[Any]) -> str:
        return "".join(f'<{tag} style="text-align: {sides[a]}">{html.escape(str(v))}</{tag}>'
                       for a, v in zip(align, values, strict=True))

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return HTML(f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>")
