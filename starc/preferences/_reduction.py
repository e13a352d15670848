r"""Exact partial elimination with a dense Schur core: the ``"schur"`` solver (private).

Effective resistances of a graph with conductances :math:`c_e = 1/w_e` are quadratic
forms :math:`b^\top L_g^{-1} b` of the grounded Laplacian. This module factors
:math:`L_g` exactly in three stages, each a block of one symmetric (Cholesky-type)
factorisation :math:`P L_g P^\top = \tilde L\,\mathrm{diag}(D, S)\,\tilde L^\top`.

1. **Sparse elimination** (the generalisation of series/parallel reduction). Nodes are
   eliminated in rounds of *multiple minimum degree*: every round takes an independent
   set of nodes whose current degree is at most about :math:`1.2\times` the minimum
   degree, and replaces the graph by its Schur complement (Kron reduction)

   .. math::

       c'_{ab} = c_{ab} + \frac{c_{xa}\, c_{xb}}{d_x}, \qquad d_x = \sum_y c_{xy},

   for every eliminated node :math:`x` and every pair :math:`a, b` of its neighbours.
   A degree-1 node is a dangling edge, a degree-2 node a series connection, and
   parallel edges add up; higher degrees create fill. Every update *adds* positive
   conductances, so the reduction has no cancellation. The rounds stop when the
   minimum degree exceeds :data:`ELIM_MAX_DEGREE`; the remaining *core* keeps the
   Schur complement, again a weighted graph. The ground nodes (one per connected
   component) are never eliminated.
2. **Block fronts.** If the core is large, a vertex separator of *hubs* is proposed
   (nodes of high core degree plus a greedy vertex cover of the edges between label
   propagation communities of the rest); the non-hub nodes fall into connected
   *blocks* that couple only through the hubs. Each block :math:`A_i` is factored
   densely (:math:`A_i = L_i L_i^\top`) and eliminated onto its hubs,
   :math:`C \leftarrow C - B_i A_i^{-1} B_i^\top`. Any separator gives an exact
   factorisation; a good one only makes it cheaper.
3. **Dense hub core**: the Cholesky factor of the remaining hub Schur complement.

A query :math:`b = e_u - e_v` runs a sparse forward solve through stage 1 that visits
only the positions reachable from :math:`u` and :math:`v` (Gilbert-Peierls), giving
:math:`\sum_j y_j^2/d_j` and a residual :math:`r` on the core, then

.. math::

    r^\top S^{-1} r = \sum_i \lVert L_i^{-1} r_i \rVert^2
        + \lVert L_H^{-1} (r_H - \textstyle\sum_i B_i A_i^{-1} r_i) \rVert^2 ,

with dense triangular solves over a whole batch of queries at once. Everything is a
direct method: the results are exact up to floating-point rounding (no tolerance).

Choosing between one dense core and hub blocks, and whether the plan is affordable at
all, uses a flop and memory model (:func:`plan_cost`); ``solver="auto"`` falls back to
conjugate gradients when it is not.

References
----------
.. [1] Kron. *Tensor Analysis of Networks*. Wiley, 1939 (node elimination).
.. [2] Liu. "Modification of the minimum-degree algorithm by multiple elimination".
   ACM Trans. Math. Softw. 11, 1985.
.. [3] George. "Nested dissection of a regular finite element mesh". SIAM J. Numer.
   Anal. 10, 1973 (separators and dense fronts).
.. [4] Raghavan, Albert, Kumara. "Near linear time algorithm to detect community
   structures in large-scale networks". Phys. Rev. E 76, 2007 (label propagation).
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

#: The sparse rounds stop once every remaining node has more neighbours than this.
ELIM_MAX_DEGREE = 48
#: ... or once the Schur complement holds more than this many stored entries.
ELIM_MAX_NNZ = 40_000_000
#: A round eliminates nodes of degree at most ``ELIM_SLACK * min_degree + 1``.
ELIM_SLACK = 1.2
#: Cores up to this many nodes are always factored as one dense block.
DENSE_SINGLE_MAX = 3_000
#: Core nodes with more than this multiple of the median core degree start as hubs.
HUB_DEGREE_FACTOR = 1.5
#: Blocks with fewer nodes than this are merged into the hubs.
MIN_BLOCK = 16
#: Label-propagation sweeps.
LPA_SWEEPS = 30
#: ``solver="auto"`` uses the plan only if its dense work stays below these.
AUTO_MAX_FLOPS = 4e11
AUTO_MAX_BYTES = 3 * 2 ** 30
#: Queries whose core residuals are processed together by the dense solves.
QUERY_BLOCK = 256


def conductance_csr(n, us, vs, ws):
    """Symmetric CSR of conductances ``1/w`` (parallel edges added, self-loops dropped)."""
    import scipy.sparse as sp

    loop = us == vs
    if np.any(loop):
        us, vs, ws = us[~loop], vs[~loop], ws[~loop]
    c = 1.0 / ws
    W = sp.csr_array((np.concatenate([c, c]), (np.concatenate([us, vs]),
                                               np.concatenate([vs, us]))), shape=(n, n))
    W.sum_duplicates()
    W.sort_indices()
    return W


def _drop_diagonal(M):
    import scipy.sparse as sp

    M = M.tocoo()
    keep = M.row != M.col
    return sp.csr_array((M.data[keep], (M.row[keep], M.col[keep])), shape=M.shape)


def sparse_eliminate(W, protect, *, max_degree, seed=0):
    """Multiple-minimum-degree rounds of exact node elimination (stage 1).

    Parameters
    ----------
    W : scipy.sparse.csr_array, shape (n, n)
        Symmetric conductances, no diagonal.
    protect : ndarray of bool, shape (n,)
        Nodes that are never eliminated.
    max_degree : int
        Stop once the minimum degree of the eliminable nodes exceeds this.

    Returns
    -------
    elim : ndarray of int
        Eliminated nodes in elimination order.
    col_ptr, col_nodes, col_vals : ndarray
        Column ``j`` of the factor (node ``elim[j]``): its neighbours at elimination
        time ``col_nodes[col_ptr[j]:col_ptr[j+1]]`` and ``c_xy / d_x``.
    degree : ndarray of float
        ``d_x`` at elimination (the pivot).
    core : ndarray of int
        Remaining nodes (increasing).
    Wcore : scipy.sparse.csr_array
        Conductances of the Schur complement on ``core``.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    ids = np.arange(W.shape[0], dtype=np.int64)
    prot = np.asarray(protect, bool).copy()
    elim_parts, ptr_parts, node_parts, val_parts, deg_parts = [], [], [], [], []
    W = W.tocsr()
    while True:
        s = W.shape[0]
        deg = np.diff(W.indptr)
        elig = (deg > 0) & ~prot
        if not np.any(elig):
            break
        mindeg = int(deg[elig].min())
        if mindeg > max_degree or W.nnz > ELIM_MAX_NNZ:
            break
        thr = min(max(2, int(ELIM_SLACK * mindeg) + 1), max(max_degree, 2))
        cand = elig & (deg <= thr)
        key = deg + 0.5 * rng.random(s)
        key_c = np.where(cand, key, np.inf)
        rowmin = np.full(s, np.inf)
        nz = deg > 0
        rowmin[nz] = np.minimum.reduceat(key_c[W.indices], W.indptr[:-1][nz])
        X = np.flatnonzero(cand & (key < rowmin))
        if X.size == 0:                           # cannot happen without self-loops
            break
        keep = np.ones(s, bool)
        keep[X] = False
        C = np.flatnonzero(keep)
        P = W[X]                                  # rows of X; columns all in C
        P.sort_indices()
        d = np.asarray(P.sum(axis=1)).ravel()
        elim_parts.append(ids[X])
        ptr_parts.append(np.diff(P.indptr))
        node_parts.append(ids[P.indices])
        val_parts.append(P.data / np.repeat(d, np.diff(P.indptr)))
        deg_parts.append(d)
        Pc = P[:, C]
        upd = Pc.T @ sp.diags_array(1.0 / d) @ Pc
        W = (W[C][:, C] + _drop_diagonal(upd)).tocsr()
        W.sum_duplicates()
        W.sort_indices()
        ids = ids[C]
        prot = prot[C]
    if elim_parts:
        elim = np.concatenate(elim_parts)
        counts = np.concatenate(ptr_parts)
        col_nodes = np.concatenate(node_parts)
        col_vals = np.concatenate(val_parts)
        degree = np.concatenate(deg_parts)
    else:
        elim = np.zeros(0, np.int64)
        counts = np.zeros(0, np.int64)
        col_nodes = np.zeros(0, np.int64)
        col_vals = np.zeros(0)
        degree = np.zeros(0)
    col_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return elim, col_ptr, col_nodes, col_vals, degree, ids, W


