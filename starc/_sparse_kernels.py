r"""numba kernels of the sparse solvers: the triangular sweeps of symmetric Gauss-Seidel
and the BiCGSTAB iteration preconditioned by them (:func:`bicgstab_sgs`).

Not public API; imported on first use by :mod:`starc._sparse_linalg` (numba is heavy).
For a CSR matrix :math:`M = L + D + U` with sorted column indices and a stored diagonal,
the symmetric Gauss-Seidel preconditioner is

.. math::

    K = (D + L)\, D^{-1} (D + U), \qquad
    K^{-1} v = (D + U)^{-1} D\, (D + L)^{-1} v,

two triangular sweeps in :math:`O(\mathrm{nnz})` with nothing to factorise. For
:math:`M = I - \gamma P_\pi` (an M-matrix, strictly diagonally dominant by rows) both
sweeps are well defined (:math:`D > 0`). ``scipy.sparse.linalg.spsolve_triangular`` does
the same sweep about 15x slower at :math:`S = 10^6`, and SuperLU's incomplete LU takes
over a minute to build there; these loops take a few milliseconds per million non-zeros.

References
----------
.. [1] Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., 2003, Sec. 4.1 and
   10.2 (SSOR/SGS preconditioning).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._rules import KRYLOV_BREAKDOWN

__all__ = ["bicgstab_sgs", "diagonal_positions", "lower_sweep", "scaled_upper_sweep"]


@njit(cache=True, nogil=True)
def lower_sweep(indptr, indices, data, diag, v, out):  # pragma: no cover - numba
    """Solve ``(D + L) out = v``; ``diag[i]`` is the position of ``M[i, i]`` in row i."""
    n = indptr.shape[0] - 1
    for i in range(n):
        acc = v[i]
        for k in range(indptr[i], diag[i]):
            acc -= data[k] * out[indices[k]]
        out[i] = acc / data[diag[i]]


@njit(cache=True, nogil=True)
def scaled_upper_sweep(indptr, indices, data, diag, d, z):  # pragma: no cover - numba
    """Solve ``(D + U) out = d * z`` in place (``out`` overwrites ``z``: row ``i`` reads
    ``z[i]`` before writing it, and only rows above ``i`` are written before)."""
    n = indptr.shape[0] - 1
    for i in range(n - 1, -1, -1):
        acc = d[i] * z[i]
        for k in range(diag[i] + 1, indptr[i + 1]):
            acc -= data[k] * z[indices[k]]
        z[i] = acc / data[diag[i]]


@njit(cache=True, nogil=True)
def diagonal_positions(indptr, indices, out):  # pragma: no cover - numba
    """``out[i]`` = the position of ``M[i, i]`` in row ``i``'s entries, -1 when absent."""
    n = indptr.shape[0] - 1
    for i in range(n):
        out[i] = -1
        for k in range(indptr[i], indptr[i + 1]):
            if indices[k] == i:
                out[i] = k
                break


# ----------------------------------------------------------------------------- BiCGSTAB

#: Outcomes of :func:`bicgstab_sgs`.
REACHED = 0       # the true residual met its goal, or stagnated (``x`` = best iterate)
SMALL = 1         # the recursive 2-norm residual fell below ``floor2``
EXHAUSTED = 2     # ``maxiter`` iterations
BREAKDOWN = -1    # rho or omega vanished, or the residual is NaN


@njit(cache=True, nogil=True)
def _dot(x, y):  # pragma: no cover - numba
    """``x . y`` with four partial sums (any order: every result is certified later)."""
    n = x.shape[0]
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    i = 0
    while i + 4 <= n:
        a0 += x[i] * y[i]
        a1 += x[i + 1] * y[i + 1]
        a2 += x[i + 2] * y[i + 2]
        a3 += x[i + 3] * y[i + 3]
        i += 4
    while i < n:
        a0 += x[i] * y[i]
        i += 1
    return (a0 + a1) + (a2 + a3)


@njit(cache=True, nogil=True)
def _matvec(indptr, indices, data, x, out):  # pragma: no cover - numba
    n = indptr.shape[0] - 1
    for i in range(n):
        acc = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * x[indices[k]]
        out[i] = acc


