r"""Public wrappers of the :mod:`starc.batch` kernels: validation, layout, dispatch.

Every function takes a batch of ``B`` MDPs (a :class:`MDPBatch`, a sequence of
:class:`~starc.TabularMDP` of one size, or a single MDP for ``B = 1``) and rewards with
two leading axes, ``(B, K, S, A, S)``: ``K`` rewards on each MDP. It returns the same
numbers as the public numpy functions of :mod:`starc` applied MDP by MDP and reward by
reward (to round-off, tested at ``atol=1e-10``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .._validation import (as_float_array, check_choice, check_gamma, check_policy,
                           check_positive_int, check_seed, check_stochastic)
from ..canonical import CANONICALIZATIONS
from ..distances import VARIANTS
from ..exceptions import ConvergenceError, SolverError, ValidationError
from ..mdp import TabularMDP
from .. import _rules
from . import _kernels as K

__all__ = [
    "MDPBatch",
    "CLOSED_FORM_VARIANTS",
    "LP_VARIANTS",
    "MINIMAL_L2_VARIANTS",
    "BATCH_METHODS",
    "expected_rewards",
    "policy_evaluation",
    "canonicalize",
    "norm",
    "variant_distances",
    "optimal_policies",
    "value_ranges",
    "regrets",
    "authors_horizon",
    "mc_policy_returns",
    "mc_regrets",
    "LP_SOLVERS",
    "REGRET_KINDS",
    "compare_groups",
]

#: Registry variants whose canonicalization has a closed form (every one but
#: MinimalPotential-L1): computed by the numba kernels.
CLOSED_FORM_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if not v.needs_lp)
#: Registry variants that need a linear program per reward (MinimalPotential-L1).
LP_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if v.needs_lp)

#: Extra variants beyond the paper's registry: the minimal canonicalization for the
#: unweighted L2 norm (STARC Def. 4; ``canonicalization="minimal_l2"``), a
#: canonicalization function in the sense of STARC Def. 1, named
#: ``"MinimalL2-{normalization}-{metric}"``.
MINIMAL_L2_VARIANTS: tuple[str, ...] = tuple(
    f"MinimalL2-{nn}-{mn}" for nn in (*_rules.PAPER_NORMS, _rules.PAPER_NO_NORMALIZATION)
    for mn in _rules.PAPER_NORMS)

#: Canonicalizations accepted by :func:`canonicalize`: those of
#: :data:`starc.canonical.CANONICALIZATIONS` that have a closed form or a linear program
#: per reward here. ``"minimal"`` (the minimal canonicalization for any norm) is left out:
#: it is a convex program per reward, solved by cvxpy in :func:`starc.canonicalize`, and
#: its :math:`L_2` case is ``"minimal_l2"``. ``"minimal_potential"`` takes the :math:`L_2`
#: (closed form) and :math:`L_1` (one LP per reward) norms only.
BATCH_METHODS = tuple(m for m in CANONICALIZATIONS if m != "minimal")

_FAMILY = {name: i for i, name in enumerate(_rules.FAMILIES)}
_LP_FAMILY = _rules.F_LP  # minimal_potential with the L1 norm (linear programs)
_NORM_INDEX = {name: i for i, name in enumerate(_rules.NORMS)}
_NORM_ALIASES = _rules.PAPER_NORMS


class _Spec(NamedTuple):
    name: str
    family: int
    normalization: int  # a norm code of starc._rules, or NORM_NONE
    metric: int


def _resolve(name) -> _Spec:
    if isinstance(name, str) and name in VARIANTS:
        v = VARIANTS[name]
        fam = _LP_FAMILY if v.needs_lp else _FAMILY[v.canonicalization]
        j = _rules.NORM_NONE if v.normalization is None else _NORM_INDEX[v.normalization]
        return _Spec(name, fam, j, _NORM_INDEX[v.metric])
    if isinstance(name, str) and name in MINIMAL_L2_VARIANTS:
        _, nn, mn = name.split("-")
        j = (_rules.NORM_NONE if nn == _rules.PAPER_NO_NORMALIZATION
             else _NORM_INDEX[_NORM_ALIASES[nn]])
        return _Spec(name, _FAMILY["minimal_l2"], j, _NORM_INDEX[_NORM_ALIASES[mn]])
    raise ValidationError(
        f"unknown variant {name!r} in variants; use a name of starc.VARIANTS (e.g. "
        "'VAL-2-2', 'EPIC-weighted_1-inf', 'MinimalPotential-1-1') or of "
        "starc.batch.MINIMAL_L2_VARIANTS (e.g. 'MinimalL2-2-2')")


def resolve_variants(variants) -> list[_Spec]:
    """Validate a list of variant names (``None``: :data:`CLOSED_FORM_VARIANTS`)."""
    if variants is None:
        variants = CLOSED_FORM_VARIANTS
    elif isinstance(variants, str):
        variants = (variants,)
    try:
        names = list(variants)
    except TypeError:
        raise ValidationError(f"variants must be a sequence of variant names, got "
                              f"{type(variants).__name__}") from None
    if not names:
        raise ValidationError("variants must name at least one variant")
    if len(set(names)) != len(names):
        raise ValidationError("variants contains duplicate names")
    return [_resolve(n) for n in names]


# ----------------------------------------------------------------------------- MDP batches


class MDPBatch:
    r"""``B`` tabular MDPs with the same numbers of states and actions, stacked.

    Parameters
    ----------
    transition : array_like of shape (B, S, A, S)
        ``transition[b, s, a, s'] = tau_b(s' | s, a)``; rows sum to 1.
    gamma : float or array_like of shape (B,)
        Discount factors in ``[0, 1)``.
    initial : array_like of shape (B, S) or (S,), optional
        Initial-state distributions; uniform when omitted.

    Attributes
    ----------
    transition : ndarray of shape (B, S, A, S)
    gamma : ndarray of shape (B,)
    initial : ndarray of shape (B, S)
    n_mdps, n_states, n_actions : int

    Notes
    -----
    ``batch[b]`` is the :class:`~starc.TabularMDP` number ``b``; ``len(batch) == B``.
    Arrays are read-only copies.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 2 (the MDP tuple) and Sec. 4.1 (a sweep
       over many random MDPs).

    Examples
    --------
    >>> from starc import random_mdp
    >>> from starc.batch import MDPBatch
    >>> batch = MDPBatch.from_mdps([random_mdp(4, 2, seed=i) for i in range(3)])
    >>> len(batch), batch.n_states, batch.n_actions, batch.gamma
    (3, 4, 2, array([0.95, 0.95, 0.95]))
    """

    __slots__ = ("transition", "gamma", "initial")

    def __init__(self, transition, gamma, initial=None):
        t = as_float_array(transition, "transition", ndim=4, copy=True)
        b, n, m, n2 = t.shape
        if b == 0 or n == 0 or m == 0:
            raise ValidationError(f"transition must hold at least one MDP with one state and "
                                  f"one action, got shape {t.shape}")
        if n2 != n:
            raise ValidationError(f"transition must have shape (B, S, A, S), got {t.shape}")
        check_stochastic(t, "transition")
        if isinstance(gamma, (numbers.Real, np.ndarray)) and np.ndim(gamma) == 0:
            gam = np.full(b, check_gamma(gamma))
        else:
            gam = as_float_array(gamma, "gamma", ndim=1, copy=True)
            if gam.shape != (b,):
                raise ValidationError(f"gamma must be a float or have shape ({b},), got "
                                      f"{gam.shape}")
            for x in gam:
                check_gamma(float(x))
        if initial is None:
            mu = np.full((b, n), 1.0 / n)
        else:
            mu = as_float_array(initial, "initial", copy=True)
            if mu.shape == (n,):
                mu = np.repeat(mu[None], b, axis=0)
            if mu.shape != (b, n):
                raise ValidationError(f"initial must have shape ({b}, {n}) or ({n},), got "
                                      f"{mu.shape}")
            check_stochastic(mu, "initial")
        for arr in (t, gam, mu):
            arr.flags.writeable = False
        object.__setattr__(self, "transition", t)
        object.__setattr__(self, "gamma", gam)
        object.__setattr__(self, "initial", mu)

    def __setattr__(self, key, value):
        raise AttributeError("MDPBatch is immutable")

    @classmethod
    def from_mdps(cls, mdps) -> "MDPBatch":
        """Stack a non-empty sequence of :class:`~starc.TabularMDP` of one size.

        Parameters
        ----------
        mdps : sequence of TabularMDP

        Returns
        -------
        MDPBatch

        Examples
        --------
        >>> from starc import chain
        >>> from starc.batch import MDPBatch
        >>> MDPBatch.from_mdps([chain(5).mdp, chain(5, slip=0.1).mdp]).n_mdps
        2
        """
        if isinstance(mdps, TabularMDP):
            mdps = [mdps]
        try:
            items = list(mdps)
        except TypeError:
            raise ValidationError(f"mdps must be a sequence of starc.TabularMDP, got "
                                  f"{type(mdps).__name__}") from None
        if not items:
            raise ValidationError("mdps must hold at least one MDP")
        for i, mdp in enumerate(items):
            if not isinstance(mdp, TabularMDP):
                raise ValidationError(f"mdps[{i}] must be a starc.TabularMDP, got "
                                      f"{type(mdp).__name__}")
            if mdp.is_sparse:
                raise ValidationError(f"mdps[{i}] is a sparse MDP; starc.batch stacks dense "
                                      "(B, S, A, S) transitions: use starc.solve on each "
                                      "sparse MDP, or mdp.to_dense() for a small one")
        shape = items[0].shape
        for i, mdp in enumerate(items):
            if mdp.shape != shape:
                raise ValidationError(f"mdps must all have the shape {shape}; mdps[{i}] has "
                                      f"{mdp.shape}")
        return cls(np.stack([m.transition for m in items]), np.array([m.gamma for m in items]),
                   np.stack([m.initial for m in items]))

    @property
    def n_mdps(self) -> int:
        """Number of MDPs ``B``."""
        return self.transition.shape[0]

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return self.transition.shape[1]

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return self.transition.shape[2]

    def __len__(self) -> int:
        return self.n_mdps

    def __getitem__(self, i: int) -> TabularMDP:
        return TabularMDP(self.transition[i], float(self.gamma[i]), self.initial[i])

    def __repr__(self) -> str:
        return (f"MDPBatch(n_mdps={self.n_mdps}, n_states={self.n_states}, "
                f"n_actions={self.n_actions})")

    def __reduce__(self):
        return (MDPBatch, (np.array(self.transition), np.array(self.gamma),
                           np.array(self.initial)))


def as_batch(mdps, name: str = "mdps") -> MDPBatch:
    """An :class:`MDPBatch` from a batch, a sequence of MDPs or one MDP."""
    if isinstance(mdps, MDPBatch):
        return mdps
    if isinstance(mdps, TabularMDP) and mdps.is_sparse or (
            isinstance(mdps, Sequence) and any(isinstance(m, TabularMDP) and m.is_sparse
                                               for m in mdps)):
        raise ValidationError(
            f"{name}: starc.batch stacks dense (B, S, A, S) transitions and does not take "
            "sparse MDPs; use starc.solve (policy_evaluation, optimal_policy, ...) on each "
            "sparse MDP, or mdp.to_dense() for a small one")
    if isinstance(mdps, TabularMDP):
        return MDPBatch.from_mdps([mdps])
    if isinstance(mdps, Sequence) and not isinstance(mdps, (str, bytes)):
        return MDPBatch.from_mdps(mdps)
    raise ValidationError(f"{name} must be a starc.batch.MDPBatch, a sequence of "
                          f"starc.TabularMDP or one TabularMDP, got {type(mdps).__name__}")


def _writable(a: np.ndarray, dtype=np.float64) -> np.ndarray:
    """C-contiguous, writeable, native ``dtype`` (one numba signature per kernel)."""
    return np.require(a, dtype=dtype, requirements=["C", "W", "A"])


def check_rewards(rewards, batch: MDPBatch, name: str = "rewards") -> np.ndarray:
    """Validate a ``(B, K, S, A, S)`` reward stack against ``batch``."""
    r = as_float_array(rewards, name)
    n, m = batch.n_states, batch.n_actions
    if r.ndim != 5 or r.shape[0] != batch.n_mdps or r.shape[2:] != (n, m, n):
        raise ValidationError(
            f"{name} must have shape (B, K, S, A, S) = ({batch.n_mdps}, K, {n}, {m}, {n}) "
            f"for this batch of MDPs (K rewards per MDP), got {r.shape}; add an axis with "
            f"{name}[:, None] for one reward per MDP")
    if r.shape[1] == 0:
        raise ValidationError(f"{name} must hold at least one reward per MDP (K >= 1)")
    return _writable(r)


def _policies(policy, batch: MDPBatch) -> np.ndarray:
    """``(B, S, A)`` policies from "uniform", one policy, or one policy per MDP."""
    n, m, b = batch.n_states, batch.n_actions, batch.n_mdps
    if isinstance(policy, str):
        return _writable(np.repeat(check_policy(policy, n, m)[None], b, axis=0))
    arr = np.asarray(policy)
    if arr.ndim == 3 or (arr.ndim == 2 and arr.dtype.kind in "iu" and arr.shape == (b, n)):
        if arr.shape[:2] != (b, n):
            raise ValidationError(f"policy must have shape ({b}, {n}, {m}) (one per MDP), "
                                  f"got {arr.shape}")
        return _writable(np.stack([check_policy(arr[i], n, m) for i in range(b)]))
    if arr.ndim in (1, 2):
        return _writable(np.repeat(check_policy(arr, n, m)[None], b, axis=0))
    raise ValidationError(f"policy must be 'uniform', an array of shape ({n}, {m}) or "
                          f"({b}, {n}, {m}), or int actions of shape ({n},) or ({b}, {n}); "
                          f"got shape {arr.shape}")


def _distribution(p, n: int, name: str) -> np.ndarray:
    if p is None:
        return np.full(n, 1.0 / n)
    arr = as_float_array(p, name, ndim=1)
    if arr.shape != (n,):
        raise ValidationError(f"{name} must have length {n}, got shape {arr.shape}")
    return _writable(check_stochastic(arr, name))


#: Per-MDP factorisations shared by the group kernels (internal; a named tuple of arrays).
Prepared = K.Prepared


def prepared_arrays(T: np.ndarray, gam: np.ndarray, mu: np.ndarray, pol: np.ndarray
                    ) -> Prepared:
    """A :class:`Prepared` with the inputs ``T (M, S, A, S)``, ``gam (M,)``, ``mu (M, S)``,
    ``pol (M, S, A)`` and empty arrays for :func:`_kernels.prepare_range` to fill."""
    b, n, m = T.shape[:3]
    return Prepared(T, gam, mu, pol, np.empty((b, n, n)), np.empty((b, n), dtype=np.int64),
                    np.empty((b, n, m)), np.empty((b, n, n)), np.empty((b, 2, 6, n, m)),
                    np.empty((b, m, n, n)), np.empty(b, dtype=np.bool_))


def prepare(batch: MDPBatch, policy="uniform") -> Prepared:
    """Factorise every MDP of ``batch`` once (LU of ``I - gamma P_pi``, minimal-L2 Cholesky)."""
    prep = prepared_arrays(_writable(batch.transition), _writable(batch.gamma),
                           _writable(batch.initial), _policies(policy, batch))
    status = np.zeros(batch.n_mdps, dtype=np.int64)
    K.run_parallel(K.prepare_range, batch.n_mdps, prep, status)
    if np.any(status):  # pragma: no cover - impossible for gamma < 1
        raise SolverError("a policy-evaluation matrix I - gamma P_pi is singular")
    return prep


def _raise_status(status: np.ndarray, what: str) -> None:
    bad = np.flatnonzero(status)
    if bad.size == 0:
        return
    code = int(status[bad[0]])
    if code == _rules.STATUS_BELLMAN:
        raise ConvergenceError(f"{what}: policy iteration stopped with a Bellman residual "
                               f"above 1e-10 x the reward scale (group {int(bad[0])}); the "
                               "linear solves are too ill-conditioned (gamma too close to 1?)")
    if code == _rules.STATUS_NO_CONVERGENCE:
        raise ConvergenceError(f"{what}: policy iteration did not stabilise in "
                               f"{_rules.PI_MAX_ITER} "
                               f"iterations (group {int(bad[0])})")
    raise SolverError(f"{what}: a linear solve failed (status {code}, group {int(bad[0])})")


# ----------------------------------------------------------------------------- group layout


def _pair_groups(r1: np.ndarray, r2: np.ndarray, name1: str, name2: str):
    """Arrange pairs ``(r1[b, k], r2[b, k])`` into reference groups for the kernels.

    Returns ``(R (N, K', S, A, S), mdp_of (N,), shape (B, K))`` where the pairs of
    group ``g`` are ``(R[g, 0], R[g, k])``.
    """
    b, k1 = r1.shape[:2]
    k2 = r2.shape[1]
    if k1 == 1:
        rr = np.empty((b, k2 + 1) + r1.shape[2:])
        rr[:, 0] = r1[:, 0]
        rr[:, 1:] = r2
        return rr, np.arange(b, dtype=np.int64), (b, k2)
    if k2 == 1:
        raise ValidationError(f"{name2} may have K = 1 only if {name1} does too; put the "
                              f"single reward first or repeat it")
    if k1 != k2:
        raise ValidationError(f"{name1} and {name2} must have the same K (or {name1} K = 1), "
                              f"got shapes {r1.shape} and {r2.shape}")
    rr = np.stack([r1, r2], axis=2).reshape((b * k1, 2) + r1.shape[2:])
    return rr, np.repeat(np.arange(b, dtype=np.int64), k1), (b, k1)


def group_calls(prep: Prepared, R: np.ndarray, mdp_of: np.ndarray, need: np.ndarray, *,
                do_regret: bool, ties: int = _rules.TIE_PESSIMISTIC, state_dist=None,
                action_dist=None, exponents=None):
    """The kernel calls of :func:`run_groups`, not yet made: ``(dists, regs, calls)``,
    the :class:`~starc.batch._kernels.DistanceOut` and ``RegretOut`` they fill and a
    list of ``(kernel, args)``, each to run as ``run_parallel(kernel, N, *args)``
    (:mod:`starc.batch._compile` compiles the same calls ahead)."""
    n_groups, n_k = R.shape[:2]
    ex = (np.zeros((n_groups, n_k), dtype=np.int64) if exponents is None
          else _writable(exponents, np.int64))
    n, m = R.shape[2], R.shape[3]
    grp = K.Groups(_writable(R), _writable(mdp_of, np.int64), ex)
    tols = _rules.tolerances()
    dists = K.DistanceOut(
        np.zeros((n_groups, max(n_k - 1, 0), _rules.N_FAMILIES, _rules.N_NORMALIZATIONS,
                  _rules.N_NORMS)), np.zeros(n_groups, dtype=np.int64))
    regs = K.RegretOut(np.zeros((n_groups, max(n_k - 1, 0), 2)),
                       np.zeros((n_groups, n_k, 2, n), dtype=np.int64),
                       np.zeros((n_groups, n_k), dtype=np.bool_),
                       np.zeros(n_groups, dtype=np.int64))
    calls = []
    if np.any(need):
        ds = _writable(np.full(n, 1.0 / n) if state_dist is None else state_dist)
        da = _writable(np.full(m, 1.0 / m) if action_dist is None else action_dist)
        calls.append((K.distance_groups, (prep, grp, _writable(need, np.bool_),
                                          K.Dists(ds, da), tols, dists)))
    if do_regret:
        calls.append((K.regret_groups, (prep, grp, int(ties), tols, regs)))
    return dists, regs, calls


def run_groups(prep: Prepared, R: np.ndarray, mdp_of: np.ndarray, need: np.ndarray,
               *, do_regret: bool, ties: int = _rules.TIE_PESSIMISTIC, state_dist=None,
               action_dist=None, exponents=None):
    """Run :func:`_kernels.distance_groups` (when ``need`` asks for a distance) and
    :func:`_kernels.regret_groups` (when ``do_regret``); returns ``(out_d, out_reg,
    out_act, out_triv)`` (zeros where not computed).

    ``exponents (N, K)``: ``R`` holds rewards multiplied by ``2**-exponents``
    (:func:`_rescaled_groups`); the unnormalized distances come back at each pair's larger
    scale (multiply by :func:`_pair_scale`). On a cold numba cache the kernels compile
    side by side when :func:`compare_groups` asked for it (:mod:`starc.batch._compile`).
    """
    from ._compile import finish_side_by_side

    if do_regret:
        for gamma in np.unique(prep.gam[mdp_of]):
            _rules.check_regret_gamma(float(gamma), "starc.batch regrets")
    dists, regs, calls = group_calls(prep, R, mdp_of, need, do_regret=do_regret, ties=ties,
                                     state_dist=state_dist, action_dist=action_dist,
                                     exponents=exponents)
    finish_side_by_side(calls)
    for kernel, args in calls:
        K.run_parallel(kernel, R.shape[0], *args)
    status = np.where(dists.status != _rules.STATUS_OK, dists.status, regs.status)
    undecided = np.flatnonzero(status == _rules.STATUS_UNDECIDED)
    if undecided.size:
        g = int(undecided[0])
        raise ValidationError(
            f"starc.batch regrets: gamma = {float(prep.gam[mdp_of[g]])!r} is too close to 1 "
            f"for the pairs of group {g}: float64 cannot decide whether some actions are "
            "optimal for a proxy (their gap to the best action is within the round-off of "
            "the linear solves, which grows like 1/(1 - gamma)^2, yet above 1e-9 of the "
            "reward's size), and the regret depends on it; use a smaller gamma")
    _raise_status(status, "starc.batch")
    return dists.d, regs.reg, regs.act, regs.triv


#: Solvers of the MinimalPotential-L1 linear programs.
LP_SOLVERS = ("simplex", "highs")


def lp_canonicals(prep: Prepared, R: np.ndarray, mdp_of: np.ndarray,
                  solver: str = "simplex") -> np.ndarray:
    """MinimalPotential-L1 canonicals of ``R (N, K, S, A, S)`` (one LP per reward).

    ``"simplex"``: the dual simplex of :mod:`starc.batch._lp` (about 5 ms per reward); a
    reward whose LP fails the optimality certificate falls back to
    :func:`starc.canonicalize` (the same LP's dual, solved by HiGHS). ``"highs"``:
    :func:`starc.canonicalize` for every reward (the numpy reference path, about 7 ms per
    reward at 32 states, in this process only).
    """
    from .._extremes import max_abs, rescale, scale_exponents
    from ._lp import minimal_potential_l1_kernel

    # the simplex's tolerances are absolute: solve every reward at unit scale (exact
    # powers of two), so the vertex found does not depend on the reward's scale
    exps = scale_exponents(max_abs(R, 3), always=True)
    R = _writable(rescale(R, exps))
    out = np.empty_like(R)
    status = np.ones(R.shape[0], dtype=np.int64)
    if solver == "simplex":
        K.run_parallel(minimal_potential_l1_kernel, R.shape[0], prep.gam,
                       _writable(mdp_of, np.int64), R, _rules.lp_tolerances(), out, status)
    if np.any(status):
        from ..canonical import canonicalize as np_canonicalize

        for g in np.flatnonzero(status):
            i = int(mdp_of[g])
            mdp = TabularMDP(prep.T[i], float(prep.gam[i]), prep.mu[i])
            out[g] = np_canonicalize(R[g], mdp, "minimal_potential", norm="l1")
    return np.ldexp(out, exps[..., None, None, None])  # back: |R| <= 1 here, no overflow


def _lp_noise(prep: Prepared, R: np.ndarray, mdp_of: np.ndarray, canon: np.ndarray
              ) -> np.ndarray:
    """Round-off bounds ``(N, K)`` of LP canonicals, as ``starc.canonical.canonical_parts``."""
    from ..canonical import shaping_noise
    from ..norms import SOLVER_ZERO_RTOL

    gamma = prep.gam[mdp_of][:, None]  # (N, 1) against the (N, K) rewards
    return shaping_noise(R, canon, gamma, SOLVER_ZERO_RTOL)


def _rescaled_groups(R: np.ndarray):
    """``(R * 2**-e, e)`` with per-reward exponents ``e (N, K)`` (``starc.norms``), or
    ``(R, None)`` when every reward lies in the safe window (the common case)."""
    from .._extremes import max_abs, rescale, scale_exponents

    exps = scale_exponents(max_abs(R, 3))
    if exps is None:
        return R, None
    return _writable(rescale(R, exps)), exps


def _pair_scale(exps: np.ndarray) -> np.ndarray:
    """The larger exponent ``(N, K-1)`` of each pair ``(R[g, 0], R[g, k])``."""
    return np.maximum(exps[:, :1], exps[:, 1:])


def distance_columns(specs: list[_Spec], prep: Prepared, R: np.ndarray, mdp_of: np.ndarray,
                     *, do_regret: bool = False, ties: int = 0, state_dist=None,
                     action_dist=None, lp_solver: str = "simplex"):
    """Distances ``(N, K-1, V)`` of the variants ``specs`` for the groups ``R``.

    Also returns the regrets ``(N, K-1, 2)``, the optimal / pessimal actions
    ``(N, K, 2, S)`` and the trivial-reward flags ``(N, K)``. Rewards outside the safe
    window of :data:`starc.norms.SAFE_EXPONENT` are rescaled by powers of two first
    (exact; every result here but the unnormalized distances is scale-free, and those
    are multiplied back, raising when they exceed the float64 range).
    """
    R, exps = _rescaled_groups(R)
    need = np.zeros((_rules.N_FAMILIES, _rules.N_NORMALIZATIONS), dtype=np.bool_)
    need_lp = np.zeros(_rules.N_NORMALIZATIONS, dtype=np.bool_)
    for sp in specs:
        if sp.family == _LP_FAMILY:
            need_lp[sp.normalization] = True
        else:
            need[sp.family, sp.normalization] = True
    out_d, out_reg, out_act, out_triv = run_groups(prep, R, mdp_of, need, do_regret=do_regret,
                                         ties=ties, state_dist=state_dist,
                                         action_dist=action_dist, exponents=exps)
    n_groups, n_k = R.shape[:2]
    cols = np.empty((n_groups, max(n_k - 1, 0), len(specs)))
    lp_table = None
    if need_lp.any():
        canon = lp_canonicals(prep, R, mdp_of, lp_solver)
        noise = _lp_noise(prep, R, mdp_of, canon)
        lp_table = np.zeros((n_groups, max(n_k - 1, 0), _rules.N_NORMALIZATIONS,
                             _rules.N_NORMS))
        K.run_parallel(K.tables_from_canonicals, n_groups, prep.T,
                       _writable(mdp_of, np.int64), canon, noise, need_lp, lp_table)
    for c, sp in enumerate(specs):
        if sp.family == _LP_FAMILY:
            cols[:, :, c] = lp_table[:, :, sp.normalization, sp.metric]
        else:
            cols[:, :, c] = out_d[:, :, sp.family, sp.normalization, sp.metric]
        if exps is not None and sp.normalization == 6:
            from .._extremes import unscale_checked

            cols[:, :, c] = unscale_checked(cols[:, :, c], _pair_scale(exps),
                                    f"the unnormalised distance of {sp.name}")
    return cols, out_reg, out_act, out_triv


# ----------------------------------------------------------------------------- public functions


def expected_rewards(rewards, mdps) -> np.ndarray:
    r"""Expected immediate rewards of a batch: :math:`\bar R_{bk}(s, a)`.

    .. math::

        \bar R_{bk}(s, a) = \sum_{s'} \tau_b(s' \mid s, a)\, R_{bk}(s, a, s').

    Parameters
    ----------
    rewards : array_like of shape (B, K, S, A, S)
        ``K`` rewards on each of the ``B`` MDPs.
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
        ``B`` MDPs with ``S`` states and ``A`` actions.

    Returns
    -------
    ndarray of shape (B, K, S, A)
        Matches :func:`starc.expected_reward` MDP by MDP.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 2.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import random_mdp, random_reward, expected_reward
    >>> from starc.batch import expected_rewards
    >>> mdps = [random_mdp(5, 2, seed=i) for i in range(2)]
    >>> R = np.stack([random_reward(m, seed=9, size=3) for m in mdps])
    >>> out = expected_rewards(R, mdps)
    >>> out.shape, bool(np.allclose(out[1], expected_reward(R[1], mdps[1]), atol=1e-12))
    ((2, 3, 5, 2), True)
    """
    batch = as_batch(mdps)
    r = check_rewards(rewards, batch)
    out = np.empty(r.shape[:4])
    K.run_parallel(K.expected_rewards_kernel, batch.n_mdps, _writable(batch.transition),
                   np.arange(batch.n_mdps), r, out)
    return out


def policy_evaluation(rewards, mdps, policy="uniform") -> np.ndarray:
    r"""Exact state values :math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi` of a batch.

    One LU factorisation (partial pivoting) per MDP, reused for its ``K`` rewards.

    Parameters
    ----------
    rewards : array_like of shape (B, K, S, A, S)
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
    policy : "uniform", array of shape (S, A) or (B, S, A), or int array (S,) or (B, S)
        The evaluated policy (one for all MDPs, or one per MDP).

    Returns
    -------
    ndarray of shape (B, K, S)
        Matches :func:`starc.policy_evaluation`.

    References
    ----------
    .. [1] Puterman 1994, Theorem 6.1.1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import random_mdp, random_reward, policy_evaluation as pe
    >>> from starc.batch import policy_evaluation
    >>> mdps = [random_mdp(6, 3, seed=i) for i in range(2)]
    >>> R = np.stack([random_reward(m, seed=1, size=4) for m in mdps])
    >>> V = policy_evaluation(R, mdps)
    >>> V.shape, bool(np.allclose(V[0], pe(R[0], mdps[0]), atol=1e-10))
    ((2, 4, 6), True)
    """
    batch = as_batch(mdps)
    r = check_rewards(rewards, batch)
    pol = _policies(policy, batch)
    r, exps = _rescaled_groups(r)  # values scale with R: computed on 2**-e R, scaled back
    out = np.empty(r.shape[:3])
    status = np.zeros(batch.n_mdps, dtype=np.int64)
    K.run_parallel(K.evaluate_kernel, batch.n_mdps, _writable(batch.transition),
                   _writable(batch.gamma), pol, np.arange(batch.n_mdps), r, out, status)
    _raise_status(np.where(status != _rules.STATUS_OK, _rules.STATUS_EVALUATION,
                           _rules.STATUS_OK), "policy_evaluation")
    return _unscale_values(out, exps, "the values")


def canonicalize(rewards, mdps, method="val", *, norm=None, policy="uniform",
                 state_dist=None, action_dist=None, lp_solver: str = "simplex") -> np.ndarray:
    r"""Canonical rewards of a batch (see :mod:`starc.canonical` for each formula).

    .. math::

        c_{\mathrm{VAL}}(R)(s,a,s') = Q^\pi_R(s,a) - V^\pi_R(s), \quad
        C_{\mathrm{EPIC}}, C_{\mathrm{DARD}}, \ldots

    Parameters
    ----------
    rewards : array_like of shape (B, K, S, A, S)
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
    method : {"none", "epic", "dard", "val", "val_potential", "minimal_l2", "minimal_potential"}
    norm : {"l2", "l1"}, optional
        The norm minimised by ``"minimal_potential"`` (default ``"l2"``, a closed form;
        ``"l1"`` solves one linear program per reward with the dual simplex of
        ``starc.batch._lp``). Other norms: use :func:`starc.canonicalize`.
    policy : "uniform" or array
        The policy of ``"val"`` and ``"val_potential"``.
    state_dist, action_dist : array_like of shape (S,) and (A,), optional
        :math:`D_S`, :math:`D_A` of ``"epic"`` and ``"dard"`` (uniform by default).
    lp_solver : {"simplex", "highs"}, default "simplex"
        For ``"minimal_potential"`` with ``"l1"``: this package's dual simplex (numba,
        parallel over rewards), or :func:`starc.canonicalize` (HiGHS, one reward at a
        time).

    Returns
    -------
    ndarray of shape (B, K, S, A, S)
        Matches :func:`starc.canonicalize`. For ``"minimal_potential"`` with ``"l1"``
        the minimiser may be non-unique (sparse rewards); then any minimiser is valid
        and the returned one may differ from HiGHS's (the norm is the same).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 1, Prop. 2, Def. 4.
    .. [2] Gleave et al. 2021 ("EPIC"), Def. 4.1. Wulfe et al. 2022 ("DARD"), Def. 1.

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.batch import canonicalize
    >>> mdps = [starc.random_mdp(5, 2, seed=i) for i in range(2)]
    >>> R = np.stack([starc.random_reward(m, seed=3, size=2) for m in mdps])
    >>> C = canonicalize(R, mdps, "dard")
    >>> bool(np.allclose(C[1], starc.canonicalize(R[1], mdps[1], "dard"), atol=1e-10))
    True
    """
    batch = as_batch(mdps)
    r = check_rewards(rewards, batch)
    method = check_choice(method, "method", BATCH_METHODS)
    if norm is not None and method != "minimal_potential":
        raise ValidationError(f"norm= is used only by 'minimal_potential', not by {method!r}")
    nrm = "l2" if norm is None else _NORM_ALIASES.get(norm, norm)
    if method == "minimal_potential":
        check_choice(nrm, "norm", ("l2", "l1"))
    check_choice(lp_solver, "lp_solver", LP_SOLVERS)
    n, m = batch.n_states, batch.n_actions
    ds = _distribution(state_dist, n, "state_dist")
    da = _distribution(action_dist, m, "action_dist")
    prep = prepare(batch, policy)
    mdp_of = np.arange(batch.n_mdps, dtype=np.int64)
    # canonicals are positively homogeneous: rewards outside the safe window are
    # canonicalized at a power-of-two scale and multiplied back (starc.canonical)
    r, exps = _rescaled_groups(r)
    if method == "minimal_potential" and nrm == "l1":
        out = lp_canonicals(prep, r, mdp_of, lp_solver)
    else:
        out = np.empty_like(r)
        status = np.zeros(batch.n_mdps, dtype=np.int64)
        K.run_parallel(K.canonical_kernel, batch.n_mdps, prep.T, prep.gam, mdp_of, prep.pol,
                       r, _FAMILY[method], ds, da, prep.w, prep.low,
                       _rules.tolerances().zero_rtol, out, status)
    if exps is None:
        return out
    from .._extremes import unscale_checked

    return unscale_checked(out, exps, f"the {method} canonical reward", axes=3)


def norm(x, mdps, ord="l2") -> np.ndarray:
    r"""Norms of a batch of reward-shaped arrays (every norm of :mod:`starc.norms`).

    .. math::

        \|x\|_p = \Big(\sum_{s,a,s'} |x(s,a,s')|^p\Big)^{1/p}, \qquad
        \|x\|_{\tau,p} = \Big(\sum \tau(s'|s,a)\,|x(s,a,s')|^p\Big)^{1/p},

    the weighted :math:`L_\infty` norm being the maximum over possible transitions.

    Parameters
    ----------
    x : array_like of shape (B, K, S, A, S)
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
        Supplies the weights of the weighted norms.
    ord : str or "all"
        A name of :data:`starc.NORMS` (or the paper's ``"1"``, ``"2"``, ``"inf"``,
        ``"weighted_1"``...), or ``"all"`` for the six norms at once.

    Returns
    -------
    ndarray of shape (B, K), or (B, K, 6) for ``"all"`` (order of :data:`starc.NORMS`)
        Matches :func:`starc.norm`.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3 and Sec. 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import random_mdp
    >>> from starc.batch import norm
    >>> x = np.ones((1, 2, 3, 2, 3))
    >>> norm(x, random_mdp(3, 2, seed=0), "l1")
    array([[18., 18.]])
    """
    batch = as_batch(mdps)
    arr = check_rewards(x, batch, "x")
    if ord != "all":
        if isinstance(ord, str):
            ord = _NORM_ALIASES.get(ord, ord)
        check_choice(ord, "ord", (*_rules.NORMS, "all"))
    arr, exps = _rescaled_groups(arr)  # sums of squares that neither over- nor underflow
    out = np.empty(arr.shape[:2] + (_rules.N_NORMS,))
    K.run_parallel(K.norms_kernel, batch.n_mdps, _writable(batch.transition),
                   np.arange(batch.n_mdps), arr, out)
    out = out if ord == "all" else out[..., _NORM_INDEX[ord]].copy()
    if exps is None:
        return out
    from .._extremes import unscale_checked

    return unscale_checked(out, exps, "a norm of x", axes=1 if ord == "all" else 0)


def variant_distances(r1, r2, mdps, variants=None, *, state_dist=None,
                      action_dist=None) -> np.ndarray:
    r"""STARC / EPIC / DARD distances of many variants for many reward pairs at once.

    .. math::

        d(R_1, R_2) = m\big(s(R_1), s(R_2)\big), \qquad s(R) = c(R) / n(c(R)),

    for every variant ``(c, n, m)`` (:data:`starc.VARIANTS` naming). Each canonical is
    computed once and all normalizations and metrics are read off it.

    Parameters
    ----------
    r1 : array_like of shape (B, K, S, A, S) or (B, 1, S, A, S)
        First rewards; with ``K = 1`` the single reward of each MDP is compared with all
        ``K`` rewards of ``r2`` (its canonical computed once).
    r2 : array_like of shape (B, K, S, A, S)
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
    variants : sequence of str, optional
        Names from :data:`starc.VARIANTS` or :data:`MINIMAL_L2_VARIANTS`; default
        :data:`CLOSED_FORM_VARIANTS` (the 216 closed-form registry variants). Variants of
        :data:`LP_VARIANTS` solve one linear program per reward.
    state_dist, action_dist : array_like, optional
        :math:`D_S`, :math:`D_A` of EPIC and DARD (uniform by default).

    Returns
    -------
    ndarray of shape (B, K, V)
        ``out[b, k, v]`` = ``starc_distance(r1[b, k], r2[b, k], mdps[b], variant=v)``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 3 and Sec. 4.1 (the variants).

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.batch import variant_distances
    >>> mdp = starc.random_mdp(6, 2, seed=0)
    >>> R = starc.random_reward(mdp, seed=1, size=(1, 3))
    >>> d = variant_distances(R[:, :1], R, mdp, ["VAL-2-2", "EPIC-2-2"])
    >>> d.shape
    (1, 3, 2)
    >>> ref = starc.starc_distance(R[0, 0], R[0, 2], mdp, variant="VAL-2-2")
    >>> bool(abs(d[0, 2, 0] - ref) < 1e-10), float(d[0, 0, 0])
    (True, 0.0)
    """
    batch = as_batch(mdps)
    a = check_rewards(r1, batch, "r1")
    b = check_rewards(r2, batch, "r2")
    specs = resolve_variants(variants)
    ds = None if state_dist is None else _distribution(state_dist, batch.n_states,
                                                        "state_dist")
    da = None if action_dist is None else _distribution(action_dist, batch.n_actions,
                                                         "action_dist")
    R, mdp_of, shape = _pair_groups(a, b, "r1", "r2")
    prep = prepare(batch)
    cols, _, _, _ = distance_columns(specs, prep, R, mdp_of, state_dist=ds, action_dist=da)
    return cols.reshape(shape + (len(specs),))


def optimal_policies(rewards, mdps) -> tuple[np.ndarray, np.ndarray]:
    r"""Optimal deterministic policies and values of a batch, by exact policy iteration.

    Howard's policy iteration (as :func:`starc.optimal_policy`), each policy evaluated
    by an LU solve, accepted only when the Bellman residual
    :math:`\max_s |\max_a Q(s,a) - V(s)|` is at most ``1e-10`` times
    :math:`\max|\bar R|/(1-\gamma)`.

    Parameters
    ----------
    rewards : array_like of shape (B, K, S, A, S)
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP

    Returns
    -------
    actions : ndarray of int64, shape (B, K, S)
        Same tie-breaking as :func:`starc.optimal_policy`.
    values : ndarray of shape (B, K, S)
        :math:`V^*`, matching :func:`starc.optimal_values`.

    Raises
    ------
    ConvergenceError
        When the Bellman residual check fails.

    References
    ----------
    .. [1] Howard 1960; Puterman 1994, Sec. 6.4.

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.batch import optimal_policies
    >>> mdp, reward = starc.chain(5, gamma=0.9)
    >>> actions, values = optimal_policies(reward[None, None], mdp)
    >>> actions[0, 0]
    array([1, 1, 1, 1, 1])
    """
    batch = as_batch(mdps)
    r = check_rewards(rewards, batch)
    return _optimal(batch, r, 1.0)


def _optimal(batch: MDPBatch, r: np.ndarray, sign: float):
    r, exps = _rescaled_groups(r)  # optimal actions are scale-free; values scale back
    actions = np.empty(r.shape[:3], dtype=np.int64)
    values = np.empty(r.shape[:3])
    status = np.zeros(batch.n_mdps, dtype=np.int64)
    K.run_parallel(K.optimal_kernel, batch.n_mdps, _writable(batch.transition),
                   _writable(batch.gamma), np.arange(batch.n_mdps), r, float(sign),
                   _rules.tolerances(), actions, values, status)
    _raise_status(status, "optimal_policies")
    return actions, _unscale_values(values, exps, "the optimal values")


def _unscale_values(values: np.ndarray, exps, what: str) -> np.ndarray:
    """Values ``(B, K, S)`` computed on ``2**-exps R`` back in the units of ``R``; a
    ValidationError when they exceed float64 (values reach ``max|R| / (1 - gamma)``)."""
    from .._extremes import finite_result

    if exps is not None:
        with np.errstate(over="ignore"):
            values = np.ldexp(values, exps[..., None])
    return finite_result(values, what, "rescale the rewards (values reach max|R| / (1 - "
                                       "gamma))")


def value_ranges(rewards, mdps) -> tuple[np.ndarray, np.ndarray]:
    r"""The smallest and largest return of any policy, :math:`(\min_\pi J, \max_\pi J)`.

    Both are attained by deterministic policies, found by exact policy iteration for
    :math:`R` and :math:`-R` (as :func:`starc.policy_value_range`).

    Parameters
    ----------
    rewards : array_like of shape (B, K, S, A, S)
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP

    Returns
    -------
    low, high : ndarray of shape (B, K)

    References
    ----------
    .. [1] Puterman 1994, Theorem 6.2.7; Skalse et al. 2024 ("STARC"), Def. 5.

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.batch import value_ranges
    >>> mdp = starc.random_mdp(6, 2, seed=0)
    >>> R = starc.random_reward(mdp, seed=1, size=(1, 2))
    >>> lo, hi = value_ranges(R, mdp)
    >>> ref = starc.policy_value_range(R[0, 1], mdp)
    >>> bool(abs(lo[0, 1] - ref[0]) < 1e-10 and abs(hi[0, 1] - ref[1]) < 1e-10)
    True
    """
    batch = as_batch(mdps)
    r = check_rewards(rewards, batch)
    _, v_best = _optimal(batch, r, 1.0)
    _, v_worst = _optimal(batch, r, -1.0)
    mu = batch.initial[:, None, :]
    return 0.0 - (v_worst * mu).sum(-1), (v_best * mu).sum(-1)


_TIES = {name: code for code, name in enumerate(_rules.TIES)}


def regrets(r_true, r_proxy, mdps, *, ties: str = "pessimistic") -> np.ndarray:
    r"""Normalised regrets of optimal proxy policies under the true rewards, exactly.

    .. math::

        \operatorname{Reg}(R_1, R_2) = \frac{\max_\pi J_1(\pi) - J_1(\pi^*_2)}
                                            {\max_\pi J_1(\pi) - \min_\pi J_1(\pi)}
        \in [0, 1],

    the same numbers as :func:`starc.regret` for every pair.

    Parameters
    ----------
    r_true : array_like of shape (B, K, S, A, S) or (B, 1, S, A, S)
        True rewards :math:`R_1` (``K = 1``: one true reward per MDP for all proxies).
    r_proxy : array_like of shape (B, K, S, A, S)
        Proxy rewards :math:`R_2`, each optimised exactly.
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
    ties : {"pessimistic", "optimistic", "first"}
        Which :math:`R_2`-optimal policy when several are (see :func:`starc.regret`).

    Returns
    -------
    ndarray of shape (B, K)
        In ``[0, 1]``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.batch import regrets
    >>> mdp = starc.random_mdp(6, 2, seed=0)
    >>> R = starc.random_reward(mdp, seed=1, size=(1, 3))
    >>> reg = regrets(R[:, :1], np.stack([R[:, 0], -R[:, 0], R[:, 2]], axis=1), mdp)
    >>> reg[0, :2]
    array([0., 1.])
    >>> bool(abs(reg[0, 2] - starc.regret(R[0, 0], R[0, 2], mdp)) < 1e-10)
    True
    """
    batch = as_batch(mdps)
    a = check_rewards(r_true, batch, "r_true")
    b = check_rewards(r_proxy, batch, "r_proxy")
    check_choice(ties, "ties", tuple(_TIES))
    for gamma in np.unique(batch.gamma):
        _rules.check_regret_gamma(float(gamma), "starc.batch.regrets")
    R, mdp_of, shape = _pair_groups(a, b, "r_true", "r_proxy")
    R, exps = _rescaled_groups(R)  # regrets are scale-free: 2**-e R cannot overflow
    prep = prepare(batch)
    need = np.zeros((_rules.N_FAMILIES, _rules.N_NORMALIZATIONS), dtype=np.bool_)
    _, out_reg, _, _ = run_groups(prep, R, mdp_of, need, do_regret=True, ties=_TIES[ties],
                                  exponents=exps)
    return out_reg[..., 0].reshape(shape)


# ----------------------------------------------------------------------------- Monte Carlo


def authors_horizon(gamma: float, threshold: float = 1e-5) -> int:
    r"""The STARC authors' rollout length :math:`\operatorname{round}(\log 10^{-5}/\log\gamma)`.

    Beyond it the discount :math:`\gamma^t` is below ``threshold``; 224 steps for
    :math:`\gamma = 0.95`. At least 1 (:math:`\gamma = 0` gives 1).

    Parameters
    ----------
    gamma : float
        Discount in ``[0, 1)``.
    threshold : float, default 1e-5
        The authors' ``discount_thresh``, in the open interval ``(0, 1)``.

    Returns
    -------
    int
        Can be very large as :math:`\gamma \to 1` (115 million steps at
        :math:`\gamma = 1 - 10^{-7}`); the Monte-Carlo estimators refuse horizons above
        ``starc.batch._mc.MAX_HORIZON`` (:math:`10^7`).

    Raises
    ------
    ValidationError
        ``gamma`` outside ``[0, 1)`` or ``threshold`` outside ``(0, 1)``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1; authors' ``src/distance/rollout.py``.

    Examples
    --------
    >>> from starc.batch import authors_horizon
    >>> authors_horizon(0.95), authors_horizon(0.9)
    (224, 109)
    """
    from .._validation import check_real  # (local: keeps the import block merge-friendly)

    gamma = check_gamma(gamma)
    threshold = check_real(threshold, "threshold", low=0.0, high=1.0, low_open=True,
                           high_open=True)
    if gamma == 0.0:
        return 1
    return max(1, int(round(math.log(threshold) / math.log(gamma))))


def _mc_setup(batch: MDPBatch, horizon, n_repeats, seed):
    from ._mc import alias_tables, check_work

    if horizon is None:
        hz = np.array([authors_horizon(float(g)) for g in batch.gamma], dtype=np.int64)
    else:
        hz = np.full(batch.n_mdps, check_positive_int(horizon, "horizon"), dtype=np.int64)
    n_rep = (batch.n_actions if n_repeats is None
             else check_positive_int(n_repeats, "n_repeats"))
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif isinstance(seed, np.random.Generator):
        ss = np.random.SeedSequence(int(seed.integers(2**63)))
    else:
        check_seed(seed)  # validates None / non-negative int
        ss = np.random.SeedSequence(None if seed is None else int(seed))
    n, m = batch.n_states, batch.n_actions
    check_work(hz, np.arange(batch.n_mdps), 1, n_rep, n)   # before the alias tables
    prob = np.empty((batch.n_mdps, n, m, n))
    alias = np.empty((batch.n_mdps, n, m, n), dtype=np.int64)
    alias_tables(_writable(batch.transition), prob, alias)
    return hz, n_rep, ss, prob, alias


def _stream_seeds(ss: np.random.SeedSequence, n: int) -> np.ndarray:
    """``(n, 4)`` xoshiro256** states from the children of ``ss`` (never all zero)."""
    out = np.empty((n, 4), dtype=np.uint64)
    for i, child in enumerate(ss.spawn(n)):
        st = child.generate_state(4, dtype=np.uint64)
        if not st.any():  # pragma: no cover - probability 2^-256
            st[0] = 1
        out[i] = st
    return out


def mc_policy_returns(rewards, mdps, policies, *, horizon=None, n_repeats=None,
                      seed=None) -> np.ndarray:
    r"""Monte-Carlo returns of deterministic policies, the STARC authors' estimator.

    .. math::

        \hat J(\pi) = \frac{1}{n |S|} \sum_{i=1}^{n} \sum_{s_0 \in S} |S|\mu_0(s_0)
        \sum_{t=0}^{H-1} \gamma^t R(s_t, \pi(s_t), s_{t+1}),

    one episode from every state, repeated ``n_repeats`` times, truncated at ``H``.

    Parameters
    ----------
    rewards : array_like of shape (B, K, S, A, S)
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
    policies : int array of shape (B, K, S) or (B, S)
        The action of each state (one policy per reward, or per MDP).
    horizon : int, optional
        Episode length; default :func:`authors_horizon` of each MDP's discount.
    n_repeats : int, optional
        Episodes per start state; default ``A`` (the authors' choice).
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None
        One independent stream per MDP is spawned from ``SeedSequence(seed)``.

    Returns
    -------
    ndarray of shape (B, K)
        Unbiased for :math:`J` up to the truncation bias
        :math:`O(\gamma^H \max|R| / (1-\gamma))`.

    Raises
    ------
    ValidationError
        For invalid arguments, an episode longer than :math:`10^7` steps (the authors'
        horizon for :math:`1 - \gamma < 1.15 \times 10^{-6}`) or more than
        :math:`10^{12}` simulated steps in all, refused before any work. Long estimates
        run in pieces of about :math:`2^{24}` steps (the result does not depend on them),
        so Ctrl-C interrupts them promptly.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1; authors' ``src/distance/rollout.py``.

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.batch import mc_policy_returns
    >>> mdp = starc.random_mdp(8, 2, seed=0)
    >>> R = starc.random_reward(mdp, seed=1, size=(1, 1))
    >>> pi = starc.optimal_policy(R[0, 0], mdp)
    >>> est = mc_policy_returns(R, mdp, pi[None], n_repeats=200, seed=2)[0, 0]
    >>> exact = starc.policy_return(R[0, 0], mdp, pi)
    >>> bool(abs(est - exact) < 0.05 * abs(exact) + 0.5)
    True
    """
    from ._mc import mc_returns

    batch = as_batch(mdps)
    r = check_rewards(rewards, batch)
    pol = np.asarray(policies)
    b, k, n = r.shape[0], r.shape[1], batch.n_states
    if pol.dtype.kind not in "iu":
        raise ValidationError(f"policies must be an int array of actions, got dtype "
                              f"{pol.dtype}")
    if pol.shape == (b, n):
        pol = np.repeat(pol[:, None], k, axis=1)
    if pol.shape != (b, k, n):
        raise ValidationError(f"policies must have shape ({b}, {k}, {n}) or ({b}, {n}), got "
                              f"{pol.shape}")
    if np.any(pol < 0) or np.any(pol >= batch.n_actions):
        raise ValidationError(f"policies has actions outside [0, {batch.n_actions - 1}]")
    hz, n_rep, ss, prob, alias = _mc_setup(batch, horizon, n_repeats, seed)
    return mc_returns(prob, alias, _writable(batch.gamma), _writable(batch.initial),
                      np.arange(b, dtype=np.int64), r, _writable(pol, np.int64), hz, n_rep,
                      _stream_seeds(ss, b))


def mc_regrets(r_true, r_proxy, mdps, *, horizon=None, n_repeats=None,
               seed=None) -> np.ndarray:
    r"""The STARC authors' Monte-Carlo regrets of each pair, in both directions.

    With :math:`\pi_1, \pi_x` optimal and pessimal for :math:`R_1` (``r_true``) and
    :math:`\pi_i, \pi_y` for :math:`R_i` (``r_proxy``), all by exact policy iteration,
    and every :math:`\hat J` a rollout estimate (:func:`mc_policy_returns`):

    .. math::

        \widehat{\mathrm{Reg}}_1 = \frac{\hat J_1(\pi_1) - \hat J_1(\pi_i)}
                                        {\hat J_1(\pi_1) - \hat J_1(\pi_x)}, \qquad
        \widehat{\mathrm{Reg}}_2 = \frac{\hat J_i(\pi_i) - \hat J_i(\pi_1)}
                                        {\hat J_i(\pi_i) - \hat J_i(\pi_y)}.

    :math:`\hat J_1(\pi_i)` and :math:`\hat J_i(\pi_i)` share their trajectories, the
    others are independent; a zero denominator counts as 1; estimates can be negative
    (as in the authors' data) and are heavy-tailed when a true reward is nearly trivial
    (a ratio of two noisy near-zero differences); :mod:`starc.sweep` stores them as they
    are and, as its own robustification, clipped to ``[0, 1]``. The paper correlates
    distances with :math:`(\widehat{\mathrm{Reg}}_1 + \widehat{\mathrm{Reg}}_2)/2`
    as it is (pandas Pearson over all rows, nothing filtered: the authors'
    ``src/visualize.ipynb``).

    Parameters
    ----------
    r_true : array_like of shape (B, K, S, A, S) or (B, 1, S, A, S)
    r_proxy : array_like of shape (B, K, S, A, S)
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
    horizon, n_repeats, seed
        As in :func:`mc_policy_returns`.

    Returns
    -------
    ndarray of shape (B, K, 2)
        ``[..., 0]`` regret under ``r_true``, ``[..., 1]`` under ``r_proxy``.

    Raises
    ------
    ValidationError
        As :func:`mc_policy_returns` (invalid arguments, absurd horizons or work).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1; authors'
       ``src/experiments/interpolated.py``.

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.batch import mc_regrets
    >>> mdp = starc.random_mdp(8, 2, seed=0)
    >>> R = starc.random_reward(mdp, seed=1, size=(1, 2))
    >>> est = mc_regrets(R[:, :1], R, mdp, seed=3)
    >>> est.shape
    (1, 2, 2)

    Comparing a reward with itself, the exact regret is 0 but the estimates are noise:

    >>> bool(np.all(est[0, 0] != 0.0) and np.all(np.abs(est[0, 0]) < 0.1))
    True
    """
    from ._mc import mc_regrets as run_mc_regrets

    batch = as_batch(mdps)
    a = check_rewards(r_true, batch, "r_true")
    b = check_rewards(r_proxy, batch, "r_proxy")
    R, mdp_of, shape = _pair_groups(a, b, "r_true", "r_proxy")
    hz, n_rep, ss, prob, alias = _mc_setup(batch, horizon, n_repeats, seed)
    prep = prepare(batch)
    need = np.zeros((_rules.N_FAMILIES, _rules.N_NORMALIZATIONS), dtype=np.bool_)
    # only the optimal / pessimal actions are used: ties="first" skips the tie masks'
    # doubt check (a refusal about exact regrets this function does not report)
    # each estimate is a ratio of returns of one reward, unchanged by rescaling the reward
    # by a power of two: huge or tiny rewards run at unit scale (finite rollouts)
    R, _ = _rescaled_groups(R)
    _, _, act, _ = run_groups(prep, R, mdp_of, need, do_regret=True, ties=_rules.TIE_FIRST)
    out = run_mc_regrets(prob, alias, prep.gam, prep.mu, mdp_of, R, act, hz, n_rep,
                         _stream_seeds(ss, R.shape[0]))
    return out.reshape(shape + (2,))


# ----------------------------------------------------------------------------- reward groups

#: Regret kinds of :func:`compare_groups`: ``"exact"``, the optimal-policy regret of
#: :func:`regrets` (both directions), and ``"mc"``, the STARC authors' Monte-Carlo
#: estimate of it (:func:`mc_regrets`).
REGRET_KINDS = ("exact", "mc")


def _group_seeds(seed, n_mdps: int, horizon, n_repeats, batch: MDPBatch):
    """The Monte-Carlo setup of :func:`compare_groups` and one ``SeedSequence`` per MDP."""
    per_mdp = (isinstance(seed, Sequence) and not isinstance(seed, (str, bytes))) \
        or (isinstance(seed, np.ndarray) and seed.ndim == 1)
    if per_mdp:
        seqs = list(seed)
        if len(seqs) != n_mdps or not all(isinstance(s, np.random.SeedSequence)
                                          for s in seqs):
            raise ValidationError(
                f"seed must be an int, None, a numpy Generator or SeedSequence, or a "
                f"sequence of {n_mdps} numpy.random.SeedSequence (one per MDP); got a "
                f"sequence of {len(seqs)} {sorted({type(s).__name__ for s in seqs})}")
        hz, n_rep, _, prob, alias = _mc_setup(batch, horizon, n_repeats, seqs[0])
    else:
        hz, n_rep, ss, prob, alias = _mc_setup(batch, horizon, n_repeats, seed)
        seqs = ss.spawn(n_mdps)
    return hz, n_rep, prob, alias, seqs


def compare_groups(rewards, mdps, variants=None, *, regrets=("exact",),
                   ties: str = "pessimistic", lp_solver: str = "simplex", horizon=None,
                   n_repeats=None, seed=None) -> dict[str, np.ndarray]:
    r"""Distances and regrets of reward groups: each group's first reward against the rest.

    On MDP :math:`b`, group :math:`p` holds rewards :math:`R_0, R_1, \dots, R_{K-1}`
    (``rewards[b, p, k]``); its first reward :math:`R_0` is compared with every other
    :math:`R_k`, under every variant :math:`v = (c, n, m)` of ``variants``,

    .. math::

        d_v(R_0, R_k) = m\big(c(R_0)/n(c(R_0)),\; c(R_k)/n(c(R_k))\big),

    (:func:`starc.starc_distance`; each canonical computed once per reward) and, in both
    directions, by the normalised regret of an optimal policy of one reward under the other,

    .. math::

        \operatorname{Reg}(R_0, R_k) = \frac{\max_\pi J_0(\pi) - J_0(\pi^*_k)}
                                            {\max_\pi J_0(\pi) - \min_\pi J_0(\pi)},

    exactly (:func:`starc.regret`) or by the authors' Monte-Carlo estimate
    (:func:`mc_regrets`). This is the engine of :mod:`starc.sweep`: one call per chunk of
    MDPs, every MDP's numbers computed with the same floating-point operations whatever
    else is in the call.

    Parameters
    ----------
    rewards : array_like of shape (B, P, K, S, A, S)
        ``P`` groups of ``K >= 2`` rewards on each of the ``B`` MDPs; ``rewards[b, p, 0]``
        is the reference of group ``p``.
    mdps : MDPBatch, sequence of TabularMDP, or TabularMDP
        The ``B`` MDPs.
    variants : sequence of str, optional
        Names from :data:`starc.VARIANTS` or :data:`MINIMAL_L2_VARIANTS`; default
        :data:`CLOSED_FORM_VARIANTS`. Variants of :data:`LP_VARIANTS` solve one linear
        program per reward.
    regrets : sequence of {"exact", "mc"}, default ("exact",)
        Which regrets (:data:`REGRET_KINDS`); ``()`` for distances only.
    ties : {"pessimistic", "optimistic", "first"}, default "pessimistic"
        Which optimal policy of the proxy the exact regret uses when several are
        (as :func:`starc.regret`).
    lp_solver : {"simplex", "highs"}, default "simplex"
        Solver of the MinimalPotential-L1 linear programs (:data:`LP_SOLVERS`; see
        :func:`canonicalize`).
    horizon, n_repeats : int, optional
        Rollout length and episodes per start state of the Monte-Carlo estimate
        (default :func:`authors_horizon` of each MDP's discount, and ``A``).
    seed : int, numpy.random.Generator, numpy.random.SeedSequence, None, or sequence of SeedSequence
        Randomness of the Monte-Carlo estimate. MDP ``b`` has its own ``SeedSequence``:
        the ``b``-th element of a sequence of ``B`` of them, or else the ``b``-th child of
        ``SeedSequence(seed)``; group ``p`` of MDP ``b`` rolls out on the ``p``-th child
        of that (children are spawned as by ``SeedSequence.spawn``: a SeedSequence
        passed again continues with new ones). Passing per-MDP sequences makes an MDP's
        estimates independent of which other MDPs share the call.

    Returns
    -------
    dict of str to ndarray
        Row ``[b, p, k - 1]`` of every column is the pair :math:`(R_0, R_k)` of group
        ``p`` on MDP ``b``:

        ``"distances"`` : float array of shape (B, P, K - 1, V)
            The distances, in the order of ``variants``.
        ``"regret1"``, ``"regret2"`` : float arrays of shape (B, P, K - 1), for ``"exact"``
            :math:`\operatorname{Reg}(R_0, R_k)` (true :math:`R_0`) and
            :math:`\operatorname{Reg}(R_k, R_0)`, in ``[0, 1]``.
        ``"trivial1"``, ``"trivial2"`` : bool arrays of shape (B, P, K - 1), with any regret
            Whether the true reward of each direction (:math:`R_0`, :math:`R_k`) is
            trivial: every policy equally good, so its regret is 0 by convention.
        ``"mc_regret_raw1"``, ``"mc_regret_raw2"`` : float arrays of shape (B, P, K - 1), for ``"mc"``
            The authors' estimates of the same two regrets, as they are (may leave
            ``[0, 1]``; see :func:`mc_regrets`).

    Raises
    ------
    ValidationError
        For rewards of the wrong shape or with non-finite entries, ``K < 2``, unknown or
        duplicate variants, unknown regret kinds, ties or solvers, bad Monte-Carlo
        arguments or seeds (as :func:`mc_regrets`), or a discount too close to 1 for
        exact regrets (as :func:`regrets`).
    ConvergenceError, SolverError
        As :func:`regrets`.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 (the groups are the paper's base pairs
       and their interpolants) and Def. 3 (the distances).

    Examples
    --------
    >>> import numpy as np
    >>> import starc
    >>> from starc.batch import compare_groups
    >>> mdps = [starc.random_mdp(6, 2, seed=i) for i in range(2)]
    >>> R = np.stack([starc.random_reward(m, seed=4, size=(3, 4)) for m in mdps])
    >>> out = compare_groups(R, mdps, ["VAL-2-2", "EPIC-2-2"], regrets=("exact", "mc"),
    ...                      seed=0)
    >>> out["distances"].shape, out["regret1"].shape, sorted(out)[:3]
    ((2, 3, 3, 2), (2, 3, 3), ['distances', 'mc_regret_raw1', 'mc_regret_raw2'])
    >>> d = starc.starc_distance(R[1, 2, 0], R[1, 2, 3], mdps[1], variant="EPIC-2-2")
    >>> bool(abs(out["distances"][1, 2, 2, 1] - d) < 1e-10)
    True
    >>> bool(abs(out["regret2"][1, 2, 2] - starc.regret(R[1, 2, 3], R[1, 2, 0], mdps[1]))
    ...      < 1e-10)
    True
    """
    from ..regret import TIES

    batch = as_batch(mdps)
    r = as_float_array(rewards, "rewards")
    b, n, m = batch.n_mdps, batch.n_states, batch.n_actions
    if r.ndim != 6 or r.shape[0] != b or r.shape[3:] != (n, m, n):
        raise ValidationError(
            f"rewards must have shape (B, P, K, S, A, S) = ({b}, P, K, {n}, {m}, {n}) for "
            f"this batch of MDPs (P groups of K rewards per MDP), got {r.shape}")
    p, k = r.shape[1:3]
    if p == 0 or k < 2:
        raise ValidationError(f"rewards must hold at least one group (P >= 1) of at least two "
                              f"rewards (K >= 2) per MDP, got P = {p}, K = {k}")
    specs = resolve_variants(variants)
    kinds = (regrets,) if isinstance(regrets, str) else regrets
    try:
        kinds = tuple(kinds)
    except TypeError:
        raise ValidationError(f"regrets must be a sequence of {REGRET_KINDS}, got "
                              f"{type(regrets).__name__}") from None
    for kind in kinds:
        check_choice(kind, "regrets", REGRET_KINDS)
    check_choice(ties, "ties", TIES)
    check_choice(lp_solver, "lp_solver", LP_SOLVERS)
    mc = None
    if "mc" in kinds:
        mc = _group_seeds(seed, b, horizon, n_repeats, batch)
    R = _writable(r.reshape((b * p, k, n, m, n)))
    mdp_of = np.repeat(np.arange(b, dtype=np.int64), p)
    if kinds and any(sp.family != _LP_FAMILY for sp in specs):
        from ._compile import start_side_by_side

        start_side_by_side([K.distance_groups, K.regret_groups])
    prep = prepare(batch)
    do_regret = bool(kinds)
    cols, reg, act, triv = distance_columns(specs, prep, R, mdp_of, do_regret=do_regret,
                                            ties=_TIES[ties], lp_solver=lp_solver)
    shape = (b, p, k - 1)
    out = {"distances": cols.reshape(shape + (len(specs),))}
    if "exact" in kinds:
        out["regret1"] = reg[..., 0].reshape(shape)
        out["regret2"] = reg[..., 1].reshape(shape)
    if do_regret:
        out["trivial1"] = np.repeat(triv[:, :1], k - 1, axis=1).reshape(shape)
        out["trivial2"] = triv[:, 1:].reshape(shape)
    if mc is not None:
        from ._mc import mc_regrets as run_mc_regrets

        hz, n_rep, prob, alias, seqs = mc
        streams = np.concatenate([_stream_seeds(s, p) for s in seqs])
        # each estimate is a ratio of returns of one reward: rescaling a reward by a power
        # of two changes no bit of it, and keeps rollouts of huge rewards finite
        scaled, _ = _rescaled_groups(R)
        est = run_mc_regrets(prob, alias, prep.gam, prep.mu, mdp_of, scaled, act, hz, n_rep,
                             streams)
        out["mc_regret_raw1"] = est[..., 0].reshape(shape)
        out["mc_regret_raw2"] = est[..., 1].reshape(shape)
    return out
