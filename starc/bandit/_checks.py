"""Argument checks of :mod:`starc.bandit` (not public API).

A bandit reward is a float array ``(..., n, m)``: ``n`` prompts, at most ``m`` responses
each. ``mask`` (``(n, m)`` bool) marks the real entries of ragged response sets; entries
where it is False are *never read*: :func:`as_bandit_reward` replaces them by 0 before any
arithmetic, so they may hold NaN or garbage. Prompt weights :math:`\\mu` are ``(n,)``,
non-negative and sum to 1; response weights :math:`\\nu` are ``(n, m)``, non-negative, and
each prompt's valid entries sum to 1 (both to a relative tolerance of
:data:`starc._rules.WEIGHT_RTOL`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._rules import WEIGHT_RTOL
from .._validation import as_float_array, check_choice
from ..exceptions import ValidationError



class Setting(NamedTuple):
    """The validated weights of a bandit problem of shape ``(n, m)``.

    ``mask`` is None when every entry is valid (the fast path); ``nu`` is None for the
    default (uniform over each prompt's valid responses), else ``(n, m)`` with 0 on
    padding; ``counts`` is the number of valid responses of each prompt.
    """

    n: int
    m: int
    mask: np.ndarray | None
    mu: np.ndarray
    nu: np.ndarray | None
    counts: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """The mask as a full ``(n, m)`` bool array."""
        return np.ones((self.n, self.m), bool) if self.mask is None else self.mask

    @property
    def nu_full(self) -> np.ndarray:
        r"""The response weights :math:`\nu` as a full ``(n, m)`` array (0 on padding)."""
        if self.nu is not None:
            return self.nu
        return self.valid / self.counts[:, None].astype(np.float64)

    @property
    def weights(self) -> np.ndarray:
        r"""The coverage :math:`D(x, y) = \mu(x)\,\nu(y|x)`, ``(n, m)``."""
        return self.mu[:, None] * self.nu_full


def mask_counts(mask: np.ndarray) -> np.ndarray:
    """Valid responses per prompt, ``(n,)`` int64 (a float32 BLAS row sum: exact below 2**24,
    several times faster than a boolean reduction along a short axis)."""
    m = mask.shape[1]
    if m < 2**24:
        return (mask.astype(np.float32) @ np.ones(m, np.float32)).astype(np.int64)
    return np.count_nonzero(mask, axis=1).astype(np.int64)  # pragma: no cover


def check_mask(mask, shape: tuple[int, int], name: str = "mask") -> np.ndarray | None:
    """Return ``mask`` as an ``(n, m)`` bool array, or None when it is None or all True."""
    return check_mask_counts(mask, shape, name)[0]


def check_mask_counts(mask, shape: tuple[int, int], name: str = "mask"):
    """``(mask or None, counts)``: :func:`check_mask` and the valid responses per prompt."""
    if mask is None:
        return None, np.full(shape[0], shape[1], dtype=np.int64)
    try:
        arr = np.asarray(mask)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise ValidationError(f"{name} must be a boolean array of shape {tuple(shape)}: "
                              f"{err}") from None
    if arr.dtype != bool:
        if arr.dtype.kind in "iu" and arr.size and np.isin(arr, (0, 1)).all():
            arr = arr.astype(bool)
        elif arr.dtype.kind in "iu" and arr.size == 0:
            arr = arr.astype(bool)
        else:
            raise ValidationError(f"{name} must be a boolean array of shape {shape} "
                                  f"(True = a real response), got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValidationError(f"{name} must have shape {tuple(shape)} (prompts x responses) "
                              f"to match the rewards, got {arr.shape}")
    counts = mask_counts(arr)
    if np.any(counts < 1):
        bad = np.flatnonzero(counts < 1)
        raise ValidationError(f"{name} leaves {bad.size} prompt(s) without a valid response "
                              f"(first: prompt {int(bad[0])}); every prompt needs at least "
                              "one True entry")
    if int(counts.sum()) == arr.size:
        return None, counts
    return np.ascontiguousarray(arr), counts


def reward_shape(reward, name: str) -> tuple[int, ...]:
    """The shape of a reward argument (without converting an array)."""
    try:
        shape = np.shape(reward)
    except (TypeError, ValueError):  # ragged nested sequences: as_float_array explains
        as_float_array(reward, name, allow_nonfinite=True)
        raise ValidationError(f"{name} must be a numeric array of shape (..., n_prompts, "
                              "n_responses)") from None
    if len(shape) < 2:
        raise ValidationError(f"{name} must have shape (..., n_prompts, n_responses), got "
                              f"shape {shape}")
    if shape[-2] < 1 or shape[-1] < 1:
        raise ValidationError(f"{name} needs at least one prompt and one response, got "
                              f"shape {shape}")
    return shape


def as_bandit_reward(reward, mask: np.ndarray | None, name: str = "reward", *,
                     copy: bool = False) -> np.ndarray:
    """``reward`` as float64 ``(..., n, m)`` with 0 where ``mask`` is False.

    Padding is never read: it is overwritten before the finiteness check, so it may hold
    NaN. NaN or inf at a valid entry raises :class:`ValidationError`. The result is a new
    array (safe to modify in place) when ``mask`` is given or ``copy`` is True.
    """
    arr = as_float_array(reward, name, min_ndim=2, allow_nonfinite=True,
                         copy=copy and mask is None)
    if mask is not None:
        if arr.shape[-2:] != mask.shape:
            raise ValidationError(f"{name} must have shape (..., {mask.shape[0]}, "
                                  f"{mask.shape[1]}) to match mask, got {arr.shape}")
        arr = np.where(mask, arr, 0.0)  # a new array: the input is never written
    # max/min propagate NaN and show inf: no boolean temporary of the input's size
    if arr.size and not (np.isfinite(arr.max()) and np.isfinite(arr.min())):
        bad = ~np.isfinite(arr)
        raise ValidationError(f"{name} has {int(bad.sum())} NaN or infinite score(s) at "
                              f"valid entries (first at index "
                              f"{tuple(int(i) for i in np.argwhere(bad)[0])}); every valid "
                              "score must be finite")
    return arr


def check_unit_range(w: np.ndarray, name: str) -> None:
    """Weights must lie in ``[0, 1]`` (to :data:`starc._rules.WEIGHT_RTOL`), checked
    *before* they are summed (as :func:`starc._validation.check_stochastic` does), so a huge entry is reported
    as such instead of overflowing the sum."""
    if np.any(w < 0):
        raise ValidationError(f"{name} must be non-negative, got a minimum of {w.min()}")
    outside = ~(w <= 1.0 + WEIGHT_RTOL)
    if np.any(outside):
        idx = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValidationError(f"{name} has the entry {float(w[idx])!r} at index {idx}; "
                              "weights are probabilities and must lie in [0, 1] (and sum "
                              "to 1)")


def check_prompt_weights(weights, n: int, name: str = "prompt_weights") -> np.ndarray:
    r"""Prompt weights :math:`\mu` ``(n,)``: non-negative, summing to 1; None = uniform."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = as_float_array(weights, name, ndim=1)
    if w.shape != (n,):
        raise ValidationError(f"{name} must have shape ({n},) (one weight per prompt), got "
                              f"{w.shape}")
    check_unit_range(w, name)
    total = w.sum()
    if abs(total - 1.0) > WEIGHT_RTOL:
        raise ValidationError(f"{name} must sum to 1 (a distribution over prompts), got a sum "
                              f"of {total!r}; divide by the sum")
    return w


def check_response_weights(weights, n: int, m: int, mask: np.ndarray | None,
                           name: str = "response_weights") -> np.ndarray:
    r"""Response weights :math:`\nu` ``(n, m)``, 0 on padding; None stays None (uniform)."""
    if weights is None:
        return None
    w = as_float_array(weights, name, allow_nonfinite=True, copy=mask is not None)
    if w.shape != (n, m):
        raise ValidationError(f"{name} must have shape ({n}, {m}) (a distribution over each "
                              f"prompt's responses), got {w.shape}")
    if mask is not None:
        np.copyto(w, 0.0, where=~mask)
    if not np.all(np.isfinite(w)):
        raise ValidationError(f"{name} contains NaN or infinite value(s) at valid entries")
    check_unit_range(w, name)
    sums = w.sum(axis=1)
    bad = np.abs(sums - 1.0) > WEIGHT_RTOL
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{name} must sum to 1 over each prompt's valid responses; "
                              f"prompt {i} sums to {sums[i]!r}")
    return w


