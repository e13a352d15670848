r"""Canonicalization of prompt-response rewards: remove the per-prompt offset.

Over a finite sample of prompts :math:`x` (weights :math:`\mu(x)`) and, for each prompt,
a finite set of responses :math:`y` (weights :math:`\nu(y|x)`, the reference policy), a
reward is an array :math:`R(x, y)` and a policy :math:`\pi(y|x)` has the return

.. math::

    J_R(\pi) = \sum_x \mu(x) \sum_y \pi(y|x)\, R(x, y) .

This is the one-step MDP whose next state is terminal, so the STARC theory [1]_ applies
directly: potential shaping with a terminal next state adds :math:`f(x) = -\Phi(x)`, and
:math:`S'`-redistribution is trivial. Two rewards order all policies alike (with
:math:`\mu > 0`) iff

.. math::

    R'(x, y) = a\, R(x, y) + f(x), \qquad a > 0,\; f \text{ any per-prompt offset},

which is also the invariance of a Bradley-Terry reward model. A canonicalization removes
:math:`f`: :math:`c(R)(x, y) = R(x, y) - o_R(x)` with an offset :math:`o_R(x)` computed
from prompt :math:`x`'s valid responses alone:

``"mean"``
    :math:`o(x) = \sum_y \nu(y|x) R(x, y)`: VAL with the policy :math:`\nu` [1]_ (Prop. 2),
    the minimal canonicalization ([1]_, Def. 4) for the :math:`\nu`-weighted :math:`L_2`
    norm (and for the unweighted :math:`L_2` norm when :math:`\nu` is uniform).
``"median"``
    the :math:`\nu`-weighted median: minimal for the weighted :math:`L_1` norm (and the
    unweighted one when :math:`\nu` is uniform). The minimisers of
    :math:`t \mapsto \sum_y \nu(y|x) |R(x, y) - t|` form an interval when the cumulative
    weight reaches exactly :math:`1/2` (decided to :data:`~starc.norms.ZERO_RTOL`); its
    midpoint is returned, so :math:`c` is a function.
``"midrange"``
    :math:`o(x) = (\max_y R(x, y) + \min_y R(x, y))/2`: minimal for the :math:`L_\infty`
    norm (and for the weighted one when every valid response has :math:`\nu > 0`).
``"none"``
    :math:`o = 0` (no canonicalization; not a STARC metric).

Every canonical is linear in the offset (:math:`c(R + f) = c(R)`), idempotent, and
positively homogeneous (:math:`c(aR) = a\,c(R)`, :math:`a > 0`; "mean" is linear). As
every offset is a per-prompt constant, :math:`\sum_y (\pi'(y|x) - \pi(y|x))\, c(R)(x, y)
= \sum_y (\pi'(y|x) - \pi(y|x))\, R(x, y)` for every pair of policies: return
differences are preserved, which is all the regret bound of :mod:`starc.bandit.regret`
needs.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Def. 1, Prop. 2, Def. 4.
"""

from __future__ import annotations

import numpy as np

from .._extremes import finite_result, scaled_by_max_abs, unscale
from ..norms import ZERO_RTOL
from ._checks import (Setting, as_bandit_reward, check_name, max_abs, reward_shape, rows_max,
                      rows_min, setting)

__all__ = ["CANONICALIZATIONS", "canonicalize"]

#: Names accepted by :func:`canonicalize` (and the ``canonicalization`` arguments).
CANONICALIZATIONS = ("mean", "median", "midrange", "none")


