"""Benchmark the STARC Figure 1 sweep: starc.batch kernels against the public numpy path.

Measures, on this machine, in one run:

0. **Cold start and warm start of the command itself**: ``starc sweep --preset P`` run as a
   whole process from the shell (``python -m starc sweep ...``, interpreter start-up,
   imports, numba compilation or cache loading, the sweep and writing its result file).
   *Cold*: each of two runs in its own process with its own fresh, empty
   ``NUMBA_CACHE_DIR``; *warm*: two more processes sharing a cache that a first
   (untimed) run filled. Threads as the sweep normally runs: numba's default thread pool
   (``NUMBA_NUM_THREADS`` = the number of cores unless set), BLAS pinned to one thread
   (``OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=OMP_NUM_THREADS=1``). Targets (issue 17): cold
   <= 20 s, warm <= 6 s for ``starc-paper`` on two cores. Each run also reports its CPU
   seconds (user + system, all threads): on a machine shared with other jobs the wall
   time measures the load as much as starc, the CPU time much less. ``--repo DIR``
   times another checkout of starc (e.g. a ``git worktree`` of an older commit) with the
   same harness; ``--only-startup`` stops after this part.
1. ``starc sweep --preset starc-paper`` (49,152 rows, the 216 closed-form variants, exact
   regret both ways) in a fresh Python process with an **empty numba cache** (first run:
   imports, compilation of every kernel, the sweep), then again in fresh processes with
   the **warm cache** (cached runs; the best and median of ``--repeats``). Target: a
   cached run in <= 60 s on two cores.
2. The same with ``--with-lp-variants`` (all 222 variants; MinimalPotential-L1 solves one
   linear program per reward), warm cache. Goal: <= 10 min.
3. The public numpy path on the same rows, in this process: for each row, ``starc_distance``
   for every closed-form variant plus ``starc.regret`` in both directions (what a user of
   the public API would write), and for the LP variants ``starc.canonicalize(...,
   "minimal_potential", norm="l1")`` (HiGHS) of the row's new reward. The per-row
   ratio numpy / batch is reported for both.

Times are wall-clock seconds; the sweep's own ``elapsed`` excludes process start-up and
imports, ``process_s`` includes them. Results are printed and written as JSON to
``benchmarks/results/bench_sweep.json``.

Run::

    python benchmarks/bench_sweep.py              # full (about 5 minutes on 2 cores)
    python benchmarks/bench_sweep.py --quick      # smoke test: the quick preset
    python benchmarks/bench_sweep.py --skip-lp    # without the LP variants
    python benchmarks/bench_sweep.py --only-startup               # cold/warm table only
    python benchmarks/bench_sweep.py --only-startup --repo /tmp/base  # an older checkout
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import output_file, write_json  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUTPUT = os.path.join(HERE, "results", "bench_sweep.json")

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from starc.sweep import Sweep
preset, lp, warm_lp = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
t_import = time.perf_counter() - t0
res = Sweep.preset(preset, with_lp_variants=lp).run()
out = {"elapsed_s": res.elapsed, "import_s": t_import, "rows": len(res),
       "variants": len(res.variants)}
corr = res.correlations()
out["corr"] = {v: corr[v] for v in ("VAL-2-2", "EPIC-2-2", "DARD-2-2") if v in corr}
out["family_means"] = {f: s["normalised"] for f, s in res.family_summary().items()}
if warm_lp:  # compile the LP kernel too, so later runs find everything cached
    t1 = time.perf_counter()
    Sweep.preset("quick", n_mdps=1, pairs_per_mdp=1, n_steps=1, with_lp_variants=True).run()
    out["lp_compile_s"] = time.perf_counter() - t1
out["process_s"] = time.perf_counter() - t0
print("RESULT " + json.dumps(out))
"""


def _startup_env(cache_dir: str, repo: str | None) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if repo is not None:
        env["PYTHONPATH"] = os.path.abspath(repo)
    return env


