"""Private helpers shared by the modules of :mod:`starc.transforms`.

Argument conversion, the parts of the reward transforms that :func:`~starc.transforms.transform`
and :func:`~starc.transforms.transform_reward` share, and the tie-group bookkeeping used by
best-of-n and win rates. Nothing here is public API.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._extremes import finite_result, scaled_by_max_abs, unscale
from .._rules import STOCHASTIC_ATOL
from .._validation import as_float_array, check_real
from ..exceptions import ValidationError

#: The transform kinds (of ``TRANSFORM_KINDS``) that need no statistic of the rewards.
ELEMENTWISE_KINDS = ("identity", "clip", "tanh", "sigmoid")


def as_probs(p, name: str) -> np.ndarray:
    """Return ``p`` (..., n) as a float64 array of probabilities summing to 1 along the last axis."""
    arr = as_float_array(p, name, min_ndim=1)
    if arr.shape[-1] == 0:
        raise ValidationError(f"{name} must have at least one response along its last axis, "
                              f"got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValidationError(f"{name} has a negative entry {arr.min():.3g}; probabilities "
                              "must be >= 0")
    if np.any(arr > 1.0 + STOCHASTIC_ATOL):  # before summing: a huge entry would overflow
        raise ValidationError(f"{name} has the entry {arr.max():.3g}; probabilities must "
                              "lie in [0, 1] (and sum to 1)")
    sums = arr.sum(axis=-1)
    err = np.abs(sums - 1.0)
    if np.any(err > STOCHASTIC_ATOL):
        raise ValidationError(
            f"{name} must sum to 1 along its last axis (within {STOCHASTIC_ATOL:g}); one row "
            f"sums to {float(sums.flat[int(np.argmax(err))])!r}. Normalise it first, e.g. "
            "p / p.sum(axis=-1, keepdims=True)")
    return arr


def broadcast_pair(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str):
    """Broadcast two arrays, naming both in the error when their shapes do not fit."""
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValidationError(f"{name_a} of shape {a.shape} and {name_b} of shape {b.shape} "
                              "do not broadcast against each other") from None
    return np.broadcast_to(a, shape), np.broadcast_to(b, shape)


def broadcast_all(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Broadcast named arrays together, listing every shape in the error."""
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise ValidationError(f"shapes do not broadcast against each other: {shapes}") from None
    return [np.broadcast_to(a, shape) for a in arrays.values()]


