r"""Process-reward refinements for RL on reasoning traces: Clip and Delta.

A process reward model (PRM) scores every step :math:`k = 1, \dots, K` of a reasoning
trace, :math:`r_k \in \mathbb R` (often a probability of the step being correct). Summed
as dense rewards, such scores invite *reward hacking* by length: a policy can collect
reward by appending correct but useless steps, since every extra step adds a positive
:math:`r_k`. Gao et al. [1]_ bound the return of any trace, whatever its length, with two
refinements:

.. math::

    \text{Clip:}\quad \tilde r_k = \min(r_k - \eta, 0), \qquad
    \text{Delta:}\quad \tilde r_k = r_k - r_{k+1} \;\; (k < K), \quad \tilde r_K = 0.

Clipped rewards are non-positive, so the return can only *decrease* when a step is
appended: long traces are never rewarded for their length. Delta rewards telescope: the
return-to-go from step :math:`k` is :math:`G_k = \sum_{t \ge k} \tilde r_t = r_k - r_K`,
bounded by :math:`2 \max_t |r_t|` for every length. Delta rewards are differences of
the potential :math:`\Phi(k) = -r_k`, :math:`\tilde r_k = \Phi(k+1) - \Phi(k)`, so they
telescope as potential-based shaping terms do [2]_: their sum depends only on the first
and the last step, never on how many steps lie between. Clip-Delta applies Delta to the clipped
rewards. In [1]_ the refined process rewards are added to a sparse success (outcome)
reward on the final step; add it to the last real step of the returned array.

``final="keep"`` sets :math:`\tilde r_K = r_K` instead, so that :math:`G_k = r_k`
(the PRM score of the current step), also bounded.

Axes: step rewards have shape ``(..., K)``, steps on the last axis. Traces of different
lengths are padded to a common ``K``; pass ``lengths`` (shape ``(...)``) and the padding
steps are ignored (set to 0 in every output).

References
----------
.. [1] Gao, Xu, Ye, Liu, He, Fu, Mei, Wang, Wu. "On Designing Effective RL Reward at
   Training Time for LLM Reasoning". arXiv 2410.15115, 2024, Sec. 4 (Clip and Delta
   mechanisms).
.. [2] Ng, Harada, Russell. "Policy invariance under reward transformations". ICML 1999.
"""

from __future__ import annotations

import numpy as np

from .._extremes import scaled_by_max_abs, unscale
from .._validation import as_float_array, check_choice, check_real
from ..exceptions import ValidationError
from ._common import finite_result

__all__ = ["clip_process_rewards", "delta_process_rewards", "clip_delta_process_rewards",
           "returns_to_go", "DELTA_FINALS"]

#: Names accepted by ``final`` in :func:`delta_process_rewards`.
DELTA_FINALS = ("zero", "keep")


def _steps(r) -> np.ndarray:
    arr = as_float_array(r, "r", min_ndim=1)
    if arr.shape[-1] == 0:
        raise ValidationError(f"r must have at least one step along its last axis, got "
                              f"shape {arr.shape}")
    return arr


def _mask(arr: np.ndarray, lengths) -> tuple[np.ndarray, np.ndarray]:
    """Boolean mask of real steps (..., K) and the lengths (...)."""
    n_steps = arr.shape[-1]
    if lengths is None:
        lens = np.full(arr.shape[:-1], n_steps, dtype=np.int64)
    else:
        raw = np.asarray(lengths)
        if raw.dtype == object or raw.dtype.kind not in "iu":
            if raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)):
                raw = raw.astype(np.int64)
            else:
                raise ValidationError(f"lengths must be an integer array (steps per trace), "
                                      f"got dtype {raw.dtype}")
        if np.any(raw < 0) or np.any(raw > n_steps):
            raise ValidationError(f"lengths must lie in [0, {n_steps}] (the number of steps "
                                  f"on the last axis of r), got values in "
                                  f"[{raw.min()}, {raw.max()}]")
        try:
            lens = np.broadcast_to(raw, arr.shape[:-1]).astype(np.int64)
        except ValueError:
            raise ValidationError(f"lengths of shape {raw.shape} must broadcast to the trace "
                                  f"shape {arr.shape[:-1]} of r {arr.shape}") from None
    mask = np.arange(n_steps) < lens[..., None]
    return mask, lens


