r"""Exact policy evaluation, optimal policies and occupancy measures.

Everything here is *exact*: values are solutions of linear systems, not the limits
of iterations, so two rewards can be compared to machine precision.

Policy evaluation
-----------------
For a policy :math:`\pi(a \mid s)` the state-to-state matrix and the expected
one-step reward are

.. math::

    P_\pi(s, s') = \sum_a \pi(a \mid s)\, \tau(s' \mid s, a), \qquad
    r_\pi(s) = \sum_a \pi(a \mid s) \sum_{s'} \tau(s' \mid s, a)\, R(s, a, s'),

and the value function is the unique solution of the Bellman equation
:math:`V^\pi = r_\pi + \gamma P_\pi V^\pi`, i.e.

.. math::

    V^\pi = (I - \gamma P_\pi)^{-1} r_\pi .

The matrix :math:`I - \gamma P_\pi` is strictly diagonally dominant for
:math:`\gamma < 1`, so it is invertible and an LU factorisation without pivoting
trouble exists. :func:`policy_evaluation` factorises it once and reuses the factors
for every reward of a batch (and caches them on the MDP for the uniform policy and a
few others), so evaluating 64 rewards costs little more than evaluating one.

The action values and the return under :math:`\mu_0` follow:

.. math::

    Q^\pi(s, a) = \sum_{s'} \tau(s' \mid s, a)\,[R(s, a, s') + \gamma V^\pi(s')],
    \qquad J_R(\pi) = \sum_s \mu_0(s)\, V^\pi(s).

Optimal policies
----------------
:func:`optimal_policy` runs Howard's policy iteration: evaluate exactly, switch each
state to a greedy action when that improves its action value by more than a
round-off threshold, repeat. It terminates in finitely many steps and returns only
when the Bellman optimality residual
:math:`\max_s |\max_a Q(s, a) - V(s)|` is at most ``1e-10`` times the reward scale
:math:`\max |\bar R| / (1 - \gamma)`; otherwise it raises
:class:`~starc.exceptions.ConvergenceError`.

Rewards of extreme magnitude
----------------------------
:math:`|V^\pi| \le \max|\bar R| / (1 - \gamma)` can exceed the float64 range although
:math:`\bar R` is finite. Values are linear in the reward, so when that bound exceeds
:math:`2^{1000}` the functions here solve for :math:`2^{-k} \bar R` (an exact scaling,
:math:`2^{k-1} \le \max|\bar R| < 2^k`, per reward of a batch) and multiply the result
by :math:`2^k`. If the result itself is not representable they raise
:class:`~starc.exceptions.ValidationError` naming the magnitude; optimal policies are
scale invariant and are computed for every finite reward.

Occupancy measures
------------------
The discounted state occupancy :math:`d^\pi(s) = \sum_t \gamma^t P(s_t = s)` solves
:math:`(I - \gamma P_\pi)^\top d^\pi = \mu_0` — the same LU factors, transposed. The
transition occupancy is

.. math::

    \eta^\pi(s, a, s') = d^\pi(s)\, \pi(a \mid s)\, \tau(s' \mid s, a),
    \qquad \sum \eta^\pi = \frac{1}{1 - \gamma}, \qquad J_R(\pi) = \langle \eta^\pi, R \rangle .

Large sparse MDPs
-----------------
Every solver here supports sparse MDPs (``mdp.is_sparse``, THEORY §11): the system
:math:`(I - \gamma P_\pi) V = r_\pi` is solved by a sparse LU or a preconditioned
Krylov method, never densified, and each answer carries a certified bound
:math:`\|V - V_k\|_\infty \le \|r_\pi - (I - \gamma P_\pi) V_k\|_\infty / (1 - \gamma)`
of at most :math:`10^{-10}` times the value scale. Pass ``certificate=True`` to get the
:class:`SolveCertificate` (which solver ran, its fill, the residual and the bound) —
for dense MDPs too, where the method is ``"lu"``.

References
----------
.. [1] Puterman. "Markov Decision Processes". Wiley 1994, Sec. 6.1 (policy evaluation)
   and Sec. 6.4 (policy iteration).
.. [2] Skalse et al. "STARC". ICLR 2024, Sec. 2 (notation: :math:`J`, :math:`\eta`).
"""

from __future__ import annotations

import numpy as np

from . import _rules
from ._extremes import scale_exponents
from ._sparse_linalg import SolveCertificate, greedy_start, improvement
from ._validation import as_float_array, check_memory, check_policy, reward_form
from .exceptions import ConvergenceError, SolverError, ValidationError
from .mdp import TabularMDP, as_mdp

