r"""Regret on large sparse MDPs: exact policy iteration with sparse solves (private).

The definitions are those of :mod:`starc.regret` (THEORY §5, §11); only the linear
algebra changes. Every quantity is a function of the expected rewards
:math:`\bar R(s, a)` (``(S, A)``), the optimal values and a few policy evaluations:

* the value range :math:`[\min_\pi J, \max_\pi J]` takes two policy iterations, for
  :math:`\bar R` and :math:`-\bar R`; each evaluation solves
  :math:`(I - \gamma P_\pi) V = \bar R_\pi` with the sparse :math:`P_\pi` (rows
  :math:`sA + \pi(s)` of ``T``) by :func:`starc._sparse_linalg.solve` — sparse LU
  for moderate :math:`S`, BiCGSTAB with an SGS preconditioner above, accepted only with
  a residual that certifies the error (:math:`\|V - \hat V\|_\infty \le
  \|\text{residual}\|_\infty / (1 - \gamma)`); policy iteration is
  :func:`starc._sparse_linalg.policy_iteration` (on the Krylov path it starts with
  provisional, warm-started evaluations and certifies the last one); the
  minimising iteration starts from :math:`\arg\min_a Q^*`, the proxy's from
  :math:`\pi^*_1` (speed only) — or, on the Krylov path with two or more cores
  (:func:`concurrent`), the independent policy iterations of one call (the value
  range's two and the proxy's) run at once on threads, each from its greedy policy;
* :func:`regret` with ``ties="pessimistic"`` restricts the actions to those tied with the
  best under the proxy (round-off bound of :mod:`starc.regret`; the per-pair factor
  :math:`\|w_{sa}\|_1` takes one transposed sparse solve per pair in the doubt band) and
  solves the restricted MDP for :math:`-\bar R_1`;
* :func:`worst_case_regret` runs the parametric search of :mod:`starc._parametric` — the
  Lagrangian dual :math:`\min_{\lambda \ge 0} g(\lambda)` with :math:`g` the value range
  of :math:`A^*_1 - \lambda A^*_2` — which needs only policy iterations, so it carries
  over unchanged. The linear program over occupancies (``method="lp"``) has
  :math:`2SA` variables and is refused;
* :func:`regret_bound` is :math:`\min(1, 2\,n(c(R_1))\,d / ((1-\gamma)(\max J_1 -
  \min J_1)))`, with :math:`n(c(R_1))` from :mod:`starc._sparse_distances`; the
  ``tight`` variant needs :math:`2SA` linear programs and is refused.

Rewards are first restricted to the support of ``T`` and divided by a power of two that
brings their largest magnitude into :math:`[1/2, 1)` (exact), as in the dense code.

References
----------
.. [1] Skalse et al. "STARC". ICLR 2024, Def. 5, Thm. 1, Sec. 4.1.
.. [2] Puterman. "Markov Decision Processes". Wiley 1994, Sec. 6.4 (policy iteration).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from . import _sparse_distances as sd
from . import _sparse_linalg as sl
from . import _rules
from ._parametric import parametric_worst_case
from ._rules import TIE_BAND_BLOCK
from .exceptions import StarcError, ValidationError
from .regret import ValueRange, WorstCaseRegret, check_regret_gamma

__all__: list[str] = []


class Expected(NamedTuple):
    """``rbar (S, A)`` of the reward times ``2**-exponent``, and ``max_{s,a} E|R|`` of it."""

    rbar: np.ndarray
    magnitude: float
    exponent: int


def single(reward, mdp, name: str) -> Expected:
    """One reward on the support of ``T``, scaled by a power of two into ``[1/2, 1)``."""
    rw = sd.parse_rewards(reward, mdp, name)
    if rw.batch != ():
        raise ValidationError(f"{name} must be one reward ((S, A), (S,) or a sparse (S*A, S) "
                              f"matrix); got a batch of shape {rw.batch}")
    n, m = mdp.n_states, mdp.n_actions
    if rw.z[0] is None or not rw.z[0].nnz:
        # an (S, A) or (S,) reward (every row of T has support): its expectation is the
        # reward times T's row sums, as in starc.solve.expected_rewards, without reading T
        x = rw.x[0]
        exponent = _exponent(float(max(x.max(initial=0.0), -x.min(initial=0.0))))
        rbar = np.ldexp(x, -exponent) * sd.row_sums(mdp)
        return Expected(rbar, float(max(rbar.max(initial=0.0), -rbar.min(initial=0.0))),
                        exponent)
    t = mdp.transition
    rows = sd.t_rows(mdp)
    vals = rw.x[0].ravel()[rows] + sd.on_support(mdp, rw.z[0])
    exponent = _exponent(float(max(vals.max(initial=0.0), -vals.min(initial=0.0))))
    vals = np.ldexp(vals, -exponent)
    rbar = np.bincount(rows, t.data * vals, minlength=n * m).reshape(n, m)
    mag = float(np.bincount(rows, t.data * np.abs(vals), minlength=n * m).max(initial=0.0))
    return Expected(rbar, mag, exponent)


def _exponent(big: float) -> int:
    """The power of two ``e`` with ``2**-e * big`` in ``[1/2, 1)`` (0 when ``big`` is 0)."""
    return int(np.frexp(big)[1]) if big > 0.0 else 0


def values_of(rbar: np.ndarray, mdp, actions: np.ndarray, guess: np.ndarray | None = None
              ) -> np.ndarray:
    """:math:`V` of the deterministic policy ``actions``: one certified sparse solve
    (``guess``, an optional approximation of it, warm-starts the Krylov path)."""
    idx = np.arange(mdp.n_states)
    return sl.solve(mdp, actions, rbar[idx, actions], x0=guess, roundoff=True)[0]


def policy_iteration(rbar: np.ndarray, mdp, *, allowed: np.ndarray | None = None,
                     start: np.ndarray | None = None, max_iter: int = 10_000
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(actions, V)`` of Howard's policy iteration on ``rbar (S, A)``
    (:func:`starc._sparse_linalg.policy_iteration`, the one sparse policy iteration);
    ``allowed`` an optional ``(S, A)`` mask, ``start`` an optional first policy (speed
    only: the optimal values do not depend on it)."""
    actions, v, _, _ = sl.policy_iteration(mdp, rbar, allowed=allowed, start=start,
                                           max_iter=max_iter, roundoff=True)
    return actions, v


