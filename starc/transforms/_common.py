"""Private helpers shared by the modules of :mod:`starc.transforms`.

Argument conversion and the tie-group bookkeeping used by best-of-n and win rates.
Nothing here is public API.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import STOCHASTIC_ATOL, as_float_array
from ..exceptions import ValidationError


def as_log_probs(logp, name: str) -> np.ndarray:
    """Return ``logp`` (..., n) as float64 log-probabilities normalised along the last axis.

    ``-inf`` marks responses of probability zero; NaN and ``+inf`` are refused, and every
    row needs at least one finite entry.
    """
    arr = as_float_array(logp, name, min_ndim=1, allow_nonfinite=True)
    if np.any(np.isnan(arr)):
        raise ValidationError(f"{name} contains {int(np.isnan(arr).sum())} NaN value(s); "
                              "every log-probability must be a number or -inf")
    if np.any(arr == np.inf):
        raise ValidationError(f"{name} contains +inf; log-probabilities must be finite or "
                              "-inf (for responses of probability zero)")
    if arr.shape[-1] == 0:
        raise ValidationError(f"{name} must have at least one response along its last axis, "
                              f"got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not np.all(finite.any(axis=-1)):
        raise ValidationError(f"{name} has a row that is -inf everywhere; every base policy "
                              "needs at least one response of positive probability")
    from scipy.special import logsumexp

    return arr - logsumexp(arr, axis=-1, keepdims=True)


def as_probs(p, name: str) -> np.ndarray:
    """Return ``p`` (..., n) as a float64 array of probabilities summing to 1 along the last axis."""
    arr = as_float_array(p, name, min_ndim=1)
    if arr.shape[-1] == 0:
        raise ValidationError(f"{name} must have at least one response along its last axis, "
                              f"got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValidationError(f"{name} has a negative entry {arr.min():.3g}; probabilities "
                              "must be >= 0")
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
