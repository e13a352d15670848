r"""Inference distance on a preference graph: shortest path and effective resistance.

How well does a preference dataset pin down the reward difference between two responses
:math:`u` and :math:`v`? On the induced Bayesian network (:mod:`starc.preferences.graphs`)
every edge :math:`e` carries the variance :math:`w_e` of the reward difference across it.
Two distances answer the question.

**Path inference distance** (the notion of Qiu et al. [1]_, Sec. 4). Inferring
:math:`r(v) - r(u)` along one path chains independent differences, whose variances add;
the best single chain is a weighted shortest path,

.. math::

    d_{\text{path}}(u, v) = \min_{\text{paths } u = x_0, x_1, \dots, x_k = v}
    \ \sum_{i=1}^{k} w_{x_{i-1} x_i}

(Dijkstra on the variances; parallel edges keep their smallest variance).

**Resistance inference distance** (exact Gaussian posterior; our derivation). If the
edges are independent Gaussian observations of reward differences and the rewards have a
flat prior, the posterior variance of :math:`r(v) - r(u)` is the effective resistance of
the electrical network with conductances :math:`c_e = 1/w_e` [2]_ [3]_,

.. math::

    d_{\text{res}}(u, v) = (e_u - e_v)^\top L^{+} (e_u - e_v),
    \qquad L = \sum_e c_e (e_{a_e} - e_{b_e})(e_{a_e} - e_{b_e})^\top ,

where parallel edges add their conductances. It uses *all* paths at once, so
:math:`d_{\text{res}} \le d_{\text{path}}`, with equality on trees. The two behave
differently at scale: the :math:`\Theta(\log n / \log\log n)` chain-versus-tree gap of
[1]_ is a statement about :math:`d_{\text{path}}`; the resistance of a well-connected
random comparison graph does not grow with :math:`n` (see :mod:`starc.preferences.scaling`).

Whether the paper's inference distance is exactly the min-over-paths sum above (rather
than, say, a combination over several paths) could not be confirmed against its primary
text; THEORY.md marks it as a reconstruction (R).

Computation
-----------
* ``"path"``: one bidirectional Dijkstra search per query, compiled with numba, on the
  CSR adjacency; whole rows (matrices, source sampling) use
  :func:`scipy.sparse.csgraph.dijkstra`.
* ``"resistance"``: one node per connected component is grounded; the grounded Laplacian
  :math:`L_g` is symmetric positive definite and
  :math:`d_{\text{res}}(u, v) = b^\top L_g^{-1} b` with :math:`b = e_u - e_v` restricted to
  the ungrounded nodes. Two direct routes (exact up to rounding) and one iterative one,
  chosen by ``"auto"``:

  - ``solver="lu"`` factors :math:`P L_g P^\top = L D L^\top` once (scipy's SuperLU,
    symmetric minimum-degree ordering, diagonal pivots) and answers each query with a
    sparse triangular solve that only visits the part of :math:`L` reachable from
    :math:`u` and :math:`v` [4]_: :math:`d = \sum_j y_j^2 / D_{jj}`,
    :math:`y = L^{-1} P b`. Cheap when the factor has little fill (trees, series
    chains, grids).
  - ``solver="schur"`` eliminates nodes exactly in rounds of multiple minimum degree
    [6]_ -- dangling trees, series chains (:math:`w = w_1 + w_2`) and parallel edges
    (:math:`1/w = 1/w_1 + 1/w_2`) first, then nodes of degree up to 48 with fill --
    keeping the Schur complement (Kron reduction [5]_) of the rest: eliminating
    :math:`x` adds :math:`c_{xa} c_{xb} / d_x` to the conductance between every pair of
    its neighbours, so nothing cancels. The remaining core is factored densely with
    LAPACK, either in one piece or, when it is large, as blocks that couple only through
    a separator of hub nodes (proposed by label propagation; each block is eliminated
    onto its hubs). A query is a sparse forward solve through the eliminated part plus
    dense triangular solves on the core, batched over all queries. On random, expander-like preference networks (the
    induced Bayesian networks of :func:`~starc.preferences.chain_dataset` and
    :func:`~starc.preferences.tree_dataset`) this is exact and orders of magnitude
    faster than LU, whose factor fills in, or CG, which needs a full solve per query.
  - ``solver="cg"`` runs block preconditioned conjugate gradients (relative residual
    :math:`10^{-10}`; the preconditioner is the maximum-conductance spanning forest
    plus the remaining diagonal). The fallback for huge expanders whose dense core
    would not fit.
  - ``"auto"`` uses the path computation on forests (where the two distances
    coincide); LU when its fill is small -- at most 4,000 branch nodes (degree >= 3
    once pendant trees are peeled off) or a reverse Cuthill-McKee envelope of at most
    400 entries per row on average (grids, banded graphs); otherwise ``"schur"`` when its
    dense stages need at most :math:`4 \cdot 10^{11}` flops and 3 GiB (at most half the
    machine's memory); otherwise LU up to 10,000 nodes and CG above.

  Nothing of size :math:`N \times N` is ever formed.

Disconnected graphs
-------------------
Nodes in different connected components have distance ``math.inf`` under both methods
(no finite chain of observations links them; the posterior variance is unbounded). A
mean over pairs that include such a pair is ``inf``.

References
----------
.. [1] Qiu et al. "Reward Generalization in RLHF: A Topological Perspective". arXiv
   2402.10184, Sec. 4 (induced Bayesian network, inference distance) and Thm. 4.5
   (chain vs tree datasets).
.. [2] Doyle, Snell. *Random Walks and Electric Networks*. MAA, 1984.
.. [3] Klein, Randić. "Resistance distance". J. Math. Chem. 12, 1993.
.. [4] Gilbert, Peierls. "Sparse partial pivoting in time proportional to arithmetic
   operations". SIAM J. Sci. Stat. Comput. 9, 1988.
.. [5] Kron. *Tensor Analysis of Networks*. Wiley, 1939 (node elimination, the Schur
   complement of a Laplacian).
.. [6] Liu. "Modification of the minimum-degree algorithm by multiple elimination". ACM
   Trans. Math. Softw. 11, 1985.
"""

