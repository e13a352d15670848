"""k-center, the structural function estimator and the complexity-class fit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from starc.exceptions import ValidationError
from starc.preferences import (complexity_function, fit_structural_function, k_center,
                               structural_function)


@st.composite
def point_sets(draw, max_n=8, max_d=3):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return np.random.default_rng(seed).normal(size=(n, d))


def optimal_radius(X, k):
    best = np.inf
    for centers in itertools.combinations(range(X.shape[0]), k):
        d = np.linalg.norm(X[:, None, :] - X[None, list(centers), :], axis=2).min(axis=1)
        best = min(best, d.max())
    return best


@given(point_sets(), st.integers(1, 3), st.integers(0, 100))
def test_k_center_is_a_two_approximation(X, k, seed):
    k = min(k, X.shape[0])
    centers, labels, radius = k_center(X, k, seed=seed)
    assert len(set(centers.tolist())) == k
    d = np.linalg.norm(X[:, None, :] - X[None, centers, :], axis=2)
    np.testing.assert_array_equal(d[np.arange(len(X)), labels], d.min(axis=1))
    assert radius == pytest.approx(d.min(axis=1).max())
    assert radius <= 2 * optimal_radius(X, k) + 1e-12


def brute_within_mean(X, labels, scale, p):
    vals = [scale * np.linalg.norm(X[i] - X[j]) ** p
            for i, j in itertools.combinations(range(len(X)), 2) if labels[i] == labels[j]]
    return float(np.mean(vals)) if vals else 0.0


@given(st.integers(0, 2 ** 31), st.floats(0.5, 2.0), st.floats(0.1, 3.0))
def test_structural_function_equals_brute_force(seed, p, scale):
    X = np.random.default_rng(seed).uniform(size=(25, 2))
    ms = np.array([1, 3, 7, 25])
    F = structural_function(X, ms, variance_scale=scale, exponent=p, seed=seed)
    for m, f in zip(ms, F):
        _, labels, _ = k_center(X, int(m), seed=seed)
        assert f == pytest.approx(brute_within_mean(X, labels, scale, p), rel=1e-10,
                                  abs=1e-14)
    assert F[-1] == 0.0                           # all singletons
    assert F[0] == pytest.approx(brute_within_mean(X, np.zeros(25), scale, p))


def test_structural_function_sampled_pairs_close_to_exact():
    X = np.random.default_rng(0).normal(size=(800, 3))
    exact = structural_function(X, [2, 10], seed=1)
    sampled = structural_function(X, [2, 10], seed=1, max_pairs=20_000)
    np.testing.assert_allclose(sampled, exact, rtol=0.03)
    assert isinstance(structural_function(X, 4, seed=0), float)


def test_structural_function_decays_in_a_uniform_square():
    X = np.random.default_rng(1).uniform(size=(1500, 2))
    ms = np.array([4, 16, 64, 256])
    F = structural_function(X, ms, seed=0, max_pairs=200_000)
    assert np.all(np.diff(F) < 0)
    fit = fit_structural_function(ms, F)
    # cluster diameters shrink like M^(-1/2) in two dimensions
    assert fit.best == "polynomial"
    assert fit.alpha["polynomial"] == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("kind", ["polynomial", "logarithmic", "sublogarithmic"])
def test_fit_recovers_each_class(kind):
    M = np.unique(np.geomspace(4, 1e6, 25).astype(int))
    F = complexity_function(M, kind, intensity=1.7, alpha=0.8)
    fit = fit_structural_function(M, F)
    assert fit.best == kind
    assert fit.intensity[kind] == pytest.approx(1.7, rel=1e-9)
    assert fit.alpha[kind] == pytest.approx(0.8, rel=1e-9)
    assert fit.rss[kind] == pytest.approx(0.0, abs=1e-18)
    np.testing.assert_allclose(fit.predict(M), F, rtol=1e-9)
    assert set(fit.rss) == {"polynomial", "logarithmic", "sublogarithmic"}


def test_fit_with_noise_and_domains():
    rng = np.random.default_rng(0)
    M = np.arange(1, 60)
    F = 2.0 * M ** -1.0 * np.exp(rng.normal(0, 0.02, M.shape))
    F[0] = -1.0                                    # dropped: not positive
    fit = fit_structural_function(M, F)
    assert fit.best == "polynomial" and fit.alpha["polynomial"] == pytest.approx(1.0, 0.05)
    assert 1.0 not in fit.n_clusters
    assert fit.predict(10, kind="logarithmic") > 0


@pytest.mark.parametrize("call, fragment", [
    (lambda: k_center(np.zeros((3, 2)), 4), "n_clusters=4 exceeds the number of points 3"),
    (lambda: k_center(np.zeros((3, 2)), 0), "n_clusters must be an integer >= 1"),
    (lambda: k_center(np.full((3, 2), np.nan), 1), "points contains 6 NaN"),
    (lambda: k_center(np.zeros((2, 2, 2)), 1), r"points must have shape \(N, d\)"),
    (lambda: structural_function(np.zeros((5, 1)), [0, 2]), "every n_clusters must lie in"),
    (lambda: structural_function(np.zeros((5, 1)), [2.5]), "n_clusters must be an int"),
    (lambda: structural_function(np.zeros((5, 1)), 2, exponent=0), "exponent must be > 0"),
    (lambda: structural_function(np.zeros((5, 1)), 2, variance_scale=-1),
     "variance_scale must be > 0"),
    (lambda: structural_function(np.zeros((5, 1)), 2, max_pairs=0), "max_pairs must be"),
    (lambda: fit_structural_function([1, 2], [1.0]), "the same length"),
    (lambda: fit_structural_function([2, 2], [1.0, 0.5]), "at least two distinct"),
    (lambda: fit_structural_function([0, 2], [1.0, 0.5]), "n_clusters must be >= 1"),
    (lambda: fit_structural_function([2, 3], [0.0, -1.0]), "at least two distinct"),
])
def test_bad_inputs(call, fragment):
    with pytest.raises(ValidationError, match=fragment):
        call()


def test_predict_unknown_kind():
    fit = fit_structural_function([4, 8, 16], [0.5, 0.25, 0.125])
    with pytest.raises(ValidationError, match="unknown kind 'cubic'"):
        fit.predict(4, kind="cubic")


@pytest.mark.parametrize("j", [-1000, -400, 400, 1000])
def test_k_center_and_structural_function_in_the_units_of_the_points(j):
    c = 2.0**j
    X = np.random.default_rng(0).normal(size=(30, 2))
    centers, labels, radius = k_center(X, 4, seed=1)
    c2, l2, r2 = k_center(c * X, 4, seed=1)
    np.testing.assert_array_equal(c2, centers)
    np.testing.assert_array_equal(l2, labels)
    assert r2 == pytest.approx(c * radius, rel=1e-14)
    for p in (1.0, 1.5):
        ref = structural_function(X, [1, 3, 5], exponent=p, seed=2)
        if abs(j * p) < 1000:
            got = structural_function(c * X, [1, 3, 5], exponent=p, seed=2)
            np.testing.assert_allclose(got, 2.0 ** (j * p) * ref, rtol=1e-13)


def test_k_center_and_structural_function_beyond_the_float_range_are_refused():
    X = np.array([[1e308], [-1e308]])
    with pytest.raises(ValidationError, match="covering radius exceeds the float64 range"):
        k_center(X, 1, seed=0)
    assert k_center(X, 2, seed=0)[2] == 0.0
    with pytest.raises(ValidationError, match="exceeds the float64 range"):
        structural_function(X, 1, seed=0)


@pytest.mark.parametrize("scale", [1e160, 1e300, 1e-300])
def test_k_center_and_structural_function_at_extreme_scales(scale):
    """Labels do not depend on the scale; the radius scales by it, F(M) by its power p."""
    import warnings

    X = np.random.default_rng(0).normal(size=(30, 2))
    c0, l0, r0 = k_center(X, 4, seed=0)
    F0 = structural_function(X, [2, 4], exponent=1.0, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c1, l1, r1 = k_center(X * scale, 4, seed=0)
        F1 = structural_function(X * scale, [2, 4], exponent=1.0, seed=0)
    np.testing.assert_array_equal(c0, c1)
    np.testing.assert_array_equal(l0, l1)
    assert r1 / scale == pytest.approx(r0, rel=1e-12)
    np.testing.assert_allclose(F1 / scale, F0, rtol=1e-12)


def test_structural_extremes_beyond_float64_raise():
    X = np.random.default_rng(1).normal(size=(10, 2))
    huge = np.where(X >= 0, 1.7e308, -1.7e308)
    with pytest.raises(ValidationError, match="float64 range"):
        k_center(huge, 3, seed=0)
    with pytest.raises(ValidationError, match="float64 range"):
        structural_function(X * 1e300, 3, exponent=2.0, seed=0)
    ks = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    with pytest.raises(ValidationError, match="beyond the float64 range"):
        fit_structural_function(ks * 1e300, ks ** -0.5)


def test_structural_fit_record_validates_its_fields():
    import dataclasses

    from starc.preferences import StructuralFit

    ks = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    fit = fit_structural_function(ks, ks ** -0.5)
    fields = {f.name: getattr(fit, f.name) for f in dataclasses.fields(fit)}
    assert StructuralFit(**fields).best == fit.best
    for name, bad in (("best", "cubic"), ("intensity", None), ("alpha", {fit.best: np.nan}),
                      ("rss", {}), ("n_clusters", ks[:-1]), ("values", "abc")):
        with pytest.raises(ValidationError):
            StructuralFit(**{**fields, name: bad})