def clip_process_rewards(r, eta: float = 0.0, *, lengths=None) -> np.ndarray:
    r"""Clip mechanism: :math:`\tilde r_k = \min(r_k - \eta, 0)`.

    .. math::

        \tilde r_k = \min(r_k - \eta,\; 0) \le 0,

    so the return :math:`\sum_k \tilde r_k` is non-positive and never increases when a
    step is appended to the trace.

    Parameters
    ----------
    r : array_like of shape (..., K)
        Process rewards, steps on the last axis.
    eta : float
        Threshold :math:`\eta`: steps scored above it earn 0, steps below it are
        penalised by the shortfall.
    lengths : array_like of int, shape (...), optional
        Number of real steps of each trace (the rest is padding, returned as 0).

    Returns
    -------
    ndarray of shape (..., K)

    Raises
    ------
    ValidationError
        For NaN/inf, a non-finite ``eta``, ``lengths`` outside ``[0, K]``, or a shortfall
        :math:`r_k - \eta` below :math:`-1.8 \times 10^{308}` (beyond the float64 range).

    References
    ----------
    .. [1] Gao et al. 2024, "On Designing Effective RL Reward at Training Time for LLM
       Reasoning", arXiv 2410.15115, Sec. 4 (the Clip mechanism).

    Examples
    --------
    >>> from starc.transforms import clip_process_rewards
    >>> clip_process_rewards([0.9, 0.2, 0.6], eta=0.5)
    array([ 0. , -0.3,  0. ])
    """
    arr = _steps(r)
    eta = check_real(eta, "eta")
    mask, _ = _mask(arr, lengths)
    with np.errstate(over="ignore"):
        out = np.where(mask, np.minimum(arr - eta, 0.0), 0.0)
    return finite_result(out, "clip_process_rewards: r - eta")


def delta_process_rewards(r, *, final: str = "zero", lengths=None) -> np.ndarray:
    r"""Delta mechanism: :math:`\tilde r_k = r_k - r_{k+1}`, last step 0.

    .. math::

        \tilde r_k = r_k - r_{k+1} \quad (k < K), \qquad
        \tilde r_K = \begin{cases} 0 & \text{final = "zero"} \\
                                   r_K & \text{final = "keep"}\end{cases}

    so the return-to-go telescopes to :math:`G_k = r_k - r_K` (or :math:`r_k`), bounded
    whatever the length of the trace.

    Parameters
    ----------
    r : array_like of shape (..., K)
        Process rewards, steps on the last axis.
    final : {"zero", "keep"}
        Reward of the last step.
    lengths : array_like of int, shape (...), optional
        Number of real steps of each trace; the last real step plays the role of
        :math:`K`, padding is returned as 0.

    Returns
    -------
    ndarray of shape (..., K)

    Raises
    ------
    ValidationError
        For NaN/inf, an unknown ``final``, ``lengths`` outside ``[0, K]``, or a
        difference :math:`r_k - r_{k+1}` beyond the float64 range.

    References
    ----------
    .. [1] Gao et al. 2024, arXiv 2410.15115, Sec. 4 (the Delta mechanism).
    .. [2] Ng, Harada, Russell 1999 (potential-based shaping, :math:`\Phi(k) = -r_k`).

    Examples
    --------
    >>> from starc.transforms import delta_process_rewards
    >>> delta_process_rewards([0.9, 0.2, 0.6])
    array([ 0.7, -0.4,  0. ])
    """
    arr = _steps(r)
    final = check_choice(final, "final", DELTA_FINALS)
    mask, lens = _mask(arr, lengths)
    nxt = np.zeros_like(arr)
    nxt[..., :-1] = arr[..., 1:]
    with np.errstate(over="ignore"):
        out = arr - nxt
    is_last = np.arange(arr.shape[-1]) == (lens[..., None] - 1)
    out = np.where(is_last, arr if final == "keep" else 0.0, out)
    return finite_result(np.where(mask, out, 0.0), "delta_process_rewards: r_k - r_{k+1}")


