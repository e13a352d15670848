r"""A small exact LP solver for the MinimalPotential-L1 canonicalization (private).

The paper's MinimalPotential canonical for the :math:`L_1` norm is
:math:`R + \gamma\Phi^*(s') - \Phi^*(s)` with

.. math::

    \Phi^* \in \arg\min_\Phi \sum_{s,a,s'} |R(s,a,s') + \gamma\Phi(s') - \Phi(s)|,

a least-absolute-deviations regression with :math:`|S|` unknowns and :math:`|S||A||S|`
observations. Its LP dual (derived: :math:`|x| = \max_{|y| \le 1} xy`) is

.. math::

    \max_y\; \langle R, y\rangle \quad\text{s.t.}\quad D^\top y = 0,\;
    -1 \le y \le 1, \qquad (D^\top y)(x) = \gamma \sum_{s,a} y(s,a,x) - \sum_{a,s'} y(x,a,s'),

only :math:`|S|` equality rows and box constraints, so a revised simplex with an
explicit :math:`|S| \times |S|` basis inverse solves it in about a hundred cheap pivots.
With boxed variables every basis is dual feasible once each nonbasic :math:`y_e` sits at
the bound given by the sign of its reduced cost, so the *dual* simplex needs no phase 1:
it starts from the transitions with the smallest residuals under the closed-form
:math:`L_2` potential (kept while they form a nonsingular basis: a pseudoforest of
transitions whose cycles have gain :math:`\gamma^k \neq 1`), and its bound-flipping
ratio test passes several breakpoints per pivot. The simplex multipliers :math:`\pi` of
the optimal basis give :math:`\Phi^* = -\pi` (the reduced cost of transition :math:`e`
is the residual :math:`R_e + (D\Phi^*)_e`: zero on the basis, of the sign of
:math:`y_e` elsewhere).

Sparse rewards make the LP massively dual degenerate; a deterministic perturbation of the
costs by 1e-10 of their scale breaks the ties, Bland's rule takes over after 30
degenerate steps in a row (no cycling), the basis inverse is recomputed every 32 pivots,
and the final multipliers come from a fresh factorisation with the *true* costs. The
optimum is certified by strong duality, :math:`\|R + D\Phi^*\|_1 = \langle R, y\rangle`
to 1e-9 relative with :math:`y` feasible; a reward that fails it is handed to
:func:`starc.canonicalize` (HiGHS).
Every solve starts cold, so the result depends on the reward alone.

When the minimiser is not unique — common: transitions with the same :math:`(s, s')`
share a row of the regression — a different minimiser than HiGHS's may be returned;
the objective is the same.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels import lu_factor, lu_solve


@njit(cache=True)
def _column(j, n_struct, n, m, gamma, sigma, rows, vals):
    """Nonzeros of column ``j``: returns their count (1 or 2)."""
    if j >= n_struct:
        i = j - n_struct
        rows[0] = i
        vals[0] = sigma[i]
        return 1
    s = j // (m * n)
    t = j % n
    if s == t:
        rows[0] = s
        vals[0] = gamma - 1.0
        return 1
    rows[0] = s
    vals[0] = -1.0
    rows[1] = t
    vals[1] = gamma
    return 2


@njit(cache=True)
def _refactor(basis, n_struct, n, m, gamma, sigma, binv, bmat, piv, rows, vals):
    """Recompute the explicit basis inverse; returns False if the basis is singular."""
    for i in range(n):
        for j in range(n):
            bmat[i, j] = 0.0
    for r in range(n):
        cnt = _column(basis[r], n_struct, n, m, gamma, sigma, rows, vals)
        for z in range(cnt):
            bmat[rows[z], r] += vals[z]
    if lu_factor(bmat, piv) != 0:
        return False
    col = np.empty(n)
    for i in range(n):
        for j in range(n):
            col[j] = 0.0
        col[i] = 1.0
        lu_solve(bmat, piv, col)
        for j in range(n):
            binv[j, i] = col[j]
    return True


@njit(cache=True)
def _basic_values(basis, state, n_struct, n, m, gamma, sigma, binv, xb, rows, vals):
    """``x_B = -B^{-1} sum_{j nonbasic} A_j x_j`` (nonbasic artificials sit at 0)."""
    rhs = np.zeros(n)
    for j in range(n_struct):
        if state[j] == 2:
            continue
        xj = -1.0 if state[j] == 0 else 1.0
        cnt = _column(j, n_struct, n, m, gamma, sigma, rows, vals)
        for z in range(cnt):
            rhs[rows[z]] -= vals[z] * xj
    for r in range(n):
        acc = 0.0
        for i in range(n):
            acc += binv[r, i] * rhs[i]
        xb[r] = acc


@njit(cache=True)
def _find(parent, level, x):
    """Root of ``x`` and ``level(x) - level(root)`` (levels: an edge s -> s' adds 1)."""
    off = 0
    while parent[x] != x:
        off += level[x]
        x = parent[x]
    return x, off


@njit(cache=True)
def _start_basis(r, gamma, basis):
    """A nonsingular starting basis: the transitions with the smallest residuals under the
    closed-form L2 potential, kept only while they form a pseudoforest (each connected
    component of the chosen edges has at most one cycle; a full basis has exactly one
    per component, and a cycle of gain gamma^k != 1 makes the block nonsingular)."""
    n, m, _ = r.shape
    n_struct = n * m * n
    col = np.zeros(n)
    row = np.zeros(n)
    for s in range(n):
        acc = 0.0
        for a in range(m):
            for x in range(n):
                col[x] += r[s, a, x]
                acc += r[s, a, x]
        row[s] = acc
    alpha = m * n * (1.0 + gamma * gamma)
    beta = 2.0 * gamma * m
    total = 0.0
    rhs = np.empty(n)
    for x in range(n):
        rhs[x] = -(gamma * col[x] - row[x])
        total += rhs[x]
    phi = np.empty(n)
    for x in range(n):
        phi[x] = (rhs[x] + beta / (alpha - beta * n) * total) / alpha
    res = np.empty(n_struct)
    rf = r.reshape(n_struct)
    for s in range(n):
        for a in range(m):
            for x in range(n):
                j = (s * m + a) * n + x
                res[j] = abs(rf[j] + gamma * phi[x] - phi[s])
    order = np.argsort(res, kind="mergesort")
    parent = np.arange(n)
    level = np.zeros(n, dtype=np.int64)  # level[x] = level(x) - level(parent[x])
    cyc = np.zeros(n, dtype=np.bool_)
    count = 0
    for z in range(n_struct):
        if count == n:
            break
        j = order[z]
        s = j // (m * n)
        x = j % n
        ps, os_ = _find(parent, level, s)
        px, ox = _find(parent, level, x)
        if ps == px:
            # closing a cycle: its gain is gamma^(1 - (level(x) - level(s))), singular if 1
            if cyc[ps] or ox - os_ == 1:
                continue
            cyc[ps] = True
        else:
            if cyc[ps] and cyc[px]:
                continue
            parent[ps] = px
            level[ps] = ox - os_ - 1
            cyc[px] = cyc[px] or cyc[ps]
        basis[count] = j
        count += 1
    if count < n:  # close every acyclic component with a self-loop (action 0)
        for s in range(n):
            ps, _ = _find(parent, level, s)
            if not cyc[ps]:
                cyc[ps] = True
                basis[count] = (s * m) * n + s
                count += 1
    return count == n


@njit(cache=True)
def _recompute(basis, state, n_struct, n, m, gamma, rf, binv, bmat, piv, rows, vals, xb, pi,
               d):
    """Fresh basis inverse, basic values, multipliers and reduced costs."""
    ones = np.ones(n)
    if not _refactor(basis, n_struct, n, m, gamma, ones, binv, bmat, piv, rows, vals):
        return False
    _basic_values(basis, state, n_struct, n, m, gamma, ones, binv, xb, rows, vals)
    for i in range(n):
        acc = 0.0
        for rr in range(n):
            acc += rf[basis[rr]] * binv[rr, i]
        pi[i] = acc
    for s in range(n):
        for a in range(m):
            base = (s * m + a) * n
            for x in range(n):
                j = base + x
                if x == s:
                    d[j] = rf[j] - (gamma - 1.0) * pi[s]
                else:
                    d[j] = rf[j] - (gamma * pi[x] - pi[s])
    for rr in range(n):
        d[basis[rr]] = 0.0
    return True


@njit(cache=True)
def _apply_column(binv, j, n_struct, n, m, gamma, ones, rows, vals, coef, xb):
    """``xb -= coef * B^{-1} A_j``."""
    cnt = _column(j, n_struct, n, m, gamma, ones, rows, vals)
    for z in range(cnt):
        c = coef * vals[z]
        i = rows[z]
        for rr in range(n):
            xb[rr] -= c * binv[rr, i]


@njit(cache=True)
def lad_potential(r, gamma, phi):
    r"""Solve ``min_phi sum |r + gamma phi(s') - phi(s)|``; ``phi`` is filled in place.

    Dual simplex on ``max <r, y> s.t. D^T y = 0, -1 <= y <= 1`` with a bound-flipping
    ratio test, switching to Bland's rule (smallest indices, no long steps) after 30
    degenerate dual steps in a row, which guarantees termination. Returns 0 on success,
    1 when the iteration limit is hit, 2 on a singular basis and 3 when the optimality
    certificate fails.
    """
    n, m, _ = r.shape
    n_struct = n * m * n
    rtrue = r.reshape(n_struct)
    scale = 1.0
    for e in range(n_struct):
        if abs(rtrue[e]) > scale:
            scale = abs(rtrue[e])
    # Costs perturbed by a deterministic 1e-10-relative sequence break the exact ties of
    # sparse rewards (dual degeneracy); the final basis is re-checked with the true costs.
    rf = np.empty(n_struct)
    for e in range(n_struct):
        h = (e + 1) * 0.6180339887498949
        rf[e] = rtrue[e] + 1e-10 * scale * (h - np.floor(h) - 0.5)
    tol_p = 1e-9
    tol_a = 1e-9
    tol_d = 1e-12 * scale * n
    rows = np.empty(2, dtype=np.int64)
    vals = np.empty(2)
    ones = np.ones(n)
    basis = np.empty(n, dtype=np.int64)
    if not _start_basis(r, gamma, basis):
        return 2
    state = np.zeros(n_struct, dtype=np.int8)
    for rr in range(n):
        state[basis[rr]] = 2
    binv = np.empty((n, n))
    bmat = np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    xb = np.empty(n)
    pi = np.empty(n)
    d = np.empty(n_struct)
    if not _recompute(basis, state, n_struct, n, m, gamma, rf, binv, bmat, piv, rows, vals,
                      xb, pi, d):
        return 2
    # nonbasic values from the signs of the reduced costs: dual feasible by construction
    for j in range(n_struct):
        if state[j] != 2:
            state[j] = 1 if d[j] > 0.0 else 0
    _basic_values(basis, state, n_struct, n, m, gamma, ones, binv, xb, rows, vals)
    alpha = np.empty(n_struct)
    theta_j = np.empty(n_struct)
    elig = np.empty(n_struct, dtype=np.int64)
    colq = np.empty(n)
    since = 0
    stall = 0
    status = 1
    for _ in range(50 * n_struct + 1000):
        bland = stall > 30
        # leaving row: the largest bound violation (Bland: the smallest variable index)
        leave = -1
        worst = 0.0
        for rr in range(n):
            v = xb[rr]
            viol = v - 1.0 if v > 1.0 else (-1.0 - v if v < -1.0 else 0.0)
            if viol > tol_p:
                if bland:
                    if leave < 0 or basis[rr] < basis[leave]:
                        leave = rr
                        worst = viol
                elif viol > worst:
                    worst = viol
                    leave = rr
        if leave < 0:
            status = 0
            break
        sigma = 1.0 if xb[leave] < -1.0 else -1.0
        infeas = worst
        # row of B^{-1} A_N and the eligible breakpoints
        n_el = 0
        for s in range(n):
            rho_s = binv[leave, s]
            for a in range(m):
                base = (s * m + a) * n
                for x in range(n):
                    j = base + x
                    if state[j] == 2:
                        alpha[j] = 0.0
                        continue
                    if x == s:
                        al = (gamma - 1.0) * rho_s
                    else:
                        al = gamma * binv[leave, x] - rho_s
                    alpha[j] = al
                    sj = 1.0 if state[j] == 0 else -1.0
                    if al * sj * sigma < -tol_a:
                        elig[n_el] = j
                        theta_j[n_el] = abs(d[j]) / abs(al)
                        n_el += 1
        if n_el == 0:
            status = 3
            break
        enter = -1
        theta = 0.0
        if bland:
            tmin = np.inf
            for z in range(n_el):
                if theta_j[z] < tmin:
                    tmin = theta_j[z]
            for z in range(n_el):
                if theta_j[z] <= tmin + 1e-12 * scale:
                    if enter < 0 or elig[z] < enter:
                        enter = elig[z]
                        theta = theta_j[z]
        else:
            # bound-flipping ratio test: pass breakpoints while the infeasibility remains
            scans = 0
            order = np.empty(0, dtype=np.int64)
            pos = 0
            while True:
                best = -1
                if scans < 8:
                    scans += 1
                    for z in range(n_el):
                        if elig[z] < 0:
                            continue
                        if best < 0 or theta_j[z] < theta_j[best] or (
                                theta_j[z] == theta_j[best]
                                and abs(alpha[elig[z]]) > abs(alpha[elig[best]])):
                            best = z
                else:
                    if order.shape[0] == 0:
                        order = np.argsort(theta_j[:n_el], kind="mergesort")
                        pos = 0
                    while pos < n_el and elig[order[pos]] < 0:
                        pos += 1
                    if pos < n_el:
                        best = order[pos]
                if best < 0:
                    break
                j = elig[best]
                step = 2.0 * abs(alpha[j])
                if infeas - step > tol_p:
                    infeas -= step
                    elig[best] = -1 - j  # passed: flips to its other bound
                    continue
                enter = j
                theta = theta_j[best]
                break
        if enter < 0:
            status = 3
            break
        if theta <= 1e-14 * scale:
            stall += 1
        else:
            stall = 0
        # dual step: reduced costs and multipliers
        st_theta = sigma * theta
        if st_theta != 0.0:
            for z in range(n_struct):
                if state[z] != 2:
                    d[z] -= st_theta * alpha[z]
            for i in range(n):
                pi[i] += st_theta * binv[leave, i]
        # bound flips of the passed breakpoints
        if not bland:
            for z in range(n_el):
                j = elig[z]
                if j < 0:
                    jj = -1 - j
                    if state[jj] == 0:
                        state[jj] = 1
                        _apply_column(binv, jj, n_struct, n, m, gamma, ones, rows, vals, 2.0, xb)
                    else:
                        state[jj] = 0
                        _apply_column(binv, jj, n_struct, n, m, gamma, ones, rows, vals, -2.0,
                                      xb)
        # pivot: the entering column replaces the leaving row, which goes to its bound
        cnt = _column(enter, n_struct, n, m, gamma, ones, rows, vals)
        for rr in range(n):
            acc = 0.0
            for zz in range(cnt):
                acc += binv[rr, rows[zz]] * vals[zz]
            colq[rr] = acc
        p = colq[leave]
        bound = -1.0 if sigma > 0 else 1.0
        dq = (xb[leave] - bound) / p
        y_enter = (-1.0 if state[enter] == 0 else 1.0) + dq
        for rr in range(n):
            xb[rr] -= colq[rr] * dq
        xb[leave] = y_enter
        out_var = basis[leave]
        state[out_var] = 0 if sigma > 0 else 1
        d[out_var] = -st_theta
        for i in range(n):
            binv[leave, i] /= p
        for rr in range(n):
            if rr != leave:
                f = colq[rr]
                if f != 0.0:
                    for i in range(n):
                        binv[rr, i] -= f * binv[leave, i]
        basis[leave] = enter
        state[enter] = 2
        d[enter] = 0.0
        since += 1
        if since >= 32:
            since = 0
            if not _recompute(basis, state, n_struct, n, m, gamma, rf, binv, bmat, piv, rows,
                              vals, xb, pi, d):
                return 2
            # restore dual feasibility lost to round-off: a wrong-signed nonbasic flips
            changed = False
            for j in range(n_struct):
                if state[j] == 0 and d[j] > tol_d:
                    state[j] = 1
                    changed = True
                elif state[j] == 1 and d[j] < -tol_d:
                    state[j] = 0
                    changed = True
            if changed:
                _basic_values(basis, state, n_struct, n, m, gamma, ones, binv, xb, rows,
                              vals)
    if status != 0:
        return status
    # multipliers of the final basis with the true costs
    if not _recompute(basis, state, n_struct, n, m, gamma, rtrue, binv, bmat, piv, rows,
                      vals, xb, pi, d):
        return 2
    for i in range(n):
        phi[i] = -pi[i]
    rf = rtrue
    # optimality certificate: y = (x_B, y_N) feasible and ||r + D phi||_1 == <r, y>
    primal = 0.0
    dual = 0.0
    for s in range(n):
        for a in range(m):
            for x in range(n):
                j = (s * m + a) * n + x
                primal += abs(rf[j] + gamma * phi[x] - phi[s])
                if state[j] == 0:
                    dual -= rf[j]
                elif state[j] == 1:
                    dual += rf[j]
    for rr in range(n):
        yb = xb[rr]
        if yb > 1.0 + 1e-7 or yb < -1.0 - 1e-7:
            return 3
        dual += rf[basis[rr]] * yb
    if abs(primal - dual) > 1e-9 * max(1.0, abs(primal)):
        return 3
    return 0


@njit(cache=True, parallel=True, nogil=True)
def minimal_potential_l1_kernel(gam, mdp_of, R, out, status):
    """MinimalPotential-L1 canonicals ``out (N, K, S, A, S)`` of every reward."""
    n = R.shape[2]
    for g in prange(R.shape[0]):
        gamma = gam[mdp_of[g]]
        phi = np.empty(n)
        st_g = 0
        for k in range(R.shape[1]):
            st = lad_potential(R[g, k], gamma, phi)
            if st != 0:
                st_g = st
            r = R[g, k]
            o = out[g, k]
            for s in range(n):
                for a in range(R.shape[3]):
                    for x in range(n):
                        o[s, a, x] = r[s, a, x] + gamma * phi[x] - phi[s]
        status[g] = st_g