def concurrent(mdp) -> bool:
    """Whether the independent policy iterations of one call run on threads: on the
    Krylov path of policy iteration (:func:`starc._sparse_linalg.pi_lu_path`), whose
    sparse products and SGS sweeps release the GIL, and with at least two usable cores.
    The results do not depend on it beyond round-off (every policy iteration is
    certified; only their first policies differ)."""
    return not sl.pi_lu_path(mdp.n_states) and _usable_cores() >= 2


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run_all(tasks, parallel: bool) -> list:
    """Results of the argument-free callables ``tasks``, in order; on one thread each
    when ``parallel`` (an exception of any task is raised after all have finished)."""
    if not parallel or len(tasks) < 2:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(task) for task in tasks]
    return [f.result() for f in futures]


def value_range(reward: Expected, mdp, *, parallel: bool | None = None) -> ValueRange:
    r"""The :class:`~starc.regret.ValueRange` of ``reward``: policy iterations for
    :math:`\bar R` and :math:`-\bar R` — one after the other, the second started from
    :math:`\arg\min_a Q^*` (often close to the pessimal policy), or concurrently
    (:func:`concurrent`), both from their greedy policies."""
    check_regret_gamma(mdp.gamma, "regret")
    if parallel is None:
        parallel = concurrent(mdp)
    if parallel:
        (best, v_best), (worst, v_worst) = run_all(
            [lambda: policy_iteration(reward.rbar, mdp),
             lambda: policy_iteration(-reward.rbar, mdp)], True)
    else:
        best, v_best = policy_iteration(reward.rbar, mdp)
        greedy_worst = np.argmin(sd.q_from_values(reward.rbar, v_best, mdp), axis=1)
        worst, v_worst = policy_iteration(-reward.rbar, mdp, start=greedy_worst)
    return _range_of(reward, mdp, best, v_best, worst, v_worst)


