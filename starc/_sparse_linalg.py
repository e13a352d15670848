r"""Certified linear algebra for large sparse MDPs (THEORY §11). Not public API.

A sparse MDP stores its transition as a CSR matrix :math:`T` of shape ``(S*A, S)``, row
``s*A + a`` holding :math:`\tau(\cdot \mid s, a)`. For a policy :math:`\pi` the state
matrix :math:`P_\pi = D_\pi T`, with :math:`D_\pi` the ``(S, S*A)`` matrix of the
probabilities :math:`\pi(a \mid s)`, has as many non-zeros as the rows of :math:`T` the
policy uses, and is built in :math:`O(\mathrm{nnz})`.

Policy evaluation
-----------------
:math:`V^\pi` solves :math:`M V = r_\pi` with :math:`M = I - \gamma P_\pi`. Two solvers:

* ``"splu"``: a sparse LU factorisation (SuperLU, ``scipy.sparse.linalg.splu``) without
  pivoting in the minimum-degree ordering of :math:`M + M^\top` (see
  :data:`SPLU_ORDERING`), while :math:`S \le` :data:`SPLU_MAX_STATES` — on a 2-D gridworld
  its fill :math:`\mathrm{nnz}(L + U) / \mathrm{nnz}(M)` grows from 7.5 at
  :math:`S = 10^4` to 11 at :math:`10^5` and its time super-linearly, while the Krylov
  path below grows linearly in the non-zeros;
* ``"bicgstab+sgs"`` (``"gmres+sgs"`` when BiCGSTAB breaks down twice): a Krylov method
  preconditioned by symmetric Gauss-Seidel, :math:`K = (D + L) D^{-1} (D + U)` for
  :math:`M = L + D + U` — the incomplete factorisation that keeps :math:`M`'s own entries,
  applied by two triangular sweeps (:mod:`starc._sparse_kernels`) with nothing to build.
  BiCGSTAB is compiled there too (one loop without the GIL and without temporaries, so
  solves on several threads run side by side); the GMRES fallback is scipy's.
  SuperLU's incomplete LU (``spilu``, drop tolerance 1e-2..1e-4) needed fewer iterations
  but took 86 s to build at :math:`S = 10^6`, where the whole SGS-preconditioned solve
  takes about 9 s.

Whichever ran, the answer is *certified*: since every row of :math:`P_\pi` sums to one,
:math:`\|M^{-1}\|_\infty \le 1 / (1 - \gamma)`, so for any approximation :math:`V_k`

.. math::

    \|V^\pi - V_k\|_\infty \le \frac{\|r_\pi - M V_k\|_\infty}{1 - \gamma},

with the residual recomputed in float64 from :math:`T` after the solve (never the
solver's own estimate). The bound must be at most ``rtol`` (default :math:`10^{-10}`)
times the *value scale* :math:`\max_s |r_\pi(s)| / (1 - \gamma)`, itself a bound on
:math:`\|V^\pi\|_\infty`; otherwise the residual is corrected with the same factors
(iterative refinement, :math:`V_{k+1} = V_k + M^{-1}(r_\pi - M V_k)`) a few times, and
a :class:`~starc.exceptions.ConvergenceError` says when the bound still fails. The
occupancy :math:`d^\pi` solves the transposed system :math:`M^\top d = \mu_0`; since
:math:`\|M^{-\top}\|_1 = \|M^{-1}\|_\infty`, its bound holds in the 1-norm.

Policy iteration
----------------
Howard's policy iteration with those evaluations. Up to :data:`PI_SPLU_MAX_STATES`
states every policy is factorised by sparse LU; the first policy is :func:`greedy_start`
and the greedy step :func:`improvement`, the rules that :func:`starc.solve.optimal_policy`
uses for dense MDPs too, so both decide ties alike. Beyond, the evaluations are Krylov
solves warm-started from the previous values and *inexact* while the Bellman residual is
large (first to :math:`10^{-6}` of the scale, then to :math:`10^{-3}` of the last Bellman
residual); a state then switches only when its gain exceeds twice the certified error of
the evaluation, so every switch is a true improvement, and the last policy is
re-evaluated to round-off before it is certified. When no state improves, the Bellman
residual :math:`\|\mathcal T V - V\|_\infty` is certified: :math:`\|V - V^*\|_\infty \le \|\mathcal T V - V\|_\infty / (1 - \gamma)` and
the greedy policy loses at most :math:`2\gamma \|\mathcal T V - V\|_\infty / (1 - \gamma)`
(Williams and Baird 1993).

References
----------
.. [1] Puterman, "Markov Decision Processes", 1994, Sec. 6.4 (policy iteration) and
   Prop. 6.6.5 (the residual bound).
.. [2] Saad, "Iterative Methods for Sparse Linear Systems", 2nd ed., 2003, Ch. 7 (BiCGSTAB)
   and Sec. 10.2 (Gauss-Seidel/SSOR preconditioning).
.. [3] Williams and Baird, "Tight performance bounds on greedy policies based on
   imperfect value functions", 1993.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from ._rules import (BELLMAN_RTOL, EVAL_RTOL, IMPROVE_RTOL, KRYLOV_FLOOR, KRYLOV_MAXITER,
                     KRYLOV_STAGNATION, PI_PROVISIONAL_RTOL, PI_SPLU_MAX_STATES,
                     REFINE_ROUNDS, SPLU_MAX_STATES, STABLE_ROUNDOFF_ULPS, TINY)
from .exceptions import ConvergenceError, SolverError, ValidationError

__all__ = ["SolveCertificate", "greedy_start", "improvement", "policy_matrix", "system_matrix", "evaluate",
           "evaluate_many", "solve", "lu_path", "policy_reward", "q_from_values",
           "check_policy_sparse", "policy_iteration", "occupancy", "SPLU_ORDERING"]

_log = logging.getLogger(__name__)


#: Column ordering of the sparse LU. :math:`M = I - \gamma P_\pi` is strictly diagonally
#: dominant by rows, a property Gaussian elimination preserves, so the LU needs no
#: pivoting (growth factor <= 2) and a symmetric ordering of :math:`M + M^\top` applies.
#: Measured on the 2-D slippery gridworld (gamma = 0.99, a random deterministic policy,
#: loaded 2-core machine), factor time and fill nnz(L+U)/nnz(M):
#:
#: ========================  ==================  ==================
#: ordering                  S = 10^4            S = 10^5
#: ========================  ==================  ==================
#: MMD_AT_PLUS_A, no pivots  0.10 s, fill 7.5    1.9 s, fill 11.2
#: MMD_ATA, no pivots        0.10 s, fill 12.4   2.3 s, fill 19.7
#: COLAMD, no pivots         0.12 s, fill 13.0   2.4 s, fill 20.8
#: COLAMD, partial pivoting  0.13 s, fill 13.9   2.4 s, fill 22.4
#: NATURAL                   --                  36 s, fill 129
#: ========================  ==================  ==================
#:
#: (MMD_AT_PLUS_A *with* partial pivoting did not finish in minutes at S = 10^5.)
SPLU_ORDERING = "MMD_AT_PLUS_A"

#: Options of the sparse LU that go with :data:`SPLU_ORDERING`.
_SPLU_OPTIONS = {"diag_pivot_thresh": 0.0, "options": {"SymmetricMode": True}}


@dataclass(frozen=True)
class SolveCertificate:
    r"""Which solver ran and a certified bound on its error (THEORY §11).

    Attributes
    ----------
    method : str
        ``"lu"`` (dense LAPACK), ``"splu"`` (sparse LU), ``"bicgstab+sgs"`` or
        ``"gmres+sgs"`` (Krylov with a symmetric Gauss-Seidel preconditioner); for policy
        iteration, the method of its last evaluation.
    ordering : str or None
        Column ordering of the sparse LU (``"MMD_AT_PLUS_A"``), or None.
    fill : float or None
        :math:`\mathrm{nnz}(L + U) / \mathrm{nnz}(M)` of the (incomplete) factors, or None.
    iterations : int
        Krylov iterations (summed over refinement rounds and right-hand sides); for
        :func:`starc.solve.optimal_policy`, the number of policy iterations.
    residual_inf : float
        :math:`\max \|b - M x\|_\infty` over the right-hand sides, recomputed in float64
        after the solve (for occupancies, the 1-norm of the transposed residual).
    error_bound : float
        Certified :math:`\|x - x_\mathrm{true}\|_\infty \le` ``residual_inf / (1 - gamma)``
        (1-norm for occupancies).
    value_scale : float
        :math:`\max |b| / (1 - \gamma)`, a bound on :math:`\|x_\mathrm{true}\|`.
    tolerance : float
        The accuracy required: ``rtol * value_scale`` (``rtol = 1e-10``).
    bellman_residual : float or None
        Policy iteration only: :math:`\|\mathcal T V - V\|_\infty`.
    policy_loss_bound : float or None
        Policy iteration only: :math:`2\gamma \|\mathcal T V - V\|_\infty / (1 - \gamma)`,
        a bound on :math:`\|V^* - V^{\pi}\|_\infty` for the returned greedy policy.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from starc import TabularMDP
    >>> from starc.solve import policy_evaluation
    >>> mdp = TabularMDP(sp.csr_array(np.full((2, 2), 0.5)), gamma=0.5)
    >>> v, cert = policy_evaluation([1.0, 1.0], mdp, certificate=True)
    >>> v, cert.method, cert.error_bound <= cert.tolerance
    (array([2., 2.]), 'splu', True)
    """

    method: str
    ordering: str | None
    fill: float | None
    iterations: int
    residual_inf: float
    error_bound: float
    value_scale: float
    tolerance: float
    bellman_residual: float | None = None
    policy_loss_bound: float | None = None

    @property
    def certified(self) -> bool:
        """Whether ``error_bound <= tolerance``."""
        return bool(self.error_bound <= self.tolerance)


def improvement(q: np.ndarray, actions: np.ndarray, scale: float, *,
                slack: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""The greedy step of policy iteration, one rule for dense and sparse MDPs.

    State :math:`s` switches to its first maximiser :math:`b(s) = \arg\max_a Q(s, a)`
    when the gain :math:`Q(s, b(s)) - Q(s, \pi(s))` exceeds ``IMPROVE_RTOL * scale``
    (``scale`` = :math:`\max|\bar R| / (1 - \gamma)`; ``slack``, when larger, replaces
    it — used by inexact evaluations so that no error within their certified bound can
    cause a switch).

    Returns ``(best, switch)``: int array (S,) and boolean array (S,).
    """
    idx = np.arange(q.shape[0])
    best = np.argmax(q, axis=1)
    gain = q[idx, best] - q[idx, actions]
    tol = max(IMPROVE_RTOL * max(scale, TINY), slack)
    return best, gain > tol


