r"""Declarative distance-versus-regret sweeps over many random MDPs and reward pairs.

A :class:`Sweep` says *what* to compute — an MDP generator, a reward generator, a pair
protocol, the distance variants, which regrets, a seed — and :meth:`Sweep.run` computes
it with the batched kernels of :mod:`starc.batch`, optionally on any
:class:`concurrent.futures.Executor` (processes, threads, or a Dask cluster through
``distributed.Client(...).get_executor()``). The result is a :class:`SweepResult`:
columnar numpy arrays, one row per compared pair, with Pearson or Spearman correlations
of every distance with regret, CSV / ``.npz`` export and a pandas view.

The STARC experiment
--------------------
The paper's tabular experiment [1]_ (Sec. 4.1) draws random MDPs (32 states, 4 actions,
:math:`\gamma = 0.95`), and for each base pair of independent random rewards
:math:`R_1, R_2` compares :math:`R_1` with the 16 interpolants

.. math::

    R_i = R_1 + \tfrac{i}{16}(R_2 - R_1), \qquad i = 1, \dots, 16,

under 222 distance variants (canonicalization x normalization x metric) and the
normalised optimal-policy regret averaged over both directions,

.. math::

    \operatorname{regret} = \tfrac12\big(\operatorname{Reg}(R_1, R_i)
                            + \operatorname{Reg}(R_i, R_1)\big),

pooled over 49,152 rows (3,072 base pairs x 16). Figure 1 plots the Pearson correlation
of each variant with that regret. Preset ``"starc-paper"`` is this protocol (192 MDPs x
16 base pairs x 16 interpolants) with *exact* regret; the authors estimated returns by
Monte Carlo, available here as ``regrets=("exact", "mc")`` (see
:func:`starc.batch.mc_regrets`), which adds noise and lowers every correlation. Their
ratio of noisy return differences is heavy-tailed when a reward is nearly trivial (every
policy almost equally good); the sweep stores it verbatim (``mc_regret_raw``, the
authors' estimator, which their analysis correlated as it is) and clipped to the
regret's range ``[0, 1]`` (``mc_regret``, a robustification of starc's own: on
independent draws of the protocol only the clipped estimate comes near the paper's
published correlations; see the Figure 1 tutorial).

Pair protocols
--------------
``"interpolate"``
    :math:`R_i = R_1 + (i/n)(R_2 - R_1)`, ``i = 1..n_steps`` (the paper).
``"shaped"``
    Equivalent pairs: :math:`R_i = k_i (R_1 + \gamma\Phi_i(s') - \Phi_i(s))` with
    :math:`\Phi_i = \mathcal N(0, 1)^S \cdot 10\,U(0,1)` and :math:`k_i = e^{Z}`,
    :math:`Z \sim \mathcal N(0, 1)`. Every normalised variant whose canonicalization
    removes potential shaping (EPIC, DARD, VAL, VALPotential, MinimalPotential, minimal
    L2) gives distance 0, and the regret is 0.
``"redistributed"``
    Equivalent pairs with :math:`S'`-redistribution as well:
    :math:`R_i = k_i (R_1 + X_i + \gamma\Phi_i(s') - \Phi_i(s))` with
    :math:`\mathbb E_{S' \sim \tau(s,a)} X_i(s, a, S') = 0` (:func:`starc.s_prime_redistribution`,
    scale 5). Only the canonicalization functions (VAL, minimal L2) give distance 0;
    EPIC, DARD and the potential-only ones do not (STARC Sec. 3). Regret is 0.

    Both hold in exact arithmetic. In float64 they hold to round-off when the rewards
    order policies clearly; the STARC reward generator also makes a few percent of
    nearly trivial rewards (value range ~1e-11 of the reward scale), for which the
    float64 inputs fix the canonical and the optimal policy only to ~1e-6 and whose
    shaped copy may be flagged ``trivial`` while the original is not (see
    :doc:`/theory/regret` and :doc:`/theory/distances` for the numbers).
``"independent"``
    :math:`R_i` independent draws of the reward generator.

Determinism
-----------
MDP ``m`` draws everything from ``numpy.random.SeedSequence(seed).spawn(n_mdps)[m]``,
and every numba kernel computes each MDP's rows with the same operations whatever else
is in its batch, so a result is **bit-identical** for any ``chunk_size``, executor or
worker count (tested).

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Sec. 4.1, Fig. 1 and
   Appendix (the variant table); github.com/lucyfarnik/starc.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Executor, as_completed
from typing import Any

import numpy as np

from ._io import atomic_write, check_writable, npz_path, save_npz
from ._validation import check_choice, check_gamma, check_positive_int
from .distances import VARIANTS
from .exceptions import MissingDependencyError, StarcError, ValidationError

__all__ = [
    "Sweep",
    "SweepResult",
    "PRESETS",
    "PROTOCOLS",
    "REGRETS",
    "FAMILIES",
    "run_sweep",
    "summary_table",
    "cli_main",
]

#: Pair protocols of :class:`Sweep`.
PROTOCOLS = ("interpolate", "shaped", "redistributed", "independent")
#: Regret estimators: exact optimal-policy regret, the authors' Monte-Carlo estimate.
REGRETS = ("exact", "mc")
#: Canonicalization families in the paper's order (Figure 1), plus the minimal L2 one.
FAMILIES = ("None", "EPIC", "DARD", "MinimalPotential", "VALPotential", "VAL", "MinimalL2")

_MDP_KINDS = ("starc", "dirichlet", "garnet")
_REWARD_KINDS = ("starc", "gaussian")


def _closed_form() -> tuple[str, ...]:
    from .batch import CLOSED_FORM_VARIANTS

    return CLOSED_FORM_VARIANTS


def _all_variant_names() -> set[str]:
    from .batch import MINIMAL_L2_VARIANTS

    return set(VARIANTS) | set(MINIMAL_L2_VARIANTS)


@dataclasses.dataclass(frozen=True)
class Sweep:
    r"""The declaration of a sweep: what to draw, what to compare, what to measure.

    Parameters
    ----------
    n_mdps : int
        Number of random MDPs ``M``.
    pairs_per_mdp : int
        Base pairs (or base rewards) per MDP ``P``.
    n_steps : int
        Rows per base pair ``n`` (16 interpolants in the paper).
    n_states, n_actions : int
        ``S`` and ``A``.
    gamma : float
        Discount in ``[0, 1)``.
    mdp_generator : {"starc", "dirichlet", "garnet"} or callable
        A kind of :func:`starc.random_mdp`, or ``f(rng) -> TabularMDP`` (picklable for
        process executors) whose MDPs have the discount ``gamma`` (another one raises
        :class:`~starc.exceptions.ValidationError`).
    reward_generator : {"starc", "gaussian"} or callable
        A kind of :func:`starc.random_reward`, or ``f(mdp, rng) -> ndarray (S, A, S)``.
    protocol : {"interpolate", "shaped", "redistributed", "independent"}
        How the compared rewards are made (module docs).
    variants : sequence of str, optional
        Variant names (:data:`starc.VARIANTS`, :data:`starc.batch.MINIMAL_L2_VARIANTS`);
        default every closed-form registry variant (216).
    regrets : sequence of {"exact", "mc"}
        ``"exact"``: optimal-policy regret, both directions and their mean;
        ``"mc"``: the authors' Monte-Carlo estimate of the same.
    ties : {"pessimistic", "optimistic", "first"}
        Tie-breaking of the exact regret (:func:`starc.regret`).
    seed : int
        Root of the ``SeedSequence`` tree.
    mc_horizon, mc_repeats : int, optional
        Rollout length and episodes per start state of the Monte-Carlo estimate
        (default: the authors' :func:`starc.batch.authors_horizon` and ``A``).
    lp_solver : {"simplex", "highs"}
        Solver of the MinimalPotential-L1 linear programs (:data:`starc.batch.LP_VARIANTS`):
        this package's numba dual simplex (~5 ms per reward, parallel over rewards), or
        :func:`starc.canonicalize` (the LP's dual solved by HiGHS, ~7 ms per reward at 32
        states, one at a time). Both reach the same optimum;
        when the minimiser is not unique they may return different minimisers.

    Attributes
    ----------
    n_rows : int
        ``n_mdps * pairs_per_mdp * n_steps``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1.

    Examples
    --------
    >>> from starc.sweep import Sweep
    >>> sw = Sweep(n_mdps=2, pairs_per_mdp=1, n_steps=4, n_states=6, n_actions=2,
    ...            variants=["VAL-2-2", "EPIC-2-2"], seed=1)
    >>> res = sw.run()
    >>> len(res), res.variants
    (8, ('VAL-2-2', 'EPIC-2-2'))
    """

    n_mdps: int = 8
    pairs_per_mdp: int = 4
    n_steps: int = 16
    n_states: int = 16
    n_actions: int = 4
    gamma: float = 0.95
    mdp_generator: Any = "starc"
    reward_generator: Any = "starc"
    protocol: str = "interpolate"
    variants: tuple[str, ...] | None = None
    regrets: tuple[str, ...] = ("exact",)
    ties: str = "pessimistic"
    seed: int = 0
    mc_horizon: int | None = None
    mc_repeats: int | None = None
    lp_solver: str = "simplex"

    def __post_init__(self):
        for name in ("n_mdps", "pairs_per_mdp", "n_steps", "n_states", "n_actions"):
            object.__setattr__(self, name, check_positive_int(getattr(self, name), name))
        object.__setattr__(self, "gamma", check_gamma(self.gamma))
        for name, kinds in (("mdp_generator", _MDP_KINDS), ("reward_generator", _REWARD_KINDS)):
            gen = getattr(self, name)
            if not callable(gen):
                check_choice(gen, name, kinds)
        check_choice(self.protocol, "protocol", PROTOCOLS)
        variants = _closed_form() if self.variants is None else self.variants
        if isinstance(variants, str):
            variants = (variants,)
        variants = tuple(variants)
        known = _all_variant_names()
        for v in variants:
            if v not in known:
                raise ValidationError(
                    f"unknown variant {v!r} in variants; use names of starc.VARIANTS (e.g. "
                    "'VAL-2-2') or starc.batch.MINIMAL_L2_VARIANTS (e.g. 'MinimalL2-2-2')")
        if not variants:
            raise ValidationError("variants must name at least one variant")
        if len(set(variants)) != len(variants):
            raise ValidationError("variants contains duplicate names")
        object.__setattr__(self, "variants", variants)
        # refuse sizes that cannot run before anything is drawn: the result table (distances
        # and about 16 columns per row) and the rewards of one MDP (each pair's rewards at
        # every step, with working copies)
        from ._validation import check_memory

        check_memory((self.n_rows, len(variants) + 16), "the sweep's result table")
        check_memory((self.pairs_per_mdp * (self.n_steps + 1), self.n_states, self.n_actions,
                      self.n_states), "the rewards of one MDP of the sweep", copies=4)
        regrets = (self.regrets,) if isinstance(self.regrets, str) else tuple(self.regrets)
        for r in regrets:
            check_choice(r, "regrets", REGRETS)
        object.__setattr__(self, "regrets", tuple(dict.fromkeys(regrets)))
        check_choice(self.ties, "ties", ("pessimistic", "optimistic", "first"))
        check_choice(self.lp_solver, "lp_solver", ("simplex", "highs"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) \
                or self.seed < 0:
            raise ValidationError(f"seed must be a non-negative int, got {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))
        for name in ("mc_horizon", "mc_repeats"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_positive_int(getattr(self, name), name))

    @property
    def n_rows(self) -> int:
        """Rows of the result: ``n_mdps * pairs_per_mdp * n_steps``."""
        return self.n_mdps * self.pairs_per_mdp * self.n_steps

    @classmethod
    def preset(cls, name: str, *, with_lp_variants: bool = False, **overrides) -> "Sweep":
        r"""A named sweep: ``"starc-paper"`` or ``"quick"`` (see :data:`PRESETS`).

        Parameters
        ----------
        name : {"starc-paper", "quick"}
        with_lp_variants : bool, default False
            Add the variants that need a linear program per reward
            (:data:`starc.batch.LP_VARIANTS`, MinimalPotential-L1): all 222.
        **overrides
            Any field of :class:`Sweep` (``seed=``, ``regrets=``...).

        Returns
        -------
        Sweep

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> sw = Sweep.preset("starc-paper")
        >>> sw.n_rows, len(sw.variants), sw.n_states, sw.gamma
        (49152, 216, 32, 0.95)
        >>> len(Sweep.preset("quick", with_lp_variants=True).variants)
        222
        """
        check_choice(name, "preset", tuple(PRESETS))
        fields = dict(PRESETS[name])
        if with_lp_variants:
            if "variants" in overrides:
                raise ValidationError("pass either variants= or with_lp_variants=True")
            fields["variants"] = tuple(VARIANTS)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValidationError(f"unknown Sweep field(s) {sorted(unknown)}")
        fields.update(overrides)
        return cls(**fields)

    def describe(self) -> dict:
        """A JSON-able description of the sweep (callables by their qualified name).

        Returns
        -------
        dict
            One entry per field; stored in :attr:`SweepResult.config` and in saved files.

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> Sweep.preset("quick").describe()["n_states"]
        16
        """
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if callable(v):
                v = f"{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', repr(v))}"
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def run(self, *, executor: Executor | None = None, chunk_size: int | None = None,
            progress: bool = False) -> "SweepResult":
        r"""Run the sweep.

        Parameters
        ----------
        executor : concurrent.futures.Executor, optional
            Runs chunks of MDPs in parallel: a ``ProcessPoolExecutor`` (prefer the
            ``"spawn"`` or ``"forkserver"`` start method: numba's OpenMP threads do not
            survive ``fork``), a ``ThreadPoolExecutor``, or a Dask cluster's
            ``Client.get_executor()``. ``None``: in this process (numba threads still
            use every core).
        chunk_size : int, optional
            MDPs per chunk (default 8): the unit of work and of memory,
            about ``chunk_size * pairs_per_mdp * (n_steps + 1) * S^2 A * 8`` bytes.
        progress : bool, default False
            Show a tqdm progress bar (rows done) on stderr.

        Returns
        -------
        SweepResult
            Bit-identical for any ``executor`` and ``chunk_size``.

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2"]).run(chunk_size=1)
        >>> res.distances.shape
        (128, 1)
        """
        return run_sweep(self, executor=executor, chunk_size=chunk_size, progress=progress)


#: Named sweeps of :meth:`Sweep.preset`.
PRESETS: dict[str, dict] = {
    # The paper's Figure 1: 192 MDPs x 16 base pairs x 16 interpolants = 49,152 rows.
    "starc-paper": dict(n_mdps=192, pairs_per_mdp=16, n_steps=16, n_states=32, n_actions=4,
                        gamma=0.95, mdp_generator="starc", reward_generator="starc",
                        protocol="interpolate", regrets=("exact",)),
    # A small version for CI and quick looks: 1,024 rows (16 states), under a second.
    "quick": dict(n_mdps=16, pairs_per_mdp=4, n_steps=16, n_states=16, n_actions=4,
                  gamma=0.95, mdp_generator="starc", reward_generator="starc",
                  protocol="interpolate", regrets=("exact",)),
}


# ----------------------------------------------------------------------------- chunks


def _make_mdp(sweep: Sweep, rng: np.random.Generator):
    from .envs import random_mdp
    from .mdp import TabularMDP

    if callable(sweep.mdp_generator):
        mdp = sweep.mdp_generator(rng)
        if not isinstance(mdp, TabularMDP) or mdp.shape != (sweep.n_states, sweep.n_actions,
                                                            sweep.n_states):
            raise ValidationError(
                f"mdp_generator must return a TabularMDP with {sweep.n_states} states and "
                f"{sweep.n_actions} actions, got {mdp!r}")
        if mdp.gamma != sweep.gamma:
            # the result's config records Sweep.gamma: refuse rather than record a
            # discount that did not run
            raise ValidationError(
                f"mdp_generator returned an MDP with gamma={mdp.gamma}, but the Sweep has "
                f"gamma={sweep.gamma} (recorded in the result's config); build the Sweep "
                f"with gamma={mdp.gamma} or make the generator use the Sweep's discount")
        return mdp
    return random_mdp(sweep.n_states, sweep.n_actions, gamma=sweep.gamma, seed=rng,
                      kind=sweep.mdp_generator)


def _make_reward(sweep: Sweep, mdp, rng: np.random.Generator) -> np.ndarray:
    from .envs import random_reward

    if callable(sweep.reward_generator):
        r = np.asarray(sweep.reward_generator(mdp, rng), dtype=np.float64)
        if r.shape != mdp.shape or not np.all(np.isfinite(r)):
            raise ValidationError(f"reward_generator must return a finite array of shape "
                                  f"{mdp.shape}, got shape {r.shape}")
        return r
    return random_reward(mdp, seed=rng, kind=sweep.reward_generator)


def _equivalent(sweep: Sweep, r1: np.ndarray, mdp, rng: np.random.Generator,
                redistribute: bool) -> np.ndarray:
    from .shaping import potential_shaping, s_prime_redistribution

    n = mdp.n_states
    base = s_prime_redistribution(r1, mdp, scale=5.0, seed=rng) if redistribute else r1
    phi = rng.standard_normal(n) * (10.0 * rng.uniform())
    k = math.exp(rng.standard_normal())
    return k * potential_shaping(base, phi, mdp.gamma)


def _group_rewards(sweep: Sweep, mdp, rng: np.random.Generator) -> np.ndarray:
    """``(P, n_steps + 1, S, A, S)``: per base pair, ``R_1`` then the compared rewards."""
    p, n = sweep.pairs_per_mdp, sweep.n_steps
    out = np.empty((p, n + 1) + mdp.shape)
    for j in range(p):
        r1 = _make_reward(sweep, mdp, rng)
        out[j, 0] = r1
        if sweep.protocol == "interpolate":
            r2 = _make_reward(sweep, mdp, rng)
            diff = r2 - r1
            for i in range(1, n + 1):
                out[j, i] = r1 + (i / n) * diff
        elif sweep.protocol == "independent":
            for i in range(1, n + 1):
                out[j, i] = _make_reward(sweep, mdp, rng)
        else:
            for i in range(1, n + 1):
                out[j, i] = _equivalent(sweep, r1, mdp, rng, sweep.protocol == "redistributed")
    return out


def _run_chunk(sweep: Sweep, start: int, stop: int) -> dict[str, np.ndarray]:
    """Rows of MDPs ``start .. stop-1`` (a top-level function: picklable for executors)."""
    from .batch import core
    from .batch._mc import mc_regrets as run_mc_regrets

    children = np.random.SeedSequence(sweep.seed).spawn(sweep.n_mdps)[start:stop]
    mdps, groups, mc_seeds = [], [], []
    for child in children:
        ss_gen, ss_mc = child.spawn(2)
        rng = np.random.default_rng(ss_gen)
        mdp = _make_mdp(sweep, rng)
        mdps.append(mdp)
        groups.append(_group_rewards(sweep, mdp, rng))
        if "mc" in sweep.regrets:
            mc_seeds.append(core._stream_seeds(ss_mc, sweep.pairs_per_mdp))
    batch = core.MDPBatch.from_mdps(mdps)
    p, k = sweep.pairs_per_mdp, sweep.n_steps + 1
    R = np.ascontiguousarray(np.stack(groups).reshape((len(mdps) * p, k) + mdps[0].shape))
    mdp_of = np.repeat(np.arange(len(mdps), dtype=np.int64), p)
    prep = core.prepare(batch)
    specs = core.resolve_variants(sweep.variants)
    need_regret = bool(sweep.regrets)
    ties = {"pessimistic": 0, "optimistic": 1, "first": 2}[sweep.ties]
    cols, reg, act, triv = core.distance_columns(specs, prep, R, mdp_of,
                                                 do_regret=need_regret, ties=ties,
                                                 lp_solver=sweep.lp_solver)
    rows = R.shape[0] * (k - 1)
    out = {"distances": cols.reshape(rows, len(specs)),
           "mdp": np.repeat(np.arange(start, stop, dtype=np.int64), p * (k - 1)),
           "pair": np.tile(np.repeat(np.arange(p, dtype=np.int64), k - 1), stop - start),
           "step": np.tile(np.arange(1, k, dtype=np.int64), R.shape[0])}
    if "exact" in sweep.regrets:
        out["regret1"] = reg[..., 0].reshape(rows)
        out["regret2"] = reg[..., 1].reshape(rows)
        out["regret"] = 0.5 * (out["regret1"] + out["regret2"])
    if need_regret:
        # trivial true reward (every policy equally good): regret 0 by convention
        out["trivial1"] = np.repeat(triv[:, 0], k - 1)
        out["trivial2"] = triv[:, 1:].reshape(rows)
    if "mc" in sweep.regrets:
        hz, n_rep, _, prob, alias = core._mc_setup(batch, sweep.mc_horizon, sweep.mc_repeats,
                                                   0)
        mc = run_mc_regrets(prob, alias, prep.gam, prep.mu, mdp_of, R, act, hz, n_rep,
                            np.concatenate(mc_seeds))
        raw1 = mc[..., 0].reshape(rows)
        raw2 = mc[..., 1].reshape(rows)
        # the authors' ratio verbatim: heavy-tailed (noise / noise when the true reward
        # is nearly trivial) ...
        out["mc_regret_raw1"] = raw1
        out["mc_regret_raw2"] = raw2
        out["mc_regret_raw"] = 0.5 * (raw1 + raw2)
        # ... and projected on [0, 1], the range of a normalised regret
        out["mc_regret1"] = np.clip(raw1, 0.0, 1.0)
        out["mc_regret2"] = np.clip(raw2, 0.0, 1.0)
        out["mc_regret"] = 0.5 * (out["mc_regret1"] + out["mc_regret2"])
    return out


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(i, min(n, i + size)) for i in range(0, n, size)]


def run_sweep(sweep: Sweep | str, *, executor: Executor | None = None,
              chunk_size: int | None = None, progress: bool = False) -> "SweepResult":
    r"""Run a :class:`Sweep` (or a preset name) and gather a :class:`SweepResult`.

    Parameters
    ----------
    sweep : Sweep or str
        The declaration, or a name of :data:`PRESETS`.
    executor : concurrent.futures.Executor, optional
        See :meth:`Sweep.run`.
    chunk_size : int, optional
        MDPs per chunk (default 8).
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    SweepResult

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from starc.sweep import Sweep, run_sweep
    >>> sw = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "DARD-2-2"])
    >>> serial = run_sweep(sw)
    >>> with ThreadPoolExecutor(2) as pool:
    ...     parallel = run_sweep(sw, executor=pool, chunk_size=1)
    >>> bool((serial.distances == parallel.distances).all())
    True
    """
    if isinstance(sweep, str):
        sweep = Sweep.preset(sweep)
    if not isinstance(sweep, Sweep):
        raise ValidationError(f"sweep must be a starc.sweep.Sweep or a preset name, got "
                              f"{type(sweep).__name__}")
    size = 8 if chunk_size is None else check_positive_int(chunk_size, "chunk_size")
    if executor is not None and not isinstance(executor, Executor) \
            and not callable(getattr(executor, "submit", None)):
        raise ValidationError(f"executor must be a concurrent.futures.Executor (or have "
                              f"submit()), got {type(executor).__name__}")
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is a core dependency
            raise MissingDependencyError("progress=True needs tqdm: pip install tqdm") from None
        bar = tqdm(total=sweep.n_rows, unit="row", desc="starc sweep", file=sys.stderr)
    chunks = _chunks(sweep.n_mdps, size)
    t0 = time.perf_counter()
    parts: list[dict | None] = [None] * len(chunks)
    rows_per_mdp = sweep.pairs_per_mdp * sweep.n_steps
    try:
        if executor is None:
            for i, (a, b) in enumerate(chunks):
                parts[i] = _run_chunk(sweep, a, b)
                if bar is not None:
                    bar.update((b - a) * rows_per_mdp)
        else:
            futures = {executor.submit(_run_chunk, sweep, a, b): i
                       for i, (a, b) in enumerate(chunks)}
            for fut in as_completed(futures):
                i = futures[fut]
                parts[i] = fut.result()
                if bar is not None:
                    a, b = chunks[i]
                    bar.update((b - a) * rows_per_mdp)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t0
    columns = {key: np.concatenate([p[key] for p in parts])
               for key in parts[0] if key != "distances"}
    distances = np.concatenate([p["distances"] for p in parts])
    return SweepResult(sweep.variants, distances, columns, sweep.describe(), elapsed)


# ----------------------------------------------------------------------------- results


def _family(variant: str) -> str:
    return variant.split("-", 1)[0]


def _normalization(variant: str) -> str:
    # names are "{family}-{normalization}-{metric}"; normalizations may contain "_"
    return variant.split("-")[1]


def _rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank)."""
    from scipy.stats import rankdata

    return rankdata(x, method="average")