def check_axis(axis, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` as a non-negative int valid for an array of ``ndim`` dimensions."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValidationError(f"{name} must be an integer, got {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValidationError(f"{name}={axis} is out of range for an array with {ndim} "
                              "dimension(s)")
    return axis % ndim


def check_kind_options(kind, r_ref, low, high) -> None:
    """Refuse ``r_ref`` unless ``kind == "lsc"`` and ``low``/``high`` unless ``"clip"``."""
    if kind != "lsc" and r_ref is not None:
        raise ValidationError(f"r_ref is only used by kind='lsc', not kind={kind!r}")
    if kind != "clip" and (low is not None or high is not None):
        raise ValidationError(f"low and high are only used by kind='clip', not kind={kind!r}")


def elementwise_transform(arr: np.ndarray, kind: str, low, high) -> np.ndarray:
    """The transforms of :data:`ELEMENTWISE_KINDS`, entry by entry (a new array)."""
    if kind == "identity":
        return arr.copy()
    if kind == "clip":
        if low is None and high is None:
            raise ValidationError("kind='clip' needs low and/or high (the clipping bounds)")
        lo = -np.inf if low is None else check_real(low, "low")
        hi = np.inf if high is None else check_real(high, "high")
        if lo > hi:
            raise ValidationError(f"low must be <= high for kind='clip', got low={lo}, "
                                  f"high={hi}")
        return np.clip(arr, lo, hi)
    if kind == "tanh":
        return np.tanh(arr)
    from scipy.special import expit  # sigmoid

    return expit(arr)


def moments(arr: np.ndarray, axes, weights=None):
    r"""Centred values and standard deviation over ``axes``, without overflow.

    Returns ``(centred_s, std_s, maxabs_s, k)``: ``arr - mean = centred_s * 2**k``,
    ``std = std_s * 2**k`` (population, ``ddof=0``; under the distribution ``weights`` when
    given) and ``maxabs_s * 2**k`` the largest ``|arr|`` (over the support of
    ``weights``). Computed on ``arr / 2**k`` with :math:`2^k` a power of two near
    ``max |arr|`` (kept axes): bit-for-bit the textbook numbers when those are finite.
    """
    r_s, k = scaled_by_max_abs(arr, axes)
    if weights is None:
        centred = r_s - r_s.mean(axis=axes, keepdims=True)
        std = np.sqrt(np.mean(centred**2, axis=axes, keepdims=True))
        maxabs = np.max(np.abs(r_s), axis=axes, keepdims=True)
    else:
        centred = r_s - np.sum(weights * r_s, axis=axes, keepdims=True)
        std = np.sqrt(np.sum(weights * centred**2, axis=axes, keepdims=True))
        maxabs = np.max(np.where(weights > 0, np.abs(r_s), 0.0), axis=axes, keepdims=True)
    return centred, std, maxabs, k


def centre(arr: np.ndarray, axes, what: str, weights=None) -> np.ndarray:
    """``arr - mean(arr)`` over ``axes`` (weighted by ``weights``), refused if beyond range."""
    centred, _, _, k = moments(arr, axes, weights)
    return finite_result(unscale(centred, k), what)


def zscore(arr: np.ndarray, axes, weights=None) -> np.ndarray:
    """``(arr - mean) / std`` over ``axes``; 0 where ``std`` is round-off (never overflows)."""
    centred, std, maxabs, _ = moments(arr, axes, weights)
    return standardize_centred(centred, std, maxabs)


def minmax(arr: np.ndarray, axes, weights=None) -> np.ndarray:
    """``(arr - min) / (max - min)`` over ``axes`` (over the support of ``weights``)."""
    r_s, _ = scaled_by_max_abs(arr, axes)
    if weights is None:
        lo, hi = (np.min(r_s, axis=axes, keepdims=True), np.max(r_s, axis=axes,
                                                                keepdims=True))
    else:
        lo = np.min(np.where(weights > 0, r_s, np.inf), axis=axes, keepdims=True)
        hi = np.max(np.where(weights > 0, r_s, -np.inf), axis=axes, keepdims=True)
    return rescale(r_s, lo, hi)


def scaled_sum(u: np.ndarray, ax: int, what: str | None, weights=None) -> np.ndarray:
    """``sum(u * weights)`` along ``ax`` without intermediate overflow; refused if the sum
    itself is beyond the float64 range (``what=None``: returned as +-inf instead, for callers
    to whom that limit is meaningful). ``weights`` (shaped to broadcast) are optional."""
    u_s, k = scaled_by_max_abs(u, ax)
    k = np.squeeze(k, axis=ax)
    if weights is not None:
        w_s, kw = scaled_by_max_abs(weights)
        u_s = u_s * w_s
        k = k + kw.reshape(())
    out = unscale(np.sum(u_s, axis=ax), k)
    return out if what is None else finite_result(out, what)


def scaled_prod(u: np.ndarray, ax: int, what: str) -> np.ndarray:
    """``prod(u)`` along ``ax`` as mantissa and exponent: no intermediate overflow or
    underflow; refused if the product itself is beyond the float64 range."""
    m, e = np.frexp(np.moveaxis(u, ax, 0))
    acc = np.ones(m.shape[1:])
    exp = np.zeros(m.shape[1:], dtype=np.int64)
    for j in range(m.shape[0]):
        acc, de = np.frexp(acc * m[j])
        exp += e[j] + de
    with np.errstate(under="ignore"):
        return finite_result(unscale(acc, exp), what)


def softmin(u: np.ndarray, beta: float, ax: int) -> np.ndarray:
    r""":math:`-\beta \log \tfrac1K \sum_k e^{-u_k/\beta}` along ``ax``, finite inputs.

    As :math:`-\beta \log(1 + \operatorname{mean}(\operatorname{expm1}(-(u -
    \min u)/\beta))) + \min u`, exact in both limits, evaluated on :math:`u / 2^k` with
    temperature :math:`\beta / 2^k` (the soft-min is positively homogeneous), so no
    difference or ratio overflows; the result lies between the min and the mean.
    """
    u_s, k = scaled_by_max_abs(u, ax)
    with np.errstate(over="ignore", under="ignore"):
        b_s = np.ldexp(beta, -k)              # beta / 2^k, per slice; may be 0 or inf
    low = u_s.min(axis=ax, keepdims=True)
    safe = np.where((b_s > 0) & np.isfinite(b_s), b_s, 1.0)
    with np.errstate(over="ignore"):
        shrink = np.mean(np.expm1(-(u_s - low) / safe), axis=ax, keepdims=True)
    out = low - safe * np.log1p(shrink)
    out = np.where(b_s == 0, low, out)                          # beta << |u|: the min
    out = np.where(np.isinf(b_s), u_s.mean(axis=ax, keepdims=True), out)  # >>: the mean
    return np.squeeze(unscale(out, k), axis=ax)


def standardize_centred(centred: np.ndarray, std: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``centred / std``, 0 where ``std`` is round-off of ``scale`` (the largest |r|)."""
    flat = std <= 1e-12 * np.maximum(scale, 1e-300)
    return np.where(flat, 0.0, centred / np.where(flat, 1.0, std))


def rescale(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(x - lo) / (hi - lo)``, 0 where ``hi == lo``."""
    span = hi - lo
    flat = span <= 0
    return np.where(flat, 0.0, (x - lo) / np.where(flat, 1.0, span))


def check_nonempty_axis(arr: np.ndarray, axis, name: str, what: str) -> int:
    """:func:`check_axis` for ``arr`` that also refuses an empty axis (``what`` names its
    entries in the error: "U has no properties along axis 0")."""
    ax = check_axis(axis, arr.ndim)
    if arr.shape[ax] == 0:
        raise ValidationError(f"{name} has no {what} along axis {axis}, got shape {arr.shape}")
    return ax


def tie_groups(r_sorted: np.ndarray):
    """Start (inclusive) and end (exclusive) index of each entry's group of equal values.

    ``r_sorted`` has shape ``(B, m)`` and is sorted along its last axis.
    """
    n_rows, m = r_sorted.shape
    idx = np.broadcast_to(np.arange(m), (n_rows, m))
    new = np.ones((n_rows, m), dtype=bool)
    new[:, 1:] = r_sorted[:, 1:] != r_sorted[:, :-1]
    last = np.ones((n_rows, m), dtype=bool)
    last[:, :-1] = new[:, 1:]
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=1)
    end = np.where(last, idx + 1, m)
    end = np.minimum.accumulate(end[:, ::-1], axis=1)[:, ::-1]
    return start, end


def prefix_and_tail(p_sorted: np.ndarray):
    """Cumulative sums ``C[k] = sum_{j<k} p[j]`` and ``T[k] = sum_{j>=k} p[j]``, shape (B, m+1)."""
    n_rows = p_sorted.shape[0]
    zero = np.zeros((n_rows, 1))
    head = np.concatenate([zero, np.cumsum(p_sorted, axis=1)], axis=1)
    tail = np.concatenate([np.cumsum(p_sorted[:, ::-1], axis=1)[:, ::-1], zero], axis=1)
    return head, tail
