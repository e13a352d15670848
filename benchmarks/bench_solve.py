"""Benchmark the exact tabular solvers of :mod:`starc.solve` against peers.

Measured in one process, with every BLAS/LAPACK pinned to one thread
(``threadpoolctl.threadpool_limits(1)``), on one random MDP (the STARC paper's generator)
and one Gaussian reward:

1. **Optimal policy and values** at S = 256, A = 8, gamma in {0.95, 0.99}: starc against
   quantecon's ``DiscreteDP.solve("policy_iteration")`` (target: ratio <= 1.0) and
   mdptoolbox's ``PolicyIteration`` (for information). All solvers must agree on V* to
   1e-9 of the value scale, or the benchmark fails.
2. **Batched policy evaluation**: ``starc.policy_evaluation`` of 64 rewards at once as a
   ratio to one reward (target <= 3), with the LU factorisation of ``I - gamma P_pi``
   *cold* (computed in the call, as for a new MDP or policy in a sweep) and *warm*
   (cached on the MDP), for transition rewards ``(S, A, S)`` and state-action rewards
   ``(S, A)``, next to the raw memory-read floor of the rewards (``numpy.sum``).

Each contender runs in its own timing loop of ``--repeats`` calls; the loops are repeated
``--rounds`` times in turn (so slow drifts of a shared machine hit all contenders alike)
and the median over all calls is reported. Ratios are ratios of medians.

Every solver gets the same state-action reward :math:`\\bar R(s,a) = \\sum_{s'}
\\tau(s'|s,a) R(s,a,s')` of a Gaussian :math:`R(s,a,s')`; the peers' problem objects are
built outside the loop, while the starc timings include argument validation. Two extra
starc rows: the transition reward :math:`R(s,a,s')` itself (adding the expectation, a
pass over a 4 MiB array), and ``optimal_policy`` followed by ``policy_evaluation`` (both
outputs through the public API; ``optimal_values`` computes the policy too but returns
only :math:`V^*`).

Run::

    python benchmarks/bench_solve.py            # full run, writes benchmarks/results/bench_solve.json
    python benchmarks/bench_solve.py --quick    # a smoke test (small sizes, few repeats)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import output_file, write_json  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
# Import every library that loads a BLAS before pinning the threads: threadpoolctl only
# limits the libraries that are already loaded.
import scipy.linalg  # noqa: E402,F401
from scipy.linalg import lapack  # noqa: E402,F401
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import starc  # noqa: E402

try:
    import quantecon
except ImportError:  # pragma: no cover - quantecon is in the [bench] extra
    quantecon = None
try:
    import hiive.mdptoolbox.mdp as mdptoolbox
except ImportError:  # pragma: no cover
    mdptoolbox = None

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "results", "bench_solve.json")
COMMAND = "python benchmarks/bench_solve.py"

STARC_SA = "starc.optimal_values(R(s,a))"
STARC_SAS = "starc.optimal_values(R(s,a,s'))"
STARC_BOTH = "starc.optimal_policy + policy_evaluation (R(s,a))"
QUANTECON = "quantecon DiscreteDP.solve('policy_iteration')"
MDPTOOLBOX = "mdptoolbox PolicyIteration"


def measure(contenders: dict, repeats: int, rounds: int, warmup: int = 2) -> dict:
    """Time each callable in its own loop; ``rounds`` passes over all of them.

    Returns ``{name: {"median_s", "min_s", "n"}}``.
    """
    samples = {name: [] for name in contenders}
    for f in contenders.values():
        for _ in range(warmup):
            f()
    for _ in range(rounds):
        for name, f in contenders.items():
            for _ in range(repeats):
                t0 = time.perf_counter()
                f()
                samples[name].append(time.perf_counter() - t0)
    return {name: {"median_s": statistics.median(s), "min_s": min(s), "n": len(s)}
            for name, s in samples.items()}


def bench_optimal(n_states: int, n_actions: int, gamma: float, repeats: int, rounds: int):
    mdp = starc.random_mdp(n_states, n_actions, gamma=gamma, seed=0, kind="starc")
    reward = starc.random_reward(mdp, seed=1)  # R(s, a, s')
    t = np.asarray(mdp.transition)
    rbar = np.einsum("sat,sat->sa", reward, t)  # R(s, a), the input every solver gets
    scale = np.abs(rbar).max() / (1.0 - gamma)

    def policy_then_values():
        mdp.memo_clear()  # a first evaluation of pi*: factorise, do not reuse cached LU
        pi = starc.optimal_policy(rbar, mdp)
        return pi, starc.policy_evaluation(rbar, mdp, pi)

    contenders = {
        STARC_SA: lambda: starc.optimal_values(rbar, mdp, return_policy=True),
        STARC_SAS: lambda: starc.optimal_values(reward, mdp),
        STARC_BOTH: policy_then_values,
    }
    reference = {"starc R(s,a)": contenders[STARC_SA]()[0],
                 "starc R(s,a,s')": contenders[STARC_SAS](),
                 "starc policy + evaluation": contenders[STARC_BOTH]()[1]}
    if quantecon is not None:
        ddp = quantecon.markov.DiscreteDP(rbar, t, gamma)
        contenders[QUANTECON] = lambda: ddp.solve("policy_iteration")
        reference["quantecon"] = contenders[QUANTECON]().v
    if mdptoolbox is not None:
        p_asa = np.ascontiguousarray(np.transpose(t, (1, 0, 2)))  # (A, S, S)

        def mdptoolbox_pi():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                solver = mdptoolbox.PolicyIteration(p_asa, rbar, gamma, skip_check=True)
                solver.run()
            return np.asarray(solver.V)

        try:
            reference["mdptoolbox"] = mdptoolbox_pi()
            contenders[MDPTOOLBOX] = mdptoolbox_pi
        except Exception as err:  # noqa: BLE001 - report and go on without the peer
            print(f"mdptoolbox failed: {err!r}", file=sys.stderr)
    disagreement = {name: float(np.max(np.abs(v - reference["starc R(s,a)"])) / scale)
                    for name, v in reference.items()}
    if max(disagreement.values()) > 1e-9:
        raise SystemExit(f"solvers disagree on V* (relative to scale): {disagreement}")
    times = measure(contenders, repeats, rounds)
    return times, disagreement


def bench_batch(n_states: int, n_actions: int, gamma: float, batch: int, repeats: int,
                rounds: int):
    mdp = starc.random_mdp(n_states, n_actions, gamma=gamma, seed=0, kind="starc")
    rewards = starc.random_reward(mdp, seed=2, size=batch)
    one = np.ascontiguousarray(rewards[0])
    sa_rewards = np.ascontiguousarray(rewards[..., 0])
    sa_one = np.ascontiguousarray(sa_rewards[0])

    def cold(r):
        def f():
            mdp.memo_clear()  # drop the cached LU factors: factorise inside the call
            return starc.policy_evaluation(r, mdp)
        return f

    def warm(r):
        return lambda: starc.policy_evaluation(r, mdp)

    contenders = {
        "cold, (S,A,S), 1 reward": cold(one),
        f"cold, (S,A,S), {batch} rewards": cold(rewards),
        "warm, (S,A,S), 1 reward": warm(one),
        f"warm, (S,A,S), {batch} rewards": warm(rewards),
        "cold, (S,A), 1 reward": cold(sa_one),
        f"cold, (S,A), {batch} rewards": cold(sa_rewards),
        "warm, (S,A), 1 reward": warm(sa_one),
        f"warm, (S,A), {batch} rewards": warm(sa_rewards),
        "floor: numpy.sum of 1 (S,A,S) reward": lambda: np.add.reduce(one, axis=None),
        f"floor: numpy.sum of {batch} (S,A,S) rewards": lambda: np.add.reduce(rewards,
                                                                             axis=None),
    }
    # the batch must equal the rewards one by one
    v = starc.policy_evaluation(rewards, mdp)
    for k in (0, batch - 1):
        np.testing.assert_allclose(v[k], starc.policy_evaluation(rewards[k], mdp), rtol=0,
                                   atol=1e-10 * np.abs(rewards).max() / (1 - gamma))
    return measure(contenders, repeats, rounds)


def _row(name, measured, target, note=""):
    ok = None if target is None else bool(measured <= target)
    return {"benchmark": name, "measured": measured, "target": target, "pass": ok,
            "note": note}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="calls per timing loop")
    parser.add_argument("--rounds", type=int, default=5, help="passes over all contenders")
    parser.add_argument("--states", type=int, default=256)
    parser.add_argument("--actions", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few repeats (a smoke test, not a measurement)")
    parser.add_argument("--output", type=output_file, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.states, args.actions, args.repeats, args.rounds = 32, 4, 2, 1
    n, m, k = args.states, args.actions, args.batch

    rows, raw = [], {}
    with threadpool_limits(limits=1):
        blas = [{"api": i.get("internal_api"), "version": i.get("version"),
                 "threads": i.get("num_threads")} for i in threadpool_info()]
        for gamma in (0.95, 0.99):
            times, disagreement = bench_optimal(n, m, gamma, args.repeats, args.rounds)
            raw[f"optimal gamma={gamma}"] = {"times": times, "max_abs_diff_over_scale":
                                             disagreement}
            for peer, target in ((QUANTECON, 1.0), (MDPTOOLBOX, None)):
                if peer not in times:
                    continue
                theirs = times[peer]["median_s"]
                short = peer.split()[0]
                for ours, label, tgt in ((STARC_SA, "optimal_values(return_policy=True) R(s,a)", target),
                                         (STARC_SAS, "optimal_values R(s,a,s')", None),
                                         (STARC_BOTH, "optimal_policy + policy_evaluation",
                                          None)):
                    if tgt is None and peer == MDPTOOLBOX and ours != STARC_SA:
                        continue
                    mine = times[ours]["median_s"]
                    rows.append(_row(f"{label} / {short} PI, S={n} A={m} gamma={gamma}",
                                     mine / theirs, tgt,
                                     f"{mine * 1e3:.2f} ms vs {theirs * 1e3:.2f} ms"))
        times = bench_batch(n, m, 0.95, k, args.repeats, args.rounds)
        raw["batch evaluation"] = {"times": times}

    def med(name):
        return times[name]["median_s"]

    for temp in ("cold", "warm"):
        for form in ("(S,A,S)", "(S,A)"):
            single, many = med(f"{temp}, {form}, 1 reward"), med(f"{temp}, {form}, {k} rewards")
            rows.append(_row(f"policy_evaluation {k} rewards / 1, {temp} LU, {form}, S={n} A={m}",
                             many / single, 3.0 if temp == "cold" else None,
                             f"{many * 1e3:.2f} ms vs {single * 1e3:.3f} ms"))
    floor_one = med("floor: numpy.sum of 1 (S,A,S) reward")
    floor_many = med(f"floor: numpy.sum of {k} (S,A,S) rewards")
    rows.append(_row(f"memory floor: numpy.sum of {k} (S,A,S) rewards / 1", floor_many / floor_one,
                     None, f"{floor_many * 1e3:.2f} ms vs {floor_one * 1e3:.3f} ms"))
    rows.append(_row(f"policy_evaluation {k} (S,A,S) rewards, warm / memory floor",
                     med(f"warm, (S,A,S), {k} rewards") / floor_many, None,
                     "how close the batch is to one read of its input"))

    width = max(len(r["benchmark"]) for r in rows)
    print(f"starc {starc.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"quantecon {getattr(quantecon, '__version__', '-')}; BLAS pinned to 1 thread; "
          f"median of {args.rounds} x {args.repeats} calls")
    print(f"{'benchmark':<{width}}  {'measured':>9}  {'target':>7}  result  detail")
    for r in rows:
        target = "-" if r["target"] is None else f"<= {r['target']:g}"
        verdict = "-" if r["pass"] is None else ("ok" if r["pass"] else "MISS")
        print(f"{r['benchmark']:<{width}}  {r['measured']:9.3f}  {target:>7}  {verdict:<6}  "
              f"{r['note']}")

    write_json(args.output,
               {"benchmark": "bench_solve", "command": COMMAND,
                "quick": args.quick, "states": n, "actions": m, "batch": k,
                "repeats": args.repeats, "rounds": args.rounds,
                "machine": {"python": platform.python_version(),
                            "platform": platform.platform(),
                            "processor": platform.processor(), "cpus": os.cpu_count()},
                "versions": {"starc": starc.__version__, "numpy": np.__version__,
                             "scipy": scipy.__version__,
                             "quantecon": getattr(quantecon, "__version__", None)},
                "blas": blas, "rows": rows, "raw": raw},
               shown=os.path.relpath(args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
