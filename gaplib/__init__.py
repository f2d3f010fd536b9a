"""gaplib: the small library behind "Global Average Pooling, executable".

The operations the book is about sit at the top level; everything else lives in one module per concept:

- ``pooling``: GAP, global max pooling, GeM, pooled statistics, graph readouts;
- ``heads`` and ``models``: classifier heads and the small CNNs built on them;
- ``attention``: channel and spatial attention (squeeze-and-excitation and its kin);
- ``tokens``: a tiny vision transformer with interchangeable token readouts, and the token CAM;
- ``pyramid``: spatial pyramid pooling, between GAP and flatten, for inputs of any size;
- ``cam`` and ``localization``: class activation maps, their boxes, and class-specific localisation scores;
- ``data``: the seeded data sets (scikit-learn digits on canvases, textures, signals, sentences, sets);
- ``train``: seeding (with the audit's seed offset), training and evaluation;
- ``invariance``, ``dynamics`` and ``anysize``: the experiments of chapters 2, 4 and 11 that a notebook and its
  recorded sweep both run (shift flips on correctly classified digits, accuracy at several budgets, apparent
  object size and FixRes's fine-tuning step);
- ``stats`` and ``evidence``: the book's rule for comparative claims (paired seeds, a t interval or a sign test)
  and the recorded many-seed sweeps the chapters assert their claims on;
- ``plot``, ``widgets`` and ``book``: figures, the live explorers and glued numbers for the pages;
- ``checks``: the exercises' checkers, one module per exercise.
"""

from gaplib import attention, cam, checks, data, heads, models, pooling, train
from gaplib.cam import class_activation_maps
from gaplib.pooling import gem_pool, global_avg_pool, global_max_pool
from gaplib.train import get_device, seed_everything

__all__ = [
    "attention", "cam", "checks", "data", "heads", "models", "pooling", "train",
    "class_activation_maps", "gem_pool", "global_avg_pool", "global_max_pool", "get_device", "seed_everything",
]

try:  # the version is written once, in pyproject.toml; an installed gaplib reads it from its metadata
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("gaplib")
except PackageNotFoundError:  # a source checkout on sys.path that was never installed
    __version__ = "0+unknown"

# Figures in notebooks at twice the resolution of their size on the page (gaplib.plot.use_high_density).
from gaplib import plot as _plot  # noqa: E402

_plot.use_high_density()
