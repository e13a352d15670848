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

from typing import NamedTuple

import numpy as np
from numba import njit

from .._rules import LP_ITERATION_LIMIT, LP_OK, LP_SINGULAR, LP_UNCERTIFIED
from ._kernels import inner, lu_factor, lu_solve


@inner
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


@inner
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


@inner
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


@inner
def _find(parent, level, x):
    """Root of ``x`` and ``level(x) - level(root)`` (levels: an edge s -> s' adds 1)."""
    off = 0
    while parent[x] != x:
        off += level[x]
        x = parent[x]
    return x, off


@inner
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


@inner
def _recompute(sx, n_struct, n, m, gamma, rf):
    """Fresh basis inverse, basic values, multipliers and reduced costs (costs ``rf``)."""
    ones = np.ones(n)
    if not _refactor(sx.basis, n_struct, n, m, gamma, ones, sx.binv, sx.bmat, sx.piv,
                     sx.rows, sx.vals):
        return False
    _basic_values(sx.basis, sx.state, n_struct, n, m, gamma, ones, sx.binv, sx.xb, sx.rows,
                  sx.vals)
    for i in range(n):
        acc = 0.0
        for rr in range(n):
            acc += rf[sx.basis[rr]] * sx.binv[rr, i]
        sx.pi[i] = acc
    for s in range(n):
        for a in range(m):
            base = (s * m + a) * n
            for x in range(n):
                j = base + x
                if x == s:
                    sx.d[j] = rf[j] - (gamma - 1.0) * sx.pi[s]
                else:
                    sx.d[j] = rf[j] - (gamma * sx.pi[x] - sx.pi[s])
    for rr in range(n):
        sx.d[sx.basis[rr]] = 0.0
    return True


@inner
def _apply_column(binv, j, n_struct, n, m, gamma, ones, rows, vals, coef, xb):
    """``xb -= coef * B^{-1} A_j``."""
    cnt = _column(j, n_struct, n, m, gamma, ones, rows, vals)
    for z in range(cnt):
        c = coef * vals[z]
        i = rows[z]
        for rr in range(n):
            xb[rr] -= c * binv[rr, i]


class _Simplex(NamedTuple):
    """Working arrays of one dual simplex solve (``S`` rows, ``E = S*A*S`` structurals).

    ``state[j]``: 0 nonbasic at -1, 1 nonbasic at +1, 2 basic (:data:`BASIC`).
    """

    basis: np.ndarray    # (S,) int64: the structural of each basis row
    state: np.ndarray    # (E,) int8
    binv: np.ndarray     # (S, S) explicit basis inverse
    bmat: np.ndarray     # (S, S) scratch for refactorisations
    piv: np.ndarray      # (S,) int64 pivots
    xb: np.ndarray       # (S,) basic values
    pi: np.ndarray       # (S,) simplex multipliers
    d: np.ndarray        # (E,) reduced costs
    rows: np.ndarray     # (2,) int64 nonzero rows of one column
    vals: np.ndarray     # (2,) their values
    ones: np.ndarray     # (S,) the artificial columns' signs (all 1)
    alpha: np.ndarray    # (E,) the pivot row of B^{-1} A_N
    theta: np.ndarray    # (E,) breakpoints of the eligible columns
    elig: np.ndarray     # (E,) int64 the eligible columns (-1 - j once passed)
    colq: np.ndarray     # (S,) the entering column B^{-1} A_q


#: ``state`` of a basic variable.
BASIC = 2