def _range_of(reward: Expected, mdp, best, v_best, worst, v_worst) -> ValueRange:
    mu = np.asarray(mdp.initial)
    return ValueRange(-float(v_worst @ mu), float(v_best @ mu), best, v_best,
                      _rules.trivial_tolerance(reward.magnitude, mdp.gamma, _rules.REGRET_RTOL),
                      worst)


def policy_value_range(reward, mdp) -> tuple[float, float]:
    """:func:`starc.policy_value_range` on a sparse MDP."""
    rew = single(reward, mdp, "reward")
    return value_range(rew, mdp).unscaled(rew.exponent, mdp.gamma)


def _tie_bounds(magnitude: float, gamma: float, v: np.ndarray):
    """``(floor, worst, unit)`` of :mod:`starc.regret`'s round-off bound of a gap."""
    size = float(np.max(np.abs(v), initial=0.0))
    return _rules.tie_bounds(magnitude, gamma, size, _rules.TIE_RTOL)


def _same_rows(t, i: int, j: int) -> bool:
    a0, a1, b0, b1 = t.indptr[i], t.indptr[i + 1], t.indptr[j], t.indptr[j + 1]
    return (a1 - a0 == b1 - b0 and np.array_equal(t.indices[a0:a1], t.indices[b0:b1])
            and np.array_equal(t.data[a0:a1], t.data[b0:b1]))


def tie_masks(reward: Expected, mdp, actions: np.ndarray, v: np.ndarray):
    """``(allowed, doubtful)`` ``(S, A)`` masks, as :mod:`starc.regret` decides them."""
    n, m = mdp.n_states, mdp.n_actions
    t = mdp.transition
    q = sd.q_from_values(reward.rbar, v, mdp)
    best = np.argmax(q, axis=1)
    idx = np.arange(n)
    gap = q[idx, best][:, None] - q
    floor, worst, unit = _tie_bounds(reward.magnitude, mdp.gamma, v)
    limit = _rules.doubt_limit(reward.magnitude, _rules.REGRET_RTOL)
    allowed = gap <= floor
    doubtful = np.zeros_like(allowed)
    if floor > limit:
        for s, a in zip(*np.nonzero(allowed)):
            b = best[s]
            same = a == b or (reward.rbar[s, a] == reward.rbar[s, b]
                              and _same_rows(t, s * m + a, s * m + b))
            doubtful[s, a] = not same
    band_s, band_a = np.nonzero((gap > floor) & (gap <= worst))
    if band_s.size:
        for c0 in range(0, band_s.size, TIE_BAND_BLOCK):
            bs, ba = band_s[c0:c0 + TIE_BAND_BLOCK], band_a[c0:c0 + TIE_BAND_BLOCK]
            rhs = (t[bs * m + ba] - t[bs * m + best[bs]]).T.toarray()
            w, _ = sl.solve(mdp, actions, rhs, transposed=True, roundoff=True)
            bound = _rules.tie_bound(floor, unit, np.abs(w).sum(axis=0))
            tied = gap[bs, ba] <= bound
            allowed[bs[tied], ba[tied]] = True
            doubtful[bs[tied], ba[tied]] = _rules.in_doubt(bound[tied], limit)
    return allowed, doubtful


