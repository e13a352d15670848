"""Argument checks specific to :mod:`starc.preferences` (private).

Generic checks (arrays, reals, seeds, choices) come from :mod:`starc._validation`; the
ones here know about networkx graphs, edge variances and node sets.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import as_float_array
from ..exceptions import ValidationError

#: The edge attribute that holds the variance of the reward difference across an edge.
DEFAULT_WEIGHT = "variance"


def check_graph(G, name: str = "G"):
    """Require an undirected or directed networkx graph (any of the four classes)."""
    import networkx as nx

    if not isinstance(G, nx.Graph):
        raise ValidationError(
            f"{name} must be a networkx graph (Graph, MultiGraph, DiGraph or MultiDiGraph) "
            f"whose edges carry variances, got {type(G).__name__}")
    return G


def check_weight_name(weight, name: str = "weight") -> str:
    if not isinstance(weight, str) or not weight:
        raise ValidationError(f"{name} must be the name of an edge attribute (a non-empty "
                              f"string), got {weight!r}")
    return weight


def check_variance_value(value, where: str) -> float:
    """A single edge variance: a finite real > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{where} must be a positive real variance, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValidationError(
            f"{where} must be a finite variance > 0, got {value!r}; variances of reward "
            "differences are positive (drop an edge that carries no information instead of "
            "giving it an infinite variance)")
    return value


def check_variances(values, name: str, *, size: int | None = None) -> np.ndarray:
    """An array of positive, finite variances (scalars are broadcast to ``size``)."""
    arr = as_float_array(values, name, allow_nonfinite=True)
    if arr.ndim == 0 and size is not None:
        arr = np.full(size, float(arr))
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise ValidationError(f"{name} must have length {size}, got {arr.shape[0]}")
    bad = ~np.isfinite(arr) | (arr <= 0.0)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(
            f"{name}[{i}] = {float(arr[i])!r} is not a variance; every entry must be finite "
            "and > 0")
    return np.ascontiguousarray(arr)


def edge_arrays(G, weight: str):
    """Nodes, node index and the ``(u, v, variance)`` arrays of a networkx graph.

    Direction is ignored; parallel edges are kept (callers merge them); self-loops are
    dropped (they change no distance). A missing attribute counts as variance 1, the
    networkx convention for weights.
    """
    nodes = list(G.nodes())
    index = {node: i for i, node in enumerate(nodes)}
    m = G.number_of_edges()
    us = np.empty(m, np.int64)
    vs = np.empty(m, np.int64)
    ws = np.empty(m, np.float64)
    k = 0
    for a, b, w in G.edges(data=weight, default=1.0):
        if isinstance(w, (numbers.Real, np.floating, np.integer)) and not isinstance(w, bool):
            wf = float(w)
        else:
            raise ValidationError(
                f"G: edge ({a!r}, {b!r}) has {weight}={w!r}; edge variances must be positive "
                "real numbers")
        if not (math.isfinite(wf) and wf > 0.0):
            raise ValidationError(
                f"G: edge ({a!r}, {b!r}) has {weight}={wf!r}; edge variances must be finite "
                "and > 0 (a negative or zero variance is not a variance)")
        ia = index[a]
        ib = index[b]
        if ia == ib:
            continue
        us[k] = ia
        vs[k] = ib
        ws[k] = wf
        k += 1
    return nodes, index, us[:k], vs[:k], ws[:k]


def node_positions(nodes, index: dict, name: str, *, identity: bool = False) -> np.ndarray:
    """Map node labels to positions, raising ``ValidationError`` for unknown labels."""
    if identity:
        arr = np.asarray(nodes)
        if arr.dtype.kind in "iu":
            n = len(index)
            bad = (arr < 0) | (arr >= n)
            if np.any(bad):
                raise ValidationError(
                    f"{name} contains {arr[bad].ravel()[0].item()!r}, which is not a node of "
                    f"the graph (nodes are 0..{n - 1})")
            return arr.astype(np.int64)
    out = np.empty(len(nodes), np.int64)
    for i, node in enumerate(nodes):
        try:
            out[i] = index[node]
        except (KeyError, TypeError):
            raise ValidationError(f"{name} contains {node!r}, which is not a node of the "
                                  "graph") from None
    return out


def check_node_weights(weights, n: int, name: str = "weights") -> np.ndarray:
    """Non-negative node weights of length ``n`` with at least two positive entries,
    divided by their largest entry (the weighted means are invariant to a common factor,
    and the largest weight 1 keeps their sums and squares inside the float64 range)."""
    w = as_float_array(weights, name, ndim=1)
    if w.shape[0] != n:
        raise ValidationError(f"{name} must have one entry per node ({n}), got {w.shape[0]}")
    if np.any(w < 0):
        i = int(np.flatnonzero(w < 0)[0])
        raise ValidationError(f"{name}[{i}] = {float(w[i])!r} is negative; node weights "
                              "must be >= 0")
    if w.size and w.max() > 0:
        w = w / w.max()      # a weight below 2^-1074 times the largest becomes 0 here
    if np.count_nonzero(w) < 2:
        raise ValidationError(f"{name} must give a positive weight to at least two nodes "
                              "(relative to the largest weight, above the float64 range's "
                              "2^-1074), otherwise there is no pair to average over")
    return w
