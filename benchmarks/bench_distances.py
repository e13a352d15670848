"""Speed of the STARC distances, as ratios measured in one run.

Measures, with BLAS pinned to one thread (threadpoolctl):

1. VAL(L2, L2) between two rewards at S=32, A=4 through the public API
   (target: median <= 0.1 ms), against a straightforward numpy implementation
   (dense solve, full (S, A, S) canonical arrays) measured in the same run.
2. ``pairwise_distances`` of K=256 rewards at S=32, A=4 (target <= 50 ms), against
   K^2/2 calls of the straightforward implementation.
3. VAL distance at S=2048, A=8 (268 MB per array) as a ratio to the hardware floor —
   reading R1, R2 and P once plus one S x S LU factorisation (target <= 3) — and its
   peak extra memory (tracemalloc) as a ratio to the inputs (target <= 3).
4. DARD distance at S=512, A=8 (target <= 10 s).
5. The MinimalPotential-L1 canonical of one reward at S=32, A=4 (the compact dual LP by
   HiGHS), against the cvxpy solve of the full primal measured in the same run.

Run ``python benchmarks/bench_distances.py [--quick]``; writes
``benchmarks/results/bench_distances.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc

import numpy as np
import scipy.linalg  # noqa: F401 - load scipy's BLAS before threadpoolctl pins it
import scipy.optimize  # noqa: F401

import starc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import median_time, output_file, write_json  # noqa: E402


def naive_val_distance(r1, r2, mdp):
    """VAL(L2, L2) written the obvious way: dense solve, full (S, A, S) arrays."""
    t, g = mdp.transition, mdp.gamma
    n, m, _ = t.shape
    pi = np.full((n, m), 1.0 / m)
    p_pi = np.einsum("sa,sat->st", pi, t)
    out = []
    for r in (r1, r2):
        r_pi = np.einsum("sa,sat,sat->s", pi, t, r)
        v = np.linalg.solve(np.eye(n) - g * p_pi, r_pi)
        c = np.einsum("sat,sat->sa", t, r + g * v[None, None, :])[:, :, None] - v[:, None, None]
        c = np.broadcast_to(c, t.shape)
        out.append(c / np.linalg.norm(c))
    return np.linalg.norm(out[0] - out[1])


def floor_read_and_lu(r1, r2, t):
    """One pass over R1, R2 and P (a sum each) plus one S x S LU: the hardware floor."""
    import scipy.linalg

    n = t.shape[0]
    t0 = time.perf_counter()
    total = float(r1.sum()) + float(r2.sum()) + float(t.sum())
    a = np.eye(n) - 0.5 * t[:, 0, :]
    scipy.linalg.lu_factor(a, overwrite_a=True, check_finite=False)
    return time.perf_counter() - t0, total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and fewer repeats (a smoke test, not the targets)")
    parser.add_argument("--output", type=output_file,
                        default=os.path.join(os.path.dirname(__file__), "results",
                                             "bench_distances.json"))
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    results = {"machine": platform.platform(), "python": platform.python_version(),
               "numpy": np.__version__, "starc": starc.__version__, "quick": args.quick,
               "blas_threads": 1, "rows": []}
    rows = results["rows"]

    def report(name, measured, unit, target=None, ratio=None, note=""):
        row = {"benchmark": name, "measured": measured, "unit": unit, "target": target,
               "ratio": ratio, "note": note}
        rows.append(row)
        target_s = "" if target is None else f"(target {target})"
        ratio_s = "" if ratio is None else f"ratio {ratio:.3g}"
        print(f"{name:<58} {measured:>10.4g} {unit:<3} {ratio_s:<14} {target_s} {note}")

    with threadpool_limits(1):
        # 1. single distance at S=32, A=4
        mdp = starc.random_mdp(32, 4, seed=0)
        r1, r2 = starc.random_reward(mdp, seed=1, size=2)
        repeat = 200 if args.quick else 3000
        t_api = median_time(lambda: starc.starc_distance(r1, r2, mdp), repeat, warmup=3)
        t_naive = median_time(lambda: naive_val_distance(r1, r2, mdp), repeat // 5,
                              warmup=3)
        assert abs(starc.starc_distance(r1, r2, mdp) - naive_val_distance(r1, r2, mdp)) < 1e-10
        report("VAL(L2,L2) S=32 A=4, public API, median", t_api * 1e3, "ms", "<= 0.1 ms")
        report("  starc / straightforward numpy", t_api / t_naive, "x", ratio=t_api / t_naive)

        # 2. pairwise distances, K = 256
        k = 64 if args.quick else 256
        rewards = starc.random_reward(mdp, seed=2, size=k)
        t_pair = median_time(lambda: starc.pairwise_distances(rewards, mdp),
                             5 if args.quick else 20, warmup=3)
        t_one_naive = t_naive
        naive_pairs = t_one_naive * k * (k - 1) / 2
        report(f"pairwise_distances K={k} S=32 A=4", t_pair * 1e3, "ms", "<= 50 ms")
        report("  starc / (K^2/2 straightforward calls, extrapolated)", t_pair / naive_pairs,
               "x", ratio=t_pair / naive_pairs)

        # 3. big single MDP
        n_big = 512 if args.quick else 2048
        big = starc.random_mdp(n_big, 8, seed=3)
        b1, b2 = starc.random_reward(big, seed=4, size=2)
        input_bytes = b1.nbytes + b2.nbytes + big.transition.nbytes
        floor = min(floor_read_and_lu(b1, b2, big.transition)[0] for _ in range(3))
        tracemalloc.start()
        t0 = time.perf_counter()
        d_big = starc.starc_distance(b1, b2, big)
        first = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        t_big = min(first, median_time(lambda: starc.starc_distance(b1, b2, big), 3, warmup=0))
        # a fresh MDP object so the cached LU is not reused: the honest single-call cost
        big_fresh = starc.TabularMDP(big.transition, big.gamma)
        t0 = time.perf_counter()
        starc.starc_distance(b1, b2, big_fresh)
        t_cold = time.perf_counter() - t0
        report(f"VAL distance S={n_big} A=8, first call (LU included)", t_cold, "s",
               ratio=t_cold / floor, note=f"d={d_big:.4f}")
        report("  first call / (read R1, R2, P once + one LU)", t_cold / floor, "x", "<= 3",
               ratio=t_cold / floor)
        report("  repeated call (LU cached) / floor", t_big / floor, "x", ratio=t_big / floor)
        report("  peak extra memory / inputs", peak / input_bytes, "x", "<= 3",
               ratio=peak / input_bytes, note=f"inputs {input_bytes / 2**20:.0f} MiB")

        # 4. DARD at S=512
        n_dard = 128 if args.quick else 512
        dm = starc.random_mdp(n_dard, 8, seed=5)
        d1, d2 = starc.random_reward(dm, seed=6, size=2)
        t0 = time.perf_counter()
        starc.dard_distance(d1, d2, dm)
        t_dard = time.perf_counter() - t0
        report(f"DARD distance S={n_dard} A=8", t_dard, "s", "<= 10 s")

        # 5. MinimalPotential-L1: the dual LP (HiGHS) against cvxpy's primal
        from starc.canonical import _minimal_potential_cvxpy, _minimal_potential_lp

        lp_rewards = starc.random_reward(mdp, seed=7, size=2 if args.quick else 5)
        t_lp = median_time(lambda: _minimal_potential_lp(lp_rewards, mdp, "l1"), 3,
                           warmup=1) / len(lp_rewards)
        t_cvxpy = median_time(lambda: _minimal_potential_cvxpy(lp_rewards, mdp, "l1"), 1,
                              warmup=1) / len(lp_rewards)
        l1 = [starc.norm(f(lp_rewards, mdp, "l1"), "l1")
              for f in (_minimal_potential_lp, _minimal_potential_cvxpy)]
        report("MinimalPotential-L1 canonical S=32 A=4, per reward", t_lp * 1e3, "ms",
               note=f"max |L1 optimum - cvxpy's| / optimum "
                    f"{np.max(np.abs(l1[0] - l1[1]) / l1[1]):.1e}")
        report("  dual LP (HiGHS) / cvxpy primal", t_lp / t_cvxpy, "x", ratio=t_lp / t_cvxpy)

    write_json(args.output, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
