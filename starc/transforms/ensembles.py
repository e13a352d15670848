r"""Reward-model ensembles: conservative ways to combine members that disagree.

An ensemble of :math:`M` reward models scores each response :math:`M` times. Optimising
the mean is the nominal choice; optimising a *pessimistic* statistic penalises responses
on which the members disagree, which is where a single reward model is most likely to be
exploited [1]_ [2]_. The statistics offered here, for member scores
:math:`r_1(y), \dots, r_M(y)` with mean :math:`\mu(y)`, standard deviation
:math:`s(y)` (``ddof=0``) and variance :math:`s(y)^2`:

.. math::

    \begin{aligned}
    &\text{mean } \mu, \quad \text{median}, \quad \min_m r_m, \quad \max_m r_m,\\
    &\mu - \lambda s \;\;\text{(mean minus std)}, \qquad
     \mu - \lambda s^2 \;\;\text{(uncertainty-weighted, UWO [2])},\\
    &-\beta \log \tfrac1M \textstyle\sum_m e^{-r_m/\beta} \;\;\text{(soft-min)}, \qquad
     \alpha\, r_{\mathrm{nom}} + (1-\alpha) \min_m r_m \;\;\text{(nominal/min mix [3])}.
    \end{aligned}

Members trained separately have arbitrary offsets and scales (a Bradley-Terry reward is
identified only up to a shift), so z-scoring each member first
(:func:`standardize_members`) makes the statistics comparable across members.

Equivariance: for :math:`a > 0` and any :math:`b`, the mean, median, min, max,
mean minus std and the nominal/min mix satisfy :math:`f(a r + b) = a f(r) + b`, so they
rank responses the same way whatever the common units of the members. Mean minus
variance does not (the penalty scales as :math:`a^2`), and the soft-min does only if
:math:`\beta` is scaled with the rewards (:math:`\beta \to a\beta`).

Axes: ensemble scores have shape ``(M, ...)``: members on ``axis`` (0 by default), then
any prompt and response axes.

References
----------
.. [1] Eisenstein et al. "Helping or Herding? Reward Model Ensembles Mitigate but do not
   Eliminate Reward Hacking". arXiv 2312.09244, 2023 (mean, median, min, mean minus std).
.. [2] Coste, Anwar, Kirk, Krueger. "Reward Model Ensembles Help Mitigate
   Overoptimization". ICLR 2024, arXiv 2310.02743 (worst-case and uncertainty-weighted
   optimisation, mean minus lambda variance).
.. [3] Yan et al. "Reward-Robust RLHF in LLMs". arXiv 2409.15360, 2024 (a mix of nominal
   and worst-case rewards).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_float_array, check_choice, check_real
from ..exceptions import ValidationError
from .._extremes import scaled_by_max_abs, unscale
from ._common import check_axis, check_nonempty_axis, finite_result, softmin, zscore

__all__ = ["ensemble_reward", "standardize_members", "ENSEMBLE_METHODS"]

#: Names accepted by ``how`` in :func:`ensemble_reward`.
ENSEMBLE_METHODS = ("mean", "median", "min", "max", "mean_minus_std", "mean_minus_var",
                    "softmin", "nominal_min")


def standardize_members(R, *, axis: int = 0) -> np.ndarray:
    r"""Z-score each ensemble member over all of its scores.

    .. math::

        \tilde r_m(y) = \frac{r_m(y) - \operatorname{mean}_{y'} r_m(y')}
                             {\operatorname{std}_{y'} r_m(y')},

    the statistics of member :math:`m` taken over every axis but the member axis
    (``ddof=0``). A member whose scores are all equal maps to 0.

    Parameters
    ----------
    R : array_like of shape (M, ...)
        Scores of ``M`` members on ``axis``; all other axes index responses (and prompts).
    axis : int
        The member axis.

    Returns
    -------
    ndarray of shape (M, ...)

    Raises
    ------
    ValidationError
        For NaN/inf, no scores per member, or an invalid axis.

    References
    ----------
    .. [1] Eisenstein et al. 2023, arXiv 2312.09244 (members with different offsets
       and scales; normalising rewards before aggregating them).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import standardize_members
    >>> R = np.array([[0.0, 1.0, 2.0], [10.0, 30.0, 50.0]])   # 2 members x 3 responses
    >>> standardize_members(R).round(4)
    array([[-1.2247,  0.    ,  1.2247],
           [-1.2247,  0.    ,  1.2247]])
    """
    r = as_float_array(R, "R", min_ndim=2)
    ax = check_axis(axis, r.ndim)
    other = tuple(i for i in range(r.ndim) if i != ax)
    if r.size == 0:
        raise ValidationError(f"R has no scores, got shape {r.shape}")
    return zscore(r, other)


def ensemble_reward(R, how: str = "mean", *, lam: float = 1.0, beta: float = 1.0,
                    alpha: float = 0.5, nominal: int | str = "mean", standardize: bool = False,
                    axis: int = 0) -> np.ndarray:
    r"""Combine the scores of an ensemble of reward models into one reward.

    .. math::

        \begin{aligned}
        \text{mean}: &\; \mu = \tfrac1M \textstyle\sum_m r_m &
        \text{mean\_minus\_std}: &\; \mu - \lambda s &
        \text{mean\_minus\_var}: &\; \mu - \lambda s^2 \\
        \text{softmin}: &\; -\beta \log \tfrac1M \textstyle\sum_m e^{-r_m/\beta} &
        \text{nominal\_min}: &\; \alpha\, r_{\mathrm{nom}} + (1 - \alpha) \min_m r_m & &
        \end{aligned}

    and the median, min and max of the members; :math:`s` is the population standard
    deviation (``ddof=0``). The soft-min tends to the mean as :math:`\beta \to \infty` and
    to the min as :math:`\beta \to 0`; it is evaluated with ``log1p`` and ``expm1`` of
    :math:`-(r_m - \min_{m'} r_{m'})/\beta`, accurate in both limits.

    Parameters
    ----------
    R : array_like of shape (M, ...)
        Scores of ``M`` members on ``axis``.
    how : {"mean", "median", "min", "max", "mean_minus_std", "mean_minus_var", "softmin", "nominal_min"}
        The statistic.
    lam : float
        Penalty :math:`\lambda \ge 0` of ``mean_minus_std`` and ``mean_minus_var``.
    beta : float
        Temperature :math:`\beta > 0` of ``softmin``.
    alpha : float
        Weight :math:`\alpha \in [0, 1]` of the nominal reward in ``nominal_min``.
    nominal : int or "mean"
        The nominal reward of ``nominal_min``: the ensemble mean, or the member of that
        index.
    standardize : bool
        Z-score each member first (:func:`standardize_members`).
    axis : int
        The member axis.

    Returns
    -------
    ndarray of shape (...)
        ``R`` with the member axis reduced.

    Raises
    ------
    ValidationError
        For NaN/inf, an unknown ``how``, ``lam < 0``, ``beta <= 0``, ``alpha`` outside
        [0, 1], a ``nominal`` index out of range, or a ``mean_minus_std`` /
        ``mean_minus_var`` result beyond the float64 range (the other statistics lie
        between the smallest and largest score, and are computed without overflow for
        scores anywhere in the float64 range).

    References
    ----------
    .. [1] Eisenstein et al. 2023, arXiv 2312.09244, Sec. 3 (mean, median, min, mean minus
       std aggregations).
    .. [2] Coste et al. 2024, arXiv 2310.02743, Sec. 3 (WCO: min; UWO: mean minus
       :math:`\lambda` variance).
    .. [3] Yan et al. 2024, arXiv 2409.15360 (nominal and worst-case mix).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import ensemble_reward
    >>> R = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 6.0]])   # 3 members x 2 responses
    >>> ensemble_reward(R)
    array([2., 2.])
    >>> ensemble_reward(R, "min")
    array([1., 0.])
    >>> ensemble_reward(R, "mean_minus_var", lam=0.5).round(4)
    array([ 1.6667, -2.    ])
    """
    r = as_float_array(R, "R", min_ndim=1)
    how = check_choice(how, "ensemble how", ENSEMBLE_METHODS)
    ax = check_nonempty_axis(r, axis, "R", "members")
    n_members = r.shape[ax]
    lam = check_real(lam, "lam", low=0.0)
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    alpha = check_real(alpha, "alpha", low=0.0, high=1.0)
    if isinstance(nominal, str):
        if nominal != "mean":
            raise ValidationError(f"nominal must be 'mean' or a member index, got {nominal!r}")
    elif isinstance(nominal, bool) or not isinstance(nominal, numbers.Integral):
        raise ValidationError(f"nominal must be 'mean' or a member index, got {nominal!r}")
    elif not -n_members <= int(nominal) < n_members:
        raise ValidationError(f"nominal member index {nominal} is out of range for "
                              f"{n_members} members")
    if standardize:
        r = standardize_members(r, axis=ax) if r.ndim >= 2 else np.zeros_like(r)

    if how == "min":
        return r.min(axis=ax)
    if how == "max":
        return r.max(axis=ax)
    if how == "softmin":
        return softmin(r, beta, ax)
    # means, medians and spreads of r / 2^k (2^k near the largest |score| of each
    # response): no sum or difference overflows, and the numbers are bit-for-bit the
    # plain ones whenever those are finite
    r_s, k = scaled_by_max_abs(r, ax)
    k = np.squeeze(k, axis=ax)
    if how == "mean":
        return unscale(r_s.mean(axis=ax), k)
    if how == "median":
        return unscale(np.median(r_s, axis=ax), k)
    if how in ("mean_minus_std", "mean_minus_var"):
        mean = r_s.mean(axis=ax)
        var = np.mean((r_s - np.expand_dims(mean, ax)) ** 2, axis=ax)
        with np.errstate(over="ignore"):
            if how == "mean_minus_std":
                out = unscale(mean - lam * np.sqrt(var), k)
            else:                        # the variance has units of r^2: one more 2^k
                out = unscale(mean - lam * unscale(var, k), k)
        return finite_result(out, f"ensemble_reward(how={how!r})")
    # nominal_min
    nom = r_s.mean(axis=ax) if nominal == "mean" else np.take(r_s, int(nominal), axis=ax)
    return unscale(alpha * nom + (1.0 - alpha) * r_s.min(axis=ax), k)
