r"""Declarative distance-versus-regret sweeps over many random MDPs and reward pairs.

A :class:`Sweep` says *what* to compute — an MDP generator, a reward generator, a pair
protocol, the distance variants, which regrets, a seed — and :meth:`Sweep.run` computes
it with :func:`starc.batch.compare_groups`, optionally on any
:class:`concurrent.futures.Executor` (processes, threads, or a Dask cluster through
``distributed.Client(...).get_executor()``). The result is a :class:`SweepResult`:
columnar numpy arrays, one row per compared pair, with Pearson or Spearman correlations
of every distance with regret, CSV / ``.npz`` export and a pandas view.

The package has one module per step, and every name below is importable from
``starc.sweep``:

* :mod:`starc.sweep.declaration` — :class:`Sweep`, :data:`PRESETS`, the pair protocols
  (:data:`PROTOCOLS`) and the seed tree that makes a sweep reproducible;
* :mod:`starc.sweep.execution` — :func:`run_sweep`: chunks of MDPs, executors, rows;
* :mod:`starc.sweep.result` — :class:`SweepResult`, its correlations, files, and
  :func:`summary_table`.

The command ``starc sweep`` (:func:`cli_main`) runs a preset from the shell.

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

A result is **bit-identical** for any ``chunk_size``, executor or worker count
(:mod:`starc.sweep.execution`).

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Sec. 4.1, Fig. 1 and
   Appendix (the variant table); github.com/lucyfarnik/starc.
"""

from __future__ import annotations

from collections.abc import Sequence

from .declaration import PRESETS, PROTOCOLS, REGRETS, Sweep
from .execution import run_sweep
from .result import FAMILIES, SweepResult, summary_table

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


def cli_main(argv: Sequence[str] | None = None) -> int:
    """``starc sweep``: run a preset sweep, print correlations, write ``.npz`` or CSV.

    The same as ``starc.cli.main(["sweep", *argv])``; the options are documented by
    ``starc sweep --help`` (:func:`starc.cli.sweep_main`).

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
    from ..cli import sweep_main

    return sweep_main(argv)
