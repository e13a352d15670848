r"""Exact aligned policies over a discrete set of responses.

For one prompt, a base policy :math:`\pi_0` over ``n`` candidate responses and a utility
:math:`u` over the same responses, this module computes the aligned policies that the
transforms and aggregations are meant to drive, exactly:

* the KL-regularised optimum (the *KL tilt*) [1]_ [2]_

  .. math::

      \pi_\gamma = \arg\max_\pi\; \mathbb E_\pi[u] - \gamma\, \mathrm{KL}(\pi \,\|\, \pi_0),
      \qquad \pi_\gamma(y) = \frac{\pi_0(y)\, e^{u(y)/\gamma}}{\sum_{y'} \pi_0(y')\,
      e^{u(y')/\gamma}};

* the best-of-:math:`n` policy (draw :math:`n` responses from :math:`\pi_0`, keep the one of
  highest reward) with its exact distribution, ties included, and the classical KL formula
  :math:`\log n - (n-1)/n` [3]_ [4]_;
* win rates against a reference policy under a true reward, and a sweep of the tilt
  over :math:`\gamma` that reads any policy statistic off at prescribed KL values, so that
  different utilities are compared at *equal KL* from :math:`\pi_0` [1]_.

Axes: base policies, utilities and policies have shape ``(..., n)``: the responses are
on the last axis, any prompt/batch axes come first. Base policies are passed as
log-probabilities ``logp0`` (``-inf`` for responses of probability zero), returned
policies as probabilities.

References
----------
.. [1] Wang et al. "Transforming and Combining Rewards for Aligning Large Language
   Models". ICML 2024, arXiv 2402.00742, Sec. 2-3 (the KL-regularised objective and
   its optimum) and Sec. 5 (comparisons at equal KL).
.. [2] Rafailov et al. "Direct Preference Optimization". NeurIPS 2023, arXiv 2305.18290,
   Eq. 4 (closed form of the KL-regularised optimum).
.. [3] Stiennon et al. "Learning to summarize from human feedback". NeurIPS 2020,
   arXiv 2009.01325 (best-of-n and its KL :math:`\log n - (n-1)/n`).
.. [4] Beirami et al. "Theoretical guarantees on the best-of-n alignment policy".
   arXiv 2401.01879, 2024 (the formula is an upper bound on the exact KL).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from .._extremes import scale_exponent
from .._validation import (as_float_array, as_log_probs, check_choice, check_memory,
                           check_positive_int, check_real)
from ..exceptions import ValidationError
from ._common import as_probs, broadcast_all, broadcast_pair, prefix_and_tail, tie_groups

__all__ = [
    "kl_tilted_policy", "exponential_tilt", "kl_divergence", "best_of_n_policy", "best_of_n_kl",
    "win_probability", "win_rate", "kl_sweep", "KLSweep", "compare_at_equal_kl",
    "WIN_MODELS",
]

#: Names accepted by ``model`` in :func:`win_probability` and :func:`win_rate`.
WIN_MODELS = ("hard", "bradley_terry")


def _check_gamma(gamma) -> np.ndarray:
    """Temperatures of the KL tilt: finite and > 0 (a scalar or an array)."""
    if isinstance(gamma, bool):
        raise ValidationError(f"gamma must be a real number > 0, got {gamma!r}")
    g = as_float_array(gamma, "gamma")
    if np.any(g <= 0):
        raise ValidationError(
            f"gamma must be > 0 (the KL-regularisation strength); got {float(g.min())!r}. "
            "gamma -> 0 is the argmax policy, gamma -> inf the base policy")
    return g


def _tilt(logp0: np.ndarray, u: np.ndarray, beta):
    """Policy and KL of the tilt ``pi ∝ pi0 exp(beta u)``; ``beta`` >= 0, shape (..., 1).

    ``u`` is shifted by its maximum over the support of ``pi0`` first, so ``beta * u``
    cannot overflow; entries outside the support (``logp0 = -inf``) get probability 0.
    """
    from scipy.special import logsumexp

    beta = np.asarray(beta, dtype=np.float64)
    if np.all(beta == 0):
        shape = np.broadcast_shapes(logp0.shape, u.shape, beta.shape)
        return np.broadcast_to(np.exp(logp0), shape).copy(), np.zeros(shape[:-1])
    support = np.isfinite(logp0)
    u_max = np.max(np.where(support, u, -np.inf), axis=-1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.where(support, u - u_max, 0.0)       # <= 0 on the support (-inf on overflow)
        bd = np.where(d == 0, 0.0, beta * d)         # 0 at the argmax even if beta = inf
        a = np.where(support, logp0 + bd, -np.inf)
    log_z = logsumexp(a, axis=-1, keepdims=True)     # finite: the argmax term is finite
    pi = np.exp(a - log_z)
    with np.errstate(invalid="ignore"):
        terms = np.where(pi > 0, pi * (bd - log_z), 0.0)
    kl = np.sum(terms, axis=-1)
    return pi, np.maximum(kl, 0.0)


def exponential_tilt(logp0, u, beta) -> tuple[np.ndarray, np.ndarray]:
    r"""The exponential tilt :math:`\pi_\beta \propto \pi_0 e^{\beta u}` and its KL, in one pass.

    .. math::

        \pi_\beta(y) = \frac{\pi_0(y)\, e^{\beta u(y)}}{Z_\beta}, \qquad
        \mathrm{KL}(\pi_\beta \,\|\, \pi_0) = \beta\, \mathbb E_{\pi_\beta}[u] - \log Z_\beta,
        \qquad Z_\beta = \sum_{y'} \pi_0(y')\, e^{\beta u(y')}.

    :func:`kl_tilted_policy` with :math:`\beta = 1/\gamma`, for callers that hold
    normalised log-probabilities already and need the KL of every tilt as well (a sweep
    over temperatures, the overoptimization table of :mod:`starc.bandit`). :math:`u` is
    shifted by its maximum over the support of :math:`\pi_0` first, so
    :math:`\beta u` cannot overflow; :math:`\beta = 0` is :math:`\pi_0`,
    :math:`\beta = \infty` the base policy conditioned on the argmax set of :math:`u`.

    Parameters
    ----------
    logp0 : array_like of shape (..., n)
        Base-policy log-probabilities, normalised along the last axis (within
        ``1e-10`` in probability); ``-inf`` for responses of probability zero.
    u : array_like of shape (..., n)
        Finite utilities; broadcast against ``logp0``.
    beta : float or array_like of shape (...)
        Inverse temperatures, ``>= 0`` (``inf`` allowed); one per row.

    Returns
    -------
    pi : ndarray of shape (..., n)
        The tilted policies; zero outside the support of :math:`\pi_0`.
    kl : ndarray of shape (...)
        :math:`\mathrm{KL}(\pi_\beta \| \pi_0) \ge 0` per row.

    Raises
    ------
    ValidationError
        For NaN or ``+inf`` in ``logp0``, a row that is not normalised or has no finite
        entry, non-finite utilities, a negative or NaN ``beta``, or shapes that do not
        broadcast.

    References
    ----------
    .. [1] Rafailov et al. "Direct Preference Optimization". NeurIPS 2023, arXiv
       2305.18290, Eq. 4 (closed form of the KL-regularised optimum).
    .. [2] Wang et al. 2024, arXiv 2402.00742, Sec. 2-3.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import exponential_tilt
    >>> pi, kl = exponential_tilt(np.log([0.5, 0.5]), [0.0, np.log(3.0)], 1.0)
    >>> pi, round(float(kl), 6)          # pi = (1, 3) / 4; KL = log(1/2)/4 + 3 log(3/2)/4
    (array([0.25, 0.75]), 0.130812)
    """
    from scipy.special import logsumexp

    from .._rules import STOCHASTIC_ATOL

    lp = as_float_array(logp0, "logp0", min_ndim=1, allow_nonfinite=True)
    if np.any(np.isnan(lp)) or np.any(lp == np.inf):
        raise ValidationError("logp0 must hold log-probabilities: finite or -inf, never NaN "
                              "or +inf")
    if lp.shape[-1] == 0 or not np.all(np.isfinite(lp).any(axis=-1)):
        raise ValidationError(f"logp0 needs at least one response of positive probability "
                              f"in every row, got shape {lp.shape}")
    with np.errstate(over="ignore"):
        mass = np.exp(logsumexp(lp, axis=-1))
    if np.any(np.abs(mass - 1.0) > STOCHASTIC_ATOL):
        raise ValidationError(
            f"logp0 must be normalised along its last axis (probabilities summing to 1 "
            f"within {STOCHASTIC_ATOL:g}); a row sums to "
            f"{float(mass.flat[int(np.argmax(np.abs(mass - 1.0)))])!r}. Subtract "
            "scipy.special.logsumexp(logp0, axis=-1, keepdims=True) first, or use "
            "kl_tilted_policy")
    uu = as_float_array(u, "u", min_ndim=1)
    b = as_float_array(beta, "beta", allow_nonfinite=True)
    if np.any(np.isnan(b)) or np.any(b < 0):
        raise ValidationError("beta must be >= 0 (inf allowed: the argmax policy), got "
                              f"{beta!r}")
    lp, uu, bb = broadcast_all({"logp0": lp, "u": uu, "beta[..., None]": b[..., None]})
    return _tilt(lp, uu, bb)


def kl_tilted_policy(logp0, u, gamma) -> np.ndarray:
    r"""The KL-regularised optimum :math:`\pi_\gamma \propto \pi_0\, e^{u/\gamma}`.

    .. math::

        \pi_\gamma(y) = \frac{\pi_0(y) \exp(u(y)/\gamma)}{\sum_{y'} \pi_0(y')
        \exp(u(y')/\gamma)}
        = \arg\max_\pi \;\mathbb E_{y \sim \pi}[u(y)] - \gamma\,
        \mathrm{KL}(\pi \,\|\, \pi_0),

    computed in log space (``logsumexp``), so any utility scale is safe. With the LSC sum
    as utility and :math:`\gamma = 1` this is :math:`\pi_0` conditioned on every property
    being good.

    Parameters
    ----------
    logp0 : array_like of shape (..., n)
        Log-probabilities of the base policy; ``-inf`` for responses it never produces.
        Rows are normalised (``logp0 - logsumexp(logp0)``), so log-weights work too.
    u : array_like of shape (..., n)
        Utilities, broadcastable against ``logp0``; finite.
    gamma : float or array_like of shape (...)
        KL-regularisation strength, > 0. An array is broadcast against the batch axes
        (``gamma[..., None]`` against ``(..., n)``), so ``gamma`` of shape ``(G,)`` with
        1-D ``logp0`` gives the ``G`` policies of a sweep.

    Returns
    -------
    ndarray of shape (..., n)
        Probabilities; each row sums to 1.

    Raises
    ------
    ValidationError
        For ``gamma <= 0``, NaN anywhere, ``+inf`` in ``logp0``, inf in ``u``, a row of
        ``logp0`` without a finite entry, or shapes that do not broadcast.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 2 (the optimum of the KL-regularised
       objective) and Sec. 3 (:math:`\gamma = 1` and conditioning on "good").
    .. [2] Rafailov et al. 2023, arXiv 2305.18290, Eq. 4.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import kl_tilted_policy
    >>> logp0 = np.log([0.5, 0.25, 0.25])
    >>> kl_tilted_policy(logp0, [0.0, 0.0, np.log(2.0)], gamma=1.0)
    array([0.4, 0.2, 0.4])
    >>> kl_tilted_policy(logp0, [0.0, 1.0, 0.0], gamma=[1e9, 1e-9]).round(6)
    array([[0.5 , 0.25, 0.25],
           [0.  , 1.  , 0.  ]])
    """
    lp = as_log_probs(logp0, "logp0")
    uu = as_float_array(u, "u", min_ndim=1)
    g = _check_gamma(gamma)
    lp, uu, gg = broadcast_all({"logp0": lp, "u": uu, "gamma[..., None]": g[..., None]})
    with np.errstate(over="ignore"):
        beta = 1.0 / gg  # inf for subnormal gamma: the argmax policy
    pi, _ = _tilt(lp, uu, beta)
    return pi


def kl_divergence(p, q) -> np.ndarray:
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(p \,\|\, q)` along the last axis.

    .. math::

        \mathrm{KL}(p \,\|\, q) = \sum_y p(y) \log \frac{p(y)}{q(y)},

    with :math:`0 \log(0/q) = 0`, and :math:`+\infty` when some :math:`p(y) > 0 = q(y)`
    (``scipy.special.rel_entr``).

    Parameters
    ----------
    p, q : array_like of shape (..., n)
        Distributions over the last axis (non-negative, summing to 1 within 1e-10),
        broadcastable against each other.

    Returns
    -------
    float or ndarray of shape (...)
        In :math:`[0, +\infty]`.

    Raises
    ------
    ValidationError
        For negative entries, rows that do not sum to 1, NaN/inf, or shapes that do not
        broadcast.

    References
    ----------
    .. [1] Kullback and Leibler. "On information and sufficiency". Ann. Math. Statist.
       22(1), 1951.

    Examples
    --------
    >>> from starc.transforms import kl_divergence
    >>> round(float(kl_divergence([0.5, 0.5], [0.25, 0.75])), 6)
    0.143841
    >>> float(kl_divergence([0.5, 0.5], [1.0, 0.0]))
    inf
    """
    pp = as_probs(p, "p")
    qq = as_probs(q, "q")
    pp, qq = broadcast_pair(pp, qq, "p", "q")
    from scipy.special import rel_entr

    out = np.sum(rel_entr(pp, qq), axis=-1)
    out = np.maximum(out, 0.0)
    return float(out) if out.ndim == 0 else out


def best_of_n_policy(logp0, r, n: int) -> np.ndarray:
    r"""Exact distribution of the best-of-:math:`n` response, ties included.

    Draw :math:`n` responses i.i.d. from :math:`\pi_0` and return one of highest reward
    :math:`r`, choosing uniformly among the draws that tie for the highest reward. With
    :math:`F(v) = \pi_0(r(Y) \le v)` and :math:`F^-(v) = \pi_0(r(Y) < v)`, a response
    :math:`y` of reward :math:`v = r(y)` is returned with probability

    .. math::

        \pi_n(y) = \frac{\pi_0(y)}{F(v) - F^-(v)}\,\big(F(v)^n - F^-(v)^n\big),

    since the highest reward drawn is :math:`v` with probability :math:`F(v)^n - F^-(v)^n`
    and, given that, the kept draw is distributed as :math:`\pi_0` restricted to
    :math:`\{r = v\}`. Differences of powers are evaluated as
    :math:`e^{a}(1 - e^{b - a})` with ``log1p``/``expm1`` on upper tail sums, so tiny
    probabilities at the top keep full relative precision.

    Only the order of ``r`` matters: the result is unchanged by any strictly increasing
    transform of the rewards.

    Parameters
    ----------
    logp0 : array_like of shape (..., m)
        Log-probabilities of the base policy over ``m`` responses (``-inf`` allowed).
    r : array_like of shape (..., m)
        Rewards used to pick the best draw, broadcastable against ``logp0``.
    n : int
        Number of draws, >= 1 (``n = 1`` returns :math:`\pi_0`).

    Returns
    -------
    ndarray of shape (..., m)
        Probabilities; each row sums to 1.

    Raises
    ------
    ValidationError
        For ``n < 1`` or non-integer ``n``, NaN/inf rewards, invalid ``logp0``, or shapes
        that do not broadcast.

    References
    ----------
    .. [1] Beirami et al. 2024, "Theoretical guarantees on the best-of-n alignment
       policy", arXiv 2401.01879, Sec. 2 (the best-of-n distribution).
    .. [2] Stiennon et al. 2020, arXiv 2009.01325.

    Examples
    --------
    Four equally likely responses; best-of-2 keeps the top one with probability
    :math:`1 - (3/4)^2`:

    >>> import numpy as np
    >>> from starc.transforms import best_of_n_policy
    >>> best_of_n_policy(np.log(np.full(4, 0.25)), [0.0, 1.0, 2.0, 3.0], n=2)
    array([0.0625, 0.1875, 0.3125, 0.4375])

    Two responses tied at the top share the mass :math:`1 - (1/2)^2`:

    >>> best_of_n_policy(np.log(np.full(4, 0.25)), [0.0, 1.0, 3.0, 3.0], n=2)
    array([0.0625, 0.1875, 0.375 , 0.375 ])
    """
    lp = as_log_probs(logp0, "logp0")
    rr = as_float_array(r, "r", min_ndim=1)
    n = check_positive_int(n, "n")
    lp, rr = broadcast_pair(lp, rr, "logp0", "r")
    shape = lp.shape
    m = shape[-1]
    p0 = np.exp(lp).reshape(-1, m)
    rr = rr.reshape(-1, m)
    order = np.argsort(rr, axis=-1, kind="stable")
    rs = np.take_along_axis(rr, order, axis=-1)
    ps = np.take_along_axis(p0, order, axis=-1)
    start, end = tie_groups(rs)
    head, tail = prefix_and_tail(ps)
    s_ge = np.clip(np.take_along_axis(tail, start, axis=-1), 0.0, 1.0)  # P(r >= v)
    s_gt = np.clip(np.take_along_axis(tail, end, axis=-1), 0.0, 1.0)    # P(r > v)
    mass_tail = s_ge - s_gt
    mass_head = np.take_along_axis(head, end, axis=-1) - np.take_along_axis(head, start, axis=-1)
    mass = np.where(s_ge < 0.5, mass_tail, mass_head)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = n * np.log1p(-s_gt)   # log F(v)^n
        b = n * np.log1p(-s_ge)   # log F^-(v)^n
        group = np.exp(a) * -np.expm1(b - a)
        group = np.where(np.isfinite(a) & (mass > 0), group, 0.0)
        share = np.where(mass > 0, ps / np.where(mass > 0, mass, 1.0), 0.0)
    pi_sorted = np.clip(share * group, 0.0, None)
    pi_sorted /= pi_sorted.sum(axis=-1, keepdims=True)
    out = np.empty_like(pi_sorted)
    np.put_along_axis(out, order, pi_sorted, axis=-1)
    return out.reshape(shape)


def best_of_n_kl(n: int) -> float:
    r"""The best-of-:math:`n` KL formula :math:`\log n - (n-1)/n`.

    .. math::

        \mathrm{KL}(\pi_n \,\|\, \pi_0) \le \log n - \frac{n - 1}{n},

    with equality in the limit of a continuum of distinct rewards (no response carrying
    positive mass). The exact KL of a discrete best-of-:math:`n` policy is
    ``kl_divergence(best_of_n_policy(logp0, r, n), np.exp(logp0))``.

    Parameters
    ----------
    n : int
        Number of draws, >= 1.

    Returns
    -------
    float

    Raises
    ------
    ValidationError
        For ``n < 1`` or a non-integer ``n``.

    References
    ----------
    .. [1] Stiennon et al. 2020, arXiv 2009.01325, App. (KL of best-of-n).
    .. [2] Beirami et al. 2024, arXiv 2401.01879, Thm. 1 (an upper bound).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import best_of_n_kl
    >>> best_of_n_kl(1)
    0.0
    >>> bool(np.isclose(best_of_n_kl(4), np.log(4) - 0.75))
    True
    """
    n = check_positive_int(n, "n")
    return float(np.log(n) - (n - 1) / n)


def _win_probability(r: np.ndarray, ref: np.ndarray, model: str) -> np.ndarray:
    m = r.shape[-1]
    rr = r.reshape(-1, m)
    qq = ref.reshape(-1, m)
    if model == "hard":
        order = np.argsort(rr, axis=-1, kind="stable")
        rs = np.take_along_axis(rr, order, axis=-1)
        qs = np.take_along_axis(qq, order, axis=-1)
        start, end = tie_groups(rs)
        head, _ = prefix_and_tail(qs)
        below = np.take_along_axis(head, start, axis=-1)
        upto = np.take_along_axis(head, end, axis=-1)
        w_sorted = below + 0.5 * (upto - below)
        out = np.empty_like(w_sorted)
        np.put_along_axis(out, order, w_sorted, axis=-1)
        return out.reshape(r.shape)
    from scipy.special import expit

    out = np.empty_like(rr)
    chunk = max(1, (1 << 22) // max(m, 1))  # ~32 MiB of pairwise temporaries
    for i in range(rr.shape[0]):
        for lo in range(0, m, chunk):
            hi = min(m, lo + chunk)
            out[i, lo:hi] = expit(rr[i, lo:hi, None] - rr[i, None, :]) @ qq[i]
    return out.reshape(r.shape)


def win_probability(r, reference, *, model: str = "hard") -> np.ndarray:
    r"""Probability that each response beats a draw from a reference policy.

    .. math::

        w(y) = \sum_{y'} \rho(y') \Big[\mathbf 1\{r(y) > r(y')\}
               + \tfrac12 \mathbf 1\{r(y) = r(y')\}\Big]
        \quad\text{(hard)}, \qquad
        w(y) = \sum_{y'} \rho(y')\, \sigma\big(r(y) - r(y')\big)
        \quad\text{(Bradley-Terry)}.

    The win rate of a policy is linear in it, :math:`\mathrm{WR}(\pi) = \sum_y \pi(y) w(y)`
    (:func:`win_rate`), which is what lets :func:`kl_sweep` report win rates.

    Parameters
    ----------
    r : array_like of shape (..., n)
        True rewards of the responses.
    reference : array_like of shape (..., n)
        The reference policy :math:`\rho` (probabilities), often the base policy.
    model : {"hard", "bradley_terry"}
        Deterministic comparison with ties counted as half a win (:math:`O(n \log n)`),
        or the Bradley-Terry probability (:math:`O(n^2)`, in chunks).

    Returns
    -------
    ndarray of shape (..., n)
        Values in [0, 1].

    Raises
    ------
    ValidationError
        For NaN/inf, a reference that is not a distribution, an unknown ``model``, or
        shapes that do not broadcast.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 5 (win rate against the base policy
       as the evaluation).

    Examples
    --------
    >>> from starc.transforms import win_probability
    >>> win_probability([0.0, 1.0, 1.0, 2.0], [0.25, 0.25, 0.25, 0.25])
    array([0.125, 0.5  , 0.5  , 0.875])
    """
    rr = as_float_array(r, "r", min_ndim=1)
    ref = as_probs(reference, "reference")
    model = check_choice(model, "win-rate model", WIN_MODELS)
    rr, ref = broadcast_pair(rr, ref, "r", "reference")
    return _win_probability(np.ascontiguousarray(rr), np.ascontiguousarray(ref), model)


def win_rate(policy, reference, r, *, model: str = "hard") -> np.ndarray:
    r"""Probability that a response from ``policy`` beats one from ``reference``.

    .. math::

        \mathrm{WR}(\pi, \rho) = \Pr_{Y \sim \pi,\, Y' \sim \rho}\big(r(Y) > r(Y')\big)
        + \tfrac12 \Pr\big(r(Y) = r(Y')\big)

    (``model="hard"``), or :math:`\mathbb E[\sigma(r(Y) - r(Y'))]` (``"bradley_terry"``).
    :math:`\mathrm{WR}(\pi, \pi) = 1/2` for every :math:`\pi`.

    Parameters
    ----------
    policy, reference : array_like of shape (..., n)
        Distributions over the ``n`` responses.
    r : array_like of shape (..., n)
        True rewards.
    model : {"hard", "bradley_terry"}
        See :func:`win_probability`.

    Returns
    -------
    float or ndarray of shape (...)

    Raises
    ------
    ValidationError
        As :func:`win_probability`, and for a ``policy`` that is not a distribution.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 5.
    .. [2] Beirami et al. 2024, arXiv 2401.01879 (best-of-n win rate
       :math:`n/(n+1)` against the base policy for distinct rewards).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import best_of_n_policy, win_rate
    >>> p0 = np.full(1000, 1e-3)
    >>> r = np.arange(1000.0)
    >>> round(float(win_rate(best_of_n_policy(np.log(p0), r, 3), p0, r)), 3)   # ~ 3/4
    0.75
    """
    pol = as_probs(policy, "policy")
    w = win_probability(r, reference, model=model)
    pol, w = broadcast_pair(pol, w, "policy", "win probabilities")
    out = np.sum(pol * w, axis=-1)
    return float(out) if out.ndim == 0 else out


@dataclasses.dataclass(frozen=True)
class KLSweep:
    r"""Result of :func:`kl_sweep`: a tilt statistic read off at prescribed KL values.

    Attributes
    ----------
    kl : ndarray of shape (k,)
        The requested KL values (mean over prompts of :math:`\mathrm{KL}(\pi_\gamma \|
        \pi_0)`).
    gamma : ndarray of shape (k,)
        The KL-regularisation strength reaching each KL (interpolated in
        :math:`\log\gamma`; ``inf`` at KL 0).
    value : ndarray of shape (k,)
        :math:`\mathbb E_{\pi_\gamma}[\text{target}]` averaged over prompts, at each KL.
    kl_max : float
        The supremum of reachable KL: :math:`-\log \pi_0(\arg\max u)` averaged over
        prompts, reached as :math:`\gamma \to 0`.
    """

    kl: np.ndarray
    gamma: np.ndarray
    value: np.ndarray
    kl_max: float

    def __post_init__(self):
        kl = _as_kl_grid(self.kl)
        gamma = as_float_array(self.gamma, "gamma", ndim=1, allow_nonfinite=True)
        value = as_float_array(self.value, "value", ndim=1)
        if gamma.shape != kl.shape or value.shape != kl.shape:
            raise ValidationError(f"kl, gamma and value must have one shape (k,), got "
                                  f"{kl.shape}, {gamma.shape} and {value.shape}")
        ok = (gamma > 0) & (np.isfinite(gamma) | (kl == 0))  # nan fails both
        if not np.all(ok):
            raise ValidationError("gamma must be finite and > 0 (inf only at KL 0), got "
                                  f"{gamma[~ok][:3]}")
        kl_max = check_real(self.kl_max, "kl_max", low=0.0)
        for name, arr in (("kl", kl), ("gamma", gamma), ("value", value), ("kl_max", kl_max)):
            object.__setattr__(self, name, arr)


def _as_kl_grid(kl) -> np.ndarray:
    grid = as_float_array(kl, "kl", min_ndim=0)
    grid = np.atleast_1d(grid)
    if grid.ndim != 1 or grid.size == 0:
        raise ValidationError(f"kl must be a non-empty 1-D array of KL values, got shape "
                              f"{grid.shape}")
    if np.any(grid < 0):
        raise ValidationError(f"kl values must be >= 0, got {float(grid.min())!r}")
    return grid


def _as_prompt_weights(weights, shape: tuple[int, ...]):
    """Prompt weights of shape ``shape`` (the batch axes): non-negative, summing to 1."""
    from .._rules import WEIGHT_RTOL

    w = as_float_array(weights, "weights")
    if w.shape != shape:
        raise ValidationError(f"weights must have the shape of the prompt axes {shape} (one "
                              f"weight per prompt), got shape {w.shape}")
    if np.any(w < 0):
        raise ValidationError(f"weights has a negative entry {float(w.min()):.3g}; prompt "
                              "weights must be >= 0")
    total = float(w.sum())
    if abs(total - 1.0) > WEIGHT_RTOL:  # the rule of starc.bandit's prompt weights
        raise ValidationError(f"weights must sum to 1, got {total!r}; normalise them first, "
                              "e.g. w / w.sum()")
    return w


def kl_sweep(logp0, u, kl, *, target=None, n_points: int = 128,
             refine: bool = True, weights=None) -> KLSweep:
    r"""Sweep the KL tilt over :math:`\gamma` and read a statistic off at given KL values.

    The tilt :math:`\pi_\beta \propto \pi_0 e^{\beta u}` (:math:`\beta = 1/\gamma`) has

    .. math::

        \mathrm{KL}(\pi_\beta \,\|\, \pi_0) = \beta\, \mathbb E_{\pi_\beta}[u] - \log Z(\beta),
        \qquad \frac{d}{d\beta}\mathrm{KL} = \beta \operatorname{Var}_{\pi_\beta}(u) \ge 0,

    increasing from 0 at :math:`\beta = 0` to :math:`-\log \pi_0(\arg\max u)` as
    :math:`\beta \to \infty`. The sweep evaluates the tilt on ``n_points`` geometrically
    spaced :math:`\beta` (plus :math:`\beta = 0`) covering the requested KL range and
    interpolates :math:`\log\beta` and :math:`\mathbb E_{\pi_\beta}[\text{target}]`
    linearly against the KL. With ``refine=True`` (the default) each interpolated
    :math:`\beta` is then polished by a safeguarded Newton iteration on
    :math:`\log\beta` inside its grid bracket, using the derivative above, until the KL
    matches to :math:`10^{-11}` relative, and the statistic is evaluated at that exact
    tilt. Over several prompts (leading axes) one :math:`\gamma` is shared and both the
    KL and the statistic are averaged over prompts, as in RLHF with one KL coefficient:
    uniformly, or with the prompt weights :math:`\mu` given as ``weights``
    (:math:`\sum_x \mu(x)\, \mathrm{KL}_x` and :math:`\sum_x \mu(x)\,
    \mathbb E_{\pi_x}[\text{target}]`).

    Parameters
    ----------
    logp0 : array_like of shape (..., n)
        Base-policy log-probabilities (``-inf`` allowed).
    u : array_like of shape (..., n)
        The utility that is tilted towards.
    kl : array_like of shape (k,)
        KL values (nats) at which to report; each in :math:`[0, \mathrm{kl\_max})`.
    target : array_like of shape (..., n), optional
        Per-response quantity whose expectation is reported (e.g. ``p_all_good(R)`` or
        ``win_probability(r_true, np.exp(logp0))``); ``u`` itself when omitted.
    n_points : int
        Number of :math:`\beta` grid points, >= 8.
    refine : bool
        Polish each point to the exact KL (otherwise: linear interpolation only).
    weights : array_like of shape (...), optional
        Prompt weights :math:`\mu` over the leading (prompt) axes of the broadcast inputs:
        non-negative, summing to 1. ``None`` averages the prompts uniformly.

    Returns
    -------
    KLSweep
        ``kl``, ``gamma``, ``value`` and ``kl_max``.

    Raises
    ------
    ValidationError
        For invalid inputs, negative KL values, or a KL value that no tilt reaches
        (>= ``kl_max``).

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 5 (win rate against KL, comparing
       transforms at equal KL).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import kl_sweep
    >>> logp0 = np.log(np.full(100, 0.01))
    >>> u = np.linspace(-1.0, 1.0, 100)
    >>> res = kl_sweep(logp0, u, [0.0, 0.5, 1.0])
    >>> res.value.round(4)
    array([0.    , 0.553 , 0.7365])
    >>> round(res.kl_max, 4)   # log 100: all mass on the single best response
    4.6052
    """
    lp = as_log_probs(logp0, "logp0")
    uu = as_float_array(u, "u", min_ndim=1)
    arrays = {"logp0": lp, "u": uu}
    if target is not None:
        arrays["target"] = as_float_array(target, "target", min_ndim=1)
    parts = broadcast_all(arrays)
    lp, uu = parts[0], parts[1]
    # The tilt depends on (u, gamma) only through u / gamma: sweep u / 2^k, 2^k near the
    # largest |u| on the support, and scale gamma back, so no spread or variance of u
    # overflows (or underflows) for utilities anywhere in the float64 range.
    u_k = int(scale_exponent(np.max(np.where(np.isfinite(lp), np.abs(uu), 0.0),
                                    initial=0.0)))
    uu = np.ldexp(uu, -u_k)
    tt = parts[2] if target is not None else uu
    grid = _as_kl_grid(kl)
    n_points = check_positive_int(n_points, "n_points", minimum=8)
    check_memory((n_points,), "n_points KL sweep points", copies=4)
    if not isinstance(refine, (bool, np.bool_)):
        raise ValidationError(f"refine must be True or False, got {refine!r}")
    if weights is None:
        def average(x) -> float:
            return float(np.mean(x))
    else:
        w = _as_prompt_weights(weights, lp.shape[:-1])

        def average(x) -> float:
            return float(np.sum(w * x))

    # Supremum of the KL: all mass on the argmax set of u within the support of pi0.
    finite = np.isfinite(lp)
    u_sup = np.where(finite, uu, -np.inf)
    top = u_sup == u_sup.max(axis=-1, keepdims=True)
    from scipy.special import logsumexp

    kl_max = average(-logsumexp(np.where(top, lp, -np.inf), axis=-1))

    def stats(beta: float):
        """Mean KL, mean target and d(KL)/d(log beta) of the tilt at ``beta``."""
        pi, k = _tilt(lp, uu, np.float64(beta))
        with np.errstate(over="ignore", invalid="ignore"):
            mean_u = np.sum(pi * uu, axis=-1, keepdims=True)
            var_u = np.sum(np.where(pi > 0, pi * (uu - mean_u) ** 2, 0.0), axis=-1)
            slope = average(beta * beta * var_u)
        return average(k), average(np.sum(pi * tt, axis=-1)), slope

    k_hi = float(grid.max())
    if k_hi == 0.0:
        v0 = stats(0.0)[1]
        v0 = v0 if target is not None else float(np.ldexp(v0, u_k))
        return KLSweep(kl=grid.copy(), gamma=np.full(grid.size, np.inf),
                       value=np.full(grid.size, v0), kl_max=kl_max)
    if k_hi >= kl_max * (1.0 - 1e-9):
        raise ValidationError(
            f"kl values must be below kl_max = {kl_max:.6g} (the KL of the argmax policy, "
            f"reached only as gamma -> 0); got max(kl) = {k_hi:.6g}")
    spread = float(np.mean(np.std(np.where(finite, uu, 0.0), axis=-1)))
    beta_hi = 1.0 / max(spread, 1e-300)
    for _ in range(4000):
        if stats(beta_hi)[0] >= k_hi:
            break
        beta_hi *= 2.0
    else:  # pragma: no cover - kl < kl_max guarantees termination
        raise ValidationError("kl_sweep could not reach the requested KL")
    if not math.isfinite(beta_hi * 1e-8):
        raise ValidationError(
            f"reaching KL {k_hi:g} needs a temperature gamma below the float64 range "
            "(1 / beta overflows): logp0 gives the responses of high u log-probabilities "
            "near -1e308; use log-probabilities of a realistic range")
    betas = np.concatenate([[0.0], np.geomspace(beta_hi * 1e-8, beta_hi, n_points)])
    kls = np.empty(betas.size)
    vals = np.empty(betas.size)
    for i, beta in enumerate(betas):
        kls[i], vals[i], _ = stats(beta)
    kls = np.maximum.accumulate(kls)  # KL is non-decreasing in beta; remove rounding noise
    log_b = np.log(betas[1:])
    value = np.interp(grid, kls, vals)
    log_beta = np.interp(grid, kls[1:], log_b)
    if refine:
        for j, k_target in enumerate(grid):
            if k_target == 0.0:
                continue
            hi_i = int(np.searchsorted(kls, k_target, side="left"))
            lo_t = log_b[0] - 30.0 if hi_i <= 1 else log_b[hi_i - 2]
            hi_t = log_b[min(hi_i, log_b.size) - 1]
            t = float(np.clip(log_beta[j], lo_t, hi_t))
            for _ in range(60):
                k_t, v_t, dk = stats(np.exp(t))
                err = k_t - k_target
                if abs(err) <= 1e-11 * max(k_target, 1e-300):
                    break
                if err > 0:
                    hi_t = t
                else:
                    lo_t = t
                step = t - err / dk if 0 < dk < np.inf else np.nan
                t = step if (lo_t < step < hi_t and step != t) else 0.5 * (lo_t + hi_t)
            else:
                k_t, v_t, _ = stats(np.exp(t))
            log_beta[j], value[j] = t, v_t
    with np.errstate(over="ignore"):
        gamma = np.ldexp(np.exp(-log_beta), u_k)      # back to the units of u
    gamma[grid == 0] = np.inf
    if target is None:
        value = np.ldexp(value, u_k)
    return KLSweep(kl=grid.copy(), gamma=gamma, value=value, kl_max=kl_max)


def compare_at_equal_kl(logp0, utilities: Mapping[str, object], target, kl, *,
                        n_points: int = 128, refine: bool = True,
                        weights=None) -> dict[str, np.ndarray]:
    r"""Expected ``target`` under the KL tilts of several utilities, at equal KL.

    For each named utility :math:`u_m`, :func:`kl_sweep` finds the tilt
    :math:`\pi_{m,\gamma} \propto \pi_0 e^{u_m/\gamma}` whose KL from :math:`\pi_0` equals
    each requested value and reports :math:`\mathbb E_{\pi_{m,\gamma}}[\text{target}]`:

    .. math::

        V_m(k) = \mathbb E_{\pi_{m,\gamma_m(k)}}[\text{target}], \qquad
        \mathrm{KL}(\pi_{m,\gamma_m(k)} \,\|\, \pi_0) = k.

    Parameters
    ----------
    logp0 : array_like of shape (..., n)
        Base-policy log-probabilities.
    utilities : mapping of str to array_like of shape (..., n)
        The utilities to compare, e.g. ``{"raw sum": R.sum(0), "LSC sum":
        lsc_aggregate(R, ref)}``.
    target : array_like of shape (..., n)
        The per-response quantity to evaluate (e.g. true ``p_all_good``).
    kl : array_like of shape (k,)
        KL values, each below every utility's ``kl_max``.
    n_points : int
        Grid size passed to :func:`kl_sweep`.
    refine : bool
        Polish each point to the exact KL (see :func:`kl_sweep`).
    weights : array_like of shape (...), optional
        Prompt weights passed to :func:`kl_sweep` (``None``: uniform).

    Returns
    -------
    dict of str to ndarray of shape (k,)
        :math:`V_m` at each KL, in the order of ``utilities``.

    Raises
    ------
    ValidationError
        For an empty or non-mapping ``utilities`` and as :func:`kl_sweep`.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 5 (comparisons at equal KL).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import compare_at_equal_kl
    >>> logp0 = np.log(np.full(3, 1 / 3))
    >>> target = np.array([0.0, 0.0, 1.0])
    >>> out = compare_at_equal_kl(logp0, {"good": target, "bad": -target}, target, [0.1])
    >>> bool(out["good"][0] > 1 / 3 > out["bad"][0])
    True
    """
    if not isinstance(utilities, Mapping) or len(utilities) == 0:
        raise ValidationError("utilities must be a non-empty mapping of names to utility "
                              "arrays, e.g. {'raw': u_raw, 'lsc': u_lsc}")
    out = {}
    for name, u in utilities.items():
        if not isinstance(name, str):
            raise ValidationError(f"utilities keys must be strings, got {name!r}")
        out[name] = kl_sweep(logp0, u, kl, target=target, n_points=n_points,
                             refine=refine, weights=weights).value
    return out

