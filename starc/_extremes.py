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


def pow2_scale(magnitude) -> np.ndarray:
    """``2**(e - 1)`` for ``magnitude = f * 2**e`` (``f`` in ``[0.5, 1)``); 1 where it is 0.

    ``magnitude / pow2_scale(magnitude)`` lies in ``[1, 2)`` for positive finite input.
    """
    mag = np.asarray(magnitude, dtype=np.float64)
    _, e = np.frexp(mag)
    return np.where(mag > 0, np.ldexp(1.0, e - 1), 1.0)


def scaled_by_max_abs(x: np.ndarray, axis=None):
    """``(x / scale, scale)`` with ``scale = pow2_scale(max |x|)`` over ``axis`` (kept)."""
    big = np.max(np.abs(x), axis=axis, keepdims=True, initial=0.0)
    scale = pow2_scale(big)
    return x / scale, scale