__all__ = [
    "policy_evaluation",
    "q_values",
    "optimal_policy",
    "optimal_values",
    "policy_return",
    "occupancy",
    "state_occupancy",
    "state_action_occupancy",
    "SolveCertificate",
]

#: Bellman residual accepted by :func:`optimal_policy`, relative to the reward scale.
BELLMAN_RTOL = _rules.BELLMAN_RTOL

#: Number of policy LU factorisations cached on each MDP.
_LU_CACHE_SIZE = 4


def lu_factor(a: np.ndarray):
    """LU factors of a square matrix by LAPACK ``getrf`` (``a`` is overwritten).

    Returns ``(lu, piv, transposed)`` for :func:`lu_solve`. Calls LAPACK directly:
    ``scipy.linalg.lu_solve`` adds ~1 ms of wrapper overhead per call in recent SciPy,
    which dominates small problems. A C-contiguous ``a`` is factorised *as its transpose*:
    ``a.T`` is a Fortran-ordered view of the same memory, so LAPACK works in place instead
    of on a transposed copy (the copy costs about as much as the factorisation at S = 256);
    :func:`lu_solve` then solves with the transposed factors. Both are LU with partial
    pivoting, backward stable, so the solutions agree to round-off.
    """
    from scipy.linalg import lapack

    transposed = bool(a.flags.c_contiguous and not a.flags.f_contiguous)
    m = a.T if transposed else a
    getrf, = lapack.get_lapack_funcs(("getrf",), (m,))
    lu, piv, info = getrf(m, overwrite_a=True)
    if info > 0:
        raise SolverError(f"the matrix of a linear solve is singular (LAPACK getrf info={info})")
    return lu, piv, transposed


def lu_solve(factors, b: np.ndarray, trans: int = 0) -> np.ndarray:
    """Solve ``A x = b`` (``trans=0``) or ``A^T x = b`` (``trans=1``) from :func:`lu_factor`."""
    from scipy.linalg import lapack

    lu, piv, transposed = factors
    getrs, = lapack.get_lapack_funcs(("getrs",), (lu,))
    # factors of A^T solve A x = b with trans=1, and A^T x = b with trans=0
    x, info = getrs(lu, piv, b, trans=int(trans) ^ int(transposed))
    if info != 0:  # pragma: no cover - only for malformed arguments
        raise SolverError(f"LAPACK getrs failed with info={info}")
    return x


def _as_policy(policy, mdp: TabularMDP) -> np.ndarray:
    return check_policy(policy, mdp.n_states, mdp.n_actions)


def _row_sums(mdp: TabularMDP) -> np.ndarray:
    """``sum_s' T[s, a, s']`` (1 within 1e-10), cached on the MDP."""
    return mdp.memo("row_sums", lambda: mdp.transition.sum(axis=-1))


def expected_rewards(reward, mdp: TabularMDP, name: str = "reward") -> np.ndarray:
    """Validated expected rewards ``rbar (..., S, A)`` of a reward in any accepted form.

    The same numbers as ``mdp.expectation(broadcast_reward(reward, mdp))``, but state
    ``(..., S)`` and state-action ``(..., S, A)`` rewards are never broadcast to
    ``(..., S, A, S)``: their expectation is the reward times the row sums of ``T``.
    On a sparse MDP, :func:`starc.expected_reward` (sparse rewards on the support too).
    """
    if mdp.is_sparse:
        from .mdp import expected_reward

        return expected_reward(reward, mdp, name=name)
    r = as_float_array(reward, name, min_ndim=1, allow_nonfinite=True)
    kind = reward_form(r.shape, mdp.n_states, mdp.n_actions, "auto", name)
    with np.errstate(invalid="ignore", over="ignore"):  # 0 * inf: reported below
        if kind == "transition":
            rbar = mdp.expectation(r)
        elif kind == "state_action":
            rbar = r * _row_sums(mdp)
        else:
            rbar = r[..., :, None] * _row_sums(mdp)
    # The finiteness check runs on rbar, not on the (much larger) reward: a NaN or inf
    # anywhere in R makes its row of rbar NaN or inf (0 * inf and 0 * NaN are NaN), so a
    # finite rbar proves a finite R. Only then is R itself checked, for the message.
    if not np.isfinite(rbar).all():
        as_float_array(r, name)  # raises ValidationError naming the bad entries
        raise ValidationError(f"{name} is finite but its expectation over s' overflows "
                              "float64; rescale the reward")
    return rbar


#: Bound on :math:`\max|\bar R| / (1 - \gamma)` above which values are computed on a
#: reward scaled down by a power of two (a margin of :math:`2^{23}` below float64's max).
_SAFE_VALUE_BOUND = 2.0 ** 1000


