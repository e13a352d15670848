r"""The declaration of a sweep: what to draw, what to compare, what to measure.

A :class:`Sweep` is a frozen record — an MDP generator, a reward generator, a pair
protocol, the distance variants, which regrets, a seed — validated when it is built and
named by :data:`PRESETS`. It computes nothing itself: :meth:`Sweep.draw` makes the
inputs of one MDP and :meth:`Sweep.run` hands the whole sweep to
:mod:`starc.sweep.execution`.

Pair protocols
--------------
Each MDP has ``pairs_per_mdp`` base rewards :math:`R_1`, each compared with
``n_steps`` rewards :math:`R_i`:

``"interpolate"``
    :math:`R_i = R_1 + (i/n)(R_2 - R_1)`, ``i = 1..n_steps``, with :math:`R_2` a second
    draw of the reward generator (the paper [1]_).
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

The seed tree
-------------
MDP :math:`m` draws everything from its own node of a ``numpy.random.SeedSequence``
tree [2]_,

.. math::

    \mathrm{ss}_m = \mathrm{SeedSequence}(\text{seed}).\mathrm{spawn}(M)[m],
    \qquad (\mathrm{ss}_m^{\text{draw}}, \mathrm{ss}_m^{\text{MC}})
    = \mathrm{ss}_m.\mathrm{spawn}(2):

the MDP and then its rewards, in the order above, from a generator on
:math:`\mathrm{ss}_m^{\text{draw}}`; the Monte-Carlo rollouts of its base pair
:math:`p` from :math:`\mathrm{ss}_m^{\text{MC}}.\mathrm{spawn}(P)[p]`
(:func:`starc.batch.compare_groups`). Nothing MDP :math:`m` draws depends on any other
MDP, which makes a sweep's result independent of how its MDPs are split into chunks.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Sec. 4.1 and Appendix.
.. [2] NumPy, "Parallel random number generation" (``SeedSequence.spawn``).
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import check_choice, check_gamma, check_memory, check_positive_int
from ..batch import CLOSED_FORM_VARIANTS, LP_SOLVERS, MINIMAL_L2_VARIANTS, REGRET_KINDS
from ..distances import VARIANTS
from ..exceptions import ValidationError
from ..regret import TIES

if TYPE_CHECKING:  # pragma: no cover
    from ..mdp import TabularMDP
    from .result import SweepResult

__all__ = ["Sweep", "PRESETS", "PROTOCOLS", "REGRETS"]

#: Pair protocols of :class:`Sweep`.
PROTOCOLS = ("interpolate", "shaped", "redistributed", "independent")
#: Regret estimators: exact optimal-policy regret, the authors' Monte-Carlo estimate
#: (:data:`starc.batch.REGRET_KINDS`).
REGRETS = REGRET_KINDS

_MDP_KINDS = ("starc", "dirichlet", "garnet")
_REWARD_KINDS = ("starc", "gaussian")


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
        variants = CLOSED_FORM_VARIANTS if self.variants is None else self.variants
        if isinstance(variants, str):
            variants = (variants,)
        variants = tuple(variants)
        known = set(VARIANTS) | set(MINIMAL_L2_VARIANTS)
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
        check_memory((self.n_rows, len(variants) + 16), "the sweep's result table")
        check_memory((self.pairs_per_mdp * (self.n_steps + 1), self.n_states, self.n_actions,
                      self.n_states), "the rewards of one MDP of the sweep", copies=4)
        regrets = (self.regrets,) if isinstance(self.regrets, str) else tuple(self.regrets)
        for r in regrets:
            check_choice(r, "regrets", REGRETS)
        object.__setattr__(self, "regrets", tuple(dict.fromkeys(regrets)))
        check_choice(self.ties, "ties", TIES)
        check_choice(self.lp_solver, "lp_solver", LP_SOLVERS)
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

    def draw(self, m: int) -> tuple["TabularMDP", np.ndarray, np.random.SeedSequence]:
        r"""The MDP and rewards of MDP ``m``, exactly as :meth:`run` draws them.

        Parameters
        ----------
        m : int
            An MDP of the sweep, ``0 <= m < n_mdps``.

        Returns
        -------
        mdp : TabularMDP
        rewards : ndarray of shape (pairs_per_mdp, n_steps + 1, S, A, S)
            ``rewards[p, 0]`` is the base reward :math:`R_1` of pair ``p`` and
            ``rewards[p, i]`` its ``i``-th compared reward :math:`R_i` (module docs: pair
            protocols), the rows ``(m, p, i)`` of the result.
        mc_seed : numpy.random.SeedSequence
            The node :math:`\mathrm{ss}_m^{\text{MC}}` of the seed tree from which the
            Monte-Carlo regrets of MDP ``m`` draw (module docs: the seed tree).

        Raises
        ------
        ValidationError
            When ``m`` is not an MDP of the sweep, or a generator returns an MDP or a
            reward of the wrong shape or discount.

        Examples
        --------
        >>> import starc
        >>> from starc.sweep import Sweep
        >>> sw = Sweep(n_mdps=2, pairs_per_mdp=1, n_steps=4, n_states=6, n_actions=2,
        ...            variants=["VAL-2-2"], seed=1)
        >>> mdp, rewards, _ = sw.draw(1)
        >>> rewards.shape
        (1, 5, 6, 2, 6)
        >>> d = starc.starc_distance(rewards[0, 0], rewards[0, 2], mdp, variant="VAL-2-2")
        >>> res = sw.run()
        >>> row = 1 * 4 + (2 - 1)  # MDP 1, pair 0, step 2
        >>> bool(abs(res["VAL-2-2"][row] - d) < 1e-10)
        True
        """
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) \
                or not 0 <= m < self.n_mdps:
            raise ValidationError(f"m must be an int in [0, {self.n_mdps}) (an MDP of the "
                                  f"sweep), got {m!r}")
        # SeedSequence(seed).spawn(n_mdps)[m], without spawning the n_mdps - 1 others
        ss_draw, ss_mc = np.random.SeedSequence(self.seed, spawn_key=(int(m),)).spawn(2)
        rng = np.random.default_rng(ss_draw)
        mdp = _make_mdp(self, rng)
        return mdp, _group_rewards(self, mdp, rng), ss_mc

    def run(self, *, executor: Executor | None = None, chunk_size: int | None = None,
            progress: bool = False) -> "SweepResult":
        r"""Run the sweep (:func:`starc.sweep.run_sweep`).

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
        from .execution import run_sweep

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


# ----------------------------------------------------------------------------- drawing


def _make_mdp(sweep: Sweep, rng: np.random.Generator):
    from ..envs import random_mdp
    from ..mdp import TabularMDP

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
    from ..envs import random_reward

    if callable(sweep.reward_generator):
        r = np.asarray(sweep.reward_generator(mdp, rng), dtype=np.float64)
        if r.shape != mdp.shape or not np.all(np.isfinite(r)):
            raise ValidationError(f"reward_generator must return a finite array of shape "
                                  f"{mdp.shape}, got shape {r.shape}")
        return r
    return random_reward(mdp, seed=rng, kind=sweep.reward_generator)


def _equivalent(r1: np.ndarray, mdp, rng: np.random.Generator,
                redistribute: bool) -> np.ndarray:
    from ..shaping import potential_shaping, s_prime_redistribution

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
                out[j, i] = _equivalent(r1, mdp, rng, sweep.protocol == "redistributed")
    return out
