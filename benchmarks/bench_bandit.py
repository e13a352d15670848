"""Speed of starc.bandit on reward-model-sized score tables, as ratios measured in one run.

Measures, with BLAS pinned to one thread (threadpoolctl):

1. ``starc.bandit.distance`` (mean canonical, L2, L2) between two ragged score arrays of
   n = 100,000 prompts x m = 16 responses (8-16 valid per prompt): median time (target
   <= 50 ms) and its ratio to the read floor -- one numpy pass over two arrays of the
   same shape (``np.add.reduce`` of the scores with the padding set to 0; the distance
   also reads the mask, 1/16 of those bytes) timed in interleaved rounds in the same run
   (target <= 3x). numba's threads: ``NUMBA_NUM_THREADS`` (the result does not depend on
   it); numpy's reduction runs on one thread.
2. ``starc.bandit.worst_case_regret`` (the exact parametric sweep) at the same size
   (target <= 1 s), and its speed-up over ``method="lp"`` (HiGHS on the primal LP over
   the product of simplices) at n = 2,000 prompts (target >= 100x).
3. ``starc.bandit.from_frame`` of a 1.6-million-row long table (100,000 prompts x 16
   responses, shuffled; two float score columns) held in a pandas DataFrame (target
   <= 2 s).

Run ``python benchmarks/bench_bandit.py [--quick]``; writes
``benchmarks/results/bench_bandit.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np
import scipy.linalg  # noqa: F401 - load scipy's BLAS before threadpoolctl pins it
import scipy.optimize  # noqa: F401

import starc
from starc import bandit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import median_time, write_json  # noqa: E402


def ragged(n: int, m: int, seed: int):
    """Two correlated (n, m) score arrays with 8..m valid responses per prompt (NaN padding)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(min(8, m), m + 1, n)
    mask = np.arange(m)[None, :] < counts[:, None]
    r1 = rng.standard_normal((n, m))
    r2 = r1 + rng.standard_t(3, (n, m)) + rng.standard_normal((n, 1))
    r1[~mask] = np.nan
    r2[~mask] = np.nan
    return r1, r2, mask


def long_frame(n: int, m: int, seed: int):
    """A shuffled long table of n * m rows: prompt, response, two float scores."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    order = rng.permutation(n * m)
    return pd.DataFrame({"prompt": (np.arange(n * m) // m)[order],
                         "response": (np.arange(n * m) % m)[order],
                         "gold": rng.standard_normal(n * m),
                         "rm": rng.standard_normal(n * m)})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and fewer repeats (a smoke test, not the targets)")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results",
                                                         "bench_bandit.json"))
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    results = {"machine": platform.platform(), "python": platform.python_version(),
               "numpy": np.__version__, "starc": starc.__version__, "quick": args.quick,
               "blas_threads": 1, "rows": []}
    rows = results["rows"]

    def report(name, measured, unit, target=None, ratio=None, note=""):
        rows.append({"benchmark": name, "measured": measured, "unit": unit, "target": target,
                     "ratio": ratio, "note": note})
        target_s = "" if target is None else f"(target {target})"
        print(f"{name:<60} {measured:>10.4g} {unit:<3} {target_s} {note}")

    n = 10_000 if args.quick else 100_000
    m = 16
    repeat = 5 if args.quick else 21
    with threadpool_limits(1):
        # 1. distance against the read floor
        r1, r2, mask = ragged(n, m, seed=0)
        a1, a2 = np.where(mask, r1, 0.0), np.where(mask, r2, 0.0)   # what the floor reads

        def floor():
            return float(a1.sum()) + float(a2.sum())

        bandit.distance(r1, r2, mask=mask)   # warm-up: numba compiles (or loads) its kernel
        t_dist, t_floor = [], []
        for _ in range(repeat):   # interleaved rounds: both see the same machine load
            t_dist.append(median_time(lambda: bandit.distance(r1, r2, mask=mask), 1))
            t_floor.append(median_time(floor, 3))
        t_dist, t_floor = float(np.median(t_dist)), float(np.median(t_floor))
        d = bandit.distance(r1, r2, mask=mask)
        report(f"distance n={n} m={m} ragged (mean, L2, L2), median", t_dist * 1e3, "ms",
               "<= 50 ms", note=f"d={d:.4f}")
        report("  distance / read floor (one numpy pass over both arrays)", t_dist / t_floor,
               "x", "<= 3", ratio=t_dist / t_floor, note=f"floor {t_floor * 1e3:.2f} ms")

        # 2. worst-case regret, and the parametric sweep against the LP
        t_wcr = median_time(lambda: bandit.worst_case_regret(r1, r2, mask=mask),
                            3 if args.quick else 5, warmup=1)
        wcr = bandit.worst_case_regret(r1, r2, mask=mask)
        report(f"worst_case_regret n={n} m={m} ragged, median", t_wcr, "s", "<= 1 s",
               note=f"wcr={wcr:.4f}")
        n_lp = 500 if args.quick else 2_000
        s1, s2, smask = ragged(n_lp, m, seed=1)
        t_par = median_time(lambda: bandit.worst_case_regret(s1, s2, mask=smask), 11, warmup=1)
        t_lp = median_time(lambda: bandit.worst_case_regret(s1, s2, mask=smask, method="lp"),
                           3, warmup=1)
        w_par = bandit.worst_case_regret(s1, s2, mask=smask)
        w_lp = bandit.worst_case_regret(s1, s2, mask=smask, method="lp")
        if not abs(w_par - w_lp) <= 1e-7:
            raise SystemExit(f"parametric and LP worst-case regret disagree: {w_par} vs {w_lp}")
        report(f"worst_case_regret n={n_lp} m={m}: method='lp' / parametric", t_lp / t_par, "x",
               ">= 100", ratio=t_lp / t_par,
               note=f"lp {t_lp:.3g} s, parametric {t_par * 1e3:.3g} ms")

        # 3. from_frame of a long table
        frame = long_frame(n, m, seed=2)
        t_frame = median_time(lambda: bandit.from_frame(frame, rewards=["gold", "rm"]),
                              3 if args.quick else 5, warmup=1)
        report(f"from_frame, pandas, {len(frame):,} rows (shuffled)", t_frame, "s", "<= 2 s")

    write_json(args.output, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
