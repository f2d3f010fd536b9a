r"""Global pooling: collapse each channel's spatial map to one number.

All functions take feature maps ``x`` of shape ``(N, C, *spatial)`` with 1 to 3 spatial dims (a signal,
an image, a volume) and return ``(N, C)``; the exceptions say so (``statistics_pool`` keeps ``k`` numbers per
channel of an image, ``graph_readout`` pools nodes). Notation as in the book: :math:`F_c(i, j)` is channel
``c`` at position ``(i, j)`` of an ``H x W`` map.
"""

from __future__ import annotations

import torch

from gaplib._validate import require_float, require_tensor, spatial_dims


def global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    r"""Global average pooling (GAP): the mean of each channel over all positions.

    .. math:: \bar F_c = \frac{1}{HW} \sum_{i=1}^{H} \sum_{j=1}^{W} F_c(i, j)

    Args:
        x: feature maps ``(N, C, *spatial)``, 1 to 3 spatial dims.
    Returns:
        ``(N, C)``, same dtype as ``x``; differentiable, each position receives gradient ``1/(HW)``.

    Example:
        >>> global_avg_pool(torch.ones(2, 3, 4, 5)).shape
        torch.Size([2, 3])
    """
    dims = spatial_dims(x, "global_avg_pool")
    return x.mean(dim=dims)


def global_max_pool(x: torch.Tensor) -> torch.Tensor:
    r"""Global max pooling (GMP): the largest activation of each channel.

    .. math:: \hat F_c = \max_{i, j} F_c(i, j)

    The whole upstream gradient goes to the arg-max position; every other position gets zero.

    Args:
        x: feature maps ``(N, C, *spatial)``, 1 to 3 spatial dims.
    Returns:
        ``(N, C)``, same dtype as ``x``.
    """
    dims = spatial_dims(x, "global_max_pool")
    return x.amax(dim=dims)


def gem_pool(x: torch.Tensor, p: float | torch.Tensor = 3.0, eps: float = 1e-6) -> torch.Tensor:
    r"""Generalized-mean (GeM) pooling, Radenović et al. 2018.

    .. math:: \tilde F_c = \Big( \frac{1}{HW} \sum_{i, j} \max(F_c(i, j), \varepsilon)^p \Big)^{1/p}

    ``p = 1`` is GAP (on activations above ``eps``); as ``p`` grows the result tends to GMP. The clamp
    keeps fractional powers of negative numbers out, so GeM expects non-negative (post-ReLU) features.

    Args:
        x: feature maps ``(N, C, *spatial)``, 1 to 3 spatial dims.
        p: the exponent, a positive number or a positive scalar tensor (learnable in :class:`gaplib.heads.GeMHead`).
        eps: the floor applied before the power.
    Returns:
        ``(N, C)``, same dtype as ``x``.
    """
    dims = spatial_dims(x, "gem_pool")
    if isinstance(p, torch.Tensor):
        if p.numel() != 1:
            raise ValueError(f"gem_pool: expected p to be a scalar, got a tensor of shape {tuple(p.shape)}")
        if p.item() <= 0:
            raise ValueError(f"gem_pool: expected p > 0, got p = {p.item()}")
    elif isinstance(p, (int, float)) and not isinstance(p, bool):
        if p <= 0:
            raise ValueError(f"gem_pool: expected p > 0, got p = {p}")
    else:
        raise TypeError(f"gem_pool: expected p to be a number or a scalar tensor, got {type(p).__name__}")
    if eps <= 0:
        raise ValueError(f"gem_pool: expected eps > 0, got eps = {eps}")
    require_float(x, "x", "gem_pool")
    clamped = x.clamp(min=eps)
    # x**p overflows for large p (1.7**2000 is inf in float64). GeM is homogeneous of degree 1, so dividing by
    # the channel maximum first and multiplying back gives the same value, and the same gradient even with the
    # scale detached, while every power stays in [0, 1].
    scale = clamped.amax(dim=dims, keepdim=True).detach()
    return (clamped / scale).pow(p).mean(dim=dims).pow(1.0 / p) * scale.flatten(1)


POOLED_STATISTICS = ("mean", "variance", "energy_y", "energy_x")


