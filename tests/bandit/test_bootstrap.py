"""starc.bandit.bootstrap: reproducible percentile intervals over resampled prompts."""

from __future__ import annotations

import numpy as np
import pytest

from starc.bandit import BootstrapResult, bootstrap, distance, rank_correlation, regret
from starc.exceptions import ValidationError


def _data(n=40, m=4, seed=0):
    rng = np.random.default_rng(seed)
    r1 = rng.normal(size=(n, m))
    return r1, r1 + 0.7 * rng.normal(size=(n, m))


def test_replicates_are_the_statistic_on_resampled_prompts():
    r1, r2 = _data()
    mu = np.random.default_rng(9).dirichlet(np.ones(40))
    res = bootstrap("distance", r1, r2, n_boot=20, seed=3, prompt_weights=mu,
                    metric="weighted_l2", normalization="weighted_l2")
    rng = np.random.default_rng(3)
    for b in range(20):
        idx = rng.integers(0, 40, size=40)
        w = mu[idx] / mu[idx].sum()
        expected = distance(r1[idx], r2[idx], prompt_weights=w, metric="weighted_l2",
                            normalization="weighted_l2")
        assert res.samples[b] == pytest.approx(expected, rel=1e-13)
    assert res.estimate == distance(r1, r2, prompt_weights=mu, metric="weighted_l2",
                                    normalization="weighted_l2")
    lo, hi = np.quantile(res.samples, [0.025, 0.975])
    assert (res.low, res.high) == (pytest.approx(lo), pytest.approx(hi))


def test_seed_convention_and_named_statistics():
    r1, r2 = _data()
    mask = np.ones(r1.shape, bool)
    mask[::3, 3] = False
    for name in ("distance", "pearson_distance", "spearman", "kendall", "regret",
                 "worst_case_regret"):
        a = bootstrap(name, r1, r2, n_boot=15, seed=1, mask=mask, confidence=0.9)
        b = bootstrap(name, r1, r2, n_boot=15, seed=np.random.default_rng(1), mask=mask,
                      confidence=0.9)
        np.testing.assert_array_equal(a.samples, b.samples)
        assert a.low <= a.high
        assert a.confidence == 0.9
    res = bootstrap("spearman", r1, r2, n_boot=5, seed=0)
    assert res.estimate == rank_correlation(r1, r2)
    res = bootstrap("regret", r1, r2, n_boot=5, seed=0, ties="first")
    assert res.estimate == regret(r1, r2, ties="first")


def test_interval_covers_the_population_value_usually():
    """A sanity check of the percentile interval: 90% intervals from 30 independent
    samples of prompts cover the large-sample distance at least 20 times."""
    rng = np.random.default_rng(7)
    big1 = rng.normal(size=(20000, 3))
    big2 = big1 + rng.normal(size=(20000, 3))
    truth = distance(big1, big2)
    hits = 0
    for k in range(30):
        idx = rng.integers(0, 20000, size=150)
        res = bootstrap("distance", big1[idx], big2[idx], n_boot=150, seed=k,
                        confidence=0.9)
        hits += res.low <= truth <= res.high
    assert hits >= 20


def test_callable_statistic_and_bad_input():
    r1, r2 = _data(n=10)

    def mean_gap(a, b, *, prompt_weights, mask):
        return float(prompt_weights @ (a - b).mean(axis=1))

    res = bootstrap(mean_gap, r1, r2, n_boot=10, seed=0)
    assert res.samples.shape == (10,)
    with pytest.raises(ValidationError, match="unknown statistic 'mse'"):
        bootstrap("mse", r1, r2)
    with pytest.raises(ValidationError, match="n_boot must be an integer >= 1"):
        bootstrap("distance", r1, r2, n_boot=0)
    with pytest.raises(ValidationError, match="confidence must be <"):
        bootstrap("distance", r1, r2, confidence=1.0)
    with pytest.raises(ValidationError, match="seed must be"):
        bootstrap("distance", r1, r2, seed="x")
    with pytest.raises(ValidationError, match="every array must end in"):
        bootstrap("distance", r1, r2[:5])
    with pytest.raises(ValidationError, match="does not take response_weights"):
        bootstrap("regret", r1, r2, response_weights=np.full(r1.shape, 0.25))
    with pytest.raises(ValidationError, match="at least one reward array"):
        bootstrap("distance")


