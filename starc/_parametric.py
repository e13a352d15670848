r"""The parametric search for the worst-case regret, for dense and sparse MDPs (private).

:func:`starc.worst_case_regret` maximises :math:`J_1(\pi_1) - J_1(\pi_2)` over pairs of
policies with :math:`J_2(\pi_2) \ge J_2(\pi_1)`, the rewards' advantages normalised so
that both value ranges are 1. By LP duality (docs/theory/regret.rst) its value is

.. math::

    \min_{\lambda \ge 0} g(\lambda), \qquad
    g(\lambda) = \max_\pi J_{1 - \lambda 2}(\pi) - \min_\pi J_{1 - \lambda 2}(\pi),

with :math:`J_{1 - \lambda 2}` the return of :math:`\bar R_1 - \lambda \bar R_2`. Each
evaluation of :math:`g` takes two policy iterations and gives the *active line*
:math:`a - b\lambda` through :math:`g(\lambda)` (:math:`a`, :math:`-b` the differences of
:math:`J_1`, :math:`J_2` between the best and the worst policy). :math:`g` is convex and
piecewise linear, so its minimum is found by doubling :math:`\lambda` until the slope
:math:`-b` turns non-negative and then intersecting active lines (Eisner and Severance's
parametric method): the search stops when :math:`g` at the intersection is no lower than
the two lines there (within :math:`10^{-12}` of the value scale). The optimal pair of
occupancies mixes the two active pairs so that :math:`J_2(\pi_2) = J_2(\pi_1)`.

The search needs only two operations of the MDP — an optimal deterministic policy and
the values of a deterministic policy — which the dense path (:mod:`starc.solve`) and the
sparse path (:mod:`starc._sparse_regret`) pass in: one search, two kinds of linear
algebra.

References
----------
.. [1] Skalse et al. "STARC". ICLR 2024, Def. 5 (worst-case regret).
.. [2] Eisner and Severance, "Mathematical techniques for efficient record segmentation in
   large shared databases", J. ACM 23(4), 1976 (the parametric search).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._rules import PARAMETRIC_RTOL
from .exceptions import ConvergenceError

__all__ = ["Line", "parametric_worst_case"]

class Line(NamedTuple):
    """The active line ``a - b * lam`` of g at some lambda, with its two policies."""

    a: float
    b: float
    best: np.ndarray
    worst: np.ndarray


def parametric_worst_case(rbar1: np.ndarray, rbar2: np.ndarray, gamma: float,
                          initial: np.ndarray, *,
                          optimal_actions: Callable[[np.ndarray], np.ndarray],
                          values: Callable[[np.ndarray, np.ndarray], np.ndarray],
                          occupancy: Callable[[np.ndarray], np.ndarray] | None = None,
                          max_iter: int = 200):
    r"""Worst-case regret of normalised advantages ``rbar1, rbar2 (S, A)`` (value ranges 1).

    ``optimal_actions(r)`` returns an optimal deterministic policy ``(S,)`` of the
    expected reward ``r (S, A)``; ``values(r, actions)`` its values ``(S,)`` under a
    deterministic policy; ``occupancy(actions)``, when given, the state-action occupancy
    ``(S, A)`` of a deterministic policy. Returns ``(value, occupancies)``: the value
    clipped to ``[0, 1]`` and the optimal pair of occupancies ``(d1, d2)`` (None without
    ``occupancy``).
    """
    mu = initial

    def returns(actions):
        return (float(values(rbar1, actions) @ mu), float(values(rbar2, actions) @ mu))

    def line(lam: float) -> Line:
        r = rbar1 - lam * rbar2
        best = optimal_actions(r)
        worst = optimal_actions(-r)
        j1b, j2b = returns(best)
        j1w, j2w = returns(worst)
        return Line(j1b - j1w, j2b - j2w, best, worst)

    scale1 = 1.0  # the value range of rbar1
    tol = PARAMETRIC_RTOL * (scale1 + float(np.max(np.abs(rbar1), initial=0.0)) / (1.0 - gamma))
    left = line(0.0)
    if left.b <= 0:  # slope -b >= 0 at 0: the constraint is inactive
        return _finish(left, None, 0.0, scale1, occupancy)
    lam = 1.0  # the ratio of the two value ranges
    right = line(lam)
    for _ in range(max_iter):
        if right.b <= 0:
            break
        left, lam = right, 2.0 * lam
        right = line(lam)
    else:  # pragma: no cover - b > 0 forever means R2 separates every pair: impossible
        raise ConvergenceError("worst_case_regret: no lambda with non-negative slope found")
    for _ in range(max_iter):
        if left.b - right.b <= 0:  # parallel active lines: both are the minimum
            lam_x = lam
            break
        lam_x = (left.a - right.a) / (left.b - right.b)
        lower = left.a - left.b * lam_x
        mid = line(lam_x)
        g_mid = mid.a - mid.b * lam_x
        if g_mid <= lower + tol:
            break
        if mid.b > 0:
            left = mid
        else:
            right = mid
    else:
        raise ConvergenceError("worst_case_regret: the parametric search did not converge")
    return _finish(left, right, lam_x, scale1, occupancy)


def _finish(left: Line, right: Line | None, lam: float, scale1: float, occupancy):
    """Value and (optionally) the optimal occupancies mixing the two active pairs."""
    if right is None:
        value = left.a / scale1
        theta = 1.0
    else:
        value = (left.a - left.b * lam) / scale1
        # Mix the pairs so that J2(pi_2) - J2(pi_1) = 0: theta (-b_L) + (1 - theta)(-b_R) = 0
        denom = left.b - right.b
        theta = 0.0 if denom <= 0 else float(np.clip(-right.b / denom, 0.0, 1.0))
    value = float(np.clip(value, 0.0, 1.0))
    if occupancy is None:
        return value, None
    d1 = theta * occupancy(left.best)
    d2 = theta * occupancy(left.worst)
    if right is not None and theta < 1.0:
        d1 = d1 + (1 - theta) * occupancy(right.best)
        d2 = d2 + (1 - theta) * occupancy(right.worst)
    return value, (d1, d2)
