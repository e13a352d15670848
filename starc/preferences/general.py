r"""General preferences: preference matrices, social-choice scores, maximal lotteries, BT fits.

A reward model assumes preferences are transitive: :math:`y_1 \succ y_2` and
:math:`y_2 \succ y_3` imply :math:`y_1 \succ y_3`. Human (and AI) preferences need not be.
Rosset et al. [1]_ (Direct Nash Optimization) therefore work with a *preference matrix*

.. math::

    P_{ij} = \Pr(y_i \succ y_j), \qquad P_{ij} + P_{ji} = 1,\quad P_{ii} = \tfrac12,

and take as target the Nash equilibrium of the symmetric two-player game in which each
player picks a (distribution over) responses and is paid :math:`P(\pi \succ \pi')`. That
equilibrium is the **maximal lottery** of social choice theory [2]_ [3]_; it is found by a
linear program. This module collects the classical summaries of such a matrix:

* **Borda score** :math:`\sum_{j \ne i} P_{ij}` -- expected wins against a uniformly
  random opponent;
* **Copeland score** -- number of pairwise majority wins (ties count one half);
* **Condorcet winner** -- an item that beats every other by a strict majority (it need
  not exist);
* **Smith set** -- the smallest non-empty set of items each of which beats every item
  outside it [4]_ (the Condorcet winner alone, when there is one);
* **circular triads** -- the number of majority cycles :math:`i \succ j \succ k \succ i`,
  a measure of intransitivity [5]_;
* a **Bradley-Terry** maximum-likelihood fit of scores :math:`s` with
  :math:`\Pr(i \succ j) = \sigma(s_i - s_j)` and its deviance against the saturated model
  [6]_ [7]_, which quantifies how far the data are from *any* reward model.

References
----------
.. [1] Rosset, Cheng, Mitra, Santacroce, Awadallah, Xie. "Direct Nash Optimization:
   Teaching Language Models to Self-Improve with General Preferences". arXiv 2404.03715,
   2024.
.. [2] Fishburn. "Probabilistic social choice based on simple voting comparisons". Rev.
   Econ. Stud. 51, 1984.
.. [3] Brandl, Brandt, Seedig. "Consistent probabilistic social choice". Econometrica 84,
   2016.
.. [4] Smith. "Aggregation of preferences with variable electorate". Econometrica 41,
   1973.
.. [5] Kendall, Babington Smith. "On the method of paired comparisons". Biometrika 31,
   1940.
.. [6] Bradley, Terry. "Rank analysis of incomplete block designs I". Biometrika 39, 1952.
.. [7] Hunter. "MM algorithms for generalized Bradley-Terry models". Ann. Statist. 32,
   2004.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._extremes import pow2_scale
from .._validation import (as_float_array, check_choice, check_positive_int, check_real)
from ..exceptions import ConvergenceError, SolverError, ValidationError

__all__ = ["win_matrix", "preference_matrix", "borda_scores", "copeland_scores",
           "condorcet_winner", "smith_set", "circular_triads", "maximal_lottery",
           "fit_bradley_terry", "BradleyTerryFit"]

#: Tolerance on ``P + P.T == 1`` and on ties ``P[i, j] == 1/2``.
PREFERENCE_ATOL = 1e-9
LOTTERY_KINDS = ("probability", "majority")


def _check_preference_matrix(P, name="P"):
    P = as_float_array(P, name, ndim=2)
    n, m = P.shape
    if n != m or n == 0:
        raise ValidationError(f"{name} must be a non-empty square matrix P[i, j] = "
                              f"Pr(i beats j), got shape {P.shape}")
    if np.any(P < 0) or np.any(P > 1):
        raise ValidationError(f"{name} must have entries in [0, 1] (probabilities), got "
                              f"values in [{P.min():.3g}, {P.max():.3g}]")
    err = np.abs(P + P.T - 1.0)
    if np.any(err > PREFERENCE_ATOL):
        i, j = np.unravel_index(int(np.argmax(err)), err.shape)
        raise ValidationError(
            f"{name} must satisfy P[i, j] + P[j, i] == 1 (with P[i, i] == 0.5); entries "
            f"({i}, {j}) and ({j}, {i}) sum to {P[i, j] + P[j, i]!r}. Build it with "
            "starc.preferences.preference_matrix(wins)")
    return P


def _check_wins(wins, name="wins"):
    W = as_float_array(wins, name, ndim=2)
    if W.shape[0] != W.shape[1] or W.shape[0] == 0:
        raise ValidationError(f"{name} must be a non-empty square matrix W[i, j] = number "
                              f"of times i beat j, got shape {W.shape}")
    if np.any(W < 0):
        raise ValidationError(f"{name} must be non-negative (win counts), got minimum "
                              f"{W.min():.3g}")
    W = W.copy()
    np.fill_diagonal(W, 0.0)
    return W


def win_matrix(comparisons, n_items=None, *, weights=None):
    r"""Count wins from (winner, loser) pairs.

    Parameters
    ----------
    comparisons : array_like of int, shape (K, 2)
        Row ``(i, j)`` records that item ``i`` beat item ``j``.
    n_items : int, optional
        Number of items; ``max(comparisons) + 1`` by default.
    weights : array_like of shape (K,), optional
        Non-negative weight of each comparison (1 by default).

    Returns
    -------
    ndarray of shape (n_items, n_items)
        :math:`W_{ij} = \sum_k \omega_k \mathbb 1[(i, j) = \text{comparison}_k]`.

    Raises
    ------
    ValidationError
        ``comparisons`` is not an integer ``(K, 2)`` array of indices below
        ``n_items``, compares an item with itself, or ``weights`` are negative.

    Notes
    -----
    .. math::

        W_{ij} = \#\{k : \text{item } i \text{ beat item } j \text{ in comparison } k\}.

    References
    ----------
    .. [1] Bradley, Terry. Biometrika 39, 1952.

    Examples
    --------
    >>> from starc.preferences import win_matrix
    >>> win_matrix([(0, 1), (0, 1), (1, 0), (2, 0)])
    array([[0., 2., 0.],
           [1., 0., 0.],
           [1., 0., 0.]])
    """
    C = np.asarray(comparisons)
    if C.ndim != 2 or C.shape[1] != 2 or (C.size and C.dtype.kind not in "iu"):
        raise ValidationError(f"comparisons must be an integer array of shape (K, 2) with "
                              f"rows (winner, loser), got shape {C.shape} and dtype "
                              f"{C.dtype}")
    C = C.astype(np.int64)
    if C.size and C.min() < 0:
        raise ValidationError("comparisons must hold non-negative item indices")
    n = (int(C.max()) + 1 if C.size else 0) if n_items is None else \
        check_positive_int(n_items, "n_items")
    if n == 0:
        raise ValidationError("comparisons is empty; pass n_items to get an all-zero matrix")
    if C.size and C.max() >= n:
        raise ValidationError(f"comparisons refers to item {int(C.max())}, but n_items={n}")
    if np.any(C[:, 0] == C[:, 1]):
        k = int(np.flatnonzero(C[:, 0] == C[:, 1])[0])
        raise ValidationError(f"comparisons[{k}] compares item {int(C[k, 0])} with itself")
    if weights is None:
        w = np.ones(C.shape[0])
    else:
        w = as_float_array(weights, "weights", ndim=1)
        if w.shape[0] != C.shape[0]:
            raise ValidationError(f"weights must have one entry per comparison "
                                  f"({C.shape[0]}), got {w.shape[0]}")
        if np.any(w < 0):
            raise ValidationError("weights must be non-negative")
    W = np.zeros((n, n))
    np.add.at(W, (C[:, 0], C[:, 1]), w)
    return W


def preference_matrix(wins, *, default=0.5):
    r"""Empirical preference matrix from win counts.

    Parameters
    ----------
    wins : array_like of shape (n, n)
        :math:`W_{ij}` = (weighted) number of times item :math:`i` beat item :math:`j`.
    default : float
        :math:`P_{ij}` for pairs never compared, in ``[0, 1]`` (the pair gets
        ``default`` and ``1 - default``); 0.5 by default.

    Returns
    -------
    ndarray of shape (n, n)
        :math:`P` with :math:`P + P^\top = 1` and :math:`P_{ii} = 1/2`.

    Raises
    ------
    ValidationError
        ``wins`` is not a non-negative square matrix or ``default`` is outside
        ``[0, 1]``.

    Notes
    -----
    .. math::

        P_{ij} = \frac{W_{ij}}{W_{ij} + W_{ji}} \quad (W_{ij} + W_{ji} > 0),

    evaluated as :math:`a_{ij} / (a_{ij} + a_{ji})` with :math:`a_{ij} = W_{ij} / 2^k`,
    :math:`2^k` a power of two near :math:`\max(W_{ij}, W_{ji})`: the same number when
    :math:`W_{ij} + W_{ji}` is finite, and the exact ratio for counts anywhere in the
    float range (up to ``1.8e308``, down to subnormals).

    References
    ----------
    .. [1] Rosset et al., arXiv 2404.03715, Sec. 2 (general preference function).

    Examples
    --------
    >>> from starc.preferences import preference_matrix
    >>> preference_matrix([[0, 3, 0], [1, 0, 0], [0, 0, 0]])
    array([[0.5 , 0.75, 0.5 ],
           [0.25, 0.5 , 0.5 ],
           [0.5 , 0.5 , 0.5 ]])
    """
    W = _check_wins(wins)
    default = check_real(default, "default", low=0.0, high=1.0)
    # each pair scaled by a power of two near its larger count: W_ij + W_ji cannot
    # overflow, and the ratio is bit-for-bit W_ij / (W_ij + W_ji) wherever that is finite
    big = np.maximum(W, W.T)
    seen = big > 0
    a = W / pow2_scale(big)
    P = np.where(seen, a / np.where(seen, a + a.T, 1.0), default)
    upper = np.triu(np.ones_like(P, dtype=bool), 1)
    P = np.where(upper, P, (1.0 - P.T))
    np.fill_diagonal(P, 0.5)
    return P


def borda_scores(P):
    r"""Borda scores: expected wins against a uniformly random other item.

    Parameters
    ----------
    P : array_like of shape (n, n)
        Preference matrix, :math:`P_{ij} = \Pr(i \succ j)`.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    ValidationError
        ``P`` is not a square matrix of probabilities with ``P + P.T == 1``.

    Notes
    -----
    .. math::

        b_i = \sum_{j \ne i} P_{ij}, \qquad \sum_i b_i = \binom{n}{2}.

    References
    ----------
    .. [1] de Borda. "Mémoire sur les élections au scrutin". 1781.
    .. [2] Rosset et al., arXiv 2404.03715.

    Examples
    --------
    >>> from starc.preferences import borda_scores
    >>> borda_scores([[0.5, 0.8], [0.2, 0.5]])
    array([0.8, 0.2])
    """
    P = _check_preference_matrix(P)
    return P.sum(axis=1) - np.diag(P)


def copeland_scores(P):
    r"""Copeland scores: pairwise majority wins, ties counting one half.

    Parameters
    ----------
    P : array_like of shape (n, n)
        Preference matrix.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    ValidationError
        ``P`` is not a square matrix of probabilities with ``P + P.T == 1``.

    Notes
    -----
    .. math::

        c_i = \sum_{j \ne i} \Big(\mathbb 1[P_{ij} > \tfrac12]
        + \tfrac12\, \mathbb 1[P_{ij} = \tfrac12]\Big),

    ties judged within ``1e-9``. (Some authors use wins minus losses, which is
    :math:`2c_i - (n - 1)`.)

    References
    ----------
    .. [1] Copeland. "A reasonable social welfare function". Seminar, Univ. Michigan,
       1951.

    Examples
    --------
    >>> from starc.preferences import copeland_scores
    >>> copeland_scores([[0.5, 0.9, 0.5], [0.1, 0.5, 0.6], [0.5, 0.4, 0.5]])
    array([1.5, 1. , 0.5])
    """
    P = _check_preference_matrix(P)
    win = P > 0.5 + PREFERENCE_ATOL
    tie = np.abs(P - 0.5) <= PREFERENCE_ATOL
    np.fill_diagonal(tie, False)
    return win.sum(axis=1) + 0.5 * tie.sum(axis=1)


def condorcet_winner(P):
    r"""The item that beats every other item by a strict majority, if there is one.

    Parameters
    ----------
    P : array_like of shape (n, n)
        Preference matrix.

    Returns
    -------
    int or None
        Index of the Condorcet winner; ``None`` when none exists.

    Raises
    ------
    ValidationError
        ``P`` is not a square matrix of probabilities with ``P + P.T == 1``.

    Notes
    -----
    :math:`i` is the Condorcet winner when

    .. math::

        P_{ij} > \tfrac12 \quad \text{for all } j \ne i ;

    then it is the whole Smith set and the maximal lottery puts probability 1 on it.

    References
    ----------
    .. [1] de Condorcet. "Essai sur l'application de l'analyse à la probabilité des
       décisions rendues à la pluralité des voix". 1785.

    Examples
    --------
    >>> from starc.preferences import condorcet_winner
    >>> condorcet_winner([[0.5, 0.6, 0.7], [0.4, 0.5, 0.9], [0.3, 0.1, 0.5]])
    0
    >>> condorcet_winner([[0.5, 0.0, 1.0], [1.0, 0.5, 0.0], [0.0, 1.0, 0.5]]) is None
    True
    """
    P = _check_preference_matrix(P)
    n = P.shape[0]
    beats = P > 0.5 + PREFERENCE_ATOL
    wins = beats.sum(axis=1)
    hit = np.flatnonzero(wins == n - 1)
    return int(hit[0]) if hit.size else None


def smith_set(P):
    r"""Smallest non-empty set of items that each beat every item outside it.

    Parameters
    ----------
    P : array_like of shape (n, n)
        Preference matrix.

    Returns
    -------
    ndarray of int
        Sorted indices of the Smith set.

    Raises
    ------
    ValidationError
        ``P`` is not a square matrix of probabilities with ``P + P.T == 1``.

    Notes
    -----
    The Smith set is the smallest :math:`S \ne \emptyset` with

    .. math::

        P_{ij} > \tfrac12 \qquad \text{for all } i \in S,\ j \notin S .

    Every member beats every non-member, so members have strictly more Copeland wins than
    non-members; the Smith set is therefore the smallest "top" set in the Copeland
    order that dominates the rest, which is how it is computed (:math:`O(n^2)` per
    candidate threshold).

    References
    ----------
    .. [1] Smith. "Aggregation of preferences with variable electorate". Econometrica 41,
       1973.

    Examples
    --------
    A rock-paper-scissors cycle above a fourth, dominated item:

    >>> import numpy as np
    >>> from starc.preferences import smith_set
    >>> P = np.array([[0.5, 0.0, 1.0, 0.9],
    ...               [1.0, 0.5, 0.0, 0.9],
    ...               [0.0, 1.0, 0.5, 0.9],
    ...               [0.1, 0.1, 0.1, 0.5]])
    >>> smith_set(P)
    array([0, 1, 2])
    """
    P = _check_preference_matrix(P)
    beats = P > 0.5 + PREFERENCE_ATOL
    wins = beats.sum(axis=1)
    order = np.argsort(-wins, kind="stable")
    n = P.shape[0]
    for k in range(1, n + 1):
        if k < n and wins[order[k - 1]] == wins[order[k]]:
            continue                    # a Smith set never splits a score tie
        inside = order[:k]
        outside = order[k:]
        if outside.size == 0 or np.all(beats[np.ix_(inside, outside)]):
            return np.sort(inside)
    return np.arange(n)


def circular_triads(P):
    r"""Number of majority cycles :math:`i \succ j \succ k \succ i` (circular triads).

    Parameters
    ----------
    P : array_like of shape (n, n)
        Preference matrix; pairs with :math:`P_{ij} = 1/2` (within ``1e-9``) are ties and
        take part in no cycle.

    Returns
    -------
    int

    Raises
    ------
    ValidationError
        ``P`` is not a square matrix of probabilities with ``P + P.T == 1``.

    Notes
    -----
    With :math:`A_{ij} = \mathbb 1[P_{ij} > 1/2]` the majority digraph, each directed
    3-cycle appears three times on the diagonal of :math:`A^3`:

    .. math::

        c = \tfrac13 \operatorname{tr}(A^3)
        \;=\; \binom n3 - \sum_i \binom{s_i}{2}
        \quad \text{(tournaments, } s_i = \text{wins of } i\text{)},

    the second form being Kendall and Babington Smith's count for complete tournaments
    [1]_.

    References
    ----------
    .. [1] Kendall, Babington Smith. Biometrika 31, 1940.

    Examples
    --------
    >>> from starc.preferences import circular_triads
    >>> circular_triads([[0.5, 0.0, 1.0], [1.0, 0.5, 0.0], [0.0, 1.0, 0.5]])
    1
    """
    P = _check_preference_matrix(P)
    A = (P > 0.5 + PREFERENCE_ATOL).astype(np.float64)
    return int(round(np.trace(A @ A @ A) / 3.0))


def maximal_lottery(P, *, kind="probability"):
    r"""Maximal lottery: the Nash equilibrium of the symmetric preference game (an LP).

    Parameters
    ----------
    P : array_like of shape (n, n)
        Preference matrix.
    kind : {"probability", "majority"}
        Payoff of the zero-sum game: ``"probability"`` uses the margins
        :math:`M = P - P^\top` (the game :math:`\max_\pi \min_{\pi'} P(\pi \succ \pi')`
        of Direct Nash Optimization [1]_); ``"majority"`` uses their signs (Fishburn's
        maximal lotteries [2]_).

    Returns
    -------
    ndarray of shape (n,)
        A probability vector :math:`p` with :math:`p^\top M \ge 0` componentwise.

    Raises
    ------
    ValidationError
        ``P`` is not a preference matrix or ``kind`` is unknown.
    SolverError
        If HiGHS does not report an optimal solution.

    Notes
    -----
    The game is symmetric and zero-sum, so its value is 0 and the equilibria are

    .. math::

        \max_{p \in \Delta_n,\ v} v \quad \text{s.t.}\quad
        \sum_i p_i M_{ij} \ge v \ \ \forall j ,

    solved with :func:`scipy.optimize.linprog` (HiGHS). A Condorcet winner gets
    probability 1; rock-paper-scissors gives the uniform lottery. The equilibrium is
    unique for generic (odd, tie-free) majority margins [3]_; otherwise HiGHS returns one
    optimal vertex.

    References
    ----------
    .. [1] Rosset et al., arXiv 2404.03715 (Nash equilibrium of the preference game).
    .. [2] Fishburn. Rev. Econ. Stud. 51, 1984.
    .. [3] Laffond, Laslier, Le Breton. "The bipartisan set of a tournament game". Games
       Econ. Behav. 5, 1993.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.preferences import maximal_lottery
    >>> rps = np.array([[0.5, 0.0, 1.0], [1.0, 0.5, 0.0], [0.0, 1.0, 0.5]])
    >>> np.round(maximal_lottery(rps), 6)
    array([0.333333, 0.333333, 0.333333])
    >>> maximal_lottery([[0.5, 0.7], [0.3, 0.5]])
    array([1., 0.])
    """
    from scipy.optimize import linprog

    P = _check_preference_matrix(P)
    check_choice(kind, "kind", LOTTERY_KINDS)
    n = P.shape[0]
    M = P - P.T
    if kind == "majority":
        M = np.where(np.abs(M) <= 2 * PREFERENCE_ATOL, 0.0, np.sign(M))
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-M.T, np.ones((n, 1))])
    b_ub = np.zeros(n)
    A_eq = np.hstack([np.ones((1, n)), np.zeros((1, 1))])
    bounds = [(0.0, None)] * n + [(None, None)]
    try:  # the data are already O(1): entries of P - P^T lie in [-1, 1]
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[1.0], bounds=bounds,
                      method="highs")
    except Exception as err:  # noqa: BLE001 - every solver failure becomes a SolverError
        raise SolverError(f"HiGHS failed on the maximal-lottery LP "
                          f"({type(err).__name__}: {err})") from None
    if res.status != 0 or res.x is None:
        raise SolverError(f"HiGHS did not solve the maximal-lottery LP: {res.message}")
    p = np.maximum(res.x[:n], 0.0)
    return p / p.sum()


@dataclass(frozen=True)
class BradleyTerryFit:
    r"""Result of :func:`fit_bradley_terry`.

    Attributes
    ----------
    scores : ndarray of shape (n,)
        Maximum-likelihood scores :math:`\hat s` (mean zero).
    probabilities : ndarray of shape (n, n)
        :math:`\sigma(\hat s_i - \hat s_j)`.
    log_likelihood : float
        :math:`\ell(\hat s)` (without the penalty).
    deviance : float
        :math:`2(\ell_{\text{saturated}} - \ell(\hat s))`; asymptotically
        :math:`\chi^2_{\text{df}}` when the Bradley-Terry model holds.
    df : int
        Number of compared pairs minus :math:`(n - 1)`.
    n_iter : int
        Newton iterations used.
    l2 : float
        The ridge penalty used.

    Notes
    -----
    The model and the gauge:

    .. math::

        \Pr(i \succ j) = \sigma(s_i - s_j), \qquad \sum_i s_i = 0 .

    References
    ----------
    .. [1] Bradley, Terry. Biometrika 39, 1952.

    Examples
    --------
    >>> from starc.preferences import fit_bradley_terry
    >>> fit = fit_bradley_terry([[0, 3], [1, 0]])
    >>> round(float(fit.probabilities[0, 1]), 6), round(fit.deviance, 12)
    (0.75, 0.0)
    """

    scores: np.ndarray
    probabilities: np.ndarray
    log_likelihood: float
    deviance: float
    df: int
    n_iter: int
    l2: float


def fit_bradley_terry(wins, *, l2=0.0, tol=1e-10, max_iter=100):
    r"""Bradley-Terry maximum-likelihood scores and the deviance of the fit.

    Parameters
    ----------
    wins : array_like of shape (n, n)
        :math:`W_{ij}` = (weighted) number of times :math:`i` beat :math:`j`
        (:func:`win_matrix`); the diagonal is ignored.
    l2 : float
        Ridge penalty :math:`\lambda \ge 0` on the scores. With :math:`\lambda = 0` the
        maximum-likelihood estimate exists only when the "beat" digraph is strongly
        connected [3]_, which is checked.
    tol : float
        Convergence tolerance on the gradient, relative to the total count
        :math:`\sum_{ij} W_{ij}`.
    max_iter : int
        Maximum number of Newton iterations.

    Returns
    -------
    BradleyTerryFit

    Raises
    ------
    ValidationError
        If ``l2 == 0`` and the MLE does not exist (some group of items never lost to
        the rest), or the log-likelihood exceeds the float64 range (about ``1.8e308``).
    ConvergenceError
        If Newton's method does not converge in ``max_iter`` iterations (or meets a
        singular Hessian).

    Notes
    -----
    Damped Newton ascent on the concave penalised log-likelihood

    .. math::

        \ell_\lambda(s) = \sum_{i \ne j} W_{ij} \log \sigma(s_i - s_j)
        - \frac{\lambda}{2}\lVert s\rVert^2 ,

    whose Hessian is minus the Laplacian with weights
    :math:`N_{ij}\,p_{ij}(1 - p_{ij})`, :math:`N_{ij} = W_{ij} + W_{ji}`. The deviance
    against the saturated model (one free probability per compared pair) is

    .. math::

        D = 2 \sum_{i \ne j} W_{ij} \log \frac{W_{ij}}{N_{ij}\, \sigma(\hat s_i - \hat s_j)} .

    The likelihood is homogeneous of degree one in the counts,
    :math:`\ell(s; cW) = c\,\ell(s; W)`, so the fit runs on the shares
    :math:`W / \sum W` with the penalty :math:`\lambda / \sum W` (the same maximiser):
    the scores do not depend on the units of ``wins`` (counts, weights, frequencies, from
    :math:`10^{-300}` to :math:`10^{300}` and beyond), while the log-likelihood and the
    deviance scale with them; when those exceed the float64 range the fit is refused.

    References
    ----------
    .. [1] Bradley, Terry. Biometrika 39, 1952.
    .. [2] Hunter. Ann. Statist. 32, 2004.
    .. [3] Ford. "Solution of a ranking problem from binary comparisons". Amer. Math.
       Monthly 64, 1957.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.preferences import fit_bradley_terry
    >>> W = np.array([[0, 8, 9], [2, 0, 6], [1, 4, 0]])
    >>> fit = fit_bradley_terry(W)
    >>> np.round(fit.scores, 3)
    array([ 1.17 , -0.342, -0.828])
    >>> fit.df, round(fit.deviance, 3)
    (1, 0.078)
    """
    from scipy.sparse.csgraph import connected_components
    from scipy.special import expit, log_expit, xlogy

    W = _check_wins(wins)
    l2 = check_real(l2, "l2", low=0.0)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_positive_int(max_iter, "max_iter")
    n = W.shape[0]
    # The likelihood is homogeneous in the counts: l(s; c W) = c l(s; W). Fit the shares
    # w = W / sum(W) with the penalty l2 / sum(W) (the same maximiser), so the fit does not
    # depend on the units of W. sum(W) = peak * total is kept as two factors: it can
    # exceed the float64 range when the counts are near it.
    peak = pow2_scale(W.max()).item()
    W = W / peak                                   # entries in [0, 2): no overflow below
    total = float(W.sum())
    if total > 0:
        W = W / total
    if l2 == 0.0 and n > 1:
        n_comp, _ = connected_components(W > 0, directed=True, connection="strong")
        if n_comp > 1:
            raise ValidationError(
                "wins: the Bradley-Terry maximum-likelihood estimate does not exist because "
                "the digraph 'i beat j' is not strongly connected (some items never lost, "
                "never won, or were never compared with the rest); pass l2 > 0 for a "
                "penalised fit")
    N = W + W.T
    with np.errstate(over="ignore"):
        lam = l2 / peak / total if total > 0 else math.inf

    def objective(s):
        D = s[:, None] - s[None, :]
        return float(np.sum(W * log_expit(D))) - 0.5 * lam * float(s @ s)

    s = np.zeros(n)
    n_iter = 0
    if math.isfinite(lam):          # an infinite penalty (no wins at all) leaves s = 0
        obj = objective(s)
        for it in range(max_iter + 1):
            p = expit(s[:, None] - s[None, :])
            grad = (W - N * p).sum(axis=1) - lam * s
            if np.max(np.abs(grad)) <= tol:
                break
            if it == max_iter:
                raise ConvergenceError(f"Bradley-Terry Newton iterations did not converge "
                                       f"in {max_iter} steps (gradient tolerance {tol:g} "
                                       "relative to the total count)")
            C = N * p * (1.0 - p)
            H = np.diag(C.sum(axis=1)) - C + lam * np.eye(n)
            if l2 == 0.0:                  # fixes the gauge sum(s) = 0, at the scale of H
                H = H + np.ones((n, n)) * (np.trace(H) / n**2)
            try:
                step = np.linalg.solve(H, grad)
            except np.linalg.LinAlgError:
                raise ConvergenceError("Bradley-Terry Newton step: the Hessian is singular "
                                       "to working precision (counts spanning more than the "
                                       "float range?)") from None
            t = 1.0
            while True:
                s_new = s + t * step
                obj_new = objective(s_new)
                if obj_new >= obj - 1e-12 * abs(obj) or t < 1e-10:
                    break
                t *= 0.5
            s, obj = s_new, obj_new
            n_iter = it + 1
    if l2 == 0.0:
        s = s - s.mean()
    P = expit(s[:, None] - s[None, :])
    ll = float(np.sum(W * log_expit(s[:, None] - s[None, :])))
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2.0 * float(np.sum(xlogy(W, W) - xlogy(W, N * P)))
    # back to the units of the counts
    with np.errstate(over="ignore"):
        ll, dev = ll * total * peak, max(dev, 0.0) * total * peak
    if not (math.isfinite(ll) and math.isfinite(dev)):
        raise ValidationError(
            "wins: the log-likelihood of these counts exceeds the float64 range (about "
            "1.8e308); divide wins by a constant first (the scores and probabilities do not "
            "change, the log-likelihood and deviance scale with it)")
    n_pairs = int(np.count_nonzero(np.triu(N, 1) > 0))
    return BradleyTerryFit(scores=s, probabilities=P, log_likelihood=ll,
                           deviance=dev, df=n_pairs - (n - 1), n_iter=n_iter,
                           l2=float(l2))