def greedy_start(q0: np.ndarray, scale: float) -> np.ndarray:
    r"""The first policy of policy iteration, one rule for dense and sparse MDPs (and
    :mod:`starc.batch`'s kernel): in each state the *first* action whose
    :math:`Q_0(s, a)` is within ``IMPROVE_RTOL * scale`` of :math:`\max_a Q_0(s, a)`.

    The same tolerance as :func:`improvement`: an action that no improvement step would
    leave for another is not preferred to it here either, so exact ties (a constant
    reward, whose :math:`Q_0` differs between actions only by the round-off of
    :math:`T`'s row sums) go to the lowest action index on every code path instead of
    to whichever round-off is largest. ``q0 (S, A)`` may hold ``-inf`` on disallowed
    actions (every state allows one). Returns an int array (S,).
    """
    top = np.max(q0, axis=1, keepdims=True)
    return np.argmax(q0 >= top - IMPROVE_RTOL * max(scale, TINY), axis=1)


def _sparse():
    import scipy.sparse as sp

    return sp


def _linalg():
    import scipy.sparse.linalg as spla

    return spla


def policy_matrix(mdp, policy: np.ndarray):
    r"""CSR ``(S, S)`` matrix :math:`P_\pi = D_\pi T` of a sparse MDP, in O(nnz).

    ``policy`` is an int array ``(S,)`` of actions or a validated ``(S, A)`` array.
    """
    sp = _sparse()
    t = mdp.transition
    n, m = mdp.n_states, mdp.n_actions
    if policy.ndim == 1:
        return t[np.arange(n) * m + policy]
    pi = np.asarray(policy, dtype=np.float64)
    det = np.count_nonzero(pi, axis=1) == 1
    if np.all(det):
        acts = np.argmax(pi, axis=1)
        return t[np.arange(n) * m + acts]  # pi[s, a] == 1 exactly (rows sum to 1 within 1e-10)
    # a copy: eliminate_zeros writes in place, and a memoised policy is read-only
    d = sp.csr_array((pi.ravel().copy(), np.arange(n * m), np.arange(0, n * m + 1, m)),
                     shape=(n, n * m))
    d.eliminate_zeros()
    p = (d @ t).tocsr()
    p.sort_indices()
    return p


