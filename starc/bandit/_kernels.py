"""A fused numba kernel for :func:`starc.bandit.distance` on large 2-d inputs (not public).

The numpy implementation in :mod:`starc.bandit.distances` is the reference (the oracle);
this kernel computes the same quantity in two passes over the two arrays -- (1) validity,
counts, magnitudes, per-prompt offsets and the normalization sums; (2) the metric of the
difference of the normalized canonicals -- without any temporary of the input's size. It
covers the canonicalizations "mean", "midrange" and "none" with every normalization
(not None) and metric; the tests compare it with the oracle at ``atol=1e-10``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..norms import ZERO_RTOL

#: Codes of the canonicalizations the kernel covers.
METHOD_CODES = {"none": 0, "mean": 1, "midrange": 2}

#: Largest magnitudes for which sums of squares need no rescaling (as in distances.py).
SAFE_LO, SAFE_HI = 1e-140, 1e140


@njit(cache=True)
def _acc(acc, w, x, p):
    if p == 1:
        return acc + w * abs(x)
    if p == 2:
        return acc + w * x * x
    if w > 0.0 and abs(x) > acc:  # p = inf: the maximum over entries of positive weight
        return abs(x)
    return acc


@njit(cache=True)
def _finish(acc, p):
    return np.sqrt(acc) if p == 2 else acc


@njit(cache=True)
def fused_distance(r1, r2, mask, use_mask, mu, nu, use_nu, method, pn, wn, pm, wm):
    """Returns ``(status, value)``: status 0 ok, 1 a non-finite valid score, 2 an empty
    prompt, 3 magnitudes outside the safe range (the caller falls back to numpy)."""
    n, m = r1.shape
    offsets1 = np.empty(n)
    offsets2 = np.empty(n)
    inv_counts = np.empty(n)
    big1 = 0.0
    big2 = 0.0
    acc1 = 0.0
    acc2 = 0.0
    count = 0.0
    dsum = 0.0
    for i in range(n):
        # one read of the row: validity, count, magnitudes, sums and extremes
        cnt = 0
        s1 = 0.0
        s2 = 0.0
        hi1 = -np.inf
        lo1 = np.inf
        hi2 = -np.inf
        lo2 = np.inf
        for j in range(m):
            if use_mask and not mask[i, j]:
                continue
            x = r1[i, j]
            y = r2[i, j]
            cnt += 1
            if use_nu:
                s1 += nu[i, j] * x
                s2 += nu[i, j] * y
            else:
                s1 += x
                s2 += y
            hi1 = max(hi1, x)
            lo1 = min(lo1, x)
            hi2 = max(hi2, y)
            lo2 = min(lo2, y)
        if cnt == 0:
            return 2, 0.0
        # NaN and inf propagate into the sums (an overflowing sum of finite scores only
        # sends the call to the numpy path, which decides)
        if not (np.isfinite(s1) and np.isfinite(s2)):
            return 1, 0.0
        inv = 1.0 / cnt
        inv_counts[i] = inv
        big1 = max(big1, max(hi1, -lo1))
        big2 = max(big2, max(hi2, -lo2))
        if method == 0:
            o1 = 0.0
            o2 = 0.0
        elif method == 1:
            o1 = s1 if use_nu else s1 * inv
            o2 = s2 if use_nu else s2 * inv
        else:
            o1 = 0.5 * hi1 + 0.5 * lo1
            o2 = 0.5 * hi2 + 0.5 * lo2
        offsets1[i] = o1
        offsets2[i] = o2
        row = mu[i] * inv
        for j in range(m):  # the row is in cache: the normalization sums
            if use_mask and not mask[i, j]:
                continue
            d = mu[i] * nu[i, j] if use_nu else row
            w = d if wn else 1.0
            acc1 = _acc(acc1, w, r1[i, j] - o1, pn)
            acc2 = _acc(acc2, w, r2[i, j] - o2, pn)
            dsum += d
        count += cnt
    for big in (big1, big2):
        if big > 0.0 and not (SAFE_LO < big < SAFE_HI):
            return 3, 0.0
    n1 = _finish(acc1, pn)
    n2 = _finish(acc2, pn)
    total = dsum if wn else count
    ones = 1.0 if pn == 0 else (np.sqrt(total) if pn == 2 else total)
    k1 = 0.0 if n1 <= ZERO_RTOL * ones * big1 else 1.0 / n1
    k2 = 0.0 if n2 <= ZERO_RTOL * ones * big2 else 1.0 / n2
    acc = 0.0
    for i in range(n):
        o1 = offsets1[i]
        o2 = offsets2[i]
        row = mu[i] * inv_counts[i]
        for j in range(m):
            if use_mask and not mask[i, j]:
                continue
            if wm:
                w = mu[i] * nu[i, j] if use_nu else row
            else:
                w = 1.0
            acc = _acc(acc, w, (r1[i, j] - o1) * k1 - (r2[i, j] - o2) * k2, pm)
    return 0, _finish(acc, pm)


_P = {"l1": 1, "l2": 2, "linf": 0}


def run(r1: np.ndarray, r2: np.ndarray, mask: np.ndarray | None, mu: np.ndarray,
        nu: np.ndarray | None, method: str, normalization: str, metric: str):
    """Call :func:`fused_distance` with the option codes; returns ``(status, value)``."""
    pn = _P[normalization.replace("weighted_", "")]
    pm = _P[metric.replace("weighted_", "")]
    mk = np.ones((1, 1), dtype=np.bool_) if mask is None else mask
    w = np.zeros((1, 1)) if nu is None else nu
    return fused_distance(r1, r2, mk, mask is not None, mu, w, nu is not None,
                          METHOD_CODES[method], pn, normalization.startswith("weighted_"),
                          pm, metric.startswith("weighted_"))
