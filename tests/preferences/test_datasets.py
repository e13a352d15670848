"""Chain and tree datasets: structure, distances implied by the model, bad inputs."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from starc.exceptions import ValidationError
from starc.preferences import (InferenceDistanceOracle, chain_dataset, complexity_function,
                               hp_edge_variance, semantic_clusters, threshold_n_clusters,
                               tree_dataset)


def test_threshold_n_clusters():
    for n in (2, 10, 1000, 65536):
        assert threshold_n_clusters(n) == max(2, round(2 * n / math.log(n)))
    with pytest.raises(ValidationError, match="n_comparisons must be an integer >= 2"):
        threshold_n_clusters(1)


@pytest.mark.parametrize("kind, f", [
    ("polynomial", lambda M: 2.0 * M ** -0.7),
    ("logarithmic", lambda M: 2.0 * np.log(M) ** -0.7),
    ("sublogarithmic", lambda M: 2.0 * np.log(np.log(M)) ** -0.7),
])
def test_complexity_function_classes(kind, f):
    M = np.array([3.0, 10.0, 1e3, 1e6])
    np.testing.assert_allclose(complexity_function(M, kind, intensity=2.0, alpha=0.7), f(M))
    assert np.all(np.diff(complexity_function(M, kind)) < 0)


@pytest.mark.parametrize("args, kwargs, fragment", [
    ((10, "cubic"), {}, "unknown kind 'cubic'"),
    ((10,), dict(alpha=0.0), "alpha must be > 0"),
    ((10,), dict(intensity=-1.0), "intensity must be > 0"),
    ((1, "logarithmic"), {}, "n_clusters must be >= 2 for kind='logarithmic'"),
    ((2, "sublogarithmic"), {}, "n_clusters must be >= 3"),
    ((0,), {}, "n_clusters must be >= 1"),
])
def test_complexity_function_bad_inputs(args, kwargs, fragment):
    with pytest.raises(ValidationError, match=fragment):
        complexity_function(*args, **kwargs)


def test_semantic_clusters_uniform_and_reproducible():
    a = semantic_clusters(50_000, 10, seed=3)
    np.testing.assert_array_equal(a, semantic_clusters(50_000, 10, seed=3))
    assert a.min() == 0 and a.max() == 9
    assert np.bincount(a).min() > 4_700
    with pytest.raises(ValidationError, match="n_clusters must be an integer >= 1"):
        semantic_clusters(5, 0)
    with pytest.raises(ValidationError, match="seed must be"):
        semantic_clusters(5, 2, seed="x")


def test_chain_dataset_structure_and_distances():
    n = 300
    ds = chain_dataset(n, beta=2.0, seed=0)
    R = 2 * n
    M = threshold_n_clusters(n)
    assert ds.kind == "chain" and ds.n_clusters == M and ds.n_nodes == R + M
    assert ds.n_comparisons == n and ds.responses.shape == (R,)
    assert ds.hp_variance == pytest.approx(hp_edge_variance(2.0))
    assert ds.within_variance == pytest.approx(M ** -0.5)
    kinds, counts = np.unique(ds.edge_kinds, return_counts=True)
    assert dict(zip(kinds, counts)) == {"hp": n, "ib-cluster": R}
    assert not ds.responses.flags.writeable
    o = ds.oracle()
    # two responses of one cluster: F(M) apart; a comparison: at most one HP variance
    by_cluster = {}
    for r, c in zip(ds.responses, ds.clusters):
        by_cluster.setdefault(int(c), []).append(int(r))
    pairs = [v[:2] for v in by_cluster.values() if len(v) >= 2][:20]
    np.testing.assert_allclose(o.distances(np.array(pairs)), ds.within_variance)
    d = o.distances(ds.comparisons)
    assert np.all(d <= ds.hp_variance + 1e-12)
    # every response has exactly one comparison and one cluster edge
    deg = np.bincount(np.concatenate([ds.edges_u, ds.edges_v]), minlength=ds.n_nodes)
    assert np.all(deg[ds.responses] == 2)


def test_chain_dataset_reproducible_and_options():
    a = chain_dataset(100, seed=7)
    b = chain_dataset(100, seed=7)
    np.testing.assert_array_equal(a.clusters, b.clusters)
    c = chain_dataset(100, n_clusters=5, within_variance=0.3, hp_model="fisher", seed=1)
    assert c.n_clusters == 5 and c.within_variance == 0.3 and c.hp_variance == 4.0
    d = chain_dataset(100, complexity="logarithmic", intensity=3.0, alpha=1.0, seed=1)
    assert d.within_variance == pytest.approx(3.0 / math.log(d.n_clusters))


def _prefix_graph(ds):
    G = nx.Graph()
    keep = ds.edge_kinds == "ib-prefix"
    for a, b, w in zip(ds.edges_u[keep], ds.edges_v[keep], ds.variances[keep]):
        G.add_edge(int(a), int(b), variance=float(w))
    return G


@pytest.mark.parametrize("branching, n_prompts", [(2, 1), (3, 4), (2, 16)])
def test_tree_dataset_lca_distances(branching, n_prompts):
    n = 200
    ds = tree_dataset(n, branching=branching, n_prompts=n_prompts, seed=2)
    D = ds.tree["depth"]
    lv = ds.tree["level_variances"]
    per = -(-n // n_prompts)
    assert branching ** D >= 2 * per > branching ** (D - 1)
    # default level variances: two leaves whose LCA is h levels up are w_HP (1 - B^-h) apart
    G = _prefix_graph(ds)
    o_tree = InferenceDistanceOracle(G)
    prompt = ds.tree["prompt"]
    rng = np.random.default_rng(0)
    for _ in range(60):
        a, b = rng.choice(ds.responses, size=2, replace=False)
        if prompt[a] != prompt[b]:
            assert not nx.has_path(G, int(a), int(b))
            continue
        hops = nx.shortest_path_length(G, int(a), int(b))
        h = hops // 2
        expected = 2 * lv[D - h:].sum()
        assert o_tree.distance(int(a), int(b)) == pytest.approx(expected, rel=1e-12)
        assert expected == pytest.approx(ds.hp_variance * (1 - branching ** -h), rel=1e-12)
    # one tree per prompt, and every response is a leaf at depth D below its root
    assert nx.is_forest(G) and nx.number_connected_components(G) == n_prompts
    leaves = ds.responses[prompt == prompt[0]]
    from_leaf = nx.single_source_shortest_path_length(G, int(leaves[0]))
    roots = [v for v, d in from_leaf.items() if d == D
             and all(nx.shortest_path_length(G, v, int(x)) == D for x in leaves)]
    assert len(roots) == 1


def test_tree_dataset_counts_and_whole_network():
    ds = tree_dataset(64, branching=2, n_prompts=2, level_variances=[0.5, 0.4, 0.3, 0.2,
                                                                   0.1, 0.05], seed=4)
    assert ds.tree["depth"] == 6 and ds.tree["n_prompts"] == 2
    assert ds.responses.shape == (128,) and ds.comparisons.shape == (64, 2)
    assert set(np.unique(ds.edge_kinds)) == {"hp", "ib-cluster", "ib-prefix"}
    np.testing.assert_array_equal(np.bincount(ds.tree["prompt"]), [64, 64])
    o = ds.oracle()
    a, b = ds.comparisons[0]
    assert o.distance(a, b) <= min(ds.hp_variance, 2 * 1.55) + 1e-12
    # the networkx round trip gives the same distances
    G = ds.to_networkx()
    assert G.number_of_nodes() == ds.n_nodes
    assert {d["role"] for _, d in G.nodes(data=True)} == {"response", "cluster", "prefix"}
    o2 = InferenceDistanceOracle(G)
    pairs = ds.comparisons[:10]
    np.testing.assert_allclose(o2.distances(pairs, "resistance"),
                               o.distances(pairs, "resistance"), rtol=1e-10)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(n_comparisons=1), "n_comparisons must be an integer >= 2"),
    (dict(n_comparisons=10, branching=1), "branching must be an integer >= 2"),
    (dict(n_comparisons=10, n_prompts=11), "n_prompts=11 exceeds n_comparisons=10"),
    (dict(n_comparisons=100, n_prompts=1, depth=3),
     "depth=3 with branching=2 gives 8 leaves per prompt, fewer than the 200"),
    (dict(n_comparisons=10, n_prompts=1, depth=5, level_variances=[1.0, 1.0]),
     "level_variances must have length 5"),
    (dict(n_comparisons=10, n_prompts=1, depth=5, level_variances=[1, 1, -1, 1, 1]),
     r"level_variances\[2\] = -1.0 is not a variance"),
    (dict(n_comparisons=10, n_clusters=0), "n_clusters must be an integer >= 1"),
    (dict(n_comparisons=10, within_variance=0.0), "within_variance must be > 0"),
    (dict(n_comparisons=10, hp_model="probit"), "unknown hp_model 'probit'"),
    (dict(n_comparisons=10, complexity="cubic"), "unknown complexity 'cubic'"),
    (dict(n_comparisons=10, beta=0), "beta must be > 0"),
    (dict(n_comparisons=2.5), "n_comparisons must be an integer"),
])
def test_tree_dataset_bad_inputs(kwargs, fragment):
    with pytest.raises(ValidationError, match=fragment):
        tree_dataset(**kwargs)


def test_chain_dataset_bad_inputs():
    with pytest.raises(ValidationError, match="n_comparisons must be an integer >= 2"):
        chain_dataset(0)
    with pytest.raises(ValidationError, match="seed must be non-negative"):
        chain_dataset(10, seed=-1)


def test_datasets_of_absurd_size_are_refused_before_drawing():
    from starc.preferences import semantic_clusters, tree_dataset

    for call in (lambda: chain_dataset(2**62, seed=0), lambda: tree_dataset(2**62, seed=0),
                 lambda: semantic_clusters(2**62, 4, seed=0), lambda: chain_dataset(2**63)):
        with pytest.raises(ValidationError, match=r"(would need|must be an integer <=)"):
            call()


def test_complexity_function_refuses_ragged_input():
    with pytest.raises(ValidationError, match="n_clusters"):
        complexity_function([[1.0, 2.0], [3.0]])


def test_preference_dataset_record_validates_its_fields():
    import dataclasses

    from starc.preferences import PreferenceDataset

    ds = chain_dataset(20, seed=0)
    fields = {f.name: getattr(ds, f.name) for f in dataclasses.fields(ds)}
    assert PreferenceDataset(**fields).n_comparisons == 20
    m = ds.edges_u.shape[0]
    for name, bad in (("kind", "forest"), ("n_nodes", 3), ("edges_u", ds.edges_u[:-1]),
                      ("edges_v", ds.edges_v.astype(float)), ("variances", np.zeros(m)),
                      ("edge_kinds", np.full(m, "x")), ("comparisons", ds.comparisons[:, :1]),
                      ("clusters", ds.clusters[:-1]), ("n_clusters", 0),
                      ("within_variance", np.nan), ("hp_variance", -1.0), ("tree", None),
                      ("responses", [[1, 2], [3]])):
        with pytest.raises(ValidationError):
            PreferenceDataset(**{**fields, name: bad})