def weighted_median(r: np.ndarray, nu: np.ndarray) -> np.ndarray:
    r"""Midpoint of the minimisers of :math:`\sum_y \nu_y |r_y - t|` per row, ``(..., n)``.

    ``r`` ``(..., n, m)`` (finite); ``nu`` ``(n, m)`` with each row summing to 1. Entries of
    zero weight (padding included) do not move the minimisers and are left out.
    """
    w = np.broadcast_to(nu, r.shape)
    key = np.where(w > 0, r, np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    rs = np.take_along_axis(key, order, axis=-1)
    cw = np.cumsum(np.take_along_axis(w, order, axis=-1), axis=-1)
    half = 0.5 * cw[..., -1:]
    tol = ZERO_RTOL * cw[..., -1:]
    # lower end: first sorted value whose cumulative weight reaches 1/2; upper end: first
    # one whose cumulative weight passes it (equal unless the weight hits 1/2 exactly)
    lo = np.argmax(cw >= half - tol, axis=-1)[..., None]
    hi = np.argmax(cw > half + tol, axis=-1)[..., None]
    a = np.take_along_axis(rs, lo, axis=-1)[..., 0]
    b = np.take_along_axis(rs, hi, axis=-1)[..., 0]
    return 0.5 * a + 0.5 * b


def offsets(r: np.ndarray, method: str, st: Setting) -> np.ndarray | None:
    """The per-prompt offset ``(..., n)`` that ``method`` subtracts (None for "none").

    ``r`` is validated (0 on padding).
    """
    if method == "none":
        return None
    if method == "mean":
        if st.nu is None:  # uniform over the valid responses; padding holds 0
            return (r @ np.ones(st.m)) / st.counts  # a BLAS row sum
        return np.einsum("...ij,ij->...i", r, st.nu)
    if method == "midrange":
        return 0.5 * rows_max(r, st.mask) + 0.5 * rows_min(r, st.mask)
    return weighted_median(r, st.nu_full)


def canonical(r: np.ndarray, method: str, st: Setting) -> np.ndarray:
    """``r - o(r)`` for validated ``r``, 0 on padding (a new array unless method is "none")."""
    o = offsets(r, method, st)
    if o is None:
        return r
    c = r - o[..., None]
    if st.mask is not None:
        c *= st.mask  # padding: -o * 0 = 0
    return c


def canonicalize(reward, *, method="mean", response_weights=None, mask=None) -> np.ndarray:
    r"""Subtract a per-prompt offset: one representative per class :math:`aR + f(x)`.

    .. math::

        c(R)(x, y) = R(x, y) - o_R(x), \qquad
        o_R(x) = \begin{cases}
            \sum_y \nu(y|x) R(x, y) & \text{"mean"} \\
            \operatorname{median}_\nu R(x, \cdot) & \text{"median"} \\
            \tfrac12 (\max_y R(x, y) + \min_y R(x, y)) & \text{"midrange"} \\
            0 & \text{"none"}
        \end{cases}

    over prompt :math:`x`'s valid responses; see :mod:`starc.bandit.canonical` for which
    norm each one minimises.

    Parameters
    ----------
    reward : array_like of shape (..., n, m)
        Scores of ``m`` responses to each of ``n`` prompts; leading batch axes allowed.
    method : {"mean", "median", "midrange", "none"}, default "mean"
    response_weights : array_like of shape (n, m), optional
        :math:`\nu(y|x)`: non-negative, each prompt's valid entries sum to 1. Default:
        uniform over the valid responses. Used by "mean" and "median".
    mask : array_like of bool, shape (n, m), optional
        True at real responses; every prompt needs one. Entries where it is False are never
        read (they may hold NaN) and are 0 in the result. Default: all valid.

    Returns
    -------
    ndarray of shape (..., n, m)

    Raises
    ------
    ValidationError
        Unknown ``method``, shapes that do not match, NaN or inf at a valid entry, weights
        that are negative or do not sum to 1, a prompt without a valid response, or a
        canonical reward beyond the float64 range (scores near :math:`1.8\times10^{308}`;
        smaller scores are canonicalized without intermediate overflow).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 1 (canonicalization), Prop. 2 (VAL),
       Def. 4 (minimal canonicalization).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import canonicalize
    >>> r = np.array([[1.0, 2.0, 6.0], [0.0, 4.0, np.nan]])
    >>> mask = np.array([[True, True, True], [True, True, False]])
    >>> canonicalize(r, method="mean", mask=mask)
    array([[-2., -1.,  3.],
           [-2.,  2.,  0.]])
    >>> canonicalize(r, method="median", mask=mask)
    array([[-1.,  0.,  4.],
           [-2.,  2.,  0.]])
    >>> canonicalize(r, method="midrange", mask=mask)
    array([[-2.5, -1.5,  2.5],
           [-2. ,  2. ,  0. ]])
    """
    method = check_name(method, "method", CANONICALIZATIONS)
    shape = reward_shape(reward, "reward")
    st = setting(shape, mask, None, response_weights)
    r = as_bandit_reward(reward, st.mask, "reward")
    if method != "none" and r.size and max_abs(r).max() > np.ldexp(1.0, 1021) / st.m:
        # a sum of m scores or R - o(R) could overflow: canonicalize R / 2**k (exact, by
        # positive homogeneity) and scale back; refused if c(R) is beyond float64
        r_s, k = scaled_by_max_abs(r, axis=(-2, -1))
        c = finite_result(unscale(canonical(r_s, method, st), k), "the canonical reward")
        return c + 0.0
    c = canonical(r, method, st)
    if c is reward:
        return c.copy()
    c += 0.0  # padding: -0.0 -> 0.0
    return c