@inner
def lad_potential(r, gamma, phi, lp):
    r"""Solve ``min_phi sum |r + gamma phi(s') - phi(s)|``; ``phi`` is filled in place.

    Dual simplex on ``max <r, y> s.t. D^T y = 0, -1 <= y <= 1`` with a bound-flipping
    ratio test, switching to Bland's rule (smallest indices, no long steps) after
    ``lp.bland_after`` degenerate dual steps in a row, which guarantees termination.
    ``lp`` holds the constants (:func:`starc._rules.lp_tolerances`). Returns ``LP_OK``,
    ``LP_ITERATION_LIMIT``, ``LP_SINGULAR`` (a singular basis) or ``LP_UNCERTIFIED`` (the
    optimality certificate fails).
    """
    n, m, _ = r.shape
    n_struct = n * m * n
    rtrue = r.reshape(n_struct)
    scale = 1.0
    for e in range(n_struct):
        if abs(rtrue[e]) > scale:
            scale = abs(rtrue[e])
    rf = np.empty(n_struct)
    _perturbed_costs(rtrue, scale, lp, rf)
    sx = _Simplex(np.empty(n, dtype=np.int64), np.zeros(n_struct, dtype=np.int8),
                  np.empty((n, n)), np.empty((n, n)), np.empty(n, dtype=np.int64),
                  np.empty(n), np.empty(n), np.empty(n_struct), np.empty(2, dtype=np.int64),
                  np.empty(2), np.ones(n), np.empty(n_struct), np.empty(n_struct),
                  np.empty(n_struct, dtype=np.int64), np.empty(n))
    if not _start_basis(r, gamma, sx.basis):
        return LP_SINGULAR
    for rr in range(n):
        sx.state[sx.basis[rr]] = BASIC
    if not _recompute(sx, n_struct, n, m, gamma, rf):
        return LP_SINGULAR
    # nonbasic values from the signs of the reduced costs: dual feasible by construction
    for j in range(n_struct):
        if sx.state[j] != BASIC:
            sx.state[j] = 1 if sx.d[j] > 0.0 else 0
    _basic_values(sx.basis, sx.state, n_struct, n, m, gamma, sx.ones, sx.binv, sx.xb,
                  sx.rows, sx.vals)
    status = _iterate(sx, n_struct, n, m, gamma, rf, scale, lp)
    if status != LP_OK:
        return status
    # multipliers of the final basis with the true costs
    if not _recompute(sx, n_struct, n, m, gamma, rtrue):
        return LP_SINGULAR
    for i in range(n):
        phi[i] = -sx.pi[i]
    return _certificate(rtrue, sx, phi, n, m, gamma, lp)


@inner
def _perturbed_costs(rtrue, scale, lp, rf):
    """Costs perturbed by a deterministic ``lp.cost_perturbation``-relative sequence: they
    break the exact ties of sparse rewards (dual degeneracy); the final basis is
    re-checked with the true costs."""
    for e in range(rtrue.shape[0]):
        h = (e + 1) * lp.perturbation_step
        rf[e] = rtrue[e] + lp.cost_perturbation * scale * (h - np.floor(h) - 0.5)


@inner
def _iterate(sx, n_struct, n, m, gamma, rf, scale, lp):
    """The pivots of the dual simplex from a dual feasible basis; returns ``LP_OK`` at a
    primal feasible (optimal) basis, else the failure's status."""
    tol_d = lp.dual_rtol * scale * n
    since = 0
    stall = 0
    for _ in range(lp.iter_per_variable * n_struct + lp.iter_extra):
        bland = stall > lp.bland_after
        leave, infeas = _leaving_row(sx, n, bland, lp.primal_tol)
        if leave < 0:
            return LP_OK
        sigma = 1.0 if sx.xb[leave] < -1.0 else -1.0
        n_el = _pivot_row(sx, leave, sigma, n, m, gamma, lp.pivot_tol)
        if n_el == 0:
            return LP_UNCERTIFIED
        if bland:
            enter, theta = _bland_ratio(sx, n_el, scale, lp)
        else:
            enter, theta = _bound_flipping_ratio(sx, n_el, infeas, lp)
        if enter < 0:
            return LP_UNCERTIFIED
        if theta <= lp.stall_rtol * scale:
            stall += 1
        else:
            stall = 0
        st_theta = sigma * theta
        _dual_step(sx, leave, st_theta, n_struct, n)
        if not bland:
            _apply_flips(sx, n_el, n_struct, n, m, gamma)
        _pivot(sx, leave, enter, sigma, st_theta, n_struct, n, m, gamma)
        since += 1
        if since >= lp.refactor_every:
            since = 0
            if not _recompute(sx, n_struct, n, m, gamma, rf):
                return LP_SINGULAR
            if _restore_dual_feasibility(sx, n_struct, tol_d):
                _basic_values(sx.basis, sx.state, n_struct, n, m, gamma, sx.ones, sx.binv,
                              sx.xb, sx.rows, sx.vals)
    return LP_ITERATION_LIMIT


