"""The synthetic aggregation claims of issue 7, on starc.transforms.synthetic.

Claims (P(all good) of the KL tilts, compared at equal KL over KL in (0, 4]):

* LSC sum >= raw sum - 0.01 in all three scenarios;
* LSC sum >= raw sum + 0.05 at KL = 4 in the "scale" and "refusal" scenarios;
* |LSC sum - raw sum| <= 0.01 in the "iid" scenario (negative control).

They are checked on the population limit (Gauss-Hermite quadrature), whose convergence is
checked too, and, more loosely, on finite sampled response sets.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr, ndtri

from starc import ValidationError
from starc.transforms import (UTILITY_PIPELINES, AggregationScenario, aggregation_scenario,
                              aggregation_utilities, compare_aggregations, lsc, p_all_good)

KL = np.linspace(0.05, 4.0, 80)


@pytest.fixture(scope="module")
def population():
    out = {}
    for kind in ("iid", "scale", "refusal"):
        res = compare_aggregations(aggregation_scenario(kind, n_nodes=40), KL)
        out[kind] = res["lsc_sum"] - res["raw_sum"]
    return out


@pytest.mark.parametrize("kind", ["iid", "scale", "refusal"])
def test_lsc_never_worse_than_raw_by_more_than_001(population, kind):
    assert population[kind].min() >= -0.01


@pytest.mark.parametrize("kind", ["scale", "refusal"])
def test_lsc_gap_at_kl_4(population, kind):
    assert KL[-1] == 4.0
    assert population[kind][-1] >= 0.05


def test_iid_is_a_tie(population):
    assert np.max(np.abs(population["iid"])) <= 0.01


def test_quadrature_converged():
    kl = np.array([0.5, 2.0, 4.0])
    for kind in ("iid", "scale", "refusal"):
        a = compare_aggregations(aggregation_scenario(kind, n_nodes=30), kl)
        b = compare_aggregations(aggregation_scenario(kind, n_nodes=40), kl)
        for name in a:
            np.testing.assert_allclose(a[name], b[name], atol=1e-3)


@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_response_sets(seed):
    """Finite sets of 20000 sampled responses: same direction, looser tolerances.

    Over ten seeds the LSC gain at KL 4 ranged over 0.048-0.111 (scale) and 0.129-0.278
    (refusal): the top e^-4 of a sample is a few hundred responses, so the bounds here
    are looser than the population claims.
    """
    kl = np.array([0.5, 1.0, 2.0, 4.0])
    for kind in ("scale", "refusal"):
        sc = aggregation_scenario(kind, sampling="sample", n_responses=20000, seed=seed)
        res = compare_aggregations(sc, kl, n_points=64)
        d = res["lsc_sum"] - res["raw_sum"]
        assert d.min() >= -0.015 and d[-1] >= 0.03


class TestScenario:
    def test_quadrature_references_are_population_quantiles(self):
        sc = aggregation_scenario("iid", n_nodes=10)
        np.testing.assert_allclose(sc.true_ref, ndtri(0.85))
        sc = aggregation_scenario("scale", n_nodes=10)
        np.testing.assert_allclose(sc.r_ref.ravel(), [ndtri(0.85), 3 * ndtri(0.85)])
        sc = aggregation_scenario("refusal", n_nodes=10)
        x1, x2 = sc.true_ref.ravel()
        assert 0.9 * ndtr(x1) + 0.1 * ndtr((x1 + 3) / 0.5) == pytest.approx(0.85, abs=1e-12)
        assert 0.9 * ndtr(x2) + 0.1 * ndtr((x2 - 6) / 0.5) == pytest.approx(0.85, abs=1e-12)

    def test_quadrature_moments(self):
        sc = aggregation_scenario("refusal", n_nodes=20)
        p0 = np.exp(sc.logp0)
        assert p0.sum() == pytest.approx(1.0, abs=1e-13)
        # mean and second moment of the mixture, exact for a Gauss-Hermite rule
        np.testing.assert_allclose(sc.true_rewards @ p0, [0.1 * -3.0, 0.1 * 6.0], atol=1e-12)
        np.testing.assert_allclose((sc.true_rewards**2) @ p0,
                                   [0.9 + 0.1 * (9 + 0.25), 0.9 + 0.1 * (36 + 0.25)],
                                   atol=1e-12)

    def test_target_is_true_p_all_good(self):
        sc = aggregation_scenario("scale", sampling="sample", n_responses=100, seed=3)
        np.testing.assert_allclose(sc.target, p_all_good(sc.true_rewards, sc.true_ref))
        np.testing.assert_allclose(sc.rewards[1], 3 * sc.true_rewards[1])
        np.testing.assert_allclose(sc.r_ref, np.quantile(sc.rewards, 0.85, axis=1)[:, None])
        assert not sc.rewards.flags.writeable

    def test_sampled_is_reproducible(self):
        a = aggregation_scenario("refusal", sampling="sample", n_responses=50, seed=7)
        b = aggregation_scenario("refusal", sampling="sample", n_responses=50,
                                 seed=np.random.default_rng(7))
        np.testing.assert_array_equal(a.rewards, b.rewards)

    def test_utilities(self):
        R = np.array([[0.0, 2.0, -1.0], [1.0, -1.0, 0.5]])
        ref = np.array([[0.5], [0.0]])
        u = aggregation_utilities(R, ref, UTILITY_PIPELINES)
        np.testing.assert_allclose(u["raw_sum"], R.sum(0))
        np.testing.assert_allclose(u["lsc_sum"], lsc(R, ref).sum(0))
        z = (R - R.mean(1, keepdims=True)) / R.std(1, keepdims=True)
        np.testing.assert_allclose(u["zscore_sum"], z.sum(0))
        np.testing.assert_allclose(u["min"], z.min(0))
        np.testing.assert_allclose(u["sigmoid_sum"], (1 / (1 + np.exp(-(R - ref)))).sum(0))
        assert set(aggregation_utilities(R, ref, "raw_sum")) == {"raw_sum"}

    @pytest.mark.parametrize("kw, match", [
        ({"kind": "mixed"}, "unknown scenario kind 'mixed'"),
        ({"sampling": "grid"}, "unknown sampling 'grid'"),
        ({"q": 1.0}, "q must be < 1.0"),
        ({"scale": 0.0}, "scale must be > 0.0"),
        ({"refusal_rate": 1.0}, "refusal_rate must be < 1.0"),
        ({"n_nodes": 2}, "n_nodes must be an integer >= 4"),
        ({"sampling": "sample", "n_responses": 5}, "n_responses must be an integer >= 10"),
        ({"sampling": "sample", "seed": -1}, "seed must be non-negative"),
    ])
    def test_bad_inputs(self, kw, match):
        with pytest.raises(ValidationError, match=match):
            aggregation_scenario(**kw)

    def test_bad_compare(self):
        with pytest.raises(ValidationError, match="scenario must be an AggregationScenario"):
            compare_aggregations({"rewards": 1}, [1.0])
        sc = aggregation_scenario("iid", n_nodes=5)
        assert isinstance(sc, AggregationScenario)
        with pytest.raises(ValidationError, match="unknown aggregation method 'max'"):
            compare_aggregations(sc, [1.0], methods=("max",))
        with pytest.raises(ValidationError, match="methods must name at least one"):
            aggregation_utilities(sc.rewards, sc.r_ref, ())


def test_aggregation_scenario_record_validates_its_fields():
    import dataclasses

    sc = aggregation_scenario("iid", n_nodes=6, seed=0)
    fields = {f.name: getattr(sc, f.name) for f in dataclasses.fields(sc)}
    assert AggregationScenario(**fields).q == sc.q
    for name, bad in (("kind", None), ("rewards", sc.rewards[:, :-1]), ("target", None),
                      ("true_ref", np.zeros((2, 2))),
                      ("logp0", np.full(sc.logp0.shape, np.nan)),
                      ("q", 1.5), ("r_ref", [[1.0, 2.0], [3.0]])):
        with pytest.raises(ValidationError):
            AggregationScenario(**{**fields, name: bad})
