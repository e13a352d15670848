r"""STARC, EPIC and DARD distances between reward functions.

STARC metrics
-------------
A STARC (STAndardised Reward Comparison) pseudometric [1]_ (Def. 3) is built from a
canonicalization :math:`c` (:mod:`starc.canonical`), a norm :math:`n` and a metric
:math:`m` (:mod:`starc.norms`):

.. math::

    s(R) = \begin{cases} c(R) / n(c(R)) & n(c(R)) \neq 0 \\ c(R) & \text{otherwise,}
           \end{cases} \qquad d(R_1, R_2) = m\big(s(R_1), s(R_2)\big),

with :math:`m(x, y) = n'(x - y)` for a norm :math:`n'`. "Zero" is decided with a relative
tolerance (:data:`starc.norms.ZERO_RTOL`), never with ``== 0``. With a canonicalization
function in the sense of Def. 1 (``"val"``, ``"minimal_l2"``, ``"minimal"``) the result is
sound and complete: it bounds worst-case regret from above and below [1]_ (Thm. 1), and
any two such pseudometrics are bilipschitz equivalent (Thm. 2). When :math:`n` and the
metric use the same :math:`L_p`:

* :math:`0 \le d \le 2`, :math:`d(R, R') = 0` iff :math:`R, R'` are equivalent (shaping,
  :math:`S'`-redistribution, positive scaling);
* :math:`d(R, -R) = 2` when :math:`c(R) \ne 0`, and :math:`d(R, 0) = 1`.

Leaving out the normalization (``normalization=None``, the paper's "0" variants) gives a
pseudometric that is not scale invariant.

EPIC and DARD
-------------
EPIC [2]_ and DARD [3]_ compare canonical rewards with the *Pearson distance*

.. math::

    D_\rho(X, Y) = \sqrt{\tfrac{1}{2}\,(1 - \rho(X, Y))},

:math:`\rho` the Pearson correlation under a coverage distribution over transitions
(uniform over :math:`S \times A \times S` by default). With uniform :math:`D_S`,
:math:`D_A` and coverage, the EPIC canonical has mean zero and
:math:`D_{\mathrm{EPIC}} = \tfrac12 \| C_1/\|C_1\|_2 - C_2/\|C_2\|_2 \|_2` (derived), i.e.
half of ``starc_distance(..., "epic", "l2", "l2")``. If exactly one of the two canonical
rewards is constant (zero variance) the correlation is taken to be 0; if both are, the
distance is 0.

Why EPIC and DARD are not enough
--------------------------------
Neither canonicalization removes :math:`S'`-redistribution, so both react to rewards
on *impossible* transitions, which change no policy's return [1]_ (Sec. 3):

* adding 100 to :math:`R(s, a, s')` on one transition with :math:`\tau(s'|s,a) = 0`
  leaves every return unchanged, yet drives the EPIC and DARD distances above 0.5;
* :math:`R_1 = R + K X` and :math:`R_2 = -R + K X` with :math:`X` supported on impossible
  transitions order policies in *opposite* ways, yet their EPIC and DARD distances go to
  0 as :math:`K` grows. VAL and the minimal canonicalizations give 2.

So EPIC and DARD are neither sound nor complete when rewards may depend on :math:`s'`.

Variant names
-------------
The paper's experiment names variants ``"{canonicalization}-{normalization}-{metric}"``,
e.g. ``"VAL-2-2"``, ``"EPIC-weighted_1-inf"``, ``"MinimalPotential-1-1"``, ``"None-0-2"``.
:data:`VARIANTS` lists all 222 of them; :func:`resolve_variant` maps a name to the
keyword arguments of :func:`starc_distance`.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Def. 3, Thm. 1, Thm. 2,
   Sec. 3 and Sec. 4.1.
.. [2] Gleave, Dennis, Legg, Russell, Leike. "Quantifying Differences in Reward
   Functions". ICLR 2021, Def. 4.3 (Pearson distance), Def. 4.4 (EPIC).
.. [3] Wulfe et al. "Dynamics-Aware Comparison of Learned Reward Functions". ICLR 2022.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import as_float_array, check_gamma, check_real
from .canonical import Factored, canonical_parts, resolve_options
from .exceptions import ValidationError
from .mdp import TabularMDP, as_mdp, broadcast_reward
from ._extremes import rescale, scale_exponents, unscale_checked
from .norms import ZERO_RTOL, array_norm, check_norm_name, ones_norm
from . import _rules
from ._rules import STOCHASTIC_ATOL

__all__ = [
    "starc_distance",
    "epic_distance",
    "dard_distance",
    "pearson_distance",
    "pairwise_distances",
    "is_equivalent",
    "Variant",
    "VARIANTS",
    "resolve_variant",
    "distance_options",
]


# ------------------------------------------------------------------ variant registry


class _VariantFields(NamedTuple):
    name: str
    canonicalization: str
    normalization: str | None
    metric: str
    minimal_norm: str | None
    needs_lp: bool


class Variant(_VariantFields):
    """One (canonicalization, normalization, metric) triple of the paper's experiment.

    Parameters
    ----------
    name : str
        The paper's name, e.g. ``"VAL-2-2"``.
    canonicalization : str
        One of :data:`starc.canonical.CANONICALIZATIONS`.
    normalization : str or None
        A norm name of :mod:`starc.norms` (``"l1"``, ``"2"``, ...) or ``None``.
    metric : str
        A norm name.
    minimal_norm : str or None
        The norm a ``"minimal_potential"`` canonicalization minimises.
    needs_lp : bool
        Whether computing the variant solves a linear program.

    Norm names are stored in their canonical spelling (``"2"`` becomes ``"l2"``).

    Examples
    --------
    >>> from starc.distances import Variant
    >>> Variant("my-VAL", "val", "2", "l2", None, False).kwargs()
    {'canonicalization': 'val', 'normalization': 'l2', 'metric': 'l2'}
    """

    __slots__ = ()

    def __new__(cls, name: str, canonicalization: str, normalization: str | None,
                metric: str, minimal_norm: str | None, needs_lp: bool) -> Variant:
        from .canonical import CANONICALIZATIONS
        from ._validation import check_choice

        if not isinstance(name, str) or not name:
            raise ValidationError(f"name must be a non-empty str, got {name!r}")
        check_choice(canonicalization, "canonicalization", CANONICALIZATIONS)
        if normalization is not None:
            normalization = check_norm_name(normalization, "normalization")
        metric = check_norm_name(metric, "metric")
        if minimal_norm is not None:
            minimal_norm = check_norm_name(minimal_norm, "minimal_norm")
        if not isinstance(needs_lp, (bool, np.bool_)):
            raise ValidationError(f"needs_lp must be a bool, got {needs_lp!r}")
        return super().__new__(cls, name, canonicalization, normalization, metric,
                               minimal_norm, bool(needs_lp))

    def kwargs(self) -> dict:
        """Keyword arguments of :func:`starc_distance` for this variant."""
        kw = {"canonicalization": self.canonicalization, "normalization": self.normalization,
              "metric": self.metric}
        if self.minimal_norm is not None:
            kw["minimal_norm"] = self.minimal_norm
        return kw


_PAPER_CANONICALIZATIONS = _rules.PAPER_CANONICALIZATIONS
_PAPER_NORMS = _rules.PAPER_NORMS


def _build_variants() -> dict[str, Variant]:
    out = {}
    normalizations = [*_PAPER_NORMS, _rules.PAPER_NO_NORMALIZATION]
    for cname, method in _PAPER_CANONICALIZATIONS.items():
        # MinimalPotential minimises its own normalization norm; the paper ran it for L1, L2.
        norms = ["1", "2"] if method == "minimal_potential" else normalizations
        for nname in norms:
            for mname in _PAPER_NORMS:
                name = f"{cname}-{nname}-{mname}"
                normalization = (None if nname == _rules.PAPER_NO_NORMALIZATION
                                 else _PAPER_NORMS[nname])
                minimal = normalization if method == "minimal_potential" else None
                out[name] = Variant(name, method, normalization, _PAPER_NORMS[mname], minimal,
                                    needs_lp=method == "minimal_potential" and nname != "2")
    return out


#: All 222 variants of the STARC paper's tabular experiment, by name.
VARIANTS: dict[str, Variant] = _build_variants()


def resolve_variant(name: str) -> Variant:
    """Look up a paper variant name such as ``"VAL-2-2"`` or ``"EPIC-weighted_1-inf"``.

    Parameters
    ----------
    name : str
        ``"{canonicalization}-{normalization}-{metric}"`` with canonicalization in
        None, EPIC, DARD, MinimalPotential, VALPotential, VAL; normalization in 1, 2, inf,
        weighted_1, weighted_2, weighted_inf, 0 (none); metric in the same list without 0.

    Returns
    -------
    Variant
        ``Variant.kwargs()`` gives the keyword arguments of :func:`starc_distance`.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 and Appendix (the variant table).

    Examples
    --------
    >>> from starc import resolve_variant, VARIANTS
    >>> resolve_variant("VAL-2-2").kwargs()
    {'canonicalization': 'val', 'normalization': 'l2', 'metric': 'l2'}
    >>> len(VARIANTS)
    222
    """
    variant = VARIANTS.get(name) if isinstance(name, str) else None
    if variant is None:
        examples = ", ".join(repr(n) for n in ("VAL-2-2", "EPIC-weighted_1-inf",
                                                "MinimalPotential-1-1", "None-0-2"))
        raise ValidationError(
            f"unknown variant {name!r}; names are '{{canonicalization}}-{{normalization}}-"
            f"{{metric}}' with canonicalization in {list(_PAPER_CANONICALIZATIONS)}, "
            f"normalization in {list(_PAPER_NORMS) + ['0']}, metric in {list(_PAPER_NORMS)} "
            f"(MinimalPotential only with normalization 1 or 2), e.g. {examples}")
    return variant


# ------------------------------------------------------------------ norms of canonicals


class Unnormalized(NamedTuple):
    """Unnormalized canonicals of rescaled rewards: the true ones are ``value * 2**exponent``.

    Returned by :func:`standardize` without a normalization when some reward left the
    safe window of :data:`starc.norms.SAFE_EXPONENT`; :func:`metric_between` and
    :func:`pairwise_distances` combine the two scales without forming either canonical in
    its own units.
    """

    value: np.ndarray | Factored
    exponent: np.ndarray


def standardize(r: np.ndarray, mdp: TabularMDP, method, normalization: str | None, *, pi,
                state_dist, action_dist, minimal_norm):
    """``s(R)``: canonicalize validated rewards then divide by the norm (zero stays zero).

    "Zero" means a norm of at most ``n(1)`` times the canonical's round-off bound
    (:class:`starc.canonical.Canonical`). The canonical is computed on the rewards
    rescaled by a power of two where needed (:func:`starc.canonical.canonical_parts`);
    :math:`c(R)/n(c(R))` does not depend on that scale, and without a normalization the
    scale is kept aside (:class:`Unnormalized`).
    """
    canon = canonical_parts(r, mdp, method, pi=pi, state_dist=state_dist,
                            action_dist=action_dist, norm=minimal_norm, rescaled=True)
    if normalization is None:
        c = canon.value
        return c if canon.exponent is None else Unnormalized(c, canon.exponent)
    return canon.standardize(normalization, mdp)


def _item(s, index):
    """Item ``index`` of the batch of a standardized result."""
    if isinstance(s, Unnormalized):
        return Unnormalized(_item(s.value, index), s.exponent[index])
    if isinstance(s, Factored):
        return Factored(s.u[index], s.profile)
    return s[index]


def _scaled(s, factor):
    """A standardized result times per-item ``factor`` (``(...)``, or 1 when None)."""
    if factor is None:
        return s
    if isinstance(s, Factored):
        return Factored(s.u * factor[..., None, None], s.profile)
    return s * factor[..., None, None, None]


def _common_scale(e1, e2):
    """Factors ``2**(e - E)`` of two exponent arrays (None: 0) and the larger ``E``."""
    e1 = np.zeros((), dtype=np.int64) if e1 is None else e1
    e2 = np.zeros((), dtype=np.int64) if e2 is None else e2
    big = np.maximum(e1, e2)
    return np.ldexp(1.0, e1 - big), np.ldexp(1.0, e2 - big), big


def metric_between(s1, s2, ord: str, mdp: TabularMDP) -> np.ndarray:
    r"""``n'(s1 - s2)`` for standardized rewards (both full or both Factored).

    Unnormalized canonicals of rescaled rewards (:class:`Unnormalized`) are brought to
    their larger scale :math:`2^E` (the smaller one multiplied by :math:`2^{e - E} \le
    1`, exact unless it underflows below the round-off of the larger) and the metric is
    multiplied by :math:`2^E`; a distance beyond the float64 range raises.
    """
    if isinstance(s1, Unnormalized) or isinstance(s2, Unnormalized):
        e1 = s1.exponent if isinstance(s1, Unnormalized) else None
        e2 = s2.exponent if isinstance(s2, Unnormalized) else None
        f1, f2, big = _common_scale(e1, e2)
        v1 = s1.value if isinstance(s1, Unnormalized) else s1
        v2 = s2.value if isinstance(s2, Unnormalized) else s2
        d = metric_between(_scaled(v1, f1), _scaled(v2, f2), ord, mdp)
        return unscale_checked(d, np.broadcast_to(big, np.shape(d)).astype(np.int64),
                       "the unnormalised distance")
    if isinstance(s1, Factored) and isinstance(s2, Factored) and s1.profile == s2.profile:
        return Factored(s1.u - s2.u, s1.profile).norm(ord, mdp)
    a = s1.expand(mdp) if isinstance(s1, Factored) else s1
    b = s2.expand(mdp) if isinstance(s2, Factored) else s2
    return array_norm(a - b, ord, mdp)


# ------------------------------------------------------------------ public functions


class _Default(str):
    """A keyword default that :func:`distance_options` can tell from the same value passed
    explicitly (``variant=`` must not silently override an explicit choice)."""

    __slots__ = ()


_CANONICALIZATION_DEFAULT = _Default("val")
_NORMALIZATION_DEFAULT = _Default("l2")
_METRIC_DEFAULT = _Default("l2")


def distance_options(mdp, canonicalization, normalization, metric, policy, state_dist,
                     action_dist, minimal_norm, variant):
    r"""Validate the options of :func:`starc_distance` once, for every function that takes them.

    A ``variant`` name (:func:`resolve_variant`) sets canonicalization, normalization
    and metric; an explicit keyword that contradicts it raises. Norm names are brought
    to their canonical spelling; ``minimal_norm`` defaults to the normalization
    (``"l2"`` without one) for the minimal canonicalizations.

    Parameters
    ----------
    mdp : TabularMDP
    canonicalization, normalization, metric, policy, state_dist, action_dist, minimal_norm, variant
        As in :func:`starc_distance` (a plain value counts as given explicitly).

    Returns
    -------
    tuple
        ``(method, normalization, metric, pi, state_dist, action_dist, minimal_norm)``:
        the canonicalization name, the two canonical norm names (normalization may be
        None), the policy ``(S, A)``, the distributions ``(S,)`` and ``(A,)``, and the
        minimised norm (or None).

    Raises
    ------
    ValidationError
        For a bad option, a contradicted variant or a callable canonicalization.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3 and Sec. 4.1.

    Examples
    --------
    >>> from starc import random_mdp
    >>> from starc.distances import distance_options
    >>> mdp = random_mdp(3, 2, seed=0)
    >>> distance_options(mdp, "val", "2", "inf", "uniform", None, None, None, None)[:3]
    ('val', 'l2', 'linf')
    """
    mdp = as_mdp(mdp)
    if variant is not None:
        v = resolve_variant(variant)
        given = {"canonicalization": canonicalization, "normalization": normalization,
                 "metric": metric, "minimal_norm": minimal_norm}
        for key, value in given.items():
            if isinstance(value, _Default) or (key == "minimal_norm" and value is None):
                continue
            mine = getattr(v, key)
            if key != "canonicalization" and value is not None and mine is not None:
                same = check_norm_name(value, key) == mine
            else:
                same = value == mine
            if not same:
                raise ValidationError(
                    f"{key}={value!r} contradicts variant={variant!r}, which sets {key}="
                    f"{mine!r}; pass either the variant or the separate keywords")
        canonicalization, normalization, metric = (v.canonicalization, v.normalization,
                                                   v.metric)
        minimal_norm = v.minimal_norm if v.minimal_norm is not None else minimal_norm
    canonicalization = str(canonicalization) if isinstance(canonicalization, _Default) \
        else canonicalization
    normalization = None if normalization is None else check_norm_name(normalization,
                                                                       "normalization")
    metric = check_norm_name(metric, "metric")
    if minimal_norm is None and canonicalization in ("minimal", "minimal_potential"):
        minimal_norm = normalization if normalization is not None else "l2"
    method, pi, ds, da, minimal_norm = resolve_options(mdp, canonicalization, policy,
                                                       state_dist, action_dist, minimal_norm)
    if callable(method):
        raise ValidationError("starc_distance takes a canonicalization name; for a custom "
                              "callable use canonicalize() and norm() directly")
    return method, normalization, metric, pi, ds, da, minimal_norm


def _standardize_pair(r1, r2, mdp, method, normalization, opts):
    """Standardize two reward batches, in one pass when they are small and alike."""
    if r1.shape == r2.shape and r1.size <= 2**20:
        both = standardize(np.stack([r1, r2]), mdp, method, normalization, **opts)
        return _item(both, 0), _item(both, 1)
    return (standardize(r1, mdp, method, normalization, **opts),
            standardize(r2, mdp, method, normalization, **opts))


def starc_distance(r1, r2, mdp: TabularMDP, *, canonicalization=_CANONICALIZATION_DEFAULT,
                   normalization=_NORMALIZATION_DEFAULT, metric=_METRIC_DEFAULT,
                   policy="uniform", state_dist=None, action_dist=None, minimal_norm=None,
                   variant: str | None = None):
    r"""STARC distance :math:`d(R_1, R_2) = m(s(R_1), s(R_2))` with :math:`s(R) = c(R)/n(c(R))`.

    Parameters
    ----------
    r1, r2 : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
        Rewards; leading batch axes broadcast against each other.
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
    canonicalization : str, default "val"
        A name of :data:`starc.canonical.CANONICALIZATIONS`.
    normalization : str or None, default "l2"
        A norm name (:data:`starc.norms.NORMS`, or the paper's ``1``, ``2``, ``"inf"``,
        ``"weighted_1"``...), or ``None`` for no normalization.
    metric : str, default "l2"
        The norm :math:`n'` of the metric :math:`m(x, y) = n'(x - y)`.
    policy : "uniform", int array (S,) or array (S, A)
        Policy of ``"val"`` / ``"val_potential"``.
    state_dist, action_dist : array_like, optional
        :math:`D_S`, :math:`D_A` of ``"epic"`` / ``"dard"``.
    minimal_norm : str, optional
        The norm minimised by ``"minimal"`` / ``"minimal_potential"``; defaults to the
        normalization (``"l2"`` when there is none).
    variant : str, optional
        A paper variant name (``"VAL-2-2"``...; see :func:`resolve_variant`) that sets
        the three choices above at once. Passing one of them explicitly as well is
        allowed only when it agrees with the variant; a contradiction raises.

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 2]`` when normalization and metric are the same :math:`L_p`. Exact to
        round-off for rewards of any finite magnitude (see "Numerical range and failure
        modes" in :doc:`/theory/distances`).

    Raises
    ------
    ValidationError
        For bad options, a ``variant`` contradicted by an explicit keyword, a reward in a
        layout other than ``(..., S, A, S)`` with the size of one (see "Reward layout" in
        :mod:`starc.mdp`), or an unnormalized distance beyond the float64 range.
    SolverError
        When an optimiser (``"minimal"``, ``"minimal_potential"``) fails.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3 (STARC metrics), Thm. 1 (soundness and
       completeness).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import random_mdp, random_reward, random_potential_shaping, starc_distance
    >>> mdp = random_mdp(16, 4, seed=0)
    >>> R = random_reward(mdp, seed=1)
    >>> shaped, _ = random_potential_shaping(R, mdp, seed=2)
    >>> round(starc_distance(R, 3.0 * shaped, mdp), 10)
    0.0
    >>> round(starc_distance(R, -R, mdp), 10)
    2.0
    """
    mdp = as_mdp(mdp)
    method, normalization, metric, pi, ds, da, mnorm = distance_options(
        mdp, canonicalization, normalization, metric, policy, state_dist, action_dist,
        minimal_norm, variant)
    if getattr(mdp, "is_sparse", False):  # THEORY §11: closed forms, no (S, A, S) array
        from . import _sparse_distances
        return _sparse_distances.starc_distance(
            r1, r2, mdp, method=method, normalization=normalization, metric=metric, policy=pi,
            state_dist=ds, action_dist=da)
    a = broadcast_reward(r1, mdp, name="r1")
    b = broadcast_reward(r2, mdp, name="r2")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValidationError(f"r1 of shape {a.shape} and r2 of shape {b.shape} have batch "
                              "axes that do not broadcast") from None
    opts = dict(pi=pi, state_dist=ds, action_dist=da, minimal_norm=mnorm)
    s1, s2 = _standardize_pair(a, b, mdp, method, normalization, opts)
    d = metric_between(s1, s2, metric, mdp)
    return float(d) if np.ndim(d) == 0 else d


def _check_batches(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Refuse two reward stacks whose batch axes (all but the last three) do not broadcast."""
    try:
        np.broadcast_shapes(a.shape[:-3], b.shape[:-3])
    except ValueError:
        raise ValidationError(f"{name_a} of shape {a.shape} and {name_b} of shape {b.shape} "
                              "have batch axes that do not broadcast") from None


def pearson_distance(x, y, weights=None):
    r"""Pearson distance :math:`\sqrt{(1 - \rho(x, y))/2}` over the last three axes.

    .. math::

        \rho(x, y) = \frac{\operatorname{Cov}_w(x, y)}
                          {\sqrt{\operatorname{Var}_w(x)\operatorname{Var}_w(y)}},

    moments taken under the distribution ``weights`` (uniform by default). If exactly one
    of ``x``, ``y`` has zero variance (relative to its size) :math:`\rho` is taken as 0; if
    both do, the distance is 0.

    Parameters
    ----------
    x, y : array_like of shape (..., S, A, S)
    weights : array_like of shape (S, A, S), optional
        A coverage distribution over transitions (non-negative, summing to 1).

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 1]``.

    References
    ----------
    .. [1] Gleave et al. 2021 ("EPIC"), Def. 4.3.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import pearson_distance
    >>> x = np.arange(8.0).reshape(2, 2, 2)
    >>> float(pearson_distance(x, 2 * x + 1)), float(pearson_distance(x, -x))
    (0.0, 1.0)
    """
    a = as_float_array(x, "x", min_ndim=3)
    b = as_float_array(y, "y", min_ndim=3)
    if a.shape[-3:] != b.shape[-3:]:
        raise ValidationError(f"x and y must share their last three axes, got {a.shape} and "
                              f"{b.shape}")
    _check_batches(a, b, "x", "y")
    w = _check_coverage(weights, a.shape[-3:], "weights")
    ax = (-3, -2, -1)
    big_a, big_b = np.abs(a).max(axis=ax, initial=0.0), np.abs(b).max(axis=ax, initial=0.0)
    # the correlation ignores the scale of each argument: rescale (exactly, by powers of
    # two) arrays whose squares would over- or underflow
    ex_a, ex_b = scale_exponents(big_a), scale_exponents(big_b)
    if ex_a is not None:
        a, big_a = rescale(a, ex_a), rescale(big_a, ex_a, axes=0)
    if ex_b is not None:
        b, big_b = rescale(b, ex_b), rescale(big_b, ex_b, axes=0)
    return _pearson(a, b, w, ZERO_RTOL * big_a, ZERO_RTOL * big_b)


def _pearson(a: np.ndarray, b: np.ndarray, w: np.ndarray, noise_a, noise_b):
    r"""Pearson distance of validated arrays under ``w``; a standard deviation at most
    ``noise`` (the round-off of the entries) counts as zero variance.

    Computed as half the :math:`w`-weighted :math:`L_2` distance of the standardised
    arrays, :math:`\sqrt{(1-\rho)/2} = \tfrac12\|\tilde x - \tilde y\|_w` (both have unit
    norm), which is accurate to round-off; :math:`\sqrt{(1-\rho)/2}` from the moments
    loses half the digits (a distance of ~1e-8 between arrays equal up to round-off).
    """
    ax = (-3, -2, -1)
    ca = a - (a * w).sum(axis=ax, keepdims=True)
    cb = b - (b * w).sum(axis=ax, keepdims=True)
    va = (ca * ca * w).sum(axis=ax)
    vb = (cb * cb * w).sum(axis=ax)
    za, zb = va <= noise_a ** 2, vb <= noise_b ** 2
    either = za | zb
    sa = np.sqrt(np.where(either, 1.0, va))[..., None, None, None]
    sb = np.sqrt(np.where(either, 1.0, vb))[..., None, None, None]
    diff = ca / sa - cb / sb
    d = np.minimum(0.5 * np.sqrt((diff * diff * w).sum(axis=ax)), 1.0)
    # exactly one zero variance: rho = 0; both: distance 0
    d = np.where(za & zb, 0.0, np.where(either, np.sqrt(0.5), d))
    return float(d) if d.ndim == 0 else d


def epic_distance(r1, r2, mdp: TabularMDP | None = None, *, gamma: float | None = None,
                  state_dist=None, action_dist=None, coverage=None):
    r"""EPIC distance: the Pearson distance between EPIC-canonical rewards.

    .. math::

        D_{\mathrm{EPIC}}(R_1, R_2) = D_\rho\big(C_{\mathrm{EPIC}}(R_1),
        C_{\mathrm{EPIC}}(R_2)\big).

    EPIC needs no transition model, only the discount: pass ``mdp`` or ``gamma``.

    Parameters
    ----------
    r1, r2 : array_like of shape (..., S, A, S)
        (lower forms are accepted when ``mdp`` is given).
    mdp : TabularMDP, optional
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
        Supplies ``gamma`` and the shapes.
    gamma : float, optional
        The discount, when no ``mdp`` is given.
    state_dist, action_dist : array_like, optional
        :math:`D_S`, :math:`D_A` of the canonicalization (uniform by default).
    coverage : array_like of shape (S, A, S), optional
        The distribution of the Pearson correlation (uniform by default).

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 1]``.

    References
    ----------
    .. [1] Gleave et al. 2021 ("EPIC"), Def. 4.4 and Thm. 4.7.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import epic_distance
    >>> R = np.random.default_rng(0).standard_normal((4, 2, 4))
    >>> round(epic_distance(R, 2 * R + 1, gamma=0.9), 10), round(epic_distance(R, -R, gamma=0.9), 10)
    (0.0, 1.0)
    """
    if mdp is None:
        if gamma is None:
            raise ValidationError("epic_distance needs the discount: pass mdp= or gamma=")
        g = check_gamma(gamma)
        a = as_float_array(r1, "r1", min_ndim=3)
        b = as_float_array(r2, "r2", min_ndim=3)
        n, m = a.shape[-3], a.shape[-2]
        for name, arr in (("r1", a), ("r2", b)):
            if arr.shape[-1] != arr.shape[-3] or arr.shape[-3:] != (n, m, n):
                raise ValidationError(f"{name} must have shape (..., S, A, S) = (..., {n}, {m}, "
                                      f"{n}) without an mdp, got {arr.shape}")
        mdp_like = TabularMDP(np.full((n, m, n), 1.0 / n), g)
    else:
        mdp_like = as_mdp(mdp)
        if gamma is not None and check_gamma(gamma) != mdp_like.gamma:
            raise ValidationError(f"gamma={gamma} contradicts mdp.gamma={mdp_like.gamma}; "
                                  "pass one of them")
        if getattr(mdp_like, "is_sparse", False):  # THEORY §11: uniform coverage, closed form
            from . import _sparse_distances
            return _sparse_distances.epic_distance(r1, r2, mdp_like, state_dist=state_dist,
                                                   action_dist=action_dist, coverage=coverage)
        a = broadcast_reward(r1, mdp_like, name="r1")
        b = broadcast_reward(r2, mdp_like, name="r2")
    _check_batches(a, b, "r1", "r2")
    _, pi, ds, da, _ = resolve_options(mdp_like, "epic", "uniform", state_dist, action_dist,
                                       None)
    return _canonical_pearson(a, b, mdp_like, "epic", pi, ds, da, coverage)


def _canonical_pearson(a, b, mdp, method, pi, ds, da, coverage):
    """Pearson distance of the ``method`` canonicals of validated rewards ``a``, ``b``.

    A canonical that is zero up to round-off (a reward that is pure shaping) has zero
    variance: two of them are at distance 0, and one of them is uncorrelated with any
    other reward.
    """
    opts = dict(pi=pi, state_dist=ds, action_dist=da, norm=None)
    # rescaled canonicals: the correlation ignores the scale of each
    c1 = canonical_parts(a, mdp, method, rescaled=True, **opts)
    c2 = canonical_parts(b, mdp, method, rescaled=True, **opts)
    w = _check_coverage(coverage, mdp.shape, "coverage")
    return _pearson(c1.value, c2.value, w, c1.noise, c2.noise)


def _check_coverage(weights, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A distribution over transitions of ``shape`` (uniform when ``weights`` is None)."""
    if weights is None:
        return np.full(shape, 1.0 / np.prod(shape))
    w = as_float_array(weights, name)
    if w.shape != tuple(shape):
        raise ValidationError(f"{name} must have shape {tuple(shape)}, got {w.shape}")
    if np.any(w < 0) or abs(w.sum() - 1.0) > STOCHASTIC_ATOL:
        raise ValidationError(f"{name} must be a distribution over transitions: "
                              "non-negative, summing to 1")
    return w


def dard_distance(r1, r2, mdp: TabularMDP, *, action_dist=None, coverage=None):
    r"""DARD distance: the Pearson distance between DARD-canonical rewards.

    .. math::

        D_{\mathrm{DARD}}(R_1, R_2) = D_\rho\big(C_{\mathrm{DARD}}(R_1),
        C_{\mathrm{DARD}}(R_2)\big).

    Parameters
    ----------
    r1, r2 : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
    action_dist : array_like of shape (A,), optional
        :math:`D_A` (uniform by default).
    coverage : array_like of shape (S, A, S), optional
        The distribution of the Pearson correlation (uniform by default).

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 1]``.

    References
    ----------
    .. [1] Wulfe et al. 2022 ("DARD"), Sec. 4.

    Examples
    --------
    >>> from starc import random_mdp, random_reward, random_potential_shaping, dard_distance
    >>> mdp = random_mdp(8, 2, seed=0)
    >>> R = random_reward(mdp, seed=1)
    >>> round(dard_distance(R, random_potential_shaping(R, mdp, seed=2)[0], mdp), 10)
    0.0
    """
    mdp = as_mdp(mdp)
    if getattr(mdp, "is_sparse", False):  # THEORY §11: uniform coverage, closed form
        from . import _sparse_distances
        return _sparse_distances.dard_distance(r1, r2, mdp, action_dist=action_dist,
                                               coverage=coverage)
    _, pi, ds, da, _ = resolve_options(mdp, "dard", "uniform", None, action_dist, None)
    a = broadcast_reward(r1, mdp, name="r1")
    b = broadcast_reward(r2, mdp, name="r2")
    _check_batches(a, b, "r1", "r2")
    return _canonical_pearson(a, b, mdp, "dard", pi, ds, da, coverage)


def pairwise_distances(rewards, mdp: TabularMDP, **kwargs) -> np.ndarray:
    r"""All pairwise STARC distances of ``K`` rewards, canonicalizing each once.

    .. math::

        D_{ij} = m\big(s(R_i), s(R_j)\big).

    Parameters
    ----------
    rewards : array_like of shape (K, S, A, S), (K, S, A) or (K, S)
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
    **kwargs
        Options of :func:`starc_distance` (``canonicalization``, ``normalization``,
        ``metric``, ``policy``, ``state_dist``, ``action_dist``, ``minimal_norm``,
        ``variant``).

    Returns
    -------
    ndarray of shape (K, K)
        Symmetric with a zero diagonal; differences are computed exactly (no Gram-matrix
        cancellation), in row blocks that bound the memory. An empty stack (``K = 0``)
        gives the empty ``(0, 0)`` matrix.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3.

    Examples
    --------
    >>> from starc import random_mdp, random_reward, pairwise_distances
    >>> mdp = random_mdp(8, 2, seed=0)
    >>> D = pairwise_distances(random_reward(mdp, seed=1, size=5), mdp)
    >>> D.shape, bool((D == D.T).all())
    ((5, 5), True)
    """
    mdp = as_mdp(mdp)
    allowed = {"canonicalization", "normalization", "metric", "policy", "state_dist",
               "action_dist", "minimal_norm", "variant"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise ValidationError(f"unknown keyword(s) {sorted(unknown)}; pairwise_distances "
                              f"accepts {sorted(allowed)}")
    method, normalization, metric, pi, ds, da, mnorm = distance_options(
        mdp, kwargs.get("canonicalization", _CANONICALIZATION_DEFAULT),
        kwargs.get("normalization", _NORMALIZATION_DEFAULT),
        kwargs.get("metric", _METRIC_DEFAULT), kwargs.get("policy", "uniform"),
        kwargs.get("state_dist"), kwargs.get("action_dist"), kwargs.get("minimal_norm"),
        kwargs.get("variant"))
    if getattr(mdp, "is_sparse", False):  # THEORY §11: one factorisation for all K rewards
        from . import _sparse_distances
        return _sparse_distances.pairwise_distances(
            rewards, mdp, method=method, normalization=normalization, metric=metric,
            policy=pi, state_dist=ds, action_dist=da)
    r = broadcast_reward(rewards, mdp, name="rewards")
    if r.ndim != 4:
        raise ValidationError(f"rewards must be a stack of shape (K, S, A, S), got {r.shape}")
    if r.shape[0] == 0:
        return np.zeros((0, 0))     # no rewards, no pairs: numpy's empty distance matrix
    k = r.shape[0]
    s = standardize(r, mdp, method, normalization, pi=pi, state_dist=ds, action_dist=da,
                    minimal_norm=mnorm)
    exps = None
    if isinstance(s, Unnormalized):  # rescaled rewards: each pair at its larger scale
        s, exps = s.value, s.exponent
    flat_u = s.u if isinstance(s, Factored) else s
    per_item = int(np.prod(flat_u.shape[1:]))
    if metric in ("l2", "weighted_l2") and exps is None:
        return _pairwise_l2(s, metric, mdp)
    block = max(1, int(2**22 // max(1, k * per_item)))
    out = np.zeros((k, k))
    for i0 in range(0, k, block):
        i1 = min(k, i0 + block)
        if exps is None:
            f1 = f2 = None
        else:
            f1, f2, big = _common_scale(exps[i0:i1, None], exps[None, :])
        if isinstance(s, Factored):
            diff = Factored(_scaled(Factored(s.u[i0:i1, None], s.profile), f1).u
                            - _scaled(Factored(s.u[None, :], s.profile), f2).u, s.profile)
            block_d = diff.norm(metric, mdp)
        else:
            block_d = array_norm(_scaled(s[i0:i1, None], f1) - _scaled(s[None, :], f2),
                                      metric, mdp)
        out[i0:i1] = block_d if exps is None else unscale_checked(block_d, big,
                                                           "an unnormalised distance")
    # Exact symmetry (|x - y| and |y - x| round identically, but be explicit).
    out = 0.5 * (out + out.T)
    np.fill_diagonal(out, 0.0)
    return out


#: Pairs whose squared Gram-matrix distance is below this fraction of
#: ``|x|^2 + |y|^2`` are recomputed from explicit differences (cancellation guard).
_GRAM_RECHECK = _rules.GRAM_RECHECK_RTOL


def _pairwise_l2(s, metric: str, mdp: TabularMDP) -> np.ndarray:
    r"""All pairwise (weighted) L2 distances via one Gram matrix (BLAS).

    :math:`\|x - y\|^2 = \|x\|^2 + \|y\|^2 - 2\langle x, y\rangle` loses relative accuracy
    only when :math:`\|x - y\|^2 \ll \|x\|^2 + \|y\|^2`; those pairs (below
    ``_GRAM_RECHECK``, relative error otherwise below ~1e-12) are recomputed exactly.
    """
    if isinstance(s, Factored):
        w = s.weights(metric, mdp)
        x = (s.u * np.sqrt(w)).reshape(s.u.shape[0], -1)
    else:
        w = mdp.transition if metric == "weighted_l2" else None
        x = (s if w is None else s * np.sqrt(w)).reshape(s.shape[0], -1)
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    total = sq[:, None] + sq[None, :]
    redo = np.argwhere(np.triu(d2 <= _GRAM_RECHECK * total, k=1))
    out = np.sqrt(np.maximum(d2, 0.0))
    step = max(1, 2**22 // max(1, x.shape[1]))
    for c0 in range(0, len(redo), step):
        i, j = redo[c0:c0 + step, 0], redo[c0:c0 + step, 1]
        diff = x[i] - x[j]
        out[i, j] = out[j, i] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    out = np.triu(out, k=1)
    return out + out.T


def is_equivalent(r1, r2, mdp: TabularMDP, *, rtol: float = 1e-8) -> bool:
    r"""Whether two rewards induce the same ordering of policies.

    True iff :math:`R_1` and :math:`R_2` differ by potential shaping,
    :math:`S'`-redistribution and positive scaling, decided through the VAL
    canonicalization (a canonicalization function, so its kernel is exactly the
    equivalence subspace):

    .. math::

        \Big\| \frac{c(R_1)}{\|c(R_1)\|_2} - \frac{c(R_2)}{\|c(R_2)\|_2} \Big\|_2 \le
        \text{rtol},

    with two trivial rewards (:math:`c(R) = 0`, every policy equally good) equivalent
    to each other and to nothing else. The tolerance is ``rtol`` plus what round-off can
    account for: with :math:`\epsilon_i` the round-off bound of the entries of
    :math:`c(R_i)` (:class:`starc.canonical.Canonical`), a perturbation of at most
    :math:`\|\mathbf 1\|_2\epsilon_i` moves :math:`c(R_i)/\|c(R_i)\|_2` by at most
    :math:`2\|\mathbf 1\|_2\epsilon_i / \|c(R_i)\|_2`; both are added (large shaping at a
    discount close to 1 makes :math:`\epsilon_i` large against a small advantage).
    States unreachable from :math:`\mu_0` are compared
    too (see :mod:`starc.shaping`), so rewards that differ only there are reported as
    not equivalent.

    Parameters
    ----------
    r1, r2 : array_like of shape (S, A, S), (S, A) or (S,)
    mdp : TabularMDP
        Dense or sparse (``mdp.is_sparse``; closed forms, no ``(S, A, S)`` array: see
        :doc:`/theory/sparse_distances`).
    rtol : float, default 1e-8
        Tolerance on the distance between the normalized canonical rewards, on top of
        their round-off.

    Returns
    -------
    bool

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 2 and Prop. 2; Skalse et al. 2023, Thm. 3.16.

    Examples
    --------
    >>> from starc import random_mdp, random_reward, s_prime_redistribution, is_equivalent
    >>> mdp = random_mdp(8, 2, seed=0)
    >>> R = random_reward(mdp, seed=1)
    >>> is_equivalent(R, 2 * s_prime_redistribution(R, mdp, seed=2), mdp)
    True
    >>> is_equivalent(R, -R, mdp)
    False
    """
    mdp = as_mdp(mdp)
    rtol = check_real(rtol, "rtol", low=0.0)
    if getattr(mdp, "is_sparse", False):  # THEORY §11
        from . import _sparse_distances
        return _sparse_distances.is_equivalent(r1, r2, mdp, rtol=rtol)
    a = broadcast_reward(r1, mdp, name="r1")
    b = broadcast_reward(r2, mdp, name="r2")
    if a.ndim != 3 or b.ndim != 3:
        raise ValidationError("is_equivalent compares two single rewards; got batch shapes "
                              f"{a.shape[:-3]} and {b.shape[:-3]}")
    method, pi, ds, da, _ = resolve_options(mdp, "val", "uniform", None, None, None)
    canon = canonical_parts(np.stack([a, b]), mdp, method, pi=pi, state_dist=ds,
                            action_dist=da, norm=None, rescaled=True)  # scale-free test
    c = canon.value
    n = canon.norm("weighted_l2", mdp)
    ones = ones_norm("weighted_l2", mdp.shape)
    trivial = canon.is_zero("weighted_l2", mdp, n)
    if trivial[0] or trivial[1]:
        return bool(trivial[0] and trivial[1])
    d = Factored(c.u[0] / n[0] - c.u[1] / n[1], c.profile).norm("weighted_l2", mdp)
    return bool(d <= rtol + 2.0 * ones * float((canon.noise / n).sum()))

