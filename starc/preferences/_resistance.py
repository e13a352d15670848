r"""Grounded-Laplacian solves for effective resistances: the ``"lu"`` and ``"cg"`` routes (private).

The resistance inference distance of :mod:`starc.preferences.inference_distance` is a
quadratic form of the grounded Laplacian. With one node per connected component
grounded (potential 0), :math:`L_g` is symmetric positive definite and

.. math::

    d_{\text{res}}(u, v) = b^\top L_g^{-1} b, \qquad b = e_u - e_v
    \ \text{(restricted to the ungrounded nodes)}.

This module holds the sparse linear algebra behind it; the public functions and the
choice between routes are documented in :mod:`starc.preferences.inference_distance`.

* :class:`LDLFactor` factors :math:`P L_g P^\top = L D L^\top` (SuperLU, symmetric
  minimum-degree ordering, diagonal pivots) and answers a query with a sparse triangular
  solve visiting only the part of :math:`L` reachable from :math:`u` and :math:`v` [1]_:
  :math:`d = \sum_j y_j^2 / D_{jj}` with :math:`y = L^{-1} P b`.
* :func:`block_pcg` runs preconditioned conjugate gradients on a block of right-hand
  sides at once; the preconditioner (:func:`augmented_tree`) is the Laplacian of the
  maximum-conductance spanning forest plus the diagonal of the remaining edges, solved
  without fill.
* :class:`ResistanceEngine` grounds the graph, picks the route for ``solver="auto"``
  (:func:`branch_nodes` and the reverse Cuthill-McKee envelope measure LU's fill; the
  exact partial elimination of :mod:`starc.preferences._reduction` is tried before
  conjugate gradients) and answers solves and quadratic forms.

Parallel edges: the shortest-path adjacency keeps the smallest variance of a bundle, the
electrical network adds conductances, :math:`1/w = \sum_i 1/w_i`
(:func:`merge_edge_arrays`).

References
----------
.. [1] Gilbert, Peierls. "Sparse partial pivoting in time proportional to arithmetic
   operations". SIAM J. Sci. Stat. Comput. 9, 1988.
.. [2] Hestenes, Stiefel. "Methods of conjugate gradients for solving linear systems".
   J. Res. Nat. Bur. Standards 49, 1952.
.. [3] Vaidya. "Solving linear equations with symmetric diagonally dominant matrices by
   constructing good preconditioners". Unpublished manuscript, 1991 (spanning-tree
   preconditioners).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..exceptions import ConvergenceError, SolverError
from .graphs import laplacian_from_edges

__all__ = ["LDLFactor", "ResistanceEngine", "augmented_tree", "block_pcg", "branch_nodes",
           "csr_adjacency", "merge_edge_arrays", "quadforms_by_solve",
           "LU_ALWAYS_MAX_NODES", "LU_MAX_BRANCH_NODES", "LU_MEAN_ENVELOPE_MAX", "CG_RTOL",
           "BLOCK_ENTRIES", "CG_BLOCK"]

logger = logging.getLogger(__name__)

#: Graphs with at most this many (grounded) nodes are always factored with LU.
LU_ALWAYS_MAX_NODES = 10_000
#: ... and so are graphs with at most this many branch nodes (see ``branch_nodes``).
LU_MAX_BRANCH_NODES = 4_000
#: Above that, LU is used when the reverse Cuthill-McKee envelope has at most this many
#: entries per row on average (grids: ~ the side length; random graphs: ~ N / 5).
LU_MEAN_ENVELOPE_MAX = 400
#: Relative residual at which conjugate gradients stops.
CG_RTOL = 1e-10
#: Number of float64 entries per dense work array (columns are processed in blocks).
BLOCK_ENTRIES = 2 ** 22
#: Right-hand sides solved together by conjugate gradients.
CG_BLOCK = 32


def merge_edge_arrays(n, us, vs, ws, how):
    """Merge parallel edges of integer edge arrays: 'min' variance or parallel 'sum'."""
    a = np.minimum(us, vs)
    b = np.maximum(us, vs)
    key = a * n + b
    order = np.argsort(key, kind="stable")
    key_s = key[order]
    starts = np.flatnonzero(np.r_[True, key_s[1:] != key_s[:-1]]) if len(key_s) else \
        np.zeros(0, np.int64)
    if how == "min":
        merged = np.minimum.reduceat(ws[order], starts) if len(starts) else ws[:0]
    else:
        cond = np.add.reduceat(1.0 / ws[order], starts) if len(starts) else ws[:0]
        merged = 1.0 / cond
    return a[order][starts], b[order][starts], merged


def csr_adjacency(n, us, vs, ws):
    """Symmetric ``(n, n)`` CSR array with ``ws`` at ``(us, vs)`` and ``(vs, us)``, sorted
    indices (duplicates are summed: merge parallel edges first)."""
    import scipy.sparse as sp

    M = sp.csr_array((np.concatenate([ws, ws]), (np.concatenate([us, vs]),
                                                   np.concatenate([vs, us]))), shape=(n, n))
    M.sort_indices()
    return M


class LDLFactor:
    """Symmetric factorisation ``P A P^T = L D L^T`` of an SPD sparse matrix (private).

    SuperLU with a symmetric minimum-degree ordering and diagonal pivots; when its row
    and column permutations agree (they do for SPD input) the compiled kernels solve
    with ``L`` and ``D`` directly, otherwise SuperLU's own solve is used.
    """

    def __init__(self, A):
        from scipy.sparse.linalg import splu

        self.n = A.shape[0]
        self.lu = splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options={"SymmetricMode": True})
        self.fast = False
        perm_r = np.asarray(self.lu.perm_r, np.int64)
        if self.n and np.array_equal(perm_r, np.asarray(self.lu.perm_c, np.int64)):
            Lf = self.lu.L.tocsc()
            self._lp = Lf.indptr.astype(np.int64)
            self._li = Lf.indices.astype(np.int64)
            self._lx = Lf.data.astype(np.float64)
            self._dinv = 1.0 / self.lu.U.diagonal()
            self._perm = perm_r
            self.fast = True
            # spot check of the L D L^T identity against SuperLU's own solve
            rhs = np.zeros((self.n, 1))
            rhs[0, 0] = 1.0
            rhs[-1, 0] -= 1.0
            fast = self.quadforms(np.array([0]), np.array([self.n - 1]))[0]
            slow = float(rhs[:, 0] @ self.lu.solve(rhs[:, 0]))
            if not math.isclose(fast, slow, rel_tol=1e-8, abs_tol=1e-300):
                logger.debug("LDL^T spot check failed (%r vs %r); using SuperLU solves",
                             fast, slow)
                self.fast = False

    def solve(self, B):
        """``A^{-1} B`` for a dense ``(n, k)`` block."""
        if self.fast:
            from ._kernels import ldl_solve_block

            return ldl_solve_block(self._lp, self._li, self._lx, self._dinv, self._perm,
                                   np.ascontiguousarray(B, dtype=np.float64))
        return self.lu.solve(np.asarray(B, dtype=np.float64))

    def quadforms(self, ga, gb):
        """``b^T A^{-1} b`` with ``b = e_a - e_b`` (``-1`` = absent) per query."""
        from ._kernels import triangular_quadform_many

        if not self.fast:
            return quadforms_by_solve(self.solve, self.n, ga, gb, self.n)
        pa = np.where(ga >= 0, self._perm[np.maximum(ga, 0)], -1).astype(np.int64)
        pb = np.where(gb >= 0, self._perm[np.maximum(gb, 0)], -1).astype(np.int64)
        return triangular_quadform_many(self._lp, self._li, self._lx, self._dinv, pa, pb,
                                        -1.0)


def quadforms_by_solve(solve, n_g, ga, gb, block):
    k = ga.shape[0]
    out = np.empty(k)
    block = int(max(1, min(k, block, BLOCK_ENTRIES // max(n_g, 1))))
    for start in range(0, k, block):
        sl = slice(start, min(k, start + block))
        a = ga[sl]
        b = gb[sl]
        cols = np.arange(a.shape[0])
        B = np.zeros((n_g, a.shape[0]))
        ma = a >= 0
        B[a[ma], cols[ma]] += 1.0
        mb = b >= 0
        B[b[mb], cols[mb]] -= 1.0
        out[sl] = np.einsum("ij,ij->j", B, solve(B))
    return out


class ResistanceEngine:
    """Grounded-Laplacian solves for effective resistances (private)."""

    def __init__(self, n, us, vs, ws, labels, n_components, solver):
        import scipy.sparse as sp

        # the lowest-index node of every component is its ground (potential 0)
        first = np.full(n_components, n, np.int64)
        np.minimum.at(first, labels, np.arange(n, dtype=np.int64))
        keep = np.ones(n, bool)
        keep[first] = False
        self.gidx = np.full(n, -1, np.int64)
        self.gidx[keep] = np.arange(int(keep.sum()))
        self.n_g = int(keep.sum())
        L = laplacian_from_edges(n, us, vs, 1.0 / ws)
        Lg = L[keep][:, keep].tocsr() if self.n_g else sp.csr_array((0, 0))
        Lg.sort_indices()
        self.Lg = Lg
        if self.n_g == 0:
            self.solver = "lu"
            self.factor = None
            return
        self.factor = None
        if solver == "auto":
            if self._lu_is_cheap(Lg):
                solver = "lu"
            else:
                factor = self._schur(n, us, vs, ws, auto=True)
                if factor is not None:
                    solver, self.factor = "schur", factor
                else:
                    solver = "lu" if self.n_g <= LU_ALWAYS_MAX_NODES else "cg"
        elif solver == "schur":
            self.factor = self._schur(n, us, vs, ws, auto=False)
        self.solver = solver
        if solver == "lu":
            self.factor = LDLFactor(Lg)
        elif solver == "cg":
            self.precond = LDLFactor(augmented_tree(n, us, vs, ws, L)[keep][:, keep])
        logger.debug("resistance engine: %d grounded nodes, solver=%s", self.n_g, self.solver)

    def _schur(self, n, us, vs, ws, auto):
        """The partial-elimination factor; ``None`` when ``auto`` and it is too costly."""
        from .._validation import available_memory_bytes
        from ._reduction import AUTO_MAX_BYTES, AUTO_MAX_FLOPS, SchurFactor

        try:
            if auto:
                max_bytes = min(AUTO_MAX_BYTES, 0.5 * available_memory_bytes())
                factor = SchurFactor(n, us, vs, ws, self.gidx, max_flops=AUTO_MAX_FLOPS,
                                     max_bytes=max_bytes)
                return factor if factor.ok else None
            return SchurFactor(n, us, vs, ws, self.gidx)
        except np.linalg.LinAlgError as exc:
            if auto:
                logger.debug("schur factor failed (%s); falling back", exc)
                return None
            raise SolverError(
                f"the dense Schur core of the resistance solver is not numerically positive "
                f"definite ({exc}); the edge variances span too many orders of magnitude "
                "for a direct factorisation -- try solver='cg'") from exc

    @staticmethod
    def _lu_is_cheap(Lg):
        """Whether the sparse LU factor has little fill: few branch nodes, or a small
        reverse Cuthill-McKee envelope (grids, banded graphs)."""
        n_g = Lg.shape[0]
        if branch_nodes(Lg) <= LU_MAX_BRANCH_NODES:
            return True
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        perm = reverse_cuthill_mckee(Lg, symmetric_mode=True)
        P = Lg[perm][:, perm].tocsr()
        P.sort_indices()
        first = P.indices[P.indptr[:-1]]
        envelope = int(np.sum(np.maximum(np.arange(n_g) - first, 0)))
        return envelope <= LU_MEAN_ENVELOPE_MAX * n_g

    @staticmethod
    def _choose(Lg):
        """The choice between the two sparse routes alone: LU when its fill is small or
        the graph has at most ``LU_ALWAYS_MAX_NODES`` nodes, CG otherwise. (``"auto"``
        tries the ``"schur"`` factor before falling back to this.)"""
        if Lg.shape[0] <= LU_ALWAYS_MAX_NODES or ResistanceEngine._lu_is_cheap(Lg):
            return "lu"
        return "cg"

    def solve(self, B):
        """``L_g^{-1} B`` for a dense ``(n_g, k)`` block."""
        if self.solver in ("lu", "schur"):
            return self.factor.solve(B)
        out = np.empty_like(B, dtype=np.float64)
        block = CG_BLOCK
        for s in range(0, B.shape[1], block):
            out[:, s:s + block] = block_pcg(self.Lg, B[:, s:s + block], self.precond.solve)
        return out

    def quadforms(self, ga, gb):
        """``(e_a - e_b)^T L_g^{-1} (e_a - e_b)`` per query (``gb = -1``: only ``e_a``)."""
        if ga.shape[0] == 0:
            return np.zeros(0)
        if self.solver in ("lu", "schur"):
            return self.factor.quadforms(ga, gb)
        return quadforms_by_solve(self.solve, self.n_g, ga, gb, CG_BLOCK)


def branch_nodes(Lg):
    """Nodes of degree >= 3 left after peeling off pendant trees (degree-1 nodes).

    Minimum-degree elimination removes pendant trees and series chains without fill, so
    the factorisation cost is governed by the graph on these branch nodes.
    """
    A = Lg.tocsr()
    deg = np.diff(A.indptr) - 1                 # off-diagonal entries (diagonal stored)
    alive = np.ones(A.shape[0], bool)
    stack = list(np.flatnonzero(deg <= 1))
    indptr, indices = A.indptr, A.indices
    while stack:
        v = stack.pop()
        if not alive[v]:
            continue
        alive[v] = False
        for u in indices[indptr[v]:indptr[v + 1]]:
            if u != v and alive[u]:
                deg[u] -= 1
                if deg[u] == 1:
                    stack.append(u)
    return int(np.count_nonzero(alive & (deg >= 3)))


def augmented_tree(n, us, vs, ws, L):
    """Max-conductance spanning forest Laplacian plus the diagonal of the other edges.

    Solving with it costs O(n) (no fill-in) and it is spectrally close to ``L`` when a
    few strong edges dominate, which is where Jacobi preconditioning fails.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import minimum_spanning_tree

    mu, mv, mw = merge_edge_arrays(n, us, vs, ws, "sum")
    W = sp.csr_array((mw, (mu, mv)), shape=(n, n))
    T = minimum_spanning_tree(W).tocoo()
    LT = laplacian_from_edges(n, T.row.astype(np.int64), T.col.astype(np.int64),
                              1.0 / T.data)
    extra = L.diagonal() - LT.diagonal()
    return (LT + sp.diags_array(np.maximum(extra, 0.0))).tocsr()