def shell_run(preset: str, cache_dir: str, out_dir: str, repo: str | None
              ) -> tuple[float, float]:
    """Wall-clock seconds and CPU seconds (user + system, all threads) of one whole
    ``python -m starc sweep --preset PRESET`` process."""
    import resource

    out = os.path.join(out_dir, f"sweep-{preset}.npz")
    cmd = [sys.executable, "-m", "starc", "sweep", "--preset", preset, "--output", out]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=_startup_env(cache_dir, repo), capture_output=True,
                          text=True, cwd=repo if repo is not None else None, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"starc sweep failed:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def startup(preset: str, repo: str | None, runs: int = 2) -> dict:
    """Cold (fresh empty numba cache per process) and warm (shared, filled cache) wall
    seconds of ``runs`` whole ``starc sweep`` processes each."""
    cold, warm, cold_cpu, warm_cpu = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="starc-bench-out-") as out_dir:
        for i in range(runs):
            with tempfile.TemporaryDirectory(prefix="starc-numba-cache-") as cache:
                wall, cpu = shell_run(preset, cache, out_dir, repo)
            cold.append(wall)
            cold_cpu.append(cpu)
            print(f"      cold run {i + 1}/{runs}: {wall:.1f} s (CPU {cpu:.1f} s)", flush=True)
        with tempfile.TemporaryDirectory(prefix="starc-numba-cache-") as cache:
            shell_run(preset, cache, out_dir, repo)  # fill the cache (untimed)
            for i in range(runs):
                wall, cpu = shell_run(preset, cache, out_dir, repo)
                warm.append(wall)
                warm_cpu.append(cpu)
                print(f"      warm run {i + 1}/{runs}: {wall:.1f} s (CPU {cpu:.1f} s)",
                      flush=True)
    return {"command": f"python -m starc sweep --preset {preset} --output OUT.npz",
            "repo": os.path.abspath(repo) if repo is not None else None,
            "cold_s": cold, "warm_s": warm, "cold_cpu_s": cold_cpu, "warm_cpu_s": warm_cpu,
            "numba_num_threads": os.environ.get("NUMBA_NUM_THREADS", f"default ({os.cpu_count()})"),
            "blas_threads": 1, "target_cold_s": 20.0, "target_warm_s": 6.0}


def child(preset: str, lp: bool, cache_dir: str, warm_lp: bool = False) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, preset, "1" if lp else "0",
                           "1" if warm_lp else "0"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    out["wall_s"] = wall
    return out