@inner
def _leaving_row(sx, n, bland, tol_p):
    """The leaving row: the largest bound violation above ``tol_p`` (Bland: the smallest
    variable index); ``(-1, 0.0)`` when the basis is primal feasible. Returns the row and
    its violation."""
    leave = -1
    worst = 0.0
    for rr in range(n):
        v = sx.xb[rr]
        viol = v - 1.0 if v > 1.0 else (-1.0 - v if v < -1.0 else 0.0)
        if viol > tol_p:
            if bland:
                if leave < 0 or sx.basis[rr] < sx.basis[leave]:
                    leave = rr
                    worst = viol
            elif viol > worst:
                worst = viol
                leave = rr
    return leave, worst


@inner
def _pivot_row(sx, leave, sigma, n, m, gamma, tol_a):
    """Row ``leave`` of ``B^{-1} A_N`` into ``sx.alpha`` and the eligible breakpoints into
    ``sx.elig``, ``sx.theta``; returns their number."""
    n_el = 0
    for s in range(n):
        rho_s = sx.binv[leave, s]
        for a in range(m):
            base = (s * m + a) * n
            for x in range(n):
                j = base + x
                if sx.state[j] == BASIC:
                    sx.alpha[j] = 0.0
                    continue
                if x == s:
                    al = (gamma - 1.0) * rho_s
                else:
                    al = gamma * sx.binv[leave, x] - rho_s
                sx.alpha[j] = al
                sj = 1.0 if sx.state[j] == 0 else -1.0
                if al * sj * sigma < -tol_a:
                    sx.elig[n_el] = j
                    sx.theta[n_el] = abs(sx.d[j]) / abs(al)
                    n_el += 1
    return n_el


@inner
def _bland_ratio(sx, n_el, scale, lp):
    """Bland's ratio test: among the breakpoints within ``lp.ratio_tie_rtol * scale`` of
    the smallest, the smallest variable index. Returns ``(entering column, step)``."""
    enter = -1
    theta = 0.0
    tmin = np.inf
    for z in range(n_el):
        if sx.theta[z] < tmin:
            tmin = sx.theta[z]
    for z in range(n_el):
        if sx.theta[z] <= tmin + lp.ratio_tie_rtol * scale:
            if enter < 0 or sx.elig[z] < enter:
                enter = sx.elig[z]
                theta = sx.theta[z]
    return enter, theta


@inner
def _bound_flipping_ratio(sx, n_el, infeas, lp):
    """Bound-flipping ratio test: pass breakpoints (in order of step, larger pivots first
    among equal steps) while the leaving row stays infeasible; a passed column is marked
    ``-1 - j`` in ``sx.elig`` (it flips to its other bound). Returns ``(entering column,
    step)``, ``(-1, 0.0)`` when every breakpoint is passed."""
    scans = 0
    order = np.empty(0, dtype=np.int64)
    pos = 0
    while True:
        best = -1
        if scans < lp.scan_limit:
            scans += 1
            for z in range(n_el):
                if sx.elig[z] < 0:
                    continue
                if best < 0 or sx.theta[z] < sx.theta[best] or (
                        sx.theta[z] == sx.theta[best]
                        and abs(sx.alpha[sx.elig[z]]) > abs(sx.alpha[sx.elig[best]])):
                    best = z
        else:
            if order.shape[0] == 0:
                order = np.argsort(sx.theta[:n_el], kind="mergesort")
                pos = 0
            while pos < n_el and sx.elig[order[pos]] < 0:
                pos += 1
            if pos < n_el:
                best = order[pos]
        if best < 0:
            return -1, 0.0
        j = sx.elig[best]
        step = 2.0 * abs(sx.alpha[j])
        if infeas - step > lp.primal_tol:
            infeas -= step
            sx.elig[best] = -1 - j  # passed: flips to its other bound
            continue
        return j, sx.theta[best]


@inner
def _dual_step(sx, leave, st_theta, n_struct, n):
    """Reduced costs and multipliers after a dual step of signed length ``st_theta``."""
    if st_theta != 0.0:
        for z in range(n_struct):
            if sx.state[z] != BASIC:
                sx.d[z] -= st_theta * sx.alpha[z]
        for i in range(n):
            sx.pi[i] += st_theta * sx.binv[leave, i]


