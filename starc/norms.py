r"""Norms on reward space and normalization.

A STARC metric divides a canonical reward by a norm and measures the difference of
the results with a metric induced by a (possibly different) norm [1]_. Rewards are
arrays :math:`x(s, a, s')`, so the plain :math:`L_p` norms are

.. math::

    \|x\|_p = \Big(\sum_{s, a, s'} |x(s, a, s')|^p\Big)^{1/p}, \qquad
    \|x\|_\infty = \max_{s, a, s'} |x(s, a, s')| .

The *transition-weighted* norms weigh each transition by its probability
:math:`\tau(s' \mid s, a)`:

.. math::

    \|x\|_{\tau, p} = \Big(\sum_{s, a, s'} \tau(s' \mid s, a)\,|x(s, a, s')|^p\Big)^{1/p},
    \qquad
    \|x\|_{\tau, \infty} = \max_{(s, a, s') :\, \tau(s' \mid s, a) > 0} |x(s, a, s')| .

They ignore rewards on impossible transitions, so they are only *seminorms* on
:math:`\mathbb R^{S \times A \times S}`, but they are norms on the image of the VAL
canonicalization (whose canonical rewards are constant in :math:`s'`). The weighted
:math:`L_\infty` norm is the maximum over the support; the STARC authors' code used
:math:`\max |x|\,\tau` instead, which is not a limit of the weighted :math:`L_p` norms
and not a norm on that image.

:func:`normalize` divides by the norm and maps rewards whose norm is zero *up to
round-off* to zero (the convention of [1]_, Def. 3); "zero" is decided relative to the
size of the numbers the input was computed from, never with ``== 0``:

.. math::

    n(x) \le \epsilon_{\mathrm{rel}}\, n(\mathbf 1)\, \sigma ,

with :math:`n(\mathbf 1)` the norm of the all-ones array (so the test reads "every
entry is at most :math:`\epsilon_{\mathrm{rel}}\sigma` on average"), :math:`\sigma`
the magnitude of the inputs and intermediates of the computation, and
:math:`\epsilon_{\mathrm{rel}}` = :data:`ZERO_RTOL` (512 units of round-off) for closed
forms, :data:`SOLVER_ZERO_RTOL` for optimisers. The allowance is a round-off bound, not a
modelling choice: potential shaping or a constant shift makes :math:`\sigma` (and the
round-off) larger without changing the canonical reward, so a looser tolerance, relative
to :math:`\sigma`, would call a small but well-resolved canonical "zero" for one reward and
not for its shaped copy. Canonicals below about :math:`10^3` units of round-off carry
fewer than two correct digits whatever the tolerance (see :doc:`/theory/distances`).

Norms of arrays whose largest magnitude lies outside :math:`[2^{-256}, 2^{256}]`
(:data:`SAFE_EXPONENT`) are computed on the array multiplied by a power of two (exact),
so the squares neither overflow nor underflow; :func:`normalize` is then exactly
invariant to power-of-two scalings, and :func:`norm` raises when the norm itself
exceeds the float64 range (see :doc:`/theory/distances`, "Numerical range and failure
modes").

References
----------
.. [1] Skalse et al. "STARC: A General Framework for Quantifying Differences Between
   Reward Functions". ICLR 2024, Def. 3 and Sec. 4.1 (the norms of the experiments).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _extremes, _rules
from ._extremes import rescale, scale_exponents
from ._validation import as_float_array, check_choice
from .exceptions import ValidationError
from .mdp import TabularMDP

__all__ = ["NORMS", "norm", "normalize", "ZERO_RTOL", "SOLVER_ZERO_RTOL", "SAFE_EXPONENT",
           "ones_norm"]

#: Arrays whose largest magnitude lies in ``[2**-SAFE_EXPONENT, 2**SAFE_EXPONENT]`` are
#: used as they are: their squares, sums over any MDP that fits in memory, values
#: (:math:`\le \max|R|/(1-\gamma)`) and round-off bounds all stay normal float64 numbers.
#: Others are first multiplied by a power of two (exact) that brings the largest
#: magnitude into ``[1/2, 1)``. (Defined with the other power-of-two helpers in the
#: private module ``starc._extremes``.)
SAFE_EXPONENT = _extremes.SAFE_EXPONENT

#: Names accepted by :func:`norm` and :func:`normalize`.
NORMS = _rules.NORMS

#: Round-off allowance of closed-form computations, relative to the size of the numbers
#: they combine: 512 units in the last place. A canonical reward whose norm is at most
#: ``ZERO_RTOL * n(1) * scale`` (``scale`` bounds the magnitude of the reward and of the
#: values or potentials computed from it) is zero up to round-off.
ZERO_RTOL = _rules.ZERO_RTOL

#: The same allowance for canonicals found by an optimiser (cvxpy with HiGHS or Clarabel,
#: linear programs): their accuracy is the solver's tolerance, not round-off.
SOLVER_ZERO_RTOL = _rules.SOLVER_ZERO_RTOL

_ALIASES = _rules.PAPER_NORMS  # the paper's names of the norms


def check_norm_name(ord, name: str = "ord") -> str:
    """Return the canonical name of a norm; accepts the paper's "1", "2", "inf", "weighted_1"..."""
    if isinstance(ord, (int, float)) and not isinstance(ord, bool):
        ord = {1: "l1", 2: "l2", float("inf"): "linf"}.get(ord, ord)
    if isinstance(ord, str):
        ord = _ALIASES.get(ord, ord)
    return check_choice(ord, name, NORMS)