def _proxy_trivial(proxy: Expected, mdp, v_best: np.ndarray, error: float) -> bool:
    r"""Whether every policy has (nearly) the same return under the proxy: ``ValueRange.trivial``.

    ``v_best`` approximates :math:`V^*` within ``error`` in the sup norm. For the policy
    :math:`w` greedy for the *smallest* action value, :math:`V^w \le Q^*(\cdot, w)` gives
    :math:`J^* - J_w \ge \sum_s \mu(s)\,(V^*(s) - Q^*(s, w(s)))
    \ge \sum_s \mu(s) \max(0, v(s) - q(s, w(s)) - (1 + \gamma)\,\mathrm{error})`, with
    :math:`q` the action values of ``v_best``: when that exceeds the tolerance the proxy
    is non-trivial without a solve; else :math:`J_w` is evaluated (one solve), and only
    when :math:`J^* - J_w` is within the tolerance too is :math:`\min_\pi J` found by
    policy iteration (the dense path always runs it).
    """
    mu = np.asarray(mdp.initial)
    tol = _rules.trivial_tolerance(proxy.magnitude, mdp.gamma, _rules.REGRET_RTOL)
    hi = float(v_best @ mu)
    q = sd.q_from_values(proxy.rbar, v_best, mdp)
    greedy_worst = np.argmin(q, axis=1)
    gap = v_best - q[np.arange(mdp.n_states), greedy_worst] - (1.0 + mdp.gamma) * error
    if float(np.maximum(gap, 0.0) @ mu) > 2.0 * tol:
        return False
    if hi - float(values_of(proxy.rbar, mdp, greedy_worst) @ mu) > tol:
        return False
    _, v_worst = policy_iteration(-proxy.rbar, mdp)
    return _rules.is_trivial(-float(v_worst @ mu), hi, tol)


class _ProxyChoice(NamedTuple):
    """The proxy's side of a regret: its optimal actions ``best`` (S,) and, unless
    ``ties="first"``, the masks ``allowed`` and ``doubtful`` (S, A) of :func:`tie_masks`."""

    best: np.ndarray
    allowed: np.ndarray | None
    doubtful: np.ndarray | None


def _proxy_choice(proxy: Expected, mdp, ties: str, start) -> _ProxyChoice:
    """The proxy's optimal policy and tie masks (independent of the true reward);
    ``start``: a first policy for its policy iteration (speed only)."""
    if ties == "first":
        return _ProxyChoice(policy_iteration(proxy.rbar, mdp)[0], None, None)
    # V*_2 is unique: any first policy gives the same optimal values
    best, v_best, _, cert = sl.policy_iteration(mdp, proxy.rbar, start=start, roundoff=True)
    error = cert.bellman_residual / (1.0 - mdp.gamma)  # ||v_best - V*||_inf
    if _proxy_trivial(proxy, mdp, v_best, error):
        allowed = np.ones((mdp.n_states, mdp.n_actions), dtype=bool)
        return _ProxyChoice(best, allowed, np.zeros_like(allowed))
    return _ProxyChoice(best, *tie_masks(proxy, mdp, best, v_best))


def _proxy_return(true: Expected, mdp, ties: str, choice: _ProxyChoice,
                  guess: np.ndarray) -> tuple[float, bool]:
    r"""The return :math:`J_1(\pi)` under the true reward of the proxy-optimal policy
    :math:`\pi` that ``ties`` picks (the numerator of the regret). ``guess``: the true
    reward's optimal values :math:`V^*_1`, which warm-start the evaluations (a proxy
    close to the truth has a policy with values close to them; speed only). Returns
    ``(j, undecided)``: ``undecided`` when the return depends on ties float64 cannot
    decide."""
    mu = np.asarray(mdp.initial)
    if ties == "first":
        return float(values_of(true.rbar, mdp, choice.best, guess) @ mu), False
    sign = -1.0 if ties == "pessimistic" else 1.0
    allowed, doubtful = choice.allowed, choice.doubtful
    if np.all(np.count_nonzero(allowed, axis=1) == 1):
        # one allowed action per state (the proxy's): the restricted optimum is that
        # policy, and its values one evaluation
        v = values_of(sign * true.rbar, mdp, choice.best, sign * guess)
    else:
        _, v = policy_iteration(sign * true.rbar, mdp, allowed=allowed, start=choice.best)
    j = sign * float(v @ mu)
    if not np.any(doubtful):
        return j, False
    _, v_sure = policy_iteration(sign * true.rbar, mdp, allowed=allowed & ~doubtful)
    j_sure = sign * float(v_sure @ mu)
    _, worst, _ = _tie_bounds(true.magnitude, mdp.gamma, np.concatenate([v, v_sure]))
    return j, abs(j - j_sure) > worst