@njit(cache=True, nogil=True)
def _residual_norm(indptr, indices, data, b, x, ord_one):  # pragma: no cover - numba
    """``||b - M x||`` in the 1-norm (``ord_one``) or the max-norm, without a vector."""
    n = indptr.shape[0] - 1
    total = 0.0
    for i in range(n):
        acc = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            acc -= data[k] * x[indices[k]]
        a = abs(acc)
        if ord_one:
            total += a
        elif a > total or a != a:
            total = a
    return total


@njit(cache=True, nogil=True)
def _precondition(indptr, indices, data, diag, d, v, z):  # pragma: no cover - numba
    lower_sweep(indptr, indices, data, diag, v, z)
    scaled_upper_sweep(indptr, indices, data, diag, d, z)


@njit(cache=True, nogil=True)
def bicgstab_sgs(indptr, indices, data, diag, d, b, x, goal_res, floor2, maxiter, ord_one,
                 stagnation, state, best, work):  # pragma: no cover - numba
    """BiCGSTAB for ``M x = b`` (CSR ``M``), preconditioned by symmetric Gauss-Seidel
    (:func:`lower_sweep`, :func:`scaled_upper_sweep`), from ``x`` (overwritten).

    After each iteration the *true* residual ``||b - M x||`` (1-norm if ``ord_one``, else
    max-norm) is computed: at most ``goal_res`` stops with ``x``; the best iterate so
    far is kept in ``best``, and when the residual has not halved for ``stagnation``
    iterations ``x`` becomes the best and it stops (both :data:`REACHED`). ``state``
    ``[iterations, best residual, iteration of the last halving, have best]`` carries
    over between restarts; ``work (8, S)`` scratch. Returns an outcome code.
    """
    r = work[0]
    rt = work[1]
    p = work[2]
    v = work[3]
    s = work[4]
    t = work[5]
    ph = work[6]
    sh = work[7]
    n = b.shape[0]
    tiny = KRYLOV_BREAKDOWN
    _matvec(indptr, indices, data, x, r)
    for i in range(n):
        r[i] = b[i] - r[i]
        rt[i] = r[i]
    rho_prev = 1.0
    alpha = 1.0
    omega = 1.0
    for it in range(maxiter):
        if np.sqrt(_dot(r, r)) < floor2:
            return SMALL
        rho = _dot(rt, r)
        if abs(rho) < tiny:
            return BREAKDOWN
        if it > 0:
            if abs(omega) < tiny:
                return BREAKDOWN
            beta = (rho / rho_prev) * (alpha / omega)
            for i in range(n):
                p[i] = (p[i] - omega * v[i]) * beta + r[i]
        else:
            for i in range(n):
                p[i] = r[i]
        _precondition(indptr, indices, data, diag, d, p, ph)
        _matvec(indptr, indices, data, ph, v)
        rv = _dot(rt, v)
        if rv == 0.0:
            return BREAKDOWN
        alpha = rho / rv
        for i in range(n):
            s[i] = r[i] - alpha * v[i]
        if np.sqrt(_dot(s, s)) < floor2:
            for i in range(n):
                x[i] += alpha * ph[i]
            return SMALL
        _precondition(indptr, indices, data, diag, d, s, sh)
        _matvec(indptr, indices, data, sh, t)
        tt = _dot(t, t)
        omega = _dot(t, s) / tt if tt != 0.0 else 0.0
        for i in range(n):
            x[i] += alpha * ph[i] + omega * sh[i]
            r[i] = s[i] - omega * t[i]
        rho_prev = rho
        # the true residual, as the callback of a library solver would
        state[0] += 1.0
        rn = _residual_norm(indptr, indices, data, b, x, ord_one)
        if rn != rn:  # NaN: the caller falls back to GMRES from the start
            return BREAKDOWN
        if rn <= goal_res:
            return REACHED
        if rn < state[1]:
            if rn < 0.5 * state[1]:
                state[2] = state[0]
            state[1] = rn
            state[3] = 1.0
            for i in range(n):
                best[i] = x[i]
        if state[0] - state[2] > stagnation and state[3] > 0.0:
            for i in range(n):
                x[i] = best[i]
            return REACHED
    return EXHAUSTED