def setting(shape: tuple[int, ...], mask, prompt_weights, response_weights) -> Setting:
    """Validate the mask and weights of rewards of shape ``(..., n, m)``."""
    n, m = int(shape[-2]), int(shape[-1])
    mk, counts = check_mask_counts(mask, (n, m))
    mu = check_prompt_weights(prompt_weights, n)
    nu = check_response_weights(response_weights, n, m, mk)
    return Setting(n, m, mk, mu, nu, counts)


def check_pair_shapes(a_shape, b_shape, name_a: str, name_b: str) -> None:
    """Two rewards must share ``(n, m)``; their batch axes must broadcast."""
    if tuple(a_shape[-2:]) != tuple(b_shape[-2:]):
        raise ValidationError(f"{name_a} and {name_b} must have the same (n_prompts, "
                              f"n_responses), got {tuple(a_shape)} and {tuple(b_shape)}")
    try:
        np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    except ValueError:
        raise ValidationError(f"the batch axes of {name_a} {tuple(a_shape)} and {name_b} "
                              f"{tuple(b_shape)} do not broadcast") from None


def check_name(value, name: str, options) -> str:
    """A name from a small registry (lists the valid ones otherwise)."""
    return check_choice(value, name, tuple(options))


def rows_max(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Per-prompt maximum over valid entries, ``(..., n)``."""
    if mask is None:
        return x.max(axis=-1)
    return np.where(mask, x, -np.inf).max(axis=-1)


def rows_min(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Per-prompt minimum over valid entries, ``(..., n)``."""
    if mask is None:
        return x.min(axis=-1)
    return np.where(mask, x, np.inf).min(axis=-1)


def max_abs(x: np.ndarray, axes: int = 2) -> np.ndarray:
    """``max |x|`` over the last ``axes`` axes (padding must hold 0)."""
    ax = tuple(range(-axes, 0))
    return np.maximum(x.max(axis=ax), -x.min(axis=ax))