def statistics_pool(x: torch.Tensor, statistics: tuple[str, ...] = POOLED_STATISTICS) -> torch.Tensor:
    r"""Pool more than the mean: per channel, the mean, the spatial variance and the derivative energies.

    .. math::
        \mu_c = \frac{1}{HW} \sum_{i,j} F_c(i, j), \qquad
        \sigma_c^2 = \frac{1}{HW} \sum_{i,j} \big(F_c(i, j) - \mu_c\big)^2,

        E^y_c = \frac{1}{(H-1)W} \sum_{i=1}^{H-1} \sum_{j} \big(F_c(i+1, j) - F_c(i, j)\big)^2, \qquad
        E^x_c = \frac{1}{H(W-1)} \sum_{i} \sum_{j=1}^{W-1} \big(F_c(i, j+1) - F_c(i, j)\big)^2

    ``"mean"`` is GAP. The variance, like the mean, ignores where each value sits (any permutation of the
    positions leaves both unchanged); the energies of the finite differences along the rows (``y``, down the
    map) and the columns (``x``, across it) do not: they measure how fast the map changes along each axis,
    which is what tells a texture's orientation and scale. Differences are taken inside the map only, with
    no padding. All are invariant to adding a constant to the map.

    Args:
        x: feature maps ``(N, C, H, W)``, floating point; ``H >= 2`` for ``"energy_y"``, ``W >= 2`` for
            ``"energy_x"``.
        statistics: which statistics, in which order, from ``"mean"``, ``"variance"``, ``"energy_y"``,
            ``"energy_x"``; ``k = len(statistics)``.
    Returns:
        ``(N, k*C)``: the ``C`` values of the first statistic, then the ``C`` values of the next, and so on
        (with the default, columns ``0..C-1`` are GAP, ``C..2C-1`` the variances, ...).

    Example:
        >>> stripes = torch.tensor([[0., 0.], [1., 1.]]).repeat(2, 1).view(1, 1, 4, 2)
        >>> statistics_pool(stripes)  # mean 1/2, variance 1/4, changes every row, never along a row
        tensor([[0.5000, 0.2500, 1.0000, 0.0000]])
    """
    where = "statistics_pool"
    spatial_dims(x, where, 2, 2)
    require_float(x, "x", where)
    if isinstance(statistics, str) or not statistics or any(s not in POOLED_STATISTICS for s in statistics):
        raise ValueError(f"{where}: expected a non-empty tuple of statistics from {POOLED_STATISTICS}, "
                         f"got {statistics!r}")
    height, width = x.shape[2:]
    if ("energy_y" in statistics and height < 2) or ("energy_x" in statistics and width < 2):
        raise ValueError(f"{where}: a derivative energy needs at least 2 positions along its axis, "
                         f"got a map of shape {tuple(x.shape)}")
    compute = {
        "mean": lambda: x.mean(dim=(2, 3)),
        "variance": lambda: x.var(dim=(2, 3), unbiased=False),
        "energy_y": lambda: x.diff(dim=2).pow(2).mean(dim=(2, 3)),
        "energy_x": lambda: x.diff(dim=3).pow(2).mean(dim=(2, 3)),
    }
    return torch.cat([compute[name]() for name in statistics], dim=1)


READOUTS = ("mean", "sum", "max")


def graph_readout(node_features: torch.Tensor, graph_index: torch.Tensor | None = None,
                  reduce: str = "mean") -> torch.Tensor:
    r"""Readout of a graph neural network: pool the features of each graph's nodes into one vector.

    .. math:: h_G^{\text{mean}} = \frac{1}{|V_G|} \sum_{v \in V_G} h_v, \qquad
        h_G^{\text{sum}} = \sum_{v \in V_G} h_v, \qquad h_G^{\text{max}} = \max_{v \in V_G} h_v

    The mean is GAP with the nodes in place of the pixels. Unlike the functions above, nodes have no grid:
    the input is a flat list of node features, and ``graph_index`` says which graph each node belongs to
    (as in PyTorch Geometric's ``batch`` vector). Every readout ignores the order of the nodes; Xu et al.
    (2019) show that only the sum is injective on multisets (the mean sees proportions, the max sees the set).

    Args:
        node_features: ``(V, C)`` features of all nodes of all graphs.
        graph_index: ``(V,)`` integers in ``0..G-1``; ``None`` means one graph.
        reduce: ``"mean"``, ``"sum"`` or ``"max"``.
    Returns:
        ``(G, C)``, one row per graph; a graph index with no node gets a row of zeros.
    """
    require_tensor(node_features, "node_features", "graph_readout")
    if node_features.dim() != 2 or node_features.shape[0] == 0:
        raise ValueError(f"graph_readout: expected node features of shape (V, C) with V >= 1, "
                         f"got shape {tuple(node_features.shape)}")
    if reduce not in READOUTS:
        raise ValueError(f"graph_readout: expected reduce in {READOUTS}, got {reduce!r}")
    if graph_index is None:
        graph_index = torch.zeros(node_features.shape[0], dtype=torch.long, device=node_features.device)
    require_tensor(graph_index, "graph_index", "graph_readout")
    if graph_index.shape != node_features.shape[:1] or graph_index.dtype != torch.long or graph_index.min() < 0:
        raise ValueError(f"graph_readout: expected graph_index of shape ({node_features.shape[0]},), dtype long, "
                         f"values >= 0, got shape {tuple(graph_index.shape)}, dtype {graph_index.dtype}")
    num_graphs = int(graph_index.max()) + 1
    out = node_features.new_zeros(num_graphs, node_features.shape[1])
    index = graph_index.unsqueeze(1).expand_as(node_features)
    torch_reduce = {"mean": "mean", "sum": "sum", "max": "amax"}[reduce]
    return out.scatter_reduce(0, index, node_features, reduce=torch_reduce, include_self=False)
