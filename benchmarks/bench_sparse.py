"""Benchmark starc on large sparse MDPs: a million-state slippery grid world.

Every measurement runs in its own Python process (``--worker``), so each has its own peak
memory and no contender inherits another's caches; BLAS/LAPACK are pinned to one thread
in every process (``threadpoolctl.threadpool_limits(1)``, after importing every library
that loads one). The timed call runs without tracing; the step is then repeated (the
MDP's memo cleared) under ``tracemalloc`` for the memory. Peak memory is reported twice:
``tracemalloc``'s peak of the Python and numpy allocations made by the measured step, and the process's peak resident set size
(``VmHWM`` from ``/proc/self/status``, else ``resource.getrusage``; interpreter and
libraries included; it also counts SuperLU's C allocations, which tracemalloc cannot see).

1. **S = 10^6** (``gridworld(1000, 1000, slip=0.1, sparse=True)``, A = 4, 12 million
   nonzeros): the build; VAL(L2, L2) — ``starc_distance(r1, r2, mdp,
   canonicalization="val", normalization="l2", metric="l2")`` — between two ``(S, A)``
   rewards; ``optimal_policy`` (with its certificate); ``regret``. Targets (issue 18): build
   <= 10 s, distance <= 30 s, optimal policy <= 60 s, regret <= 2 x the optimal policy,
   peak <= 4 GB.
2. **quantecon** ``DiscreteDP`` in its state-action-pair form (``s_indices``,
   ``a_indices``, a sparse ``Q``) on the same grid at S ~ 10^5 (316 x 316):
   ``solve("policy_iteration")`` against ``starc.optimal_policy``, in separate processes,
   ratio starc / quantecon (target <= 1.0); the Bellman residual
   :math:`\\lVert TV - V\\rVert_\\infty` of both answers, computed here independently, next
   to starc's certified bound.
3. **Scaling**: build and optimal policy at S = 10^4, 10^5, 10^6: time, memory, nonzeros.

The rewards: ``r1`` is a seeded standard-normal ``(S, A)`` reward and ``r2 = r1 + 0.5 *
noise + potential shaping`` (a perturbed, reshaped proxy). A goal-only reward would make
policy iteration take as many iterations as the grid's diameter (values beyond the goal's
neighbourhood tie and policies change one ring per iteration) — a property of the
algorithm on that reward, not of sparse linear algebra, so it is not what is timed here.

Run::

    python benchmarks/bench_sparse.py            # full run (minutes), writes
                                                 # benchmarks/results/bench_sparse.json
    python benchmarks/bench_sparse.py --quick    # a smoke test (S = 10^4 at most)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import output_file, write_json  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.linalg  # noqa: E402,F401
import scipy.sparse  # noqa: E402
import scipy.sparse.linalg  # noqa: E402,F401
from threadpoolctl import threadpool_limits  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_OUTPUT = os.path.join(HERE, "results", "bench_sparse.json")
COMMAND = "python benchmarks/bench_sparse.py"
GAMMA = 0.95
SLIP = 0.1
TASKS = ("build", "distance", "optimal", "regret", "quantecon")


# ------------------------------------------------------------------------- worker side


def _rss_bytes() -> int:
    """Peak resident set size of this process: ``VmHWM`` of /proc/self/status on Linux
    (reset by ``exec``, unlike ``ru_maxrss``, which keeps the parent's peak across it), else
    ``resource.getrusage(RUSAGE_SELF).ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if sys.platform == "darwin" else 1024)


