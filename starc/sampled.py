r"""Sample-based EPIC, DARD and VAL distances for continuous or huge state spaces.

When the states cannot be enumerated, the expectations that define a canonical reward
are estimated from samples, and so is the distance. Every estimator here returns a
:class:`SampledDistance` ``(estimate, stderr, n_samples)``: the estimate and a
bootstrap standard error for the given number of coverage samples ``n_samples`` =
:math:`N`. On a tabular MDP with the samplers of :func:`tabular_samplers` each estimator
is consistent for the exact value of :func:`starc.epic_distance`,
:func:`starc.dard_distance` or :func:`starc.starc_distance` (VAL, L2, L2), and its error
shrinks like :math:`1/\sqrt N`.

Inputs are plain functions on numpy arrays whose first axis is the batch: rewards
``reward(states, actions, next_states) -> (n,)``, samplers ``sampler(n, rng)``, a
transition model ``transition_sampler(states, actions, rng) -> next_states``, a policy
``policy(states, rng) -> actions`` and values ``value(states) -> (n,)``. States and
actions may be integer indices, feature vectors or anything numpy can index along its
first axis. A coverage distribution may also be given as a dataset
``(states, actions, next_states)`` of arrays, from which rows are drawn with
replacement.

Common random numbers
---------------------
Both rewards are always evaluated on the *same* samples. This is what makes the
estimators exact on potential shaping: for :math:`R' = R + \gamma\Phi(s') - \Phi(s)` the
sampled canonical of :math:`R'` equals that of :math:`R` plus a constant (EPIC, DARD) or
exactly (VAL with consistent values), sample by sample, so the estimated distance is 0
up to round-off — whatever :math:`N`. With independent samples per reward the shaping
terms would add noise that does not cancel.

EPIC (Gleave et al. [1]_, Sec. 4 and App. A)
--------------------------------------------
With coverage samples :math:`(s_i, a_i, s'_i) \sim \mathcal D`, :math:`i = 1..N`, and
*mean samples* :math:`(a_j, x_j) \sim D_A \times D_S`, :math:`j = 1..M`, shared by all
:math:`i`:

.. math::

    \hat f(z) = \frac1M \sum_{j=1}^M R(z, a_j, x_j), \qquad
    \hat C(s_i, a_i, s'_i) = R(s_i, a_i, s'_i) + \gamma \hat f(s'_i) - \hat f(s_i),

and :math:`\hat D_{\mathrm{EPIC}} = \sqrt{(1 - \hat\rho)/2}` with :math:`\hat\rho` the
sample Pearson correlation of :math:`\hat C_1, \hat C_2` over :math:`i`. The constant
term :math:`-\gamma \mathbb E[R(S, A, S')]` of the canonical is dropped: the Pearson
correlation ignores constants. This is the estimator of Gleave et al.'s
implementation; :math:`M` defaults to :math:`N`, costing :math:`N(2M + 1)` reward calls
per reward.

DARD (Wulfe et al. [2]_, Sec. 4)
--------------------------------
For each coverage sample, :math:`M` independent inner samples
:math:`a_{ij} \sim D_A`, :math:`u_{ij} \sim \tau(\cdot \mid s_i, a_{ij})`,
:math:`v_{ij} \sim \tau(\cdot \mid s'_i, a_{ij})` from ``transition_sampler``:

.. math::

    y_{ij} = \gamma R(s'_i, a_{ij}, v_{ij}) - R(s_i, a_{ij}, u_{ij})
             - \gamma R(u_{ij}, a_{ij}, v_{ij}), \qquad
    \hat C_i = R(s_i, a_i, s'_i) + \bar y_i .

VAL (Skalse et al. [3]_, Prop. 2 and Def. 3)
--------------------------------------------
:math:`c_{\mathrm{VAL}}(R)(s, a) = \mathbb E_{X \sim \tau(s, a)}[R(s, a, X) + \gamma V^\pi(X)]
- V^\pi(s)`. With :math:`K` next states :math:`x_{ik} \sim \tau(\cdot \mid s_i, a_i)` and a
value function :math:`V` per reward (``value1``, ``value2``):
:math:`y_{ik} = R(s_i, a_i, x_{ik}) + \gamma V(x_{ik})` and
:math:`\hat c_i = \bar y_i - V(s_i)`. Without value functions, Monte-Carlo: for each
:math:`k`, the value of :math:`s_i` is started with one step :math:`a'_{ik} \sim
\pi(\cdot \mid s_i)`, :math:`x'_{ik} \sim \tau(\cdot \mid s_i, a'_{ik})`, and

.. math::

    y_{ik} = R(s_i, a_i, x_{ik}) - R(s_i, a'_{ik}, x'_{ik})
             + \gamma \big[\hat G(x_{ik}) - \hat G(x'_{ik})\big], \qquad
    \hat G(z) = \text{mean over rollouts of } \textstyle\sum_{t < H} \gamma^t
    R(z_t, a_t, z_{t+1}),\; z_0 = z,

with the rollouts from :math:`x_{ik}` and from :math:`x'_{ik}` driven by common random
numbers (identically seeded generators for ``policy`` and ``transition_sampler``, row by
row): each return is an ordinary Monte-Carlo return, so :math:`y_{ik}` is unbiased for
:math:`c(s_i, a_i)`, but the difference of the two tails has a small variance. Returns are
truncated at the horizon :math:`H` (default: the smallest with :math:`\gamma^H \le
10^{-6}`; the truncation error of each value is at most :math:`\gamma^H \max|R| /
(1-\gamma)`). The STARC distance with :math:`L_2` normalization and metric, the norms
taken under the coverage distribution, is

.. math::

    \hat d^2 = 2 - 2\,\frac{\hat m_{12}}{\sqrt{\hat m_{11} \hat m_{22}}}, \qquad
    \hat m_{kl} \approx \mathbb E_{\mathcal D}[c_k c_l],

which equals :func:`starc.starc_distance` (VAL, L2, L2) for uniform coverage of
:math:`S \times A` (its normalization and metric both use :math:`L_2`, so the scale of
the measure cancels). The canonical is constant in :math:`s'`, so the coverage's next
states are not used.

Scale
-----
Every estimate is invariant to a positive scaling of either reward. Each reward's
outputs (and its value function's) are multiplied by a power of two :math:`2^{-e}`
(exact) fixed by its first batch of outputs whenever their largest magnitude lies
outside :math:`[2^{-256}, 2^{256}]`, so rewards of any magnitude from about
:math:`10^{-323}` to :math:`1.8\times 10^{308}` give the estimate of the same rewards
at unit scale (exactly the same for power-of-two scalings). A reward whose values span
more than float64 can hold after that rescaling raises
:class:`~starc.exceptions.ValidationError` instead of returning a non-finite estimate.

Bias correction of the inner noise
----------------------------------
In DARD and VAL each :math:`\hat C_i` carries independent inner noise, which inflates
second moments: :math:`\mathbb E[\hat C_{1i}\hat C_{2i}] = \mathbb E[C_1 C_2] +
\mathbb E[\operatorname{Cov}(\bar y_{1i}, \bar y_{2i})]`, a bias that does not vanish
as :math:`N` grows. It is removed with the within-item sample covariance (``ddof=1``)
of the inner terms: :math:`\hat m_{kl} = \frac1N \sum_i (\hat C_{ki}\hat C_{li} -
\widehat{\operatorname{Cov}}(y_{k i\cdot}, y_{l i\cdot}) / M)` is unbiased, and so are
the covariances of the Pearson correlation. What remains is the :math:`O(1/N)` bias of
a smooth function of averages, below the standard error. When the noise hides the
signal so that a corrected second moment comes out non-positive, the uncorrected
moments are used for that estimate (or bootstrap replicate); a large standard error
then says that more samples are needed. (With ``M = 1`` there is
nothing to correct with, and no correction is applied: fine for deterministic
dynamics, where the inner noise is zero for VAL with value functions.)

Bootstrap standard errors
-------------------------
For DARD and VAL the items :math:`i` are independent and identically distributed (each
carries its own inner samples), so the nonparametric bootstrap resamples items with
replacement ``n_bootstrap`` times and reports the standard deviation of the
recomputed estimates. For EPIC the mean samples are shared by all items, so the
bootstrap resamples the coverage samples *and*, independently, the mean samples (the
two-sample bootstrap): the mean samples are dealt into 64 groups
(:math:`j \bmod 64`) and the groups are resampled, which recomputes :math:`\hat f` from
group sums in :math:`O(N \cdot 64)` per replicate instead of :math:`O(NM)` (a bootstrap
of group means, valid because the mean samples are i.i.d.); both sources of error are
covered. The estimate itself never depends on ``n_bootstrap``:
the bootstrap draws from its own random stream.

Near a distance of 0 the estimator is a non-negative quantity whose bootstrap
distribution is skewed; the standard error is then only a scale for the noise.

References
----------
.. [1] Gleave, Dennis, Legg, Russell, Leike. "Quantifying Differences in Reward
   Functions". ICLR 2021, Def. 4.1 (canonicalization), Def. 4.4 (EPIC), Sec. 4 and
   App. A (sample-based approximation).
.. [2] Wulfe, Balakrishna, Ellis, Mercat, McAllister, Gaidon. "Dynamics-Aware
   Comparison of Learned Reward Functions". ICLR 2022, Def. 1 and Sec. 4.
.. [3] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Prop. 2 (VAL), Def. 3
   (STARC metrics), Sec. 4.2 (continuous environments).
.. [4] Efron, Tibshirani. "An Introduction to the Bootstrap". Chapman & Hall 1993,
   Ch. 6 (bootstrap standard errors).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from ._validation import (check_distribution, check_gamma, check_policy, check_positive_int,
                          check_seed)
from .exceptions import ValidationError
from .mdp import TabularMDP, as_dense_mdp
from ._extremes import scale_exponents
from .norms import ZERO_RTOL

__all__ = [
    "SampledDistance",
    "TabularSamplers",
    "sampled_epic_distance",
    "sampled_dard_distance",
    "sampled_val_distance",
    "tabular_samplers",
    "tabular_reward",
]

#: Reward evaluations per call of a user function when ``batch_size`` is not given.
DEFAULT_BATCH = 2**16

#: Groups of mean samples resampled by the EPIC bootstrap.
EPIC_GROUPS = 64

#: Truncation of Monte-Carlo returns: the default horizon makes gamma**H <= this.
MC_TRUNCATION = 1e-6


class _SampledDistanceFields(NamedTuple):
    estimate: float
    stderr: float
    n_samples: int


class SampledDistance(_SampledDistanceFields):
    """A sampled distance with its bootstrap standard error.

    Attributes
    ----------
    estimate : float
        The estimated distance (finite).
    stderr : float
        Bootstrap standard error of ``estimate`` (finite, >= 0).
    n_samples : int
        Number of coverage samples :math:`N` behind the estimate (>= 1).

    References
    ----------
    .. [1] Efron and Tibshirani 1993, "An Introduction to the Bootstrap", Ch. 6.

    Examples
    --------
    >>> from starc.sampled import SampledDistance
    >>> d = SampledDistance(0.42, 0.01, 4096)
    >>> d.estimate - 3 * d.stderr > 0  # clearly positive
    True
    """

    __slots__ = ()

    def __new__(cls, estimate: float, stderr: float, n_samples: int) -> SampledDistance:
        from ._validation import check_real

        estimate = check_real(estimate, "estimate")
        stderr = check_real(stderr, "stderr", low=0.0)
        if isinstance(n_samples, (float, np.floating)) and float(n_samples).is_integer():
            n_samples = int(n_samples)
        n_samples = check_positive_int(n_samples, "n_samples")
        return super().__new__(cls, estimate, stderr, n_samples)


class TabularSamplers(NamedTuple):
    """Samplers of a :class:`~starc.TabularMDP`, for checking estimators against exact values.

    Attributes
    ----------
    coverage : callable
        ``coverage(n, rng) -> (s, a, s')``, independent draws with :math:`s, s' \\sim D_S`
        and :math:`a \\sim D_A` (uniform: the default coverage of the exact distances).
    state_sampler : callable
        ``state_sampler(n, rng) -> s`` from :math:`D_S`.
    action_sampler : callable
        ``action_sampler(n, rng) -> a`` from :math:`D_A`.
    transition : callable
        ``transition(s, a, rng) -> s'`` with :math:`s' \\sim \\tau(\\cdot \\mid s, a)`.
    policy : callable
        ``policy(s, rng) -> a`` with :math:`a \\sim \\pi(\\cdot \\mid s)`.

    References
    ----------
    .. [1] Gleave et al. 2021 ("EPIC"), Def. 4.1 (:math:`D_S`, :math:`D_A`, coverage).

    Examples
    --------
    See :func:`tabular_samplers`.
    """

    coverage: Callable
    state_sampler: Callable
    action_sampler: Callable
    transition: Callable
    policy: Callable


# --------------------------------------------------------------------------- validation


def _check_callable(fn, name: str):
    if not callable(fn):
        raise ValidationError(f"{name} must be callable, got {type(fn).__name__}")
    return fn


def _check_count(value, name: str, minimum: int) -> int:
    return check_positive_int(value, name, minimum=minimum)


def _leading(arr, n: int, name: str) -> np.ndarray:
    out = np.asarray(arr)
    if out.dtype == object:
        raise ValidationError(f"{name} returned an object array; return a numeric array "
                              "with the batch on the first axis")
    if out.ndim == 0 or out.shape[0] != n:
        raise ValidationError(f"{name} must return an array with {n} rows (the batch on "
                              f"its first axis), got shape {out.shape}")
    return out


def _values(out, n: int, name: str) -> np.ndarray:
    """Check a reward or value output: finite real numbers of shape ``(n,)``."""
    arr = np.asarray(out)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValidationError(f"{name} returned dtype {arr.dtype}; it must return real numbers")
    if arr.shape != (n,):
        hint = " (squeeze the last axis)" if arr.shape == (n, 1) else ""
        raise ValidationError(f"{name} returned shape {arr.shape} for a batch of {n}; "
                              f"expected ({n},){hint}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValidationError(f"{name} returned {bad} NaN or infinite value(s) in a batch "
                              f"of {n}; rewards and values must be finite")
    return arr


class _PowerOfTwo:
    """The power-of-two scale of one reward's outputs (and of its value function's).

    Fixed by the first batch of outputs: when their largest magnitude leaves the safe
    window of :data:`starc.norms.SAFE_EXPONENT`, every later output of the reward is
    multiplied by :math:`2^{-e}` (exact), so that squares, second moments and sums of
    many terms neither overflow nor underflow. Every estimator here is invariant to a
    positive scaling of each reward, so nothing is scaled back.
    """

    __slots__ = ("exponent",)

    def __init__(self):
        self.exponent = None

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if self.exponent is None:
            ex = scale_exponents(np.abs(values).max(initial=0.0))
            self.exponent = 0 if ex is None else int(ex)
        return values if self.exponent == 0 else np.ldexp(values, -self.exponent)


class _Scaled(NamedTuple):
    """A reward (or value) callable whose checked outputs pass through ``scale``."""

    fn: Callable
    scale: _PowerOfTwo


def _scaled_pair(reward1, reward2):
    """``reward1``, ``reward2`` wrapped with a power-of-two scale each (:class:`_PowerOfTwo`)."""
    return _Scaled(reward1, _PowerOfTwo()), _Scaled(reward2, _PowerOfTwo())


def _evaluate(fn, name: str, args: tuple, batch: int) -> np.ndarray:
    """``fn(*args)`` in chunks of ``batch`` rows, checked (and rescaled, for :class:`_Scaled`)."""
    scale = None
    if isinstance(fn, _Scaled):
        fn, scale = fn
    n = len(args[0])
    out = np.empty(n)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        values = _values(fn(*(x[start:stop] for x in args)), stop - start, name)
        out[start:stop] = values if scale is None else scale(values)
    return out


def _as_sampler(source, name: str):
    """A ``(n, rng) -> array`` sampler from a callable or a dataset of rows."""
    if source is None:
        return None
    if callable(source):
        def sample(n, rng):
            return _leading(source(n, rng), n, name)
        return sample
    data = np.asarray(source)
    if data.dtype == object or data.ndim == 0 or data.shape[0] == 0:
        raise ValidationError(f"{name} must be a callable sampler(n, rng) or a non-empty "
                              f"numeric array of rows, got {type(source).__name__}")

    def resample(n, rng):
        return data[rng.integers(0, data.shape[0], n)]
    return resample


def _as_coverage(coverage):
    """A ``(n, rng) -> (s, a, s')`` sampler from a callable or a 3-tuple dataset."""
    if callable(coverage):
        def sample(n, rng):
            out = coverage(n, rng)
            if not isinstance(out, (tuple, list)) or len(out) != 3:
                raise ValidationError("coverage must return a tuple (states, actions, "
                                      f"next_states), got {type(out).__name__}")
            return tuple(_leading(x, n, f"coverage[{i}]") for i, x in enumerate(out))
        return sample
    if isinstance(coverage, (tuple, list)) and len(coverage) == 3:
        data = [np.asarray(x) for x in coverage]
        lens = {x.shape[0] if x.ndim else -1 for x in data}
        if len(lens) != 1 or -1 in lens or 0 in lens or any(x.dtype == object for x in data):
            raise ValidationError(
                "coverage as a dataset must be three numeric arrays (states, actions, "
                f"next_states) with the same number of rows, got shapes "
                f"{[x.shape for x in data]}")
        m = data[0].shape[0]

        def resample(n, rng):
            idx = rng.integers(0, m, n)
            return tuple(x[idx] for x in data)
        return resample
    raise ValidationError("coverage must be a callable coverage(n, rng) -> (states, actions, "
                          "next_states) or a tuple of three arrays, got "
                          f"{type(coverage).__name__}")


def _as_transition(fn, name: str = "transition_sampler"):
    _check_callable(fn, name)

    def step(states, actions, rng):
        return _leading(fn(states, actions, rng), len(states), name)
    return step


def _common_options(reward1, reward2, gamma, n_samples, n_bootstrap, batch_size, seed):
    _check_callable(reward1, "reward1")
    _check_callable(reward2, "reward2")
    gamma = check_gamma(gamma)
    n = _check_count(n_samples, "n_samples", 2)
    b = _check_count(n_bootstrap, "n_bootstrap", 2)
    from ._validation import check_memory

    # refuse before sampling: the samples (s, a, s', two rewards, ...) and the replicates
    check_memory((n,), f"n_samples = {n:,} coverage samples", copies=8)
    check_memory((b,), f"n_bootstrap = {b:,} bootstrap replicates", copies=2)
    batch = DEFAULT_BATCH if batch_size is None else _check_count(batch_size, "batch_size", 1)
    rng = check_seed(seed)
    sample_rng, boot_rng = rng.spawn(2)
    return gamma, n, b, batch, sample_rng, boot_rng


def _both(reward1, reward2, args, batch):
    return (_evaluate(reward1, "reward1", args, batch),
            _evaluate(reward2, "reward2", args, batch))


# --------------------------------------------------------------------------- statistics


def _pearson_distance_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson distance along the last axis, with starc's zero-variance conventions."""
    cx = x - x.mean(axis=-1, keepdims=True)
    cy = y - y.mean(axis=-1, keepdims=True)
    return _moment_pearson((cx * cy).mean(-1), (cx * cx).mean(-1), (cy * cy).mean(-1),
                           np.abs(x).max(-1), np.abs(y).max(-1))


def _pearson_from_moments(cov, var_x, var_y, zero_x, zero_y) -> np.ndarray:
    r""":math:`\sqrt{(1 - \rho)/2}` from a covariance and two variances.

    For estimated moments, where no standardised arrays exist (the exact tabular
    distance, :func:`starc.pearson_distance`, works on the arrays themselves).
    ``zero_x`` / ``zero_y`` mark variances that are zero up to round-off: then
    :math:`\rho = 0` if exactly one of them is, and the distance is 0 if both are.
    """
    either = zero_x | zero_y
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(either, 0.0, cov / np.sqrt(np.where(either, 1.0, var_x * var_y)))
    d = np.sqrt(0.5 * (1.0 - np.clip(rho, -1.0, 1.0)))
    return np.where(zero_x & zero_y, 0.0, d)


def _moment_pearson(cov, vx, vy, scale_x, scale_y) -> np.ndarray:
    """Pearson distance from moments; a variance within round-off of ``scale`` is zero."""
    return _pearson_from_moments(cov, vx, vy, vx <= (ZERO_RTOL * scale_x) ** 2,
                                 vy <= (ZERO_RTOL * scale_y) ** 2)


def _corrected_pearson(c1, c2, n11, n22, n12) -> np.ndarray:
    """Pearson distance along the last axis with the inner-noise (co)variances removed.

    Where a corrected variance is not positive (the noise hides the signal), the
    uncorrected moments are used instead.
    """
    n = c1.shape[-1]
    d1 = c1 - c1.mean(-1, keepdims=True)
    d2 = c2 - c2.mean(-1, keepdims=True)
    ddof = n / (n - 1)
    raw = [(d1 * d2).mean(-1) * ddof, (d1 * d1).mean(-1) * ddof, (d2 * d2).mean(-1) * ddof]
    cor = [raw[0] - n12.mean(-1), raw[1] - n11.mean(-1), raw[2] - n22.mean(-1)]
    s1, s2 = np.abs(c1).max(-1), np.abs(c2).max(-1)
    ok = (cor[1] > (ZERO_RTOL * s1) ** 2) & (cor[2] > (ZERO_RTOL * s2) ** 2)
    cov, v1, v2 = (np.where(ok, c, r) for c, r in zip(cor, raw))
    return _moment_pearson(cov, v1, v2, s1, s2)


def _corrected_l2(c1, c2, n11, n22, n12) -> np.ndarray:
    """STARC L2/L2 distance along the last axis from inner-noise-corrected second moments.

    Where a corrected second moment is not positive, the uncorrected ones are used.
    """
    raw = [(c1 * c2).mean(-1), (c1 * c1).mean(-1), (c2 * c2).mean(-1)]
    cor = [raw[0] - n12.mean(-1), raw[1] - n11.mean(-1), raw[2] - n22.mean(-1)]
    s1, s2 = np.abs(c1).max(-1), np.abs(c2).max(-1)
    ok = (cor[1] > (ZERO_RTOL * s1) ** 2) & (cor[2] > (ZERO_RTOL * s2) ** 2)
    m12, m11, m22 = (np.where(ok, c, r) for c, r in zip(cor, raw))
    z1 = m11 <= (ZERO_RTOL * s1) ** 2
    z2 = m22 <= (ZERO_RTOL * s2) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(z1 | z2, 0.0, m12 / np.sqrt(np.where(z1 | z2, 1.0, m11 * m22)))
    cos = np.clip(cos, -1.0, 1.0)
    d = np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0))
    d = np.where(z1 ^ z2, 1.0, d)  # s(R) = 0 for the trivial reward: distance 1
    return np.where(z1 & z2, 0.0, d)