def clip_delta_process_rewards(r, eta: float = 0.0, *, final: str = "zero",
                               lengths=None) -> np.ndarray:
    r"""Clip then Delta: :math:`\tilde r_k = c_k - c_{k+1}` with :math:`c_k = \min(r_k - \eta, 0)`.

    .. math::

        c_k = \min(r_k - \eta, 0), \qquad \tilde r_k = c_k - c_{k+1}\;(k < K), \qquad
        \tilde r_K = 0 \text{ (or } c_K\text{)}.

    Parameters
    ----------
    r : array_like of shape (..., K)
        Process rewards, steps on the last axis.
    eta : float
        Clipping threshold.
    final : {"zero", "keep"}
        Reward of the last step, as in :func:`delta_process_rewards`.
    lengths : array_like of int, shape (...), optional
        Number of real steps of each trace.

    Returns
    -------
    ndarray of shape (..., K)

    Raises
    ------
    ValidationError
        As :func:`clip_process_rewards` and :func:`delta_process_rewards`.

    References
    ----------
    .. [1] Gao et al. 2024, arXiv 2410.15115, Sec. 4 (combining Clip and Delta).

    Examples
    --------
    >>> from starc.transforms import clip_delta_process_rewards
    >>> clip_delta_process_rewards([0.9, 0.2, 0.6], eta=0.5)
    array([ 0.3, -0.3,  0. ])
    """
    clipped = clip_process_rewards(r, eta, lengths=lengths)
    return delta_process_rewards(clipped, final=final, lengths=lengths)


def returns_to_go(r, gamma: float = 1.0, *, lengths=None) -> np.ndarray:
    r"""Discounted returns-to-go of step rewards.

    .. math::

        G_k = \sum_{t = k}^{K} \gamma^{\,t - k}\, r_t, \qquad G_k = r_k + \gamma G_{k+1}.

    Parameters
    ----------
    r : array_like of shape (..., K)
        Step rewards, steps on the last axis.
    gamma : float
        Discount in [0, 1]; 1 (the default) for finite traces.
    lengths : array_like of int, shape (...), optional
        Number of real steps of each trace; padding contributes nothing and its
        returns-to-go are 0.

    Returns
    -------
    ndarray of shape (..., K)
        :math:`G_0` (the return) is ``out[..., 0]``.

    Raises
    ------
    ValidationError
        For NaN/inf, ``gamma`` outside [0, 1], ``lengths`` outside ``[0, K]``, or a
        return-to-go beyond the float64 range (partial sums never overflow on their own:
        they are computed on the rewards divided by a power of two near the largest).

    References
    ----------
    .. [1] Sutton and Barto. "Reinforcement Learning: An Introduction", 2nd ed., 2018,
       Eq. 3.9 (the return).

    Examples
    --------
    >>> from starc.transforms import returns_to_go
    >>> returns_to_go([1.0, 2.0, 3.0])
    array([6., 5., 3.])
    >>> returns_to_go([1.0, 2.0, 3.0], gamma=0.5)
    array([2.75, 3.5 , 3.  ])
    """
    arr = _steps(r)
    gamma = check_real(gamma, "gamma", low=0.0, high=1.0)
    mask, _ = _mask(arr, lengths)
    # on x / 2^k (2^k near the largest |r| of the trace): partial sums cannot overflow
    x, k = scaled_by_max_abs(np.where(mask, arr, 0.0), -1)
    if gamma == 1.0:
        g = np.cumsum(x[..., ::-1], axis=-1)[..., ::-1]
    else:
        from scipy.signal import lfilter

        g = lfilter([1.0], [1.0, -gamma], x[..., ::-1], axis=-1)[..., ::-1]
    return finite_result(np.ascontiguousarray(unscale(g, k)), "returns_to_go")
