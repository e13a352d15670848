r"""Aggregating the rewards of several properties into one utility.

To align a policy to several properties at once (helpful *and* harmless), the rewards
:math:`r_1, \dots, r_K` of :math:`K` reward models must be combined into one utility.
Wang et al. [1]_ show that after the LSC transform, summation is logical conjunction:
if the properties are conditionally independent given the response,

.. math::

    \sum_{k=1}^K \log \sigma\big(r_k(x, y) - r_k^{\mathrm{ref}}(x)\big)
    = \log \prod_{k=1}^K p(\mathrm{good}_k \mid x, y)
    = \log p(\text{all good} \mid x, y),

so the KL-regularised optimum of the LSC sum with :math:`\gamma = 1` is the base policy
conditioned on every property being good. The raw sum :math:`\sum_k r_k` has no such
reading: one reward with a larger scale, or a response that maxes out one property
(a refusal is perfectly harmless), dominates it.

Axes: the properties are on ``axis`` (0 by default), so ``U`` has shape
``(K, ..., n)``: ``K`` properties, then any prompt axes, then the ``n`` responses.
Per-property references have a shape broadcastable to ``U``, e.g. ``(K, ..., 1)``.

References
----------
.. [1] Wang et al. "Transforming and Combining Rewards for Aligning Large Language
   Models". ICML 2024, arXiv 2402.00742, Sec. 4 (aggregation as logical AND).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_choice, check_real
from ..exceptions import ValidationError
from ._common import (broadcast_pair, check_axis, check_nonempty_axis, finite_result, scaled_prod,
                      scaled_sum, softmin)
from .lsc import lsc, reference_reward

__all__ = ["aggregate", "lsc_aggregate", "p_all_good", "COMBINATION_RULES"]

#: Names accepted by ``how`` in :func:`aggregate`: the rules that combine the utilities of
#: ``K`` properties into one.
COMBINATION_RULES = ("sum", "weighted_sum", "min", "softmin", "prod")


def aggregate(U, how: str = "sum", *, weights=None, beta: float = 1.0,
              axis: int = 0) -> np.ndarray:
    r"""Combine per-property utilities into one, reducing the property axis.

    .. math::

        \begin{aligned}
        \text{sum}: &\; \textstyle\sum_k u_k &
        \text{weighted\_sum}: &\; \textstyle\sum_k w_k u_k &
        \text{prod}: &\; \textstyle\prod_k u_k \\
        \text{min}: &\; \min_k u_k &
        \text{softmin}: &\; -\beta \log \tfrac1K \textstyle\sum_k e^{-u_k/\beta} & &
        \end{aligned}

    The soft-min lies between the minimum (:math:`\beta \to 0`) and the mean
    (:math:`\beta \to \infty`). ``prod`` is meant for probabilities
    (e.g. :math:`\sigma(r_k - r_k^{\mathrm{ref}})`), whose product is
    :math:`p(\text{all good})`; for LSC utilities use ``sum`` (see :func:`lsc_aggregate`).

    Parameters
    ----------
    U : array_like of shape (K, ..., n)
        Utilities of ``K`` properties along ``axis``.
    how : {"sum", "weighted_sum", "min", "softmin", "prod"}
        The aggregation.
    weights : array_like of shape (K,), optional
        Required by, and only used by, ``"weighted_sum"``.
    beta : float
        Temperature of ``"softmin"``, > 0.
    axis : int
        The property axis.

    Returns
    -------
    ndarray of shape (..., n)
        ``U`` with ``axis`` reduced.

    Raises
    ------
    ValidationError
        For NaN/inf inputs, an unknown ``how``, weights of the wrong length or given to
        another aggregation, ``beta <= 0``, or a sum or product whose exact value is
        beyond the float64 range (intermediate results never overflow: they are computed on
        utilities divided by a power of two near the largest).

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 4 (sum of LSC rewards as logical
       AND) and Sec. 5 (raw sums and other aggregations as baselines).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import aggregate
    >>> U = np.array([[1.0, 2.0], [3.0, -1.0]])   # 2 properties x 2 responses
    >>> aggregate(U)
    array([4., 1.])
    >>> aggregate(U, "min")
    array([ 1., -1.])
    >>> aggregate(U, "weighted_sum", weights=[0.5, 2.0])
    array([ 6.5, -1. ])
    """
    u = as_float_array(U, "U", min_ndim=1)
    how = check_choice(how, "aggregation how", COMBINATION_RULES)
    ax = check_nonempty_axis(u, axis, "U", "properties")
    n_props = u.shape[ax]
    if how != "weighted_sum" and weights is not None:
        raise ValidationError(f"weights are only used with how='weighted_sum', not "
                              f"how={how!r}")
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    if how == "sum":
        return scaled_sum(u, ax, "aggregate(how='sum')")
    if how == "weighted_sum":
        if weights is None:
            raise ValidationError("how='weighted_sum' needs weights, one per property "
                                  f"({n_props} along axis {axis})")
        w = as_float_array(weights, "weights", ndim=1)
        if w.shape[0] != n_props:
            raise ValidationError(f"weights must have one entry per property: expected "
                                  f"length {n_props} (U.shape[{axis}]), got {w.shape[0]}")
        shape = [1] * u.ndim
        shape[ax] = n_props
        return scaled_sum(u, ax, "aggregate(how='weighted_sum')", w.reshape(shape))
    if how == "min":
        return u.min(axis=ax)
    if how == "prod":
        return scaled_prod(u, ax, "aggregate(how='prod')")
    return softmin(u, beta, ax)


def _lsc_terms(R, r_ref, q: float, axis: int):
    """Per-property LSC rewards, validated; returns (terms, property axis)."""
    r = as_float_array(R, "R", min_ndim=1)
    ax = check_axis(axis, r.ndim)
    q = check_real(q, "q", low=0.0, high=1.0, low_open=True, high_open=True)
    if r_ref is None:
        if r.ndim < 2 or ax == r.ndim - 1:
            raise ValidationError(
                f"R of shape {r.shape} with property axis {axis} has no response axis to "
                "take default references along; pass R of shape (K, ..., n) with the "
                "responses last, or pass r_ref")
        ref = reference_reward(r, q, axis=-1, keepdims=True)
    else:
        ref = as_float_array(r_ref, "r_ref")
        broadcast_pair(r, ref, "R", "r_ref")
        if np.broadcast_shapes(r.shape, ref.shape) != r.shape:
            raise ValidationError(
                f"r_ref of shape {ref.shape} must broadcast to the shape of R {r.shape} "
                "without enlarging it, e.g. shape (K, ..., 1)")
    return lsc(r, ref), ax


def lsc_aggregate(R, r_ref=None, *, q: float = 0.85, axis: int = 0) -> np.ndarray:
    r"""Sum of LSC-transformed rewards: :math:`\log p(\text{all good})`.

    .. math::

        u(x, y) = \sum_{k=1}^K \log \sigma\big(r_k(x, y) - r_k^{\mathrm{ref}}(x)\big).

    Parameters
    ----------
    R : array_like of shape (K, ..., n)
        Rewards of ``K`` properties (on ``axis``) for ``n`` responses (last axis).
    r_ref : array_like broadcastable to ``R``, optional
        Per-property (and per-prompt) references, e.g. of shape ``(K, ..., 1)``. When
        omitted, each property's ``q``-quantile along the response axis
        (:func:`~starc.transforms.reference_reward`), i.e. the responses are taken to be
        base-policy samples.
    q : float
        Quantile in (0, 1) for the default references.
    axis : int
        The property axis.

    Returns
    -------
    ndarray of shape (..., n)
        Non-positive utilities.

    Raises
    ------
    ValidationError
        For NaN/inf, shapes that do not broadcast, or ``q`` outside (0, 1).

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 4: the sum of LSC rewards is the
       log-probability that the response is good on every property.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import lsc_aggregate
    >>> R = np.array([[0.0, 3.0], [0.0, -3.0]])   # 2 properties x 2 responses
    >>> lsc_aggregate(R, r_ref=np.zeros((2, 1)))
    array([-1.38629436, -3.0971747 ])
    """
    return finite_result(_lsc_sum(R, r_ref, q, axis),
                         "the sum of LSC rewards, log p(all good), (p_all_good returns the "
                         "probability, 0 here)")


def _lsc_sum(R, r_ref, q, axis):
    """The sum of LSC terms; ``-inf`` where it is below the float64 range."""
    terms, ax = _lsc_terms(R, r_ref, q, axis)
    return scaled_sum(terms, ax, None)


def p_all_good(R, r_ref=None, *, q: float = 0.85, axis: int = 0, policy=None) -> np.ndarray:
    r"""Probability that a response is good on every property.

    .. math::

        p(\text{all good} \mid x, y) = \prod_{k=1}^K
        \sigma\big(r_k(x, y) - r_k^{\mathrm{ref}}(x)\big),
        \qquad
        P_\pi(\text{all good}) = \sum_y \pi(y \mid x)\, p(\text{all good} \mid x, y),

    under the Bradley-Terry reading of each reward and conditional independence of the
    properties given the response.

    Parameters
    ----------
    R : array_like of shape (K, ..., n)
        Rewards of ``K`` properties (on ``axis``) for ``n`` responses (last axis).
    r_ref : array_like broadcastable to ``R``, optional
        References as in :func:`lsc_aggregate`.
    q : float
        Quantile in (0, 1) for the default references.
    axis : int
        The property axis.
    policy : array_like of shape (..., n), optional
        A distribution over the responses. When given, the expectation
        :math:`P_\pi(\text{all good})` is returned instead of the per-response values.

    Returns
    -------
    ndarray of shape (..., n), or (...) with ``policy``
        Probabilities in [0, 1].

    Raises
    ------
    ValidationError
        For NaN/inf, shapes that do not broadcast, ``q`` outside (0, 1), or a policy
        that is not a distribution over the last axis.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 4.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import p_all_good
    >>> R = np.array([[0.0, 3.0], [0.0, -3.0]])
    >>> p_all_good(R, r_ref=np.zeros((2, 1)))
    array([0.25      , 0.04517666])
    >>> round(float(p_all_good(R, r_ref=np.zeros((2, 1)), policy=[0.5, 0.5])), 6)
    0.147588
    """
    logp = _lsc_sum(R, r_ref, q, axis)  # -inf: probability 0 (underflow), exactly
    p = np.exp(logp)
    if policy is None:
        return p
    from ._common import as_probs

    pol = as_probs(policy, "policy")
    pol, p = broadcast_pair(pol, p, "policy", "p_all_good values")
    return np.sum(pol * p, axis=-1)
