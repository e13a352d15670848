r"""numba kernels of :mod:`starc.batch` (private; the public wrappers live in ``core.py``).

Every kernel is ``@njit(cache=True, nogil=True)``, written with explicit loops, without
fastmath, and serial: a kernel computes the batch items ``lo .. hi-1`` and
:func:`run_parallel` splits a batch over threads (the kernels release the GIL), so each
batch item is computed by the same sequence of floating-point operations whatever the
batch size, the chunking or the number of threads: results are bit-identical. (Serial
kernels driven by Python threads instead of numba's ``parallel=True`` ``prange`` loops:
numba's parallel pass and its gufunc wrappers cost more to compile than the kernels
themselves, and the batch items are independent and large.)

Conventions inside this module (all arrays float64 C-contiguous unless said otherwise):

``T``      transitions ``(M, S, A, S)`` of ``M`` MDPs; ``gam`` ``(M,)``; ``mu`` ``(M, S)``.
``mdp_of`` ``(N,)`` int64: the MDP of each of the ``N`` groups of rewards.
``R``      rewards ``(N, K, S, A, S)``: group ``g`` holds ``K`` rewards on MDP ``mdp_of[g]``;
           the *pairs* of a group are ``(R[g, 0], R[g, k])`` for ``k = 1 .. K-1``.

The prepared MDPs (:class:`Prepared`), the groups (:class:`Groups`), the state and action
distributions (:class:`Dists`) and the outputs (:class:`DistanceOut`,
:class:`RegretOut`) travel as named tuples of arrays; the tolerances as
:class:`starc._rules.Tolerances` (read when the kernel is called). Family, norm, profile,
tie and status codes are the named constants of :mod:`starc._rules`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .. import _rules
from .._rules import (
    F_DARD,
    F_EPIC,
    F_MINL2,
    F_MINPOT,
    F_NONE,
    F_VAL,
    N_FAMILIES,
    N_NORMALIZATIONS,
    N_NORMS,
    NORM_L1,
    NORM_L2,
    NORM_LINF,
    NORM_NONE,
    NORM_WEIGHTED_L1,
    NORM_WEIGHTED_L2,
    NORM_WEIGHTED_LINF,
    PROFILE_MINIMAL_L2,
    PROFILE_ONES,
    STATUS_BELLMAN,
    STATUS_NO_CONVERGENCE,
    STATUS_OK,
    STATUS_SINGULAR,
    STATUS_UNDECIDED,
    TIE_FIRST,
    TINY,
)

#: Decorator of the kernels' inner functions, called only from other kernels: no Python
#: or C entry point (their generation is a large part of numba's compile time) and no
#: cache entry of their own (the kernels that call them are cached whole, callees
#: included).
inner = njit(no_cpython_wrapper=True, no_cfunc_wrapper=True)

#: The rules of :mod:`starc._rules`, compiled (the same functions the numpy code calls).
is_zero = njit(inline="always")(_rules.is_zero)
trivial_tolerance = njit(inline="always")(_rules.trivial_tolerance)
is_trivial = njit(inline="always")(_rules.is_trivial)
tie_bounds = njit(inline="always")(_rules.tie_bounds)
tie_bound = njit(inline="always")(_rules.tie_bound)
doubt_limit = njit(inline="always")(_rules.doubt_limit)
in_doubt = njit(inline="always")(_rules.in_doubt)
tie_sign = njit(inline="always")(_rules.tie_sign)
regret_fraction = njit(inline="always")(_rules.regret_fraction)


class Prepared(NamedTuple):
    """Per-MDP arrays shared by the group kernels (:func:`prepare_range` fills them).

    ``T (M, S, A, S)``, ``gam (M,)``, ``mu (M, S)``, ``pol (M, S, A)`` the policy of VAL;
    ``lu, piv`` the LU factors of ``I - gamma P_pol``; ``w (M, S, A)`` and ``low (M, S, S)``
    the minimal-L2 weights and Cholesky factor; ``fw (M, 2, 6, S, A)`` the factored norm
    weights (profile, norm); ``tt (M, A, S, S)`` the per-action transposes ``T_a^T``;
    ``full (M,)`` whether every transition is possible.
    """

    T: np.ndarray
    gam: np.ndarray
    mu: np.ndarray
    pol: np.ndarray
    lu: np.ndarray
    piv: np.ndarray
    w: np.ndarray
    low: np.ndarray
    fw: np.ndarray
    tt: np.ndarray
    full: np.ndarray


class Groups(NamedTuple):
    """Rewards in groups: ``R (N, K, S, A, S)`` on the MDPs ``mdp_of (N,)``, divided by
    ``2**ex`` (``ex (N, K)`` int64; ``starc.norms.scale_exponents``)."""

    R: np.ndarray
    mdp_of: np.ndarray
    ex: np.ndarray


class Dists(NamedTuple):
    """The state and action distributions ``ds (S,)``, ``da (A,)`` of EPIC and DARD."""

    ds: np.ndarray
    da: np.ndarray


class DistanceOut(NamedTuple):
    """``d[g, k-1, family, normalization, metric]``: distance of the pair
    ``(R[g, 0], R[g, k])``; ``status (N,)``."""

    d: np.ndarray
    status: np.ndarray


class RegretOut(NamedTuple):
    """``reg[g, k-1] = (regret(R0 true, Rk proxy), regret(Rk true, R0 proxy))``;
    ``act[g, k, 0/1]`` the policy-iteration optimal / pessimal actions of ``R[g, k]``;
    ``triv[g, k]`` whether ``R[g, k]`` is trivial (:func:`starc._rules.is_trivial`);
    ``status (N,)``."""

    reg: np.ndarray
    act: np.ndarray
    triv: np.ndarray
    status: np.ndarray


class PolicyLU(NamedTuple):
    """LU factors ``lu (S, S)``, ``piv (S,)`` of ``I - gamma P_pi`` for the deterministic
    policy ``actions (S,)`` (``actions[0] = -1``: no policy). Policy iteration reuses
    them when it evaluates that policy again: the factors of the same matrix, bit for
    bit (:func:`_evaluate_deterministic`)."""

    actions: np.ndarray
    lu: np.ndarray
    piv: np.ndarray


def run_parallel(kernel, n: int, *args, start: int = 0) -> None:
    """``kernel(lo, hi, *args)`` over the batch items ``start .. n-1``, split over numba's
    thread count (``numba.get_num_threads()``).

    The kernels are ``nogil``: each thread runs contiguous blocks of batch items.
    """
    import numba

    count = n - start
    threads = min(int(numba.get_num_threads()), count)
    if threads <= 1:
        kernel(start, n, *args)
        return
    from concurrent.futures import ThreadPoolExecutor
    from itertools import pairwise

    bounds = start + np.linspace(0, count, min(count, 4 * threads) + 1).astype(np.int64)
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        jobs = [pool.submit(kernel, int(lo), int(hi), *args)
                for lo, hi in pairwise(bounds) if hi > lo]
        for job in jobs:
            job.result()
    finally:  # on an error or Ctrl-C: the blocks not yet started are dropped
        pool.shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------------------- linear algebra


@njit(cache=True)
def lu_factor(a, piv):
    """In-place LU with partial pivoting, ``P a = L U``; returns 0 or the singular column + 1."""
    n = a.shape[0]
    for k in range(n):
        p = k
        big = abs(a[k, k])
        for i in range(k + 1, n):
            v = abs(a[i, k])
            if v > big:
                big = v
                p = i
        piv[k] = p
        if big == 0.0:
            return k + 1
        if p != k:
            for j in range(n):
                tmp = a[k, j]
                a[k, j] = a[p, j]
                a[p, j] = tmp
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            f = a[i, k] * inv
            a[i, k] = f
            if f != 0.0:
                for j in range(k + 1, n):
                    a[i, j] -= f * a[k, j]
    return 0


@njit(cache=True)
def lu_solve(a, piv, b):
    """Solve ``A x = b`` in place from :func:`lu_factor` factors (column-oriented sweeps)."""
    n = a.shape[0]
    for k in range(n):
        p = piv[k]
        if p != k:
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
    for j in range(n):
        bj = b[j]
        if bj != 0.0:
            for i in range(j + 1, n):
                b[i] -= a[i, j] * bj
    for j in range(n - 1, -1, -1):
        bj = b[j] / a[j, j]
        b[j] = bj
        if bj != 0.0:
            for i in range(j):
                b[i] -= a[i, j] * bj


@njit(cache=True)
def lu_solve_transposed(a, piv, b):
    """Solve ``A^T x = b`` in place from :func:`lu_factor` factors of ``A``.

    ``P A = L U`` gives ``A^T = U^T L^T P``: forward substitution with ``U^T``, back
    substitution with the unit ``L^T``, then the row interchanges in reverse order.
    """
    n = a.shape[0]
    for j in range(n):
        acc = b[j]
        for i in range(j):
            acc -= a[i, j] * b[i]
        b[j] = acc / a[j, j]
    for j in range(n - 1, -1, -1):
        acc = b[j]
        for i in range(j + 1, n):
            acc -= a[i, j] * b[i]
        b[j] = acc
    for k in range(n - 1, -1, -1):
        p = piv[k]
        if p != k:
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp


@njit(cache=True)
def cholesky(g, low):
    """Lower Cholesky factor ``g = L L^T`` into ``low``; returns 0 or the failing column + 1."""
    n = g.shape[0]
    for i in range(n):
        for j in range(n):
            low[i, j] = 0.0
    for j in range(n):
        s = g[j, j]
        for k in range(j):
            s -= low[j, k] * low[j, k]
        if s <= 0.0:
            return j + 1
        d = np.sqrt(s)
        low[j, j] = d
        for i in range(j + 1, n):
            t = g[i, j]
            for k in range(j):
                t -= low[i, k] * low[j, k]
            low[i, j] = t / d
    return 0


@njit(cache=True)
def cho_solve(low, b):
    """Solve ``L L^T x = b`` in place."""
    n = low.shape[0]
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= low[i, k] * b[k]
        b[i] = s / low[i, i]
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s -= low[k, i] * b[k]
        b[i] = s / low[i, i]


# ----------------------------------------------------------------------------- basic pieces


@inner
def expected_reward_into(t, r, out):
    """``out[s, a] = sum_s' t[s, a, s'] r[s, a, s']``; returns ``max_{s,a} sum_s' t |r|``.

    The return value is the size of the terms summed, the scale of the round-off in
    ``out`` (``starc.canonical.expected_magnitude``).
    """
    n, m, _ = t.shape
    big = 0.0
    for s in range(n):
        for a in range(m):
            acc = 0.0
            mag = 0.0
            for u in range(n):
                p = t[s, a, u]
                x = r[s, a, u]
                acc += p * x
                mag += p * abs(x)
            out[s, a] = acc
            if mag > big:
                big = mag
    return big


@inner
def max_abs3(r):
    big = 0.0
    n, m, k = r.shape
    for s in range(n):
        for a in range(m):
            for u in range(k):
                v = abs(r[s, a, u])
                if v > big:
                    big = v
    return big


@inner
def max_abs1(v):
    big = 0.0
    for x in range(v.shape[0]):
        a = abs(v[x])
        if a > big:
            big = a
    return big


@inner
def max_abs2(r):
    big = 0.0
    n, m = r.shape
    for s in range(n):
        for a in range(m):
            v = abs(r[s, a])
            if v > big:
                big = v
    return big


@inner
def policy_lu(t, gamma, pi, a, piv):
    """LU factors of ``I - gamma P_pi`` for a stochastic policy ``pi (S, A)``."""
    n, m, _ = t.shape
    for s in range(n):
        for u in range(n):
            a[s, u] = 0.0
        for b in range(m):
            p = pi[s, b]
            if p != 0.0:
                for u in range(n):
                    a[s, u] += p * t[s, b, u]
        for u in range(n):
            a[s, u] = -gamma * a[s, u]
        a[s, s] += 1.0
    return lu_factor(a, piv)


@inner
def evaluate_into(lu, piv, pi, rbar, v):
    """``v = (I - gamma P_pi)^{-1} r_pi`` from the LU factors, ``r_pi(s) = sum_a pi rbar``."""
    n, m = rbar.shape
    for s in range(n):
        acc = 0.0
        for a in range(m):
            acc += rbar[s, a] * pi[s, a]
        v[s] = acc
    lu_solve(lu, piv, v)


@inner
def q_into(tt, gamma, rbar, sign, v, q):
    """``q[s, a] = sign * rbar[s, a] + gamma * sum_s' T[s, a, s'] v[s']``.

    ``tt[a, s', s] = T[s, a, s']`` (the per-action transposes), so the inner loop is an
    axpy over ``s`` instead of a latency-bound dot product.
    """
    m, n, _ = tt.shape
    acc = np.empty(n)
    for a in range(m):
        for s in range(n):
            acc[s] = 0.0
        for u in range(n):
            vu = v[u]
            for s in range(n):
                acc[s] += tt[a, u, s] * vu
        for s in range(n):
            q[s, a] = sign * rbar[s, a] + gamma * acc[s]


@inner
def transpose_actions(t, tt):
    """``tt[a, s', s] = t[s, a, s']``."""
    n, m, _ = t.shape
    for a in range(m):
        for u in range(n):
            for s in range(n):
                tt[a, u, s] = t[s, a, u]


@inner
def has_full_support(t):
    n, m, _ = t.shape
    for s in range(n):
        for a in range(m):
            for u in range(n):
                if not t[s, a, u] > 0.0:
                    return False
    return True


# ----------------------------------------------------------------------------- canonicals


@inner
def epic_into(r, gamma, ds, da, out):
    r"""EPIC canonical: ``R + gamma f(s') - f(s) - gamma E_D[f]``, ``f(s) = E R(s, A, S')``."""
    n, m, _ = r.shape
    f = np.empty(n)
    for s in range(n):
        acc = 0.0
        for a in range(m):
            inner = 0.0
            for u in range(n):
                inner += r[s, a, u] * ds[u]
            acc += inner * da[a]
        f[s] = acc
    mean_f = 0.0
    for s in range(n):
        mean_f += f[s] * ds[s]
    for s in range(n):
        for a in range(m):
            for u in range(n):
                out[s, a, u] = r[s, a, u] + gamma * f[u] - f[s] - gamma * mean_f


@inner
def dard_into(r, t, tt, gamma, da, rbar, out, work, h):
    r"""DARD canonical ``R + gamma g(s') - g(s) - gamma h(s, s')``.

    ``g(s) = sum_a D_A(a) rbar(s, a)``; ``h = sum_a D_A(a) T_a R_a T_a^T`` computed per
    action as two matrix products in axpy form (``tt[a] = T_a^T``).
    """
    n, m, _ = r.shape
    g = np.empty(n)
    for s in range(n):
        acc = 0.0
        for a in range(m):
            acc += rbar[s, a] * da[a]
        g[s] = acc
    for s in range(n):
        for u in range(n):
            h[s, u] = 0.0
    for a in range(m):
        w = da[a]
        if w == 0.0:
            continue
        # work[s, v] = sum_u T[s, a, u] R[u, a, v]
        for s in range(n):
            for v in range(n):
                work[s, v] = 0.0
            for u in range(n):
                p = t[s, a, u]
                if p != 0.0:
                    for v in range(n):
                        work[s, v] += p * r[u, a, v]
        # h[s, x] += w * sum_v work[s, v] T[x, a, v]
        for s in range(n):
            for v in range(n):
                c = w * work[s, v]
                if c != 0.0:
                    for x in range(n):
                        h[s, x] += c * tt[a, v, x]
    for s in range(n):
        for a in range(m):
            for u in range(n):
                out[s, a, u] = r[s, a, u] + gamma * g[u] - g[s] - gamma * h[s, u]


@inner
def minimal_potential_l2_into(r, gamma, out):
    r"""Closed-form ``argmin_phi ||R + gamma phi(s') - phi(s)||_2`` applied to ``R``.

    One step of iterative refinement, as ``starc.canonical.minimal_potential_l2``.
    Returns ``max |phi|``.
    """
    n = r.shape[0]
    phi = np.empty(n)
    step = np.empty(n)
    _minimal_potential_step(r, gamma, phi)
    _shape_full(r, gamma, phi, out)
    _minimal_potential_step(out, gamma, step)
    for x in range(n):
        phi[x] += step[x]
    _shape_full(r, gamma, phi, out)
    return max_abs1(phi)


@inner
def _minimal_potential_step(r, gamma, phi):
    """Sherman–Morrison solve of the MinimalPotential-L2 normal equations into ``phi``."""
    n, m, _ = r.shape
    col = np.zeros(n)  # sum_{s,a} R(s, a, x)
    row = np.zeros(n)  # sum_{a,s'} R(x, a, s')
    for s in range(n):
        acc = 0.0
        for a in range(m):
            for u in range(n):
                x = r[s, a, u]
                col[u] += x
                acc += x
        row[s] = acc
    alpha = m * n * (1.0 + gamma * gamma)
    beta = 2.0 * gamma * m
    total = 0.0
    for x in range(n):
        phi[x] = row[x] - gamma * col[x]
        total += phi[x]
    coef = beta / (alpha - beta * n)
    for x in range(n):
        phi[x] = (phi[x] + coef * total) / alpha


@inner
def _shape_full(r, gamma, phi, out):
    """``out = R + gamma phi(s') - phi(s)``."""
    n, m, _ = r.shape
    for s in range(n):
        for a in range(m):
            for u in range(n):
                out[s, a, u] = r[s, a, u] + gamma * phi[u] - phi[s]


@inner
def val_potential_into(r, gamma, v, out):
    """``R(s, a, s') - V(s) + gamma V(s')``."""
    n, m, _ = r.shape
    for s in range(n):
        for a in range(m):
            for u in range(n):
                out[s, a, u] = r[s, a, u] - v[s] + gamma * v[u]


@inner
def advantage_into(tt, gamma, rbar, v, q, u_out):
    """VAL canonical in factored form ``u = Q^pi - V^pi`` from the values ``v = V^pi``."""
    n, m = rbar.shape
    q_into(tt, gamma, rbar, 1.0, v, q)
    for s in range(n):
        for a in range(m):
            u_out[s, a] = q[s, a] - v[s]


@inner
def val_advantage_into(tt, gamma, lu, piv, pi, rbar, u_out, v, q):
    """VAL canonical in factored form ``u = Q^pi - V^pi`` (constant in s')."""
    evaluate_into(lu, piv, pi, rbar, v)
    advantage_into(tt, gamma, rbar, v, q, u_out)


@inner
def _potential_step(t, gamma, w, low, resid, phi_out):
    n, m, _ = t.shape
    bty = np.zeros(n)
    for s in range(n):
        acc = 0.0
        for a in range(m):
            wr = w[s, a] * resid[s, a]
            acc += wr
            for x in range(n):
                bty[x] += gamma * (wr * t[s, a, x])
        bty[s] -= acc
    for x in range(n):
        phi_out[x] = -bty[x]
    cho_solve(low, phi_out)


@inner
def _shape_expected(t, gamma, rbar, phi, out):
    n, m, _ = t.shape
    for s in range(n):
        for a in range(m):
            acc = 0.0
            for x in range(n):
                acc += t[s, a, x] * phi[x]
            out[s, a] = rbar[s, a] + gamma * acc - phi[s]


@inner
def minimal_l2_into(t, gamma, w, low, rbar, u_out):
    r"""Coefficients ``m_{phi*}(s, a)`` of the minimal L2 canonical (2 refinement steps).

    Returns ``max |phi*|``.
    """
    n = t.shape[0]
    phi = np.empty(n)
    step = np.empty(n)
    _potential_step(t, gamma, w, low, rbar, phi)
    _shape_expected(t, gamma, rbar, phi, u_out)
    for _ in range(2):
        _potential_step(t, gamma, w, low, u_out, step)
        for x in range(n):
            phi[x] += step[x]
        _shape_expected(t, gamma, rbar, phi, u_out)
    return max_abs1(phi)


@inner
def minimal_l2_factor(t, gamma, w, g, low):
    """Weights ``w = 1/||tau(s,a)||^2`` and the Cholesky factor of ``B^T W B``."""
    n, m, _ = t.shape
    for s in range(n):
        for a in range(m):
            sq = 0.0
            for u in range(n):
                sq += t[s, a, u] * t[s, a, u]
            w[s, a] = 1.0 / sq
    for i in range(n):
        for j in range(n):
            g[i, j] = 0.0
    # gamma^2 T^T W T
    for s in range(n):
        for a in range(m):
            ww = w[s, a]
            for i in range(n):
                ti = t[s, a, i] * ww
                if ti != 0.0:
                    for j in range(n):
                        g[i, j] += ti * t[s, a, j]
    for i in range(n):
        for j in range(n):
            g[i, j] *= gamma * gamma
    # - gamma (mix + mix^T), mix[s, u] = sum_a w tau
    for s in range(n):
        for u in range(n):
            acc = 0.0
            for a in range(m):
                acc += w[s, a] * t[s, a, u]
            g[s, u] -= gamma * acc
            g[u, s] -= gamma * acc
    for s in range(n):
        acc = 0.0
        for a in range(m):
            acc += w[s, a]
        g[s, s] += acc
    return cholesky(g, low)


@inner
def factored_weights(t, w, out):
    """Per-(s, a) norm weights of the factored profiles (``out[profile, norm, s, a]``).

    Profile 0 = ones (VAL), 1 = ``tau / ||tau||^2`` (minimal L2). See
    ``starc.distances._profile_weights``.
    """
    n, m, _ = t.shape
    for s in range(n):
        for a in range(m):
            out[PROFILE_ONES, NORM_L1, s, a] = float(n)
            out[PROFILE_ONES, NORM_L2, s, a] = float(n)
            out[PROFILE_ONES, NORM_LINF, s, a] = 1.0
            out[PROFILE_ONES, NORM_WEIGHTED_L1, s, a] = 1.0
            out[PROFILE_ONES, NORM_WEIGHTED_L2, s, a] = 1.0
            out[PROFILE_ONES, NORM_WEIGHTED_LINF, s, a] = 1.0
            sq = 1.0 / w[s, a]
            tmax = 0.0
            cube = 0.0
            for u in range(n):
                p = t[s, a, u]
                if p > tmax:
                    tmax = p
                cube += p * p * p
            out[PROFILE_MINIMAL_L2, NORM_L1, s, a] = 1.0 / sq
            out[PROFILE_MINIMAL_L2, NORM_L2, s, a] = 1.0 / sq
            out[PROFILE_MINIMAL_L2, NORM_LINF, s, a] = tmax / sq
            out[PROFILE_MINIMAL_L2, NORM_WEIGHTED_L1, s, a] = 1.0
            out[PROFILE_MINIMAL_L2, NORM_WEIGHTED_L2, s, a] = cube / (sq * sq)
            out[PROFILE_MINIMAL_L2, NORM_WEIGHTED_LINF, s, a] = tmax / sq


# ----------------------------------------------------------------------------- norms


@inner
def ones_norm(n, m, code):
    """Norm of the all-ones ``(S, A, S)`` array (sets the scale of "zero")."""
    count = float(n * m) if code >= NORM_WEIGHTED_L1 else float(n * m * n)
    p = code % 3  # 0: an L1 norm, 1: an L2 norm, 2: an L-inf norm (NORMS' order)
    if p == NORM_LINF:
        return 1.0
    if p == NORM_L1:
        return count
    return np.sqrt(count)


@inner
def full_norms(c, t, full, out):
    """The six norms of a full ``(S, A, S)`` array (weighted linf: max over the support).

    ``full`` says that every transition is possible (then weighted linf = linf).
    """
    n, m, _ = c.shape
    l1 = 0.0
    l2 = 0.0
    li = 0.0
    w1 = 0.0
    w2 = 0.0
    wi = 0.0
    for s in range(n):
        for a in range(m):
            for u in range(n):
                x = c[s, a, u]
                ax = abs(x)
                p = t[s, a, u]
                xx = x * x
                l1 += ax
                l2 += xx
                if ax > li:
                    li = ax
                w1 += p * ax
                w2 += p * xx
                if not full:
                    if p > 0.0 and ax > wi:
                        wi = ax
    out[0] = l1
    out[1] = np.sqrt(l2)
    out[2] = li
    out[3] = w1
    out[4] = np.sqrt(w2)
    out[5] = li if full else wi


@inner
def factored_norms(u, wts, out):
    """The six norms of a factored canonical ``u (S, A)`` with weights ``wts (6, S, A)``."""
    n, m = u.shape
    l1 = 0.0
    l2 = 0.0
    li = 0.0
    w1 = 0.0
    w2 = 0.0
    wi = 0.0
    for s in range(n):
        for a in range(m):
            x = u[s, a]
            ax = abs(x)
            l1 += ax * wts[0, s, a]
            l2 += (ax * ax) * wts[1, s, a]
            v = ax * wts[2, s, a]
            if v > li:
                li = v
            w1 += ax * wts[3, s, a]
            w2 += (ax * ax) * wts[4, s, a]
            v = ax * wts[5, s, a]
            if v > wi:
                wi = v
    out[0] = l1
    out[1] = np.sqrt(l2)
    out[2] = li
    out[3] = w1
    out[4] = np.sqrt(w2)
    out[5] = wi


@inner
def inverse_norms(nrm, noise, n, m, inv):
    """``inv[j] = 1 / n_j``, 0 where the norm is zero up to round-off (STARC Def. 3).

    ``noise`` bounds the round-off of each entry of the canonical
    (``starc.canonical.Canonical``); ``inv[6] = 1`` (no normalization).
    """
    for j in range(N_NORMS):
        if is_zero(nrm[j], ones_norm(n, m, j), noise):
            inv[j] = 0.0
        else:
            inv[j] = 1.0 / nrm[j]
    inv[NORM_NONE] = 1.0


@inner
def full_table(c1, c2, t, full, inv1, inv2, need, out):
    """``out[j, k]`` = metric ``k`` of ``c1 inv1[j] - c2 inv2[j]`` for each needed ``j``.

    ``full``: every transition is possible, so weighted linf equals linf.
    """
    for j in range(N_NORMALIZATIONS):
        if need[j]:
            i = _same_scaling(inv1, inv2, need, j)
            if i >= 0:  # e.g. weighted L-inf = L-inf on a full support: the same row
                out[j, :] = out[i, :]
            else:
                _table_row(c1, c2, t, inv1[j], inv2[j], full, out[j])


@inner
def _same_scaling(inv1, inv2, need, j):
    """The first needed normalization before ``j`` with the same factors ``(inv1, inv2)``
    (its table row is ``j``'s, bit for bit), or -1."""
    for i in range(j):
        if need[i] and inv1[i] == inv1[j] and inv2[i] == inv2[j]:
            return i
    return -1


@inner
def _table_row(c1, c2, t, f1, f2, full, out):
    """All six metrics of ``c1 f1 - c2 f2`` in one pass.

    ``full`` says every transition is possible, so the weighted L-inf norm (the max over
    the support) equals the plain one and its branch is skipped.
    """
    n, m, _ = c1.shape
    l1 = 0.0
    l2 = 0.0
    li = 0.0
    w1 = 0.0
    w2 = 0.0
    wi = 0.0
    for s in range(n):
        for a in range(m):
            for u in range(n):
                x = c1[s, a, u] * f1 - c2[s, a, u] * f2
                ax = abs(x)
                p = t[s, a, u]
                xx = x * x
                l1 += ax
                l2 += xx
                if ax > li:
                    li = ax
                w1 += p * ax
                w2 += p * xx
                if not full and p > 0.0 and ax > wi:
                    wi = ax
    out[0] = l1
    out[1] = np.sqrt(l2)
    out[2] = li
    out[3] = w1
    out[4] = np.sqrt(w2)
    out[5] = li if full else wi


@inner
def factored_table(u1, u2, wts, inv1, inv2, need, out):
    """:func:`full_table` for factored canonicals ``u (S, A)`` with weights ``wts (6, S, A)``."""
    n, m = u1.shape
    d = np.empty((n, m))
    for j in range(N_NORMALIZATIONS):
        if not need[j]:
            continue
        f1 = inv1[j]
        f2 = inv2[j]
        for s in range(n):
            for a in range(m):
                d[s, a] = u1[s, a] * f1 - u2[s, a] * f2
        factored_norms(d, wts, out[j])

# ----------------------------------------------------------------------------- policy iteration


@inner
def policy_iteration(t, tt, gamma, rbar, sign, allowed, actions, v, q, a_work, piv, tols,
                     known):
    """Howard's policy iteration on ``sign * rbar`` over the ``allowed (S, A)`` actions (as
    ``starc.solve.policy_iteration``; pass an all-True mask for every action).

    Fills ``actions (S,)``, ``v (S,)`` and ``q (S, A)`` (the action values of the result;
    ``-inf`` on disallowed actions); ``known``, a :class:`PolicyLU`, is used when the
    iteration evaluates its policy. Returns :data:`~starc._rules.STATUS_OK`,
    ``STATUS_BELLMAN`` (Bellman residual too large) or ``STATUS_NO_CONVERGENCE``.
    """
    n, m = rbar.shape
    scale = max_abs2(rbar) / (1.0 - gamma)
    improve_tol = tols.improve_rtol * max(scale, TINY)
    _greedy_start(tt, gamma, rbar, sign, allowed, improve_tol, actions, v, q)
    for _ in range(_rules.PI_MAX_ITER):
        _evaluate_deterministic(t, gamma, rbar, sign, actions, a_work, piv, v, known)
        q_into(tt, gamma, rbar, sign, v, q)
        for s in range(n):
            for a in range(m):
                if not allowed[s, a]:
                    q[s, a] = -np.inf
        any_switch = False
        residual = 0.0
        for s in range(n):
            bi = 0
            bv = q[s, 0]
            for a in range(1, m):
                if q[s, a] > bv:
                    bv = q[s, a]
                    bi = a
            gain = bv - q[s, actions[s]]
            if gain > improve_tol:
                actions[s] = bi
                any_switch = True
            r = abs(bv - v[s])
            if r > residual:
                residual = r
        if not any_switch:
            if residual > tols.bellman_rtol * max(scale, 1.0):
                return STATUS_BELLMAN
            return STATUS_OK
    return STATUS_NO_CONVERGENCE


@inner
def _greedy_start(tt, gamma, rbar, sign, allowed, improve_tol, actions, v, q):
    """First policy: greedy with respect to ``v0(s) = max_a sign * rbar(s, a)`` over the
    allowed actions, the first action within ``improve_tol`` of the best (the rule of
    ``starc._sparse_linalg.greedy_start``)."""
    n, m = rbar.shape
    for s in range(n):
        best = -np.inf
        for a in range(m):
            if not allowed[s, a]:
                continue
            x = sign * rbar[s, a]
            if x > best:
                best = x
        v[s] = best
    q_into(tt, gamma, rbar, sign, v, q)
    for s in range(n):
        bv = -np.inf
        for a in range(m):
            if allowed[s, a] and q[s, a] > bv:
                bv = q[s, a]
        bi = -1
        for a in range(m):
            if allowed[s, a] and q[s, a] >= bv - improve_tol:
                bi = a
                break
        actions[s] = bi


@inner
def _evaluate_deterministic(t, gamma, rbar, sign, actions, a_work, piv, v, known):
    """``v = V^pi`` of the deterministic policy ``actions`` under ``sign * rbar``; leaves
    the LU factors of ``I - gamma P_pi`` in ``a_work``, ``piv`` (copied from ``known``, a
    :class:`PolicyLU`, when it is this policy's)."""
    n = rbar.shape[0]
    for s in range(n):
        v[s] = sign * rbar[s, actions[s]]
    if _same_policy(actions, known.actions):
        for s in range(n):
            piv[s] = known.piv[s]
            for x in range(n):
                a_work[s, x] = known.lu[s, x]
    else:
        for s in range(n):
            b = actions[s]
            for x in range(n):
                a_work[s, x] = -gamma * t[s, b, x]
            a_work[s, s] += 1.0
        lu_factor(a_work, piv)
    lu_solve(a_work, piv, v)


@inner
def _same_policy(actions, other):
    for s in range(actions.shape[0]):
        if actions[s] != other[s]:
            return False
    return True


@inner
def dot(x, y):
    acc = 0.0
    for i in range(x.shape[0]):
        acc += x[i] * y[i]
    return acc


@inner
def deterministic_return(t, gamma, mu, rbar, actions, a_work, piv, v, known):
    """``J(pi) = mu . V^pi`` of a deterministic policy (``known``: see
    :func:`_evaluate_deterministic`)."""
    _evaluate_deterministic(t, gamma, rbar, 1.0, actions, a_work, piv, v, known)
    return dot(v, mu)


# ----------------------------------------------------------------------------- MDP preparation


@njit(cache=True, nogil=True)
def prepare_range(lo, hi, prep, status):
    """Per-MDP factorisations of MDPs ``lo .. hi-1``: policy LU, minimal-L2 Cholesky,
    factored weights, ``T_a^T`` (into the arrays of ``prep``, a :class:`Prepared`)."""
    n = prep.T.shape[1]
    for i in range(lo, hi):
        t = prep.T[i]
        st = policy_lu(t, prep.gam[i], prep.pol[i], prep.lu[i], prep.piv[i])
        g = np.empty((n, n))
        st2 = minimal_l2_factor(t, prep.gam[i], prep.w[i], g, prep.low[i])
        factored_weights(t, prep.w[i], prep.fw[i])
        transpose_actions(t, prep.tt[i])
        prep.full[i] = has_full_support(t)
        status[i] = STATUS_OK if st == 0 and st2 == 0 else STATUS_SINGULAR


# ----------------------------------------------------------------------------- distances


@inner
def canonical_full_into(f, r, t, tt, gamma, ds, da, rbar, v, out, work, h, zero_rtol):
    """Full canonical of family ``f`` (not VAL / minimal L2) into ``out``.

    Returns it and the round-off bound of its entries (``starc.canonical.canonical_parts``):
    ``zero_rtol`` times the largest of ``|R|`` and of the potential it subtracted.
    """
    scale = max_abs3(r)
    if f == F_NONE:
        return r, zero_rtol * scale
    if f == F_EPIC:
        epic_into(r, gamma, ds, da, out)
    elif f == F_DARD:
        dard_into(r, t, tt, gamma, da, rbar, out, work, h)
    elif f == F_MINPOT:
        scale = max(scale, minimal_potential_l2_into(r, gamma, out))
    else:  # F_VALPOT
        val_potential_into(r, gamma, v, out)
        scale = max(scale, max_abs1(v))
    return out, zero_rtol * scale


@inner
def _factored_into(f, t, tt, gamma, w, low, rbar, v, mag, q, u_out, zero_rtol):
    """Factored canonical (VAL from the values ``v``, or minimal L2) into ``u_out``.

    Returns the round-off bound of its entries: ``zero_rtol`` times the largest of
    ``mag`` (``max E_tau |R|``) and of the values or potential it subtracted.
    """
    if f == F_VAL:
        advantage_into(tt, gamma, rbar, v, q, u_out)
        return zero_rtol * max(mag, max_abs1(v))
    return zero_rtol * max(mag, minimal_l2_into(t, gamma, w, low, rbar, u_out))


@inner
def _pair_units(ex, g, k, inv0, invk):
    """Unnormalized slot of a pair: ``inv[NORM_NONE] = 2**(ex - max(ex0, exk))`` (exact,
    <= 1)."""
    e0 = ex[g, 0]
    ek = ex[g, k]
    big = e0 if e0 > ek else ek
    inv0[NORM_NONE] = math.ldexp(1.0, e0 - big)
    invk[NORM_NONE] = math.ldexp(1.0, ek - big)


@inner
def _expected_group(t, R, g, rbar, mag):
    """``rbar[k] = E_tau R[g, k]`` and ``mag[k] = max_{s,a} E_tau |R[g, k]|`` (the scale
    of the round-off in ``rbar``)."""
    for k in range(R.shape[1]):
        mag[k] = expected_reward_into(t, R[g, k], rbar[k])


@njit(cache=True, nogil=True)
def distance_groups(lo, hi, prep, grp, need, dist, tols, out):
    """Distances (the needed families x normalizations, every metric) of groups
    ``lo .. hi-1``.

    ``need (N_FAMILIES, N_NORMALIZATIONS)`` bool; ``out`` a :class:`DistanceOut`. The
    rewards are the caller's multiplied by ``2**-ex`` (exact); normalized distances do
    not depend on it; the unnormalized ones (normalization ``NORM_NONE``) of a pair are
    computed at the pair's larger scale ``2**E``, ``E = max(ex[g, 0], ex[g, k])``, and the
    caller multiplies them by ``2**E``.
    """
    n_k, n, m = grp.R.shape[1], grp.R.shape[2], grp.R.shape[3]
    rbar = np.empty((n_k, n, m))
    mag = np.empty(n_k)
    vals = np.empty((n_k, n))
    for g in range(lo, hi):
        i = grp.mdp_of[g]
        _expected_group(prep.T[i], grp.R, g, rbar, mag)
        for k in range(n_k):
            evaluate_into(prep.lu[i], prep.piv[i], prep.pol[i], rbar[k], vals[k])
        for f in range(N_FAMILIES):
            if not _any_set(need[f]):
                continue
            if f == F_VAL or f == F_MINL2:
                _factored_family(f, g, i, prep, grp, rbar, mag, vals, need[f], tols.zero_rtol,
                                 out.d)
            else:
                _full_family(f, g, i, prep, grp, dist, rbar, vals, need[f], tols.zero_rtol,
                             out.d)
        out.status[g] = STATUS_OK


@inner
def _any_set(flags):
    """Whether any entry of the boolean vector ``flags`` is set."""
    for j in range(flags.shape[0]):
        if flags[j]:
            return True
    return False


@inner
def _factored_family(f, g, i, prep, grp, rbar, mag, vals, needf, zero_rtol, out_d):
    """Distance tables of group ``g`` for a factored family (VAL or minimal L2)."""
    n_k, n, m = grp.R.shape[1], grp.R.shape[2], grp.R.shape[3]
    t = prep.T[i]
    gamma = prep.gam[i]
    wts = prep.fw[i, PROFILE_ONES if f == F_VAL else PROFILE_MINIMAL_L2]
    q = np.empty((n, m))
    u0 = np.empty((n, m))
    uk = np.empty((n, m))
    nrm = np.empty(N_NORMS)
    inv0 = np.empty(N_NORMALIZATIONS)
    invk = np.empty(N_NORMALIZATIONS)
    noise0 = _factored_into(f, t, prep.tt[i], gamma, prep.w[i], prep.low[i], rbar[0],
                            vals[0], mag[0], q, u0, zero_rtol)
    factored_norms(u0, wts, nrm)
    inverse_norms(nrm, noise0, n, m, inv0)
    for k in range(1, n_k):
        noisek = _factored_into(f, t, prep.tt[i], gamma, prep.w[i], prep.low[i], rbar[k],
                                vals[k], mag[k], q, uk, zero_rtol)
        factored_norms(uk, wts, nrm)
        inverse_norms(nrm, noisek, n, m, invk)
        _pair_units(grp.ex, g, k, inv0, invk)
        factored_table(u0, uk, wts, inv0, invk, needf, out_d[g, k - 1, f])


@inner
def _full_family(f, g, i, prep, grp, dist, rbar, vals, needf, zero_rtol, out_d):
    """Distance tables of group ``g`` for a family with full ``(S, A, S)`` canonicals."""
    n_k, n, m = grp.R.shape[1], grp.R.shape[2], grp.R.shape[3]
    t = prep.T[i]
    gamma = prep.gam[i]
    full = prep.full[i]
    c0 = np.empty((n, m, n))
    ck = np.empty((n, m, n))
    work = np.empty((n, n))
    h = np.empty((n, n))
    nrm = np.empty(N_NORMS)
    inv0 = np.empty(N_NORMALIZATIONS)
    invk = np.empty(N_NORMALIZATIONS)
    a0, noise0 = canonical_full_into(f, grp.R[g, 0], t, prep.tt[i], gamma, dist.ds, dist.da,
                                     rbar[0], vals[0], c0, work, h, zero_rtol)
    full_norms(a0, t, full, nrm)
    inverse_norms(nrm, noise0, n, m, inv0)
    for k in range(1, n_k):
        ak, noisek = canonical_full_into(f, grp.R[g, k], t, prep.tt[i], gamma, dist.ds,
                                         dist.da, rbar[k], vals[k], ck, work, h, zero_rtol)
        full_norms(ak, t, full, nrm)
        inverse_norms(nrm, noisek, n, m, invk)
        _pair_units(grp.ex, g, k, inv0, invk)
        full_table(a0, ak, t, full, inv0, invk, needf, out_d[g, k - 1, f])


# ----------------------------------------------------------------------------- regrets


@njit(cache=True, nogil=True)
def regret_groups(lo, hi, prep, grp, ties, tols, out):
    """Regrets of the pairs of groups ``lo .. hi-1`` both ways, with the tie rule ``ties``
    (a tie code of :mod:`starc._rules`); ``out`` a :class:`RegretOut`.

    Per reward: its value range ``[lo, hi]`` (optimal and pessimal policies by policy
    iteration), whether it is trivial, and as a proxy its tie masks
    (:func:`_value_range`); then each pair's two regrets (:func:`_regret_checked`).
    Status :data:`~starc._rules.STATUS_UNDECIDED`: a regret depends on ties float64
    cannot decide.
    """
    n_k, n, m = grp.R.shape[1], grp.R.shape[2], grp.R.shape[3]
    w = _RegretWork(np.empty((n_k, n, m)), np.empty(n_k), np.empty((n, n)),
                    np.empty(n, dtype=np.int64), np.empty(n), np.empty(n), np.empty((n, m)),
                    np.empty(n_k), np.empty(n_k), np.empty(n_k),
                    np.zeros((n_k, n, m), dtype=np.bool_),
                    np.zeros((n_k, n, m), dtype=np.bool_), np.zeros(n_k, dtype=np.bool_),
                    np.empty((n, m), dtype=np.bool_), np.empty(n),
                    np.empty(n, dtype=np.int64), np.ones((n, m), dtype=np.bool_),
                    np.full((n_k, n), -1, dtype=np.int64), np.empty((n_k, n, n)),
                    np.empty((n_k, n), dtype=np.int64),
                    PolicyLU(np.full(n, -1, dtype=np.int64), np.empty((n, n)),
                             np.empty(n, dtype=np.int64)))
    for g in range(lo, hi):
        i = grp.mdp_of[g]
        t = prep.T[i]
        tt = prep.tt[i]
        gamma = prep.gam[i]
        mu = prep.mu[i]
        _expected_group(t, grp.R, g, w.rbar, w.mag)
        st_g = STATUS_OK
        for k in range(n_k):
            st = _value_range(k, g, i, prep, tols, w, out)
            if st != STATUS_OK:
                st_g = st
        for k in range(1, n_k):
            x, st = _regret_checked(t, tt, gamma, mu, w.rbar[0], w.mag[0], w.lo[0], w.hi[0],
                                    w.triv_tol[0], w.allowed[k], w.doubtful[k],
                                    w.any_doubt[k], out.act[g, k, 0], ties, tols, w.acts, w.v,
                                    w.q, w.a_work, w.pv, w.sure, _best_lu(w, k))
            if st != STATUS_OK:
                st_g = st
            out.reg[g, k - 1, 0] = x
            x, st = _regret_checked(t, tt, gamma, mu, w.rbar[k], w.mag[k], w.lo[k], w.hi[k],
                                    w.triv_tol[k], w.allowed[0], w.doubtful[0],
                                    w.any_doubt[0], out.act[g, 0, 0], ties, tols, w.acts, w.v,
                                    w.q, w.a_work, w.pv, w.sure, _best_lu(w, 0))
            if st != STATUS_OK:
                st_g = st
            out.reg[g, k - 1, 1] = x
        out.status[g] = st_g


class _RegretWork(NamedTuple):
    """Scratch arrays of :func:`regret_groups` (one set per thread)."""

    rbar: np.ndarray       # (K, S, A)
    mag: np.ndarray        # (K,)
    a_work: np.ndarray     # (S, S) LU factors of I - gamma P_pi
    pv: np.ndarray         # (S,) pivots
    v: np.ndarray          # (S,)
    vw: np.ndarray         # (S,)
    q: np.ndarray          # (S, A)
    lo: np.ndarray         # (K,) min_pi J
    hi: np.ndarray         # (K,) max_pi J
    triv_tol: np.ndarray   # (K,) largest value range counted as zero
    allowed: np.ndarray    # (K, S, A) tied-optimal actions of each reward as a proxy
    doubtful: np.ndarray   # (K, S, A) ties in doubt
    any_doubt: np.ndarray  # (K,)
    sure: np.ndarray       # (S, A)
    wcol: np.ndarray       # (S,)
    acts: np.ndarray       # (S,)
    every: np.ndarray      # (S, A) all True: no mask
    best_actions: np.ndarray  # (K, S) optimal actions whose LU factors are kept ...
    best_lu: np.ndarray       # (K, S, S) ... (-1: none)
    best_piv: np.ndarray      # (K, S)
    unknown: PolicyLU         # no policy


@inner
def _best_lu(w, k):
    """The :class:`PolicyLU` of reward ``k``'s optimal policy (kept by :func:`_value_range`)."""
    return PolicyLU(w.best_actions[k], w.best_lu[k], w.best_piv[k])


@inner
def _value_range(k, g, i, prep, tols, w, out):
    """Reward ``k`` of group ``g``: its optimal and pessimal policies and returns
    (``w.hi[k]``, ``w.lo[k]``), whether it is trivial, and its tie masks as a proxy
    (every action tied for a trivial reward). Returns the status of policy iteration."""
    n, m = w.q.shape
    t = prep.T[i]
    tt = prep.tt[i]
    gamma = prep.gam[i]
    rbar = w.rbar[k]
    st_k = policy_iteration(t, tt, gamma, rbar, 1.0, w.every, out.act[g, k, 0], w.v, w.q,
                            w.a_work, w.pv, tols, w.unknown)
    _keep_lu(st_k, out.act[g, k, 0], w.a_work, w.pv, w.best_actions[k], w.best_lu[k],
             w.best_piv[k])
    w.hi[k] = dot(w.v, prep.mu[i])
    _tie_masks_into(t, gamma, rbar, w.mag[k], w.v, w.q, w.a_work, w.pv, tols, w.wcol,
                    w.allowed[k], w.doubtful[k])
    st = policy_iteration(t, tt, gamma, rbar, -1.0, w.every, out.act[g, k, 1], w.vw, w.q,
                          w.a_work, w.pv, tols, w.unknown)
    if st != STATUS_OK:
        st_k = st
    w.lo[k] = 0.0 - dot(w.vw, prep.mu[i])
    w.triv_tol[k] = trivial_tolerance(w.mag[k], gamma, tols.regret_rtol)
    out.triv[g, k] = is_trivial(w.lo[k], w.hi[k], w.triv_tol[k])
    if out.triv[g, k]:  # a trivial proxy: every action counts as optimal
        for s in range(n):
            for a in range(m):
                w.allowed[k, s, a] = True
                w.doubtful[k, s, a] = False
    w.any_doubt[k] = False
    for s in range(n):
        for a in range(m):
            if w.doubtful[k, s, a]:
                w.any_doubt[k] = True
    return st_k


@inner
def _keep_lu(status, actions, lu, piv, kept_actions, kept_lu, kept_piv):
    """Keep the LU factors ``lu``, ``piv`` of the policy ``actions`` that policy iteration
    stopped at (status OK: the last policy it evaluated), or mark none kept."""
    n = actions.shape[0]
    if status != STATUS_OK:
        kept_actions[0] = -1
        return
    for s in range(n):
        kept_actions[s] = actions[s]
        kept_piv[s] = piv[s]
        for x in range(n):
            kept_lu[s, x] = lu[s, x]


@inner
def _regret_one(t, tt, gamma, mu, rb_true, lo, hi, tol_true, allowed_proxy, best_proxy, ties,
                tols, actions, v, q, a_work, piv, known):
    """Normalised regret under ``rb_true`` of an optimal policy of the proxy (0 when the
    true reward is trivial, its value range ``hi - lo`` within ``tol_true``), its status,
    the return ``j`` it came from and ``max |V|`` of that policy."""
    if is_trivial(lo, hi, tol_true):
        return 0.0, STATUS_OK, hi, 0.0
    if ties == TIE_FIRST:  # the proxy's policy-iteration policy
        j = deterministic_return(t, gamma, mu, rb_true, best_proxy, a_work, piv, v, known)
        st = STATUS_OK
    else:
        sign = tie_sign(ties)
        st = policy_iteration(t, tt, gamma, rb_true, sign, allowed_proxy, actions, v, q,
                              a_work, piv, tols, known)
        j = sign * dot(v, mu)
    return regret_fraction(lo, hi, j), st, j, max_abs1(v)


@inner
def _regret_checked(t, tt, gamma, mu, rb_true, mag_true, lo, hi, tol_true, allowed_proxy,
                    doubtful_proxy, any_doubt, best_proxy, ties, tols, actions, v, q,
                    a_work, piv, sure, known):
    """:func:`_regret_one`, and when some allowed proxy actions are tied in doubt
    (``starc.regret._tie_masks``), the same without them: status ``STATUS_UNDECIDED``
    when the two returns differ by more than their round-off bound (the tie rule's worst
    case, :func:`starc._rules.tie_bounds`)."""
    x, st, j, vmax = _regret_one(t, tt, gamma, mu, rb_true, lo, hi, tol_true, allowed_proxy,
                                 best_proxy, ties, tols, actions, v, q, a_work, piv, known)
    if ties == TIE_FIRST or not any_doubt or is_trivial(lo, hi, tol_true):
        return x, st
    n, m = allowed_proxy.shape
    for s in range(n):
        for a in range(m):
            sure[s, a] = allowed_proxy[s, a] and not doubtful_proxy[s, a]
    _, st2, j2, vmax2 = _regret_one(t, tt, gamma, mu, rb_true, lo, hi, tol_true, sure,
                                    best_proxy, ties, tols, actions, v, q, a_work, piv,
                                    known)
    if st2 != STATUS_OK:
        st = st2
    _, worst, _ = tie_bounds(mag_true, gamma, max(vmax, vmax2), tols.tie_rtol)
    if abs(j - j2) > worst:
        st = STATUS_UNDECIDED
    return x, st


@inner
def _tie_masks_into(t, gamma, rbar, mag, v, q, a_lu, piv, tols, wcol, allowed, doubtful):
    """The tie masks of ``starc.regret._tie_masks``: the same rule
    (:mod:`starc._rules`), this module's arithmetic.

    ``v``, ``q``: values and action values of an optimal policy whose ``I - gamma P_pi``
    LU factors are ``a_lu``, ``piv`` (as :func:`policy_iteration` leaves them).
    """
    n, m = rbar.shape
    floor, worst, unit = tie_bounds(mag, gamma, max_abs1(v), tols.tie_rtol)
    limit = doubt_limit(mag, tols.regret_rtol)
    for s in range(n):
        best = 0
        qmax = q[s, 0]
        for a in range(1, m):
            if q[s, a] > qmax:
                qmax = q[s, a]
                best = a
        for a in range(m):
            gap = qmax - q[s, a]
            doubtful[s, a] = False
            if gap <= floor:
                allowed[s, a] = True
                if in_doubt(floor, limit) and a != best:
                    doubtful[s, a] = not _same_action(t, rbar, s, a, best)
            elif gap <= worst:
                for u in range(n):
                    wcol[u] = t[s, a, u] - t[s, best, u]
                lu_solve_transposed(a_lu, piv, wcol)
                spread = 0.0
                for u in range(n):
                    spread += abs(wcol[u])
                bound = tie_bound(floor, unit, spread)
                allowed[s, a] = gap <= bound
                doubtful[s, a] = gap <= bound and in_doubt(bound, limit)
            else:
                allowed[s, a] = False


@inner
def _same_action(t, rbar, s, a, b):
    """Actions ``a`` and ``b`` in state ``s`` have the same transitions and expected
    reward (then they are tied exactly)."""
    same = rbar[s, a] == rbar[s, b]
    for u in range(t.shape[2]):
        if t[s, a, u] != t[s, b, u]:
            same = False
    return same


# ----------------------------------------------------------------------------- LP tables


@njit(cache=True, nogil=True)
def tables_from_canonicals(lo, hi, T, mdp_of, C, noise, need, out_d):
    """Distance tables ``out_d[g, k-1, j, metric]`` of groups ``lo .. hi-1`` from
    precomputed full canonicals.

    ``C (N, K, S, A, S)`` canonicals, ``noise (N, K)`` the round-off bound of their
    entries (``starc.canonical.Canonical.noise``).
    """
    n_k = C.shape[1]
    n, m = C.shape[2], C.shape[3]
    for g in range(lo, hi):
        t = T[mdp_of[g]]
        full = has_full_support(t)
        nrm = np.empty(N_NORMS)
        inv0 = np.empty(N_NORMALIZATIONS)
        invk = np.empty(N_NORMALIZATIONS)
        full_norms(C[g, 0], t, full, nrm)
        inverse_norms(nrm, noise[g, 0], n, m, inv0)
        for k in range(1, n_k):
            full_norms(C[g, k], t, full, nrm)
            inverse_norms(nrm, noise[g, k], n, m, invk)
            full_table(C[g, 0], C[g, k], t, full, inv0, invk, need, out_d[g, k - 1])


# ----------------------------------------------------------------------------- elementwise kernels


@njit(cache=True, nogil=True)
def expected_rewards_kernel(lo, hi, T, mdp_of, R, out):
    for g in range(lo, hi):
        t = T[mdp_of[g]]
        for k in range(R.shape[1]):
            expected_reward_into(t, R[g, k], out[g, k])


@njit(cache=True, nogil=True)
def evaluate_kernel(lo, hi, T, gam, pol, mdp_of, R, out, status):
    """Values ``(N, K, S)`` of each MDP's policy ``pol (M, S, A)``; one LU per group."""
    n, m = R.shape[2], R.shape[3]
    for g in range(lo, hi):
        i = mdp_of[g]
        t = T[i]
        a = np.empty((n, n))
        pv = np.empty(n, dtype=np.int64)
        status[g] = policy_lu(t, gam[i], pol[i], a, pv)
        rbar = np.empty((n, m))
        for k in range(R.shape[1]):
            expected_reward_into(t, R[g, k], rbar)
            evaluate_into(a, pv, pol[i], rbar, out[g, k])


@njit(cache=True, nogil=True)
def canonical_kernel(lo, hi, T, gam, mdp_of, pol, R, family, ds, da, w, low, zero_rtol, out,
                     status):
    """Full canonical rewards ``out (N, K, S, A, S)`` of one family for every reward."""
    n_k = R.shape[1]
    n, m = R.shape[2], R.shape[3]
    for g in range(lo, hi):
        i = mdp_of[g]
        t = T[i]
        gamma = gam[i]
        rbar = np.empty((n, m))
        v = np.empty(n)
        q = np.empty((n, m))
        u = np.empty((n, m))
        work = np.empty((n, n))
        h = np.empty((n, n))
        lu = np.empty((n, n))
        pv = np.empty(n, dtype=np.int64)
        tt = np.empty((m, n, n))
        status[g] = STATUS_OK
        if family == F_VAL or family == _rules.F_VALPOT:
            status[g] = policy_lu(t, gamma, pol[i], lu, pv)
        transpose_actions(t, tt)
        for k in range(n_k):
            r = R[g, k]
            o = out[g, k]
            expected_reward_into(t, r, rbar)
            if family == F_NONE:
                for s in range(n):
                    for a in range(m):
                        for x in range(n):
                            o[s, a, x] = r[s, a, x]
            elif family == F_VAL:
                val_advantage_into(tt, gamma, lu, pv, pol[i], rbar, u, v, q)
                for s in range(n):
                    for a in range(m):
                        for x in range(n):
                            o[s, a, x] = u[s, a]
            elif family == F_MINL2:
                minimal_l2_into(t, gamma, w[i], low[i], rbar, u)
                for s in range(n):
                    for a in range(m):
                        sq = 0.0
                        for x in range(n):
                            sq += t[s, a, x] * t[s, a, x]
                        for x in range(n):
                            o[s, a, x] = u[s, a] * (t[s, a, x] / sq)
            else:
                if family == _rules.F_VALPOT:
                    evaluate_into(lu, pv, pol[i], rbar, v)
                canonical_full_into(family, r, t, tt, gamma, ds, da, rbar, v, o, work, h,
                                    zero_rtol)


@njit(cache=True, nogil=True)
def norms_kernel(lo, hi, T, mdp_of, X, out):
    """The six norms ``out (N, K, 6)`` of full arrays ``X (N, K, S, A, S)``."""
    for g in range(lo, hi):
        t = T[mdp_of[g]]
        full = has_full_support(t)
        for k in range(X.shape[1]):
            full_norms(X[g, k], t, full, out[g, k])


@njit(cache=True, nogil=True)
def optimal_kernel(lo, hi, T, gam, mdp_of, R, sign, tols, actions, values, status):
    """Policy iteration for ``sign * R`` of every reward: actions and values ``(N, K, S)``."""
    n, m = R.shape[2], R.shape[3]
    for g in range(lo, hi):
        i = mdp_of[g]
        t = T[i]
        rbar = np.empty((n, m))
        q = np.empty((n, m))
        a_work = np.empty((n, n))
        pv = np.empty(n, dtype=np.int64)
        every = np.ones((n, m), dtype=np.bool_)
        unknown = PolicyLU(np.full(n, -1, dtype=np.int64), np.empty((n, n)),
                           np.empty(n, dtype=np.int64))
        tt = np.empty((m, n, n))
        transpose_actions(t, tt)
        st_g = STATUS_OK
        for k in range(R.shape[1]):
            expected_reward_into(t, R[g, k], rbar)
            st = policy_iteration(t, tt, gam[i], rbar, sign, every, actions[g, k],
                                  values[g, k], q, a_work, pv, tols, unknown)
            if st != STATUS_OK:
                st_g = st
        status[g] = st_g
