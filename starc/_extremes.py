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


def far_exponent(magnitude, limit: int = 256) -> int:
    r"""``scale_exponent(magnitude)`` when it is beyond ``+-limit``, else 0 (one scalar).

    For quantities that are exact under scaling but only need it far from 1: inputs
    within :math:`2^{\pm 256}` are used as they are (the same numbers as ever), inputs
    beyond are brought near 1 first.
    """
    k = int(scale_exponent(float(magnitude)))
    return k if abs(k) > limit else 0
