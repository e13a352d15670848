"""starc.preferences.graphs: HP variances, preference graphs, merging, Laplacians."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from starc.exceptions import ValidationError
from starc.preferences import (graph_laplacian, hp_edge_variance, merge_parallel_edges,
                               preference_graph)


@pytest.mark.parametrize("beta", [0.25, 1.0, 3.0])
def test_logistic_variance_is_that_of_a_logistic_of_scale_one_over_beta(beta):
    # Var Logistic(0, s) = s^2 pi^2 / 3; compare with a large sample as an independent check
    assert hp_edge_variance(beta) == pytest.approx(math.pi ** 2 / (3 * beta ** 2), rel=1e-15)
    rng = np.random.default_rng(0)
    sample = rng.logistic(0.0, 1.0 / beta, size=400_000)
    assert hp_edge_variance(beta) == pytest.approx(sample.var(), rel=0.02)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("margin", [0.0, 0.3, -1.7, 4.0])
def test_fisher_variance_is_inverse_bernoulli_information(beta, margin):
    s = 1.0 / (1.0 + math.exp(-beta * margin))
    # Fisher information of one label about the margin: (dp/dDelta)^2 / (p (1 - p))
    dp = beta * s * (1 - s)
    expected = s * (1 - s) / dp ** 2
    assert hp_edge_variance(beta, model="fisher", margin=margin) == \
        pytest.approx(expected, rel=1e-12)


def test_fisher_variance_at_zero_margin_and_arrays():
    assert hp_edge_variance(2.0, model="fisher") == pytest.approx(1.0)
    v = hp_edge_variance(1.0, model="fisher", margin=np.array([-2.0, 0.0, 2.0]))
    assert v.shape == (3,)
    assert v[0] == pytest.approx(v[2]) and v[1] == pytest.approx(4.0)
    assert np.all(np.diff(hp_edge_variance(1.0, model="fisher",
                                           margin=np.linspace(0, 5, 6))) > 0)
    np.testing.assert_allclose(hp_edge_variance(1.0, margin=np.zeros(2)),
                               [math.pi ** 2 / 3] * 2)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(beta=0.0), "beta must be > 0"),
    (dict(beta=-1.0), "beta must be > 0"),
    (dict(beta="1"), "beta must be a real number"),
    (dict(model="gumbel"), "unknown model 'gumbel'"),
    (dict(model="fisher", margin=1e4), "margin too large"),
    (dict(model="fisher", margin=np.array([0.0, np.nan])), "margin contains 1 NaN"),
])
def test_hp_edge_variance_bad_inputs(kwargs, fragment):
    with pytest.raises(ValidationError, match=fragment):
        hp_edge_variance(**kwargs)


def test_preference_graph_edges_and_attributes():
    G = preference_graph([("a", "b"), ("a", "b"), ("b", "c")], nodes=["z"],
                         ib_edges=[("a", "c"), ("c", "d", 0.25)], ib_variance=2.0, beta=2.0)
    assert isinstance(G, nx.MultiGraph)
    assert set(G.nodes()) == {"a", "b", "c", "d", "z"}
    assert G.degree("z") == 0
    hp = [d for _, _, d in G.edges(data=True) if d["kind"] == "hp"]
    ib = sorted(d["variance"] for _, _, d in G.edges(data=True) if d["kind"] == "ib")
    assert len(hp) == 3 and G.number_of_edges("a", "b") == 2
    assert all(d["variance"] == pytest.approx(math.pi ** 2 / 12) for d in hp)
    assert ib == [0.25, 2.0]


def test_preference_graph_fisher_margins_and_explicit_variances():
    G = preference_graph(np.array([[0, 1], [1, 2]]), hp_model="fisher",
                         margins=[0.0, 2.0])
    v = nx.get_edge_attributes(G, "variance")
    assert v[(0, 1, 0)] == pytest.approx(4.0)
    assert v[(1, 2, 0)] == pytest.approx(hp_edge_variance(1.0, model="fisher", margin=2.0))
    H = preference_graph([(0, 1), (1, 2)], hp_variances=[0.5, 0.7])
    assert [d["variance"] for _, _, d in H.edges(data=True)] == [0.5, 0.7]


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(comparisons=[("a", "a")]), r"comparisons\[0\] compares node 'a' with itself"),
    (dict(comparisons=[("a", "b", "c")]), r"comparisons\[0\] = .* must be a \(u, v\)"),
    (dict(comparisons=[1, 2]), r"comparisons\[0\] = 1 is not a \(u, v\) pair"),
    (dict(comparisons="ab"), "comparisons must be a sequence"),
    (dict(comparisons=np.zeros((2, 3))), r"comparisons must have shape \(K, 2\)"),
    (dict(comparisons=[(0, 1), (1, 2)], hp_variances=[1.0, -2.0]),
     r"hp_variances\[1\] = -2.0 is not a variance"),
    (dict(comparisons=[(0, 1)], hp_variances=[1.0, 2.0]), "hp_variances must have length 1"),
    (dict(comparisons=[(0, 1)], margins=[0.0, 1.0], hp_model="fisher"),
     "margins must have one entry per comparison"),
    (dict(ib_edges=[(0, 1, -0.5)]), r"ib_edges\[0\] variance must be a finite variance > 0"),
    (dict(ib_edges=[(0, 1)], ib_variance=0.0), "ib_variance must be a finite variance > 0"),
    (dict(ib_edges=[(0, 1)], ib_variance=np.inf), "ib_variance must be a finite variance"),
    (dict(ib_edges=[(3, 3)]), r"ib_edges\[0\] joins node 3 to itself"),
    (dict(comparisons=[(0, 1)], hp_model="probit"), "unknown hp_model 'probit'"),
    (dict(nodes=5), "nodes must be an iterable"),
])
def test_preference_graph_bad_inputs(kwargs, fragment):
    with pytest.raises(ValidationError, match=fragment):
        preference_graph(**kwargs)


def test_merge_parallel_edges_conductances_and_minimum():
    G = nx.MultiDiGraph()
    G.add_edge(0, 1, variance=2.0)
    G.add_edge(1, 0, variance=3.0)           # direction ignored
    G.add_edge(1, 1, variance=1.0)           # self-loop dropped
    G.add_edge(1, 2)                         # missing variance means 1
    G.add_node(7)
    H = merge_parallel_edges(G)
    assert isinstance(H, nx.Graph) and not H.is_multigraph()
    assert set(H.nodes()) == {0, 1, 2, 7}
    assert H[0][1]["variance"] == pytest.approx(1.0 / (1 / 2 + 1 / 3))
    assert H[0][1]["multiplicity"] == 2 and H[1][2]["variance"] == 1.0
    assert not H.has_edge(1, 1)
    assert merge_parallel_edges(G, method="path")[0][1]["variance"] == 2.0


def test_graph_laplacian_against_networkx():
    rng = np.random.default_rng(3)
    G = nx.gnm_random_graph(12, 30, seed=3)
    for u, v in G.edges():
        G[u][v]["variance"] = float(rng.uniform(0.1, 3.0))
        G[u][v]["conductance"] = 1.0 / G[u][v]["variance"]
    L = graph_laplacian(G).toarray()
    ref = nx.laplacian_matrix(G, nodelist=list(G.nodes()), weight="conductance").toarray()
    np.testing.assert_allclose(L, ref, atol=1e-13)
    np.testing.assert_allclose(L.sum(axis=1), 0.0, atol=1e-12)
    order = list(reversed(list(G.nodes())))
    np.testing.assert_allclose(graph_laplacian(G, nodelist=order).toarray(),
                               ref[::-1, ::-1], atol=1e-13)


def test_graph_laplacian_adds_parallel_conductances():
    G = preference_graph([(0, 1), (0, 1)], hp_variances=[1.0, 0.5])
    np.testing.assert_allclose(graph_laplacian(G).toarray(), [[3.0, -3.0], [-3.0, 3.0]])


@pytest.mark.parametrize("call, fragment", [
    (lambda: graph_laplacian("G"), "G must be a networkx graph"),
    (lambda: graph_laplacian(nx.path_graph(3), nodelist=[0, 1]),
     "nodelist must list each of the 3 nodes"),
    (lambda: graph_laplacian(nx.path_graph(3), nodelist=[0, 1, 5]),
     "nodelist contains 5, which is not a node"),
    (lambda: merge_parallel_edges(nx.path_graph(3), method="series"),
     "unknown method 'series'"),
    (lambda: merge_parallel_edges(nx.path_graph(3), weight=""), "weight must be the name"),
])
def test_graph_helpers_bad_inputs(call, fragment):
    with pytest.raises(ValidationError, match=fragment):
        call()


@pytest.mark.parametrize("bad", [-1.0, 0.0, float("nan"), float("inf"), "x", True])
def test_bad_edge_variances_are_refused(bad):
    G = nx.Graph()
    G.add_edge("u", "v", variance=bad)
    with pytest.raises(ValidationError, match=r"G: edge \('u', 'v'\) has variance="):
        graph_laplacian(G)


def test_variances_at_the_ends_of_the_float_range():
    # no intermediate beta^2: the variance is exact wherever it is representable
    for beta in (1e-150, 1e150):
        assert hp_edge_variance(beta) == pytest.approx(math.pi**2 / 3 / beta / beta,
                                                       rel=1e-15)
        assert hp_edge_variance(beta, model="fisher") == pytest.approx(4 / beta / beta,
                                                                       rel=1e-15)
    for beta in (1e-160, 1e-300):
        with pytest.raises(ValidationError, match="overflow"):
            hp_edge_variance(beta)
        with pytest.raises(ValidationError, match="overflow"):
            hp_edge_variance(beta, model="fisher")
    with pytest.raises(ValidationError, match="underflow"):
        hp_edge_variance(1e300)
    # parallel edges of tiny or huge variances merge in series of conductances exactly
    for w in (1e-310, 1e300, 1e308):
        G = nx.MultiGraph()
        G.add_edge(0, 1, variance=w)
        G.add_edge(0, 1, variance=w)
        assert merge_parallel_edges(G)[0][1]["variance"] == pytest.approx(w / 2, rel=1e-15)
    G = nx.MultiGraph()
    G.add_edge(0, 1, variance=5e-324)
    G.add_edge(0, 1, variance=5e-324)
    with pytest.raises(ValidationError, match="underflows to 0"):
        merge_parallel_edges(G)
    with pytest.raises(ValidationError, match="conductance"):
        graph_laplacian(nx.Graph([(0, 1, {"variance": 5e-324})]))


def test_hp_edge_variance_outside_float64_raises():
    assert hp_edge_variance(1e100) == pytest.approx(math.pi ** 2 / 3 * 1e-200, rel=1e-12)
    for beta in (1e300, 1e-300, 5e-324):
        with pytest.raises(ValidationError, match="outside the float64 range"):
            hp_edge_variance(beta)
    # Fisher form at margin 0: 4 / beta^2, computed without overflow for large beta
    assert hp_edge_variance(1e100, model="fisher") == pytest.approx(4e-200, rel=1e-12)
