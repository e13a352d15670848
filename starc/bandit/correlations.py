r"""Per-prompt rank correlations: the baselines reward-model papers report.

Reward models are often compared by how well they rank each prompt's responses alike:
the Spearman or Kendall correlation of the two models' scores over one prompt's responses,
averaged over prompts. For prompt :math:`x` with valid responses :math:`y_1..y_k`:

.. math::

    \rho_S(x) = \frac{\sum_i (a_i - \bar a)(b_i - \bar b)}
                     {\sqrt{\sum_i (a_i - \bar a)^2 \sum_i (b_i - \bar b)^2}},
    \qquad a_i, b_i \text{ the average ranks of } R_1(x, y_i), R_2(x, y_i),

(ties share the average of their ranks), and Kendall's :math:`\tau_b`

.. math::

    \tau_b(x) = \frac{\sum_{i<j} \operatorname{sgn}(R_1^i - R_1^j)\operatorname{sgn}(R_2^i - R_2^j)}
                     {\sqrt{\sum_{i<j} |\operatorname{sgn}(R_1^i - R_1^j)|\;
                            \sum_{i<j} |\operatorname{sgn}(R_2^i - R_2^j)|}}

(concordant minus discordant pairs over the geometric mean of the untied pairs of each
ranking). The summary is the :math:`\mu`-weighted average over the prompts where the
correlation is defined. It is *undefined* for a prompt with fewer than two valid responses
or on which either model's scores are all equal (exactly: ranks are discrete); such
prompts are left out and :math:`\mu` is re-normalised over the others. If no prompt is
left, :class:`~starc.exceptions.ValidationError` is raised.

Both correlations are invariant to every strictly increasing map of each prompt's scores
-- far more than the equivalence :math:`aR + f(x)` of reward models -- so they cannot see
how *much* one response is preferred, which is what regret depends on; and they ignore
how prompts compare with one another. STARC distances (:func:`starc.bandit.distance`)
see both.

References
----------
.. [1] Kendall. "The treatment of ties in ranking problems". Biometrika 33, 1945
   (:math:`\tau_b`).
.. [2] Lambert et al. "RewardBench: Evaluating Reward Models for Language Modeling".
   2024 (reward-model evaluation).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ValidationError
from ._checks import as_bandit_reward, check_name, check_pair_shapes, reward_shape, setting

__all__ = ["RANK_METHODS", "rank_correlation"]

#: Methods of :func:`rank_correlation`.
RANK_METHODS = ("spearman", "kendall")

#: Elements of the (rows, m, m) pair arrays formed at a time by the Kendall kernel.
_PAIR_BLOCK = 2**22


def average_ranks(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """1-based ranks along the last axis among valid entries, ties averaged; 0 on padding."""
    key = x if mask is None else np.where(mask, x, np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    s = np.take_along_axis(key, order, axis=-1)
    m = x.shape[-1]
    idx = np.broadcast_to(np.arange(m), s.shape)
    new = np.ones(s.shape, dtype=bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    last = np.ones(s.shape, dtype=bool)
    last[..., :-1] = new[..., 1:]
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=-1)
    end = np.minimum.accumulate(np.where(last, idx, m)[..., ::-1], axis=-1)[..., ::-1]
    ranks = np.empty(s.shape)
    np.put_along_axis(ranks, order, 0.5 * (start + end) + 1.0, axis=-1)
    if mask is not None:
        ranks = np.where(mask, ranks, 0.0)
    return ranks


def _spearman(a, b, mask, counts):
    ra, rb = average_ranks(a, mask), average_ranks(b, mask)
    centre = 0.5 * (counts + 1.0)[:, None]  # the mean of average ranks is (k + 1) / 2
    da, db = ra - centre, rb - centre
    if mask is not None:
        da, db = np.where(mask, da, 0.0), np.where(mask, db, 0.0)
    cov = (da * db).sum(axis=-1)
    va, vb = (da * da).sum(axis=-1), (db * db).sum(axis=-1)
    ok = (va > 0) & (vb > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cov / np.sqrt(np.where(ok, va * vb, 1.0))
    return np.where(ok, np.clip(rho, -1.0, 1.0), np.nan)


def _order_sign(x: np.ndarray) -> np.ndarray:
    """``sign(x[..., i] - x[..., j])`` as ``(..., m, m)`` floats, without subtracting."""
    xi, xj = x[..., :, None], x[..., None, :]
    return (xi > xj).astype(np.float64) - (xi < xj)


def _kendall(a, b, mask):
    m = a.shape[-1]
    upper = np.triu(np.ones((m, m), dtype=bool), k=1)
    flat_a = a.reshape(-1, a.shape[-2], m)
    flat_b = b.reshape(-1, b.shape[-2], m)
    n = a.shape[-2]
    out = np.empty(flat_a.shape[:2])
    rows = max(1, _PAIR_BLOCK // (m * m))
    for k in range(flat_a.shape[0]):
        for i0 in range(0, n, rows):
            i1 = min(n, i0 + rows)
            xa, xb = flat_a[k, i0:i1], flat_b[k, i0:i1]
            pair = upper if mask is None else (mask[i0:i1, :, None] & mask[i0:i1, None, :]
                                               & upper)
            # sign(x_i - x_j) by comparisons: no difference to overflow
            sa = _order_sign(xa) * pair
            sb = _order_sign(xb) * pair
            num = (sa * sb).sum(axis=(1, 2))
            ta, tb = np.abs(sa).sum(axis=(1, 2)), np.abs(sb).sum(axis=(1, 2))
            ok = (ta > 0) & (tb > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                tau = num / np.sqrt(np.where(ok, ta * tb, 1.0))
            out[k, i0:i1] = np.where(ok, np.clip(tau, -1.0, 1.0), np.nan)
    return out.reshape(a.shape[:-1])


def rank_correlation(r1, r2, *, method="spearman", prompt_weights=None, mask=None,
                     per_prompt=False):
    r"""Per-prompt Spearman or Kendall (:math:`\tau_b`) correlation, averaged over prompts.

    .. math::

        \bar\rho = \frac{\sum_{x \in X_d} \mu(x)\, \rho(x)}{\sum_{x \in X_d} \mu(x)},

    :math:`\rho(x)` the correlation of the two models' scores over prompt :math:`x`'s valid
    responses (ties averaged / :math:`\tau_b`), :math:`X_d` the prompts where it is defined
    (at least two valid responses, neither model constant on them).

    Parameters
    ----------
    r1, r2 : array_like of shape (..., n, m)
        Batch axes broadcast.
    method : {"spearman", "kendall"}, default "spearman"
    prompt_weights : array_like of shape (n,), optional
        :math:`\mu` (default uniform).
    mask : array_like of bool, shape (n, m), optional
        True at real responses; other entries are never read.
    per_prompt : bool, default False
        Return the ``(..., n)`` per-prompt correlations instead, NaN where undefined.

    Returns
    -------
    float or ndarray
        In ``[-1, 1]``.

    Raises
    ------
    ValidationError
        No prompt has a defined correlation (and ``per_prompt`` is False), or bad input.

    References
    ----------
    .. [1] Kendall 1945 (:math:`\tau_b`); Spearman 1904.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import rank_correlation
    >>> r1 = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 2.0]])
    >>> r2 = np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 5.0]])
    >>> rank_correlation(r1, r2, method="spearman", per_prompt=True)
    array([0.5, 1. ])
    >>> round(rank_correlation(r1, r2, method="kendall"), 6)   # (1/3 + 1) / 2
    0.666667
    """
    method = check_name(method, "method", RANK_METHODS)
    s1, s2 = reward_shape(r1, "r1"), reward_shape(r2, "r2")
    check_pair_shapes(s1, s2, "r1", "r2")
    st = setting(s1, mask, prompt_weights, None)
    a, b = np.broadcast_arrays(as_bandit_reward(r1, st.mask, "r1"),
                               as_bandit_reward(r2, st.mask, "r2"))
    if method == "spearman":
        rho = _spearman(a, b, st.mask, st.counts)
    else:
        rho = _kendall(a, b, st.mask)
    if per_prompt:
        return rho
    defined = ~np.isnan(rho)
    w = np.where(defined, st.mu, 0.0)
    total = w.sum(axis=-1)
    if np.any(total <= 0):
        raise ValidationError(f"the {method} correlation is undefined on every prompt of "
                              "positive weight (each has fewer than two valid responses, or "
                              "a model scores all of its responses alike)")
    out = (np.where(defined, rho, 0.0) * w).sum(axis=-1) / total
    return float(out) if out.ndim == 0 else out