def _rewards(n_states: int, n_actions: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    r1 = rng.standard_normal((n_states, n_actions))
    return r1, rng


def _proxy(mdp, r1, rng):
    """r1 + 0.5 N(0, 1) + gamma * E[phi(s')] - phi(s): perturbed and potential-shaped."""
    s, a = r1.shape
    phi = rng.standard_normal(s)
    shaped = mdp.gamma * (mdp.transition @ phi).reshape(s, a) - phi[:, None]
    return r1 + 0.5 * rng.standard_normal((s, a)) + shaped


def _bellman_residual(transition, reward, gamma, v):
    """||T v - v||_inf with T v(s) = max_a r(s, a) + gamma sum_s' P(s'|s,a) v(s')."""
    s, a = reward.shape
    q = reward + gamma * (transition @ v).reshape(s, a)
    return float(np.max(np.abs(q.max(axis=1) - v)))


def _certificate_dict(cert) -> dict:
    if cert is None:
        return {}
    out = {}
    for name in ("method", "ordering", "fill", "iterations", "residual_inf", "error_bound",
                 "value_scale", "tolerance", "bellman_residual", "policy_loss_bound"):
        value = getattr(cert, name, None)
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        if value is None or isinstance(value, (int, float, str, bool)):
            out[name] = value
    return out


def _measure(fn, reset=None):
    """(seconds, result, tracemalloc peak bytes): the first call timed, untraced
    (tracemalloc slows every allocation, more so in threads: starc.regret runs its
    policy iterations concurrently on large MDPs); then ``reset()`` (e.g. clearing the
    MDP's memo) and a second, traced call for the peak."""
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    if reset is not None:
        reset()
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, out, peak


def run_worker(task: str, side: int) -> dict:
    """One measurement in this process; returns a JSON-able dict."""
    threadpool_limits(limits=1)
    sys.path.insert(0, ROOT)
    import starc

    def build():
        return starc.gridworld(side, side, slip=SLIP, gamma=GAMMA, sparse=True)

    result = {"task": task, "side": side, "n_states": side * side, "n_actions": 4}
    if task == "build":
        seconds, env, peak = _measure(build)
        result.update(seconds=seconds, tracemalloc_peak=peak, nnz=int(env.mdp.transition.nnz))
        result["rss_peak"] = _rss_bytes()
        return result
    env = build()
    mdp = env.mdp
    r1, rng = _rewards(mdp.n_states, mdp.n_actions)
    result["nnz"] = int(mdp.transition.nnz)
    if task == "distance":
        r2 = _proxy(mdp, r1, rng)
        seconds, d, peak = _measure(lambda: starc.starc_distance(
            r1, r2, mdp, canonicalization="val", normalization="l2", metric="l2"),
            mdp.memo_clear)
        result.update(seconds=seconds, tracemalloc_peak=peak, distance=float(d))
    elif task == "optimal":
        seconds, out, peak = _measure(lambda: starc.optimal_policy(r1, mdp, certificate=True),
                                     mdp.memo_clear)
        pi, cert = out
        # the certified values of the same policy iteration (untimed; the same
        # deterministic computation), checked here independently of the certificate
        v, pi_again = starc.optimal_values(r1, mdp, return_policy=True)
        if not np.array_equal(pi, pi_again):
            raise SystemExit("optimal_values and optimal_policy disagree on the policy")
        result.update(seconds=seconds, tracemalloc_peak=peak,
                      certificate=_certificate_dict(cert),
                      bellman_residual=_bellman_residual(mdp.transition, r1, GAMMA, v),
                      value_scale=float(np.max(np.abs(v))))
    elif task == "regret":
        r2 = _proxy(mdp, r1, rng)
        seconds, reg, peak = _measure(lambda: starc.regret(r1, r2, mdp), mdp.memo_clear)
        result.update(seconds=seconds, tracemalloc_peak=peak, regret=float(reg))
    elif task == "quantecon":
        from quantecon.markov import DiscreteDP

        n, m = mdp.n_states, mdp.n_actions
        s_idx = np.repeat(np.arange(n), m)
        a_idx = np.tile(np.arange(m), n)
        q = scipy.sparse.csr_matrix(mdp.transition)   # rows (s, a) in lexicographic order
        ddp = DiscreteDP(r1.reshape(-1), q, GAMMA, s_idx, a_idx)
        seconds, res, peak = _measure(lambda: ddp.solve("policy_iteration"))
        result.update(seconds=seconds, tracemalloc_peak=peak, iterations=int(res.num_iter),
                      bellman_residual=_bellman_residual(mdp.transition, r1, GAMMA,
                                                         np.asarray(res.v)),
                      value_scale=float(np.max(np.abs(res.v))),
                      sigma_sha=_digest(np.asarray(res.sigma)))
    else:
        raise SystemExit(f"unknown task {task!r}")
    if task == "optimal":
        result["sigma_sha"] = _digest(np.asarray(pi))
    result["rss_peak"] = _rss_bytes()
    return result


def _digest(pi: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(pi, dtype=np.int64).tobytes()).hexdigest()[:16]


# --------------------------------------------------------------------------- main side


def spawn(task: str, side: int, timeout: float) -> dict:
    """Run one worker process and return its JSON result (or an error record)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", task, "--side", str(side)]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"task": task, "side": side, "error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"task": task, "side": side,
                "error": (proc.stderr.strip().splitlines() or ["?"])[-1],
                "wall_s": time.perf_counter() - t0}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _gib(x) -> str:
    return "-" if x is None else f"{x / 2**30:.2f}"


def _sec(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--output", type=output_file, default=DEFAULT_OUTPUT)
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds allowed to each worker process")
    parser.add_argument("--headline", default="build,distance,optimal,regret",
                        help="comma-separated steps measured at S = 10^6 (default: all "
                             "four); the others are reported as not measured")
    parser.add_argument("--worker", choices=TASKS, help=argparse.SUPPRESS)
    parser.add_argument("--side", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.side)))
        return 0

    big = 100 if args.quick else 1000           # S = 10^4 / 10^6
    mid = 32 if args.quick else 316             # S ~ 10^3 / 10^5 (quantecon)
    sides = (32, 100) if args.quick else (100, 316, 1000)
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    given = list(sys.argv[1:] if argv is None else argv)
    shown = [a for k, a in enumerate(given)            # the command, without --output PATH
             if a != "--output" and not a.startswith("--output=")
             and not (k > 0 and given[k - 1] == "--output")]
    results: dict = {"command": " ".join([COMMAND] + shown),
                     "quick": args.quick, "gamma": GAMMA, "slip": SLIP,
                     "python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "machine": platform.machine(),
                     "cpus": os.cpu_count(), "loadavg_before": load,
                     "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}

    # 1. the big grid: build, distance, optimal policy, regret
    wanted = {t.strip() for t in args.headline.split(",") if t.strip()}
    unknown = wanted - {"build", "distance", "optimal", "regret"}
    if unknown:
        parser.error(f"--headline: unknown steps {sorted(unknown)}")
    results["complete"] = False        # the JSON is rewritten after each measurement
    headline = results["headline"] = {}
    for task in ("build", "distance", "optimal", "regret"):
        headline[task] = (spawn(task, big, args.timeout) if task in wanted else
                          {"task": task, "side": big, "error": "not measured (--headline)"})
        write_json(args.output, results, shown=f"{args.output} (after {task})")
    # 2. quantecon against starc at S ~ 10^5, separate processes
    import importlib.util

    # not imported here: quantecon imports numba, and this process must stay small
    have_quantecon = importlib.util.find_spec("quantecon") is not None
    versus = results["quantecon"] = {"starc": spawn("optimal", mid, args.timeout)}
    if have_quantecon:
        versus["quantecon"] = spawn("quantecon", mid, args.timeout)
    write_json(args.output, results, shown=f"{args.output} (after quantecon)")
    # 3. scaling
    scaling = []
    for side in sides:
        if side == big:
            b, o = headline["build"], headline["optimal"]
        elif side == mid:
            b, o = spawn("build", side, args.timeout), versus["starc"]
        else:
            b, o = spawn("build", side, args.timeout), spawn("optimal", side, args.timeout)
        scaling.append({"side": side, "n_states": side * side, "build": b, "optimal": o})
    results["scaling"] = scaling
    results["complete"] = True
    try:
        results["loadavg_after"] = os.getloadavg()
    except OSError:
        pass

    # ---- report
    print(f"starc on a slippery grid world (slip {SLIP}, gamma {GAMMA}); one process per "
          f"measurement, BLAS on one thread; load average before {load}")
    print(f"\nS = {big * big:,} ({big} x {big}), A = 4:")
    print(f"{'step':<42}{'seconds':>9}{'tracemalloc GiB':>17}{'RSS GiB':>9}")
    for task, label in (("build", "build (gridworld(..., sparse=True))"),
                        ("distance", "VAL(L2, L2) distance, two (S, A) rewards"),
                        ("optimal", "optimal_policy (certificate=True)"),
                        ("regret", "regret(r1, r2)")):
        r = headline[task]
        if "error" in r:
            print(f"{label:<42} failed: {r['error']}")
            continue
        print(f"{label:<42}{_sec(r.get('seconds')):>9}{_gib(r.get('tracemalloc_peak')):>17}"
              f"{_gib(r.get('rss_peak')):>9}")
    opt, reg = headline["optimal"], headline["regret"]
    if "seconds" in opt and "seconds" in reg:
        print(f"regret / optimal policy time: {reg['seconds'] / opt['seconds']:.2f} "
              "(target <= 2)")
    if "certificate" in opt:
        print(f"certificate: {opt['certificate']}; Bellman residual checked here: "
              f"{opt['bellman_residual']:.3g}")
    s, q = versus.get("starc", {}), versus.get("quantecon", {})
    print(f"\nquantecon DiscreteDP (s_indices, a_indices, sparse Q) at S = {mid * mid:,}:")
    if "seconds" in s and "seconds" in q:
        ratio = s["seconds"] / q["seconds"]
        results["quantecon"]["ratio_starc_over_quantecon"] = ratio
        print(f"  starc optimal_policy {s['seconds']:.2f} s, quantecon policy_iteration "
              f"{q['seconds']:.2f} s ({q['iterations']} iterations): ratio {ratio:.2f} "
              "(target <= 1.0)")
        print(f"  Bellman residual ||TV - V||_inf: starc {s['bellman_residual']:.3g}, "
              f"quantecon {q['bellman_residual']:.3g}; starc's certified bound "
              f"{s.get('certificate', {}).get('error_bound')}; same policy: "
              f"{s.get('sigma_sha') == q.get('sigma_sha')}")
    else:
        print(f"  not compared: starc {s.get('error', 'ok')}, quantecon "
              f"{q.get('error', 'not installed' if not have_quantecon else 'ok')}")
    print(f"\nscaling:\n{'S':>10}{'nnz':>12}{'build s':>9}{'build RSS GiB':>15}"
          f"{'optimal s':>11}{'optimal RSS GiB':>17}")
    for row in scaling:
        b, o = row["build"], row["optimal"]
        print(f"{row['n_states']:>10,}{b.get('nnz', 0):>12,}{_sec(b.get('seconds')):>9}"
              f"{_gib(b.get('rss_peak')):>15}{_sec(o.get('seconds')):>11}"
              f"{_gib(o.get('rss_peak')):>17}")
    write_json(args.output, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
