"""Automatic checks for the exercises: a one-line confirmation when an answer is right, a precise hint when not.

One module per exercise, beside its reference. Each checker calls the student's function on inputs chosen to
tell mistakes apart (non-square maps, 1 to 3 spatial dims, size-1 dims, float64, values exactly at a threshold,
empty graphs), checks that the inputs come back unchanged and, where the book trains the layer, that gradients
flow. A failure raises :class:`CheckFailed`, an ``AssertionError`` whose message says what is wrong and on
which input, never the solution; Jupyter and Colab show that message alone, without a traceback. A crash of
the student's function is explained the same way. gaplib's own implementation is refused.
"""

from gaplib.checks._core import CheckFailed
from gaplib.checks.blind_pair import check_gap_blind_pair
from gaplib.checks.cam import check_class_activation_maps
from gaplib.checks.cam_box import check_box_iou, check_cam_to_box
from gaplib.checks.gap import check_global_avg_pool
from gaplib.checks.gem import check_gem_p_for_max, check_gem_pool
from gaplib.checks.head_cost import check_head_cost
from gaplib.checks.noise import check_pooled_noise_variance
from gaplib.checks.readout import check_graph_readout
from gaplib.checks.se import check_squeeze_excite
from gaplib.checks.texture import check_texture_statistic
from gaplib.checks.tokens import check_token_class_maps

__all__ = [
    "CheckFailed", "check_box_iou", "check_cam_to_box", "check_class_activation_maps", "check_gap_blind_pair",
    "check_gem_p_for_max", "check_gem_pool", "check_global_avg_pool", "check_graph_readout", "check_head_cost",
    "check_pooled_noise_variance", "check_squeeze_excite", "check_texture_statistic", "check_token_class_maps",
]
