"""gaplib: the small library behind "Global Average Pooling, executable".

The operations the book is about sit at the top level; everything else lives in one module per concept:
``pooling``, ``heads``, ``models``, ``attention``, ``data``, ``cam``, ``train``, ``plot``, ``widgets``,
``checks``, ``book``.
"""

from gaplib import attention, cam, checks, data, heads, models, pooling, train
from gaplib.cam import class_activation_maps
from gaplib.pooling import gem_pool, global_avg_pool, global_max_pool
from gaplib.train import get_device, seed_everything

__all__ = [
    "attention", "cam", "checks", "data", "heads", "models", "pooling", "train",
    "class_activation_maps", "gem_pool", "global_avg_pool", "global_max_pool", "get_device", "seed_everything",
]
__version__ = "0.1.0"

# Figures in notebooks at twice the resolution of their size on the page (gaplib.plot.use_high_density).
from gaplib import plot as _plot  # noqa: E402

_plot.use_high_density()