def block_pcg(A, B, precond, rtol=CG_RTOL, maxiter=None):
    """Preconditioned conjugate gradients on the columns of ``B`` at once."""
    n, k = B.shape
    if maxiter is None:
        maxiter = max(1_000, 20 * int(math.sqrt(n)) + 100)
    X = np.zeros((n, k))
    norms = np.linalg.norm(B, axis=0)
    active = np.flatnonzero(norms > 0)
    bnorm = norms[active]
    R = np.ascontiguousarray(B[:, active], dtype=np.float64)
    Z = precond(R)
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    Xa = np.zeros_like(R)
    for _ in range(maxiter):
        if active.size == 0:
            return X
        AP = A @ P
        alpha = rz / np.einsum("ij,ij->j", P, AP)
        Xa += alpha * P
        R -= alpha * AP
        done = np.linalg.norm(R, axis=0) <= rtol * bnorm
        if np.any(done):
            X[:, active[done]] = Xa[:, done]
            keep = ~done
            active, bnorm = active[keep], bnorm[keep]
            Xa, R, P, rz = Xa[:, keep], np.ascontiguousarray(R[:, keep]), P[:, keep], rz[keep]
            if active.size == 0:
                return X
        Z = precond(R)
        rz_new = np.einsum("ij,ij->j", R, Z)
        P = Z + (rz_new / rz) * P
        rz = rz_new
    raise ConvergenceError(
        f"conjugate gradients did not reach relative residual {rtol:g} on {active.size} "
        f"right-hand side(s) within {maxiter} iterations on a {n}-node grounded Laplacian; "
        "the graph is badly conditioned -- try solver='lu'")