def find_blocks(W, *, seed=0):
    """Propose hubs and blocks for a core graph (stage 2).

    Parameters
    ----------
    W : scipy.sparse.csr_array, shape (s, s)
        Core conductances (grounded nodes removed).

    Returns
    -------
    hub : ndarray of bool, shape (s,)
    block : ndarray of int, shape (s,)
        Block label ``0 .. m-1`` of every non-hub node, ``-1`` for hubs. No edge joins
        two different blocks.
    """
    from scipy.sparse.csgraph import connected_components

    from ._kernels import cut_vertex_cover, label_propagation

    s = W.shape[0]
    if s == 0:
        return np.zeros(0, bool), np.zeros(0, np.int64)
    deg = np.diff(W.indptr)
    hub = deg > HUB_DEGREE_FACTOR * np.median(deg)
    rest = np.flatnonzero(~hub)
    R = W[rest][:, rest].tocsr()
    R.sort_indices()
    ip = R.indptr.astype(np.int64)
    ix = R.indices.astype(np.int64)
    lab = label_propagation(ip, ix, LPA_SWEEPS, seed)
    hub[rest[cut_vertex_cover(ip, ix, lab)]] = True
    rest = np.flatnonzero(~hub)
    block = np.full(s, -1, np.int64)
    if rest.size:
        _, comp = connected_components(W[rest][:, rest], directed=False)
        sizes = np.bincount(comp)
        small = sizes[comp] < MIN_BLOCK
        hub[rest[small]] = True
        big = np.flatnonzero(sizes >= MIN_BLOCK)
        relabel = np.full(sizes.shape[0], -1, np.int64)
        relabel[big] = np.arange(big.shape[0])
        block[rest[~small]] = relabel[comp[~small]]
    return hub, block