def system_matrix(mdp, policy: np.ndarray):
    r"""CSR :math:`M = I - \gamma P_\pi` of a sparse MDP."""
    sp = _sparse()
    p = policy_matrix(mdp, policy)
    m = sp.eye_array(mdp.n_states, format="csr") - mdp.gamma * p
    m = sp.csr_array(m)
    m.sum_duplicates()
    m.sort_indices()
    return m


class _Factors:
    """Factors of one system matrix: a sparse LU, or an SGS preconditioner for Krylov."""

    def __init__(self, m, *, method: str | None = None):
        spla = _linalg()
        n = m.shape[0]
        self.m = m
        self.mt = None
        self.ordering = None
        self.lu = None
        self.prec = None
        self.prec_t = None
        if method is None:
            method = "splu" if lu_path(n) else "krylov"
        if method == "splu":
            csc = m.tocsc()
            try:
                self.lu = spla.splu(csc, permc_spec=SPLU_ORDERING, **_SPLU_OPTIONS)
                self.ordering = SPLU_ORDERING
                self.method = "splu"
                self.fill = (self.lu.L.nnz + self.lu.U.nnz) / max(m.nnz, 1)
                return
            except MemoryError:  # pragma: no cover - fill beyond memory: Krylov below
                self.lu = None
            except RuntimeError as err:  # pragma: no cover - singular (impossible, gamma < 1)
                raise SolverError(f"sparse LU of I - gamma P_pi failed: {err}") from None
        self.method = "bicgstab+sgs"
        self.prec = _SGS(m)
        self.fill = None  # nothing factorised: the sweeps use M's own entries

    def transposed_matrix(self):
        if self.mt is None:
            mt = self.m.T.tocsr()
            mt.sort_indices()
            self.mt = mt
        return self.mt

    def transposed_preconditioner(self):
        if self.prec_t is None:
            self.prec_t = _SGS(self.transposed_matrix())
        return self.prec_t