def regret(r_true, r_proxy, mdp, *, ties: str) -> float:
    """:func:`starc.regret` on a sparse MDP (``ties`` already checked).

    The value range of the true reward and the proxy's optimal policy and tie masks
    (:func:`_proxy_choice`) are independent: on large MDPs (:func:`concurrent`) their
    three policy iterations run at once, and the proxy's policy is evaluated under the
    true reward (:func:`_proxy_return`, warm-started from :math:`V^*_1`) while the
    minimising one may still run; otherwise in turn, the proxy's started from the true
    reward's optimal policy (a proxy close to the truth then needs few improvement
    steps).
    """
    true = single(r_true, mdp, "r_true")
    proxy = single(r_proxy, mdp, "r_proxy")
    check_regret_gamma(mdp.gamma, "regret")
    if concurrent(mdp):
        with ThreadPoolExecutor(max_workers=3) as pool:
            best_run = pool.submit(policy_iteration, true.rbar, mdp)
            worst_run = pool.submit(policy_iteration, -true.rbar, mdp)

            def proxy_side():
                try:
                    choice = _proxy_choice(proxy, mdp, ties, None)
                    # always the same warm start (deterministic): V*_1, when it is ready
                    return _proxy_return(true, mdp, ties, choice, best_run.result()[1])
                except StarcError as exc:  # raised below only if the true reward needs it
                    return exc

            side_run = pool.submit(proxy_side)
        (best, v_best), (worst, v_worst) = best_run.result(), worst_run.result()
        span = _range_of(true, mdp, best, v_best, worst, v_worst)
        if span.trivial:
            return 0.0
        side = side_run.result()
        if isinstance(side, StarcError):
            raise side
        j, undecided = side
    else:
        span = value_range(true, mdp, parallel=False)
        if span.trivial:
            return 0.0
        choice = _proxy_choice(proxy, mdp, ties, span.best_actions)
        j, undecided = _proxy_return(true, mdp, ties, choice, span.best_values)
    if undecided:
        raise ValidationError(
            f"gamma = {mdp.gamma!r} is too close to 1 for this pair: float64 cannot "
            "decide whether some actions are optimal for r_proxy, and the regret "
            "depends on it; use a smaller gamma")
    return float(_rules.regret_fraction(span.lo, span.hi, j))


def _normalised_advantage(reward: Expected, span: ValueRange, mdp) -> np.ndarray:
    adv = sd.q_from_values(reward.rbar, span.best_values, mdp) - span.best_values[:, None]
    return adv / (span.hi - span.lo)


def occupancy(mdp, pi: np.ndarray) -> np.ndarray:
    r"""State-action occupancy ``(S, A)`` of an ``(S, A)`` policy: a transposed solve."""
    d, _ = sl.solve(mdp, pi, np.asarray(mdp.initial), transposed=True, roundoff=True)
    return d[:, None] * pi


def _onehot(actions: np.ndarray, m: int) -> np.ndarray:
    out = np.zeros((actions.size, m))
    out[np.arange(actions.size), actions] = 1.0
    return out


