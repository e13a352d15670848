"""Speed of inference-distance queries, with ratios measured in one run.

Measures:

1. 1,000 random inference-distance queries on graphs of about 10**5 nodes (target
   <= 10 s), for both methods, after the per-graph setup (reported separately). All
   1,000 queries are timed (no extrapolation) and every time is printed with its ratio
   to the 10 s target:

   * ``chain-ibn``: the induced Bayesian network of ``chain_dataset(45_000)`` (98,400
     nodes; expander-like: resistance by exact partial elimination, ``solver="schur"``:
     series chains and pendant trees eliminated, a dense core of ~4,900 cluster nodes);
   * ``tree-ibn``: ``tree_dataset(23_000)`` (about 113,000 nodes; ``"schur"`` with one
     dense block per prompt joined through ~4,700 cluster hubs);
   * ``grid``: a 317 x 317 grid with random variances (100,489 nodes; sparse LU with
     sparse triangular queries);
   * ``random-tree``: a random recursive tree on 10**5 nodes (path = resistance).

   Path queries use the compiled bidirectional Dijkstra. For the ``"schur"`` graphs the
   answers of ``--check-queries`` (8) queries are compared with preconditioned
   conjugate gradients (relative residual 1e-10), an independent solver; the largest
   relative difference is reported. ``--cg-queries K`` times only K resistance queries
   and extrapolates, for a run where "auto" fell back to CG (marked in the JSON).
2. The ratio against networkx's ``resistance_distance`` (dense pseudo-inverse per call)
   on random graphs it can handle (N = 100, 300, 1000): one query from a networkx graph
   (starc builds its oracle from scratch each time) and 1,000 queries on one graph
   (networkx: one call per query, timed on a few calls and scaled; starc: one oracle).
   The largest absolute difference of the two answers is reported too.

BLAS threads are pinned to one with threadpoolctl when it is installed. Run
``python benchmarks/bench_topology.py [--quick] [--cg-queries K]``; prints the times and
ratios and writes ``benchmarks/results/bench_topology.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import median_time, output_file, timed, write_json  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def pin_blas_threads():
    try:
        import scipy.linalg  # noqa: F401  (load the BLAS before limiting it)
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl not installed: BLAS threads not pinned")
        return None
    threadpool_limits(limits=1)
    return 1


def grid_edges(side, rng):
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return side * side, u, v, rng.uniform(0.5, 2.0, u.shape[0])


def random_tree_edges(n, rng):
    child = np.arange(1, n)
    parent = (rng.uniform(size=n - 1) * child).astype(np.int64)
    return n, child, parent, rng.uniform(0.5, 2.0, n - 1)


def build_graphs(scale, rng):
    from starc.preferences import InferenceDistanceOracle, chain_dataset, tree_dataset

    graphs = {}
    t, ds = timed(lambda: chain_dataset(int(45_000 * scale), seed=0))
    graphs["chain-ibn"] = (ds.n_nodes, lambda solver="auto", d=ds: d.oracle(solver=solver), t)
    t, ds = timed(lambda: tree_dataset(int(23_000 * scale), seed=0))
    graphs["tree-ibn"] = (ds.n_nodes, lambda solver="auto", d=ds: d.oracle(solver=solver), t)
    n, u, v, w = grid_edges(int(round(317 * np.sqrt(scale))), rng)
    graphs["grid"] = (n, lambda solver="auto", a=(n, u, v, w):
                      InferenceDistanceOracle.from_edges(*a, solver=solver), 0.0)
    n, u, v, w = random_tree_edges(int(100_000 * scale), rng)
    graphs["random-tree"] = (n, lambda solver="auto", a=(n, u, v, w):
                             InferenceDistanceOracle.from_edges(*a, solver=solver), 0.0)
    return graphs


def warm_up():
    """Compile (or load from numba's cache) every kernel once, outside the timings."""
    from starc.preferences import InferenceDistanceOracle
    from starc.preferences._reduction import SchurFactor

    t0 = time.perf_counter()
    warm = InferenceDistanceOracle.from_edges(3, [0, 1], [1, 2], [1.0, 1.0], solver="lu")
    warm.distances(np.array([[0, 2]]), "path")
    warm.distances(np.array([[0, 2]]), "resistance")
    warm.matrix(method="resistance")
    InferenceDistanceOracle.from_edges(3, [0, 1, 0], [1, 2, 2], [1.0, 1.0, 1.0],
                                       solver="cg").distance(0, 2, "resistance")
    u = np.array([0, 1, 2, 3, 0, 1], np.int64)
    v = np.array([1, 2, 3, 0, 2, 3], np.int64)
    o = InferenceDistanceOracle.from_edges(4, u, v, 1.0, solver="schur")
    o.distances(np.array([[0, 2]]), "resistance")
    o.matrix(method="resistance")
    gidx = np.array([-1, 0, 1, 2], np.int64)
    SchurFactor(4, u, v, np.ones(6), gidx, max_degree=0, plan="blocks")
    return time.perf_counter() - t0


def bench_queries(scale, n_queries, cg_queries, check_queries, rng):
    t_compile = warm_up()
    target = 10.0
    rows = []
    for name, (n_nodes, make, t_dataset) in build_graphs(scale, rng).items():
        t_build, oracle = timed(make)
        pairs = rng.integers(0, n_nodes, size=(n_queries, 2))
        t_path, d_path = timed(lambda: oracle.distances(pairs, "path"))
        t_setup, _ = timed(lambda: oracle.distance(0, 1, "resistance"))
        engine = oracle._engine
        solver = "forest (path)" if engine is None else engine.solver
        k = n_queries if solver != "cg" or cg_queries is None else min(n_queries,
                                                                         cg_queries)
        t_res, d_res = timed(lambda: oracle.distances(pairs[:k], "resistance"))
        t_res_all = t_res * n_queries / k
        row = {"graph": name, "n_nodes": int(n_nodes), "n_edges": int(oracle._us.shape[0]),
               "dataset_seconds": t_dataset, "oracle_build_seconds": t_build,
               "n_queries": n_queries,
               "path_seconds": t_path,
               "path_ratio_to_target": t_path / target,
               "path_within_target": bool(t_path <= target),
               "resistance_solver": solver, "resistance_setup_seconds": t_setup,
               "resistance_queries_timed": int(k),
               "resistance_seconds": t_res_all,
               "resistance_ratio_to_target": t_res_all / target,
               "resistance_extrapolated": bool(k < n_queries),
               "resistance_within_target": bool(t_res_all <= target),
               "resistance_le_path": bool(np.all(d_res <= d_path[:k] * (1 + 1e-9) + 1e-12))}
        if solver == "schur":
            f = engine.factor
            row["schur_plan"] = {"eliminated": f.n_elim, "core": f.n_core,
                                 "blocks": f.n_blocks, "hubs": f.n_hubs,
                                 "dense_flops": f.flops, "dense_bytes": f.nbytes}
            if check_queries:
                ref = make(solver="cg")
                sub = pairs[:check_queries]
                d_cg = ref.distances(sub, "resistance")
                fin = np.isfinite(d_cg)
                row["max_rel_diff_vs_cg"] = float(np.max(
                    np.abs(d_res[:check_queries][fin] - d_cg[fin]) / d_cg[fin],
                    initial=0.0))
        rows.append(row)
        extra = f" (extrapolated from {k})" if k < n_queries else ""
        check = (f", max rel diff vs CG {row['max_rel_diff_vs_cg']:.1e}"
                 if "max_rel_diff_vs_cg" in row else "")
        print(f"{name:12s} N={n_nodes:>7,d}  build {t_build:6.2f}s | {n_queries} path "
              f"queries {t_path:6.2f}s ({t_path / target:.2f} x target) | resistance "
              f"[{solver}] setup {t_setup:6.2f}s, {n_queries} queries {t_res_all:7.2f}s"
              f"{extra} ({t_res_all / target:.2f} x target){check}")
    return t_compile, rows


def bench_networkx(sizes, rng):
    import networkx as nx

    from starc.preferences import InferenceDistanceOracle, inference_distance

    rows = []
    for n in sizes:
        G = nx.gnm_random_graph(n, 3 * n, seed=int(rng.integers(2 ** 31)))
        G = G.subgraph(max(nx.connected_components(G), key=len)).copy()
        for a, b in G.edges():
            G[a][b]["variance"] = float(rng.uniform(0.1, 2.0))
        nodes = list(G.nodes())
        pairs = [tuple(rng.choice(nodes, size=2, replace=False)) for _ in range(1000)]
        calls = 3 if n <= 300 else 1
        t_nx = median_time(lambda: [nx.resistance_distance(G, a, b, weight="variance",
                                                           invert_weight=True)
                                    for a, b in pairs[:calls]], repeat=1) / calls
        t_one = median_time(lambda: inference_distance(G, pairs[0][0], pairs[0][1],
                                                       "resistance"))
        t_many = median_time(lambda: InferenceDistanceOracle(G).distances(pairs, "resistance"))
        ours = InferenceDistanceOracle(G).distances(pairs[:5], "resistance")
        ref = [nx.resistance_distance(G, a, b, weight="variance", invert_weight=True)
               for a, b in pairs[:5]]
        row = {"n_nodes": len(nodes), "n_edges": G.number_of_edges(),
               "networkx_seconds_per_query": t_nx, "starc_one_query_seconds": t_one,
               "starc_1000_queries_seconds": t_many,
               "ratio_one_query": t_nx / t_one,
               "ratio_1000_queries": 1000 * t_nx / t_many,
               "max_abs_difference": float(np.max(np.abs(np.array(ref) - ours)))}
        rows.append(row)
        print(f"networkx N={len(nodes):5d}: {t_nx * 1e3:9.2f} ms/query | starc one query "
              f"{t_one * 1e3:7.2f} ms (x{row['ratio_one_query']:.0f} faster), 1000 queries "
              f"{t_many:6.3f} s (x{row['ratio_1000_queries']:.0f} faster) | max |diff| "
              f"{row['max_abs_difference']:.1e}")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="graphs of ~10**4 nodes and small networkx sizes")
    parser.add_argument("--queries", type=int, default=1000, help="queries per graph")
    parser.add_argument("--cg-queries", type=int, default=None,
                        help="time only this many resistance queries where the solver is "
                             "CG and extrapolate (default: time all of them)")
    parser.add_argument("--check-queries", type=int, default=8,
                        help="queries compared with conjugate gradients on 'schur' graphs")
    parser.add_argument("--output", type=output_file,
                        default=os.path.join(RESULTS, "bench_topology.json"))
    args = parser.parse_args(argv)

    threads = pin_blas_threads()
    rng = np.random.default_rng(20240215)
    scale = 0.1 if args.quick else 1.0
    t_compile, rows = bench_queries(scale, args.queries, args.cg_queries,
                                    args.check_queries, rng)
    nx_rows = bench_networkx([100, 300] if args.quick else [100, 300, 1000], rng)
    import networkx
    import numba
    import scipy

    result = {
        "benchmark": "bench_topology", "quick": args.quick, "blas_threads": threads,
        "numba_compile_seconds": t_compile, "queries": rows, "vs_networkx": nx_rows,
        "target_seconds": 10.0,
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "networkx": networkx.__version__,
                     "numba": numba.__version__},
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
    }
    write_json(args.output, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
