r"""A fused numba kernel for :func:`starc.bandit.distance` on large 2-d inputs (not public).

The numpy implementation in :mod:`starc.bandit.distances` is the reference (the oracle);
the kernel computes the same quantity without any temporary of the input's size. It
covers the canonicalizations "mean", "midrange" and "none" with every normalization
(not None) and metric.

One pass over memory per prompt
-------------------------------
A prompt's valid scores :math:`x_{1..c}`, :math:`y_{1..c}` (both rewards) are read from
memory once; the loops after the first find them in cache. The first loop gives the sums,
the extremes (offset :math:`o`, :math:`\max|R|`) and the validity (NaN and inf propagate
into the sums); the second the centred sums the normalization and the metric need,

.. math::

    S_{11} = \sum_i w_i \sum_j (x_{ij} - o_{1i})^2, \quad
    S_{22} = \sum_i w_i \sum_j (y_{ij} - o_{2i})^2, \quad
    S_{12} = \sum_i w_i \sum_j (x_{ij} - o_{1i})(y_{ij} - o_{2i})

(or :math:`\sum |x - o|`, :math:`\max |x - o|` for L1 and L-infinity). With
:math:`k_l = 1/n(c_l)` (0 for a zero canonical, decided as in
:mod:`starc.bandit.distances`), an L2 metric is

.. math::

    d^2 = k_1^2 S_{11} + k_2^2 S_{22} - 2 k_1 k_2 S_{12},

which cancels when :math:`d` is small: it is used only when
:math:`d^2 \ge` :data:`SHORTCUT_MIN` :math:`(k_1^2 S_{11} + k_2^2 S_{22})`. Otherwise, and
for the L1 and L-infinity metrics, a second pass sums
:math:`|k_1 (x - o_1) - k_2 (y - o_2)|^p` as the numpy path does.

Masks and order of operations
-----------------------------
A mask row that is a prefix (True then False: the ragged layout) is read in place; it is
recognised from the mask row alone (as ``m / 8`` 64-bit words when ``m`` is a multiple
of 8). Other rows are first copied into a scratch row. Padding is never read. Every sum
has an explicit order: two or four independent partial sums inside a row (instruction-level
parallelism without fast-math reassociation), then the rows of a block of :data:`BLOCK`
prompts in order, then the blocks in order -- blocks run in parallel (``prange``), so the
result is the same for any number of threads. Magnitudes outside ``[1e-140, 1e140]``,
invalid scores and empty prompts send the call back to the numpy path, which rescales or
raises. The tests compare the kernel with the oracle to ``1e-12`` relative.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .distances import SAFE_RANGE
from .norms import negligible

#: Codes of the canonicalizations the kernel covers.
METHOD_CODES = {"none": 0, "mean": 1, "midrange": 2}

#: Largest magnitudes for which sums of squares need no rescaling
#: (:data:`starc.bandit.distances.SAFE_RANGE`).
SAFE_LO, SAFE_HI = SAFE_RANGE

#: The zero rule of :func:`starc.bandit.norms.negligible`, compiled.
_negligible = njit(inline="always")(negligible)


_U1 = np.uint64(1)
_U2 = np.uint64(2)


@njit(inline="always")
def _fmax(a, b):
    """``max`` in the operand order of x86 ``maxsd`` (one instruction; ``b`` when equal or
    unordered); NaN is caught by the sums instead."""
    return a if a > b else b  # noqa: FURB136


@njit(inline="always")
def _fmin(a, b):
    """``min`` in the operand order of x86 ``minsd``."""
    return a if a < b else b  # noqa: FURB136


@njit(inline="always")
def _row_sums(x, y, s, e):
    """``(sum x, sum y, max x, min x, max y, min y)`` over ``x[s:e]``, ``y[s:e]``
    (``e > s``): two independent partial sums each (even and odd offsets), added last."""
    a0 = a1 = b0 = b1 = 0.0
    hx = lx = x[s]
    hy = ly = y[s]
    j = s
    while j + _U2 <= e:
        xa = x[j]
        xb = x[j + _U1]
        ya = y[j]
        yb = y[j + _U1]
        a0 += xa
        a1 += xb
        b0 += ya
        b1 += yb
        hx = _fmax(hx, _fmax(xa, xb))
        lx = _fmin(lx, _fmin(xa, xb))
        hy = _fmax(hy, _fmax(ya, yb))
        ly = _fmin(ly, _fmin(ya, yb))
        j += _U2
    if j < e:
        xa = x[j]
        ya = y[j]
        a0 += xa
        b0 += ya
        hx = _fmax(hx, xa)
        lx = _fmin(lx, xa)
        hy = _fmax(hy, ya)
        ly = _fmin(ly, ya)
    return a0 + a1, b0 + b1, hx, lx, hy, ly


@njit(inline="always")
def _row_l2(x, y, s, e, o1, o2):
    """``(sum c1^2, sum c2^2, sum c1 c2)``, ``c1 = x - o1``, ``c2 = y - o2`` over
    ``[s, e)`` (two partial sums each)."""
    p0 = p1 = q0 = q1 = t0 = t1 = 0.0
    j = s
    while j + _U2 <= e:
        u0 = x[j] - o1
        u1 = x[j + _U1] - o1
        v0 = y[j] - o2
        v1 = y[j + _U1] - o2
        p0 += u0 * u0
        p1 += u1 * u1
        q0 += v0 * v0
        q1 += v1 * v1
        t0 += u0 * v0
        t1 += u1 * v1
        j += _U2
    if j < e:
        u0 = x[j] - o1
        v0 = y[j] - o2
        p0 += u0 * u0
        q0 += v0 * v0
        t0 += u0 * v0
    return p0 + p1, q0 + q1, t0 + t1


@njit(inline="always")
def _row_l1_linf(x, y, s, e, o1, o2, p):
    """``(sum |c1|, sum |c2|)`` (p = 1) or ``(max |c1|, max |c2|)`` (p = inf, code 0)."""
    a0 = a1 = b0 = b1 = 0.0
    j = s
    while j + _U2 <= e:
        u0 = abs(x[j] - o1)
        u1 = abs(x[j + _U1] - o1)
        v0 = abs(y[j] - o2)
        v1 = abs(y[j + _U1] - o2)
        if p == 1:
            a0 += u0
            a1 += u1
            b0 += v0
            b1 += v1
        else:
            a0 = _fmax(a0, u0)
            a1 = _fmax(a1, u1)
            b0 = _fmax(b0, v0)
            b1 = _fmax(b1, v1)
        j += _U2
    if j < e:
        u0 = abs(x[j] - o1)
        v0 = abs(y[j] - o2)
        if p == 1:
            a0 += u0
            b0 += v0
        else:
            a0 = _fmax(a0, u0)
            b0 = _fmax(b0, v0)
    if p == 1:
        return a0 + a1, b0 + b1
    return _fmax(a0, a1), _fmax(b0, b1)


@njit(inline="always")
def _row_metric(x, y, s, e, o1, o2, k1, k2, p):
    """``sum |v|^p`` (p = 1, 2) or ``max |v|`` (p = inf, code 0) of
    ``v = (x - o1) k1 - (y - o2) k2`` over ``[s, e)``."""
    a0 = a1 = 0.0
    j = s
    while j + _U2 <= e:
        u = (x[j] - o1) * k1 - (y[j] - o2) * k2
        w = (x[j + _U1] - o1) * k1 - (y[j + _U1] - o2) * k2
        if p == 2:
            a0 += u * u
            a1 += w * w
        elif p == 1:
            a0 += abs(u)
            a1 += abs(w)
        else:
            a0 = _fmax(a0, abs(u))
            a1 = _fmax(a1, abs(w))
        j += _U2
    if j < e:
        u = (x[j] - o1) * k1 - (y[j] - o2) * k2
        if p == 2:
            a0 += u * u
        elif p == 1:
            a0 += abs(u)
        else:
            a0 = _fmax(a0, abs(u))
    return _fmax(a0, a1) if p == 0 else a0 + a1


#: ``_PREFIX_WORDS[k]``: the 8 mask bytes (little-endian uint64) of k True then 8 - k False.
_PREFIX_WORDS = np.array([sum(1 << (8 * b) for b in range(k)) for k in range(9)],
                         dtype=np.uint64)
_BYTE_SUM = np.uint64(0x0101010101010101)


@njit(inline="always")
def _row_span(mk, mw, use_mask, use_words, i, m):
    """Where prompt ``i``'s valid scores lie: ``(s, e, prefix)``.

    Without a mask, or when the mask row is a prefix (True then False), they are the flat
    entries ``[s, e)`` of the arrays (``e == s`` for an empty prompt); otherwise
    ``prefix`` is False and :func:`_compact` copies them. With ``use_words`` (``m`` a
    multiple of 8) the mask row is read as ``m / 8`` little-endian words ``mw``: a word's
    count of True is its byte sum (``w * 0x0101..01 >> 56``, bytes 0 or 1) and the row is a
    prefix when every word is the prefix pattern of its count and only the last non-empty
    word is partial.
    """
    base = np.uint64(i) * np.uint64(m)
    if not use_mask:
        return base, base + np.uint64(m), True
    if use_words:
        nw = np.uint64(m) >> np.uint64(3)
        wbase = np.uint64(i) * nw
        c = np.uint64(0)
        ok = True
        for q in range(nw):
            w = mw[wbase + np.uint64(q)]
            k = (w * _BYTE_SUM) >> np.uint64(56)
            if k > np.uint64(8) or w != _PREFIX_WORDS[k] or (
                    k != np.uint64(0) and c != np.uint64(8) * np.uint64(q)):
                ok = False
            c += k
        return base, base + c, ok
    c = 0
    lead = 0
    run = 1
    for j in range(m):
        v = np.int64(mk[base + np.uint64(j)])
        c += v
        run &= v
        lead += run
    return base, base + np.uint64(c), lead == c


@njit(inline="always")
def _compact(x, y, mk, i, m, bx, by):
    """Copy prompt ``i``'s valid scores (any mask row) into ``bx[:c]``, ``by[:c]``; ``c``.
    Padding is never read."""
    base = np.uint64(i) * np.uint64(m)
    c = 0
    for j in range(m):
        t = base + np.uint64(j)
        if mk[t]:
            bx[c] = x[t]
            by[c] = y[t]
            c += 1
    return np.uint64(c)


@njit(inline="always")
def _row_first(X, Y, s, e, method, pn, pm):
    """Everything the first pass needs from one prompt's valid scores ``X[s:e]``,
    ``Y[s:e]`` (read once from memory; the loops after the first find them in cache):
    ``(o1, o2, max|R1|, max|R2|, finite, s11, s22, s12, t1, t2)`` -- the offsets, the
    magnitudes, whether the scores are finite, the centred sums of squares and products
    (when an L2 is involved) and the centred L1 sums or maxima (``pn`` 1 or 0)."""
    o1, o2, g1, g2, tot = _row_offsets(X, Y, s, e, method)
    s11 = s22 = s12 = t1 = t2 = 0.0
    if not np.isfinite(tot):
        return o1, o2, g1, g2, False, s11, s22, s12, t1, t2
    if pn == 2 or pm == 2:
        s11, s22, s12 = _row_l2(X, Y, s, e, o1, o2)
    if pn == 1:
        t1, t2 = _row_l1_linf(X, Y, s, e, o1, o2, 1)
    elif pn == 0:
        t1, t2 = _row_l1_linf(X, Y, s, e, o1, o2, 0)
    return o1, o2, g1, g2, True, s11, s22, s12, t1, t2


@njit(inline="always")
def _row_second(X, Y, s, e, method, k1, k2, pm):
    """One prompt's contribution to the metric (:func:`_row_metric` after the offsets)."""
    o1, o2, _, _, _ = _row_offsets(X, Y, s, e, method)
    return _row_metric(X, Y, s, e, o1, o2, k1, k2, pm)