def test_named_rank_statistic_with_its_own_method_keyword():
    """'spearman'/'kendall' fix rank_correlation's method: the same method= again is
    accepted (same replicates), a different one is a ValidationError naming the conflict
    (it was a raw TypeError: 'got multiple values for keyword argument')."""
    rng = np.random.default_rng(3)
    r1 = rng.normal(size=(30, 4))
    r2 = r1 + rng.normal(size=(30, 4))
    for name in ("spearman", "kendall"):
        plain = bootstrap(name, r1, r2, n_boot=20, seed=5)
        same = bootstrap(name, r1, r2, n_boot=20, seed=5, method=name)
        np.testing.assert_array_equal(same.samples, plain.samples)
        assert same.estimate == rank_correlation(r1, r2, method=name)
    with pytest.raises(ValidationError, match=r"statistic 'spearman'.*conflicts with "
                                              r"method='kendall'"):
        bootstrap("spearman", r1, r2, n_boot=5, seed=0, method="kendall")
    with pytest.raises(ValidationError, match="conflicts with method=3"):
        bootstrap("kendall", r1, r2, n_boot=5, seed=0, method=3)


# ----------------------------------------------------------------- API fuzz regressions


def test_bootstrap_result_validates_its_fields():
    s = np.array([0.4, 0.5, 0.6])
    res = BootstrapResult(0.5, 0.4, 0.6, 0.9, [0.4, 0.5, 0.6])
    assert isinstance(res.samples, np.ndarray) and res.samples.dtype == np.float64
    assert res == BootstrapResult(*res)  # a NamedTuple still
    for bad in (np.nan, np.inf, -np.inf, "x", None):
        with pytest.raises(ValidationError, match="estimate"):
            BootstrapResult(bad, 0.4, 0.6, 0.9, s)
        with pytest.raises(ValidationError, match="low"):
            BootstrapResult(0.5, bad, 0.6, 0.9, s)
        with pytest.raises(ValidationError, match="high"):
            BootstrapResult(0.5, 0.4, bad, 0.9, s)
    with pytest.raises(ValidationError, match="high must be >= 0.6"):
        BootstrapResult(0.5, 0.6, 0.4, 0.9, s)
    for conf in (0.0, 1.0, 1.5, np.nan):
        with pytest.raises(ValidationError, match="confidence"):
            BootstrapResult(0.5, 0.4, 0.6, conf, s)
    for samples in (np.array([0.4, np.nan]), np.array([[0.4, 0.5]]), np.empty(0),
                    [[0.4], [0.5, 0.6]]):
        with pytest.raises(ValidationError, match="samples"):
            BootstrapResult(0.5, 0.4, 0.6, 0.9, samples)


def test_subnormal_scores_and_ragged_arrays():
    # the distance is scale invariant: subnormal rewards have the intervals of their signs
    s1, s2 = np.sign(_data(n=12)[0]), np.sign(_data(n=12, seed=1)[1])
    tiny = bootstrap("distance", 5e-324 * s1, 5e-324 * s2, n_boot=20, seed=0)
    unit = bootstrap("distance", s1, s2, n_boot=20, seed=0)
    np.testing.assert_allclose(tiny.samples, unit.samples, rtol=1e-12)
    assert tiny.estimate == pytest.approx(unit.estimate, rel=1e-12)
    ragged = [[1.0, 2.0], [3.0]]
    with pytest.raises(ValidationError, match=r"arrays\[1\] must be a numeric array"):
        bootstrap("distance", np.zeros((2, 2)), ragged)
    with pytest.raises(ValidationError, match="mask must be a boolean array"):
        bootstrap("distance", np.zeros((2, 2)), np.ones((2, 2)), mask=[[True, True], [True]])


def test_a_statistic_returning_nan_is_refused():
    r1, r2 = _data(n=6)
    with pytest.raises(ValidationError, match="statistic's value must be finite"):
        bootstrap(lambda a, b, **kw: float("nan"), r1, r2, n_boot=3, seed=0)
