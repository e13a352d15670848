r"""Norms of prompt-response rewards over their valid entries.

A STARC metric divides a canonical reward by a norm and measures differences with a
metric induced by a (possibly different) norm [1]_ (Def. 3). For an array
:math:`x(x, y)` over the valid entries :math:`V` (the ``mask``):

.. math::

    \|x\|_p = \Big(\sum_{(x, y) \in V} |x(x, y)|^p\Big)^{1/p}, \qquad
    \|x\|_\infty = \max_{(x, y) \in V} |x(x, y)|,

and, weighted by the coverage :math:`D(x, y) = \mu(x)\,\nu(y|x)` (prompt weights times
response weights),

.. math::

    \|x\|_{D, p} = \Big(\sum_{(x, y) \in V} D(x, y)\,|x(x, y)|^p\Big)^{1/p}, \qquad
    \|x\|_{D, \infty} = \max_{(x, y) \in V :\, D(x, y) > 0} |x(x, y)| .

The names are those of :data:`starc.NORMS`: ``"l1"``, ``"l2"``, ``"linf"``,
``"weighted_l1"``, ``"weighted_l2"``, ``"weighted_linf"``. The weighted norms ignore
entries of zero coverage, so they are seminorms when some :math:`D(x, y) = 0`.

Norms are computed on :math:`x / \max|x|` and scaled back, so scores from
:math:`10^{-300}` to :math:`10^{300}` neither overflow nor underflow when squared.
:func:`normalize` maps an array whose norm is zero up to round-off to zero: its norm is at
most :data:`~starc.norms.ZERO_RTOL` times the norm of the all-ones array times the
magnitude of the reference it was computed from (the convention of
:func:`starc.normalize`).

References
----------
.. [1] Skalse et al. "STARC: A General Framework for Quantifying Differences Between
   Reward Functions". ICLR 2024, Def. 3.
"""

from __future__ import annotations

import numpy as np

from .._extremes import finite_result
from ..norms import NORMS, ZERO_RTOL, check_norm_name
from ._checks import Setting, as_bandit_reward, max_abs, reward_shape, setting

__all__ = ["NORMS", "norm", "normalize"]


def norm_unit(x: np.ndarray, ord: str, st: Setting, d: np.ndarray | None = None
              ) -> np.ndarray:
    """The norm over the last two axes of ``x`` (0 on padding, entries of order 1).

    ``d`` is the coverage ``mu nu`` (computed when None and needed).
    """
    if ord.startswith("weighted_"):
        if d is None and st.nu is None:
            # uniform nu: D(x, y) = mu(x) / count(x) on the valid entries (padding holds 0)
            row = st.mu / st.counts
            if ord == "weighted_l2":
                return np.sqrt(np.einsum("...ij,...ij->...i", x, x) @ row)
            if ord == "weighted_l1":
                return np.abs(x).sum(axis=-1) @ row
            seen = st.mu > 0
            return max_abs(x if seen.all() else x[..., seen, :])
        if d is None:
            d = st.weights
        if ord == "weighted_l2":
            return np.sqrt(np.einsum("...ij,ij,...ij->...", x, d, x))
        if ord == "weighted_l1":
            return np.einsum("...ij,ij->...", np.abs(x), d)
        return max_abs(np.where(d > 0, x, 0.0))
    if ord == "l2":
        if x.ndim == 2 and x.flags.c_contiguous:
            flat = x.reshape(-1)
            return np.sqrt(np.dot(flat, flat))
        return np.sqrt(np.einsum("...ij,...ij->...", x, x))
    if ord == "l1":
        return np.abs(x).sum(axis=(-2, -1))
    return max_abs(x)


def ones_norm(ord: str, st: Setting, d: np.ndarray | None = None) -> float:
    """The norm of the all-ones array over the valid entries (sets the scale of "zero")."""
    if ord.startswith("weighted_"):
        if ord == "weighted_linf":
            return 1.0  # mu sums to 1, so some D(x, y) > 0
        total = float(st.mu.sum()) if d is None and st.nu is None else \
            float((st.weights if d is None else d).sum())
        return total if ord == "weighted_l1" else float(np.sqrt(total))
    count = float(st.counts.sum())
    return {"l1": count, "l2": float(np.sqrt(count)), "linf": 1.0}[ord]


def negligible(n, ones, scale):
    """The package's zero rule: a norm ``n`` counts as zero when
    ``n <= ZERO_RTOL * ones * scale``.

    ``ones`` is the norm of the all-ones array over the same entries (:func:`ones_norm`),
    ``scale`` the magnitude the round-off is relative to (the largest score the array was
    computed from). Works on floats and arrays; :mod:`starc.bandit._kernels` compiles it
    for its kernels, so the numpy path and the kernels state the rule once.
    """
    return n <= ZERO_RTOL * ones * scale