@njit(inline="always")
def _row_offsets(X, Y, s, e, method):
    """``(o1, o2, max|R1|, max|R2|, sum R1 + sum R2)`` of one prompt's valid scores; NaN
    and inf propagate into the returned sum (the caller's finiteness check)."""
    s1, s2, hx, lx, hy, ly = _row_sums(X, Y, s, e)
    if method == 1:
        cnt = np.float64(e - s)
        o1 = s1 / cnt
        o2 = s2 / cnt
    elif method == 2:
        o1 = 0.5 * hx + 0.5 * lx
        o2 = 0.5 * hy + 0.5 * ly
    else:
        o1 = 0.0
        o2 = 0.0
    return o1, o2, _fmax(hx, -lx), _fmax(hy, -ly), s1 + s2


@njit(inline="always")
def _outside_safe_range(big1, big2):
    """Whether a non-zero largest magnitude lies outside ``(SAFE_LO, SAFE_HI)`` (the
    caller falls back to the numpy path, which rescales)."""
    for big in (big1, big2):
        if big > 0.0 and not (SAFE_LO < big < SAFE_HI):
            return True
    return False


@njit(inline="always")
def _inverse_norms(n1, n2, big1, big2, pn, total):
    """``(k1, k2)``: ``1 / n`` of each canonical, 0 for a zero one (:func:`_negligible`
    with the norm of the all-ones array over entries of total weight ``total``)."""
    ones = 1.0 if pn == 0 else (np.sqrt(total) if pn == 2 else total)
    k1 = 0.0 if _negligible(n1, ones, big1) else 1.0 / n1
    k2 = 0.0 if _negligible(n2, ones, big2) else 1.0 / n2
    return k1, k2