_EXPONENTS = {"l1": 1.0, "l2": 2.0, "linf": np.inf, "weighted_l1": 1.0, "weighted_l2": 2.0,
              "weighted_linf": np.inf}


def p_of(ord: str) -> float:
    """The exponent p of a norm name."""
    return _EXPONENTS[ord]


def norm_from_weights(x: np.ndarray, weights: np.ndarray | None, p: float,
                      support: np.ndarray | None = None, axes: int = 3) -> np.ndarray:
    r"""The (weighted) :math:`L_p` norm over the last ``axes`` axes of ``x``.

    ``weights`` (broadcast against the trailing axes) multiply :math:`|x|^p`; for
    :math:`p = \infty` they are ignored and ``support`` (a boolean mask) restricts the max.
    Arrays whose largest magnitude lies outside the safe window (:data:`SAFE_EXPONENT`)
    are summed after an exact power-of-two rescaling, so neither the squares nor the sum
    over- or underflow; a norm beyond the float64 range comes back as ``inf`` (the public
    :func:`norm` refuses it).
    """
    ax = tuple(range(-axes, 0))
    a = np.abs(x)
    if p == np.inf:
        if support is not None:
            a = np.where(support, a, 0.0)
        return a.max(axis=ax, initial=0.0)
    if p not in (1.0, 2.0):
        raise ValidationError(f"unsupported norm exponent {p}")  # pragma: no cover
    exps = scale_exponents(a.max(axis=ax, initial=0.0))
    a = rescale(a, exps, axes)
    if p == 1.0:
        out = (a if weights is None else a * weights).sum(axis=ax)
    else:
        sq = a * a
        out = np.sqrt((sq if weights is None else sq * weights).sum(axis=ax))
    if exps is None:
        return out
    with np.errstate(over="ignore"):
        return np.ldexp(out, exps)


def array_norm(x: np.ndarray, ord: str, mdp: TabularMDP | None) -> np.ndarray:
    r"""The norm ``ord`` of each reward of a validated ``(..., S, A, S)`` array.

    .. math::

        \|x\|_p = \Big(\sum_{s,a,s'} |x(s,a,s')|^p\Big)^{1/p}, \qquad
        \|x\|_{\tau,p} = \Big(\sum_{s,a,s'} \tau(s'|s,a)\,|x(s,a,s')|^p\Big)^{1/p}.

    The arithmetic of :func:`norm` without its checks, for callers that validated their
    arrays already (canonical rewards, differences of normalized ones).

    Parameters
    ----------
    x : ndarray of shape (..., S, A, S)
        Finite float64 entries.
    ord : str
        A canonical name of :data:`NORMS` (see :func:`check_norm_name`).
    mdp : TabularMDP or None
        The MDP of the weighted norms (its shape matches ``x``); unused otherwise.

    Returns
    -------
    ndarray of shape (...)
        ``inf`` where the norm exceeds the float64 range (:func:`norm` refuses it).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3 and Sec. 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.norms import array_norm
    >>> float(array_norm(np.full((2, 1, 2), 3.0), "l1", None))
    12.0
    """
    p = p_of(ord)
    if ord.startswith("weighted_"):
        if getattr(mdp, "is_sparse", False):
            raise ValidationError("array_norm weighs a dense (S, A, S) array by a dense "
                                  "transition; on a sparse MDP use starc.norm (closed forms)")
        return norm_from_weights(x, mdp.transition, p, mdp.support)
    return norm_from_weights(x, None, p)