def worst_case_regret(r_true, r_proxy, mdp, *, method: str, return_policies: bool):
    """:func:`starc.worst_case_regret` on a sparse MDP (``method`` already checked)."""
    if method == "lp":
        raise ValidationError(
            "worst_case_regret(method='lp') solves a linear program over two state-action "
            "occupancies (2 S A variables, a dense constraint matrix in cvxpy); on a sparse "
            "MDP use method='parametric' (the default: the same value by LP duality, from "
            "policy iterations only)")
    m = mdp.n_actions
    true = single(r_true, mdp, "r_true")
    proxy = single(r_proxy, mdp, "r_proxy")
    if concurrent(mdp):  # four policy iterations at once (the proxy's wasted if trivial)
        span, proxy_span = run_all([lambda: value_range(true, mdp, parallel=False),
                                    lambda: value_range(proxy, mdp, parallel=False)], True)
    else:
        span = value_range(true, mdp)
        proxy_span = None
    occ = None
    if span.trivial:
        value = 0.0
    else:
        if proxy_span is None:
            proxy_span = value_range(proxy, mdp)
        if proxy_span.trivial:
            value = 1.0
            if return_policies:
                occ = (occupancy(mdp, _onehot(span.best_actions, m)),
                       occupancy(mdp, _onehot(span.worst_actions, m)))
        else:
            a1 = _normalised_advantage(true, span, mdp)
            a2 = _normalised_advantage(proxy, proxy_span, mdp)
            value, occ = parametric_worst_case(
                a1, a2, mdp.gamma, np.asarray(mdp.initial),
                optimal_actions=lambda r: policy_iteration(r, mdp)[0],
                values=lambda r, actions: values_of(r, mdp, actions),
                occupancy=(lambda actions: occupancy(mdp, _onehot(actions, m)))
                if return_policies else None)
    if not return_policies:
        return value
    if occ is None:
        pi = np.full((mdp.n_states, m), 1.0 / m)
        occ = (occupancy(mdp, pi),) * 2
    return WorstCaseRegret.from_occupancies(value, occ[0], occ[1])


def soundness_constant(r_true, mdp, *, method: str, normalization, metric: str, pi,
                       tight: bool) -> float:
    """:func:`starc.soundness_constant` on a sparse MDP (options already checked)."""
    if tight:
        raise ValidationError("tight=True computes the occupancy diameter by 2 S A linear "
                              "programs; on a sparse MDP use tight=False (the bound "
                              "2/(1 - gamma) on ||eta_1 - eta_2||_q)")
    if method == "dard":
        raise ValidationError("the soundness bound needs a canonicalization that preserves "
                              "return differences; 'dard' does not (its extra term is not "
                              "a potential)")
    rw = sd.parse_rewards(r_true, mdp, "r_true")
    if rw.batch != ():
        raise ValidationError(f"r_true must be one reward, got a batch of shape {rw.batch}")
    big, _ = sd.magnitudes(rw, mdp)
    exponent = int(np.frexp(float(big[0]))[1]) if big[0] > 0 else 0
    rw = sd.rescaled(rw, np.array([exponent]))
    rbar = sd.expected(rw, mdp)[0]
    _, mag = sd.magnitudes(rw, mdp)
    span = value_range(Expected(rbar, float(mag[0]), 0), mdp)
    if normalization is None:
        with np.errstate(over="ignore"):
            scale = float(np.ldexp(1.0, -exponent))
    else:
        canon = sd.canonical(rw, mdp, method, pi=pi, state_dist=sd.uniform_states(mdp),
                             action_dist=sd.uniform_actions(mdp))
        # the reward is in [1/2, 1) already: the canonical comes back unscaled
        scale = float(sd.canonical_norm(canon.value, normalization, mdp)[0])
        if scale <= sd.ones_norm(mdp, normalization) * float(canon.noise[0]):
            return 0.0
    if span.trivial:
        return np.inf
    return scale * (2.0 / (1.0 - mdp.gamma)) / (span.hi - span.lo)