def _inner_moments(y1: np.ndarray, y2: np.ndarray):
    """Item means and the (co)variances of those means from ``(N, M)`` inner terms."""
    m = y1.shape[1]
    b1, b2 = y1.mean(1), y2.mean(1)
    if m < 2:
        z = np.zeros(y1.shape[0])
        return b1, b2, z, z, z
    e1, e2 = y1 - b1[:, None], y2 - b2[:, None]
    scale = 1.0 / ((m - 1) * m)
    return (b1, b2, (e1 * e1).sum(1) * scale, (e2 * e2).sum(1) * scale,
            (e1 * e2).sum(1) * scale)


def _bootstrap_items(stat, arrays, n_bootstrap, rng, n) -> np.ndarray:
    """Replicates of ``stat(*arrays[idx])`` over item resamples, in memory-bounded chunks."""
    reps = np.empty(n_bootstrap)
    chunk = max(1, 2**22 // n)
    for b0 in range(0, n_bootstrap, chunk):
        b1 = min(n_bootstrap, b0 + chunk)
        idx = rng.integers(0, n, (b1 - b0, n))
        reps[b0:b1] = stat(*(x[idx] for x in arrays))
    return reps


def _result(estimate, reps, n) -> SampledDistance:
    out = SampledDistance(float(estimate), float(np.std(reps, ddof=1)), int(n))
    if not (np.isfinite(out.estimate) and np.isfinite(out.stderr)):
        raise ValidationError(
            "the estimate is not finite: a reward's values span more than the float64 range "
            "allows (each reward is rescaled by a power of two fixed by its first batch of "
            "values); rescale the rewards to comparable magnitudes")
    return out


def _repeat(x: np.ndarray, k: int) -> np.ndarray:
    return np.repeat(x, k, axis=0)


# --------------------------------------------------------------------------- EPIC


def sampled_epic_distance(reward1, reward2, coverage, *, gamma: float, state_sampler=None,
                          action_sampler=None, n_samples: int = 4096,
                          n_mean_samples: int | None = None, n_bootstrap: int = 200,
                          batch_size: int | None = None, seed=None) -> SampledDistance:
    r"""EPIC distance estimated from coverage samples (Gleave et al.'s estimator).

    .. math::

        \hat C(s, a, s') = R(s, a, s') + \gamma \hat f(s') - \hat f(s), \quad
        \hat f(z) = \frac1M \sum_{j} R(z, a_j, x_j), \quad
        \hat D = \sqrt{\tfrac12 (1 - \hat\rho(\hat C_1, \hat C_2))},

    with :math:`(a_j, x_j) \sim D_A \times D_S` shared by all coverage samples and by
    both rewards (see the module documentation).

    Parameters
    ----------
    reward1, reward2 : callable
        ``reward(states, actions, next_states) -> (n,)`` on numpy batches.
    coverage : callable or tuple of 3 arrays
        ``coverage(n, rng) -> (states, actions, next_states)``, the distribution
        :math:`\mathcal D` of the Pearson correlation; or a dataset of transitions,
        resampled with replacement.
    gamma : float
        Discount in ``[0, 1)``.
    state_sampler, action_sampler : callable or array, optional
        :math:`D_S` and :math:`D_A`: ``sampler(n, rng) -> (n, ...)`` or an array of rows
        to resample. When omitted, the next states and the actions of extra coverage
        draws are used (EPIC's "marginals of the coverage").
    n_samples : int, default 4096
        Coverage samples :math:`N \ge 2`.
    n_mean_samples : int, optional
        Mean samples :math:`M`; :math:`N` by default. Cost: :math:`N(2M + 1)` reward
        evaluations per reward.
    n_bootstrap : int, default 200
        Bootstrap replicates (two-sample: coverage and mean samples).
    batch_size : int, optional
        Rows per reward call (65,536 by default).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    SampledDistance
        ``(estimate, stderr, n_samples)``; the estimate lies in ``[0, 1]``.

    Raises
    ------
    ValidationError
        When a reward returns the wrong shape or NaN (the message names ``reward1`` or
        ``reward2``), a sampler returns the wrong number of rows, or an option is
        invalid.

    References
    ----------
    .. [1] Gleave et al. 2021 ("EPIC"), Def. 4.1, Def. 4.4 and App. A (sample-based
       approximation).

    Examples
    --------
    On a tabular MDP the estimate approaches :func:`starc.epic_distance`:

    >>> import numpy as np
    >>> import starc
    >>> from starc.sampled import sampled_epic_distance, tabular_samplers, tabular_reward
    >>> mdp = starc.random_mdp(6, 2, seed=0)
    >>> R1, R2 = starc.random_reward(mdp, seed=1), starc.random_reward(mdp, seed=2)
    >>> smp = tabular_samplers(mdp)
    >>> est = sampled_epic_distance(tabular_reward(R1), tabular_reward(R2), smp.coverage,
    ...                             gamma=mdp.gamma, state_sampler=smp.state_sampler,
    ...                             action_sampler=smp.action_sampler, n_samples=2000,
    ...                             seed=0)
    >>> exact = starc.epic_distance(R1, R2, mdp)
    >>> bool(abs(est.estimate - exact) < 4 * est.stderr)
    True
    """
    gamma, n, n_boot, batch, rng, boot_rng = _common_options(
        reward1, reward2, gamma, n_samples, n_bootstrap, batch_size, seed)
    reward1, reward2 = _scaled_pair(reward1, reward2)  # scale-free estimates
    m = n if n_mean_samples is None else _check_count(n_mean_samples, "n_mean_samples", 1)
    draw = _as_coverage(coverage)
    draw_s = _as_sampler(state_sampler, "state_sampler")
    draw_a = _as_sampler(action_sampler, "action_sampler")

    s, a, x = draw(n, rng)
    if draw_s is None or draw_a is None:
        _, extra_a, extra_x = draw(m, rng)
    ms = draw_s(m, rng) if draw_s is not None else extra_x
    ma = draw_a(m, rng) if draw_a is not None else extra_a

    r1, r2 = _both(reward1, reward2, (s, a, x), batch)
    points = np.concatenate([s, x], axis=0)  # f is needed at s_i and at s'_i
    # Mean samples in G groups (j -> j mod G) for the bootstrap of f: group sums.
    n_groups = min(m, EPIC_GROUPS)
    group = np.arange(m) % n_groups
    group_size = np.bincount(group, minlength=n_groups).astype(np.float64)
    sums1, sums2 = np.empty((2 * n, n_groups)), np.empty((2 * n, n_groups))
    rows = max(1, min(2 * n, batch // m))
    tiled_a = np.concatenate([ma] * rows, axis=0)
    tiled_s = np.concatenate([ms] * rows, axis=0)
    for p0 in range(0, 2 * n, rows):
        p1 = min(2 * n, p0 + rows)
        k = p1 - p0
        args = (_repeat(points[p0:p1], m), tiled_a[:k * m], tiled_s[:k * m])
        v1, v2 = _both(reward1, reward2, args, batch)
        for v, sums in ((v1, sums1), (v2, sums2)):
            v = v.reshape(k, m)
            for g in range(n_groups):
                sums[p0:p1, g] = v[:, g::n_groups].sum(axis=1)
    f1, f2 = sums1.sum(1) / m, sums2.sum(1) / m

    c1 = r1 + gamma * f1[n:] - f1[:n]
    c2 = r2 + gamma * f2[n:] - f2[:n]
    estimate = _pearson_distance_rows(c1, c2)

    # Two-sample bootstrap: groups of mean samples and coverage samples, independently.
    counts = boot_rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups),
                                  size=n_boot).T.astype(np.float64)  # (G, B)
    boot_f1 = (sums1 @ counts) / (group_size @ counts)
    boot_f2 = (sums2 @ counts) / (group_size @ counts)
    reps = np.empty(n_boot)
    chunk = max(1, 2**22 // n)
    for b0 in range(0, n_boot, chunk):
        b1 = min(n_boot, b0 + chunk)
        idx = boot_rng.integers(0, n, (b1 - b0, n))
        col = np.arange(b0, b1)[:, None]
        cb1 = r1[idx] + gamma * boot_f1[n + idx, col] - boot_f1[idx, col]
        cb2 = r2[idx] + gamma * boot_f2[n + idx, col] - boot_f2[idx, col]
        reps[b0:b1] = _pearson_distance_rows(cb1, cb2)
    return _result(estimate, reps, n)


# --------------------------------------------------------------------------- DARD


def sampled_dard_distance(reward1, reward2, coverage, transition_sampler, *, gamma: float,
                          action_sampler, n_samples: int = 4096, n_inner_samples: int = 16,
                          n_bootstrap: int = 200, batch_size: int | None = None,
                          seed=None) -> SampledDistance:
    r"""DARD distance estimated with a transition sampler.

    .. math::

        \hat C_i = R(s_i, a_i, s'_i) + \frac1M \sum_{j=1}^M \big[\gamma R(s'_i, a_{ij}, v_{ij})
        - R(s_i, a_{ij}, u_{ij}) - \gamma R(u_{ij}, a_{ij}, v_{ij})\big],

    :math:`a_{ij} \sim D_A`, :math:`u_{ij} \sim \tau(\cdot \mid s_i, a_{ij})`,
    :math:`v_{ij} \sim \tau(\cdot \mid s'_i, a_{ij})`; the Pearson distance of
    :math:`\hat C_1, \hat C_2` is computed with the inner noise removed from its
    (co)variances (see the module documentation).

    Parameters
    ----------
    reward1, reward2 : callable
        ``reward(states, actions, next_states) -> (n,)``.
    coverage : callable or tuple of 3 arrays
        ``coverage(n, rng) -> (states, actions, next_states)`` or a dataset.
    transition_sampler : callable
        ``transition_sampler(states, actions, rng) -> next_states``.
    gamma : float
        Discount in ``[0, 1)``.
    action_sampler : callable or array
        :math:`D_A`: ``action_sampler(n, rng)`` or an array of actions to resample.
    n_samples : int, default 4096
        Coverage samples :math:`N \ge 2`.
    n_inner_samples : int, default 16
        Inner samples :math:`M` per coverage sample (cost :math:`N(3M + 1)` reward
        evaluations per reward, :math:`2NM` transitions). ``1`` disables the noise
        correction.
    n_bootstrap : int, default 200
    batch_size : int, optional
        Rows per reward call.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    SampledDistance
        The estimate lies in ``[0, 1]``.

    Raises
    ------
    ValidationError
        Bad outputs of a reward (naming ``reward1``/``reward2``) or sampler, or bad
        options.

    References
    ----------
    .. [1] Wulfe et al. 2022 ("DARD"), Def. 1 and Sec. 4.

    Examples
    --------
    >>> import starc
    >>> from starc.sampled import sampled_dard_distance, tabular_samplers, tabular_reward
    >>> mdp = starc.random_mdp(6, 2, seed=0)
    >>> R1, R2 = starc.random_reward(mdp, seed=1), starc.random_reward(mdp, seed=2)
    >>> smp = tabular_samplers(mdp)
    >>> est = sampled_dard_distance(tabular_reward(R1), tabular_reward(R2), smp.coverage,
    ...                             smp.transition, gamma=mdp.gamma,
    ...                             action_sampler=smp.action_sampler, n_samples=2000, seed=0)
    >>> bool(abs(est.estimate - starc.dard_distance(R1, R2, mdp)) < 4 * est.stderr)
    True
    """
    gamma, n, n_boot, batch, rng, boot_rng = _common_options(
        reward1, reward2, gamma, n_samples, n_bootstrap, batch_size, seed)
    reward1, reward2 = _scaled_pair(reward1, reward2)  # scale-free estimates
    m = _check_count(n_inner_samples, "n_inner_samples", 1)
    draw = _as_coverage(coverage)
    step = _as_transition(transition_sampler)
    if action_sampler is None:
        raise ValidationError("action_sampler is required: DARD averages over actions "
                              "A ~ D_A")
    draw_a = _as_sampler(action_sampler, "action_sampler")

    s, a, x = draw(n, rng)
    r1, r2 = _both(reward1, reward2, (s, a, x), batch)
    s_rep, x_rep = _repeat(s, m), _repeat(x, m)
    a_in = draw_a(n * m, rng)
    u = step(s_rep, a_in, rng)
    v = step(x_rep, a_in, rng)
    t1a, t2a = _both(reward1, reward2, (x_rep, a_in, v), batch)
    t1b, t2b = _both(reward1, reward2, (s_rep, a_in, u), batch)
    t1c, t2c = _both(reward1, reward2, (u, a_in, v), batch)
    y1 = (gamma * t1a - t1b - gamma * t1c).reshape(n, m)
    y2 = (gamma * t2a - t2b - gamma * t2c).reshape(n, m)
    b1, b2, n11, n22, n12 = _inner_moments(y1, y2)
    c1, c2 = r1 + b1, r2 + b2
    estimate = _corrected_pearson(c1, c2, n11, n22, n12)
    reps = _bootstrap_items(_corrected_pearson, (c1, c2, n11, n22, n12), n_boot, boot_rng, n)
    return _result(estimate, reps, n)


# --------------------------------------------------------------------------- VAL


def _default_horizon(gamma: float) -> int:
    if gamma == 0.0:
        return 1
    return max(1, int(math.ceil(math.log(MC_TRUNCATION) / math.log(gamma))))


def _coupled_rollouts(reward1, reward2, starts_a, starts_b, policy, step, gamma, horizon,
                      batch, rng):
    """Discounted returns of both rewards from two sets of start states, coupled.

    Row ``r`` of ``starts_a`` and row ``r`` of ``starts_b`` are rolled out with the same
    random streams (the policy and the transition sampler get identically seeded
    generators), so their returns are strongly correlated and their difference has a
    small variance; each return on its own is an ordinary Monte-Carlo return.
    """
    n = len(starts_a)
    g = np.zeros((2, 2, n))  # [reward, start set, row]
    zs = [starts_a, starts_b]
    disc = 1.0
    for _ in range(horizon):
        seeds = rng.integers(0, 2**63, size=2)
        for side in (0, 1):
            z = zs[side]
            act = policy(z, np.random.default_rng(int(seeds[0])))
            nxt = step(z, act, np.random.default_rng(int(seeds[1])))
            v1, v2 = _both(reward1, reward2, (z, act, nxt), batch)
            g[0, side] += disc * v1
            g[1, side] += disc * v2
            zs[side] = nxt
        disc *= gamma
    return g


def sampled_val_distance(reward1, reward2, coverage, transition_sampler, *, gamma: float,
                         value1=None, value2=None, policy=None, n_samples: int = 4096,
                         n_next_samples: int = 4, n_rollouts: int = 1,
                         horizon: int | None = None, n_bootstrap: int = 200,
                         batch_size: int | None = None, seed=None) -> SampledDistance:
    r"""STARC distance with VAL canonicalization and L2 norms, estimated from samples.

    .. math::

        \hat c(s_i, a_i) = \frac1K \sum_{k=1}^K \big[R(s_i, a_i, x_{ik})
        + \gamma V(x_{ik})\big] - V(s_i), \qquad
        \hat d = \Big(2 - 2\,\frac{\hat m_{12}}{\sqrt{\hat m_{11}\hat m_{22}}}\Big)^{1/2},

    :math:`x_{ik} \sim \tau(\cdot \mid s_i, a_i)`, with :math:`V = V^\pi_{R_k}` given
    (``value1``, ``value2``) or estimated by Monte-Carlo rollouts of ``policy`` (see the
    module documentation); :math:`\hat m_{kl}` are second moments of the canonical
    rewards under the coverage distribution, corrected for the inner noise.

    Parameters
    ----------
    reward1, reward2 : callable
        ``reward(states, actions, next_states) -> (n,)``.
    coverage : callable or tuple of 3 arrays
        ``coverage(n, rng) -> (states, actions, next_states)`` or a dataset; only the
        states and actions are used (the VAL canonical is constant in :math:`s'`).
    transition_sampler : callable
        ``transition_sampler(states, actions, rng) -> next_states``.
    gamma : float
        Discount in ``[0, 1)``.
    value1, value2 : callable, optional
        ``value(states) -> (n,)``: :math:`V^\pi` of ``reward1`` and ``reward2`` for one
        fixed policy :math:`\pi`. Give both or neither.
    policy : callable, optional
        ``policy(states, rng) -> actions``, the fixed policy :math:`\pi` of the
        Monte-Carlo values; required when no value functions are given.
    n_samples : int, default 4096
        Coverage samples :math:`N \ge 2`.
    n_next_samples : int, default 4
        Next states :math:`K` per coverage sample; ``1`` disables the noise correction
        (exact for deterministic dynamics with value functions).
    n_rollouts : int, default 1
        Monte-Carlo rollouts per value estimate.
    horizon : int, optional
        Rollout length :math:`H`; by default the smallest with
        :math:`\gamma^H \le 10^{-6}`.
    n_bootstrap : int, default 200
    batch_size : int, optional
        Rows per reward or value call.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    SampledDistance
        The estimate lies in ``[0, 2]``.

    Raises
    ------
    ValidationError
        Bad outputs of a reward or value function (named), or bad options (e.g. only one
        value function, or neither values nor a policy).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Prop. 2 (VAL), Def. 3 (STARC metrics).

    Examples
    --------
    With exact values on a tabular MDP the estimate approaches
    :func:`starc.starc_distance`:

    >>> import starc
    >>> from starc.sampled import sampled_val_distance, tabular_samplers, tabular_reward
    >>> mdp = starc.random_mdp(6, 2, seed=0)
    >>> R1, R2 = starc.random_reward(mdp, seed=1), starc.random_reward(mdp, seed=2)
    >>> V1, V2 = starc.policy_evaluation(R1, mdp), starc.policy_evaluation(R2, mdp)
    >>> smp = tabular_samplers(mdp)
    >>> est = sampled_val_distance(tabular_reward(R1), tabular_reward(R2), smp.coverage,
    ...                            smp.transition, gamma=mdp.gamma,
    ...                            value1=lambda s: V1[s], value2=lambda s: V2[s],
    ...                            n_samples=2000, seed=0)
    >>> bool(abs(est.estimate - starc.starc_distance(R1, R2, mdp)) < 4 * est.stderr)
    True
    """
    gamma, n, n_boot, batch, rng, boot_rng = _common_options(
        reward1, reward2, gamma, n_samples, n_bootstrap, batch_size, seed)
    reward1, reward2 = _scaled_pair(reward1, reward2)  # scale-free estimates
    k = _check_count(n_next_samples, "n_next_samples", 1)
    draw = _as_coverage(coverage)
    step = _as_transition(transition_sampler)
    if (value1 is None) != (value2 is None):
        raise ValidationError("value1 and value2 must be given together (the values of "
                              "reward1 and reward2 under one policy) or both left out "
                              "for Monte-Carlo estimates")
    use_mc = value1 is None
    if use_mc:
        if policy is None:
            raise ValidationError("policy is required when value1 and value2 are not "
                                  "given: the Monte-Carlo values follow policy(states, rng)")
        _check_callable(policy, "policy")
        n_roll = _check_count(n_rollouts, "n_rollouts", 1)
        h = _default_horizon(gamma) if horizon is None else _check_count(horizon,
                                                                        "horizon", 1)

        def act(states, rng_):
            return _leading(policy(states, rng_), len(states), "policy")
    else:
        _check_callable(value1, "value1")
        _check_callable(value2, "value2")
        value1, value2 = _Scaled(value1, reward1.scale), _Scaled(value2, reward2.scale)
        if policy is not None or horizon is not None or n_rollouts != 1:
            raise ValidationError("policy, horizon and n_rollouts are used only by the "
                                  "Monte-Carlo values; leave them out with value1/value2")

    s, a, _ = draw(n, rng)
    s_rep, a_rep = _repeat(s, k), _repeat(a, k)
    x = step(s_rep, a_rep, rng)
    q1, q2 = _both(reward1, reward2, (s_rep, a_rep, x), batch)
    if use_mc:
        # V(s) = E[R(s, A', X') + gamma V(X')] with A' ~ pi(s), X' ~ tau(s, A'): one more
        # step, then the tails from X (the canonical's next state) and from X' are rolled
        # out with common random numbers, so that gamma (G(X) - G(X')) has small variance.
        s_roll = _repeat(s_rep, n_roll)
        a2 = act(s_roll, rng)
        x2 = step(s_roll, a2, rng)
        first1, first2 = _both(reward1, reward2, (s_roll, a2, x2), batch)
        g = _coupled_rollouts(reward1, reward2, _repeat(x, n_roll), x2, act, step, gamma, h,
                              batch, rng)
        diff1 = (gamma * (g[0, 0] - g[0, 1]) - first1).reshape(n * k, n_roll).mean(1)
        diff2 = (gamma * (g[1, 0] - g[1, 1]) - first2).reshape(n * k, n_roll).mean(1)
        y1 = (q1 + diff1).reshape(n, k)
        y2 = (q2 + diff2).reshape(n, k)
        base1 = base2 = 0.0
    else:
        vx1 = _evaluate(value1, "value1", (x,), batch)
        vx2 = _evaluate(value2, "value2", (x,), batch)
        y1 = (q1 + gamma * vx1).reshape(n, k)
        y2 = (q2 + gamma * vx2).reshape(n, k)
        base1 = -_evaluate(value1, "value1", (s,), batch)
        base2 = -_evaluate(value2, "value2", (s,), batch)
    b1, b2, n11, n22, n12 = _inner_moments(y1, y2)
    c1, c2 = base1 + b1, base2 + b2
    estimate = _corrected_l2(c1, c2, n11, n22, n12)
    reps = _bootstrap_items(_corrected_l2, (c1, c2, n11, n22, n12), n_boot, boot_rng, n)
    return _result(estimate, reps, n)


# --------------------------------------------------------------------------- tabular


def _categorical(cdf_rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(cdf_rows.shape[0])
    return (cdf_rows <= u[:, None]).sum(axis=1)


def _safe_cdf(p: np.ndarray) -> np.ndarray:
    """Row CDFs that reach exactly 1 at the last positive entry (no zero-probability draws)."""
    cdf = np.cumsum(p, axis=-1)
    last = p.shape[-1] - 1 - np.argmax((p > 0)[..., ::-1], axis=-1)
    cdf[np.arange(p.shape[-1]) >= last[..., None]] = 1.0
    return cdf


def _index_array(x, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValidationError(f"{name} must be integer indices, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValidationError(f"{name} holds indices outside [0, {n - 1}]")
    return arr


def tabular_samplers(mdp: TabularMDP, *, state_dist=None, action_dist=None,
                     policy="uniform") -> TabularSamplers:
    r"""Samplers of a tabular MDP (integer states and actions) for :mod:`starc.sampled`.

    With the defaults they reproduce the conventions of the exact distances: uniform
    :math:`D_S`, :math:`D_A`, coverage uniform over :math:`S \times A \times S` and the
    uniform policy, so the estimators converge to :func:`starc.epic_distance`,
    :func:`starc.dard_distance` and :func:`starc.starc_distance`.

    Parameters
    ----------
    mdp : TabularMDP
    state_dist : array_like of shape (S,), optional
        :math:`D_S` (uniform by default).
    action_dist : array_like of shape (A,), optional
        :math:`D_A` (uniform by default).
    policy : "uniform", int array (S,) or array (S, A), default "uniform"
        The policy sampled by ``policy``.

    Returns
    -------
    TabularSamplers
        ``(coverage, state_sampler, action_sampler, transition, policy)``.

    References
    ----------
    .. [1] Gleave et al. 2021 ("EPIC"), Def. 4.1 (:math:`D_S`, :math:`D_A`, coverage).

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.sampled import tabular_samplers
    >>> smp = tabular_samplers(starc.chain(4)[0])
    >>> s, a, s2 = smp.coverage(5, np.random.default_rng(0))
    >>> s.shape, a.dtype.kind, smp.transition(np.array([3]), np.array([1]), None)
    ((5,), 'i', array([3]))
    """
    as_dense_mdp(mdp, "tabular_samplers", instead="sample successors from the rows of "
                 "the CSR mdp.transition yourself, or use mdp.to_dense() for a small MDP")
    n_states, n_actions = mdp.n_states, mdp.n_actions
    ds = (np.full(n_states, 1.0 / n_states) if state_dist is None
          else check_distribution(state_dist, n_states, "state_dist"))
    da = (np.full(n_actions, 1.0 / n_actions) if action_dist is None
          else check_distribution(action_dist, n_actions, "action_dist"))
    pi = check_policy(policy, n_states, n_actions)
    t_cdf = _safe_cdf(mdp.transition)
    pi_cdf = _safe_cdf(pi)
    ds_cdf, da_cdf = _safe_cdf(ds), _safe_cdf(da)
    deterministic = bool(np.all(mdp.transition.max(axis=-1) == 1.0))
    det_next = np.argmax(mdp.transition, axis=-1)

    def state_sampler(n, rng):
        return np.searchsorted(ds_cdf, rng.random(n), side="right").astype(np.int64)

    def action_sampler(n, rng):
        return np.searchsorted(da_cdf, rng.random(n), side="right").astype(np.int64)

    def coverage(n, rng):
        return state_sampler(n, rng), action_sampler(n, rng), state_sampler(n, rng)

    def transition(states, actions, rng):
        s = _index_array(states, n_states, "states")
        a = _index_array(actions, n_actions, "actions")
        if deterministic:
            return det_next[s, a]
        out = np.empty(s.shape[0], dtype=np.int64)
        chunk = max(1, 2**20 // n_states)
        for i in range(0, s.shape[0], chunk):
            out[i:i + chunk] = _categorical(t_cdf[s[i:i + chunk], a[i:i + chunk]], rng)
        return out

    def sample_policy(states, rng):
        s = _index_array(states, n_states, "states")
        return _categorical(pi_cdf[s], rng).astype(np.int64)

    return TabularSamplers(coverage, state_sampler, action_sampler, transition, sample_policy)


def tabular_reward(reward) -> Callable:
    r"""The reward function :math:`(s, a, s') \mapsto R[s, a, s']` of a tabular reward.

    Parameters
    ----------
    reward : array_like of shape (S, A, S)

    Returns
    -------
    callable
        ``f(states, actions, next_states) -> (n,)`` on integer index arrays.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 2 (rewards :math:`R(s, a, s')`).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.sampled import tabular_reward
    >>> f = tabular_reward(np.arange(8.0).reshape(2, 2, 2))
    >>> f(np.array([0, 1]), np.array([1, 1]), np.array([0, 1]))
    array([2., 7.])
    """
    try:
        r = np.asarray(reward)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise ValidationError(f"reward must be a numeric array of shape (S, A, S): {err}") \
            from None
    if r.dtype == object or r.dtype.kind not in "biuf" or r.ndim != 3 or \
            r.shape[0] != r.shape[2]:
        raise ValidationError(f"reward must be a numeric array of shape (S, A, S), got "
                              f"shape {r.shape} and dtype {r.dtype}")
    r = np.array(r, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        raise ValidationError("reward contains NaN or infinite values")

    def f(states, actions, next_states):
        return r[states, actions, next_states]
    return f