from __future__ import annotations

import math

import numpy as np

from .._extremes import scale_exponent, unscale
from .._validation import (check_choice, check_memory, check_positive_int, check_seed)
from ..exceptions import ValidationError
from ._checks import (DEFAULT_WEIGHT, check_graph, check_node_weights, check_variances,
                      check_weight_name, edge_arrays, node_positions)
from ._resistance import (BLOCK_ENTRIES, ResistanceEngine, csr_adjacency,
                          merge_edge_arrays)

__all__ = ["InferenceDistanceOracle", "inference_distance", "inference_distances",
           "inference_distance_matrix", "mean_inference_distance"]

METHODS = ("path", "resistance")
SOLVERS = ("auto", "lu", "cg", "schur")
PAIR_SAMPLINGS = ("pairs", "sources")


class InferenceDistanceOracle:
    r"""Precomputed structure for many inference-distance queries on one graph.

    Building the oracle converts the graph to sparse arrays once; the shortest-path
    adjacency and the resistance factorisation are built on first use and reused. The
    functions :func:`inference_distance`, :func:`inference_distances`,
    :func:`inference_distance_matrix` and :func:`mean_inference_distance` accept an
    oracle in place of a graph.

    Parameters
    ----------
    G : networkx graph
        Preference graph whose edges carry variances in the attribute ``weight`` (missing
        means 1). Direction is ignored, self-loops are dropped, parallel edges are kept.
    weight : str
        Edge attribute holding the variance.
    solver : {"auto", "lu", "cg", "schur"}
        Linear solver for ``method="resistance"`` (see the module docstring); all but
        ``"cg"`` are direct and exact up to rounding.

    Attributes
    ----------
    nodes : list
        Node labels; position ``i`` in every array refers to ``nodes[i]``.
    n_nodes, n_components : int
        Number of nodes and of connected components.
    component_labels : ndarray of int, shape (N,)
        Connected-component label of every node (in the order of ``nodes``).

    Notes
    -----
    .. math::

        d_{\text{path}}(u, v) = \min_{P: u \to v} \sum_{e \in P} w_e, \qquad
        d_{\text{res}}(u, v) = (e_u - e_v)^\top L^{+} (e_u - e_v).

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4 (inference distance).
    .. [2] Klein, Randić. "Resistance distance". J. Math. Chem. 12, 1993.

    Examples
    --------
    >>> import networkx as nx
    >>> from starc.preferences import InferenceDistanceOracle
    >>> oracle = InferenceDistanceOracle(nx.cycle_graph(4))   # unit variances
    >>> oracle.distance(0, 2), oracle.distance(0, 2, method="resistance")
    (2.0, 1.0)
    >>> oracle.distances([(0, 1), (0, 3)], method="resistance")
    array([0.75, 0.75])
    """

    def __init__(self, G, *, weight=DEFAULT_WEIGHT, solver="auto"):
        check_graph(G)
        weight = check_weight_name(weight)
        check_choice(solver, "solver", SOLVERS)
        nodes, index, us, vs, ws = edge_arrays(G, weight)
        self._setup(nodes, index, us, vs, ws, solver, identity=False)

    @classmethod
    def from_edges(cls, n_nodes, u, v, variance, *, solver="auto"):
        r"""Build an oracle from integer edge arrays, without networkx.

        Parameters
        ----------
        n_nodes : int
            Number of nodes; they are labelled ``0`` to ``n_nodes - 1``.
        u, v : array_like of int, shape (m,)
            Edge end points.
        variance : float or array_like of shape (m,)
            Edge variances, > 0.
        solver : {"auto", "lu", "cg", "schur"}
            As for the constructor.

        Returns
        -------
        InferenceDistanceOracle

        Notes
        -----
        Same distances as the constructor,
        :math:`d_{\text{path}}` and :math:`d_{\text{res}} = b^\top L^{+} b`.

        References
        ----------
        .. [1] Qiu et al., arXiv 2402.10184, Sec. 4.

        Examples
        --------
        >>> from starc.preferences import InferenceDistanceOracle
        >>> o = InferenceDistanceOracle.from_edges(3, [0, 1], [1, 2], [1.0, 2.0])
        >>> o.distance(0, 2)
        3.0
        """
        n = check_positive_int(n_nodes, "n_nodes")
        check_choice(solver, "solver", SOLVERS)
        ua = np.asarray(u)
        va = np.asarray(v)
        for name, arr in (("u", ua), ("v", va)):
            if arr.ndim != 1 or arr.dtype.kind not in "iu":
                raise ValidationError(f"{name} must be a 1-D integer array of node indices, "
                                      f"got dtype {arr.dtype} and shape {arr.shape}")
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise ValidationError(f"{name} contains a node index outside 0..{n - 1}")
        if ua.shape != va.shape:
            raise ValidationError(f"u and v must have the same length, got {ua.shape[0]} "
                                  f"and {va.shape[0]}")
        ws = check_variances(variance, "variance", size=ua.shape[0])
        keep = ua != va
        obj = cls.__new__(cls)
        obj._setup(list(range(n)), None, ua[keep].astype(np.int64),
                   va[keep].astype(np.int64), ws[keep], solver, identity=True)
        return obj

    def _setup(self, nodes, index, us, vs, ws, solver, identity):
        from scipy.sparse.csgraph import connected_components

        self.nodes = nodes
        self.n_nodes = len(nodes)
        self._index = index
        self._identity = identity
        # Both distances are linear in the variances: for variances far from 1 (beyond
        # 2^+-256) work with variances / 2^k (2^k near the largest), so no sum of
        # variances along a path, and no conductance 1 / w, overflows; results are scaled
        # back (and refused if they exceed the float64 range). Nearer 1 nothing is scaled
        # (the same numbers as ever).
        k = int(scale_exponent(ws.max())) if ws.size else 0
        self._k = k if abs(k) > 256 else 0
        ws = np.ldexp(ws, -self._k)
        self._us, self._vs, self._ws = us, vs, ws
        self._solver = solver
        n = self.n_nodes
        self._path = None
        self._res_csr = None
        self._engine = None
        mu, mv, mw = merge_edge_arrays(n, us, vs, ws, "min")
        self._path_edges = (mu, mv, mw)
        adj = csr_adjacency(n, mu, mv, np.ones_like(mw))
        self.n_components, self._labels = connected_components(adj, directed=False)
        self._is_forest = len(mu) == n - self.n_components

    @property
    def component_labels(self):
        """ndarray of int, shape (N,): connected-component label of every node."""
        return self._labels

    # --- helpers ------------------------------------------------------------------------
    def _positions(self, nodes, name):
        if self._identity:
            index = _IdentityIndex(self.n_nodes)
            return node_positions(nodes, index, name, identity=_is_int_array(nodes))
        return node_positions(nodes, self._index, name)

    def _position(self, node, name):
        return int(self._positions([node], name)[0])

    def _path_arrays(self):
        if self._path is None:
            mu, mv, mw = self._path_edges
            M = csr_adjacency(self.n_nodes, mu, mv, mw)
            self._path = (M, M.indptr.astype(np.int64), M.indices.astype(np.int64),
                          M.data.astype(np.float64))
        return self._path

    def _res_arrays(self):
        """CSR adjacency with parallel-merged variances (for forests, resistance = path)."""
        if self._res_csr is None:
            ru, rv, rw = merge_edge_arrays(self.n_nodes, self._us, self._vs, self._ws, "sum")
            M = csr_adjacency(self.n_nodes, ru, rv, rw)
            self._res_csr = (M, M.indptr.astype(np.int64), M.indices.astype(np.int64),
                             M.data.astype(np.float64))
        return self._res_csr

    def _use_tree_shortcut(self):
        return self._solver == "auto" and self._is_forest

    def _resistance_engine(self):
        if self._engine is None:
            self._engine = ResistanceEngine(self.n_nodes, self._us, self._vs, self._ws,
                                             self._labels, self.n_components, self._solver)
        return self._engine

    def _distances_idx(self, a, b, method):
        a = np.asarray(a, np.int64)
        b = np.asarray(b, np.int64)
        out = np.full(a.shape[0], np.inf)
        same = a == b
        out[same] = 0.0
        todo = ~same & (self._labels[a] == self._labels[b])
        if not np.any(todo):
            return out
        ta, tb = a[todo], b[todo]
        if method == "path" or self._use_tree_shortcut():
            from ._kernels import bidirectional_dijkstra_many

            _, ip, ix, dat = self._path_arrays() if method == "path" else self._res_arrays()
            out[todo] = bidirectional_dijkstra_many(ip, ix, dat, ta, tb)
        else:
            eng = self._resistance_engine()
            out[todo] = eng.quadforms(eng.gidx[ta], eng.gidx[tb])
        return out

    def _rows(self, sources, targets, method):
        """Dense block of distances, rows ``sources`` x columns ``targets`` (path/forest)."""
        from scipy.sparse.csgraph import dijkstra

        M = (self._path_arrays() if method == "path" else self._res_arrays())[0]
        return dijkstra(M, directed=False, indices=sources)[:, targets]

    # --- public queries -----------------------------------------------------------------
    def distance(self, u, v, method="path"):
        r"""Inference distance between two nodes (see :func:`inference_distance`).

        Parameters
        ----------
        u, v : node labels
        method : {"path", "resistance"}

        Returns
        -------
        float
            ``math.inf`` when ``u`` and ``v`` are in different components.

        Notes
        -----
        :math:`d_{\text{path}}(u,v) = \min_P \sum_{e\in P} w_e`,
        :math:`d_{\text{res}}(u,v) = (e_u - e_v)^\top L^+ (e_u - e_v)`.

        References
        ----------
        .. [1] Qiu et al., arXiv 2402.10184, Sec. 4.

        Examples
        --------
        >>> import networkx as nx
        >>> from starc.preferences import InferenceDistanceOracle
        >>> InferenceDistanceOracle(nx.path_graph(3)).distance(0, 2, "resistance")
        2.0
        """
        check_choice(method, "method", METHODS)
        a = self._position(u, "u")
        b = self._position(v, "v")
        return float(self._unscaled(self._distances_idx(np.array([a]), np.array([b]),
                                                        method))[0])

    def distances(self, pairs, method="path"):
        r"""Inference distances of many node pairs (see :func:`inference_distances`).

        Parameters
        ----------
        pairs : array_like of shape (K, 2) or sequence of (u, v)
        method : {"path", "resistance"}

        Returns
        -------
        ndarray of shape (K,)

        Notes
        -----
        :math:`d(u_k, v_k)` for every row :math:`k`, with the formulas of
        :func:`inference_distance`.

        References
        ----------
        .. [1] Qiu et al., arXiv 2402.10184, Sec. 4.

        Examples
        --------
        >>> import networkx as nx
        >>> from starc.preferences import InferenceDistanceOracle
        >>> InferenceDistanceOracle(nx.path_graph(4)).distances([(0, 3), (1, 1)])
        array([3., 0.])
        """
        check_choice(method, "method", METHODS)
        a, b = self._pair_positions(pairs)
        return self._unscaled(self._distances_idx(a, b, method))

    def _unscaled(self, d):
        """Distances of the scaled variances back in the units of the graph's variances."""
        d = np.asarray(d, dtype=np.float64)
        out = unscale(d, self._k)
        if np.any(np.isfinite(d) & ~np.isfinite(out)):
            raise ValidationError(
                "an inference distance exceeds the float64 range (1.8e308) for these edge "
                "variances (inf is reserved for nodes in different components); divide the "
                "variances by a constant first: distances scale with them")
        return out

    def _pair_positions(self, pairs):
        if isinstance(pairs, np.ndarray):
            if pairs.ndim != 2 or pairs.shape[1] != 2:
                raise ValidationError(f"pairs must have shape (K, 2), got {pairs.shape}")
            if self._identity and pairs.dtype.kind in "iu":
                pos = self._positions(pairs.ravel(), "pairs").reshape(-1, 2)
                return pos[:, 0], pos[:, 1]
            pairs = [tuple(row) for row in pairs.tolist()]
        try:
            items = [tuple(p) for p in pairs]
        except TypeError:
            raise ValidationError("pairs must be a sequence of (u, v) node pairs or an array "
                                  "of shape (K, 2)") from None
        for k, p in enumerate(items):
            if len(p) != 2:
                raise ValidationError(f"pairs[{k}] = {p!r} is not a (u, v) pair")
        a = self._positions([p[0] for p in items], "pairs")
        b = self._positions([p[1] for p in items], "pairs")
        return a, b

    def matrix(self, nodes=None, method="path"):
        r"""Matrix of inference distances (see :func:`inference_distance_matrix`).

        Parameters
        ----------
        nodes : sequence, optional
            Rows/columns; all nodes by default.
        method : {"path", "resistance"}

        Returns
        -------
        ndarray of shape (K, K)
            Symmetric, zero diagonal, ``inf`` across components.

        Notes
        -----
        For resistance, :math:`R_{ij} = G_{ii} + G_{jj} - 2G_{ij}` with
        :math:`G = L_g^{-1}` the grounded inverse restricted to ``nodes``.

        References
        ----------
        .. [1] Klein, Randić. J. Math. Chem. 12, 1993.

        Examples
        --------
        >>> import networkx as nx
        >>> from starc.preferences import InferenceDistanceOracle
        >>> InferenceDistanceOracle(nx.complete_graph(3)).matrix(method="resistance")
        array([[0.        , 0.66666667, 0.66666667],
               [0.66666667, 0.        , 0.66666667],
               [0.66666667, 0.66666667, 0.        ]])
        """
        check_choice(method, "method", METHODS)
        return self._unscaled(self._matrix_scaled(nodes, method))

    def _matrix_scaled(self, nodes, method):
        idx = self._node_subset(nodes)
        K = idx.shape[0]
        check_memory((K, K), "the inference-distance matrix")
        out = np.empty((K, K))
        if K == 0:
            return out
        if method == "path" or self._use_tree_shortcut():
            chunk = max(1, BLOCK_ENTRIES // max(self.n_nodes, 1))
            for s in range(0, K, chunk):
                out[s:s + chunk] = self._rows(idx[s:s + chunk], idx, method)
        else:
            eng = self._resistance_engine()
            g = eng.gidx[idx]
            Gkk = np.zeros((K, K))
            cols = np.flatnonzero(g >= 0)
            chunk = max(1, BLOCK_ENTRIES // max(eng.n_g, 1))
            rows_ok = g >= 0
            for s in range(0, cols.shape[0], chunk):
                cc = cols[s:s + chunk]
                B = np.zeros((eng.n_g, cc.shape[0]))
                B[g[cc], np.arange(cc.shape[0])] = 1.0
                X = eng.solve(B)
                Gkk[np.ix_(rows_ok, cc)] = X[g[rows_ok]]
            d = np.diag(Gkk)
            out = d[:, None] + d[None, :] - 2.0 * Gkk
            out = 0.5 * (out + out.T)
            np.fill_diagonal(out, 0.0)
            np.maximum(out, 0.0, out=out)
            lab = self._labels[idx]
            out[lab[:, None] != lab[None, :]] = np.inf
        return out

    def _node_subset(self, nodes):
        if nodes is None:
            return np.arange(self.n_nodes, dtype=np.int64)
        if isinstance(nodes, (str, bytes)):
            raise ValidationError(f"nodes must be a sequence of node labels, got {nodes!r}")
        try:
            nodes = list(nodes) if not isinstance(nodes, np.ndarray) else nodes
        except TypeError:
            raise ValidationError(f"nodes must be a sequence of node labels, got {nodes!r}") \
                from None
        idx = self._positions(nodes, "nodes")
        if np.unique(idx).shape[0] != idx.shape[0]:
            raise ValidationError("nodes lists a node more than once")
        return idx

    def mean(self, method="path", *, nodes=None, weights=None, n_samples=None,
             sampling="pairs", seed=None):
        r"""Mean inference distance over node pairs (see :func:`mean_inference_distance`).

        Parameters
        ----------
        method : {"path", "resistance"}
        nodes : sequence, optional
        weights : array_like of shape (K,), optional
        n_samples : int, optional
        sampling : {"pairs", "sources"}
        seed : int | numpy.random.Generator | None

        Returns
        -------
        float

        Notes
        -----
        :math:`\bar d = \sum_{u \ne v} \omega_u \omega_v d(u, v) /
        \sum_{u \ne v} \omega_u \omega_v`.

        References
        ----------
        .. [1] Qiu et al., arXiv 2402.10184, Sec. 4 (mean inference distance).

        Examples
        --------
        >>> import networkx as nx
        >>> from starc.preferences import InferenceDistanceOracle
        >>> InferenceDistanceOracle(nx.path_graph(3)).mean()      # (1 + 1 + 2) / 3
        1.3333333333333333
        """
        check_choice(method, "method", METHODS)
        check_choice(sampling, "sampling", PAIR_SAMPLINGS)
        return float(self._unscaled(self._mean_scaled(method, nodes, weights, n_samples,
                                                      sampling, seed)))

    def _mean_scaled(self, method, nodes, weights, n_samples, sampling, seed):
        idx = self._node_subset(nodes)
        K = idx.shape[0]
        if weights is None:
            if K < 2:
                raise ValidationError(f"the mean inference distance needs at least two nodes, "
                                      f"got {K}")
            w = None
        else:
            w = check_node_weights(weights, K)
            pos = w > 0
            idx, w = idx[pos], w[pos]
            K = idx.shape[0]
        if n_samples is None:
            return self._exact_mean(idx, w, method)
        n_samples = check_positive_int(n_samples, "n_samples")
        check_memory((n_samples,), "n_samples sampled pairs", copies=4)
        rng = check_seed(seed)
        p = None if w is None else w / w.sum()
        if sampling == "sources":
            if method == "resistance" and not self._use_tree_shortcut():
                raise ValidationError(
                    "sampling='sources' needs whole rows of distances, which only "
                    "method='path' (or a forest) provides cheaply; use sampling='pairs' for "
                    "method='resistance'")
            src = rng.choice(K, size=n_samples, p=p)
            ww = np.ones(K) if w is None else w
            num = 0.0
            den = 0.0
            chunk = max(1, BLOCK_ENTRIES // max(self.n_nodes, 1))
            for s in range(0, n_samples, chunk):
                sl = src[s:s + chunk]
                D = self._rows(idx[sl], idx, method)
                Dw = D * ww[None, :]
                Dw[np.arange(sl.shape[0]), sl] = 0.0
                if np.any(np.isinf(Dw)):
                    return math.inf
                num += float(Dw.sum())
                den += float(ww.sum() * sl.shape[0] - ww[sl].sum())
            return num / den
        u = rng.choice(K, size=n_samples, p=p)
        v = rng.choice(K, size=n_samples, p=p)
        clash = u == v
        while np.any(clash):
            v[clash] = rng.choice(K, size=int(clash.sum()), p=p)
            clash = u == v
        d = self._distances_idx(idx[u], idx[v], method)
        return float(np.mean(d))

    def _exact_mean(self, idx, w, method):
        K = idx.shape[0]
        ww = np.ones(K) if w is None else w
        den = float(ww.sum() ** 2 - np.sum(ww ** 2))
        if np.unique(self._labels[idx]).shape[0] > 1:
            return math.inf
        if method == "path" or self._use_tree_shortcut():
            num = 0.0
            chunk = max(1, BLOCK_ENTRIES // max(self.n_nodes, 1))
            for s in range(0, K, chunk):
                D = self._rows(idx[s:s + chunk], idx, method)
                num += float(ww[s:s + chunk] @ D @ ww)
            return num / den
        eng = self._resistance_engine()
        g = eng.gidx[idx]
        inner = g >= 0
        diag = np.zeros(K)
        diag[inner] = eng.quadforms(g[inner], np.full(int(inner.sum()), -1, np.int64))
        rhs = np.zeros((eng.n_g, 1))
        np.add.at(rhs[:, 0], g[inner], ww[inner])
        quad = float(rhs[:, 0] @ eng.solve(rhs)[:, 0]) if eng.n_g else 0.0
        num = 2.0 * float(ww.sum()) * float(ww @ diag) - 2.0 * quad
        return max(num, 0.0) / den


class _IdentityIndex:
    """Dict-like index for nodes labelled 0..n-1 (private)."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, key):
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise KeyError(key)
        if 0 <= key < self.n:
            return int(key)
        raise KeyError(key)

    def __len__(self):
        return self.n


def _is_int_array(x):
    return isinstance(x, np.ndarray) and x.dtype.kind in "iu"


def _oracle(G, weight, solver):
    if isinstance(G, InferenceDistanceOracle):
        return G
    return InferenceDistanceOracle(G, weight=weight, solver=solver)


def inference_distance(G, u, v, method="path", *, weight=DEFAULT_WEIGHT, solver="auto"):
    r"""Inference distance between two responses of a preference graph.

    Parameters
    ----------
    G : networkx graph or InferenceDistanceOracle
        Edges carry variances :math:`w_e > 0` in the attribute ``weight`` (missing means
        1). Direction is ignored; parallel edges are separate observations.
    u, v : node labels
        The two responses.
    method : {"path", "resistance"}
        ``"path"``: the paper's inference distance, the smallest sum of variances along a
        path (Dijkstra). ``"resistance"``: the exact Gaussian posterior variance of
        :math:`r(v) - r(u)`, the effective resistance with conductances :math:`1/w_e`.
    weight : str
        Edge attribute holding the variance (ignored when ``G`` is an oracle).
    solver : {"auto", "lu", "cg", "schur"}
        Linear solver for ``"resistance"`` (ignored when ``G`` is an oracle).

    Returns
    -------
    float
        The distance; ``0`` when ``u == v`` and ``math.inf`` when ``u`` and ``v`` lie in
        different connected components.

    Raises
    ------
    ValidationError
        Unknown node, unknown method, or an edge whose variance is not finite and > 0.

    Notes
    -----
    .. math::

        d_{\text{path}}(u, v) = \min_{P: u \to v} \sum_{e \in P} w_e,
        \qquad
        d_{\text{res}}(u, v) = (e_u - e_v)^\top L^{+} (e_u - e_v)
        \le d_{\text{path}}(u, v),

    with equality on trees. Path: [1]_ Sec. 4; resistance: [2]_.

    References
    ----------
    .. [1] Qiu et al. "Reward Generalization in RLHF: A Topological Perspective". arXiv
       2402.10184, Sec. 4.
    .. [2] Klein, Randić. "Resistance distance". J. Math. Chem. 12, 1993.

    Examples
    --------
    Two comparisons in series and one in parallel:

    >>> from starc.preferences import inference_distance, preference_graph
    >>> G = preference_graph([("a", "b"), ("b", "c"), ("a", "c")],
    ...                      hp_variances=[1.0, 1.0, 2.0])
    >>> inference_distance(G, "a", "c")                       # min(1 + 1, 2)
    2.0
    >>> round(inference_distance(G, "a", "c", method="resistance"), 12)  # 2*2/(2+2)
    1.0
    """
    check_choice(method, "method", METHODS)
    return _oracle(G, weight, solver).distance(u, v, method)


def inference_distances(G, pairs, method="path", *, weight=DEFAULT_WEIGHT, solver="auto"):
    r"""Inference distances of many node pairs, sharing one factorisation.

    Parameters
    ----------
    G : networkx graph or InferenceDistanceOracle
    pairs : array_like of shape (K, 2) or sequence of (u, v)
        Node pairs.
    method : {"path", "resistance"}
    weight : str
    solver : {"auto", "lu", "cg", "schur"}

    Returns
    -------
    ndarray of shape (K,)
        ``inf`` for pairs in different components.

    Raises
    ------
    ValidationError
        Unknown node in ``pairs``, malformed ``pairs``, unknown ``method`` or
        ``solver``, or an edge variance that is not finite and > 0.

    Notes
    -----
    Row :math:`k` is :math:`d(u_k, v_k)` with the definitions of
    :func:`inference_distance`:

    .. math::

        d_{\text{res}}(u_k, v_k) = \sum_j \frac{y_j^2}{D_{jj}}, \qquad
        y = L^{-1} P (e_{u_k} - e_{v_k}),

    for the factorisation :math:`P L_g P^\top = L D L^\top` of the grounded Laplacian.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4.
    .. [2] Gilbert, Peierls. SIAM J. Sci. Stat. Comput. 9, 1988 (sparse triangular
       solves).

    Examples
    --------
    >>> import networkx as nx
    >>> from starc.preferences import inference_distances
    >>> inference_distances(nx.cycle_graph(6), [(0, 1), (0, 3)], method="resistance")
    array([0.83333333, 1.5       ])
    """
    check_choice(method, "method", METHODS)
    return _oracle(G, weight, solver).distances(pairs, method)


def inference_distance_matrix(G, nodes=None, method="path", *, weight=DEFAULT_WEIGHT,
                              solver="auto"):
    r"""Matrix of inference distances between ``nodes`` (all nodes by default).

    Parameters
    ----------
    G : networkx graph or InferenceDistanceOracle
    nodes : sequence, optional
        Row and column order; all nodes of ``G`` in iteration order by default.
    method : {"path", "resistance"}
    weight : str
    solver : {"auto", "lu", "cg", "schur"}

    Returns
    -------
    ndarray of shape (K, K)
        Symmetric with zero diagonal; ``inf`` between components. Refused (before
        allocating) when ``K x K`` floats would not fit in memory.

    Raises
    ------
    ValidationError
        Unknown or repeated node, unknown ``method``, or a matrix too large for
        this machine's memory.

    Notes
    -----
    Path rows come from Dijkstra; resistance entries from the grounded inverse
    :math:`G = L_g^{-1}`:

    .. math::

        R_{ij} = G_{ii} + G_{jj} - 2 G_{ij},
        \qquad \sum_{i<j} R_{ij} = N \operatorname{tr}(L^{+})
        \ \text{(Kirchhoff index, connected graphs)}.

    References
    ----------
    .. [1] Klein, Randić. "Resistance distance". J. Math. Chem. 12, 1993.
    .. [2] Qiu et al., arXiv 2402.10184, Sec. 4.

    Examples
    --------
    >>> import networkx as nx
    >>> from starc.preferences import inference_distance_matrix
    >>> inference_distance_matrix(nx.path_graph(3))
    array([[0., 1., 2.],
           [1., 0., 1.],
           [2., 1., 0.]])
    """
    check_choice(method, "method", METHODS)
    return _oracle(G, weight, solver).matrix(nodes, method)


def mean_inference_distance(G, method="path", *, nodes=None, weights=None, n_samples=None,
                            sampling="pairs", seed=None, weight=DEFAULT_WEIGHT,
                            solver="auto"):
    r"""Mean inference distance over pairs of distinct nodes, exact or sampled.

    Parameters
    ----------
    G : networkx graph or InferenceDistanceOracle
    method : {"path", "resistance"}
    nodes : sequence, optional
        The nodes to average over (e.g. the responses, leaving out latent nodes); all
        nodes by default.
    weights : array_like of shape (K,), optional
        Non-negative node weights :math:`\omega` aligned with ``nodes``; a pair
        :math:`\{u, v\}` counts with weight :math:`\omega_u \omega_v`. Uniform by default.
    n_samples : int, optional
        ``None`` computes the exact mean. Otherwise the number of sampled pairs
        (``sampling="pairs"``) or of sampled source nodes (``sampling="sources"``).
    sampling : {"pairs", "sources"}
        ``"pairs"``: draw :math:`u, v \sim \omega` independently, conditioned on
        :math:`u \ne v` (unbiased). ``"sources"``: draw sources :math:`s \sim \omega` and
        average :math:`d(s, t)` over *all* targets :math:`t \ne s` weighted by
        :math:`\omega_t` (a ratio estimator, unbiased for uniform weights, with far lower
        variance per Dijkstra run). Path distances (and forests) only.
    seed : int | numpy.random.Generator | None
        Randomness for the sampled estimators.
    weight : str
    solver : {"auto", "lu", "cg", "schur"}

    Returns
    -------
    float
        The mean; ``inf`` if any pair that enters it is disconnected.

    Raises
    ------
    ValidationError
        Unknown or repeated node, fewer than two nodes (with positive weight),
        negative weights, ``sampling='sources'`` with ``method='resistance'`` on a graph
        with cycles, or a bad ``seed``.

    Notes
    -----
    .. math::

        \bar d = \frac{\sum_{u \ne v} \omega_u \omega_v\, d(u, v)}
                      {\sum_{u \ne v} \omega_u \omega_v}.

    The exact resistance mean needs no distance matrix: with the grounded inverse
    :math:`G`,
    :math:`\sum_{u,v} \omega_u \omega_v R_{uv} = 2 (\mathbf 1^\top\omega)
    \sum_u \omega_u G_{uu} - 2\,\omega^\top G \omega`.
    The mean inference distance is the generalisation measure of [1]_ (Sec. 4): by the
    second-order expansion in THEORY.md section 7 the KL divergence between the human and
    the learned policy is proportional to a mean squared reward-difference error.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4 and Thm. 4.5.
    .. [2] Klein, Randić. "Resistance distance". J. Math. Chem. 12, 1993.

    Examples
    --------
    >>> import networkx as nx
    >>> from starc.preferences import mean_inference_distance
    >>> K5 = nx.complete_graph(5)
    >>> round(mean_inference_distance(K5, "resistance"), 12)      # 2 / N on K_N
    0.4
    >>> mean_inference_distance(nx.path_graph(50), n_samples=2000, seed=0) > 10
    True
    """
    check_choice(method, "method", METHODS)
    return _oracle(G, weight, solver).mean(method, nodes=nodes, weights=weights,
                                           n_samples=n_samples, sampling=sampling,
                                           seed=seed)
