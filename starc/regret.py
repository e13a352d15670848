r"""Regret: what optimising the wrong reward costs, exactly and in the worst case.

Normalised regret
-----------------
If :math:`R_1` is the true reward and a policy :math:`\pi` is chosen some other way, its
*normalised regret* is

.. math::

    \operatorname{Reg}_1(\pi) = \frac{\max_{\pi'} J_1(\pi') - J_1(\pi)}
                                     {\max_{\pi'} J_1(\pi') - \min_{\pi'} J_1(\pi')}
    \in [0, 1],

and 0 when every policy has the same return (the denominator is decided to be zero with
a relative tolerance). :func:`regret` evaluates it for an optimal policy of a proxy
reward :math:`R_2`. Several policies may be optimal for :math:`R_2`; ``ties`` picks the
worst of them under :math:`R_1` (``"pessimistic"``: an MDP restricted to the
:math:`R_2`-optimal actions, solved for :math:`-R_1`), the best (``"optimistic"``), or
the one :func:`starc.optimal_policy` returns (``"first"``). Every quantity is exact:
returns come from linear solves, optima from policy iteration.

"Optimal for :math:`R_2`" is decided against round-off: an action is tied with the best
when its computed gap :math:`\hat g(s,a) = \max_{a'}\hat Q^*_2(s,a') - \hat Q^*_2(s,a)`
is within the error bound of that gap,

.. math::

    \hat g(s,a) \le \epsilon\,\big(M + \max|\hat V^*_2|\,(1 + 2\gamma\|w_{sa}\|_1)\big),
    \qquad w_{sa}^\top = (\tau(\cdot|s,a) - \tau(\cdot|s,a^*))(I - \gamma P_\pi)^{-1},

derived from the backward error of the LU solve for :math:`\hat V^*_2`
(:math:`\epsilon` = :data:`TIE_RTOL`, :math:`M = \max_{s,a}\mathbb E_\tau|R_2|`). Its
worst case, :math:`\|w\|_1 = 2/(1-\gamma)`, grows like :math:`M/(1-\gamma)^2`; for
chains that mix, :math:`\|w\|_1` stays bounded. Where a tie is in doubt (its bound
exceeds :data:`REGRET_RTOL` :math:`\cdot M`) and the regret depends on it, and for
:math:`\gamma >` :data:`GAMMA_MAX`, the functions here raise
:class:`~starc.exceptions.ValidationError` rather than guess. Every reward is first
rescaled by a power of two (exact; all regrets are scale-invariant), so magnitudes
anywhere in the float64 range are handled alike.

Worst-case regret
-----------------
The quantity that STARC metrics bound [1]_ (Def. 5, Thm. 1) is the worst regret over
*all* pairs of policies that the proxy orders one way and the truth the other:

.. math::

    \operatorname{WCR}(R_1, R_2) = \max_{\pi_1, \pi_2 :\, J_2(\pi_2) \ge J_2(\pi_1)}
        \frac{J_1(\pi_1) - J_1(\pi_2)}{\max J_1 - \min J_1} .

Over state-action occupancies :math:`d(s, a) = \sum_t \gamma^t P(s_t = s, a_t = a)` —
the polytope :math:`\{d \ge 0 : \sum_a d(s', a) = \mu_0(s') + \gamma \sum_{s,a}
\tau(s'|s,a) d(s,a)\}`, whose points are exactly the occupancies of (stochastic)
policies — returns are linear, :math:`J(\pi) = \langle d^\pi, \bar R \rangle`, so the
maximum is one linear program in :math:`(d_1, d_2)`:

.. math::

    \max_{d_1, d_2}\; \langle \bar R_1, d_1 - d_2 \rangle \quad \text{s.t.} \quad
    \langle \bar R_2, d_2 - d_1 \rangle \ge 0, \; d_1, d_2 \text{ occupancies}.

:func:`worst_case_regret` solves it with cvxpy and HiGHS (the problem is compiled once
per MDP and re-solved with new rewards) and can return the maximising policies
:math:`\pi_i(a|s) = d_i(s,a) / \sum_{a'} d_i(s,a')`.

Certified bounds
----------------
For a STARC distance :math:`d = m(s(R_1), s(R_2))` with :math:`s(R) = c(R)/n(c(R))`,
a canonicalization :math:`c` that preserves return differences and a metric
:math:`m(x, y) = \|x - y\|_p` (derived; cf. [1]_, proof of Thm. 1): for
:math:`J_2(\pi_2) \ge J_2(\pi_1)`, :math:`\langle s_2, \eta_1 - \eta_2\rangle \le 0`, so

.. math::

    J_1(\pi_1) - J_1(\pi_2) = n(c(R_1)) \langle s_1, \eta_1 - \eta_2 \rangle
      \le n(c(R_1)) \langle s_1 - s_2, \eta_1 - \eta_2 \rangle
      \le n(c(R_1))\, d\, \|\eta_1 - \eta_2\|_{q}
      \le n(c(R_1))\, d\, \frac{2}{1 - \gamma},

with :math:`1/p + 1/q = 1` (for the transition-weighted metrics the dual pairing is
taken against :math:`\eta/\tau = d(s, a)`). Hence

.. math::

    \operatorname{WCR}(R_1, R_2) \le \min\Big(1,\; \frac{2\, n(c(R_1))\, d}
        {(1 - \gamma)(\max J_1 - \min J_1)}\Big) .

:func:`regret_bound` returns this certificate, or with ``tight=True`` the sharper one
that replaces :math:`2/(1-\gamma)` by :math:`(2/(1-\gamma))^{1/q} D_\infty^{1 - 1/q}`
where :math:`D_\infty = \max_{\pi, \pi'} \|\eta^\pi - \eta^{\pi'}\|_\infty` is computed
exactly by :math:`2|S||A|` linear programs (:func:`occupancy_diameter`), using
:math:`\|x\|_q \le \|x\|_1^{1/q} \|x\|_\infty^{1 - 1/q}`.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Def. 5 (soundness),
   Def. 6 (completeness), Thm. 1, Sec. 4.1 (the regret of the experiments).
.. [2] Puterman. "Markov Decision Processes". Wiley 1994, Sec. 6.9 (occupancy LP).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._solvers import HIGHS_OPTIONS, silence_highs_banner, solve_cvxpy
from ._validation import as_float_array, check_choice, check_gamma
from .distances import distance_options
from .canonical import canonical_parts, expected_magnitude
from .exceptions import ValidationError
from .mdp import TabularMDP, as_mdp, broadcast_reward
from ._extremes import scale_exponents
from ._parametric import parametric_worst_case
from .norms import p_of
from .solve import deterministic_values, policy_iteration, q_from_values
from . import _rules

__all__ = [
    "check_regret_gamma",
    "regret",
    "policy_value_range",
    "worst_case_regret",
    "WorstCaseRegret",
    "regret_bound",
    "soundness_constant",
    "occupancy_diameter",
    "empirical_constants",
]

#: How :func:`regret` breaks ties between the proxy's optimal policies.
TIES = _rules.TIES

#: A reward is trivial when its best and worst returns differ by at most
#: ``REGRET_RTOL * max_{s,a} E_tau|R| / (1 - gamma)``: such a reward barely orders
#: policies (regrets normalised by its value range would be dominated by round-off), so
#: every policy counts as optimal for it — regret 0 under it, and as a proxy every
#: action is tied. (The rule and its tolerances live in ``starc._rules``.)
REGRET_RTOL = _rules.REGRET_RTOL

#: The largest discount regrets and value ranges are computed for. Above it the round-off
#: floor of action values, ``TIE_RTOL / (1 - gamma)`` of the reward's size, and policy
#: iteration's improvement threshold, ``1e-13 / (1 - gamma)`` of it, pass 1e-5: optimal
#: actions are no longer decided to a useful precision (docs/theory/regret.rst,
#: "Numerical range and failure modes").
GAMMA_MAX = _rules.GAMMA_MAX

#: Ties between optimal actions are decided against round-off: an action is tied when its
#: gap to ``max_a Q*(s, a)`` is at most ``TIE_RTOL * (M + max|V*| (1 + 2 gamma ||w||_1))``
#: (:func:`_tie_masks`, derived in docs/theory/regret.rst).
TIE_RTOL = _rules.TIE_RTOL


class _Expected(NamedTuple):
    """One reward as regret needs it: ``rbar (S, A)``, ``max_{s,a} E_tau |R|``, and the
    exponent ``e`` of the power of two ``2^e`` the reward was divided by to get them
    (:func:`_unit_scaled`)."""

    rbar: np.ndarray
    magnitude: float
    exponent: int = 0


def _single(reward, mdp: TabularMDP, name: str) -> _Expected:
    """One validated reward as :class:`_Expected`, rescaled by :func:`_unit_scaled`."""
    r = broadcast_reward(reward, mdp, name=name)
    if r.ndim != 3:
        raise ValidationError(f"{name} must be one reward of shape (S, A, S), (S, A) or (S,); "
                              f"got a batch of shape {r.shape[:-3]}")
    r, exponent = _unit_scaled(r, mdp)
    return _Expected(mdp.expectation(r),
                     float(expected_magnitude(r, mdp.transition)), exponent)


def _unit_scaled(r: np.ndarray, mdp: TabularMDP) -> tuple[np.ndarray, int]:
    r"""``r`` on the possible transitions, times the power of two that brings its largest
    magnitude into :math:`[1/2, 1)`.

    Every quantity of this module is invariant under a positive rescaling of either
    reward, and a power of two rescales exactly, so the result is the same as from ``r``
    itself — but a reward of size :math:`10^{\pm 300}` no longer under- or overflows in
    :math:`\bar R`, the values :math:`|R|/(1-\gamma)` or the products with small
    transition probabilities. Entries on impossible transitions (:math:`\tau = 0`) never
    enter a return and are set to 0 first. Returns the rescaled reward and the exponent
    of the power of two it was divided by.
    """
    r = np.where(mdp.transition > 0, r, 0.0)
    big = float(np.max(np.abs(r), initial=0.0))
    if big == 0.0:
        return r, 0
    exponent = int(scale_exponents(big, always=True))
    return np.ldexp(r, -exponent), exponent


def _tie_bounds(magnitude: float, gamma: float, v: np.ndarray) -> tuple[float, float, float]:
    r"""``(floor, worst, unit)`` of the round-off bound of a computed advantage gap.

    The gap :math:`\hat Q(s,a^*) - \hat Q(s,a)` is off by at most :data:`TIE_RTOL`
    :math:`\cdot(M + \max|\hat V|\,(1 + 2\gamma\|w_{sa}\|_1))` with
    :math:`w_{sa}^\top = (\tau(\cdot|s,a) - \tau(\cdot|s,a^*))(I - \gamma P_\pi)^{-1}`:
    ``floor`` is that bound with :math:`w = 0`, ``worst`` with the largest possible
    :math:`\|w\|_1 = 2/(1-\gamma)`, and ``unit`` the factor :math:`2\gamma\,`
    :data:`TIE_RTOL` :math:`\max|\hat V|` of :math:`\|w\|_1`.
    """
    size = float(np.max(np.abs(v), initial=0.0))
    return _rules.tie_bounds(magnitude, gamma, size, _rules.TIE_RTOL)


class ValueRange(NamedTuple):
    r"""The value range of a reward on an MDP: the returns of its pessimal and optimal
    policies (dense and sparse MDPs alike).

    ``lo`` = :math:`\min_\pi J(\pi)`, ``hi`` = :math:`\max_\pi J(\pi)`;
    ``best_actions`` (S,) and ``best_values`` :math:`V^*` (S,) of an optimal policy;
    ``tolerance``, the largest range counted as zero (:data:`REGRET_RTOL`
    :math:`\max_{s,a}\mathbb E_\tau|R| / (1-\gamma)`); ``worst_actions`` (S,) of a
    pessimal policy. Regret divides by ``hi - lo`` (Skalse et al. 2024, Sec. 4.1).
    """

    lo: float
    hi: float
    best_actions: np.ndarray
    best_values: np.ndarray
    tolerance: float
    worst_actions: np.ndarray

    @property
    def trivial(self) -> bool:
        """Every policy has (nearly, see :data:`REGRET_RTOL`) the same return
        (:func:`starc._rules.is_trivial`)."""
        return _rules.is_trivial(self.lo, self.hi, self.tolerance)

    def unscaled(self, exponent: int, gamma: float) -> tuple[float, float]:
        """``(lo, hi)`` of the reward before its power-of-two rescaling by
        ``2**-exponent`` (:mod:`starc._extremes`); ValidationError when they exceed the
        float64 range."""
        with np.errstate(over="ignore"):
            lo, hi = (float(np.ldexp(x, exponent)) for x in (self.lo, self.hi))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValidationError(f"reward: its returns exceed the float64 range (max |R| = "
                                  f"2^{exponent} with gamma = {gamma!r}); rescale it")
        return lo, hi


def check_regret_gamma(gamma: float, what: str) -> None:
    """Refuse a discount above :data:`GAMMA_MAX` (see there) with a ValidationError.

    The one statement of this limit for every regret computation (here and in
    :mod:`starc.batch`).

    Parameters
    ----------
    gamma : float
        A discount in ``[0, 1)``.
    what : str
        The computation, named at the start of the message (e.g. ``"regret"``).

    Raises
    ------
    ValidationError
        If ``gamma > GAMMA_MAX``, or for a ``gamma`` outside ``[0, 1)`` or a ``what``
        that is not a str.

    Examples
    --------
    >>> from starc.regret import check_regret_gamma
    >>> check_regret_gamma(0.9, "regret")  # fine: returns None
    """
    if not isinstance(what, str):
        raise ValidationError(f"what must be a str naming the computation, got {what!r}")
    _rules.check_regret_gamma(check_gamma(gamma), what)


def _range_from_expected(reward: _Expected, mdp: TabularMDP) -> ValueRange:
    """The value range of a reward given as :class:`_Expected`."""
    check_regret_gamma(mdp.gamma, "regret")
    best_actions, v_best = policy_iteration(reward.rbar, mdp)
    worst_actions, v_worst = policy_iteration(-reward.rbar, mdp)
    return ValueRange(0.0 - float(v_worst @ mdp.initial), float(v_best @ mdp.initial),
                  best_actions, v_best,
                  _rules.trivial_tolerance(reward.magnitude, mdp.gamma, _rules.REGRET_RTOL),
                  worst_actions)


def policy_value_range(reward, mdp: TabularMDP) -> tuple[float, float]:
    r"""The smallest and largest return any policy achieves: :math:`(\min_\pi J, \max_\pi J)`.

    Both extremes are attained by deterministic policies, found by exact policy
    iteration for :math:`R` and :math:`-R`.

    Parameters
    ----------
    reward : array_like of shape (S, A, S), (S, A) or (S,)
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).

    Returns
    -------
    (float, float)

    Raises
    ------
    ValidationError
        When a return exceeds the float64 range (the computation itself runs on the
        reward rescaled by a power of two, so only the result can overflow).

    References
    ----------
    .. [1] Puterman 1994, Theorem 6.2.7; Skalse et al. 2024 ("STARC"), Def. 5.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, policy_value_range
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> R = np.zeros((2, 2, 2)); R[0, 1, 1] = 1.0
    >>> [round(x, 10) for x in policy_value_range(R, TabularMDP(T, gamma=0.9))]
    [0.0, 5.0]
    """
    mdp = as_mdp(mdp)
    if getattr(mdp, "is_sparse", False):  # THEORY §11: sparse policy iteration
        from . import _sparse_regret
        return _sparse_regret.policy_value_range(reward, mdp)
    reward = _single(reward, mdp, "reward")
    return _range_from_expected(reward, mdp).unscaled(reward.exponent, mdp.gamma)


def _tie_masks(reward: _Expected, mdp: TabularMDP, actions: np.ndarray, v: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    r"""The actions tied with the best one under ``reward``, and those tied in doubt.

    ``actions`` is an optimal policy and ``v`` its values. Returns two boolean
    ``(S, A)`` masks: ``allowed``, the actions whose computed gap to
    :math:`\max_a \hat Q(s, a)` is within its round-off bound (:func:`_tie_bounds`;
    :math:`\|w_{sa}\|_1` is computed, by one transposed solve with the factors of
    :math:`I - \gamma P_\pi`, only for the gaps between the bound's floor and its worst
    case), and ``doubtful``, the allowed actions whose bound exceeds
    :data:`REGRET_RTOL` :math:`\cdot M` — float64 cannot tell whether they are tied or
    worse by a difference that matters — except those with exactly the best action's
    transitions and expected reward (tied exactly).
    """
    from .solve import lu_factor, lu_solve

    q = q_from_values(reward.rbar, v, mdp)
    best = np.argmax(q, axis=1)
    gap = q[np.arange(mdp.n_states), best][:, None] - q
    floor, worst, unit = _tie_bounds(reward.magnitude, mdp.gamma, v)
    limit = _rules.doubt_limit(reward.magnitude, _rules.REGRET_RTOL)
    allowed = gap <= floor
    if _rules.in_doubt(floor, limit):
        # an action with the best one's transitions and expected reward is tied exactly
        idx = np.arange(mdp.n_states)
        t = mdp.transition
        same = np.all(t == t[idx, best][:, None, :], axis=2) & (
            reward.rbar == reward.rbar[idx, best][:, None])
        doubtful = allowed & ~same
    else:
        doubtful = np.zeros_like(allowed)
    band_s, band_a = np.nonzero((gap > floor) & (gap <= worst))
    if band_s.size:
        n = mdp.n_states
        idx = np.arange(n)
        t = mdp.transition
        a = -mdp.gamma * t[idx, actions, :]
        a[idx, idx] += 1.0
        rhs = (t[band_s, band_a, :] - t[band_s, best[band_s], :]).T
        w = lu_solve(lu_factor(a), np.asfortranarray(rhs), trans=1)
        bound = _rules.tie_bound(floor, unit, np.abs(w).sum(axis=0))
        tied = gap[band_s, band_a] <= bound
        allowed[band_s[tied], band_a[tied]] = True
        doubtful[band_s[tied], band_a[tied]] = _rules.in_doubt(bound[tied], limit)
    return allowed, doubtful


def regret(r_true, r_proxy, mdp: TabularMDP, *, ties: str = "pessimistic") -> float:
    r"""Normalised regret, under ``r_true``, of a policy that is optimal for ``r_proxy``.

    .. math::

        \operatorname{Reg} = \frac{\max_\pi J_1(\pi) - J_1(\pi^*_2)}
                                  {\max_\pi J_1(\pi) - \min_\pi J_1(\pi)} \in [0, 1].

    Parameters
    ----------
    r_true, r_proxy : array_like of shape (S, A, S), (S, A) or (S,)
        :math:`R_1` (measures) and :math:`R_2` (is optimised).
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
    ties : {"pessimistic", "optimistic", "first"}
        Which :math:`R_2`-optimal policy: the worst under :math:`R_1` (solves the MDP
        restricted to the :math:`R_2`-optimal actions, those within the round-off bound
        of the module documentation of :math:`\max_a Q^*_2`), the best, or
        :func:`starc.optimal_policy`'s.

    Returns
    -------
    float
        In ``[0, 1]``; 0 when every policy has nearly the same return under ``r_true``
        (a range of at most :data:`REGRET_RTOL` :math:`\max_{s,a}\mathbb E_\tau|R_1|
        /(1-\gamma)`). A proxy that trivial has every action tied.

    Raises
    ------
    ValidationError
        For :math:`\gamma >` :data:`GAMMA_MAX`, or when the regret depends on ties that
        float64 cannot decide (module documentation); the message names gamma.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 (regret of the tabular experiment).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, regret
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> R = np.zeros((2, 2, 2)); R[0, 1, 1] = 1.0
    >>> proxy = np.zeros((2, 2, 2)); proxy[0, 0, 0] = 1.0
    >>> regret(R, proxy, TabularMDP(T, gamma=0.9))
    1.0
    """
    mdp = as_mdp(mdp)
    check_choice(ties, "ties", TIES)
    if getattr(mdp, "is_sparse", False):  # THEORY §11: sparse policy iteration
        from . import _sparse_regret
        return _sparse_regret.regret(r_true, r_proxy, mdp, ties=ties)
    true = _single(r_true, mdp, "r_true")
    proxy = _single(r_proxy, mdp, "r_proxy")
    span = _range_from_expected(true, mdp)
    if span.trivial:
        return 0.0
    lo, hi = span.lo, span.hi
    if ties == "first":
        actions, _ = policy_iteration(proxy.rbar, mdp)
        j = float(deterministic_values(true.rbar, mdp, actions) @ mdp.initial)
    else:
        proxy_span = _range_from_expected(proxy, mdp)
        if proxy_span.trivial:  # every policy counts as optimal
            allowed = np.ones((mdp.n_states, mdp.n_actions), dtype=bool)
            doubtful = np.zeros_like(allowed)
        else:
            allowed, doubtful = _tie_masks(proxy, mdp, proxy_span.best_actions,
                                           proxy_span.best_values)
        sign = _rules.tie_sign(TIES.index(ties))
        _, v = policy_iteration(sign * true.rbar, mdp, allowed=allowed)
        j = sign * float(v @ mdp.initial)
        if np.any(doubtful):  # does the answer depend on ties float64 cannot decide?
            _, v_sure = policy_iteration(sign * true.rbar, mdp, allowed=allowed & ~doubtful)
            j_sure = sign * float(v_sure @ mdp.initial)
            _, worst, _ = _tie_bounds(true.magnitude, mdp.gamma,
                                      np.concatenate([v, v_sure]))
            if abs(j - j_sure) > worst:
                raise ValidationError(
                    f"gamma = {mdp.gamma!r} is too close to 1 for this pair: float64 cannot "
                    "decide whether some actions are optimal for r_proxy (their gap to the "
                    "best action is within the round-off of the linear solves, which grows "
                    "like 1/(1 - gamma)^2, yet above 1e-9 of the reward's size), and the "
                    "regret depends on it; use a smaller gamma")
    return float(_rules.regret_fraction(lo, hi, j))


class WorstCaseRegret(NamedTuple):
    """Result of :func:`worst_case_regret` with ``return_policies=True``."""

    regret: float
    policy_1: np.ndarray
    policy_2: np.ndarray
    occupancy_1: np.ndarray
    occupancy_2: np.ndarray

    @classmethod
    def from_occupancies(cls, regret: float, occupancy_1: np.ndarray,
                         occupancy_2: np.ndarray) -> "WorstCaseRegret":
        r"""The result for two state-action occupancies ``(S, A)``, with the policies they
        induce: :math:`\pi(a \mid s) = d(s, a) / \sum_{a'} d(s, a')`, uniform where a
        state is never visited (dense and sparse MDPs alike)."""
        return cls(regret, _policy_from_occupancy(occupancy_1),
                   _policy_from_occupancy(occupancy_2), occupancy_1, occupancy_2)


def _occupancy_constraints(mdp: TabularMDP):
    """(A_eq (S, S*A), b_eq (S,)) of the flow constraints on a state-action occupancy."""
    n, m = mdp.n_states, mdp.n_actions
    tf = mdp.transition.reshape(n * m, n)
    a_eq = np.repeat(np.eye(n), m, axis=1) - mdp.gamma * tf.T
    return a_eq, np.asarray(mdp.initial)


def _wcr_problem(mdp: TabularMDP):
    return mdp.memo("worst_case_regret_lp", lambda: _wcr_problem_uncached(mdp))


def _wcr_problem_uncached(mdp: TabularMDP):
    import cvxpy as cp

    n, m = mdp.n_states, mdp.n_actions
    a_eq, b_eq = _occupancy_constraints(mdp)
    d1 = cp.Variable(n * m, nonneg=True)
    d2 = cp.Variable(n * m, nonneg=True)
    r1 = cp.Parameter(n * m)
    r2 = cp.Parameter(n * m)
    problem = cp.Problem(cp.Maximize(r1 @ d1 - r1 @ d2),
                         [a_eq @ d1 == b_eq, a_eq @ d2 == b_eq, r2 @ d2 - r2 @ d1 >= 0])
    return problem, d1, d2, r1, r2


def _policy_from_occupancy(d: np.ndarray) -> np.ndarray:
    d = np.maximum(d, 0.0)
    total = d.sum(axis=1, keepdims=True)
    uniform = np.full_like(d, 1.0 / d.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        pi = np.where(total > 0, d / np.where(total > 0, total, 1.0), uniform)
    return pi / pi.sum(axis=1, keepdims=True)


WCR_METHODS = ("parametric", "lp")


def worst_case_regret(r_true, r_proxy, mdp: TabularMDP, *, method: str = "parametric",
                      return_policies: bool = False):
    r"""Exact worst-case normalised regret over all policy pairs the proxy mis-orders.

    .. math::

        \max_{\pi_1, \pi_2 :\, J_2(\pi_2) \ge J_2(\pi_1)}
        \frac{J_1(\pi_1) - J_1(\pi_2)}{\max J_1 - \min J_1}.

    ``method="lp"`` solves the linear program over two state-action occupancies of the
    module documentation with cvxpy and HiGHS. ``method="parametric"`` (default) solves
    its Lagrangian dual, which LP duality makes equal:

    .. math::

        \min_{\lambda \ge 0}\; g(\lambda), \qquad
        g(\lambda) = \max_\pi J_{R_1 - \lambda R_2}(\pi) - \min_\pi J_{R_1 - \lambda R_2}(\pi),

    the value range of the reward :math:`R_1 - \lambda R_2`. :math:`g` is convex and
    piecewise linear; each evaluation (two exact policy iterations) returns the active
    line :math:`a - b\lambda` with :math:`a = J_1(\pi^+) - J_1(\pi^-)`,
    :math:`b = J_2(\pi^+) - J_2(\pi^-)`, and intersecting the active lines left and right
    of the minimum reaches it in finitely many steps. No LP tolerance is involved, and it
    scales like policy iteration (much faster than the LP for large MDPs).

    Both methods work with the optimal advantages :math:`A^*_i = \bar R_i + \gamma\tau
    V^*_i - V^*_i` divided by the value ranges in place of the rewards: a potential
    shaping of each, so the problem is the same, but free of constants and shaping — a
    proxy :math:`c + \epsilon X` gives the worst case of :math:`X` for every
    :math:`\epsilon`, with no multiplier of size :math:`1/\epsilon`. A proxy that is
    trivial by :func:`regret`'s rule admits every pair of policies: the worst case is 1.

    Parameters
    ----------
    r_true, r_proxy : array_like of shape (S, A, S), (S, A) or (S,)
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
    method : {"parametric", "lp"}, default "parametric"
    return_policies : bool, default False
        Also return a maximising pair of (possibly stochastic) policies and their
        occupancies.

    Returns
    -------
    float, or WorstCaseRegret
        In ``[0, 1]``; 0 when every policy has (nearly) the same return under ``r_true``,
        1 when that holds for ``r_proxy`` instead (the rule of :func:`regret`).

    Raises
    ------
    ValidationError
        For :math:`\gamma >` :data:`GAMMA_MAX`.
    SolverError
        If the LP solve fails or does not reach an optimal status (``method="lp"``).
    ConvergenceError
        If the parametric search does not close its gap (``method="parametric"``).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 5 and Thm. 1.
    .. [2] Boyd and Vandenberghe, "Convex Optimization", 2004, Sec. 5.2 (LP duality).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import random_mdp, random_reward, worst_case_regret
    >>> mdp = random_mdp(6, 2, seed=0)
    >>> R = random_reward(mdp, seed=1)
    >>> round(worst_case_regret(R, -R, mdp), 8), round(worst_case_regret(R, 2 * R + 1, mdp), 8)
    (1.0, 0.0)
    >>> P = R + random_reward(mdp, seed=2)
    >>> bool(abs(worst_case_regret(P, R, mdp) - worst_case_regret(P, R, mdp, method="lp")) < 1e-8)
    True
    """
    mdp = as_mdp(mdp)
    check_choice(method, "method", WCR_METHODS)
    if getattr(mdp, "is_sparse", False):  # THEORY §11: parametric only
        from . import _sparse_regret
        return _sparse_regret.worst_case_regret(r_true, r_proxy, mdp, method=method,
                                                return_policies=return_policies)
    true = _single(r_true, mdp, "r_true")
    proxy = _single(r_proxy, mdp, "r_proxy")
    span = _range_from_expected(true, mdp)
    n, m = mdp.n_states, mdp.n_actions
    from .solve import state_action_occupancy

    if span.trivial:
        value, occ = 0.0, None
    else:
        proxy_span = _range_from_expected(proxy, mdp)
        if proxy_span.trivial:
            # regret's rule: every policy counts as optimal for the proxy, so every pair is
            # admissible and the best and worst policies of R_1 attain the maximum, 1
            value = 1.0
            occ = (state_action_occupancy(mdp, span.best_actions),
                   state_action_occupancy(mdp, span.worst_actions)) if return_policies else None
        else:
            a1 = _normalised_advantage(true, span, mdp)
            a2 = _normalised_advantage(proxy, proxy_span, mdp)
            if method == "lp":
                value, occ = _worst_case_lp(a1, a2, mdp, return_policies)
            else:
                value, occ = _worst_case_parametric(a1, a2, mdp, return_policies)
    if not return_policies:
        return value
    if occ is None:
        pi = np.full((n, m), 1.0 / m)
        occ = (state_action_occupancy(mdp, pi),) * 2
    return WorstCaseRegret.from_occupancies(value, occ[0], occ[1])


def _normalised_advantage(reward: _Expected, span: ValueRange, mdp: TabularMDP) -> np.ndarray:
    r"""The optimal advantage :math:`A^*(s,a) = Q^*(s,a) - V^*(s)` over the value range.

    :math:`A^* = \bar R + \gamma\tau V^* - V^*` is :math:`\bar R` shaped by the potential
    :math:`V^*`, so on every occupancy :math:`\langle A^*, d\rangle = J(\pi) - \mu_0 V^*`:
    returns move by one constant and both forms of the worst-case problem are unchanged.
    Unlike :math:`\bar R`, it carries no constant and no shaping, and divided by the
    range its returns span exactly :math:`[-1, 0]` — so a proxy whose range is a tiny
    fraction of its size (a constant or a shaping plus a small signal) gives an O(1)
    problem instead of a Lagrange multiplier of the size of that ratio and an LP whose
    constraint drowns in the solver's absolute tolerances.
    """
    adv = q_from_values(reward.rbar, span.best_values, mdp) - span.best_values[:, None]
    return adv / (span.hi - span.lo)


def _worst_case_lp(a1, a2, mdp, want_occupancies):
    n, m = mdp.n_states, mdp.n_actions
    problem, d1, d2, p1, p2 = _wcr_problem(mdp)
    # Costs divided by their largest magnitude: HiGHS's tolerances are absolute and it
    # reads numbers >= 1e20 as infinite. The value scales back by s1.
    s1 = float(np.max(np.abs(a1), initial=0.0))
    s2 = float(np.max(np.abs(a2), initial=0.0))
    p1.value = a1.ravel() / s1
    p2.value = a2.ravel() / s2
    solve_cvxpy(problem, _highs(), "worst_case_regret")
    value = float(np.clip(s1 * problem.value, 0.0, 1.0))
    return value, (d1.value.reshape(n, m), d2.value.reshape(n, m))


def _worst_case_parametric(rbar1, rbar2, mdp, want_occupancies):
    """The parametric search (:mod:`starc._parametric`) with the dense solvers."""
    from .solve import state_action_occupancy

    return parametric_worst_case(
        rbar1, rbar2, mdp.gamma, mdp.initial,
        optimal_actions=lambda r: policy_iteration(r, mdp)[0],
        values=lambda r, actions: deterministic_values(r, mdp, actions),
        occupancy=(lambda actions: state_action_occupancy(mdp, actions))
        if want_occupancies else None)


def _highs():
    import cvxpy as cp

    return cp.HIGHS


def occupancy_diameter(mdp: TabularMDP) -> float:
    r"""Exact :math:`D_\infty = \max_{\pi, \pi'} \|\eta^\pi - \eta^{\pi'}\|_\infty`.

    Since :math:`\eta^\pi(s,a,s') = d^\pi(s,a)\,\tau(s'|s,a)`,

    .. math::

        D_\infty = \max_{s,a}\; \max_{s'} \tau(s'|s,a)
                   \Big(\max_\pi d^\pi(s,a) - \min_\pi d^\pi(s,a)\Big),

    each inner extreme a linear program over the occupancy polytope (HiGHS via
    ``scipy.optimize.linprog``, :math:`2|S||A|` solves, cached per MDP).

    Parameters
    ----------
    mdp : TabularMDP

    Returns
    -------
    float
        At most :math:`1/(1-\gamma)`.

    References
    ----------
    .. [1] Puterman 1994, Sec. 6.9 (the occupancy polytope).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, occupancy_diameter
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> round(occupancy_diameter(TabularMDP(T, gamma=0.9, initial=[1.0, 0.0])), 8)
    10.0
    """
    mdp = as_mdp(mdp)
    if getattr(mdp, "is_sparse", False):
        raise ValidationError("occupancy_diameter solves 2 S A linear programs over dense "
                              "occupancy constraints; on a sparse MDP use the bound "
                              "2 / (1 - gamma) (regret_bound(..., tight=False))")
    return float((_occupancy_extremes(mdp) * mdp.transition.max(axis=-1)).max())


def _occupancy_extremes(mdp: TabularMDP) -> np.ndarray:
    """``max_pi d(s,a) - min_pi d(s,a)`` for every pair, by 2 S A linear programs."""
    return mdp.memo("occupancy_extremes", lambda: _occupancy_extremes_uncached(mdp))


def _occupancy_extremes_uncached(mdp: TabularMDP) -> np.ndarray:
    import warnings

    from scipy.optimize import OptimizeWarning, linprog

    from .exceptions import SolverError

    n, m = mdp.n_states, mdp.n_actions
    a_eq, b_eq = _occupancy_constraints(mdp)
    spread = np.zeros(n * m)
    silence_highs_banner()
    for i in range(n * m):
        c = np.zeros(n * m)
        c[i] = 1.0
        ends = []
        for sign in (1.0, -1.0):
            try:  # the data are O(1) already: a unit cost, the flow constraints, mu_0
                with warnings.catch_warnings():  # scipy flags the HiGHS-only option
                    warnings.simplefilter("ignore", OptimizeWarning)
                    res = linprog(sign * c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None),
                                  method="highs", options=HIGHS_OPTIONS)
            except Exception as err:  # noqa: BLE001 - every solver failure is a SolverError
                raise SolverError(f"occupancy_diameter: linprog (HiGHS) failed "
                                  f"({type(err).__name__}: {err})") from None
            if res.status != 0 or res.x is None or not np.all(np.isfinite(res.x)):
                raise SolverError(f"occupancy_diameter: linprog failed: {res.message}")
            ends.append(res.x[i])
        spread[i] = max(ends[1] - ends[0], 0.0)
    return spread.reshape(n, m)


def _dual_factor(mdp: TabularMDP, metric: str, tight: bool) -> float:
    """A certified upper bound on ||eta_1 - eta_2||_q over all policy pairs (q dual to metric)."""
    l1 = 2.0 / (1.0 - mdp.gamma)
    p = p_of(metric)
    inv_q = 1.0 - 1.0 / p if p != np.inf else 1.0  # 1/q
    if not tight or inv_q == 1.0:
        return l1
    if metric.startswith("weighted_"):
        d_inf = float(_occupancy_extremes(mdp).max())  # pairing against d(s, a)
    else:
        d_inf = occupancy_diameter(mdp)
    return l1 ** inv_q * d_inf ** (1.0 - inv_q)


def soundness_constant(r_true, mdp: TabularMDP, *, canonicalization="val", normalization="l2",
                       metric="l2", policy="uniform", tight: bool = False) -> float:
    r"""The factor :math:`U` with :math:`\operatorname{WCR}(R_1, R_2) \le U\, d(R_1, R_2)`.

    .. math::

        U(R_1) = \frac{n(c(R_1))\, B_q}{\max J_1 - \min J_1},
        \qquad B_q \ge \max_{\pi,\pi'} \|\eta^\pi - \eta^{\pi'}\|_q,

    with :math:`B_q = 2/(1-\gamma)`, or the exact-diameter bound when ``tight``. It holds
    for every proxy :math:`R_2`; the MDP-level constant of [1]_ (Def. 5) is its supremum
    over :math:`R_1`. Requires a canonicalization that preserves return differences
    (``"val"``, ``"minimal_l2"``, ``"minimal"``, ``"epic"``, ``"val_potential"``,
    ``"minimal_potential"``, ``"none"``), not ``"dard"``.

    Parameters
    ----------
    r_true : array_like of shape (S, A, S), (S, A) or (S,)
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
    canonicalization, normalization, metric, policy
        As in :func:`starc.starc_distance`.
    tight : bool, default False
        Use the exact occupancy diameter (:func:`occupancy_diameter`, LPs).

    Returns
    -------
    float
        ``inf`` when every policy has the same return under ``r_true`` but its canonical
        is not zero (unreachable states); 0 when the reward is trivial.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 5, Thm. 1 and its proof.

    Examples
    --------
    >>> from starc import random_mdp, random_reward, soundness_constant
    >>> mdp = random_mdp(8, 2, seed=0)
    >>> soundness_constant(random_reward(mdp, seed=1), mdp) > 0
    True
    """
    mdp = as_mdp(mdp)
    method, normalization, metric, pi, ds, da, mnorm = distance_options(
        mdp, canonicalization, normalization, metric, policy, None, None, None, None)
    if method == "dard":
        raise ValidationError("the soundness bound needs a canonicalization that preserves "
                              "return differences; 'dard' does not (its extra term is not "
                              "a potential)")
    if getattr(mdp, "is_sparse", False):  # THEORY §11
        from . import _sparse_regret
        return _sparse_regret.soundness_constant(r_true, mdp, method=method,
                                                 normalization=normalization, metric=metric,
                                                 pi=pi, tight=tight)
    r = broadcast_reward(r_true, mdp, name="r_true")
    if r.ndim != 3:
        raise ValidationError(f"r_true must be one reward, got a batch of shape {r.shape[:-3]}")
    # Work on R_1 / 2^e with max |R_1| / 2^e in [1/2, 1) (exact): n(c(R_1)) and the range
    # scale alike, so U is invariant — but for normalization=None, where U scales as 1/R_1.
    big = float(np.max(np.abs(r), initial=0.0))
    exponent = int(scale_exponents(big, always=True))
    r = np.ldexp(r, -exponent)
    span = _range_from_expected(
        _Expected(mdp.expectation(r),
                  float(expected_magnitude(r, mdp.transition))), mdp)
    if normalization is None:
        with np.errstate(over="ignore"):  # U > 1.8e308 for a subnormal R_1: inf
            scale = float(np.ldexp(1.0, -exponent))
    else:
        c = canonical_parts(r, mdp, method, pi=pi, state_dist=ds, action_dist=da, norm=mnorm)
        n = c.norm(normalization, mdp)
        if c.is_zero(normalization, mdp, n):
            return 0.0
        scale = float(n)
    if span.trivial:
        return np.inf
    return scale * _dual_factor(mdp, metric, tight) / (span.hi - span.lo)


def regret_bound(r_true, distance, mdp: TabularMDP, *, canonicalization="val",
                 normalization="l2", metric="l2", policy="uniform", tight: bool = False
                 ) -> float:
    r"""Certified upper bound on the worst-case regret of any proxy within ``distance``.

    .. math::

        \operatorname{WCR}(R_1, R_2) \le \min\big(1,\; U(R_1)\, d(R_1, R_2)\big)
        \quad\text{for every } R_2 \text{ with } d(R_1, R_2) \le \text{distance},

    :math:`U` from :func:`soundness_constant`.

    Parameters
    ----------
    r_true : array_like of shape (S, A, S), (S, A) or (S,)
    distance : float or array_like
        A STARC distance (or a batch of them), computed with the same options.
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
    canonicalization, normalization, metric, policy
        As in :func:`starc.starc_distance`.
    tight : bool, default False
        Use the exact occupancy diameter.

    Returns
    -------
    float or ndarray
        In ``[0, 1]``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Thm. 1 (soundness) and its proof.

    Examples
    --------
    >>> from starc import random_mdp, random_reward, starc_distance, regret_bound
    >>> from starc import worst_case_regret
    >>> mdp = random_mdp(8, 2, seed=0)
    >>> r1, r2 = random_reward(mdp, seed=1), random_reward(mdp, seed=2)
    >>> bound = regret_bound(r1, starc_distance(r1, r2, mdp), mdp)
    >>> bool(worst_case_regret(r1, r2, mdp) <= bound <= 1)
    True
    """
    d = as_float_array(distance, "distance")
    if np.any(d < 0):
        raise ValidationError("distance must be non-negative")
    u = soundness_constant(r_true, mdp, canonicalization=canonicalization,
                           normalization=normalization, metric=metric, policy=policy,
                           tight=tight)
    with np.errstate(invalid="ignore"):
        out = np.where(d == 0, 0.0, np.minimum(1.0, u * d)) if np.isfinite(u) else \
            np.where(d == 0, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def empirical_constants(regrets, distances) -> tuple[float, float]:
    r"""Observed :math:`L = \min \text{regret}/d` and :math:`U = \max \text{regret}/d`.

    Over pairs with :math:`d > 0`: the empirical completeness (:math:`L`) and soundness
    (:math:`U`) constants of [1]_ (Def. 5 and 6) on a sample of reward pairs.

    Parameters
    ----------
    regrets : array_like of shape (n,)
        Normalised regrets, in :math:`[0, 1]`.
    distances : array_like of shape (n,)
        Non-negative distances of the same pairs.

    Returns
    -------
    (float, float)

    Raises
    ------
    ValidationError
        Regrets outside :math:`[0, 1]`, negative distances, no positive distance, or a
        ratio beyond the float64 range (a distance at round-off level).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 5 and Def. 6.

    Examples
    --------
    >>> from starc import empirical_constants
    >>> empirical_constants([0.1, 0.4, 0.0], [0.2, 0.4, 0.0])
    (0.5, 1.0)
    """
    reg = as_float_array(regrets, "regrets", ndim=1)
    dist = as_float_array(distances, "distances", ndim=1)
    if reg.shape != dist.shape:
        raise ValidationError(f"regrets and distances must have the same shape, got "
                              f"{reg.shape} and {dist.shape}")
    if np.any(dist < 0):
        raise ValidationError("distances must be non-negative")
    if np.any((reg < 0) | (reg > 1)):
        raise ValidationError("regrets must be normalised regrets in [0, 1] (Def. 5), got "
                              f"values in [{reg.min():.3g}, {reg.max():.3g}]")
    keep = dist > 0
    if not np.any(keep):
        raise ValidationError("every distance is 0: the ratios regret/distance are undefined")
    with np.errstate(over="ignore"):
        ratio = reg[keep] / dist[keep]
    if not np.all(np.isfinite(ratio)):
        raise ValidationError(
            f"a ratio regret/distance exceeds the float64 range: distance "
            f"{dist[keep][~np.isfinite(ratio)][0]:.3g} is below round-off; leave out the "
            "pairs whose distance is zero up to round-off")
    return float(ratio.min()), float(ratio.max())
