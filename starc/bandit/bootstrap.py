r"""Bootstrap confidence intervals over prompts.

A distance, a correlation or a regret computed on a sample of prompts estimates the value
on the prompt distribution; its sampling uncertainty comes from *which prompts* were drawn.
The prompt bootstrap [1]_ redraws ``n`` prompts with replacement (each replicate keeps
every response of the prompts it draws, and the mask and response weights of those rows),
re-normalises the prompt weights over the draw,

.. math::

    \mu^*(i) = \frac{\mu(x_{j_i})}{\sum_{i'} \mu(x_{j_{i'}})}, \qquad
    j_1, \dots, j_n \sim \text{Uniform}\{1..n\},

recomputes the statistic, and reports the percentile interval

.. math::

    \big[\, q_{(1 - c)/2},\; q_{(1 + c)/2} \,\big]

of the ``n_boot`` replicates at confidence :math:`c`. A draw whose weights sum to 0 (only
prompts of weight 0) is drawn again. Replicates use one ``numpy.random.Generator`` built
from ``seed`` (an int, a ``SeedSequence``, a ``Generator`` or None), so a seed fixes the
interval.

References
----------
.. [1] Efron and Tibshirani. "An Introduction to the Bootstrap". Chapman & Hall 1993,
   Ch. 6 (the bootstrap) and Ch. 13 (percentile intervals).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .._validation import as_float_array, check_positive_int, check_real, check_seed
from ..exceptions import ValidationError
from ._checks import check_mask, check_prompt_weights, check_response_weights, reward_shape

__all__ = ["BootstrapResult", "STATISTICS", "bootstrap"]


class _BootstrapResultFields(NamedTuple):
    estimate: float
    low: float
    high: float
    confidence: float
    samples: np.ndarray


class BootstrapResult(_BootstrapResultFields):
    """A statistic, its percentile interval and the bootstrap replicates.

    The fields are validated on construction.

    Attributes
    ----------
    estimate : float
        The statistic on the full sample (finite).
    low, high : float
        The percentile interval (finite, ``low <= high``).
    confidence : float
        The coverage of the interval, in ``(0, 1)``.
    samples : ndarray of shape (n_boot,)
        The bootstrap replicates (finite, ``n_boot >= 1``).

    References
    ----------
    .. [1] Efron and Tibshirani 1993, Ch. 13 (percentile intervals).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import BootstrapResult
    >>> res = BootstrapResult(0.5, 0.4, 0.6, 0.9, np.array([0.4, 0.5, 0.6]))
    >>> round(res.high - res.low, 12), res.samples.shape
    (0.2, (3,))
    """

    __slots__ = ()

    def __new__(cls, estimate: float, low: float, high: float, confidence: float,
                samples) -> BootstrapResult:
        estimate = check_real(estimate, "estimate")
        low = check_real(low, "low")
        high = check_real(high, "high", low=low)
        confidence = check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True,
                                high_open=True)
        samples = as_float_array(samples, "samples", ndim=1)
        if samples.size == 0:
            raise ValidationError("samples must hold at least one bootstrap replicate")
        return super().__new__(cls, estimate, low, high, confidence, samples)


def _statistics() -> dict[str, Callable]:
    from .correlations import rank_correlation
    from .distances import distance, pearson_distance
    from .regret import regret, worst_case_regret

    def spearman(r1, r2, **kw):
        return rank_correlation(r1, r2, method="spearman", **kw)

    def kendall(r1, r2, **kw):
        return rank_correlation(r1, r2, method="kendall", **kw)

    return {"distance": distance, "pearson_distance": pearson_distance,
            "spearman": spearman, "kendall": kendall, "regret": regret,
            "worst_case_regret": worst_case_regret}


#: Names accepted as ``statistic`` by :func:`bootstrap`.
STATISTICS = ("distance", "pearson_distance", "spearman", "kendall", "regret",
              "worst_case_regret")

#: Statistics that take ``response_weights``.
_TAKES_NU = ("distance", "pearson_distance")

#: Named statistics whose ``method`` is fixed by the name (a matching ``method=`` is
#: accepted, any other is refused).
_FIXED_METHOD = ("spearman", "kendall")


def bootstrap(statistic, *arrays, n_boot: int = 1000, seed=None, confidence: float = 0.95,
              prompt_weights=None, response_weights=None, mask=None, **kwargs
              ) -> BootstrapResult:
    r"""Percentile bootstrap interval of a statistic, resampling prompts.

    .. math::

        \hat\theta^{*b} = \theta\big(R^{*b}_1, \dots;\, \mu^{*b}\big), \quad
        \text{interval} = \big[q_{(1-c)/2}(\hat\theta^{*}), q_{(1+c)/2}(\hat\theta^{*})\big].

    Parameters
    ----------
    statistic : str or callable
        One of :data:`STATISTICS` (``"distance"``, ``"pearson_distance"``,
        ``"spearman"``, ``"kendall"``, ``"regret"``, ``"worst_case_regret"``), or a callable
        ``statistic(*arrays, prompt_weights=..., mask=..., **kwargs) -> float`` (it also
        gets ``response_weights=`` when that is given).
    *arrays : array_like of shape (..., n, m)
        The rewards (e.g. true and proxy); rows (axis -2) are prompts.
    n_boot : int, default 1000
        Number of replicates.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
    confidence : float, default 0.95
        In (0, 1).
    prompt_weights : array_like of shape (n,), optional
        :math:`\mu` (default uniform), re-normalised over each draw.
    response_weights : array_like of shape (n, m), optional
        :math:`\nu`, resampled with the prompts.
    mask : array_like of bool, shape (n, m), optional
        Resampled with the prompts.
    **kwargs
        Passed to the statistic (e.g. ``metric="linf"``, ``ties="first"``). For
        ``"spearman"`` and ``"kendall"`` a ``method=`` equal to the name is accepted and any
        other raises.

    Returns
    -------
    BootstrapResult
        ``estimate`` (the statistic on the full sample), ``low``, ``high``,
        ``confidence`` and the ``(n_boot,)`` replicates ``samples``.

    References
    ----------
    .. [1] Efron and Tibshirani 1993, Ch. 13 (percentile intervals).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import bootstrap
    >>> rng = np.random.default_rng(0)
    >>> r1 = rng.normal(size=(200, 4))
    >>> r2 = r1 + 0.5 * rng.normal(size=(200, 4))
    >>> res = bootstrap("distance", r1, r2, n_boot=200, seed=1)
    >>> bool(res.low <= res.estimate <= res.high), res.samples.shape
    (True, (200,))
    """
    if isinstance(statistic, str):
        table = _statistics()
        if statistic not in table:
            raise ValidationError(f"unknown statistic {statistic!r}; valid values are: "
                                  f"{', '.join(map(repr, STATISTICS))}, or a callable")
        takes_nu = statistic in _TAKES_NU
        fn = table[statistic]
        if statistic in _FIXED_METHOD and "method" in kwargs:
            given = kwargs.pop("method")  # kwargs is this call's own dict
            if not (isinstance(given, str) and given == statistic):
                raise ValidationError(
                    f"statistic {statistic!r} is rank_correlation with method={statistic!r}; "
                    f"it conflicts with method={given!r}: drop method, or name the "
                    "statistic that matches it")
    elif callable(statistic):
        fn, takes_nu = statistic, True
    else:
        raise ValidationError(f"statistic must be a name from {STATISTICS} or a callable, "
                              f"got {statistic!r}")
    if not arrays:
        raise ValidationError("bootstrap needs at least one reward array")
    n_boot = check_positive_int(n_boot, "n_boot")
    confidence = check_real(confidence, "confidence", low=0.0, high=1.0, low_open=True,
                            high_open=True)
    rng = check_seed(seed)
    shapes = [reward_shape(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    n, m = shapes[0][-2:]
    for i, s in enumerate(shapes):
        if tuple(s[-2:]) != (n, m):
            raise ValidationError(f"arrays[{i}] has shape {s}; every array must end in "
                                  f"({n}, {m})")
    mk = check_mask(mask, (n, m))
    mu = check_prompt_weights(prompt_weights, n)
    nu = None if response_weights is None else check_response_weights(response_weights, n,
                                                                       m, mk)
    if nu is not None and not takes_nu:
        raise ValidationError(f"statistic {statistic!r} does not take response_weights")
    arrs = [as_float_array(a, f"arrays[{i}]", allow_nonfinite=True)  # padding may be NaN
            for i, a in enumerate(arrays)]

    def call(idx, weights):
        kw = dict(kwargs, prompt_weights=weights,
                  mask=None if mk is None else mk[idx])
        if nu is not None:
            kw["response_weights"] = nu[idx]
        out = fn(*(a[..., idx, :] for a in arrs), **kw)
        if np.ndim(out) != 0:
            raise ValidationError("the statistic must return one number per call; pass "
                                  "arrays without batch axes")
        value = check_real(out, "the statistic's value")
        return value

    everything = np.arange(n)
    estimate = call(everything, mu)
    samples = np.empty(n_boot)
    for b in range(n_boot):
        for _ in range(100):
            idx = rng.integers(0, n, size=n)
            w = mu[idx]
            total = w.sum()
            if total > 0:
                break
        else:
            raise ValidationError("100 bootstrap draws in a row held only prompts of weight "
                                  "0; prompt_weights is too concentrated to resample")
        samples[b] = call(idx, w / total)
    low, high = np.quantile(samples, [(1.0 - confidence) / 2, (1.0 + confidence) / 2])
    return BootstrapResult(estimate, float(low), float(high), confidence, samples)