def scale_down(rbar: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """``(2^-k rbar, k)`` with ``k (...)`` an int exponent per reward of ``rbar (..., S, A)``.

    ``k = 0`` (no scaling) unless ``max|rbar| / (1 - gamma)`` exceeds
    :data:`_SAFE_VALUE_BOUND`; otherwise ``2^(k-1) <= max|rbar| < 2^k``, so the scaled
    reward lies in ``(-1, 1)`` and its values in ``(-1/(1-gamma), 1/(1-gamma))``. The
    scaling by a power of two is exact.
    """
    m = np.max(np.abs(rbar), axis=(-2, -1), initial=0.0)
    big = m > _SAFE_VALUE_BOUND * (1.0 - gamma)
    if not np.any(big):
        return rbar, np.zeros(m.shape, dtype=np.int64)
    k = np.where(big, scale_exponents(m, always=True), 0)
    return np.ldexp(rbar, -k[..., None, None]), k


def scale_up(x: np.ndarray, k: np.ndarray, rbar: np.ndarray, gamma: float, what: str,
             name: str = "reward") -> np.ndarray:
    """``2^k x`` (``k`` broadcast over the trailing axes of ``x``); a ValidationError when
    that exceeds the float64 range."""
    if not np.any(k):
        return x
    kk = k.reshape(k.shape + (1,) * (np.ndim(x) - k.ndim))
    with np.errstate(over="ignore"):
        out = np.ldexp(x, kk)
    if not np.all(np.isfinite(out)):
        m = float(np.max(np.abs(rbar)))
        raise ValidationError(
            f"the {what} of {name} exceed the float64 range (about 1.8e308): its expected "
            f"rewards reach {m:.3g} and, with gamma = {gamma}, values reach up to "
            f"{m:.3g} / (1 - gamma); rescale the reward, e.g. divide it by {m:.3g} (the "
            "optimal policy and the STARC distances do not change)")
    return out


def policy_matrix(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """``P_pi[s, s'] = sum_a pi[s, a] T[s, a, s']`` for a validated ``(S, A)`` policy."""
    t = mdp.transition
    # (S, 1, A) @ (S, A, S) -> (S, 1, S): one small GEMV per state, no (S, A, S) temporary.
    return np.matmul(pi[:, None, :], t)[:, 0, :]


def policy_lu(mdp: TabularMDP, pi: np.ndarray):
    """LU factors of ``I - gamma P_pi``, cached on the MDP per policy."""
    def factor():
        a = -mdp.gamma * policy_matrix(mdp, pi)
        a[np.diag_indices(mdp.n_states)] += 1.0
        return lu_factor(a)

    return mdp.memo("policy_lu", factor, pi.tobytes(), maxsize=_LU_CACHE_SIZE)


def evaluate_expected(rbar: np.ndarray, mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """Values ``(..., S)`` from expected rewards ``rbar (..., S, A)`` and a validated policy."""
    n = mdp.n_states
    batch = rbar.shape[:-2]
    r_pi = np.einsum("...sa,sa->...s", rbar, pi)
    rhs = r_pi.reshape(-1, n).T
    v = lu_solve(policy_lu(mdp, pi), np.asfortranarray(rhs))
    return np.ascontiguousarray(v.T).reshape(batch + (n,))


def q_from_values(rbar: np.ndarray, v: np.ndarray, mdp: TabularMDP) -> np.ndarray:
    """``Q = rbar + gamma T V`` for ``rbar (..., S, A)`` and ``v (..., S)``."""
    n, m = mdp.n_states, mdp.n_actions
    batch = v.shape[:-1]
    tv = mdp.transition.reshape(n * m, n) @ v.reshape(-1, n).T  # (S*A, K) by BLAS
    return rbar + mdp.gamma * np.ascontiguousarray(tv.T).reshape(batch + (n, m))


# --- sparse MDPs (THEORY §11) and certificates -------------------------------------------

def _sparse():
    """The sparse solvers, imported on first use (they import scipy)."""
    from . import _sparse_linalg

    return _sparse_linalg


def _sparse_policy(policy, mdp: TabularMDP) -> np.ndarray:
    return _sparse().check_policy_sparse(policy, mdp.n_states, mdp.n_actions)


def _sparse_values(reward, mdp: TabularMDP, policy):
    """``(rbar, scaled, k, pol, V (..., S), certificate)`` on a sparse MDP."""
    from .mdp import expected_reward

    sl = _sparse()
    pol = _sparse_policy(policy, mdp)
    rbar = expected_reward(reward, mdp)
    scaled, k = scale_down(rbar, mdp.gamma)
    r_pi = sl.policy_reward(scaled, pol)
    v, cert = sl.evaluate_many(mdp, pol, r_pi.reshape(-1, mdp.n_states))
    return rbar, scaled, k, pol, v.reshape(r_pi.shape), cert


def _dense_certificate(mdp: TabularMDP, pi: np.ndarray, rbar: np.ndarray,
                       v: np.ndarray) -> SolveCertificate:
    """The certificate of a dense LU solve, the residual recomputed in float64."""
    n = mdp.n_states
    r_pi = np.einsum("...sa,sa->...s", rbar, pi).reshape(-1, n)
    vv = v.reshape(-1, n)
    res = r_pi - (vv - mdp.gamma * vv @ policy_matrix(mdp, pi).T)
    rn = float(np.max(np.abs(res), initial=0.0))
    scale = float(np.max(np.abs(r_pi), initial=0.0)) / (1.0 - mdp.gamma)
    return SolveCertificate("lu", None, None, 0, rn, rn / (1.0 - mdp.gamma), scale,
                            _sparse().EVAL_RTOL * scale)


def _with_certificate(result, cert, certificate: bool):
    if certificate is not False and certificate is not True:
        raise ValidationError(f"certificate must be True or False, got {certificate!r}")
    return (result, cert) if certificate else result


def policy_evaluation(reward, mdp: TabularMDP, policy="uniform", *,
                      certificate: bool = False) -> np.ndarray:
    r"""Exact state values of a policy: :math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi`.

    Supports sparse MDPs (THEORY §11): sparse LU or Gauss-Seidel-preconditioned Krylov, with a
    certified error bound (see :class:`SolveCertificate`).

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
        One reward or a batch of rewards; see :func:`starc.broadcast_reward`.
    mdp : TabularMDP
    policy : "uniform", int array of shape (S,), or array of shape (S, A)
        ``pi[s, a]`` with rows summing to 1, or the action of a deterministic policy.
    certificate : bool, default False
        Also return the :class:`SolveCertificate` of the solve (which solver ran, the
        residual recomputed in float64 and the certified bound
        :math:`\|V - V_k\|_\infty \le \|r_\pi - (I - \gamma P_\pi) V_k\|_\infty / (1 - \gamma)`).

    Returns
    -------
    V : ndarray of shape (..., S)
        :math:`V^\pi(s)` for each reward of the batch; ``(V, SolveCertificate)`` when
        ``certificate`` is True.

    Notes
    -----
    One LU factorisation of :math:`I - \gamma P_\pi` serves the whole batch; the cost is
    :math:`O(S^3)` once plus :math:`O(K S^2 A)` for :math:`K` rewards.

    References
    ----------
    .. [1] Puterman 1994, Theorem 6.1.1. Skalse et al. 2024 ("STARC"), Sec. 2.

    Examples
    --------
    Two states, action 0 stays and action 1 switches, reward 1 on (s0, a1, s1):

    >>> import numpy as np
    >>> from starc import TabularMDP, policy_evaluation
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> R = np.zeros((2, 2, 2)); R[0, 1, 1] = 1.0
    >>> policy_evaluation(R, TabularMDP(T, gamma=0.9)).round(12)
    array([2.75, 2.25])

    The same MDP stored sparse, ``(S*A, S)`` with row ``s*A + a``:

    >>> import scipy.sparse as sp
    >>> mdp = TabularMDP(sp.csr_array(T.reshape(4, 2)), gamma=0.9)
    >>> V, cert = policy_evaluation(R.sum(axis=2), mdp, certificate=True)
    >>> V.round(12), cert.method, bool(cert.error_bound <= cert.tolerance)
    (array([2.75, 2.25]), 'splu', True)
    """
    mdp = as_mdp(mdp)
    if mdp.is_sparse:
        rbar, _, k, _, v, cert = _sparse_values(reward, mdp, policy)
        return _with_certificate(scale_up(v, k, rbar, mdp.gamma, "values"), cert, certificate)
    pi = _as_policy(policy, mdp)
    rbar = expected_rewards(reward, mdp)
    scaled, k = scale_down(rbar, mdp.gamma)
    v = evaluate_expected(scaled, mdp, pi)
    cert = _dense_certificate(mdp, pi, scaled, v) if certificate else None
    return _with_certificate(scale_up(v, k, rbar, mdp.gamma, "values"), cert, certificate)


def q_values(reward, mdp: TabularMDP, policy="uniform", *,
             certificate: bool = False) -> np.ndarray:
    r"""Exact action values :math:`Q^\pi(s,a) = \sum_{s'}\tau(s'|s,a)[R(s,a,s') + \gamma V^\pi(s')]`.

    Supports sparse MDPs (THEORY §11); the error of :math:`Q` is at most
    :math:`\gamma` times the certified bound on :math:`V`.

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
    mdp : TabularMDP
    policy : "uniform", int array of shape (S,), or array of shape (S, A)
    certificate : bool, default False
        Also return the :class:`SolveCertificate` of the solve (which solver ran, the
        residual recomputed in float64 and the certified bound
        :math:`\|V - V_k\|_\infty \le \|r_\pi - (I - \gamma P_\pi) V_k\|_\infty / (1 - \gamma)`).

    Returns
    -------
    Q : ndarray of shape (..., S, A)
        ``(Q, SolveCertificate)`` (that of :math:`V^\pi`) when ``certificate`` is True.

    References
    ----------
    .. [1] Sutton and Barto, "Reinforcement Learning", 2nd ed., Eq. 3.13.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, q_values
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> R = np.zeros((2, 2, 2)); R[0, 1, 1] = 1.0
    >>> q_values(R, TabularMDP(T, gamma=0.9)).round(12)
    array([[2.475, 3.025],
           [2.025, 2.475]])
    """
    mdp = as_mdp(mdp)
    if mdp.is_sparse:
        rbar, scaled, k, _, v, cert = _sparse_values(reward, mdp, policy)
        q = _sparse().q_from_values(mdp, scaled, v)
        return _with_certificate(scale_up(q, k, rbar, mdp.gamma, "action values"), cert,
                                 certificate)
    pi = _as_policy(policy, mdp)
    rbar = expected_rewards(reward, mdp)
    scaled, k = scale_down(rbar, mdp.gamma)
    v = evaluate_expected(scaled, mdp, pi)
    cert = _dense_certificate(mdp, pi, scaled, v) if certificate else None
    q = q_from_values(scaled, v, mdp)
    return _with_certificate(scale_up(q, k, rbar, mdp.gamma, "action values"), cert,
                             certificate)


def deterministic_values(rbar: np.ndarray, mdp: TabularMDP, actions: np.ndarray) -> np.ndarray:
    r"""Values ``(S,)`` of a deterministic policy from validated expected rewards.

    .. math::

        V = (I - \gamma P_a)^{-1} \bar R_a, \qquad P_a[s, s'] = \tau(s' \mid s, a(s)),
        \quad \bar R_a(s) = \bar R(s, a(s)),

    by one LU factorisation (not memoised: policy iteration visits each policy once).

    Parameters
    ----------
    rbar : ndarray of shape (S, A)
        Expected rewards (finite).
    mdp : TabularMDP
    actions : int ndarray of shape (S,)
        The action of every state.

    Returns
    -------
    ndarray of shape (S,)

    Raises
    ------
    SolverError
        If LAPACK reports a singular matrix (impossible for ``gamma < 1``).

    References
    ----------
    .. [1] Puterman, "Markov Decision Processes", 1994, Thm. 6.1.1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP
    >>> from starc.solve import deterministic_values
    >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.5)
    >>> deterministic_values(np.ones((2, 1)), mdp, np.zeros(2, dtype=int))
    array([2., 2.])
    """
    n = mdp.n_states
    idx = np.arange(n)
    a = -mdp.gamma * mdp.transition[idx, actions, :]
    a[np.diag_indices(n)] += 1.0
    return lu_solve(lu_factor(a), rbar[idx, actions])


def policy_iteration(rbar: np.ndarray, mdp: TabularMDP, *, allowed: np.ndarray | None = None,
                     max_iter: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Howard's policy iteration on expected rewards ``rbar (S, A)``.

    ``allowed`` is an optional boolean ``(S, A)`` mask of actions the policy may take
    (every state must allow one). Returns ``(actions (S,), values (S,))``; raises
    ConvergenceError unless the Bellman residual over allowed actions is below
    ``BELLMAN_RTOL`` times the reward scale.
    """
    n = mdp.n_states
    idx = np.arange(n)
    scale = float(np.max(np.abs(rbar), initial=0.0)) / (1.0 - mdp.gamma)
    masked = rbar if allowed is None else np.where(allowed, rbar, -np.inf)
    # Start greedy with respect to v0(s) = max_a rbar(s, a) (as quantecon's DiscreteDP
    # does): one cheap Bellman backup that often saves a whole evaluation (an LU).
    q0 = q_from_values(rbar, np.max(masked, axis=1), mdp)
    if allowed is not None:
        q0 = np.where(allowed, q0, -np.inf)
    actions = greedy_start(q0, scale)  # one start rule, dense, sparse and batch
    for _ in range(max_iter):
        v = deterministic_values(rbar, mdp, actions)
        q = q_from_values(rbar, v, mdp)
        if allowed is not None:
            q = np.where(allowed, q, -np.inf)
        best, switch = improvement(q, actions, scale)  # one tie rule, dense and sparse
        if not np.any(switch):
            residual = float(np.max(np.abs(q[idx, best] - v)))
            if residual > BELLMAN_RTOL * max(scale, 1.0):
                raise ConvergenceError(
                    f"policy iteration stopped with Bellman residual {residual:.3g} > "
                    f"{BELLMAN_RTOL:g} x scale {scale:.3g}; the linear solves are too "
                    "ill-conditioned (gamma too close to 1?)")
            return actions, v
        actions = np.where(switch, best, actions)
    raise ConvergenceError(f"policy iteration did not stabilise in {max_iter} iterations")


def _single_expected_reward(reward, mdp: TabularMDP, fname: str) -> np.ndarray:
    """``rbar (S, A)`` of one reward; a batch raises."""
    rbar = expected_rewards(reward, mdp)
    if rbar.ndim != 2:
        raise ValidationError(
            f"{fname} takes one reward of shape (S, A, S), (S, A) or (S,); got a batch of "
            f"shape {rbar.shape[:-2]} — loop over it or use starc.batch for many rewards")
    return rbar


def optimal_policy(reward, mdp: TabularMDP, *, certificate: bool = False) -> np.ndarray:
    r"""A deterministic optimal policy, by exact policy iteration.

    Returns :math:`\pi^*(s) \in \arg\max_a Q^*(s, a)`, where :math:`Q^*` solves the
    Bellman optimality equation
    :math:`Q^*(s,a) = \sum_{s'} \tau(s'|s,a)[R(s,a,s') + \gamma \max_{a'} Q^*(s',a')]`.

    Parameters
    ----------
    reward : array_like of shape (S, A, S), (S, A) or (S,)
        On a sparse MDP also a ``scipy.sparse`` ``(S*A, S)`` reward.
    mdp : TabularMDP
        Supports sparse MDPs (THEORY §11): the same policy iteration, with certified
        sparse evaluations.
    certificate : bool, default False
        Also return a :class:`SolveCertificate` whose ``bellman_residual`` is
        :math:`\|\mathcal T V - V\|_\infty` and ``policy_loss_bound``
        :math:`2\gamma\|\mathcal T V - V\|_\infty / (1 - \gamma)` (for the reward scaled
        by a power of two when it is extreme; see "Rewards of extreme magnitude").

    Returns
    -------
    ndarray of int64, shape (S,)
        The action taken in each state. Among tied optimal actions the result is the
        fixed point of policy iteration started from the policy greedy with respect to
        :math:`v_0(s) = \max_a \bar R(s, a)`, whose ties (within ``1e-13`` of the value
        scale, the tolerance of the improvement step) go to the lowest action index:
        a constant reward gives action 0 everywhere, dense, sparse and in
        :mod:`starc.batch` alike.

    Raises
    ------
    ConvergenceError
        If the Bellman residual of the result exceeds ``1e-10`` times
        :math:`\max|\bar R| / (1-\gamma)`.

    References
    ----------
    .. [1] Howard, "Dynamic Programming and Markov Processes", 1960; Puterman 1994,
       Sec. 6.4.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, optimal_policy
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> R = np.zeros((2, 2, 2)); R[0, 1, 1] = 1.0
    >>> optimal_policy(R, TabularMDP(T, gamma=0.9))
    array([1, 1])
    """
    mdp = as_mdp(mdp)
    rbar = _single_expected_reward(reward, mdp, "optimal_policy")
    # scale invariant: an extreme reward is solved as 2^-k R, exactly the same policy
    actions, _, cert = _optimal(scale_down(rbar, mdp.gamma)[0], mdp, certificate)
    return _with_certificate(actions.astype(np.int64), cert, certificate)


def _optimal(rbar: np.ndarray, mdp: TabularMDP, certificate: bool):
    """``(actions, values, certificate or None)`` by policy iteration, dense or sparse."""
    if mdp.is_sparse:
        actions, v, _, cert = _sparse().policy_iteration(mdp, rbar)
        return actions, v, cert
    actions, v = policy_iteration(rbar, mdp)
    cert = None
    if certificate:
        c = _dense_certificate(mdp, _as_policy(actions, mdp), rbar, v)
        q = q_from_values(rbar, v, mdp)
        res = float(np.max(np.abs(q.max(axis=1) - v)))
        cert = SolveCertificate(c.method, None, None, c.iterations, c.residual_inf,
                                c.error_bound, c.value_scale, c.tolerance, res,
                                2.0 * mdp.gamma * res / (1.0 - mdp.gamma))
    return actions, v, cert


def optimal_values(reward, mdp: TabularMDP, *, return_policy: bool = False,
                   certificate: bool = False):
    r"""Optimal state values :math:`V^*(s) = \max_\pi V^\pi(s)`, exactly.

    Parameters
    ----------
    reward : array_like of shape (S, A, S), (S, A) or (S,)
    mdp : TabularMDP
    return_policy : bool, default False
        Also return the optimal policy found on the way (the one
        :func:`optimal_policy` returns), without a second solve.
    certificate : bool, default False
        Also return the :class:`SolveCertificate` of policy iteration (see
        :func:`optimal_policy`); :math:`\|V - V^*\|_\infty \le` ``bellman_residual /
        (1 - gamma)``.

    Supports sparse MDPs (THEORY §11).

    Returns
    -------
    ndarray of shape (S,), or (values, policy) with policy an int64 array of shape (S,)
        With ``certificate=True``, ``(that, SolveCertificate)``.

    References
    ----------
    .. [1] Puterman 1994, Theorem 6.2.5 (optimality equations).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, optimal_values
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> R = np.zeros((2, 2, 2)); R[0, 1, 1] = 1.0
    >>> V = optimal_values(R, TabularMDP(T, gamma=0.9))
    >>> (V * (1 - 0.9**2)).round(12)  # closed form: (1, gamma) / (1 - gamma^2)
    array([1. , 0.9])
    """
    mdp = as_mdp(mdp)
    rbar = _single_expected_reward(reward, mdp, "optimal_values")
    scaled, k = scale_down(rbar, mdp.gamma)
    actions, v, cert = _optimal(scaled, mdp, certificate)
    v = scale_up(v, k, rbar, mdp.gamma, "optimal values")
    out = (v, actions.astype(np.int64)) if return_policy else v
    return _with_certificate(out, cert, certificate)


def policy_return(reward, mdp: TabularMDP, policy="uniform", *,
                  certificate: bool = False) -> np.ndarray | float:
    r"""Expected discounted return :math:`J_R(\pi) = \sum_s \mu_0(s) V^\pi(s)`.

    Supports sparse MDPs (THEORY §11); :math:`|J - J_k| \le` the certified bound on
    :math:`V` (:math:`\mu_0` sums to one).

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
    mdp : TabularMDP
    policy : "uniform", int array of shape (S,), or array of shape (S, A)
    certificate : bool, default False
        Also return the :class:`SolveCertificate` of the solve (which solver ran, the
        residual recomputed in float64 and the certified bound
        :math:`\|V - V_k\|_\infty \le \|r_\pi - (I - \gamma P_\pi) V_k\|_\infty / (1 - \gamma)`).

    Returns
    -------
    float or ndarray of shape (...)
        ``(J, SolveCertificate)`` when ``certificate`` is True.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 2, the policy evaluation function :math:`J`.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, policy_return
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> R = np.zeros((2, 2, 2)); R[0, 1, 1] = 1.0
    >>> round(policy_return(R, TabularMDP(T, gamma=0.9)), 12)
    2.5
    """
    mdp = as_mdp(mdp)
    if mdp.is_sparse:
        rbar, _, k, _, v, cert = _sparse_values(reward, mdp, policy)
    else:
        pi = _as_policy(policy, mdp)
        rbar = expected_rewards(reward, mdp)
        scaled, k = scale_down(rbar, mdp.gamma)
        v = evaluate_expected(scaled, mdp, pi)
        cert = _dense_certificate(mdp, pi, scaled, v) if certificate else None
    j = scale_up(v @ mdp.initial, k, rbar, mdp.gamma, "return")
    return _with_certificate(float(j) if np.ndim(j) == 0 else j, cert, certificate)


def state_occupancy(mdp: TabularMDP, policy="uniform", *,
                    certificate: bool = False) -> np.ndarray:
    r"""Discounted state occupancy :math:`d^\pi(s) = \sum_t \gamma^t P(s_t = s)`.

    Solves :math:`(I - \gamma P_\pi)^\top d^\pi = \mu_0`. Supports sparse MDPs
    (THEORY §11), with a certified bound :math:`\|d - d_k\|_1 \le \|\mu_0 - (I -
    \gamma P_\pi)^\top d_k\|_1 / (1 - \gamma)`.

    Parameters
    ----------
    mdp : TabularMDP
    policy : "uniform", int array of shape (S,), or array of shape (S, A)
    certificate : bool, default False
        Also return the :class:`SolveCertificate` (its residual and bound in the 1-norm).

    Returns
    -------
    ndarray of shape (S,)
        Non-negative, summing to :math:`1/(1-\gamma)`; ``(d, SolveCertificate)`` when
        ``certificate`` is True.

    References
    ----------
    .. [1] Puterman 1994, Sec. 6.9 (the dual linear program).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, state_occupancy
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> state_occupancy(TabularMDP(T, gamma=0.9)).round(12)
    array([5., 5.])
    """
    mdp = as_mdp(mdp)
    if mdp.is_sparse:
        d, cert = _sparse().occupancy(mdp, _sparse_policy(policy, mdp))
        return _with_certificate(np.maximum(d, 0.0), cert, certificate)
    pi = _as_policy(policy, mdp)
    d = lu_solve(policy_lu(mdp, pi), np.array(mdp.initial), trans=1)
    cert = None
    if certificate:
        res = mdp.initial - (d - mdp.gamma * policy_matrix(mdp, pi).T @ d)
        rn = float(np.sum(np.abs(res)))
        scale = 1.0 / (1.0 - mdp.gamma)
        cert = SolveCertificate("lu", None, None, 0, rn, rn / (1.0 - mdp.gamma), scale,
                                _sparse().EVAL_RTOL * scale)
    # clip round-off below zero; d >= 0 exactly
    return _with_certificate(np.maximum(d, 0.0), cert, certificate)


def state_action_occupancy(mdp: TabularMDP, policy="uniform", *,
                           certificate: bool = False) -> np.ndarray:
    r"""Discounted state-action occupancy :math:`d^\pi(s, a) = d^\pi(s)\,\pi(a \mid s)`.

    Supports sparse MDPs (THEORY §11).

    Parameters
    ----------
    mdp : TabularMDP
    policy : "uniform", int array of shape (S,), or array of shape (S, A)
    certificate : bool, default False
        Also return the :class:`SolveCertificate` of :func:`state_occupancy` (the 1-norm
        bound carries over: :math:`\sum_{s,a} |\Delta d(s)| \pi(a|s) = \|\Delta d\|_1`).

    Returns
    -------
    ndarray of shape (S, A)
        Satisfies the flow constraints
        :math:`\sum_a d(s', a) = \mu_0(s') + \gamma \sum_{s,a} \tau(s' \mid s, a) d(s, a)`.

    References
    ----------
    .. [1] Puterman 1994, Sec. 6.9.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, state_action_occupancy
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> state_action_occupancy(TabularMDP(T, gamma=0.9), [1, 0]).round(12)
    array([[0. , 0.5],
           [9.5, 0. ]])
    """
    mdp = as_mdp(mdp)
    pi = _as_policy(policy, mdp)
    out = state_occupancy(mdp, policy if mdp.is_sparse else pi, certificate=certificate)
    d, cert = out if certificate is True else (out, None)
    return _with_certificate(d[:, None] * pi, cert, certificate)


def occupancy(mdp: TabularMDP, policy="uniform", *, certificate: bool = False):
    r"""Discounted transition occupancy :math:`\eta^\pi(s, a, s')`.

    .. math::

        \eta^\pi(s, a, s') = \sum_{t \ge 0} \gamma^t P(s_t = s, a_t = a, s_{t+1} = s')
                           = d^\pi(s)\, \pi(a \mid s)\, \tau(s' \mid s, a),

    so that :math:`J_R(\pi) = \langle \eta^\pi, R \rangle` for every reward.

    Supports sparse MDPs (THEORY §11): then :math:`\eta^\pi` is returned as a sparse
    ``(S*A, S)`` array on the transition's support.

    Parameters
    ----------
    mdp : TabularMDP
    policy : "uniform", int array of shape (S,), or array of shape (S, A)
    certificate : bool, default False
        Also return the :class:`SolveCertificate` of :func:`state_occupancy`.

    Returns
    -------
    ndarray of shape (S, A, S)
        Non-negative, summing to :math:`1/(1-\gamma)`. For a sparse MDP (supported,
        THEORY §11) a ``scipy.sparse.csr_array`` of shape ``(S*A, S)`` on the
        transition's support, row ``s*A + a`` — never the dense tensor.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 2 and the proof of Thm. 1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, occupancy
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> eta = occupancy(TabularMDP(T, gamma=0.9))
    >>> round(float(eta.sum()), 10)
    10.0
    """
    mdp = as_mdp(mdp)
    if mdp.is_sparse:
        import scipy.sparse as sp

        dsa, cert = state_action_occupancy(mdp, policy, certificate=True)
        eta = sp.csr_array(mdp.transition.multiply(dsa.reshape(-1, 1)))
        return _with_certificate(eta, cert, certificate)
    check_memory(mdp.shape, "occupancy")
    out = state_action_occupancy(mdp, policy, certificate=certificate)
    dsa, cert = out if certificate is True else (out, None)
    return _with_certificate(dsa[:, :, None] * mdp.transition, cert, certificate)
