"""Inference distances against closed forms and independent computations.

Every identity of issue 6: paths, parallel paths, K_N, cycles, trees, Foster's theorem,
the Kirchhoff index from numpy's pseudo-inverse, Rayleigh monotonicity, a Monte-Carlo
Gaussian posterior, and networkx's ``resistance_distance``.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from starc.exceptions import ValidationError
from starc.preferences import (InferenceDistanceOracle, inference_distance,
                               inference_distance_matrix, inference_distances,
                               mean_inference_distance, preference_graph)

SOLVERS = ["auto", "lu", "cg", "schur"]
TOL = 1e-9


def weighted(G, rng, low=0.1, high=3.0):
    """Attach random variances to a networkx graph (in place) and return it."""
    for e in G.edges(keys=True) if G.is_multigraph() else G.edges():
        G.edges[e]["variance"] = float(rng.uniform(low, high))
    return G


def dense_laplacian(G, nodes):
    """Weighted Laplacian built by hand from the edge list (independent of the library)."""
    pos = {v: i for i, v in enumerate(nodes)}
    L = np.zeros((len(nodes), len(nodes)))
    for u, v, w in G.edges(data="variance", default=1.0):
        if u == v:
            continue
        c = 1.0 / w
        i, j = pos[u], pos[v]
        L[i, i] += c
        L[j, j] += c
        L[i, j] -= c
        L[j, i] -= c
    return L


@st.composite
def connected_graphs(draw, min_nodes=2, max_nodes=12, multigraph=False):
    n = draw(st.integers(min_nodes, max_nodes))
    extra = draw(st.integers(0, 2 * n))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    G = nx.MultiGraph() if multigraph else nx.Graph()
    G.add_nodes_from(range(n))
    for v in range(1, n):                        # a random spanning tree ...
        G.add_edge(v, int(rng.integers(0, v)))
    for _ in range(extra):                       # ... plus random extra edges
        a, b = rng.integers(0, n, size=2)
        if a != b:
            G.add_edge(int(a), int(b))
    return weighted(G, rng)


@st.composite
def random_trees(draw, max_nodes=30):
    n = draw(st.integers(2, max_nodes))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    G = nx.Graph()
    G.add_nodes_from(range(n))
    for v in range(1, n):
        G.add_edge(v, int(rng.integers(0, v)))
    return weighted(G, rng)


# --- closed forms ----------------------------------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("k, w", [(1, 1.0), (4, 0.5), (9, 2.5)])
def test_path_of_k_edges(k, w, solver):
    G = preference_graph([(i, i + 1) for i in range(k)], hp_variances=[w] * k)
    for method in ("path", "resistance"):
        assert inference_distance(G, 0, k, method, solver=solver) == \
            pytest.approx(k * w, rel=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("a, b", [(1.0, 1.0), (2.0, 0.5), (3.0, 7.0)])
def test_two_parallel_paths(a, b, solver):
    # path one: 2 edges of a/2; path two: 3 edges of b/3; both from "s" to "t"
    G = preference_graph([("s", "x"), ("x", "t"), ("s", "y1"), ("y1", "y2"), ("y2", "t")],
                         hp_variances=[a / 2, a / 2, b / 3, b / 3, b / 3])
    assert inference_distance(G, "s", "t", solver=solver) == pytest.approx(min(a, b))
    assert inference_distance(G, "s", "t", "resistance", solver=solver) == \
        pytest.approx(a * b / (a + b), rel=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("N", [2, 3, 7, 20])
def test_complete_graph_resistance_is_two_over_n(N, solver):
    R = inference_distance_matrix(nx.complete_graph(N), method="resistance", solver=solver)
    off = ~np.eye(N, dtype=bool)
    np.testing.assert_allclose(R[off], 2.0 / N, rtol=1e-12)
    np.testing.assert_allclose(inference_distance_matrix(nx.complete_graph(N))[off], 1.0)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("N", [3, 8, 25])
def test_cycle_resistance_k_n_minus_k_over_n(N, solver):
    o = InferenceDistanceOracle(nx.cycle_graph(N), solver=solver)
    pairs = [(0, k) for k in range(N)]
    expected = np.array([k * (N - k) / N for k in range(N)])
    np.testing.assert_allclose(o.distances(pairs, "resistance"), expected, rtol=1e-11,
                               atol=1e-13)
    np.testing.assert_allclose(o.distances(pairs, "path"),
                               [min(k, N - k) for k in range(N)])


@given(random_trees())
def test_trees_path_equals_resistance(G):
    nodes = list(G.nodes())
    P = inference_distance_matrix(G, method="path")
    for solver in SOLVERS:
        R = inference_distance_matrix(G, method="resistance", solver=solver)
        np.testing.assert_allclose(R, P, rtol=1e-9, atol=1e-12)
    ref = dict(nx.all_pairs_dijkstra_path_length(G, weight="variance"))
    np.testing.assert_allclose(P, [[ref[u][v] for v in nodes] for u in nodes], rtol=1e-12)


@given(connected_graphs(multigraph=True))
def test_foster_theorem(G):
    n = G.number_of_nodes()
    edges = [(u, v, w) for u, v, w in G.edges(data="variance") if u != v]
    R = inference_distances(G, [(u, v) for u, v, _ in edges], "resistance")
    assert float(np.sum(R / np.array([w for _, _, w in edges]))) == \
        pytest.approx(n - 1, rel=1e-9)


@given(connected_graphs(multigraph=True), st.sampled_from(SOLVERS))
def test_kirchhoff_index_from_numpy_pinv(G, solver):
    nodes = list(G.nodes())
    N = len(nodes)
    L = dense_laplacian(G, nodes)
    kirchhoff = N * np.trace(np.linalg.pinv(L))
    R = inference_distance_matrix(G, method="resistance", solver=solver)
    assert R[np.triu_indices(N, 1)].sum() == pytest.approx(kirchhoff, rel=1e-8)
    # and each entry from the pseudo-inverse
    Lp = np.linalg.pinv(L)
    d = np.diag(Lp)
    np.testing.assert_allclose(R, d[:, None] + d[None, :] - 2 * Lp, rtol=1e-7, atol=1e-9)


@given(connected_graphs(), st.data())
def test_rayleigh_monotonicity_adding_an_edge(G, data):
    nodes = list(G.nodes())
    a = data.draw(st.sampled_from(nodes))
    b = data.draw(st.sampled_from(nodes))
    w = data.draw(st.floats(0.01, 10.0))
    before = {m: inference_distance_matrix(G, method=m) for m in ("path", "resistance")}
    H = nx.MultiGraph(G)
    H.add_edge(a, b, variance=w)
    for method in ("path", "resistance"):
        after = inference_distance_matrix(H, nodes, method=method)
        assert np.all(after <= before[method] + 1e-9 * (1 + before[method]))


@given(connected_graphs())
def test_resistance_never_exceeds_path_and_is_a_metric(G):
    P = inference_distance_matrix(G)
    R = inference_distance_matrix(G, method="resistance")
    assert np.all(R <= P + 1e-9)
    np.testing.assert_allclose(R, R.T, atol=1e-12)
    # triangle inequality
    assert np.all(R[:, :, None] <= R[:, None, :] + R.T[None, :, :] + 1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_monte_carlo_gaussian_posterior_matches_resistance(seed):
    """Least-squares reward estimates from noisy differences: error variance = R_uv."""
    rng = np.random.default_rng(seed)
    G = nx.gnm_random_graph(10, 22, seed=seed)
    while not nx.is_connected(G):
        G.add_edge(*rng.integers(0, 10, size=2).tolist())
    G.remove_edges_from(nx.selfloop_edges(G))
    weighted(G, rng, 0.2, 2.0)
    nodes = list(G.nodes())
    edges = list(G.edges(data="variance"))
    B = np.zeros((len(edges), len(nodes)))          # incidence: r_a - r_b
    for k, (a, b, _) in enumerate(edges):
        B[k, a], B[k, b] = 1.0, -1.0
    w = np.array([e[2] for e in edges])
    A = np.vstack([B / np.sqrt(w)[:, None], np.ones((1, len(nodes)))])  # fix the gauge
    n_draws = 20_000
    r_true = rng.normal(size=len(nodes))
    y = (B @ r_true)[:, None] + rng.normal(size=(len(edges), n_draws)) * np.sqrt(w)[:, None]
    rhs = np.vstack([y / np.sqrt(w)[:, None], np.full((1, n_draws), r_true.sum())])
    r_hat, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    oracle = InferenceDistanceOracle(G)
    for u, v in [(0, 9), (2, 5), (3, 4)]:
        err = (r_hat[u] - r_hat[v]) - (r_true[u] - r_true[v])
        assert np.var(err) == pytest.approx(oracle.distance(u, v, "resistance"), rel=0.05)


@given(connected_graphs())
def test_resistance_matches_networkx(G):
    nodes = list(G.nodes())
    o = InferenceDistanceOracle(G)
    for u, v in itertools.combinations(nodes[:6], 2):
        ref = nx.resistance_distance(G, u, v, weight="variance", invert_weight=True)
        assert o.distance(u, v, "resistance") == pytest.approx(ref, rel=1e-8)


@given(connected_graphs(max_nodes=15))
def test_solvers_agree(G):
    mats = [inference_distance_matrix(G, method="resistance", solver=s) for s in SOLVERS]
    for M in mats[1:]:
        np.testing.assert_allclose(M, mats[0], rtol=1e-8, atol=1e-12)


def test_bidirectional_dijkstra_kernel_against_scipy():
    rng = np.random.default_rng(5)
    n = 400
    G = nx.gnm_random_graph(n, 900, seed=5)
    weighted(G, rng, 0.01, 5.0)
    o = InferenceDistanceOracle(G)
    pairs = rng.integers(0, n, size=(500, 2))
    got = o.distances(pairs)
    import scipy.sparse as sp
    W = sp.csr_array(nx.to_scipy_sparse_array(G, weight="variance"))
    ref = dijkstra(W, directed=False, indices=pairs[:, 0])[np.arange(500), pairs[:, 1]]
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_sparse_triangular_queries_against_full_solves():
    rng = np.random.default_rng(11)
    G = weighted(nx.grid_2d_graph(15, 15), rng)
    o = InferenceDistanceOracle(G, solver="lu")
    nodes = list(G.nodes())
    idx = rng.integers(0, len(nodes), size=(60, 2))
    pairs = [(nodes[a], nodes[b]) for a, b in idx]
    fast = o.distances(pairs, "resistance")
    Lp = np.linalg.pinv(dense_laplacian(G, nodes))
    ref = [Lp[a, a] + Lp[b, b] - 2 * Lp[a, b] for a, b in idx]
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)
    assert o._engine.factor.fast


def test_auto_solver_choice(monkeypatch):
    rr = nx.random_regular_graph(3, 12_000, seed=0)
    o = InferenceDistanceOracle(rr)
    o.distance(0, 1, "resistance")
    # an expander: LU would fill in; the exact partial elimination with a dense core is
    # affordable (and far faster than one CG solve per query)
    assert o._engine.solver == "schur"
    # when that dense core would cost too much, "auto" falls back to conjugate gradients
    import starc.preferences._reduction as reduction
    monkeypatch.setattr(reduction, "AUTO_MAX_FLOPS", 1.0)
    o = InferenceDistanceOracle(rr)
    o.distance(0, 1, "resistance")
    assert o._engine.solver == "cg"
    grid = nx.grid_2d_graph(120, 120)
    o = InferenceDistanceOracle(grid)
    o.distance((0, 0), (119, 119), "resistance")
    assert o._engine.solver == "lu"
    small = InferenceDistanceOracle(nx.cycle_graph(50))
    small.distance(0, 1, "resistance")
    assert small._engine.solver == "lu"
    tree = InferenceDistanceOracle(nx.balanced_tree(3, 8))        # 9841 nodes, a forest
    assert tree.distance(0, 9840, "resistance") == tree.distance(0, 9840)
    assert tree._engine is None                                     # no solve needed


# --- disconnected graphs: infinite distance ----------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
def test_disconnected_graphs_give_infinite_distance(solver):
    G = nx.disjoint_union(nx.cycle_graph(4), nx.path_graph(3))
    G.add_node("lonely")
    o = InferenceDistanceOracle(G, solver=solver)
    assert o.n_components == 3
    for method in ("path", "resistance"):
        assert o.distance(0, 5, method) == math.inf
        assert o.distance(0, "lonely", method) == math.inf
        assert o.distance("lonely", "lonely", method) == 0.0
        M = o.matrix(method=method)
        assert np.isinf(M[0, 4]) and np.isinf(M[7, 0]) and M[7, 7] == 0.0
        assert mean_inference_distance(o, method) == math.inf
        assert mean_inference_distance(o, method, n_samples=50, seed=0) == math.inf
        assert math.isfinite(mean_inference_distance(o, method, nodes=[4, 5, 6]))
    assert o.distance(0, 2, "resistance") == pytest.approx(1.0)
    assert o.distance(4, 6, "resistance") == pytest.approx(2.0)


# --- means ------------------------------------------------------------------------------

@given(connected_graphs(min_nodes=3), st.sampled_from(["path", "resistance"]),
       st.integers(0, 2 ** 31))
def test_exact_mean_equals_matrix_average(G, method, seed):
    nodes = list(G.nodes())
    M = inference_distance_matrix(G, method=method)
    n = len(nodes)
    assert mean_inference_distance(G, method) == pytest.approx(M.sum() / (n * (n - 1)),
                                                               rel=1e-9)
    w = np.random.default_rng(seed).uniform(0.0, 2.0, size=n)
    w[0] = 1.0
    w[1] = 1.0
    expected = (w @ M @ w) / (w.sum() ** 2 - np.sum(w ** 2))
    assert mean_inference_distance(G, method, weights=w) == pytest.approx(expected, rel=1e-9)
    sub = nodes[1:]
    Ms = M[1:, 1:]
    assert mean_inference_distance(G, method, nodes=sub) == \
        pytest.approx(Ms.sum() / ((n - 1) * (n - 2)) if n > 2 else 0.0, rel=1e-9)


@pytest.mark.parametrize("method, sampling", [("path", "pairs"), ("path", "sources"),
                                              ("resistance", "pairs")])
def test_sampled_means_converge(method, sampling):
    rng = np.random.default_rng(2)
    G = weighted(nx.gnm_random_graph(60, 150, seed=2), rng)
    G = G.subgraph(max(nx.connected_components(G), key=len)).copy()
    exact = mean_inference_distance(G, method)
    n_samples = 4000 if sampling == "pairs" else 60
    est = mean_inference_distance(G, method, n_samples=n_samples, sampling=sampling,
                                  seed=1)
    assert est == pytest.approx(exact, rel=0.03)
    assert est == mean_inference_distance(G, method, n_samples=n_samples,
                                          sampling=sampling, seed=1)
    w = rng.uniform(0.1, 1.0, size=G.number_of_nodes())
    exact_w = mean_inference_distance(G, method, weights=w)
    est_w = mean_inference_distance(G, method, weights=w, n_samples=n_samples,
                                    sampling=sampling, seed=np.random.default_rng(4))
    assert est_w == pytest.approx(exact_w, rel=0.04)


def test_oracle_reuse_and_from_edges():
    o = InferenceDistanceOracle.from_edges(4, np.array([0, 1, 2, 0]), np.array([1, 2, 3, 3]),
                                           [1.0, 1.0, 1.0, 3.0])
    assert inference_distance(o, 0, 3) == 3.0
    assert inference_distance(o, 0, 3, "resistance") == pytest.approx(1.5)
    np.testing.assert_allclose(inference_distances(o, np.array([[0, 2], [1, 3]])), [2, 2])
    assert o.nodes == [0, 1, 2, 3] and o.n_nodes == 4
    np.testing.assert_array_equal(o.component_labels, [0, 0, 0, 0])


# --- bad inputs -------------------------------------------------------------------------

@pytest.mark.parametrize("call, fragment", [
    (lambda G: inference_distance(G, "a", "zz"), "v contains 'zz', which is not a node"),
    (lambda G: inference_distance(G, "q", "a"), "u contains 'q', which is not a node"),
    (lambda G: inference_distances(G, [("a", "b"), ("a", "nope")]),
     "pairs contains 'nope', which is not a node"),
    (lambda G: inference_distances(G, [("a",)]), r"pairs\[0\] = \('a',\) is not a"),
    (lambda G: inference_distances(G, np.zeros((2, 3))), r"pairs must have shape \(K, 2\)"),
    (lambda G: inference_distance(G, "a", "b", method="hops"), "unknown method 'hops'"),
    (lambda G: inference_distance(G, "a", "b", solver="qr"), "unknown solver 'qr'"),
    (lambda G: inference_distance_matrix(G, nodes=["a", "a"]), "nodes lists a node more"),
    (lambda G: inference_distance_matrix(G, nodes="ab"), "nodes must be a sequence"),
    (lambda G: mean_inference_distance(G, nodes=["a"]), "at least two nodes, got 1"),
    (lambda G: mean_inference_distance(G, weights=[1.0, -1.0, 1.0]),
     r"weights\[1\] = -1.0 is negative"),
    (lambda G: mean_inference_distance(G, weights=[1.0, 1.0]), "one entry per node"),
    (lambda G: mean_inference_distance(G, weights=[1.0, 0.0, 0.0]), "at least two nodes"),
    (lambda G: mean_inference_distance(G, n_samples=0), "n_samples must be an integer >= 1"),
    (lambda G: mean_inference_distance(G, n_samples=5, seed=-3), "seed must be non-negative"),
    (lambda G: mean_inference_distance(G, n_samples=5, sampling="edges"),
     "unknown sampling 'edges'"),
    (lambda G: mean_inference_distance(G, "resistance", n_samples=5, sampling="sources"),
     "sampling='sources' needs whole rows"),
    (lambda G: inference_distance(nx.path_graph(2), 0, 1, weight=3), "weight must be the"),
])
def test_bad_inputs(call, fragment):
    G = preference_graph([("a", "b"), ("b", "c"), ("a", "c")])
    with pytest.raises(ValidationError, match=fragment):
        call(G)


@pytest.mark.parametrize("bad", [-1.0, 0.0, float("nan")])
def test_negative_or_zero_variance_is_refused(bad):
    G = nx.Graph()
    G.add_edge(0, 1, variance=1.0)
    G.add_edge(1, 2, variance=bad)
    with pytest.raises(ValidationError, match=r"edge \(1, 2\) has variance=.* finite and > 0"):
        inference_distance(G, 0, 2)
    with pytest.raises(ValidationError, match=r"variance\[1\] = .* is not a variance"):
        InferenceDistanceOracle.from_edges(3, [0, 1], [1, 2], [1.0, bad])


def test_not_a_graph_and_bad_edge_arrays():
    with pytest.raises(ValidationError, match="G must be a networkx graph"):
        inference_distance(np.eye(3), 0, 1)
    with pytest.raises(ValidationError, match="u contains a node index outside 0..2"):
        InferenceDistanceOracle.from_edges(3, [0, 3], [1, 2], 1.0)
    with pytest.raises(ValidationError, match="u must be a 1-D integer array"):
        InferenceDistanceOracle.from_edges(3, [0.0, 1.0], [1, 2], 1.0)
    with pytest.raises(ValidationError, match="u and v must have the same length"):
        InferenceDistanceOracle.from_edges(3, [0, 1], [1], 1.0)
    o = InferenceDistanceOracle.from_edges(3, [0, 1], [1, 2], 1.0)
    with pytest.raises(ValidationError, match="contains 7, which is not a node"):
        o.distance(0, 7)
    with pytest.raises(ValidationError, match="contains 'x', which is not a node"):
        o.distance("x", 1)


@pytest.mark.parametrize("method", ["path", "resistance"])
@pytest.mark.parametrize("c", [5e-324, 1e-320, 1e-300, 1e300, np.finfo(float).max])
def test_weighted_mean_does_not_depend_on_the_units_of_the_weights(method, c):
    G = nx.Graph()
    G.add_weighted_edges_from([(0, 1, 1.0), (1, 2, 2.0), (2, 3, 0.5), (0, 3, 4.0)],
                              weight="variance")
    w = np.array([1.0, 1.0, 1.0, 1.0])
    ref = mean_inference_distance(G, method)
    assert mean_inference_distance(G, method, weights=c * w) == pytest.approx(ref, rel=1e-15)
    kw = dict(n_samples=200, seed=3)
    assert mean_inference_distance(G, method, weights=c * w, **kw) == \
        mean_inference_distance(G, method, weights=w, **kw)


@pytest.mark.parametrize("j", [-1000, -300, 300, 1000])
def test_distances_are_linear_in_the_variances_across_the_float_range(j):
    """Path and resistance distances of variances c * w are c times those of w, for c
    far outside the range where sums of variances or conductances 1 / w fit as they are."""
    c = 2.0**j
    u = np.array([0, 1, 2, 3, 0, 4])
    v = np.array([1, 2, 3, 0, 2, 5])
    w = np.array([1.0, 2.0, 0.5, 4.0, 3.0, 1.5])
    ref = InferenceDistanceOracle.from_edges(7, u, v, w)
    big = InferenceDistanceOracle.from_edges(7, u, v, c * w)
    for method in ("path", "resistance"):
        M = ref.matrix(method=method)
        np.testing.assert_allclose(big.matrix(method=method), c * M, rtol=1e-13)
        assert big.distance(0, 2, method) == pytest.approx(c * ref.distance(0, 2, method),
                                                           rel=1e-13)
        assert big.mean(method) == pytest.approx(c * ref.mean(method), rel=1e-13)
        assert big.distance(0, 6, method) == math.inf        # other component: still inf


def test_distances_beyond_the_float_range_are_refused_not_inf():
    G = nx.path_graph(4)
    nx.set_edge_attributes(G, 1e308, "variance")
    for method in ("path", "resistance"):
        with pytest.raises(ValidationError, match="exceeds the float64 range"):
            inference_distance(G, 0, 3, method)          # 3e308
        assert inference_distance(G, 0, 1, method) == pytest.approx(1e308, rel=1e-13)
