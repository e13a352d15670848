"""Speed of the regret computations, measured in one run with BLAS pinned to one thread.

1. ``worst_case_regret`` at S=32, A=4 (target <= 50 ms) and at S=256, A=8 (target <= 2 s),
   both methods — ``"parametric"`` (the LP's Lagrangian dual, by policy iteration) and
   ``"lp"`` (cvxpy + HiGHS; the first call on an MDP compiles the parametrised LP) —
   against scipy's ``linprog`` (HiGHS) solving the same LP from scratch.
2. Exact optimal-policy ``regret`` at S=32, A=4 (three policy iterations).

Run ``python benchmarks/bench_regret.py [--quick]``; writes
``benchmarks/results/bench_regret.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import output_file, timed, write_json  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402,F401 - load scipy's BLAS before threadpoolctl pins it
import scipy.optimize  # noqa: E402,F401

import starc  # noqa: E402
from starc.regret import _occupancy_constraints  # noqa: E402


def linprog_worst_case(r1, r2, mdp, lo, hi):
    from scipy.optimize import OptimizeWarning, linprog

    rb1 = starc.expected_reward(r1, mdp).ravel()
    rb2 = starc.expected_reward(r2, mdp).ravel()
    a, b = _occupancy_constraints(mdp)
    z = np.zeros_like(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        res = linprog(-np.concatenate([rb1, -rb1]) / (hi - lo),
                      A_ub=np.concatenate([rb2, -rb2])[None, :] / np.abs(rb2).max(),
                      b_ub=[0.0], A_eq=np.block([[a, z], [z, a]]), b_eq=np.concatenate([b, b]),
                      bounds=(0, None), method="highs", options={"small_matrix_value": 1e-12})
    return -res.fun


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=output_file,
                        default=os.path.join(os.path.dirname(__file__), "results",
                                             "bench_regret.json"))
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    rows = []

    def report(name, value, unit, target="", note=""):
        rows.append({"benchmark": name, "measured": value, "unit": unit, "target": target,
                     "note": note})
        print(f"{name:<52} {value:>10.4g} {unit:<3} {target:<12} {note}")

    starc.worst_case_regret(*starc.random_reward(starc.random_mdp(4, 2, seed=0), seed=0,
                                                 size=2), starc.random_mdp(4, 2, seed=0))
    sizes = [(32, 4, "<= 50 ms"), (64 if args.quick else 256, 8, "<= 2 s")]
    with threadpool_limits(1):
        for n, m, target in sizes:
            mdp = starc.random_mdp(n, m, seed=1)
            rewards = starc.random_reward(mdp, seed=2, size=(4, 2))
            lo, hi = starc.policy_value_range(rewards[0, 0], mdp)
            t_lp, ref = timed(lambda: linprog_worst_case(rewards[0, 0], rewards[0, 1], mdp,
                                                         lo, hi))
            unit, scale = ("ms", 1e3) if n <= 64 else ("s", 1.0)
            for method in ("parametric", "lp"):
                first, wcr = timed(lambda: starc.worst_case_regret(
                    rewards[0, 0], rewards[0, 1], mdp, method=method))
                later = [timed(lambda r=r: starc.worst_case_regret(r[0], r[1], mdp,
                                                                   method=method))[0]
                         for r in rewards[1:]]
                med = float(np.median(later))
                report(f"worst_case_regret({method}) S={n} A={m}, first call", first * scale,
                       unit, target)
                report(f"worst_case_regret({method}) S={n} A={m}, median", med * scale, unit,
                       target)
                report(f"  {method} / scipy linprog (same LP, from scratch)", med / t_lp, "x",
                       note=f"|starc - linprog| = {abs(wcr - ref):.1e}")
        mdp = starc.random_mdp(32, 4, seed=3)
        r1, r2 = starc.random_reward(mdp, seed=4, size=2)
        starc.regret(r1, r2, mdp)
        t = min(timed(lambda: starc.regret(r1, r2, mdp))[0] for _ in range(20))
        report("regret (exact) S=32 A=4, best of 20", t * 1e3, "ms")

    write_json(args.output, {"machine": platform.platform(), "starc": starc.__version__,
                             "quick": args.quick, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