class _SGS:
    """Symmetric Gauss-Seidel preconditioner of a CSR matrix with sorted indices and a
    non-zero stored diagonal: ``solve(v) = (D + U)^{-1} D (D + L)^{-1} v``."""

    def __init__(self, m):
        from . import _sparse_kernels as kern

        self.kern = kern
        # the matrix's own index type (int32 up to 2**31 nonzeros): the sweeps and products
        # are memory-bound, and narrower indices are fewer bytes to read
        index = np.uint32 if max(m.nnz, m.shape[0]) < 2**31 else np.int64
        self.indptr = np.ascontiguousarray(m.indptr, dtype=index)
        self.indices = np.ascontiguousarray(m.indices, dtype=index)
        self.data = np.ascontiguousarray(m.data, dtype=np.float64)
        n = m.shape[0]
        pos = np.empty(n, dtype=np.int64)
        kern.diagonal_positions(self.indptr, self.indices, pos)  # without the GIL
        if np.any(pos < 0) or np.any(self.data[pos] <= 0):
            raise SolverError("I - gamma P_pi lacks a positive diagonal entry")  # impossible
        self.diag = pos
        self.d = self.data[pos]
        self.L = None
        self.U = None

    def solve(self, v):
        v = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
        z = np.empty_like(v)  # the one new array: both sweeps write into it
        self.kern.lower_sweep(self.indptr, self.indices, self.data, self.diag, v, z)
        self.kern.scaled_upper_sweep(self.indptr, self.indices, self.data, self.diag,
                                     self.d, z)
        return z


class _Reached(Exception):
    """Raised from a Krylov callback once the true residual meets its goal."""

    def __init__(self, x):
        self.x = x