def _nanmean(values) -> float:
    """Mean of the finite values; nan (without a warning) when there are none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    yc = y - y.mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    if den == 0.0 or not math.isfinite(den):
        return float("nan")
    return float(np.clip(float(xc @ yc) / den, -1.0, 1.0))


class SweepResult:
    r"""Columnar results of a sweep: one row per compared pair.

    Parameters
    ----------
    variants : sequence of str
        Names of the distance columns.
    distances : ndarray of shape (n_rows, V)
    columns : dict of str to ndarray of shape (n_rows,)
        ``mdp``, ``pair``, ``step``; the exact regrets ``regret1``
        (:math:`\mathrm{Reg}(R_1, R_i)`, true :math:`R_1`), ``regret2``
        (:math:`\mathrm{Reg}(R_i, R_1)`) and their mean ``regret``; ``trivial1`` and
        ``trivial2``, whether the true reward of each direction is trivial (every policy
        has the same return, so the regret is 0 by convention); and for the Monte-Carlo
        estimate ``mc_regret_raw1``, ``mc_regret_raw2``, ``mc_regret_raw`` (the authors'
        ratio verbatim, heavy-tailed) and ``mc_regret1``, ``mc_regret2``, ``mc_regret``
        (the same clipped to ``[0, 1]``, the range of a normalised regret; starc's
        robustification, not in the authors' code).
    config : dict
        :meth:`Sweep.describe` of the sweep.
    elapsed : float
        Wall-clock seconds of the run.

    Examples
    --------
    >>> from starc.sweep import Sweep
    >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "None-0-2"]).run()
    >>> sorted(res.correlations())
    ['None-0-2', 'VAL-2-2']
    >>> res["regret"].shape
    (128,)
    """

    def __init__(self, variants, distances, columns, config, elapsed=float("nan")):
        from collections.abc import Mapping

        from ._validation import as_float_array

        if isinstance(variants, (str, bytes)) or not isinstance(variants, (Sequence, np.ndarray)):
            raise ValidationError(f"variants must be a sequence of variant names, "
                                  f"got {type(variants).__name__}")
        if not all(isinstance(v, (str, np.str_)) for v in variants):
            raise ValidationError(f"variants must be a sequence of str, got {list(variants)!r}")
        self.variants = tuple(str(v) for v in variants)
        # NaN marks a distance that was not computed; it is kept (correlations skip it)
        self.distances = as_float_array(distances, "distances", ndim=2, allow_nonfinite=True)
        if self.distances.shape[1] != len(self.variants):
            raise ValidationError(f"distances must have shape (n_rows, {len(self.variants)}), "
                                  f"got {self.distances.shape}")
        if not isinstance(columns, Mapping):
            raise ValidationError(f"columns must be a dict of str to arrays, "
                                  f"got {type(columns).__name__}")
        self.columns = {}
        for k, v in columns.items():
            try:
                arr = np.asarray(v)
            except (TypeError, ValueError) as err:
                raise ValidationError(f"column {k!r} must be a numeric array: {err}") from None
            if arr.dtype.kind not in "biuf":
                raise ValidationError(f"column {k!r} must be a numeric array, "
                                      f"got dtype {arr.dtype}")
            if arr.shape != (self.distances.shape[0],):
                raise ValidationError(f"column {k!r} must have shape "
                                      f"({self.distances.shape[0]},), got {arr.shape}")
            self.columns[str(k)] = arr
        if not isinstance(config, Mapping):
            raise ValidationError(f"config must be a dict (Sweep.describe()), "
                                  f"got {type(config).__name__}")
        self.config = dict(config)
        if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float, np.integer,
                                                                  np.floating)):
            raise ValidationError(f"elapsed must be a number of seconds, got {elapsed!r}")
        self.elapsed = float(elapsed)  # nan: unknown

    def __len__(self) -> int:
        return self.distances.shape[0]

    def __repr__(self) -> str:
        regrets = [c for c in self.columns if "regret" in c]
        return (f"SweepResult(n_rows={len(self)}, n_variants={len(self.variants)}, "
                f"regrets={regrets})")

    def __getitem__(self, name: str) -> np.ndarray:
        """A column by name: a variant's distances, a regret, ``mdp``, ``pair`` or ``step``."""
        if name in self.columns:
            return self.columns[name]
        if name in self.variants:
            return self.distances[:, self.variants.index(name)]
        raise KeyError(f"no column {name!r}; columns are {list(self.columns)} and the "
                       f"variants {list(self.variants[:3])}...")

    @property
    def regret_columns(self) -> list[str]:
        """Names of the regret columns present."""
        return [c for c in self.columns if "regret" in c]

    def correlations(self, method: str = "pearson", regret: str = "regret") -> dict[str, float]:
        r"""Correlation of every variant's distance with a regret column, pooled over rows.

        .. math::

            \rho = \frac{\sum (d - \bar d)(g - \bar g)}
                        {\sqrt{\sum (d - \bar d)^2 \sum (g - \bar g)^2}},

        on the values (Pearson, as the paper) or on their ranks (Spearman).

        Parameters
        ----------
        method : {"pearson", "spearman"}
        regret : str, default "regret"
            A regret column (``"mc_regret"`` for the Monte-Carlo estimate).

        Returns
        -------
        dict of str to float
            In the order of :attr:`variants`; ``nan`` for a constant column.

        References
        ----------
        .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 and Fig. 1.

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2"]).run()
        >>> 0.0 < res.correlations("spearman")["VAL-2-2"] <= 1.0
        True
        """
        check_choice(method, "method", ("pearson", "spearman"))
        if regret not in self.columns or "regret" not in regret:
            raise ValidationError(f"unknown regret column {regret!r}; this result has "
                                  f"{self.regret_columns}")
        y = np.asarray(self.columns[regret], dtype=np.float64)
        if method == "spearman":
            y = _rankdata(y)
        out = {}
        for j, name in enumerate(self.variants):
            x = self.distances[:, j]
            if method == "spearman":
                x = _rankdata(x)
            out[name] = _pearson(x, y)
        return out

    def family_summary(self, method: str = "pearson", regret: str = "regret") -> dict:
        r"""Per canonicalization family: mean correlation over normalised and unnormalised
        variants, and the best variant.

        Parameters
        ----------
        method : {"pearson", "spearman"}
        regret : str, default "regret"

        Returns
        -------
        dict of str to dict
            ``{family: {"normalised": mean, "unnormalised": mean, "best": name,
            "best_value": value, "n": count}}`` for the families present.

        References
        ----------
        .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1: the mean over normalised variants
           (VAL 0.797, EPIC 0.615, DARD 0.612, None 0.346 with Monte-Carlo regret).

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "VAL-0-2"]).run()
        >>> sorted(res.family_summary()["VAL"])
        ['best', 'best_value', 'n', 'normalised', 'unnormalised']
        """
        corr = self.correlations(method, regret)
        out = {}
        for fam in FAMILIES:
            names = [v for v in self.variants if _family(v) == fam]
            if not names:
                continue
            norm_vals = [corr[v] for v in names if _normalization(v) != "0"]
            raw_vals = [corr[v] for v in names if _normalization(v) == "0"]
            best = max(names, key=lambda v: -np.inf if np.isnan(corr[v]) else corr[v])
            out[fam] = {"normalised": _nanmean(norm_vals), "unnormalised": _nanmean(raw_vals),
                        "best": best, "best_value": corr[best], "n": len(names)}
        return out

    def to_csv(self, path) -> None:
        """Write every column (ids, regrets, then one column per variant) as CSV.

        The file is written atomically (a temporary file in the same folder, renamed
        over ``path``): an interrupted write leaves the previous file whole, never a
        shorter table that still parses.

        Parameters
        ----------
        path : str or os.PathLike

        Raises
        ------
        ValidationError
            When ``path``'s folder does not exist or cannot be written, or ``path`` is a
            folder.

        Examples
        --------
        >>> import os, tempfile
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=1, variants=["VAL-2-2"]).run()
        >>> path = os.path.join(tempfile.mkdtemp(), "sweep.csv")
        >>> res.to_csv(path)
        >>> open(path).readline().strip()
        'mdp,pair,step,regret1,regret2,regret,trivial1,trivial2,VAL-2-2'
        """
        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(f"path must be a str or os.PathLike, got "
                                  f"{type(path).__name__}")
        names = list(self.columns) + list(self.variants)
        data = np.column_stack([self.columns[c].astype(np.float64) for c in self.columns]
                               + [self.distances])
        int_cols = [i for i, c in enumerate(self.columns)
                    if self.columns[c].dtype.kind in "biu"]
        with atomic_write(path, "w", encoding="utf-8") as fh:
            fh.write(",".join(names) + "\n")
            fmt = ["%d" if i in int_cols else "%.17g" for i in range(len(names))]
            np.savetxt(fh, data, delimiter=",", fmt=fmt)

    def save(self, path) -> None:
        """Save to ``.npz`` (plain arrays only; :meth:`load` never unpickles).

        The file is written atomically (a temporary file in the same folder, renamed
        over the destination): an interrupted save leaves the previous file whole.

        Parameters
        ----------
        path : str or os.PathLike
            ``.npz`` is appended when missing (as :func:`numpy.savez` does).

        Raises
        ------
        ValidationError
            When the folder does not exist or cannot be written, or the path is a folder.

        Examples
        --------
        >>> import os, tempfile
        >>> from starc.sweep import Sweep, SweepResult
        >>> res = Sweep.preset("quick", n_mdps=1, variants=["VAL-2-2"]).run()
        >>> path = os.path.join(tempfile.mkdtemp(), "sweep.npz")
        >>> res.save(path)
        >>> back = SweepResult.load(path)
        >>> bool((back.distances == res.distances).all()), back.variants
        (True, ('VAL-2-2',))
        """
        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(f"path must be a str or os.PathLike, got "
                                  f"{type(path).__name__}")
        arrays = {"distances": self.distances,
                  "variants": np.array(self.variants, dtype=str),
                  "column_names": np.array(list(self.columns), dtype=str),
                  "config_json": np.array(json.dumps(self.config)),
                  "elapsed": np.float64(self.elapsed)}
        for k, v in self.columns.items():
            arrays[f"col_{k}"] = v
        save_npz(path, arrays)

    @classmethod
    def load(cls, path) -> "SweepResult":
        """Load a result written by :meth:`save` (``allow_pickle=False``).

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        SweepResult

        Raises
        ------
        ValidationError
            When the file is missing, truncated, not an ``.npz``, lacks a key, or holds
            metadata that is not what :meth:`save` writes (``config_json`` not a JSON
            object, names that are not strings, a ``distances`` or column array of the
            wrong type or shape); the message names the file and the key.

        Examples
        --------
        See :meth:`save`.
        """
        from ._io import load_npz

        data = load_npz(path)
        label = f"path {os.fspath(path)!r}"
        missing = [k for k in ("distances", "variants", "column_names", "config_json")
                   if k not in data]
        if missing:
            raise ValidationError(f"{label} is not a saved SweepResult: it lacks {missing}")
        bad = f"{label} is not a valid saved SweepResult:"

        def names_of(key):
            arr = data[key]
            if arr.dtype.kind != "U" or arr.ndim != 1:
                raise ValidationError(f"{bad} {key!r} must be a 1-d array of strings, got "
                                      f"dtype {arr.dtype} and shape {arr.shape}")
            return [str(v) for v in arr]

        def numeric(key, ndim):
            arr = data[key]
            if arr.dtype.kind not in "biuf" or arr.ndim != ndim:
                raise ValidationError(f"{bad} {key!r} must be a {ndim}-d numeric array, got "
                                      f"dtype {arr.dtype} and shape {arr.shape}")
            return arr

        names = names_of("column_names")
        variants = names_of("variants")
        absent = [c for c in names if f"col_{c}" not in data]
        if absent:
            raise ValidationError(f"{label} lacks the columns {absent}")
        columns = {c: numeric(f"col_{c}", 1) for c in names}
        distances = numeric("distances", 2)
        raw = data["config_json"]
        if raw.dtype.kind != "U" or raw.ndim != 0:
            raise ValidationError(f"{bad} 'config_json' must be one string, got dtype "
                                  f"{raw.dtype} and shape {raw.shape}")
        try:
            config = json.loads(str(raw))
        except (ValueError, RecursionError) as err:  # json.JSONDecodeError is a ValueError
            raise ValidationError(f"{bad} 'config_json' is not valid JSON ({err})") from None
        if not isinstance(config, dict):
            raise ValidationError(f"{bad} 'config_json' must hold a JSON object, got a "
                                  f"{type(config).__name__}")
        elapsed = float(numeric("elapsed", 0)) if "elapsed" in data else float("nan")
        try:
            return cls(variants, distances, columns, config, elapsed)
        except ValidationError as err:
            raise ValidationError(f"{bad} {err}") from None

    def to_pandas(self):
        """A pandas DataFrame with every column (needs pandas).

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        MissingDependencyError
            When pandas is not installed (``pip install pandas``).

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=1, variants=["VAL-2-2"]).run()
        >>> try:
        ...     df = res.to_pandas()
        ... except ImportError:
        ...     df = None
        >>> df is None or df.shape == (64, 9)
        True
        """
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependencyError("SweepResult.to_pandas() needs pandas: "
                                         "pip install pandas") from None
        data = {c: v for c, v in self.columns.items()}
        for j, name in enumerate(self.variants):
            data[name] = self.distances[:, j]
        return pd.DataFrame(data)


