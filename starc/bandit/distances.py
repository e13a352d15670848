r"""STARC distances between prompt-response reward models.

A STARC pseudometric [1]_ (Def. 3) canonicalizes (:mod:`starc.bandit.canonical`),
normalizes and compares (:mod:`starc.bandit.norms`):

.. math::

    s(R) = \begin{cases} c(R)/n(c(R)) & n(c(R)) \ne 0 \\ 0 & \text{otherwise,}\end{cases}
    \qquad d(R_1, R_2) = m\big(s(R_1) - s(R_2)\big).

"Zero" is decided against round-off: :math:`c(R)` counts as zero when
:math:`n(c(R)) \le \epsilon\, n(\mathbf 1) \max_V |R|`, :math:`\epsilon` =
:data:`starc.norms.ZERO_RTOL` (each offset is an average, median or midrange of the
scores, so the canonical's round-off is on the scale of :math:`\max|R|`). When the
normalization and the metric use the same :math:`L_p`:

* :math:`0 \le d \le 2`; :math:`d(R, aR + f) = 0` for :math:`a > 0` and any per-prompt
  :math:`f`; :math:`d(R, -R) = 2` and :math:`d(R, \text{trivial}) = 1` when
  :math:`c(R) \ne 0`;
* with a canonicalization minimal for the norm, :math:`d` is sound and complete: it bounds
  the worst-case regret from above and below ([1]_, Thm. 1;
  :func:`starc.bandit.regret_bound`).

Every computation runs on :math:`R / \max_V |R|`, so the result does not depend on the
scale of the scores (from :math:`10^{-300}` to :math:`10^{300}`).

Pearson distance
----------------
EPIC [2]_ compares rewards by :math:`D_\rho = \sqrt{(1 - \rho)/2}`, :math:`\rho` the
Pearson correlation under a coverage distribution. Under :math:`D(x, y) = \mu(x)\nu(y|x)`
the mean-canonical rewards have :math:`D`-mean zero, so

.. math::

    D_\rho(R_1, R_2) = \tfrac12 \big\| c_1/\|c_1\|_{D,2} - c_2/\|c_2\|_{D,2} \big\|_{D,2},

half the STARC distance ``("mean", "weighted_l2", "weighted_l2")`` (derived), except that
:math:`\rho = 0` (distance :math:`\sqrt{1/2}`) when exactly one canonical is zero and the
distance is 0 when both are. It is the EPIC-style variant; it shares the invariances.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Def. 3, Thm. 1, Thm. 2.
.. [2] Gleave, Dennis, Legg, Russell, Leike. "Quantifying Differences in Reward
   Functions". ICLR 2021, Def. 4.3 (Pearson distance).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ValidationError
from ..norms import check_norm_name
from .._extremes import finite_result, scale_exponent
from .._validation import as_float_array
from ._checks import (Setting, as_bandit_reward, check_name, check_pair_shapes,
                      check_prompt_weights, check_response_weights, max_abs, reward_shape,
                      setting)
from .canonical import CANONICALIZATIONS, offsets
from .norms import negligible, norm_unit, ones_norm

__all__ = ["distance", "pearson_distance", "pairwise_distances"]


#: Rewards whose largest magnitude lies in this range are canonicalized and normed as they
#: are: squares of sums of ``m`` such numbers neither overflow nor lose precision to
#: underflow. Outside it, they are first divided by their largest magnitude.
SAFE_RANGE = (1e-140, 1e140)


def unit_canonical(r: np.ndarray, method: str, st: Setting, *, inplace: bool = False):
    """``(u, big, f)``: ``u = c(R) * f`` (0 on padding), ``big = max|R|``.

    ``f`` ``(...)`` is 1 where ``big`` lies in :data:`SAFE_RANGE` (no extra pass) and a
    power of two near ``1 / big`` elsewhere (at most :math:`2^{1022}`, so subnormal scores
    do not overflow it), so the entries of ``u`` are safe to square and sum. With
    ``inplace`` the canonical overwrites ``r`` (one fewer array of the input's size: large
    temporaries cost page faults as well as passes); otherwise ``u`` is a new array.
    """
    big = max_abs(r)
    u = r if inplace else r.copy()
    lo, hi = SAFE_RANGE
    if np.all((big > lo) & (big < hi)):
        f = np.ones_like(big)
    else:
        f = np.ldexp(1.0, -np.maximum(scale_exponent(big), -1022))  # exact scaling
        u *= f[..., None, None]
    o = offsets(u, method, st)
    if o is not None:
        u -= o[..., None]
        if st.mask is not None:
            u *= st.mask  # padding: -o * 0 = 0
    return u, big, f


def standardize_unit(r: np.ndarray, method: str, normalization: str | None, st: Setting,
                     d: np.ndarray | None, *, inplace: bool = False):
    """``s(R)`` of validated rewards: ``(s, big, f, zero)``.

    ``s = c / n(c)`` (0 where ``zero``); without normalization ``s = c * f`` as returned by
    :func:`unit_canonical` (``big = max|R|``). ``inplace`` overwrites ``r``.
    """
    u, big, f = unit_canonical(r, method, st, inplace=inplace)
    if normalization is None:
        return u, big, f, big == 0
    n = norm_unit(u, normalization, st, d)
    # the canonical's entries carry round-off ZERO_RTOL * max|R| (times f in u's units)
    zero = negligible(n, ones_norm(normalization, st, d), big * f)
    inv = 1.0 / np.where(zero, 1.0, n)
    if np.any(zero):
        inv = np.where(zero, 0.0, inv)
    u *= inv[..., None, None]
    return u, big, f, zero


def options(canonicalization, normalization, metric):
    """Validate the names of a STARC variant."""
    method = check_name(canonicalization, "canonicalization", CANONICALIZATIONS)
    normalization = None if normalization is None else check_norm_name(normalization,
                                                                       "normalization")
    metric = check_norm_name(metric, "metric")
    return method, normalization, metric


def _pair(r1, r2, mask, prompt_weights, response_weights, names=("r1", "r2"), copy=False):
    s1, s2 = reward_shape(r1, names[0]), reward_shape(r2, names[1])
    check_pair_shapes(s1, s2, *names)
    st = setting(s1, mask, prompt_weights, response_weights)
    return (as_bandit_reward(r1, st.mask, names[0], copy=copy),
            as_bandit_reward(r2, st.mask, names[1], copy=copy), st)


def _coverage(st: Setting, *names) -> np.ndarray | None:
    """The coverage ``mu nu`` when a weighted norm needs it and nu is not uniform."""
    if st.nu is None or not any((nm or "").startswith("weighted_") for nm in names):
        return None
    return st.weights


def _difference(a, big_a, f_a, b, big_b, f_b, normalization):
    """``s1 - s2`` on a common scale, and the factor that restores it (``a``, ``b`` may be
    overwritten)."""
    if normalization is not None:
        a -= b
        return a, 1.0
    # c_i = u_i / f_i; measure (c1 - c2) / top, top = max(max|R1|, max|R2|)
    top = np.maximum(big_a, big_b)
    safe = np.where(top > 0, top, 1.0)
    a *= (1.0 / f_a / safe)[..., None, None]  # (1/f) / top <= 2: never overflows
    b *= (1.0 / f_b / safe)[..., None, None]
    return a - b, top


#: Inputs with at least this many entries go through the fused kernel
#: (:mod:`starc.bandit._kernels`) when it covers the options; smaller ones use numpy.
FUSED_MIN_SIZE = 2**16


def _fused(r1, r2, mask, prompt_weights, response_weights, method, normalization, metric,
           force: bool = False):
    """The distance from the fused numba kernel, or None to use the numpy path.

    The numpy path is taken for batches, small inputs, options the kernel does not cover,
    magnitudes outside :data:`SAFE_RANGE`, and every invalid input (it raises the errors).
    """
    if normalization is None or method not in ("mean", "midrange", "none"):
        return None
    if not (isinstance(r1, np.ndarray) and isinstance(r2, np.ndarray)):
        return None
    if r1.ndim != 2 or r1.shape != r2.shape or (r1.size < FUSED_MIN_SIZE and not force):
        return None
    try:
        from . import _kernels
    except ImportError:  # pragma: no cover - numba is a core dependency
        return None
    a = as_float_array(r1, "r1", allow_nonfinite=True)
    b = as_float_array(r2, "r2", allow_nonfinite=True)
    n, m = a.shape
    mk = None
    if mask is not None:
        mk = np.asarray(mask)
        if mk.dtype != bool or mk.shape != (n, m):
            return None  # the numpy path explains the problem
        mk = np.ascontiguousarray(mk)
    # uniform prompt weights stay implicit (no array of n, no pass over it)
    mu = None if prompt_weights is None else check_prompt_weights(prompt_weights, n)
    nu = None if response_weights is None else check_response_weights(response_weights, n,
                                                                       m, mk)
    status, value = _kernels.run(a, b, mk, mu, nu, method, normalization, metric)
    if status != 0:
        return None
    return float(min(value, 2.0)) if normalization == metric else float(value)


def distance(r1, r2, *, canonicalization="mean", normalization="l2", metric="l2",
             prompt_weights=None, response_weights=None, mask=None):
    r"""STARC distance between two reward models on the same prompts and responses.

    .. math::

        d(R_1, R_2) = m\Big(\frac{c(R_1)}{n(c(R_1))} - \frac{c(R_2)}{n(c(R_2))}\Big),

    with :math:`c` a per-prompt canonicalization, :math:`n` the normalization and
    :math:`m` the metric, each an (optionally :math:`D = \mu\nu`-weighted) :math:`L_p`
    norm over the valid entries. A canonical that is zero up to round-off is taken as 0.

    Parameters
    ----------
    r1, r2 : array_like of shape (..., n, m)
        Scores; batch axes broadcast.
    canonicalization : {"mean", "median", "midrange", "none"}, default "mean"
    normalization : {"l1", "l2", "linf", "weighted_l1", "weighted_l2", "weighted_linf"} or None
        None compares the canonical rewards unnormalized (not scale invariant).
    metric : {"l1", "l2", "linf", "weighted_l1", "weighted_l2", "weighted_linf"}
    prompt_weights : array_like of shape (n,), optional
        :math:`\mu`, non-negative, summing to 1. Default uniform.
    response_weights : array_like of shape (n, m), optional
        :math:`\nu`, each prompt's valid entries summing to 1. Default uniform over valid.
    mask : array_like of bool, shape (n, m), optional
        True at real responses (each prompt needs one); other entries are never read.

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 2]`` when ``normalization`` and ``metric`` use the same :math:`L_p`.

    Raises
    ------
    ValidationError
        Unknown names (the message lists the valid ones), mismatched shapes, NaN or inf at
        valid entries, bad weights or mask, or (``normalization=None`` only) a distance
        beyond the float64 range.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3 (STARC metrics), Thm. 1 (soundness).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import distance
    >>> r = np.array([[0.0, 1.0, 3.0], [2.0, 2.5, 0.0]])
    >>> shift = np.array([[5.0], [-1.0]])          # a per-prompt offset
    >>> round(distance(r, 3 * r + shift), 12), round(distance(r, -r), 12)
    (0.0, 2.0)
    >>> round(distance(r, r ** 2, canonicalization="midrange", normalization="linf",
    ...                metric="linf"), 6)
    0.444444
    """
    method, normalization, metric = options(canonicalization, normalization, metric)
    fast = _fused(r1, r2, mask, prompt_weights, response_weights, method, normalization,
                  metric)
    if fast is not None:
        return fast
    a, b, st = _pair(r1, r2, mask, prompt_weights, response_weights, copy=True)
    d = _coverage(st, normalization, metric)
    s1, big1, f1, _ = standardize_unit(a, method, normalization, st, d, inplace=True)
    s2, big2, f2, _ = standardize_unit(b, method, normalization, st, d, inplace=True)
    if s1.shape != s2.shape:
        s1, s2 = (np.array(x) for x in np.broadcast_arrays(s1, s2))
    diff, factor = _difference(s1, big1, f1, s2, big2, f2, normalization)
    with np.errstate(over="ignore"):  # unnormalized: beyond float64 is refused below
        out = finite_result(norm_unit(diff, metric, st, d) * factor, "the distance")
    if normalization == metric:  # the triangle inequality: <= 2 up to round-off
        out = np.minimum(out, 2.0)
    return float(out) if np.ndim(out) == 0 else out


def pearson_distance(r1, r2, *, prompt_weights=None, response_weights=None, mask=None):
    r"""EPIC-style Pearson distance of the mean-canonical rewards under :math:`D = \mu\nu`.

    .. math::

        D_\rho(R_1, R_2) = \sqrt{\tfrac12 (1 - \rho)}, \qquad
        \rho = \frac{\mathbb E_D[c_1 c_2]}{\sqrt{\mathbb E_D[c_1^2]\, \mathbb E_D[c_2^2]}},
        \quad c_i(x, y) = R_i(x, y) - \textstyle\sum_{y'} \nu(y'|x) R_i(x, y'),

    computed as :math:`\tfrac12\|c_1/\|c_1\|_{D,2} - c_2/\|c_2\|_{D,2}\|_{D,2}`, which is
    accurate to round-off near 0. :math:`\rho = 0` when exactly one of the canonicals is
    zero up to round-off; the distance is 0 when both are.

    Parameters
    ----------
    r1, r2 : array_like of shape (..., n, m)
    prompt_weights, response_weights, mask
        As in :func:`distance`.

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 1]``.

    References
    ----------
    .. [1] Gleave et al. 2021 ("EPIC"), Def. 4.3 and 4.4.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import pearson_distance
    >>> r = np.array([[0.0, 1.0, 3.0], [2.0, 2.5, 0.0]])
    >>> round(pearson_distance(r, 2 * r + 1), 12), round(pearson_distance(r, -r), 12)
    (0.0, 1.0)
    """
    a, b, st = _pair(r1, r2, mask, prompt_weights, response_weights, copy=True)
    d = _coverage(st, "weighted_l2")
    s1, _, _, z1 = standardize_unit(a, "mean", "weighted_l2", st, d, inplace=True)
    s2, _, _, z2 = standardize_unit(b, "mean", "weighted_l2", st, d, inplace=True)
    out = np.minimum(0.5 * norm_unit(s1 - s2, "weighted_l2", st, d), 1.0)
    out = np.where(z1 & z2, 0.0, np.where(z1 | z2, np.sqrt(0.5), out))
    return float(out) if np.ndim(out) == 0 else out


def pairwise_distances(rewards, *, canonicalization="mean", normalization="l2", metric="l2",
                       prompt_weights=None, response_weights=None, mask=None) -> np.ndarray:
    r"""Distances between every pair of ``K`` reward models: a ``(K, K)`` matrix.

    .. math::

        D_{ij} = d(R_i, R_j) = m\big(s(R_i) - s(R_j)\big),

    each :math:`s(R_i)` computed once.

    Parameters
    ----------
    rewards : array_like of shape (K, n, m)
    canonicalization, normalization, metric, prompt_weights, response_weights, mask
        As in :func:`distance`.

    Returns
    -------
    ndarray of shape (K, K)
        Symmetric, zero diagonal.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import pairwise_distances
    >>> r = np.array([[0.0, 1.0, 3.0], [2.0, 2.5, 0.0]])
    >>> pairwise_distances(np.stack([r, 2 * r, -r]))
    array([[0., 0., 2.],
           [0., 0., 2.],
           [2., 2., 0.]])
    """
    method, normalization, metric = options(canonicalization, normalization, metric)
    shape = reward_shape(rewards, "rewards")
    if len(shape) != 3:
        raise ValidationError(f"rewards must have shape (K, n_prompts, n_responses), got "
                              f"{shape}")
    st = setting(shape, mask, prompt_weights, response_weights)
    r = as_bandit_reward(rewards, st.mask, "rewards", copy=True)
    d = _coverage(st, normalization, metric)
    s, big, f, _ = standardize_unit(r, method, normalization, st, d, inplace=True)
    factor = 1.0
    if normalization is None:
        top = float(big.max(initial=0.0))
        factor = top if top > 0 else 1.0
        s *= (1.0 / f / factor)[:, None, None]
    k = s.shape[0]
    out = np.zeros((k, k))
    for i in range(k - 1):
        with np.errstate(over="ignore"):  # unnormalized: beyond float64 is refused
            row = finite_result(norm_unit(s[i] - s[i + 1:], metric, st, d) * factor,
                                "the distance")
        if normalization == metric:
            row = np.minimum(row, 2.0)
        out[i, i + 1:] = row
        out[i + 1:, i] = row
    return out
