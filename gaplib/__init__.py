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

try:  # the version is written once, in pyproject.toml; an installed gaplib reads it from its metadata
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("gaplib")
except PackageNotFoundError:  # a source checkout on sys.path that was never installed
    __version__ = "0+unknown"