# ----------------------------------------------------------------------------- CLI


_HEADLINE = ("VAL-2-2", "EPIC-2-2", "DARD-2-2", "VAL-1-1")
_PAPER_MC = {"VAL-2-2": 0.856, "EPIC-2-2": 0.778, "DARD-2-2": 0.782, "VAL-1-1": 0.873}
_PAPER_FAMILY = {"VAL": 0.797, "EPIC": 0.615, "DARD": 0.612, "None": 0.346}


def summary_table(result: SweepResult, method: str = "pearson") -> str:
    """A plain-text table: mean correlation per family and the headline variants.

    Parameters
    ----------
    result : SweepResult
    method : {"pearson", "spearman"}

    Returns
    -------
    str
        Families in the paper's order with the mean correlation over normalised and
        unnormalised variants per regret column, the paper's values, and the headline
        variants VAL-2-2, EPIC-2-2, DARD-2-2, VAL-1-1.

    Raises
    ------
    ValidationError
        When ``result`` has no regret column (a sweep run with ``regrets=()``) or
        ``method`` is unknown.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 and Fig. 1.

    Examples
    --------
    >>> from starc.sweep import Sweep, summary_table
    >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "EPIC-2-2"]).run()
    >>> print(summary_table(res).splitlines()[0])
    mean pearson correlation with regret over the variants of each family
    """
    if not isinstance(result, SweepResult):
        raise ValidationError(f"result must be a SweepResult, got {type(result).__name__}")
    labels = {"regret": "exact", "mc_regret": "MC", "mc_regret_raw": "MC raw"}
    regrets = [r for r in labels if r in result.columns]
    if not regrets:
        raise ValidationError(
            "result has no regret column to correlate with (it was run with regrets=(), "
            f"columns {sorted(result.columns)}); run the sweep with regrets=('exact',) or "
            "('exact', 'mc')")
    sums = {r: result.family_summary(method, r) for r in regrets}
    first = labels[regrets[0]]
    head = (f"{'family':<17}{'n':>4}" + "".join(f"{labels[r] + ' norm.':>14}" for r in regrets)
            + f"{first + ' unnorm.':>15}{'paper (MC)':>12}   best ({first})")
    lines = [f"mean {method} correlation with regret over the variants of each family", "",
             head, "-" * len(head)]
    for fam in FAMILIES:
        if fam not in sums[regrets[0]]:
            continue
        row = f"{fam:<17}{sums[regrets[0]][fam]['n']:>4}"
        row += "".join(f"{sums[r][fam]['normalised']:>14.3f}" for r in regrets)
        row += f"{sums[regrets[0]][fam]['unnormalised']:>15.3f}"
        paper = _PAPER_FAMILY.get(fam)
        row += f"{paper:>12.3f}" if paper is not None else f"{'':>12}"
        best = sums[regrets[0]][fam]
        row += f"   {best['best']} ({best['best_value']:.3f})"
        lines.append(row)
    corr = {r: result.correlations(method, r) for r in regrets}
    shown = [v for v in _HEADLINE if v in result.variants]
    if shown:
        lines += ["", f"{'variant':<17}{'':>4}" + "".join(f"{labels[r]:>14}" for r in regrets)
                  + f"{'':>15}{'paper (MC)':>12}"]
        for v in shown:
            lines.append(f"{v:<17}{'':>4}" + "".join(f"{corr[r][v]:>14.3f}" for r in regrets)
                         + f"{'':>15}{_PAPER_MC[v]:>12.3f}")
    return "\n".join(lines)


