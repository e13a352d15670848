r"""Reward transforms applied to tabular rewards :math:`R(s, a, s')`.

The transforms of :mod:`starc.transforms.lsc` act on the rewards of the responses to one
prompt: a contextual bandit, in which the policy cannot influence which prompt it sees.
This module applies the same transforms to a reward :math:`R(s, a, s')` of a
:class:`~starc.TabularMDP`, so the tabular core can measure what they do to the
*ordering of policies*.

In an MDP a transform falls in one of two classes [1]_:

* **Positive affine maps** :math:`R \mapsto aR + b` with :math:`a > 0` (``center``,
  ``zscore``, ``minmax`` with global statistics, and ``identity``) preserve the
  ordering of policies: adding :math:`b` is potential shaping with
  :math:`\Phi = -b/(1-\gamma)` and scaling by :math:`a > 0` preserves order. Their STARC
  distance to :math:`R` is 0.
* **Non-affine monotone maps** (``lsc``, ``tanh``, ``sigmoid``, ``clip``) keep the order
  of *immediate* rewards but not, in general, the order of *returns*: a return is a sum of
  rewards, and a sum of concave transforms of rewards is not a transform of the sum. Their
  STARC distance to :math:`R` is positive for a generic reward.

Per-state statistics (``per="state"``) subtract a per-state offset :math:`c(s)`. In a
bandit (:math:`\gamma = 0`, or any MDP whose state visits the policy cannot influence) that
is harmless, which is the per-prompt shift invariance of LSC; in a general MDP it is
*not* potential shaping (that would need :math:`c(s) = \Phi(s) - \gamma \mathbb
E[\Phi(S') \mid s, a]` for every action) and can change the optimal policy.

Statistics (mean, standard deviation, min/max, quantile) are taken over the transitions
that can happen, weighted by how often a uniform choice of state and action makes them:

.. math::

    w(s, a, s') = \frac{\tau(s' \mid s, a)}{|\mathcal S|\,|\mathcal A|}
    \quad(\text{per state: } \tau(s' \mid s, a) / |\mathcal A|),

so rewards on impossible transitions, which change no return, do not change the
statistics either. Without an MDP every entry gets the same weight.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, arXiv 2309.15257,
   Sec. 2 (rewards inducing the same policy ordering differ by potential shaping,
   S'-redistribution and positive scaling).
.. [2] Wang et al. "Transforming and Combining Rewards for Aligning Large Language
   Models". ICML 2024, arXiv 2402.00742, Sec. 3 (LSC).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_choice, check_real
from ..exceptions import ValidationError
from ._common import (ELEMENTWISE_KINDS, check_kind_options, elementwise_transform,
                      linear_scaled, rescale, standardize_centred)
from .lsc import TRANSFORM_KINDS

__all__ = ["transform_reward", "TABULAR_SCOPES"]

#: Names accepted by ``per`` in :func:`transform_reward`.
TABULAR_SCOPES = ("global", "state")


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    """Inverted-CDF weighted quantile of each row of ``values`` (B, M); weights (B, M)."""
    order = np.argsort(values, axis=-1, kind="stable")
    v = np.take_along_axis(values, order, axis=-1)
    w = np.take_along_axis(weights, order, axis=-1)
    cdf = np.cumsum(w, axis=-1)
    total = cdf[:, -1:]
    idx = np.argmax(cdf >= q * total * (1.0 - 1e-12), axis=-1)
    return v[np.arange(v.shape[0]), idx]


def transform_reward(reward, kind: str, mdp=None, *, per: str = "global", r_ref=None,
                     q: float = 0.85, low: float | None = None,
                     high: float | None = None) -> np.ndarray:
    r"""Apply a reward transform to a tabular reward :math:`R(s, a, s')`.

    .. math::

        \begin{aligned}
        \text{center}: &\; R - \bar R & \text{zscore}: &\; (R - \bar R)/s_R &
        \text{minmax}: &\; \frac{R - \min R}{\max R - \min R} \\
        \text{lsc}: &\; \log\sigma(R - r_{\mathrm{ref}}) &
        \text{tanh}, \text{sigmoid}: &\; \tanh R,\ \sigma(R) &
        \text{clip}: &\; \min(\max(R, \ell), h)
        \end{aligned}

    with the statistics :math:`\bar R`, :math:`s_R`, :math:`\min R`, :math:`\max R` and
    the default reference :math:`r_{\mathrm{ref}}` (the weighted ``q``-quantile,
    inverted-CDF) taken under the weights :math:`w(s, a, s')` of the module docstring,
    over the whole reward (``per="global"``) or over each state's transitions
    (``per="state"``). A reward whose statistics are degenerate (all values equal) maps
    to 0 under ``zscore`` and ``minmax``.

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), or (..., S, A) / (..., S) with ``mdp``
        The reward, with optional leading batch axes (each reward transformed on its
        own).
    kind : {"identity", "center", "zscore", "minmax", "clip", "tanh", "sigmoid", "lsc"}
        The transform, as in :func:`~starc.transforms.transform`.
    mdp : TabularMDP, optional
        Supplies the weights (and broadcasts state and state-action rewards). Without
        it ``reward`` must have shape ``(..., S, A, S)`` and all entries weigh the same.
    per : {"global", "state"}
        Scope of the statistics.
    r_ref : float or array_like, optional
        ``lsc`` only: the reference, broadcastable to the reward (a scalar, or shape
        ``(S, 1, 1)`` for one reference per state). Default: the weighted quantile.
    q : float
        ``lsc`` only: quantile in (0, 1) of the default reference.
    low, high : float, optional
        ``clip`` only: bounds (at least one).

    Returns
    -------
    ndarray of shape (..., S, A, S)

    Raises
    ------
    ValidationError
        For an unknown ``kind`` or ``per``, NaN/inf, a reward that does not fit ``mdp``,
        or options given to a transform that does not use them.

    References
    ----------
    .. [1] Skalse et al. 2024, "STARC", arXiv 2309.15257, Sec. 2 (equivalent rewards).
    .. [2] Wang et al. 2024, arXiv 2402.00742, Sec. 3 (LSC).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP
    >>> from starc.transforms import transform_reward
    >>> mdp = TabularMDP(np.full((2, 2, 2), 0.5), gamma=0.9)
    >>> R = np.arange(8.0).reshape(2, 2, 2)
    >>> transform_reward(R, "center", mdp)[0]
    array([[-3.5, -2.5],
           [-1.5, -0.5]])
    >>> transform_reward(R, "minmax", mdp, per="state")[1]
    array([[0.        , 0.33333333],
           [0.66666667, 1.        ]])
    """
    kind = check_choice(kind, "transform kind", TRANSFORM_KINDS)
    per = check_choice(per, "per", TABULAR_SCOPES)
    check_kind_options(kind, r_ref, low, high)
    if mdp is not None:
        from ..mdp import TabularMDP, broadcast_reward

        if not isinstance(mdp, TabularMDP):
            raise ValidationError(f"mdp must be a starc.TabularMDP or None, got "
                                  f"{type(mdp).__name__}")
        r = broadcast_reward(reward, mdp)
        n_states, n_actions = mdp.n_states, mdp.n_actions
        weight = np.asarray(mdp.transition) / n_actions  # per state: sums to 1 over (a, s')
    else:
        r = as_float_array(reward, "reward", min_ndim=3)
        n_states, n_actions, n_next = r.shape[-3:]
        if n_next != n_states:
            raise ValidationError(
                f"reward must have shape (..., S, A, S) when no mdp is given; got shape "
                f"{r.shape}, whose state axes differ. Pass mdp= for (S,) or (S, A) rewards")
        weight = np.full((n_states, n_actions, n_states), 1.0 / (n_actions * n_states))
    if per == "global":
        weight = weight / n_states

    if kind in ELEMENTWISE_KINDS:
        return elementwise_transform(r, kind, low, high)

    stat_axes = (-3, -2, -1) if per == "global" else (-2, -1)
    wb = np.broadcast_to(weight, r.shape)
    support = wb > 0

    def mean(x):
        return np.sum(wb * x, axis=stat_axes, keepdims=True)

    if kind == "center":  # linear in R: computed on 2^-k R for extreme rewards
        return linear_scaled(lambda x: x - mean(x), r, "centred reward")
    if kind in ("zscore", "minmax"):
        # scale invariant: computed on 2^-k R (exact) so that R - mean and R - min cannot
        # overflow for rewards near the float64 limit
        m = float(np.max(np.abs(r), initial=0.0))
        if m > 2.0 ** 500:
            r = np.ldexp(r, -int(np.frexp(m)[1]))
    if kind == "zscore":
        centred = r - mean(r)
        std = np.sqrt(mean(centred**2))
        scale = np.max(np.where(support, np.abs(r), 0.0), axis=stat_axes, keepdims=True)
        return standardize_centred(centred, std, scale)
    if kind == "minmax":
        lo = np.min(np.where(support, r, np.inf), axis=stat_axes, keepdims=True)
        hi = np.max(np.where(support, r, -np.inf), axis=stat_axes, keepdims=True)
        return rescale(r, lo, hi)
    # lsc
    if r_ref is not None:
        ref = as_float_array(r_ref, "r_ref")
        try:
            shape = np.broadcast_shapes(r.shape, ref.shape)
        except ValueError:
            shape = None
        if shape != r.shape:
            raise ValidationError(f"r_ref of shape {ref.shape} must broadcast to the reward "
                                  f"shape {r.shape} without enlarging it")
        return _finite_lsc(r, ref)
    q = check_real(q, "q", low=0.0, high=1.0, low_open=True, high_open=True)
    n_keep = 3 if per == "global" else 2
    lead = r.shape[:-n_keep]
    flat_r = r.reshape(-1, int(np.prod(r.shape[-n_keep:])))
    flat_w = wb.reshape(flat_r.shape)
    ref = _weighted_quantile(flat_r, flat_w, q).reshape(lead + (1,) * n_keep)
    return _finite_lsc(r, ref)


def _finite_lsc(r: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``log sigma(r - ref)``; a ValidationError where it is below the float64 range."""
    from scipy.special import log_expit

    with np.errstate(over="ignore"):  # r - ref = +inf gives log sigma = 0, exactly
        out = log_expit(r - ref)
    if not np.all(np.isfinite(out)):
        raise ValidationError(
            "the LSC reward log sigma(R - r_ref) is below the float64 range (about "
            "-1.8e308): some rewards lie about 1e308 below their reference; rescale the "
            "reward")
    return out
