r"""Log-sigmoid centring (LSC) and elementwise reward transforms.

A Bradley-Terry reward model is identified only up to a per-prompt shift:
:math:`p(y_0 \prec y_1 \mid x) = \sigma(r(x, y_1) - r(x, y_0))` does not change when
:math:`c(x)` is added to every reward of prompt :math:`x`. Wang et al. [1]_ read alignment
as sampling from the base policy conditioned on the response being *good*, where "good"
means beating a reference response of reward :math:`r_{\mathrm{ref}}(x)`. The utility that
the KL-regularised objective should then maximise is

.. math::

    u(x, y) = \log \sigma\big(r(x, y) - r_{\mathrm{ref}}(x)\big),

the *log-sigmoid-centred* (LSC) reward (spelled *centred* in the paper, ``lsc`` here).
It is non-positive, increasing and concave, with
:math:`u'(r) = \sigma(-(r - r_{\mathrm{ref}}))`: linear far below the reference,
flat above it, so improving bad responses pays while pushing good ones further does not.

The reference is a per-prompt statistic of rewards of base-policy samples
(:func:`reference_reward`), which makes LSC invariant to per-prompt shifts of the reward.

Axes: rewards are arrays of shape ``(..., n)``, with the ``n`` responses to one prompt on
the last axis and any prompt/batch axes before it. Per-prompt statistics (a reference, a
mean, a standard deviation) are taken along ``axis`` (the last by default).

References
----------
.. [1] Wang, Nagpal, Berant, Eisenstein, D'Amour, Koyejo, Veitch. "Transforming and
   Combining Rewards for Aligning Large Language Models". ICML 2024, arXiv 2402.00742,
   Sec. 3 (the LSC transform) and Sec. 4 (aggregation).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_choice, check_real
from ..exceptions import ValidationError
from .._extremes import scaled_by_max_abs, unscale
from ._common import (ELEMENTWISE_KINDS, broadcast_pair, centre, check_axis,
                      check_kind_options, elementwise_transform, finite_result, minmax, zscore)

__all__ = ["lsc", "reference_reward", "transform", "TRANSFORM_KINDS", "REFERENCE_METHODS"]

#: Names accepted by :func:`transform`.
TRANSFORM_KINDS = ("identity", "center", "zscore", "minmax", "clip", "tanh", "sigmoid", "lsc")

#: Names accepted by ``method`` in :func:`reference_reward`.
REFERENCE_METHODS = ("empirical", "normal")


def lsc(r, r_ref) -> np.ndarray:
    r"""Log-sigmoid-centred reward :math:`\log \sigma(r - r_{\mathrm{ref}})`.

    .. math::

        \operatorname{lsc}(r; r_{\mathrm{ref}}) = \log \sigma(r - r_{\mathrm{ref}})
        = -\log\big(1 + e^{-(r - r_{\mathrm{ref}})}\big),

    the log-probability that a response of reward :math:`r` beats a reference response of
    reward :math:`r_{\mathrm{ref}}` under the Bradley-Terry model. Computed with
    :func:`scipy.special.log_expit`, so it is exact and finite for arguments of any size
    (about :math:`-1000` at :math:`r - r_{\mathrm{ref}} = -1000`, about :math:`-e^{-1000}`
    at :math:`+1000`).

    Parameters
    ----------
    r : array_like of shape (..., n)
        Rewards; any shape.
    r_ref : float or array_like broadcastable to ``r``
        Reference rewards, e.g. ``reference_reward(samples, keepdims=True)`` of shape
        ``(..., 1)`` for one reference per prompt.

    Returns
    -------
    ndarray of the broadcast shape
        Values in :math:`(-\infty, 0)`.

    Raises
    ------
    ValidationError
        If an input contains NaN or inf, the shapes do not broadcast, or
        :math:`r - r_{\mathrm{ref}} < -1.8 \times 10^{308}` somewhere (the result, about
        :math:`r - r_{\mathrm{ref}}`, is then beyond the float64 range).

    See Also
    --------
    reference_reward : the per-prompt reference.
    transform : every transform by name.

    Notes
    -----
    :math:`e^{\operatorname{lsc}(a)} + e^{\operatorname{lsc}(-a)} = \sigma(a) + \sigma(-a) = 1`.
    As :math:`r_{\mathrm{ref}} \to +\infty`, :math:`\operatorname{lsc} = r - r_{\mathrm{ref}}
    + o(1)`: a shifted raw reward. As :math:`r_{\mathrm{ref}} \to -\infty` it tends to 0.

    References
    ----------
    .. [1] Wang et al. 2024, "Transforming and Combining Rewards for Aligning Large Language
       Models", arXiv 2402.00742, Sec. 3, the LSC transformation.

    Examples
    --------
    >>> from starc.transforms import lsc
    >>> lsc([0.0, 1000.0, -1000.0], 0.0)
    array([-6.93147181e-01, -0.00000000e+00, -1.00000000e+03])
    """
    r = as_float_array(r, "r")
    ref = as_float_array(r_ref, "r_ref")
    r, ref = broadcast_pair(r, ref, "r", "r_ref")
    from scipy.special import log_expit

    with np.errstate(over="ignore"):  # r - r_ref beyond the double range: +-inf
        out = log_expit(r - ref)
    # r - r_ref above +1.8e308 gives -0.0 (the exact value underflows); below -1.8e308
    # the value, about r - r_ref, is not representable
    return finite_result(out, "lsc(r, r_ref) = log sigmoid(r - r_ref), about r - r_ref")


def reference_reward(samples, q: float = 0.85, method: str = "empirical", *, axis: int = -1,
                     keepdims: bool = False) -> np.ndarray:
    r"""Per-prompt reference reward: the ``q``-quantile of base-policy reward samples.

    With ``method="empirical"`` the sample quantile (``numpy.quantile``, linear
    interpolation between order statistics):

    .. math::

        r_{\mathrm{ref}}(x) = \hat F_x^{-1}(q), \qquad
        \hat F_x \text{ the empirical CDF of } r(x, y_1), \dots, r(x, y_m),\;
        y_j \sim \pi_0(\cdot \mid x).

    With ``method="normal"`` the quantile of a Gaussian fitted to the samples,
    :math:`\hat\mu_x + \hat\sigma_x \Phi^{-1}(q)` (sample mean and standard deviation with
    ``ddof=1``): smoother when there are few samples per prompt.

    Parameters
    ----------
    samples : array_like of shape (..., m)
        Rewards of ``m`` base-policy samples for each prompt, along ``axis``.
    q : float
        Quantile level in the open interval (0, 1). The default 0.85 (the 85th
        percentile) makes "good" mean "better than about 85 % of base-policy responses".
    method : {"empirical", "normal"}
        Sample quantile or Gaussian-fit quantile.
    axis : int
        Axis holding the samples of one prompt.
    keepdims : bool
        Keep ``axis`` with length 1, so the result broadcasts against ``samples``.

    Returns
    -------
    ndarray of shape (...) (or with ``axis`` kept as length 1)
        One reference per prompt; a 0-d array for 1-D ``samples``.

    Raises
    ------
    ValidationError
        For NaN/inf samples, ``q`` outside (0, 1), an unknown ``method``, no samples, or
        fewer than two samples with ``method="normal"``.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 3: the reference is a reward of a
       base-policy response to the same prompt, which makes LSC invariant to per-prompt
       shifts :math:`c(x)`.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import reference_reward
    >>> samples = np.arange(101.0)            # rewards 0, 1, ..., 100 for one prompt
    >>> float(reference_reward(samples))
    85.0
    >>> reference_reward(samples[None, :] + [[0.0], [10.0]], q=0.5)   # two prompts
    array([50., 60.])
    """
    s = as_float_array(samples, "samples", min_ndim=1)
    q = check_real(q, "q", low=0.0, high=1.0, low_open=True, high_open=True)
    method = check_choice(method, "method", REFERENCE_METHODS)
    ax = check_axis(axis, s.ndim)
    m = s.shape[ax]
    if m == 0:
        raise ValidationError(f"samples has no entries along axis {axis}; pass at least one "
                              "reward sample per prompt")
    # statistics of s / 2^k, 2^k near max|s| per prompt: no overflow in a difference,
    # a sum or a square (bit-for-bit the plain numbers when those are finite)
    s_s, k = scaled_by_max_abs(s, ax)
    if not keepdims:
        k = np.squeeze(k, axis=ax)
    if method == "empirical":
        ref_s = np.quantile(s_s, q, axis=ax, keepdims=keepdims)
        return np.asarray(unscale(ref_s, k), dtype=np.float64)
    if m < 2:
        raise ValidationError(f"method='normal' needs at least 2 samples per prompt to fit a "
                              f"standard deviation, got {m} along axis {axis}")
    from scipy.special import ndtri

    mean = s_s.mean(axis=ax, keepdims=keepdims)
    std = s_s.std(axis=ax, ddof=1, keepdims=keepdims)
    return np.asarray(finite_result(unscale(mean + std * ndtri(q), k),
                                    "reference_reward(method='normal')"), dtype=np.float64)


def transform(r, kind: str, *, axis: int = -1, r_ref=None, q: float = 0.85,
              low: float | None = None, high: float | None = None) -> np.ndarray:
    r"""Apply a named reward transform, per prompt along ``axis``.

    .. math::

        \begin{aligned}
        \text{identity}: &\; r & \text{center}: &\; r - \bar r_x &
        \text{zscore}: &\; (r - \bar r_x) / s_x \\
        \text{minmax}: &\; \frac{r - \min_x r}{\max_x r - \min_x r} &
        \text{clip}: &\; \min(\max(r, \ell), h) &
        \text{tanh}: &\; \tanh r \\
        \text{sigmoid}: &\; \sigma(r) &
        \text{lsc}: &\; \log\sigma(r - r_{\mathrm{ref}}(x)) & &
        \end{aligned}

    where :math:`\bar r_x`, :math:`s_x` (``ddof=0``), :math:`\min_x`, :math:`\max_x` are
    taken over the responses of prompt :math:`x` (along ``axis``). A prompt whose rewards
    are all equal maps to 0 under ``zscore`` and ``minmax`` (never NaN). The statistics
    are computed on :math:`r / 2^k` with :math:`2^k` a power of two near
    :math:`\max_x |r|`, so rewards anywhere in the float64 range give the exact
    ``zscore``/``minmax`` (``minmax([1e308, -1e308, 0]) = [1, 0, 0.5]``); ``center`` and
    ``lsc`` raise ``ValidationError`` only when their exact result exceeds
    :math:`1.8 \times 10^{308}` in magnitude.

    ``center``, ``zscore``, ``minmax`` and ``lsc`` (with its default per-prompt reference)
    are invariant to a per-prompt shift :math:`r \mapsto r + c(x)`; the others are not.
    All are non-decreasing in :math:`r` for each prompt, so none reverses the ranking of
    the responses to one prompt (``clip`` and ``minmax`` on a constant prompt can merge
    ranks into ties).

    Parameters
    ----------
    r : array_like of shape (..., n)
        Rewards, responses of one prompt along ``axis``.
    kind : {"identity", "center", "zscore", "minmax", "clip", "tanh", "sigmoid", "lsc"}
        The transform.
    axis : int
        The response axis for per-prompt statistics.
    r_ref : float or array_like, optional
        ``lsc`` only: reference rewards broadcastable to ``r``. When omitted, the
        ``q``-quantile of ``r`` itself along ``axis`` (:func:`reference_reward`), i.e.
        ``r`` is taken to be a sample of base-policy responses.
    q : float
        ``lsc`` only: quantile for the default reference, in (0, 1).
    low, high : float, optional
        ``clip`` only: bounds :math:`\ell \le h`; at least one is required.

    Returns
    -------
    ndarray of shape (..., n)

    Raises
    ------
    ValidationError
        For an unknown ``kind``, NaN/inf inputs, ``clip`` without bounds or with
        ``low > high``, options given to a transform that does not use them, or a
        ``center``/``lsc`` result beyond the float64 range.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 3 (LSC) and Sec. 5 (the baselines
       compared against it).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import transform
    >>> r = np.array([[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]])   # 2 prompts, 3 responses
    >>> transform(r, "center")
    array([[-1.,  0.,  1.],
           [-1.,  0.,  1.]])
    >>> transform(r, "minmax")
    array([[0. , 0.5, 1. ],
           [0. , 0.5, 1. ]])
    >>> np.allclose(transform(r, "lsc")[0], transform(r, "lsc")[1])   # per-prompt shift
    True
    """
    arr = as_float_array(r, "r", min_ndim=1)
    kind = check_choice(kind, "transform kind", TRANSFORM_KINDS)
    ax = check_axis(axis, arr.ndim)
    check_kind_options(kind, r_ref, low, high)
    if arr.shape[ax] == 0:
        raise ValidationError(f"r has no responses along axis {axis}, got shape {arr.shape}")

    if kind in ELEMENTWISE_KINDS:
        return elementwise_transform(arr, kind, low, high)
    if kind == "center":
        return centre(arr, ax, "transform(kind='center')")
    if kind == "zscore":
        return zscore(arr, ax)
    if kind == "minmax":
        return minmax(arr, ax)
    # lsc
    if r_ref is None:
        ref = reference_reward(arr, q, axis=ax, keepdims=True)
    else:
        ref = as_float_array(r_ref, "r_ref")
    out = lsc(arr, ref)
    if out.shape != arr.shape:
        raise ValidationError(f"r_ref of shape {np.shape(ref)} must broadcast to the shape "
                              f"of r {arr.shape} without enlarging it")
    return out
