r"""Running a sweep: chunks of MDPs, executors, and the rows they produce.

:func:`run_sweep` splits the MDPs :math:`0, \dots, M-1` of a :class:`~starc.sweep.Sweep`
into chunks of ``chunk_size`` consecutive MDPs. A chunk draws its MDPs' inputs
(:meth:`Sweep.draw <starc.sweep.Sweep.draw>`) and computes them with one call of
:func:`starc.batch.compare_groups`; chunks run in this process or on any
:class:`concurrent.futures.Executor` (processes, threads, or a Dask cluster through
``distributed.Client(...).get_executor()``), and their rows are concatenated in MDP
order into a :class:`~starc.sweep.SweepResult`.

Rows
----
MDP :math:`m`, base pair :math:`p` and step :math:`i` give row
:math:`(m P + p)\, n + (i - 1)`, with the ids ``mdp``, ``pair``, ``step``, the distances
of every variant, and the regrets of the sweep's ``regrets``:

.. math::

    \operatorname{regret} = \tfrac12\big(\operatorname{Reg}(R_1, R_i)
                            + \operatorname{Reg}(R_i, R_1)\big),

exact (``regret1``, ``regret2``, ``regret``) and as the authors' Monte-Carlo estimate,
verbatim (``mc_regret_raw*``) and clipped to the range :math:`[0, 1]` of a normalised
regret (``mc_regret*``, starc's robustification), with the trivial-reward flags
``trivial1`` and ``trivial2`` (see :class:`~starc.sweep.SweepResult`).

Determinism
-----------
Every MDP draws from its own node of the seed tree (:mod:`starc.sweep.declaration`), and
every numba kernel computes each MDP's rows with the same operations whatever else is in
its batch, so a result is **bit-identical** for any ``chunk_size``, executor or worker
count (tested, and against a saved reference in ``tests/data``).

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Sec. 4.1.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import Executor, as_completed

import numpy as np

from .._validation import check_positive_int
from ..exceptions import MissingDependencyError, ValidationError
from .declaration import Sweep
from .result import SweepResult

__all__ = ["run_sweep"]


def _run_chunk(sweep: Sweep, start: int, stop: int) -> dict[str, np.ndarray]:
    """Rows of MDPs ``start .. stop-1`` (a top-level function: picklable for executors)."""
    from ..batch import compare_groups

    mdps, groups, mc_seeds = [], [], []
    for m in range(start, stop):
        mdp, rewards, mc_seed = sweep.draw(m)
        mdps.append(mdp)
        groups.append(rewards)
        mc_seeds.append(mc_seed)
    got = compare_groups(np.stack(groups), mdps, sweep.variants, regrets=sweep.regrets,
                         ties=sweep.ties, lp_solver=sweep.lp_solver,
                         horizon=sweep.mc_horizon, n_repeats=sweep.mc_repeats,
                         seed=mc_seeds)
    p, n = sweep.pairs_per_mdp, sweep.n_steps
    rows = (stop - start) * p * n
    out = {"distances": got["distances"].reshape(rows, len(sweep.variants)),
           "mdp": np.repeat(np.arange(start, stop, dtype=np.int64), p * n),
           "pair": np.tile(np.repeat(np.arange(p, dtype=np.int64), n), stop - start),
           "step": np.tile(np.arange(1, n + 1, dtype=np.int64), (stop - start) * p)}
    if "exact" in sweep.regrets:
        out["regret1"] = got["regret1"].reshape(rows)
        out["regret2"] = got["regret2"].reshape(rows)
        out["regret"] = 0.5 * (out["regret1"] + out["regret2"])
    if sweep.regrets:
        # trivial true reward (every policy equally good): regret 0 by convention
        out["trivial1"] = got["trivial1"].reshape(rows)
        out["trivial2"] = got["trivial2"].reshape(rows)
    if "mc" in sweep.regrets:
        raw1 = got["mc_regret_raw1"].reshape(rows)
        raw2 = got["mc_regret_raw2"].reshape(rows)
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
              chunk_size: int | None = None, progress: bool = False) -> SweepResult:
    r"""Run a :class:`~starc.sweep.Sweep` (or a preset name) and gather a
    :class:`~starc.sweep.SweepResult`.

    Parameters
    ----------
    sweep : Sweep or str
        The declaration, or a name of :data:`~starc.sweep.PRESETS`.
    executor : concurrent.futures.Executor, optional
        See :meth:`Sweep.run <starc.sweep.Sweep.run>`.
    chunk_size : int, optional
        MDPs per chunk (default 8).
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    SweepResult
        One row per compared pair (module docs), bit-identical for any ``executor`` and
        ``chunk_size``.

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
