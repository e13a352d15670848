"""The private resistance engine of ``starc.preferences._resistance``: the route choice.

Its solves are checked through the public inference distances in
``test_inference_distance.py``; this file holds what only the engine exposes.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from starc.preferences._resistance import ResistanceEngine, branch_nodes
from starc.preferences.graphs import laplacian_from_edges


def test_choose_on_grounded_laplacians():
    # a long cycle: no branch nodes, so LU (series chains eliminate without fill)
    n = 20_000
    L = laplacian_from_edges(n, np.arange(n), (np.arange(n) + 1) % n, np.ones(n))
    assert branch_nodes(L[1:, 1:].tocsr()) == 0
    assert ResistanceEngine._choose(L[1:, 1:].tocsr()) == "lu"
    # a star with pendant paths peels down to nothing
    G = nx.star_graph(5)
    nx.add_path(G, [1, 10, 11, 12])
    A = nx.laplacian_matrix(G).astype(float).tocsr()
    assert branch_nodes(A) == 0
    K = nx.laplacian_matrix(nx.complete_graph(6)).astype(float).tocsr()
    assert branch_nodes(K) == 6