def plan_cost(W, hub, block):
    """Flops and bytes of the dense stages for a hub/block split of the core."""
    s = W.shape[0]
    h = int(hub.sum())
    flops = h ** 3 / 3.0
    nbytes = 8.0 * h * h
    peak_tmp = 0.0
    m = int(block.max()) + 1 if s else 0
    if m:
        Wc = W.tocsc()
        order = np.argsort(block, kind="stable")
        sizes = np.bincount(block[block >= 0], minlength=m)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        nonhub = order[np.count_nonzero(block < 0):]
        for i in range(m):
            cols = nonhub[starts[i]:starts[i + 1]]
            sub = Wc[:, cols]
            b = int(np.count_nonzero(hub[np.unique(sub.indices)]))
            k = cols.shape[0]
            flops += k ** 3 / 3.0 + b * k * k + b * b * k
            nbytes += 8.0 * (k * k + 2 * b * k)
            peak_tmp = max(peak_tmp, 8.0 * (b * k + b * b))
    return flops, nbytes + peak_tmp


class DenseCore:
    """Dense stages 2 and 3 on the grounded core Laplacian ``S`` (private).

    Core rows are ordered: block 0, block 1, ..., then the hubs (``self.order`` maps
    these positions to the core nodes given to the constructor).
    """

    def __init__(self, S, hub, block):
        import scipy.sparse as sp
        from scipy.linalg import lapack

        s = S.shape[0]
        m = int(block.max()) + 1 if s else 0
        nonhub = np.flatnonzero(~hub)
        nonhub = nonhub[np.argsort(block[nonhub], kind="stable")]
        hubs = np.flatnonzero(hub)
        self.order = np.concatenate([nonhub, hubs]).astype(np.int64)
        self.s = s
        P = S[self.order][:, self.order].tocsr()
        sizes = np.bincount(block[block >= 0], minlength=m) if m else np.zeros(0, np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.h0 = int(starts[-1])
        self.blocks = []
        C = P[self.h0:, self.h0:].toarray()
        for i in range(m):
            a, b = int(starts[i]), int(starts[i + 1])
            A = P[a:b, a:b].toarray()
            L, info = lapack.dpotrf(A, lower=1, clean=1, overwrite_a=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"block {i} of the Schur core is not positive "
                                            f"definite (dpotrf info {info})")
            B = sp.csr_array(P[self.h0:, a:b])
            rows = np.flatnonzero(np.diff(B.indptr))
            Bsub = B[rows].toarray()
            if rows.size:
                from scipy.linalg import blas

                G = blas.dtrsm(1.0, L, Bsub, side=1, lower=1, trans_a=1)
                sub = C[np.ix_(rows, rows)]
                sub = blas.dsyrk(-1.0, G, beta=1.0, c=sub, lower=1, overwrite_c=1)
                C[np.ix_(rows, rows)] = sub
                del G
            self.blocks.append((a, b, L, rows, sp.csr_array(B[rows])))
        if C.shape[0]:
            LH, info = lapack.dpotrf(C, lower=1, clean=1, overwrite_a=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"the hub Schur complement is not positive "
                                            f"definite (dpotrf info {info})")
        else:
            LH = C
        self.LH = LH

    def _forward(self, R):
        """Per-block ``W_i = L_i^{-1} R_i``, ``V_i = A_i^{-1} R_i`` and the hub part."""
        from scipy.linalg import solve_triangular

        q = np.zeros(R.shape[1])
        RH = R[self.h0:].copy()
        parts = []
        for a, b, L, rows, B in self.blocks:
            Ri = R[a:b]
            if not np.any(Ri):
                parts.append(None)
                continue
            Wi = solve_triangular(L, Ri, lower=True, check_finite=False)
            q += np.einsum("ij,ij->j", Wi, Wi)
            Vi = solve_triangular(L, Wi, lower=True, trans=1, check_finite=False)
            if rows.size:
                RH[rows] -= B @ Vi
            parts.append(Vi)
        if RH.shape[0]:
            WH = solve_triangular(self.LH, RH, lower=True, check_finite=False)
            q += np.einsum("ij,ij->j", WH, WH)
        else:
            WH = RH
        return q, parts, WH

    def quad(self, R):
        """``r^T S^{-1} r`` for every column of ``R`` (core positions in ``order``)."""
        if self.s == 0:
            return np.zeros(R.shape[1])
        return self._forward(R)[0]

    def solve(self, R):
        """``S^{-1} R`` (rows in ``order``)."""
        from scipy.linalg import solve_triangular

        Z = np.zeros_like(R)
        if self.s == 0:
            return Z
        _, parts, WH = self._forward(R)
        if WH.shape[0]:
            ZH = solve_triangular(self.LH, WH, lower=True, trans=1, check_finite=False)
            Z[self.h0:] = ZH
        else:
            ZH = WH
        for (a, b, L, rows, B), Vi in zip(self.blocks, parts):
            T = np.zeros((b - a, R.shape[1]))
            if rows.size:
                T = B.T @ ZH[rows]
            if Vi is None:
                Vi = np.zeros_like(T)
            if np.any(T):
                T = solve_triangular(L, T, lower=True, check_finite=False)
                T = solve_triangular(L, T, lower=True, trans=1, check_finite=False)
            Z[a:b] = Vi - T
        return Z


class SchurFactor:
    """Exact factorisation of a grounded Laplacian by partial elimination (private).

    Parameters
    ----------
    n : int
    us, vs, ws : ndarray
        Edges and variances (parallel edges allowed).
    gidx : ndarray of int, shape (n,)
        Grounded index of every node, ``-1`` for the ground nodes (one per component).
    max_flops, max_bytes : float or None
        Refuse (``self.ok = False``) a plan whose dense stages need more.
    """

    def __init__(self, n, us, vs, ws, gidx, *, max_flops=None, max_bytes=None,
                 max_degree=None, plan="auto"):
        import time

        import scipy.sparse as sp

        t0 = time.perf_counter()
        self.n = n
        ground = gidx < 0
        W = conductance_csr(n, us, vs, ws)
        if max_degree is None:
            max_degree = ELIM_MAX_DEGREE
        elim, col_ptr, col_nodes, col_vals, degree, core, Wcore = sparse_eliminate(
            W, ground, max_degree=max_degree)
        t1 = time.perf_counter()
        core_ground = ground[core]
        inner = np.flatnonzero(~core_ground)
        Wg = Wcore[inner][:, inner].tocsr()
        Wg.sort_indices()
        s = inner.shape[0]
        if plan == "blocks" or (plan == "auto" and s > DENSE_SINGLE_MAX):
            hub, block = find_blocks(Wg)
            cost = plan_cost(Wg, hub, block)
            single = (s ** 3 / 3.0, 8.0 * s * s)
            if plan == "auto" and single[0] <= cost[0]:
                hub, block, cost = np.ones(s, bool), np.full(s, -1, np.int64), single
        else:
            hub, block = np.ones(s, bool), np.full(s, -1, np.int64)
            cost = (s ** 3 / 3.0, 8.0 * s * s)
        self.flops, self.nbytes = cost
        t2 = time.perf_counter()
        self.n_elim = int(elim.shape[0])
        self.n_core = s
        self.n_blocks = int(block.max()) + 1 if s else 0
        self.n_hubs = int(hub.sum())
        self.ok = not ((max_flops is not None and cost[0] > max_flops)
                       or (max_bytes is not None and cost[1] > max_bytes))
        logger.debug("schur plan: %d eliminated (%.2f s), core %d (%d blocks, %d hubs; "
                     "%.2f s), %.3g flops, %.3g bytes, ok=%s", self.n_elim, t1 - t0, s,
                     self.n_blocks, self.n_hubs, t2 - t1, cost[0], cost[1], self.ok)
        if not self.ok:
            return
        from .._validation import check_memory

        check_memory((int(cost[1] // 8),), "the dense Schur core of the resistance solver")
        # grounded core Laplacian: weighted degree (edges to grounded nodes included)
        dfull = np.asarray(Wcore.sum(axis=1)).ravel()[inner]
        S = (sp.diags_array(dfull) - Wg).tocsr()
        self.core = DenseCore(S, hub, block)
        logger.debug("schur dense stages: %.2f s", time.perf_counter() - t2)
        # positions: eliminated nodes, core nodes in the dense order, ground nodes
        pos = np.empty(n, np.int64)
        pos[elim] = np.arange(self.n_elim)
        pos[core[inner[self.core.order]]] = self.n_elim + np.arange(s)
        gnodes = np.flatnonzero(ground)
        pos[gnodes] = self.n_elim + s + np.arange(gnodes.shape[0])
        self.n_pos = n
        self._lp = np.concatenate([col_ptr, np.full(n - self.n_elim, col_ptr[-1])])
        self._li = pos[col_nodes].astype(np.int64)
        self._lx = col_vals.astype(np.float64)
        self._dinv = np.concatenate([1.0 / degree, np.zeros(n - self.n_elim)])
        g_nodes = np.empty(int((~ground).sum()), np.int64)
        g_nodes[gidx[~ground]] = np.flatnonzero(~ground)
        self._pos_of_g = pos[g_nodes]

    def quadforms(self, ga, gb):
        """``(e_a - e_b)^T L_g^{-1} (e_a - e_b)`` per query (grounded indices, ``-1``:
        absent)."""
        from ._kernels import partial_forward_quadform

        k = ga.shape[0]
        out = np.empty(k)
        pa = np.where(ga >= 0, self._pos_of_g[np.maximum(ga, 0)], -1).astype(np.int64)
        pb = np.where(gb >= 0, self._pos_of_g[np.maximum(gb, 0)], -1).astype(np.int64)
        for s0 in range(0, k, QUERY_BLOCK):
            sl = slice(s0, min(k, s0 + QUERY_BLOCK))
            R = np.zeros((self.n_core, sl.stop - s0))
            q1 = partial_forward_quadform(self._lp, self._li, self._lx, self._dinv,
                                          self.n_elim, self.n_core, pa[sl], pb[sl], R)
            out[sl] = q1 + self.core.quad(R)
        return out

    def solve(self, B):
        """``L_g^{-1} B`` for a dense ``(n_g, k)`` block (grounded order)."""
        from ._kernels import partial_backward_dense, partial_forward_dense

        B = np.asarray(B, dtype=np.float64)
        Y = np.zeros((self.n_pos, B.shape[1]))
        Y[self._pos_of_g] = B
        partial_forward_dense(self._lp, self._li, self._lx, self.n_elim, Y)
        ne, nc = self.n_elim, self.n_core
        Y[:ne] *= self._dinv[:ne, None]
        Y[ne:ne + nc] = self.core.solve(Y[ne:ne + nc])
        Y[ne + nc:] = 0.0
        partial_backward_dense(self._lp, self._li, self._lx, ne, Y)
        return Y[self._pos_of_g]