#: Prompts per block of the parallel loops: each block's partial results are combined in
#: block order, so the value does not depend on the number of threads.
BLOCK = 1024

#: Blocks a thread takes at a time from the parallel loops (``numba.set_parallel_chunksize``).
CHUNK = 4

#: With metric L2, :math:`d^2 = k_1^2 S_{11} + k_2^2 S_{22} - 2 k_1 k_2 S_{12}` from the
#: first pass is used only when it is at least this fraction of
#: :math:`T = k_1^2 S_{11} + k_2^2 S_{22}`; otherwise the sum of squares of the
#: differences is recomputed in a second pass. Each sum is accumulated in at most
#: ``m + BLOCK + n / BLOCK`` additions in sequence, so the absolute error of :math:`d^2`
#: is below about ``3 (m + BLOCK + n / BLOCK) 2**-53 T`` (~4e-13 T at n = 1e5, m = 16):
#: a relative error below ~2e-12 on :math:`d` when the shortcut is taken (in practice,
#: round-off is far below the worst case).
SHORTCUT_MIN = 0.1

# columns of the per-block partial results
_CNT, _MASS, _BIG1, _BIG2, _N1, _N2, _M11, _M22, _M12, _BAD, _EMPTY = range(11)


@njit(cache=True, _nrt=False)
def _first_block(x, y, mk, mw, use_mask, use_words, mu, use_mu, lo, hi, m, method, pn, wn,
                 pm, wm, bx, by, out):
    """The first pass over prompts ``lo..hi-1``: their partial results into ``out``
    (``bx``, ``by``: scratch rows of length ``m``)."""
    mu_c = 1.0 / (x.size // m)
    cnt_t = 0.0
    mass = 0.0
    big1 = 0.0
    big2 = 0.0
    n1 = 0.0
    n2 = 0.0
    m11 = 0.0
    m22 = 0.0
    m12 = 0.0
    bad = 0.0
    empty = 0.0
    for i in range(lo, hi):
        s, e, prefix = _row_span(mk, mw, use_mask, use_words, i, m)
        if e == s:
            empty = 1.0
            continue
        if prefix:
            o1, o2, g1, g2, ok, s11, s22, s12, t1, t2 = _row_first(x, y, s, e, method,
                                                                    pn, pm)
        else:
            e = _compact(x, y, mk, i, m, bx, by)
            s = np.uint64(0)
            o1, o2, g1, g2, ok, s11, s22, s12, t1, t2 = _row_first(bx, by, s, e,
                                                                    method, pn, pm)
        if not ok:
            bad = 1.0
            continue
        cnt = np.float64(e - s)
        mui = mu[i] if use_mu else mu_c
        row = mui / cnt
        cnt_t += cnt
        mass += mui
        big1 = _fmax(big1, g1)
        big2 = _fmax(big2, g2)
        w_n = row if wn else 1.0
        if pn == 2:
            n1 += w_n * s11
            n2 += w_n * s22
        elif pn == 1:
            n1 += w_n * t1
            n2 += w_n * t2
        elif w_n > 0.0:
            n1 = _fmax(n1, t1)
            n2 = _fmax(n2, t2)
        if pm == 2:
            w_m = row if wm else 1.0
            m11 += w_m * s11
            m22 += w_m * s22
            m12 += w_m * s12
    out[_CNT] = cnt_t
    out[_MASS] = mass
    out[_BIG1] = big1
    out[_BIG2] = big2
    out[_N1] = n1
    out[_N2] = n2
    out[_M11] = m11
    out[_M22] = m22
    out[_M12] = m12
    out[_BAD] = bad
    out[_EMPTY] = empty


@njit(cache=True, _nrt=False)
def _second_block(x, y, mk, mw, use_mask, use_words, mu, use_mu, lo, hi, m, method, k1,
                  k2, pm, wm, bx, by):
    """The metric's partial result over prompts ``lo..hi-1`` (sum or maximum)."""
    mu_c = 1.0 / (x.size // m)
    acc = 0.0
    for i in range(lo, hi):
        s, e, prefix = _row_span(mk, mw, use_mask, use_words, i, m)
        if prefix:
            v = _row_second(x, y, s, e, method, k1, k2, pm)
        else:
            e = _compact(x, y, mk, i, m, bx, by)
            s = np.uint64(0)
            v = _row_second(bx, by, s, e, method, k1, k2, pm)
        mui = mu[i] if use_mu else mu_c
        w_m = mui / np.float64(e - s) if wm else 1.0
        if pm == 0:
            if w_m > 0.0:
                acc = _fmax(acc, v)
        else:
            acc += w_m * v
    return acc


@njit(cache=True, parallel=True)
def fused_distance(r1, r2, mask, mw, use_mask, use_words, mu, use_mu, method, pn, wn, pm, wm):
    """Returns ``(status, value)``: status 0 ok, 1 a non-finite valid score, 2 an empty
    prompt, 3 magnitudes outside the safe range (the caller falls back to numpy).

    Uniform response weights; ``mu`` is read only when ``use_mu`` (else ``1 / n``).
    ``pn``, ``pm``: 1, 2 or 0 (inf); ``wn``, ``wm``: weighted normalization / metric.
    Blocks of :data:`BLOCK` prompts run in parallel; their partial results are combined
    in block order.
    """
    n, m = r1.shape
    x = r1.reshape(n * m)
    y = r2.reshape(n * m)
    mk = mask.reshape(mask.size)
    nb = (n + BLOCK - 1) // BLOCK
    parts = np.zeros((nb, 11))
    scratch = np.empty((nb, 2, m))
    for b in prange(nb):
        _first_block(x, y, mk, mw, use_mask, use_words, mu, use_mu, b * BLOCK,
                     min(n, (b + 1) * BLOCK), m, method, pn, wn, pm, wm, scratch[b, 0],
                     scratch[b, 1], parts[b])
    # combine the blocks in block order
    for b in range(nb):
        if parts[b, _EMPTY] != 0.0:
            return 2, 0.0
    for b in range(nb):
        if parts[b, _BAD] != 0.0:
            return 1, 0.0
    count = 0.0
    mass = 0.0
    big1 = 0.0
    big2 = 0.0
    n1 = 0.0
    n2 = 0.0
    m11 = 0.0
    m22 = 0.0
    m12 = 0.0
    for b in range(nb):
        count += parts[b, _CNT]
        mass += parts[b, _MASS]
        big1 = _fmax(big1, parts[b, _BIG1])
        big2 = _fmax(big2, parts[b, _BIG2])
        if pn == 0:
            n1 = _fmax(n1, parts[b, _N1])
            n2 = _fmax(n2, parts[b, _N2])
        else:
            n1 += parts[b, _N1]
            n2 += parts[b, _N2]
        m11 += parts[b, _M11]
        m22 += parts[b, _M22]
        m12 += parts[b, _M12]
    if _outside_safe_range(big1, big2):
        return 3, 0.0
    if pn == 2:
        n1 = np.sqrt(n1)
        n2 = np.sqrt(n2)
    k1, k2 = _inverse_norms(n1, n2, big1, big2, pn, mass if wn else count)
    if pm == 2:
        t = k1 * k1 * m11 + k2 * k2 * m22
        if t == 0.0:
            return 0, 0.0
        d2 = t - 2.0 * k1 * k2 * m12
        if d2 >= SHORTCUT_MIN * t:
            return 0, np.sqrt(d2)
    # the metric of the difference, exactly: a second pass
    for b in prange(nb):
        parts[b, 0] = _second_block(x, y, mk, mw, use_mask, use_words, mu, use_mu, b * BLOCK,
                                    min(n, (b + 1) * BLOCK), m, method, k1, k2, pm, wm,
                                    scratch[b, 0], scratch[b, 1])
    acc = 0.0
    for b in range(nb):
        acc = _fmax(acc, parts[b, 0]) if pm == 0 else acc + parts[b, 0]
    return 0, np.sqrt(acc) if pm == 2 else acc


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
def fused_distance_nu(r1, r2, mask, use_mask, mu, nu, use_nu, method, pn, wn, pm, wm):
    """The kernel with response weights ``nu`` (two plain passes, one thread). Returns ``(status, value)``: status 0 ok, 1 a non-finite valid score, 2 an empty
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
    if _outside_safe_range(big1, big2):
        return 3, 0.0
    n1 = _finish(acc1, pn)
    n2 = _finish(acc2, pn)
    k1, k2 = _inverse_norms(n1, n2, big1, big2, pn, dsum if wn else count)
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


def run(r1: np.ndarray, r2: np.ndarray, mask: np.ndarray | None, mu: np.ndarray | None,
        nu: np.ndarray | None, method: str, normalization: str, metric: str):
    """Call the kernel with the option codes; returns ``(status, value)``.

    ``mu`` None is the uniform ``1 / n`` (never materialized); ``nu`` None is uniform over
    each prompt's valid responses (:func:`fused_distance`), else :func:`fused_distance_nu`.
    """
    pn = _P[normalization.replace("weighted_", "")]
    pm = _P[metric.replace("weighted_", "")]
    wn, wm = normalization.startswith("weighted_"), metric.startswith("weighted_")
    mk = _NO_MASK if mask is None else mask
    if nu is None:
        words = mask is not None and r1.shape[1] % 8 == 0
        mw = mk.reshape(-1).view(np.uint64) if words else _NO_WORDS
        # blocks are handed out a few at a time (dynamic scheduling): a thread whose core
        # is busy elsewhere does not hold the others up; the order of combination is fixed
        previous = numba.set_parallel_chunksize(CHUNK)
        try:
            return fused_distance(r1, r2, mk, mw, mask is not None, words,
                                  _NO_MU if mu is None else mu, mu is not None,
                                  METHOD_CODES[method], pn, wn, pm, wm)
        finally:
            numba.set_parallel_chunksize(previous)
    if mu is None:
        mu = np.full(r1.shape[0], 1.0 / r1.shape[0])
    return fused_distance_nu(r1, r2, mk, mask is not None, mu, nu, True,
                             METHOD_CODES[method], pn, wn, pm, wm)


_NO_MASK = np.ones((1, 1), dtype=np.bool_)
_NO_MU = np.ones(1)
_NO_WORDS = np.zeros(1, dtype=np.uint64)
