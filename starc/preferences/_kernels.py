"""Compiled kernels behind :mod:`starc.preferences.inference_distance` (private).

Loops that numpy and scipy cannot express without a Python-level loop per query (or per
node):

* :func:`bidirectional_dijkstra_many` -- point-to-point shortest paths on a symmetric
  CSR graph with positive weights, one bidirectional Dijkstra search per query. Each
  search stops as soon as the two frontiers certify the optimum, so a query on a
  ``10**5``-node expander touches a few thousand nodes instead of all of them.
  Oracle: :func:`scipy.sparse.csgraph.dijkstra`.
* :func:`triangular_quadform_many` -- ``y = L^{-1} b`` for right-hand sides ``b`` with one
  or two non-zeros, followed by ``sum_j y_j^2 / d_j``. With ``L D L^T`` the symmetric
  factorisation of a grounded Laplacian this is the effective resistance; only the
  nodes reachable from the non-zeros of ``b`` in the graph of ``L`` are visited
  (Gilbert-Peierls). Oracle: a dense solve with the full factorisation.

* :func:`partial_forward_quadform` -- the same reach-limited forward solve through the
  sparse part of the ``"schur"`` solver's partial elimination
  (:mod:`starc.preferences._reduction`), which also hands the residual that reaches the
  dense core back as one column per query; :func:`partial_forward_dense` and
  :func:`partial_backward_dense` are its dense-block forward and transposed solves.
  Oracle: a dense triangular solve.
* :func:`label_propagation` and :func:`cut_vertex_cover` -- community labels and a greedy
  vertex cover of the edges between communities, which propose the hub separator of the
  ``"schur"`` solver's dense core. Oracle: the covering property itself.

The query kernels reuse their work arrays across queries and reset only what a query
touched. The two reach-limited solves share their work arrays, their start (the
right-hand side and its symbolic step, :func:`_start_query` and :func:`_reach`) and their
reset (:func:`_clear`), all inlined into both by numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _push(keys, vals, size, key, val):
    i = size
    keys[i] = key
    vals[i] = val
    while i > 0:
        p = (i - 1) >> 1
        if keys[p] <= keys[i]:
            break
        tk = keys[p]
        keys[p] = keys[i]
        keys[i] = tk
        tv = vals[p]
        vals[p] = vals[i]
        vals[i] = tv
        i = p
    return size + 1


@njit(cache=True)
def _pop(keys, vals, size):
    key = keys[0]
    val = vals[0]
    size -= 1
    if size > 0:
        keys[0] = keys[size]
        vals[0] = vals[size]
        i = 0
        while True:
            left = 2 * i + 1
            if left >= size:
                break
            c = left
            right = left + 1
            if right < size and keys[right] < keys[left]:
                c = right
            if keys[i] <= keys[c]:
                break
            tk = keys[c]
            keys[c] = keys[i]
            keys[i] = tk
            tv = vals[c]
            vals[c] = vals[i]
            vals[i] = tv
            i = c
    return key, val, size


# The forward and backward halves of the search below are written out on purpose: one
# helper for both (a plain or an inline="always" njit call, or 2-row work arrays indexed
# by side) made the search 30-50 % slower on a 40,000-node grid; a swap helper for the
# heap cost 1-2 %.
@njit(cache=True)
def bidirectional_dijkstra_many(indptr, indices, data, sources, targets):
    """Shortest-path length between ``sources[q]`` and ``targets[q]`` for every q.

    ``indptr, indices, data`` is a symmetric CSR adjacency with positive weights.
    Unreachable targets give ``inf``.
    """
    n = indptr.shape[0] - 1
    m = indices.shape[0]
    inf = np.inf
    dist_f = np.full(n, inf)
    dist_b = np.full(n, inf)
    done_f = np.zeros(n, np.bool_)
    done_b = np.zeros(n, np.bool_)
    touched_f = np.empty(n, np.int64)
    touched_b = np.empty(n, np.int64)
    keys_f = np.empty(m + 1)
    vals_f = np.empty(m + 1, np.int64)
    keys_b = np.empty(m + 1)
    vals_b = np.empty(m + 1, np.int64)
    n_queries = sources.shape[0]
    out = np.empty(n_queries)
    for q in range(n_queries):
        s = sources[q]
        t = targets[q]
        if s == t:
            out[q] = 0.0
            continue
        size_f = _push(keys_f, vals_f, 0, 0.0, s)
        size_b = _push(keys_b, vals_b, 0, 0.0, t)
        dist_f[s] = 0.0
        dist_b[t] = 0.0
        touched_f[0] = s
        touched_b[0] = t
        nt_f = 1
        nt_b = 1
        mu = inf
        while size_f > 0 and size_b > 0:
            if keys_f[0] + keys_b[0] >= mu:
                break
            if keys_f[0] <= keys_b[0]:
                d, x, size_f = _pop(keys_f, vals_f, size_f)
                if done_f[x] or d > dist_f[x]:
                    continue
                done_f[x] = True
                for k in range(indptr[x], indptr[x + 1]):
                    y = indices[k]
                    nd = d + data[k]
                    if nd < dist_f[y]:
                        if dist_f[y] == inf:
                            touched_f[nt_f] = y
                            nt_f += 1
                        dist_f[y] = nd
                        size_f = _push(keys_f, vals_f, size_f, nd, y)
                    if dist_b[y] < inf:
                        cand = nd + dist_b[y]
                        if cand < mu:
                            mu = cand
            else:
                d, x, size_b = _pop(keys_b, vals_b, size_b)
                if done_b[x] or d > dist_b[x]:
                    continue
                done_b[x] = True
                for k in range(indptr[x], indptr[x + 1]):
                    y = indices[k]
                    nd = d + data[k]
                    if nd < dist_b[y]:
                        if dist_b[y] == inf:
                            touched_b[nt_b] = y
                            nt_b += 1
                        dist_b[y] = nd
                        size_b = _push(keys_b, vals_b, size_b, nd, y)
                    if dist_f[y] < inf:
                        cand = nd + dist_f[y]
                        if cand < mu:
                            mu = cand
        out[q] = mu
        for i in range(nt_f):
            y = touched_f[i]
            dist_f[y] = inf
            done_f[y] = False
        for i in range(nt_b):
            y = touched_b[i]
            dist_b[y] = inf
            done_b[y] = False
    return out


@njit(cache=True, inline="always")
def _reach(lp, li, a, b, mark, stack, reach):
    """Sorted positions reachable from ``a`` and ``b`` (``-1`` = absent) in the graph of
    the lower-triangular CSC pattern ``lp, li``: the non-zeros of ``L^{-1} (x e_a + y e_b)``,
    in the order a forward solve visits them (Gilbert-Peierls). Marks them in ``mark``;
    ``stack`` and ``reach`` are work arrays of length ``n``. A diagonal entry leads to a
    position already marked, so needs no test of its own."""
    nr = 0
    for side in range(2):
        start = a if side == 0 else b
        if start < 0 or mark[start]:
            continue
        top = 0
        stack[0] = start
        mark[start] = True
        while top >= 0:
            j = stack[top]
            top -= 1
            reach[nr] = j
            nr += 1
            for k in range(lp[j], lp[j + 1]):
                i = li[k]
                if not mark[i]:
                    mark[i] = True
                    top += 1
                    stack[top] = i
    return np.sort(reach[:nr])


@njit(cache=True, inline="always")
def _query_work(n):
    """Work arrays of the reach-limited solves over ``n`` positions: ``y`` (zero), ``mark``
    (False), ``stack`` and ``reach``."""
    return np.zeros(n), np.zeros(n, np.bool_), np.empty(n, np.int64), np.empty(n, np.int64)


@njit(cache=True, inline="always")
def _start_query(lp, li, a, b, coef_b, y, mark, stack, reach):
    """Start a query: the right-hand side ``e_a + coef_b e_b`` (``-1`` = absent) into
    ``y`` and the positions its solve visits (:func:`_reach`)."""
    order = _reach(lp, li, a, b, mark, stack, reach)
    if a >= 0:
        y[a] += 1.0
    if b >= 0:
        y[b] += coef_b
    return order


@njit(cache=True, inline="always")
def _clear(order, y, mark):
    """Zero ``y`` and unmark at the positions ``order`` (what one query touched)."""
    for r in range(order.shape[0]):
        j = order[r]
        y[j] = 0.0
        mark[j] = False


@njit(cache=True)
def triangular_quadform_many(lp, li, lx, dinv, pos_a, pos_b, coef_b):
    """``sum_j dinv[j] * y[j]**2`` with ``y = L^{-1} (e_a + coef_b e_b)`` per query.

    ``lp, li, lx`` is a unit lower-triangular CSC matrix (entries with row <= column are
    ignored). ``pos_a[q]`` and ``pos_b[q]`` are row positions, ``-1`` for "absent".
    """
    y, mark, stack, reach = _query_work(lp.shape[0] - 1)
    n_queries = pos_a.shape[0]
    out = np.empty(n_queries)
    for q in range(n_queries):
        order = _start_query(lp, li, pos_a[q], pos_b[q], coef_b, y, mark, stack, reach)
        acc = 0.0
        for r in range(order.shape[0]):
            j = order[r]
            yj = y[j]
            if yj != 0.0:
                for k in range(lp[j], lp[j + 1]):
                    i = li[k]
                    if i > j:
                        y[i] -= lx[k] * yj
                acc += yj * yj * dinv[j]
        _clear(order, y, mark)
        out[q] = acc
    return out


@njit(cache=True)
def ldl_solve_block(lp, li, lx, dinv, perm, rhs):
    """``A^{-1} B`` from ``P A P^T = L D L^T`` (``L`` unit lower CSC, ``dinv = 1/diag(D)``).

    ``perm[i]`` is the position of original row ``i`` in the factor's ordering; ``rhs``
    has shape ``(n, k)``. Oracle: ``scipy.sparse.linalg.splu(A).solve(B)``.
    """
    n, k = rhs.shape
    y = np.empty((n, k))
    for i in range(n):
        y[perm[i], :] = rhs[i, :]
    for j in range(n):
        for p in range(lp[j], lp[j + 1]):
            i = li[p]
            if i > j:
                a = lx[p]
                for c in range(k):
                    y[i, c] -= a * y[j, c]
    for j in range(n):
        d = dinv[j]
        for c in range(k):
            y[j, c] *= d
    for j in range(n - 1, -1, -1):
        for p in range(lp[j], lp[j + 1]):
            i = li[p]
            if i > j:
                a = lx[p]
                for c in range(k):
                    y[j, c] -= a * y[i, c]
    out = np.empty((n, k))
    for i in range(n):
        out[i, :] = y[perm[i], :]
    return out


# --- partial elimination ("schur" solver, see _reduction.py) -------------------------------

@njit(cache=True)
def partial_forward_quadform(lp, li, lx, dinv, n_elim, n_core, pos_a, pos_b, R):
    """Forward elimination of ``b = e_a - e_b`` through the eliminated positions.

    ``lp, li, lx`` is the CSC factor of a partial elimination in position order:
    column ``j < n_elim`` (an eliminated node with weighted degree ``1/dinv[j]``) holds
    the later positions ``i`` it was joined to and ``c_ji / d_j``; columns ``>= n_elim``
    are empty. For query ``q`` the solve ``y_i += lx * y_j`` visits only the positions
    reachable from ``pos_a[q]`` and ``pos_b[q]`` (``-1`` = absent; Gilbert-Peierls),
    returns ``sum_{j < n_elim} y_j**2 * dinv[j]`` and writes the residual that reaches the
    core positions ``n_elim .. n_elim + n_core - 1`` into column ``q`` of ``R`` (rows are
    core positions; later positions, the grounded nodes, are dropped). ``R`` must be zero
    on entry. Oracle: the dense factorisation in ``tests/preferences``.
    """
    y, mark, stack, reach = _query_work(lp.shape[0] - 1)
    n_queries = pos_a.shape[0]
    out = np.empty(n_queries)
    for q in range(n_queries):
        order = _start_query(lp, li, pos_a[q], pos_b[q], -1.0, y, mark, stack, reach)
        acc = 0.0
        for r in range(order.shape[0]):
            j = order[r]
            yj = y[j]
            if j < n_elim:
                if yj != 0.0:
                    for k in range(lp[j], lp[j + 1]):
                        y[li[k]] += lx[k] * yj
                    acc += yj * yj * dinv[j]
            elif j < n_elim + n_core:
                R[j - n_elim, q] = yj
        _clear(order, y, mark)
        out[q] = acc
    return out


@njit(cache=True)
def partial_forward_dense(lp, li, lx, n_elim, Y):
    """In place ``y_i += lx * y_j`` over the eliminated columns ``j < n_elim`` of a dense
    block ``Y`` of shape ``(n_positions, k)`` (the forward half of
    :func:`partial_forward_quadform` for dense right-hand sides)."""
    k = Y.shape[1]
    for j in range(n_elim):
        for p in range(lp[j], lp[j + 1]):
            i = li[p]
            a = lx[p]
            for c in range(k):
                Y[i, c] += a * Y[j, c]


@njit(cache=True)
def partial_backward_dense(lp, li, lx, n_elim, Y):
    """In place ``x_j += sum_i lx * x_i`` for ``j = n_elim - 1 .. 0`` (the transposed
    solve that follows :func:`partial_forward_dense` and the diagonal scaling)."""
    k = Y.shape[1]
    for j in range(n_elim - 1, -1, -1):
        for p in range(lp[j], lp[j + 1]):
            i = li[p]
            a = lx[p]
            for c in range(k):
                Y[j, c] += a * Y[i, c]


@njit(cache=True)
def label_propagation(indptr, indices, n_sweeps, seed):
    """Community labels by asynchronous label propagation on a CSR graph.

    Every node takes the label most frequent among its neighbours (ties to the smaller
    label), visiting nodes in a random order per sweep, until no label changes or
    ``n_sweeps`` sweeps. Used only to propose a vertex separator; any labelling gives an
    exact factorisation.
    """
    n = indptr.shape[0] - 1
    np.random.seed(seed)
    lab = np.arange(n)
    cnt = np.zeros(n, np.int64)
    touched = np.empty(n, np.int64)
    for _ in range(n_sweeps):
        order = np.random.permutation(n)
        changed = 0
        for x in order:
            nt = 0
            for k in range(indptr[x], indptr[x + 1]):
                lab_y = lab[indices[k]]
                if cnt[lab_y] == 0:
                    touched[nt] = lab_y
                    nt += 1
                cnt[lab_y] += 1
            if nt == 0:
                continue
            best = lab[x]
            bc = cnt[best]
            for i in range(nt):
                lab_y = touched[i]
                if cnt[lab_y] > bc or (cnt[lab_y] == bc and lab_y < best):
                    best = lab_y
                    bc = cnt[lab_y]
            for i in range(nt):
                cnt[touched[i]] = 0
            if best != lab[x]:
                lab[x] = best
                changed += 1
        if changed == 0:
            break
    return lab


@njit(cache=True)
def cut_vertex_cover(indptr, indices, lab):
    """Greedy vertex cover of the edges whose end points carry different labels.

    Repeatedly takes the node covering most uncovered cut edges (a lazy max-heap on the
    cut degree); returns a boolean mask. Removing the cover leaves no edge between two
    labels.
    """
    n = indptr.shape[0] - 1
    deg = np.zeros(n, np.int64)
    for x in range(n):
        for k in range(indptr[x], indptr[x + 1]):
            if lab[indices[k]] != lab[x]:
                deg[x] += 1
    cover = np.zeros(n, np.bool_)
    keys = np.empty(indices.shape[0] + n + 1)
    vals = np.empty(indices.shape[0] + n + 1, np.int64)
    size = 0
    for x in range(n):
        if deg[x] > 0:
            size = _push(keys, vals, size, -float(deg[x]), x)
    while size > 0:
        key, x, size = _pop(keys, vals, size)
        if cover[x] or deg[x] == 0:
            continue
        if -key != deg[x]:
            size = _push(keys, vals, size, -float(deg[x]), x)
            continue
        cover[x] = True
        for k in range(indptr[x], indptr[x + 1]):
            y = indices[k]
            if lab[y] != lab[x] and not cover[y]:
                deg[y] -= 1
        deg[x] = 0
    return cover