def scaled_norm(x: np.ndarray, ord: str, st: Setting, d: np.ndarray | None = None
                ) -> np.ndarray:
    """``max|x| * norm(x / max|x|)`` over the last two axes (0 on padding); ``inf`` where
    the norm exceeds the float64 range (the callers refuse it)."""
    big = max_abs(x)
    safe = np.where(big > 0, big, 1.0)
    with np.errstate(over="ignore"):
        return big * norm_unit(x / safe[..., None, None], ord, st, d)


def _inputs(x, ord, mask, prompt_weights, response_weights):
    ord = check_norm_name(ord)
    shape = reward_shape(x, "x")
    st = setting(shape, mask, prompt_weights, response_weights)
    return as_bandit_reward(x, st.mask, "x"), ord, st


def norm(x, ord="l2", *, prompt_weights=None, response_weights=None, mask=None):
    r"""Norm of a prompt-response array (or of each one of a batch) over its valid entries.

    .. math::

        \|x\|_p = \Big(\sum_{(x,y) \in V} |x(x,y)|^p\Big)^{1/p}, \qquad
        \|x\|_{D,p} = \Big(\sum_{(x,y) \in V} \mu(x)\nu(y|x)\,|x(x,y)|^p\Big)^{1/p} .

    Parameters
    ----------
    x : array_like of shape (..., n, m)
    ord : {"l1", "l2", "linf", "weighted_l1", "weighted_l2", "weighted_linf"}
        The paper's ``1``, ``2``, ``"inf"``, ``"weighted_1"``... are accepted too.
    prompt_weights : array_like of shape (n,), optional
        :math:`\mu`, non-negative, summing to 1 (default uniform). Weighted norms only.
    response_weights : array_like of shape (n, m), optional
        :math:`\nu`, each prompt's valid entries summing to 1 (default uniform over the
        valid ones). Weighted norms only.
    mask : array_like of bool, shape (n, m), optional
        True at real entries; the others are never read.

    Returns
    -------
    float or ndarray of shape (...)

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import norm
    >>> x = np.array([[3.0, -4.0], [1.0, np.nan]])
    >>> mask = np.array([[True, True], [True, False]])
    >>> float(norm(x, "l1", mask=mask)), float(norm(x, "linf", mask=mask))
    (8.0, 4.0)
    >>> float(norm(x, "weighted_l1", mask=mask))  # D = [[1/4, 1/4], [1/2, 0]]
    2.25
    """
    arr, ord, st = _inputs(x, ord, mask, prompt_weights, response_weights)
    out = finite_result(scaled_norm(arr, ord, st), f"the {ord} norm of x")
    return float(out) if out.ndim == 0 else out


def normalize(x, ord="l2", *, prompt_weights=None, response_weights=None, mask=None,
              reference=None) -> np.ndarray:
    r"""Divide by the norm; arrays of norm zero up to round-off stay zero.

    .. math::

        s(x) = \begin{cases} x / n(x) & n(x) > \epsilon \\ 0 & \text{otherwise,}
               \end{cases}
        \qquad \epsilon = \mathtt{ZERO\_RTOL}\; n(\mathbf 1)\, \max_V |x_{\text{ref}}| .

    Parameters
    ----------
    x : array_like of shape (..., n, m)
    ord : str
        A name from :data:`NORMS`.
    prompt_weights, response_weights, mask
        As in :func:`norm`.
    reference : array_like of shape (..., n, m), optional
        The array ``x`` was computed from (e.g. the reward before canonicalization); its
        largest valid magnitude sets the scale of "zero". Defaults to ``x``.

    Returns
    -------
    ndarray of shape (..., n, m)
        0 on padding.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import normalize
    >>> normalize(np.array([[3.0, -4.0]]), "l2")
    array([[ 0.6, -0.8]])
    >>> normalize(np.array([[1e-300, 0.0]]), "l2", reference=np.array([[1.0, 0.0]]))
    array([[0., 0.]])
    """
    arr, ord, st = _inputs(x, ord, mask, prompt_weights, response_weights)
    ref = arr if reference is None else as_bandit_reward(reference, st.mask, "reference")
    if reference is not None and ref.shape[-2:] != arr.shape[-2:]:
        from ..exceptions import ValidationError
        raise ValidationError(f"reference must have shape (..., {st.n}, {st.m}), got "
                              f"{ref.shape}")
    big = max_abs(arr)
    safe = np.where(big > 0, big, 1.0)
    unit = arr / safe[..., None, None]
    n_unit = norm_unit(unit, ord, st)
    # n(x) <= eps n(1) max|ref|, compared on the unit scale (no overflow)
    with np.errstate(over="ignore"):  # a reference far larger than x: inf, so "zero"
        ratio = max_abs(ref) / safe
    zero = (big == 0) | negligible(n_unit, ones_norm(ord, st), ratio)
    out = unit / np.where(zero, 1.0, n_unit)[..., None, None]
    if np.any(zero):
        out[zero] = 0.0
    return out