@inner
def _apply_flips(sx, n_el, n_struct, n, m, gamma):
    """Move the passed breakpoints to their other bound (and the basic values with them)."""
    for z in range(n_el):
        j = sx.elig[z]
        if j < 0:
            jj = -1 - j
            if sx.state[jj] == 0:
                sx.state[jj] = 1
                _apply_column(sx.binv, jj, n_struct, n, m, gamma, sx.ones, sx.rows, sx.vals,
                              2.0, sx.xb)
            else:
                sx.state[jj] = 0
                _apply_column(sx.binv, jj, n_struct, n, m, gamma, sx.ones, sx.rows, sx.vals,
                              -2.0, sx.xb)


@inner
def _pivot(sx, leave, enter, sigma, st_theta, n_struct, n, m, gamma):
    """The entering column replaces row ``leave``, whose variable goes to its violated
    bound; product-form update of the explicit inverse."""
    cnt = _column(enter, n_struct, n, m, gamma, sx.ones, sx.rows, sx.vals)
    for rr in range(n):
        acc = 0.0
        for zz in range(cnt):
            acc += sx.binv[rr, sx.rows[zz]] * sx.vals[zz]
        sx.colq[rr] = acc
    p = sx.colq[leave]
    bound = -1.0 if sigma > 0 else 1.0
    dq = (sx.xb[leave] - bound) / p
    y_enter = (-1.0 if sx.state[enter] == 0 else 1.0) + dq
    for rr in range(n):
        sx.xb[rr] -= sx.colq[rr] * dq
    sx.xb[leave] = y_enter
    out_var = sx.basis[leave]
    sx.state[out_var] = 0 if sigma > 0 else 1
    sx.d[out_var] = -st_theta
    for i in range(n):
        sx.binv[leave, i] /= p
    for rr in range(n):
        if rr != leave:
            f = sx.colq[rr]
            if f != 0.0:
                for i in range(n):
                    sx.binv[rr, i] -= f * sx.binv[leave, i]
    sx.basis[leave] = enter
    sx.state[enter] = BASIC
    sx.d[enter] = 0.0


@inner
def _restore_dual_feasibility(sx, n_struct, tol_d):
    """After a refactorisation: a nonbasic whose reduced cost has the wrong sign beyond
    ``tol_d`` (round-off) flips to its other bound. Returns whether any did."""
    changed = False
    for j in range(n_struct):
        if sx.state[j] == 0 and sx.d[j] > tol_d:
            sx.state[j] = 1
            changed = True
        elif sx.state[j] == 1 and sx.d[j] < -tol_d:
            sx.state[j] = 0
            changed = True
    return changed


@inner
def _certificate(rf, sx, phi, n, m, gamma, lp):
    """Optimality certificate: ``y = (x_B, y_N)`` feasible (to ``lp.box_tol``) and
    ``||r + D phi||_1 == <r, y>`` to ``lp.certificate_rtol`` relative."""
    primal = 0.0
    dual = 0.0
    for s in range(n):
        for a in range(m):
            for x in range(n):
                j = (s * m + a) * n + x
                primal += abs(rf[j] + gamma * phi[x] - phi[s])
                if sx.state[j] == 0:
                    dual -= rf[j]
                elif sx.state[j] == 1:
                    dual += rf[j]
    for rr in range(n):
        yb = sx.xb[rr]
        if yb > 1.0 + lp.box_tol or yb < -1.0 - lp.box_tol:
            return LP_UNCERTIFIED
        dual += rf[sx.basis[rr]] * yb
    if abs(primal - dual) > lp.certificate_rtol * max(1.0, abs(primal)):
        return LP_UNCERTIFIED
    return LP_OK


@njit(cache=True, nogil=True)
def minimal_potential_l1_kernel(lo, hi, gam, mdp_of, R, lp, out, status):
    """MinimalPotential-L1 canonicals ``out (N, K, S, A, S)`` of the rewards of groups
    ``lo .. hi-1``."""
    n = R.shape[2]
    for g in range(lo, hi):
        gamma = gam[mdp_of[g]]
        phi = np.empty(n)
        st_g = LP_OK
        for k in range(R.shape[1]):
            st = lad_potential(R[g, k], gamma, phi, lp)
            if st != LP_OK:
                st_g = st
            r = R[g, k]
            o = out[g, k]
            for s in range(n):
                for a in range(R.shape[3]):
                    for x in range(n):
                        o[s, a, x] = r[s, a, x] + gamma * phi[x] - phi[s]
        status[g] = st_g