def cli_main(argv: Sequence[str] | None = None) -> int:
    """``starc sweep``: run a preset sweep, print correlations, write ``.npz`` or CSV.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after ``sweep`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status (0 on success, 1 on an error, 2 on bad arguments). An
        ``--output`` whose folder does not exist or cannot be written is an error found
        before the sweep runs, so no computation is lost to it.

    Examples
    --------
    >>> import os, tempfile
    >>> from starc.sweep import cli_main
    >>> out = os.path.join(tempfile.mkdtemp(), "q.npz")
    >>> cli_main(["--preset", "quick", "--seed", "3", "--output", out]) == 0  # doctest: +ELLIPSIS
    starc sweep: preset quick...
    True
    """
    parser = argparse.ArgumentParser(
        prog="starc sweep",
        description="Correlation of reward distances with regret over random MDPs "
                    "(the STARC paper's Figure 1 experiment).")
    parser.add_argument("--preset", default="starc-paper", choices=sorted(PRESETS),
                        help="which sweep (default: starc-paper, 49,152 rows)")
    parser.add_argument("--with-lp-variants", action="store_true",
                        help="add the MinimalPotential-L1 variants (one LP per reward)")
    parser.add_argument("--mc", action="store_true",
                        help="also estimate regret the authors' way (Monte Carlo)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (default 1: this process, numba threads)")
    parser.add_argument("--chunk-size", type=int, default=None, help="MDPs per chunk")
    parser.add_argument("--output", default=None,
                        help="result file: .csv for CSV, anything else .npz "
                             "(default starc-sweep-PRESET.npz); checked to be writable "
                             "before the sweep runs, and written atomically")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on bad arguments and --help
        return int(exc.code or 0)
    try:
        regrets = ("exact", "mc") if args.mc else ("exact",)
        sweep = Sweep.preset(args.preset, with_lp_variants=args.with_lp_variants,
                             seed=args.seed, regrets=regrets)
        workers = check_positive_int(args.workers, "--workers")
        # refuse an unwritable --output now, not after hours of computing
        out = args.output or f"starc-sweep-{args.preset}.npz"
        as_csv = str(out).lower().endswith(".csv")
        out = os.fspath(out) if as_csv else npz_path(out, "--output")
        check_writable(out, "--output")
        print(f"starc sweep: preset {args.preset}, {sweep.n_rows:,} rows, "
              f"{len(sweep.variants)} variants, regrets {list(sweep.regrets)}, "
              f"seed {sweep.seed}, workers {workers}", flush=True)
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                result = sweep.run(executor=pool, chunk_size=args.chunk_size,
                                   progress=args.progress)
        else:
            result = sweep.run(chunk_size=args.chunk_size, progress=args.progress)
        print(f"done in {result.elapsed:.1f} s\n")
        print(summary_table(result))
        if as_csv:
            result.to_csv(out)
        else:
            result.save(out)
        print(f"\nwrote {out}")
        return 0
    except (StarcError, OSError) as err:
        print(f"starc sweep: error: {err}", file=sys.stderr)
        return 1