def _krylov(a, b: np.ndarray, x0: np.ndarray | None, sgs: _SGS, goal_res: float, ord_,
            floor2: float, maxiter: int) -> tuple[np.ndarray, int, str]:
    """BiCGSTAB (GMRES when it breaks down) from ``x0``, preconditioned by ``sgs``.

    Stops as soon as the *true* residual ``||b - a x||`` (``ord_`` norm) is at most
    ``goal_res`` (one extra product per iteration), when it has not halved in
    ``KRYLOV_STAGNATION`` iterations (round-off level; the best iterate is returned),
    when the solver's own 2-norm estimate reaches ``floor2``, or after ``maxiter``
    iterations. BiCGSTAB is compiled (:func:`starc._sparse_kernels.bicgstab_sgs`: no
    temporaries, no GIL); GMRES is scipy's.
    """
    spla = _linalg()
    if x0 is not None:
        # Solve for the correction, scaled to unit size: the breakdown tests are
        # absolute (rho < eps^2), so a warm start's tiny residual would read as breakdown.
        r0 = b - a @ x0
        c = float(np.max(np.abs(r0), initial=0.0))
        if c == 0.0 or not np.isfinite(c):
            return x0, 0, "bicgstab+sgs"
        y, k, method = _krylov(a, r0 / c, None, sgs, goal_res / c, ord_, floor2 / c, maxiter)
        return x0 + c * y, k, method
    kern = sgs.kern
    n = b.shape[0]
    b = np.ascontiguousarray(b, dtype=np.float64)
    state = np.array([0.0, np.inf, 0.0, 0.0])  # iterations, best residual, last halving, have best
    best = np.empty(n)
    work = np.empty((8, n))
    x = np.zeros(n)
    args = (sgs.indptr, sgs.indices, sgs.data, sgs.diag, sgs.d, b)
    rest = (float(goal_res), float(floor2), int(maxiter), ord_ == 1, int(KRYLOV_STAGNATION),
            state, best, work)
    out = kern.bicgstab_sgs(*args, x, *rest)
    if out == kern.BREAKDOWN and np.all(np.isfinite(x)):  # restart from where it got
        out = kern.bicgstab_sgs(*args, x, *rest)
    if out != kern.BREAKDOWN and np.all(np.isfinite(x)):
        return x, int(state[0]), "bicgstab+sgs"
    # breakdown again: GMRES from the start, with the same stopping rules
    count = [int(state[0])]
    kept = [state[1], best.copy() if state[3] else None, int(state[2])]

    def callback(xk):
        count[0] += 1
        rn = float(np.linalg.norm(b - a @ xk, ord_))
        if rn <= goal_res:
            raise _Reached(np.array(xk))
        if rn < kept[0]:
            if rn < 0.5 * kept[0]:
                kept[2] = count[0]
            kept[0], kept[1] = rn, np.array(xk)
        if count[0] - kept[2] > KRYLOV_STAGNATION and kept[1] is not None:
            raise _Reached(kept[1])

    prec = spla.LinearOperator((n, n), matvec=sgs.solve, dtype=np.float64)
    try:
        x, _ = spla.gmres(a, b, x0=None, rtol=0.0, atol=floor2, restart=30,
                          maxiter=max(1, maxiter // 30), M=prec, callback=callback,
                          callback_type="x")
    except _Reached as done:
        x = done.x
    return x, count[0], "gmres+sgs"


def _solve(factors: _Factors, b: np.ndarray, x0, transposed: bool, goal_res: float,
           floor2: float):
    """One solve of ``M x = b`` (or ``M^T x = b``): x, iterations, method."""
    if factors.lu is not None:
        return factors.lu.solve(b, trans="T" if transposed else "N"), 0, "splu"
    a = factors.transposed_matrix() if transposed else factors.m
    sgs = factors.transposed_preconditioner() if transposed else factors.prec
    return _krylov(a, b, x0, sgs, goal_res, 1 if transposed else np.inf, floor2,
                   maxiter=KRYLOV_MAXITER)


def _certified_solve(factors: _Factors, b: np.ndarray, gamma: float, *, x0=None,
                     transposed: bool = False, rtol: float | None = None,
                     target: float | None = None, aim: float | None = None,
                     roundoff: bool = False):
    """Solve ``M x = b`` (or ``M^T x = b``, bound in the 1-norm) to a certified bound.

    The bound must reach ``rtol * scale`` (a ConvergenceError otherwise); ``target``
    (absolute) or ``aim`` (relative to the scale), when smaller, is a best-effort goal:
    refinement stops when the bound stops shrinking. With ``roundoff``, the tolerance is
    at least what a backward-stable solve leaves, ``STABLE_ROUNDOFF_ULPS * eps *
    (|b| + (1 + gamma) |x|) / (1 - gamma)`` (near ``gamma = 1`` float64 cannot reach
    ``rtol * scale``; the certificate then reports that larger tolerance).
    Returns ``(x, iterations, method, residual, bound, scale, tol)``.
    """
    rtol = EVAL_RTOL if rtol is None else rtol
    ord_ = 1 if transposed else np.inf
    n = b.shape[0]
    bnorm = float(np.max(np.abs(b), initial=0.0)) if not transposed else float(
        np.sum(np.abs(b)))
    scale = bnorm / (1.0 - gamma)
    tol = rtol * scale
    if aim is not None:
        target = aim * scale if target is None else min(target, aim * scale)
    if bnorm == 0.0:
        return np.zeros(n), 0, factors.method, 0.0, 0.0, 0.0, tol
    goal = tol if target is None else min(tol, target)
    # the residual goal; the round-off floor of a residual is about
    # eps (|b| + (1 + gamma) |x|) per entry, the solver's own 2-norm estimate stops there
    goal_res = max(goal * (1.0 - gamma),
                   KRYLOV_FLOOR * np.finfo(float).eps * (bnorm + 2.0 * scale))
    floor2 = np.finfo(float).eps * (bnorm + 2.0 * scale) * (
        1.0 if not transposed else 1.0 / np.sqrt(n))  # 1-norm: entries ~ |b|_1 / n
    a = factors.transposed_matrix() if transposed else factors.m
    x, iters, method = _solve(factors, b, x0, transposed, goal_res, floor2)
    best = None
    for _ in range(REFINE_ROUNDS + 1):
        res = b - a @ x  # recomputed in float64, independent of the solver
        rnorm = float(np.linalg.norm(res, ord_))
        bound = rnorm / (1.0 - gamma)
        if not np.isfinite(bound):
            break
        improved = best is None or bound < 0.5 * best[4]
        if best is None or bound < best[4]:
            best = (x, iters, method, rnorm, bound)
        if rnorm <= goal_res or (not improved and best[4] <= tol):
            break
        dx, k, method = _solve(factors, res, None, transposed, goal_res, floor2)
        iters += k
        x = x + dx
    if roundoff and best is not None:
        xnorm = float(np.linalg.norm(best[0], ord_))
        tol = max(tol, STABLE_ROUNDOFF_ULPS * np.finfo(float).eps
                  * (bnorm + (1.0 + gamma) * xnorm) / (1.0 - gamma))
    if best is None or best[4] > tol:
        got = float("nan") if best is None else best[4]
        raise ConvergenceError(
            f"sparse {'occupancy' if transposed else 'policy evaluation'} did not reach its "
            f"certified bound: error bound {got:.3g} > {rtol:g} x value scale {scale:.3g} "
            f"after {REFINE_ROUNDS} rounds of iterative refinement ({factors.method})")
    return best + (scale, tol)


def _policy_key(policy: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(policy).view(np.uint8),
                           digest_size=20).hexdigest() + str(policy.dtype) + str(policy.shape)


def _factors_for(mdp, policy: np.ndarray) -> _Factors:
    """Factors of ``I - gamma P_pi``, memoised on the MDP per policy (4 at most)."""
    return mdp.memo("sparse_policy_factors",
                    lambda: _Factors(system_matrix(mdp, policy)), _policy_key(policy),
                    maxsize=4)


def lu_path(n_states: int) -> bool:
    """Whether :func:`solve` factorises a system of ``n_states`` states by sparse LU
    (``n_states <= SPLU_MAX_STATES``); larger ones take the Krylov path."""
    return n_states <= SPLU_MAX_STATES


def pi_lu_path(n_states: int) -> bool:
    """Whether :func:`policy_iteration` factorises each policy by sparse LU
    (``n_states <= PI_SPLU_MAX_STATES``); larger MDPs take the inexact Krylov path."""
    return n_states <= PI_SPLU_MAX_STATES


def solve(mdp, policy, b, *, transposed: bool = False, x0=None, rtol: float | None = None,
          aim: float | None = None, cache: bool = True, roundoff: bool = False):
    r"""Certified :math:`X` with :math:`(I - \gamma P_\pi) X = B` (or :math:`M^\top X = B`).

    The one sparse policy solver of starc: ``B`` is ``(S,)`` or ``(S, K)`` (``K``
    right-hand sides share one factorisation, memoised on the MDP per policy unless
    ``cache=False``); ``transposed`` solves :math:`M^\top X = B` with the bound in the
    1-norm; ``x0`` (``B``'s shape) warm-starts the Krylov path; ``rtol`` replaces
    :data:`EVAL_RTOL` as the certified accuracy (looser, for provisional evaluations) and
    ``aim`` is a smaller best-effort one, both relative to each column's value scale
    :math:`\|b\| / (1 - \gamma)`. Each column is certified as in the module notes (a
    :class:`~starc.exceptions.ConvergenceError` otherwise); with ``roundoff`` the
    tolerance is at least the round-off of a backward-stable solve (see
    :func:`_certified_solve`), for callers that compare values near ``gamma = 1``
    within that round-off.

    Returns ``(X, SolveCertificate)``, ``X`` of ``B``'s shape; the certificate holds for
    every column (its numbers are the worst over the columns).
    """
    policy = np.asarray(policy)
    factors = (_factors_for(mdp, policy) if cache
               else _Factors(system_matrix(mdp, policy)))
    b = np.asarray(b, dtype=np.float64)
    cols = b.reshape(b.shape[0], -1)
    guess = None if x0 is None else np.asarray(x0, dtype=np.float64).reshape(cols.shape)
    out = np.empty_like(cols)
    iters, resid, bound, scale, tol = 0, 0.0, 0.0, 0.0, 0.0
    method = factors.method
    for k in range(cols.shape[1]):
        start = None if guess is None or not np.all(np.isfinite(guess[:, k])) else guess[:, k]
        x, it, method, rn, bd, sc, tl = _certified_solve(
            factors, cols[:, k], mdp.gamma, x0=start, transposed=transposed, rtol=rtol,
            aim=aim, roundoff=roundoff)
        out[:, k] = x
        iters += it
        resid, bound, scale = max(resid, rn), max(bound, bd), max(scale, sc)
        tol = tl if k == 0 else min(tol, tl)
    cert = SolveCertificate(method, factors.ordering, factors.fill, iters, resid,
                            bound, scale, tol)
    return out.reshape(b.shape), cert


def evaluate_many(mdp, policy: np.ndarray, r_pi: np.ndarray, *, roundoff: bool = False):
    r"""Values ``(K, S)`` for right-hand sides ``r_pi (K, S)`` with one factorisation.

    Returns ``(V, SolveCertificate)``; the certificate holds for every row (its numbers
    are the worst over the rows).
    """
    x, cert = solve(mdp, policy, np.asarray(r_pi).T, roundoff=roundoff)
    return np.ascontiguousarray(x.T), cert


def evaluate(mdp, policy, r_sa: np.ndarray):
    r"""Certified :math:`V^\pi` ``(S,)`` of expected rewards ``r_sa (S, A)`` on a sparse MDP.

    ``policy`` is an int array ``(S,)`` of actions or an ``(S, A)`` array of
    probabilities (validated by the caller). Returns ``(V, SolveCertificate)``.
    """
    policy = np.asarray(policy)
    r_pi = policy_reward(r_sa, policy)
    v, cert = evaluate_many(mdp, policy, r_pi.reshape(1, -1))
    return v[0], cert


def policy_reward(r_sa: np.ndarray, policy: np.ndarray) -> np.ndarray:
    r"""``r_pi (..., S)`` :math:`= \sum_a \pi(a|s) \bar R(s, a)` for an int ``(S,)`` or an
    ``(S, A)`` policy."""
    if policy.ndim == 1:
        return r_sa[..., np.arange(r_sa.shape[-2]), policy]
    return np.einsum("...sa,sa->...s", r_sa, policy)


def q_from_values(mdp, r_sa: np.ndarray, v: np.ndarray) -> np.ndarray:
    r"""``Q = r_sa + gamma (T V).reshape(S, A)`` for ``V (..., S)``; ``(..., S, A)``."""
    n, m = mdp.n_states, mdp.n_actions
    batch = v.shape[:-1]
    tv = mdp.transition @ v.reshape(-1, n).T  # (S*A, K)
    return r_sa + mdp.gamma * np.ascontiguousarray(tv.T).reshape(batch + (n, m))


def policy_iteration(mdp, r_sa: np.ndarray, *, max_iter: int = 10_000,
                     allowed: np.ndarray | None = None, start: np.ndarray | None = None,
                     roundoff: bool = False):
    r"""Howard's policy iteration on a sparse MDP for expected rewards ``r_sa (S, A)``.

    Starts greedy with respect to :math:`v_0(s) = \max_a \bar R(s, a)` and switches with
    :func:`improvement`, exactly as the dense :func:`starc.solve.optimal_policy`.
    ``allowed``, an optional boolean ``(S, A)`` mask, restricts the actions (the tie sets
    of :func:`starc.regret`); ``start``, an optional first policy, only saves iterations;
    ``roundoff`` lets the evaluations accept the round-off floor of :func:`solve`.
    Returns ``(actions (S,), V (S,), Q (S, A), SolveCertificate)``; raises
    ConvergenceError unless the Bellman residual is at most ``BELLMAN_RTOL`` times the
    reward scale.
    """
    n = mdp.n_states
    gamma = mdp.gamma
    idx = np.arange(n)
    scale = float(np.max(np.abs(r_sa), initial=0.0)) / (1.0 - gamma)
    masked = r_sa if allowed is None else np.where(allowed, r_sa, -np.inf)
    q0 = q_from_values(mdp, r_sa, np.max(masked, axis=1))
    if allowed is not None:
        q0 = np.where(allowed, q0, -np.inf)
    actions = greedy_start(q0, scale)
    if start is not None and (allowed is None or np.all(allowed[idx, start])):
        actions = np.asarray(start)
    v = None
    total_iters = 0
    strict = 1e-2 * IMPROVE_RTOL * scale
    lu = pi_lu_path(n)
    target = strict if lu else PI_PROVISIONAL_RTOL * scale
    for it in range(1, max_iter + 1):
        m = system_matrix(mdp, actions)
        b = r_sa[idx, actions]
        factors = _Factors(m, method="splu" if lu else "krylov")
        # aim well below the tie tolerance of the greedy step (IMPROVE_RTOL * scale)
        x, k, method, rn, bound, vs, tol = _certified_solve(
            factors, b, gamma, x0=v, target=target,
            rtol=max(EVAL_RTOL, target / max(scale, TINY)), roundoff=roundoff)
        total_iters += k
        v = x
        q = q_from_values(mdp, r_sa, v)
        if allowed is not None:
            q = np.where(allowed, q, -np.inf)
        # the LU path decides exactly as the dense one (its errors are of the dense LU's
        # size); a Krylov solve is trusted only beyond its certified error
        slack = 0.0 if factors.lu is not None else 2.0 * gamma * bound
        best, switch = improvement(q, actions, scale, slack=slack)
        _log.debug("policy iteration %d: %s, %d Krylov iterations, bound %.3g, %d switches",
                   it, method, k, bound, int(np.count_nonzero(switch)))
        residual = float(np.max(np.abs(q[idx, best] - v)))
        if not np.any(switch) and target > strict and bound > strict:
            target = strict  # inexact evaluations found no switch: re-evaluate strictly
            continue
        if not np.any(switch):
            if residual > BELLMAN_RTOL * max(scale, 1.0):
                raise ConvergenceError(
                    f"policy iteration stopped with Bellman residual {residual:.3g} > "
                    f"{BELLMAN_RTOL:g} x scale {scale:.3g}; the linear solves are too "
                    "ill-conditioned (gamma too close to 1?)")
            cert = SolveCertificate(method, factors.ordering, factors.fill, it, rn, bound, vs,
                                    tol, bellman_residual=residual,
                                    policy_loss_bound=2.0 * gamma * residual / (1.0 - gamma))
            return actions, v, q, cert
        actions = np.where(switch, best, actions)
        # inexact policy iteration: evaluate to a fraction of the Bellman residual
        target = max(strict, min(target, 1e-3 * residual))
    raise ConvergenceError(f"policy iteration did not stabilise in {max_iter} iterations")


def occupancy(mdp, policy: np.ndarray):
    r"""Certified state occupancy :math:`d^\pi`: :math:`(I - \gamma P_\pi)^\top d = \mu_0`.

    Returns ``(d (S,), SolveCertificate)``, the bound in the 1-norm
    (:math:`\|M^{-\top}\|_1 = \|M^{-1}\|_\infty \le 1/(1-\gamma)`).
    """
    return solve(mdp, policy, np.array(mdp.initial), transposed=True)


def check_policy_sparse(policy, n_states: int, n_actions: int) -> np.ndarray:
    """An int ``(S,)`` policy stays int (no ``(S, A)`` one-hot copy); others validated."""
    from ._validation import check_policy

    if isinstance(policy, np.ndarray) and policy.ndim == 1 and policy.dtype.kind in "iu":
        if policy.shape[0] != n_states:
            raise ValidationError(f"deterministic policy must have shape ({n_states},), "
                                  f"got {policy.shape}")
        if np.any(policy < 0) or np.any(policy >= n_actions):
            raise ValidationError(f"deterministic policy has actions outside "
                                  f"[0, {n_actions - 1}]")
        return policy.astype(np.int64)
    return check_policy(policy, n_states, n_actions)
