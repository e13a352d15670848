r"""Power-of-two scaling: statistics of finite arrays without overflow (private).

A mean, a variance, a range or a pairwise sum of finite float64 numbers can overflow
(``1e308 + 1e308``) although the quantity wanted — a mean, a min-max rescaling, a ratio —
is representable. Dividing by a power of two near the largest magnitude first,

.. math::

    x = m \cdot 2^{e}, \quad m \in [\tfrac12, 1) \qquad\Longrightarrow\qquad
    \tilde x = x / 2^{e - 1} \in [1, 2),

maps every entry into :math:`[-2, 2]`, where sums of :math:`n` terms stay below
:math:`2n`. Division by a power of two is exact (unless an entry falls below
:math:`2^{-1074}` relative to the largest, where it is absorbed anyway), so a statistic
computed on :math:`\tilde x` and multiplied back by :math:`2^{e-1}` is bit-for-bit the
one computed on :math:`x` whenever the latter does not overflow. Nothing here is public
API.
"""

from __future__ import annotations

import numpy as np

from .exceptions import ValidationError


def scale_exponent(magnitude) -> np.ndarray:
    """``e - 1`` for ``magnitude = f * 2**e`` (``f`` in ``[0.5, 1)``); 0 where it is 0.

    ``magnitude / 2**scale_exponent(magnitude)`` lies in ``[1, 2)`` for positive finite
    input.
    """
    mag = np.asarray(magnitude, dtype=np.float64)
    _, e = np.frexp(mag)
    return np.where(mag > 0, e - 1, 0).astype(np.int64)


def pow2_scale(magnitude) -> np.ndarray:
    """``2**scale_exponent(magnitude)``: a power of two near ``magnitude`` (1 where 0)."""
    return np.ldexp(1.0, scale_exponent(magnitude))


def scaled_by_max_abs(x: np.ndarray, axis=None):
    """``(x_s, k)`` with ``x = x_s * 2**k`` exactly and ``|x_s| < 2``; ``k`` is
    ``scale_exponent(max |x|)`` over ``axis`` (kept as length-1 axes)."""
    big = np.max(np.abs(x), axis=axis, keepdims=True, initial=0.0)
    k = scale_exponent(big)
    return np.ldexp(x, -k), k


def unscale(x_s, k) -> np.ndarray:
    """``x_s * 2**k`` (``inf`` where that exceeds the float64 range; the caller decides)."""
    with np.errstate(over="ignore"):
        return np.ldexp(x_s, k)


def max_abs(x: np.ndarray, axes: int) -> np.ndarray:
    """``max |x|`` over the last ``axes`` axes (0 for empty ones), without an ``|x|``
    temporary."""
    ax = tuple(range(-axes, 0))
    return np.maximum(x.max(axis=ax, initial=0.0), -x.min(axis=ax, initial=0.0))


def far_exponent(magnitude, limit: int | None = None) -> int:
    r"""``scale_exponent(magnitude)`` when it is beyond ``+-limit``, else 0 (one scalar).

    For quantities that are exact under scaling but only need it far from 1: inputs
    within :math:`2^{\pm \mathrm{limit}}` (default :data:`SAFE_EXPONENT`) are used as they
    are (the same numbers as ever), inputs beyond are brought near 1 first.
    """
    k = int(scale_exponent(float(magnitude)))
    return k if abs(k) > (SAFE_EXPONENT if limit is None else limit) else 0


# ------------------------------------------------- batches of arrays: the safe window

#: Arrays whose largest magnitude lies in ``[2**-SAFE_EXPONENT, 2**SAFE_EXPONENT]`` are
#: used as they are: their squares, sums over any MDP that fits in memory, values
#: (:math:`\le \max|R|/(1-\gamma)`) and round-off bounds all stay normal float64 numbers.
#: Others are first multiplied by a power of two (exact) that brings the largest
#: magnitude into ``[1/2, 1)`` (:func:`scale_exponents`).
SAFE_EXPONENT = 256
_SAFE_LOW, _SAFE_HIGH = 2.0 ** -SAFE_EXPONENT, 2.0 ** SAFE_EXPONENT


def in_window(big: np.ndarray) -> bool:
    """Whether every entry of ``big`` lies in ``[2**-SAFE_EXPONENT, 2**SAFE_EXPONENT]``
    (cheap for the few entries of a pair of rewards: no numpy reductions)."""
    if big.size <= 16:
        vals = big.ravel().tolist()
        return not vals or (_SAFE_LOW <= min(vals) and max(vals) <= _SAFE_HIGH)
    return bool(_SAFE_LOW <= big.min() and big.max() <= _SAFE_HIGH)


def scale_exponents(big, always: bool = False) -> np.ndarray | None:
    r"""Exponents ``e`` with ``big * 2**-e`` in ``[1/2, 1)``, or None when none is needed.

    ``big`` holds the largest magnitude :math:`\max|x|` of each array of a batch. When
    every nonzero one lies inside the safe window (:data:`SAFE_EXPONENT`) the arrays are
    used as they are and ``None`` is returned (the common case: one comparison). Else
    every array gets its own exponent (0 for an all-zero array): multiplying by
    :math:`2^{-e}` is exact, and the computations that follow are exactly equivariant
    under powers of two, so rescaling changes no result beyond what round-off allows.
    ``always=True`` returns the exponents even inside the window (for optimisers, whose
    absolute tolerances make them scale-dependent at any magnitude).
    """
    big = np.asarray(big, dtype=np.float64)
    if big.size == 0:
        return None
    if always:
        return np.where(big > 0.0, np.frexp(big)[1], 0).astype(np.int64)
    if in_window(big):
        return None
    high = big.max()
    if high <= _SAFE_HIGH:
        low = big.min()
        if low >= _SAFE_LOW or not np.any((big > 0.0) & (big < _SAFE_LOW)):
            return None  # zeros (all-zero arrays) need no rescaling
    return np.where(big > 0.0, np.frexp(big)[1], 0).astype(np.int64)


def rescale(x: np.ndarray, exponents: np.ndarray | None, axes: int = 3) -> np.ndarray:
    """``x * 2**-exponents`` over batches of arrays with ``axes`` trailing axes (exact)."""
    if exponents is None:
        return x
    return np.ldexp(x, -exponents.reshape(exponents.shape + (1,) * axes))


def unscale_checked(x, exponents: np.ndarray | None, what: str, axes: int = 0):
    """``x * 2**exponents``: a result computed on rescaled arrays, back in their units.

    Raises :class:`~starc.exceptions.ValidationError` when it exceeds the float64 range:
    the true value is then not representable (never returned as ``inf``).
    """
    if exponents is None:
        return x
    with np.errstate(over="ignore"):
        out = np.ldexp(x, exponents.reshape(exponents.shape + (1,) * axes))
    return finite_result(out, what, "scale the inputs down (normalised distances, "
                                    "equivalence and Pearson distances do not depend on "
                                    "the scale)")


def finite_result(out, what: str,
                  fix: str = "rescale the inputs first (e.g. divide them by a power of ten)"):
    r"""``out``, or a ValidationError when some entry is beyond the float64 range: a value
    computed without intermediate overflow that is itself beyond :math:`\pm1.8\times
    10^{308}` is not representable, and is refused rather than returned as ``inf``."""
    if not np.all(np.isfinite(out)):
        raise ValidationError(
            f"{what} is beyond the float64 range (|value| > 1.8e308) for these inputs; the "
            f"exact result is not representable, so {fix}")
    return out
