"""Write the landing page's chapter thumbnails from the outputs of a book build.

Each card of ``intro.md`` shows its chapter's key figure. The figure is taken from the outputs the book build
stored in its execution cache (``_build/.jupyter_cache``), so it is the figure the chapter shows, not a copy
drawn separately; it is shrunk to ``WIDTH`` pixels and written to ``_static/thumbnails/<chapter>.png``, a few
tens of kilobytes each. Run it after a build that changed a key figure, and commit the PNGs:

    .venv/bin/python tools/make_thumbnails.py [path/to/_build/.jupyter_cache]

The cache is there after a build with ``execute_notebooks: cache`` (``force`` executes without storing).
The key figure is the cell whose ``mystnb.figure.name`` is listed in ``KEY_FIGURES``; a chapter not listed
there (or whose figure was renamed) uses its first named figure, and a chapter with none its first image.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import nbformat
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_static" / "thumbnails"
WIDTH = 480  # two device pixels per CSS pixel for a card about 240 px wide (three cards a row on a desktop)
KEY_FIGURES = {
    "01_mechanism": "fig-noise-law",
    "02_inductive_bias": "fig-left-right",
    "03_regularization": "fig-learning-curve",
    "04_training_dynamics": "fig-bn-budget",
    "05_cam": "fig-cam-distractor",
    "06_limitations": "fig-dilution",
    "07_foundational_cnns": "fig-nin-class-maps",
    "08_attention": "fig-attention-accuracy",
    "09_beyond_images": "fig-motif-cam",
    "10_tokens": "fig-token-maps",
    "11_any_size": "fig-bag-evidence",
}


def _png(cell: nbformat.NotebookNode) -> bytes | None:
    for output in reversed(cell.get("outputs", [])):
        data = output.get("data", {}).get("image/png")
        if data:
            return base64.b64decode(data)
    return None


def key_figure(notebook: nbformat.NotebookNode, name: str | None) -> bytes:
    """The PNG of the cell named ``name``, else of the first named figure, else the first image at all."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and _png(c)]
    if not cells:
        raise ValueError("key_figure: expected a notebook with at least one PNG output (executed?), got none")

    def figure_name(cell: nbformat.NotebookNode) -> str | None:
        return (cell.metadata.get("mystnb", {}).get("figure") or {}).get("name")

    chosen = next((c for c in cells if name and figure_name(c) == name), None)
    chosen = chosen or next((c for c in cells if figure_name(c)), cells[0])
    return _png(chosen)


def thumbnail(png: bytes, width: int = WIDTH) -> bytes:
    """``png`` shrunk to ``width`` pixels wide (never enlarged), as an optimised palette PNG."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main(cache_path: Path) -> list[Path]:
    from jupyter_cache import get_cache

    cache = get_cache(cache_path)
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        try:
            _, notebook = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            print(f"{path.relative_to(ROOT)}: not in the cache (changed since the build?), thumbnail kept")
            continue
        target = OUT / f"{path.stem}.png"
        target.write_bytes(thumbnail(key_figure(notebook, KEY_FIGURES.get(path.stem))))
        written.append(target)
        print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KiB")
    return written


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / ".jupyter_cache")
