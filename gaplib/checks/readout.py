r"""Exercise 10: the mean and sum readouts of a batch of graphs.

.. math:: h_g = \frac{1}{|V_g|} \sum_{v \in V_g} x_v \ \text{(mean)}, \qquad h_g = \sum_{v \in V_g} x_v \ \text{(sum)}
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gaplib.checks._core import (
    call_tensor,
    call_untouched,
    close,
    fail,
    grad_hint,
    passed,
    refuse_library,
    seeded_randn,
    shape_text,
)
from gaplib.pooling import graph_readout


def reference(nodes: torch.Tensor, graph_index: torch.Tensor, num_graphs: int, reduce: str) -> torch.Tensor:
    sums = torch.zeros(num_graphs, nodes.shape[1], dtype=nodes.dtype).index_add(0, graph_index, nodes)
    if reduce == "sum":
        return sums
    counts = torch.bincount(graph_index, minlength=num_graphs).clamp(min=1).to(nodes.dtype)
    return sums / counts[:, None]


def inputs() -> list[tuple[str, torch.Tensor, torch.Tensor, int]]:
    randn = seeded_randn(5)

    return [
        ("7 nodes with D=3 in 3 graphs, graph_index [2, 0, 1, 0, 2, 2, 1]", randn(7, 3),
         torch.tensor([2, 0, 1, 0, 2, 2, 1]), 3),
        ("5 nodes with D=2 in 4 graphs, graph 1 empty, graph_index [0, 0, 2, 3, 3]", randn(5, 2),
         torch.tensor([0, 0, 2, 3, 3]), 4),
        ("4 nodes with D=2 in 4 graphs, the last two empty, graph_index [1, 0, 1, 1]", randn(4, 2),
         torch.tensor([1, 0, 1, 1]), 4),
        ("float64, 4 nodes with D=1 in 2 graphs, graph_index [1, 1, 1, 0]", randn(4, 1, dtype=torch.float64),
         torch.tensor([1, 1, 1, 0]), 2),
    ]


def diagnose(nodes: torch.Tensor, graph_index: torch.Tensor, num_graphs: int, reduce: str,
             got: torch.Tensor) -> str:
    expected = reference(nodes, graph_index, num_graphs, reduce)
    other = "sum" if reduce == "mean" else "mean"
    present = int(graph_index.max()) + 1
    if got.shape != expected.shape:
        if got.shape == (present, nodes.shape[1]) and present < num_graphs:
            return (f"expected {shape_text(expected)} = (G, D), got {shape_text(got)}: the last "
                    f"{num_graphs - present} graph(s) have no node but are still graphs; make num_graphs rows")
        return f"expected {shape_text(expected)} = (G, D), one row per graph, got {shape_text(got)}"
    if torch.isnan(got).any():
        return "a graph with no nodes gives NaN (0/0): read it out as zeros"
    if got.dtype != nodes.dtype:
        return f"expected dtype {nodes.dtype}, the input's, got {got.dtype}"
    if close(got, reference(nodes, graph_index, num_graphs, other)):
        return f"these are the {other}s; reduce={reduce!r} asks for the {reduce}"
    if close(got, getattr(nodes, reduce)(dim=0, keepdim=True).expand_as(got)):
        return f"every row is the {reduce} over all nodes: group the nodes by their graph_index"
    if reduce == "mean" and close(got, reference(nodes, graph_index, num_graphs, "sum") / nodes.shape[0]):
        return "each sum is divided by the number of all nodes: divide by the number of nodes of that graph"
    ordered = torch.arange(num_graphs).repeat_interleave(torch.bincount(graph_index, minlength=num_graphs))
    if close(got, reference(nodes, ordered, num_graphs, reduce)):
        return "the nodes are grouped as if sorted by graph: use graph_index, the nodes come in any order"
    return f"row g should be the {reduce} of the features of the nodes whose graph_index is g"


def check_graph_readout(fn: Callable[[torch.Tensor, torch.Tensor, int, str], torch.Tensor]) -> None:
    r"""Check a graph readout: the mean or the sum of the node features of each graph in a batch.

    ``fn(nodes, graph_index, num_graphs, reduce)`` takes node features ``(V, D)``, the graph of each node
    ``(V,)`` (any order), the number of graphs ``G`` and ``reduce`` in ``{"mean", "sum"}``; it returns
    ``(G, D)``, with zeros for a graph that has no nodes (the last ones included), leaving its inputs unchanged.
    The book trains graph networks through the readout, so gradients must reach ``nodes``.

    Raises:
        CheckFailed: (an ``AssertionError``) naming the input and the slip.
    """
    refuse_library(fn, [graph_readout], "write the readout yourself")
    for reduce in ("mean", "sum"):
        for description, nodes, graph_index, num_graphs in inputs():
            label = f"{description}, reduce={reduce!r}"
            got = call_untouched(fn, label, nodes, graph_index, num_graphs, reduce)
            if close(got, reference(nodes, graph_index, num_graphs, reduce)) and got.dtype == nodes.dtype:
                continue
            raise fail(f"on {label}: {diagnose(nodes, graph_index, num_graphs, reduce, got)}.")
    for reduce in ("mean", "sum"):
        description, nodes, graph_index, num_graphs = inputs()[1]
        label = f"{description}, reduce={reduce!r}, nodes with requires_grad=True"
        leaf = nodes.detach().clone().requires_grad_()
        got = call_tensor(fn, label, leaf, graph_index.clone(), num_graphs, reduce)
        if not got.requires_grad:
            raise grad_hint(label)
        got.sum().backward()
        twin = nodes.detach().clone().requires_grad_()
        reference(twin, graph_index, num_graphs, reduce).sum().backward()
        if leaf.grad is None or not close(leaf.grad, twin.grad):
            raise fail(f"on {label}: after out.sum().backward(), the gradient with respect to the nodes is not "
                       f"that of the {reduce}.")
    passed("readout", f"mean and sum on {len(inputs())} batches (nodes in any order, empty graphs, the last "
           "ones included, float64), gradients, inputs left unchanged")
