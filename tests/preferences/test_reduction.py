"""The exact partial-elimination resistance solver (``solver="schur"``).

Every check compares against an independent reference: numpy's pseudo-inverse of a
Laplacian assembled by hand, networkx's ``resistance_distance``, closed forms for series
and parallel connections, or the SuperLU route. The graphs are built to exercise the
reduction: long chains of degree-2 nodes, dangling trees, parallel edges, isolated nodes
and several components, and the hub/block stage is forced on small graphs.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import starc.preferences._reduction as reduction
from starc.exceptions import SolverError
from starc.preferences import InferenceDistanceOracle, tree_dataset
from starc.preferences._kernels import (cut_vertex_cover, label_propagation,
                                        partial_forward_quadform)

RTOL = 1e-9


def pinv_resistances(n, u, v, w):
    """All-pairs effective resistance from a hand-built Laplacian (inf across components)."""
    L = np.zeros((n, n))
    for a, b, x in zip(u, v, w):
        if a == b:
            continue
        c = 1.0 / x
        L[a, a] += c
        L[b, b] += c
        L[a, b] -= c
        L[b, a] -= c
    P = np.linalg.pinv(L, hermitian=True)
    d = np.diag(P)
    R = d[:, None] + d[None, :] - 2.0 * P
    G = nx.Graph()
    G.add_nodes_from(range(n))
    G.add_edges_from((int(a), int(b)) for a, b in zip(u, v) if a != b)
    lab = np.empty(n, np.int64)
    for k, comp in enumerate(nx.connected_components(G)):
        lab[list(comp)] = k
    R[lab[:, None] != lab[None, :]] = np.inf
    np.fill_diagonal(R, 0.0)
    return R


def structured_graph(rng, n_core, n_extra, n_chains, chain_len, n_trees, n_islands):
    """Random core + chains of degree-2 nodes + dangling trees + parallel edges +
    extra components (paths, cycles, isolated nodes)."""
    us, vs = [], []
    n = n_core
    for _ in range(n_extra):
        a, b = rng.integers(0, n_core, size=2)
        us.append(int(a))
        vs.append(int(b))
    for _ in range(n_chains):                       # series chains, closed or dangling
        start = int(rng.integers(0, n_core))
        prev = start
        for _ in range(int(rng.integers(1, chain_len + 1))):
            us.append(prev)
            vs.append(n)
            prev = n
            n += 1
        if rng.random() < 0.6:
            us.append(prev)
            vs.append(int(rng.integers(0, n_core)))
    for _ in range(n_trees):                        # dangling random trees
        root = int(rng.integers(0, n))
        nodes = [root]
        for _ in range(int(rng.integers(1, 8))):
            parent = nodes[int(rng.integers(0, len(nodes)))]
            us.append(parent)
            vs.append(n)
            nodes.append(n)
            n += 1
    m = len(us)
    for _ in range(int(rng.integers(0, 4))):        # parallel copies of existing edges
        if m:
            k = int(rng.integers(0, m))
            us.append(us[k])
            vs.append(vs[k])
    for _ in range(n_islands):                      # other components
        kind = int(rng.integers(0, 3))
        size = int(rng.integers(1, 6))
        base = n
        n += size
        for i in range(size - 1):
            us.append(base + i)
            vs.append(base + i + 1)
        if kind == 1 and size >= 3:
            us.append(base + size - 1)
            vs.append(base)
    u = np.array(us, np.int64)
    v = np.array(vs, np.int64)
    w = rng.uniform(0.1, 3.0, size=u.shape[0])
    return n, u, v, w


@st.composite
def structured_graphs(draw):
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    n_core = draw(st.integers(1, 14))
    return structured_graph(rng, n_core, draw(st.integers(0, 3 * n_core)),
                            draw(st.integers(0, 4)), draw(st.integers(1, 12)),
                            draw(st.integers(0, 3)), draw(st.integers(0, 3)))


def all_pairs(n):
    a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


def assert_resistances_equal(got, ref):
    fin = np.isfinite(ref)
    assert np.array_equal(np.isfinite(got), fin)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=RTOL, atol=1e-12)


# --- against the pseudo-inverse ---------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(structured_graphs())
def test_schur_queries_match_pinv(graph):
    n, u, v, w = graph
    o = InferenceDistanceOracle.from_edges(n, u, v, w, solver="schur")
    ref = pinv_resistances(n, u, v, w)
    got = o.distances(all_pairs(n), "resistance").reshape(n, n)
    assert_resistances_equal(got, ref)
    assert_resistances_equal(o.matrix(method="resistance"), ref)


@settings(max_examples=40, deadline=None)
@given(structured_graphs(), st.integers(0, 6), st.sampled_from(["single", "blocks"]))
def test_schur_factor_any_depth_and_plan(graph, max_degree, plan):
    """Stopping the elimination early (even at once) and forcing the hub/block stage
    changes the factorisation, never the answer."""
    n, u, v, w = graph
    o = InferenceDistanceOracle.from_edges(n, u, v, w, solver="lu")
    eng = o._resistance_engine()
    if eng.n_g == 0:
        return
    f = reduction.SchurFactor(n, u, v, w, eng.gidx, max_degree=max_degree, plan=plan)
    ref = pinv_resistances(n, u, v, w)
    pairs = all_pairs(n)
    same = o.component_labels[pairs[:, 0]] == o.component_labels[pairs[:, 1]]
    pa, pb = pairs[same, 0], pairs[same, 1]
    got = f.quadforms(eng.gidx[pa], eng.gidx[pb])
    np.testing.assert_allclose(got, ref[pa, pb], rtol=RTOL, atol=1e-12)
    # the full solve: L_g X = B
    rng = np.random.default_rng(n)
    B = rng.normal(size=(eng.n_g, 3))
    X = f.solve(B)
    np.testing.assert_allclose(eng.Lg @ X, B, rtol=0, atol=1e-9 * np.abs(B).max())


def test_blocks_on_a_graph_of_communities():
    """Dense communities joined through a few hub nodes: the hub/block stage finds the
    communities and the answers match the pseudo-inverse."""
    rng = np.random.default_rng(3)
    k, size, n_hubs = 5, 30, 6
    us, vs = [], []
    for b in range(k):
        for _ in range(5 * size):
            x, y = rng.integers(0, size, size=2)
            if x != y:
                us.append(b * size + int(x))
                vs.append(b * size + int(y))
    for h in range(n_hubs):
        for _ in range(12):
            us.append(k * size + h)
            vs.append(int(rng.integers(0, k * size)))
    n = k * size + n_hubs
    u = np.array(us, np.int64)
    v = np.array(vs, np.int64)
    w = rng.uniform(0.1, 3.0, u.shape[0])
    o = InferenceDistanceOracle.from_edges(n, u, v, w, solver="lu")
    eng = o._resistance_engine()
    f = reduction.SchurFactor(n, u, v, w, eng.gidx, max_degree=0, plan="blocks")
    assert f.n_blocks >= 2
    ref = pinv_resistances(n, u, v, w)
    pairs = all_pairs(n)
    got = f.quadforms(eng.gidx[pairs[:, 0]], eng.gidx[pairs[:, 1]]).reshape(n, n)
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=1e-12)


def test_against_networkx_resistance_distance():
    rng = np.random.default_rng(8)
    n, u, v, w = structured_graph(rng, 10, 25, 3, 6, 2, 0)
    G = nx.Graph()
    for a, b, x in zip(u.tolist(), v.tolist(), w.tolist()):
        if a == b:
            continue
        if G.has_edge(a, b):                       # nx.Graph: merge parallel edges
            G[a][b]["variance"] = 1.0 / (1.0 / G[a][b]["variance"] + 1.0 / x)
        else:
            G.add_edge(a, b, variance=x)
    o = InferenceDistanceOracle(G, solver="schur")
    nodes = list(G.nodes())
    for a, b in rng.choice(nodes, size=(30, 2)):
        if a == b:
            continue
        ref = nx.resistance_distance(G, int(a), int(b), weight="variance",
                                     invert_weight=True)
        assert o.distance(int(a), int(b), "resistance") == pytest.approx(ref, rel=1e-9)


# --- closed forms -----------------------------------------------------------------------

def test_series_parallel_and_dangling_closed_forms():
    # hub a=0, b=1 joined by a direct edge (variance 5) and a chain of 7 edges of
    # variance 0.5 (3.5 in series); a dangling path of 4 edges of variance 2 hangs off 0,
    # and two parallel edges (variances 1 and 3) join b to node 2
    us, vs, ws = [0], [1], [5.0]
    chain = [0] + list(range(3, 9)) + [1]
    for x, y in zip(chain[:-1], chain[1:]):
        us.append(x)
        vs.append(y)
        ws.append(0.5)
    dangling = [0] + list(range(9, 13))
    for x, y in zip(dangling[:-1], dangling[1:]):
        us.append(x)
        vs.append(y)
        ws.append(2.0)
    us += [1, 1]
    vs += [2, 2]
    ws += [1.0, 3.0]
    o = InferenceDistanceOracle.from_edges(13, np.array(us), np.array(vs), np.array(ws),
                                           solver="schur")
    r_ab = 5.0 * 3.5 / (5.0 + 3.5)
    r_b2 = 1.0 / (1.0 + 1.0 / 3.0)
    assert o.distance(0, 1, "resistance") == pytest.approx(r_ab, rel=1e-13)
    assert o.distance(1, 2, "resistance") == pytest.approx(r_b2, rel=1e-13)
    assert o.distance(12, 2, "resistance") == pytest.approx(8.0 + r_ab + r_b2, rel=1e-13)
    # a node inside the chain: k edges from 0 along it, the rest via the cycle
    k = 3
    x = chain[k]
    left, right = k * 0.5, 3.5 - k * 0.5
    r_x0 = left * (right + 5.0) / (left + right + 5.0)
    assert o.distance(x, 0, "resistance") == pytest.approx(r_x0, rel=1e-13)


def test_wide_variance_range_matches_lu():
    rng = np.random.default_rng(4)
    n, u, v, _ = structured_graph(rng, 40, 150, 8, 10, 5, 2)
    w = 10.0 ** rng.uniform(-4, 4, size=u.shape[0])
    pairs = rng.integers(0, n, size=(400, 2))
    lu = InferenceDistanceOracle.from_edges(n, u, v, w, solver="lu").distances(
        pairs, "resistance")
    sc = InferenceDistanceOracle.from_edges(n, u, v, w, solver="schur").distances(
        pairs, "resistance")
    fin = np.isfinite(lu)
    assert np.array_equal(np.isfinite(sc), fin)
    np.testing.assert_allclose(sc[fin], lu[fin], rtol=1e-8, atol=0)


# --- dataset networks: auto picks the Schur route; the block stage on real structure ----

def test_tree_dataset_blocks_match_lu(monkeypatch):
    ds = tree_dataset(600, n_prompts=6, seed=2)
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, ds.n_nodes, size=(300, 2))
    ref = ds.oracle(solver="lu").distances(pairs, "resistance")
    monkeypatch.setattr(reduction, "DENSE_SINGLE_MAX", 50)
    monkeypatch.setattr(reduction, "ELIM_MAX_DEGREE", 12)
    o = ds.oracle(solver="schur")
    got = o.distances(pairs, "resistance")
    f = o._engine.factor
    assert f.n_blocks >= 2 and f.n_hubs > 0
    fin = np.isfinite(ref)
    assert np.array_equal(np.isfinite(got), fin)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=RTOL)
    # exact means and matrices go through the full solve
    lcc = np.flatnonzero(o.component_labels == np.bincount(o.component_labels).argmax())
    nodes = lcc[:40]
    lu_o = ds.oracle(solver="lu")
    np.testing.assert_allclose(o.matrix(nodes, "resistance"),
                               lu_o.matrix(nodes, "resistance"), rtol=RTOL, atol=1e-12)
    assert o.mean("resistance", nodes=lcc) == pytest.approx(
        lu_o.mean("resistance", nodes=lcc), rel=RTOL)


def test_auto_picks_schur_on_a_tree_dataset():
    ds = tree_dataset(1000, seed=0)
    o = ds.oracle()
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, ds.n_nodes, size=(200, 2))
    got = o.distances(pairs, "resistance")
    assert o._engine.solver == "schur"
    ref = ds.oracle(solver="lu").distances(pairs, "resistance")
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=RTOL)


def test_dense_core_failure_falls_back_or_raises(monkeypatch):
    def broken(self, *args, **kwargs):
        raise np.linalg.LinAlgError("not positive definite")

    monkeypatch.setattr(reduction.DenseCore, "__init__", broken)
    rr = nx.random_regular_graph(3, 12_000, seed=1)
    o = InferenceDistanceOracle(rr)
    d = o.distance(0, 1, "resistance")
    assert o._engine.solver == "cg" and math.isfinite(d)
    with pytest.raises(SolverError, match="try solver='cg'"):
        InferenceDistanceOracle(nx.complete_graph(5), solver="schur").distance(0, 1,
                                                                                "resistance")


# --- kernels ----------------------------------------------------------------------------

def test_partial_forward_kernel_against_dense_forward_solve():
    rng = np.random.default_rng(2)
    n, n_elim, n_core = 60, 40, 15              # the last 5 positions are "grounded"
    lp = [0]
    li, lx = [], []
    for j in range(n):
        if j < n_elim:
            rows = np.unique(rng.integers(j + 1, n, size=int(rng.integers(0, 5))))
            li += rows.tolist()
            lx += rng.uniform(0.05, 0.5, size=rows.shape[0]).tolist()
        lp.append(len(li))
    lp = np.array(lp, np.int64)
    li = np.array(li, np.int64)
    lx = np.array(lx)
    dinv = np.concatenate([rng.uniform(0.5, 2.0, n_elim), np.zeros(n - n_elim)])
    Lt = np.eye(n)
    for j in range(n):
        for k in range(lp[j], lp[j + 1]):
            Lt[li[k], j] = -lx[k]
    pa = rng.integers(-1, n, size=50)
    pb = rng.integers(-1, n, size=50)
    R = np.zeros((n_core, 50))
    q = partial_forward_quadform(lp, li, lx, dinv, n_elim, n_core, pa, pb, R)
    for t in range(50):
        b = np.zeros(n)
        if pa[t] >= 0:
            b[pa[t]] += 1.0
        if pb[t] >= 0:
            b[pb[t]] -= 1.0
        y = np.linalg.solve(Lt, b)
        assert q[t] == pytest.approx(np.sum(y[:n_elim] ** 2 * dinv[:n_elim]), abs=1e-12)
        np.testing.assert_allclose(R[:, t], y[n_elim:n_elim + n_core], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 80), st.floats(1.0, 6.0), st.integers(0, 2 ** 31 - 1))
def test_cut_vertex_cover_separates_communities(n, mean_degree, seed):
    G = nx.gnm_random_graph(n, int(mean_degree * n / 2), seed=seed)
    A = nx.to_scipy_sparse_array(G, format="csr")
    A.sort_indices()
    ip = A.indptr.astype(np.int64)
    ix = A.indices.astype(np.int64)
    lab = label_propagation(ip, ix, 10, seed % 1000)
    cover = cut_vertex_cover(ip, ix, lab)
    rows = np.repeat(np.arange(n), np.diff(ip))
    cut = lab[rows] != lab[ix]
    assert np.all(cover[rows[cut]] | cover[ix[cut]])
    # find_blocks: hubs plus blocks partition the nodes, no edge joins two blocks
    hub, block = reduction.find_blocks(A.astype(float).tocsr())
    assert np.array_equal(hub, block < 0)
    inner = ~hub[rows] & ~hub[ix]
    assert np.all(block[rows[inner]] == block[ix[inner]])