def numpy_path(preset: str, n_rows: int, n_lp_rows: int) -> dict:
    """Per-row seconds of the public numpy functions on the sweep's first rows."""
    import starc
    from starc.batch import CLOSED_FORM_VARIANTS
    from starc.sweep import Sweep

    sw = Sweep.preset(preset)
    mdp, groups, _ = sw.draw(0)
    r1 = groups[0, 0]
    rows = [groups[0, i] for i in range(1, min(n_rows, sw.n_steps) + 1)]
    starc.starc_distance(r1, rows[0], mdp, variant="VAL-2-2")  # warm caches (LU, imports)
    t0 = time.perf_counter()
    for ri in rows:
        for v in CLOSED_FORM_VARIANTS:
            starc.starc_distance(r1, ri, mdp, variant=v)
        starc.regret(r1, ri, mdp)
        starc.regret(ri, r1, mdp)
    closed = (time.perf_counter() - t0) / len(rows)
    out = {"closed_form_per_row_s": closed, "closed_form_rows_timed": len(rows)}
    if n_lp_rows > 0:
        starc.canonicalize(r1, mdp, "minimal_potential", norm="l1")  # compile the problem
        t0 = time.perf_counter()
        for ri in rows[:n_lp_rows]:
            starc.canonicalize(ri, mdp, "minimal_potential", norm="l1")
        out["lp_per_row_s"] = (time.perf_counter() - t0) / min(n_lp_rows, len(rows))
        out["lp_rows_timed"] = min(n_lp_rows, len(rows))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick preset (smoke test)")
    parser.add_argument("--skip-lp", action="store_true", help="skip the LP variants")
    parser.add_argument("--repeats", type=int, default=2, help="cached runs (default 2)")
    parser.add_argument("--numpy-rows", type=int, default=4,
                        help="rows timed on the numpy path (default 4)")
    parser.add_argument("--numpy-lp-rows", type=int, default=2,
                        help="rows timed for the numpy LP path (default 2)")
    parser.add_argument("--output", type=output_file, default=DEFAULT_OUTPUT)
    parser.add_argument("--repo", default=None,
                        help="time the starc of this checkout (PYTHONPATH) in the start-up part")
    parser.add_argument("--only-startup", action="store_true",
                        help="only the cold/warm start-up table (part 0)")
    args = parser.parse_args(argv)
    preset = "quick" if args.quick else "starc-paper"

    print(f"[0/4] cold and warm start of 'starc sweep --preset {preset}' (2 runs each) ...",
          flush=True)
    load0 = os.getloadavg()
    start = startup(preset, args.repo)
    start["load_average_start"], start["load_average_end"] = load0, os.getloadavg()
    print(f"cold {' / '.join(f'{t:.1f}' for t in start['cold_s'])} s, warm "
          f"{' / '.join(f'{t:.1f}' for t in start['warm_s'])} s (load average "
          f"{load0[0]:.2f} -> {start['load_average_end'][0]:.2f})", flush=True)
    if args.only_startup:
        write_json(args.output, {"preset": preset, "python": platform.python_version(),
                                 "machine": platform.platform(), "cpu_count": os.cpu_count(),
                                 "startup": start})
        return 0

    import numba

    import starc

    report = {"preset": preset, "python": platform.python_version(),
              "machine": platform.platform(), "cpu_count": os.cpu_count(),
              "numba": numba.__version__, "numba_threads": numba.config.NUMBA_NUM_THREADS,
              "starc": starc.__version__, "load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="starc-numba-cache-") as cache:
        print(f"[1/4] first run, empty numba cache ({preset}) ...", flush=True)
        cold = child(preset, False, cache, warm_lp=not args.skip_lp)
        print(f"      sweep {cold['elapsed_s']:.1f} s, process {cold['process_s']:.1f} s "
              f"(import {cold['import_s']:.1f} s)", flush=True)
        cached = []
        for i in range(args.repeats):
            print(f"[2/4] cached run {i + 1}/{args.repeats} ...", flush=True)
            cached.append(child(preset, False, cache))
            print(f"      sweep {cached[-1]['elapsed_s']:.1f} s, process "
                  f"{cached[-1]['process_s']:.1f} s", flush=True)
        lp = None
        if not args.skip_lp:
            print("[3/4] cached run with the LP variants ...", flush=True)
            lp = child(preset, True, cache)
            print(f"      sweep {lp['elapsed_s']:.1f} s, process {lp['process_s']:.1f} s",
                  flush=True)
    print("[4/4] the public numpy path on the same rows ...", flush=True)
    ref = numpy_path(preset, args.numpy_rows, 0 if args.skip_lp else args.numpy_lp_rows)
    rows = cold["rows"]
    best = min(c["elapsed_s"] for c in cached)
    report.update({
        "rows": rows, "variants_closed_form": cold["variants"],
        "first_run": cold, "cached_runs": cached,
        "cached_sweep_s_best": best,
        "cached_sweep_s_median": statistics.median(c["elapsed_s"] for c in cached),
        "batch_per_row_s": best / rows,
        "numpy": ref,
        "ratio_numpy_to_batch_per_row": ref["closed_form_per_row_s"] / (best / rows),
        "target_closed_form_s": 60.0, "meets_target": best <= 60.0,
        "load_average_end": os.getloadavg(), "startup": start})
    if lp is not None:
        lp_extra = max(lp["elapsed_s"] - best, 1e-9) / rows
        report.update({"with_lp": lp, "goal_with_lp_s": 600.0,
                       "meets_lp_goal": lp["elapsed_s"] <= 600.0,
                       "batch_lp_per_row_s": lp_extra,
                       "ratio_numpy_to_batch_lp_per_row": ref["lp_per_row_s"] / lp_extra})
    print()
    print(f"rows                         {rows:,}")
    print(f"first run (cold cache)       sweep {cold['elapsed_s']:.1f} s, "
          f"process {cold['process_s']:.1f} s")
    print(f"cached run                   best {best:.1f} s, median "
          f"{report['cached_sweep_s_median']:.1f} s  (target <= 60 s: "
          f"{'met' if report['meets_target'] else 'MISSED'})")
    print(f"per row: batch {1e6 * best / rows:.0f} us, numpy "
          f"{1e3 * ref['closed_form_per_row_s']:.0f} ms  ->  ratio "
          f"{report['ratio_numpy_to_batch_per_row']:.0f}x")
    if lp is not None:
        print(f"with LP variants (cached)    sweep {lp['elapsed_s']:.1f} s (goal <= 600 s: "
              f"{'met' if report['meets_lp_goal'] else 'MISSED'})")
        print(f"LP per row: batch {1e3 * report['batch_lp_per_row_s']:.1f} ms, numpy (HiGHS) "
              f"{ref['lp_per_row_s']:.2f} s  ->  ratio "
              f"{report['ratio_numpy_to_batch_lp_per_row']:.0f}x")
    print(f"correlations (exact): {json.dumps({k: round(v, 3) for k, v in cold['corr'].items()})}")
    write_json(args.output, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