def ones_norm(ord: str, shape: tuple[int, int, int]) -> float:
    r"""The norm :math:`n(\mathbf 1)` of the all-ones reward: the scale of "zero".

    .. math::

        \|\mathbf 1\|_p = (S A S)^{1/p}, \qquad
        \|\mathbf 1\|_{\tau, p} = \Big(\sum_{s,a,s'} \tau(s'|s,a)\Big)^{1/p} = (S A)^{1/p},
        \qquad \|\mathbf 1\|_\infty = \|\mathbf 1\|_{\tau,\infty} = 1,

    since every row of :math:`\tau` sums to 1. A canonical reward whose norm is at most
    :math:`n(\mathbf 1)` times the round-off bound of its entries is zero up to round-off
    ([1]_, Def. 3): every entry is that small on average.

    Parameters
    ----------
    ord : str
        A name of :data:`NORMS` (or the paper's aliases, see :func:`check_norm_name`).
    shape : tuple of 3 int
        The last three axes of the arrays measured: ``(S, A, S)`` for the weighted norms
        (the plain norms take any shape, as :func:`norm` does; an empty one has norm 0).

    Returns
    -------
    float

    Raises
    ------
    ValidationError
        For an unknown norm name or a shape that is not three non-negative ints.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3.

    Examples
    --------
    >>> from starc.norms import ones_norm
    >>> ones_norm("l1", (4, 2, 4)), ones_norm("weighted_l2", (4, 2, 4)), ones_norm("linf", (4, 2, 4))
    (32.0, 2.8284271247461903, 1.0)
    """
    ord = check_norm_name(ord)
    if (not isinstance(shape, (tuple, list)) or len(shape) != 3
            or any(isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0
                   for k in shape)):
        raise ValidationError(f"shape must be three non-negative ints (the last three axes, "
                              f"(S, A, S)), got {shape!r}")
    n0, n1, n2 = (int(k) for k in shape)
    # the sum of the weights: tau sums to 1 over its last axis
    count = n0 * n1 if ord.startswith("weighted_") else n0 * n1 * n2
    if count == 0:
        return 0.0
    p = p_of(ord)
    if p == np.inf:
        return 1.0
    return float(count) if p == 1.0 else math.sqrt(count)


def _check_norm_args(x, ord, mdp, name="x"):
    ord = check_norm_name(ord)
    arr = as_float_array(x, name, min_ndim=3)
    if ord.startswith("weighted_"):
        if not isinstance(mdp, TabularMDP):
            raise ValidationError(f"the {ord!r} norm weighs transitions by their probability; "
                                  "pass mdp=TabularMDP(...)")
        if arr.shape[-3:] != mdp.shape:
            raise ValidationError(f"{name} must have shape (..., {mdp.n_states}, "
                                  f"{mdp.n_actions}, {mdp.n_states}) to match mdp, got "
                                  f"{arr.shape}")
    elif mdp is not None and not isinstance(mdp, TabularMDP):
        raise ValidationError(f"mdp must be a starc.TabularMDP or None, got "
                              f"{type(mdp).__name__}")
    return arr, ord


def norm(x, ord="l2", *, mdp: TabularMDP | None = None) -> np.ndarray | float:
    r"""Norm of a reward (or of each reward of a batch) over its last three axes.

    .. math::

        \|x\|_p = \Big(\sum_{s,a,s'} |x(s,a,s')|^p\Big)^{1/p}, \qquad
        \|x\|_{\tau,p} = \Big(\sum_{s,a,s'} \tau(s'|s,a)\,|x(s,a,s')|^p\Big)^{1/p}.

    Parameters
    ----------
    x : array_like of shape (..., S, A, S)
    ord : {"l1", "l2", "linf", "weighted_l1", "weighted_l2", "weighted_linf"}
        The paper's names ``1``, ``2``, ``"inf"``, ``"weighted_1"``, ``"weighted_2"``,
        ``"weighted_inf"`` are accepted too.
    mdp : TabularMDP, optional
        On a sparse MDP, ``x`` may be ``(..., S, A)`` (constant in s') or a sparse
        ``(S*A, S)`` matrix; see :doc:`/theory/sparse_distances`.
        Required for the weighted norms.

    Returns
    -------
    float or ndarray of shape (...)

    Raises
    ------
    ValidationError
        For a bad ``ord``, shape or ``mdp``, or when the norm exceeds the float64 range
        (an :math:`L_1`/:math:`L_2` norm of entries near :math:`1.8\times10^{308}`);
        inputs of any finite size are otherwise exact to round-off.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3 and Sec. 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import norm
    >>> x = np.ones((2, 1, 2))
    >>> float(norm(x, "l1")), float(norm(x, "l2")), float(norm(x, "linf"))
    (4.0, 2.0, 1.0)
    """
    if isinstance(mdp, TabularMDP) and getattr(mdp, "is_sparse", False):  # THEORY §11
        from . import _sparse_distances
        return _sparse_distances.norm(x, ord, mdp)
    arr, ord = _check_norm_args(x, ord, mdp)
    out = array_norm(arr, ord, mdp)
    if not np.all(np.isfinite(out)):
        raise ValidationError(f"the {ord} norm of x exceeds the float64 range (about "
                              "1.8e308), so it cannot be returned; scale x down")
    return float(out) if out.ndim == 0 else out


def zero_threshold(x: np.ndarray, ord: str, mdp: TabularMDP | None,
                   reference: np.ndarray | None = None) -> np.ndarray:
    r"""Norm below which ``x`` counts as zero: ``ZERO_RTOL * n(1) * max|reference|``.

    ``reference`` (default ``x``) is the array whose round-off could leave a residue in
    ``x`` — for a canonical reward, the reward it was computed from. :math:`n(\mathbf 1)`
    is the norm of the all-ones array, so the threshold is the norm of an array whose
    every entry is ``ZERO_RTOL * max|reference|``.
    """
    ref = x if reference is None else reference
    scale = np.abs(ref).max(axis=(-3, -2, -1), initial=0.0)
    return ZERO_RTOL * ones_norm(ord, x.shape[-3:]) * scale


def normalize(x, ord="l2", *, mdp: TabularMDP | None = None, reference=None) -> np.ndarray:
    r"""Divide a reward by its norm; rewards of (numerically) zero norm stay zero.

    .. math::

        s(x) = \begin{cases} x / n(x) & n(x) > \epsilon \\ 0 & \text{otherwise,}\end{cases}
        \qquad \epsilon = \mathtt{ZERO\_RTOL}\; n(\mathbf 1) \max |x_{\text{ref}}| ,

    :data:`ZERO_RTOL` = 512 units of round-off. :func:`starc.starc_distance` makes the
    same decision with the magnitude of every intermediate of the canonicalization
    (values, potentials), which a bare array does not carry.

    Parameters
    ----------
    x : array_like of shape (..., S, A, S)
    ord : str
        A name from :data:`NORMS` (or the paper's aliases).
    mdp : TabularMDP, optional
        On a sparse MDP, ``x`` may be ``(..., S, A)`` (constant in s') or a sparse
        ``(S*A, S)`` matrix, returned in the same form; see :doc:`/theory/sparse_distances`.
        Required for the weighted norms.
    reference : array_like of shape (..., S, A, S), optional
        The array that ``x`` was computed from (e.g. the reward before canonicalization);
        its largest magnitude sets the scale of "zero". Defaults to ``x``. Its batch axes
        must broadcast to those of ``x`` (``ValidationError`` otherwise).

    Returns
    -------
    ndarray of shape (..., S, A, S)
        Each reward divided by its norm; zero where the norm is negligible.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3 (the normalization
       :math:`s(R) = c(R)/n(c(R))`, and :math:`s(R) = c(R)` when :math:`n(c(R)) = 0`).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import normalize
    >>> normalize(np.full((1, 1, 2), 3.0), "l2").round(6)
    array([[[0.707107, 0.707107]]])
    >>> normalize(np.zeros((1, 1, 2)), "l2")
    array([[[0., 0.]]])
    """
    if isinstance(mdp, TabularMDP) and getattr(mdp, "is_sparse", False):  # THEORY §11
        from . import _sparse_distances
        return _sparse_distances.normalize(x, ord, mdp, reference)
    arr, ord = _check_norm_args(x, ord, mdp)
    ref = arr if reference is None else as_float_array(reference, "reference", min_ndim=3)
    try:
        fits = (ref.shape[-3:] == arr.shape[-3:]
                and np.broadcast_shapes(ref.shape[:-3], arr.shape[:-3]) == arr.shape[:-3])
    except ValueError:
        fits = False
    if not fits:
        raise ValidationError(f"reference of shape {ref.shape} must broadcast to the shape of "
                              f"x {arr.shape}: the same last three axes and batch axes that "
                              "broadcast to those of x")
    # x / n(x) does not depend on the scale of x: divide by a power of two first when the
    # magnitudes leave the safe window, so the norm neither overflows nor underflows
    exps = scale_exponents(np.abs(arr).max(axis=(-3, -2, -1), initial=0.0))
    if exps is not None:
        arr = rescale(arr, exps)
        with np.errstate(over="ignore"):  # a reference far larger than x: inf, so "zero"
            ref = rescale(ref, exps)
    n = array_norm(arr, ord, mdp)
    zero = n <= zero_threshold(arr, ord, mdp, ref)
    safe = np.where(zero, 1.0, n)
    out = arr / safe[..., None, None, None]
    if np.any(zero):
        out[zero] = 0.0
    return out
