"""Tests of starc.transforms.ensembles: statistics, equivariance and their limits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from starc import ValidationError
from starc.transforms import ENSEMBLE_METHODS, ensemble_reward, standardize_members

scores = st.integers(1, 5).flatmap(lambda m: st.integers(1, 6).flatmap(
    lambda n: arrays(np.float64, (m, n), elements=st.floats(-100, 100))))
scales = st.floats(1e-2, 1e2)
shifts = st.floats(-1e3, 1e3)

EQUIVARIANT = ("mean", "median", "min", "max", "mean_minus_std", "nominal_min")


class TestEnsembleReward:
    def test_reference_values(self):
        R = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 6.0]])
        np.testing.assert_allclose(ensemble_reward(R, "mean"), [2.0, 2.0])
        np.testing.assert_allclose(ensemble_reward(R, "median"), [2.0, 0.0])
        np.testing.assert_allclose(ensemble_reward(R, "min"), [1.0, 0.0])
        np.testing.assert_allclose(ensemble_reward(R, "max"), [3.0, 6.0])
        std = np.array([np.sqrt(2 / 3), np.sqrt(8)])
        np.testing.assert_allclose(ensemble_reward(R, "mean_minus_std", lam=2.0),
                                   [2.0, 2.0] - 2.0 * std)
        np.testing.assert_allclose(ensemble_reward(R, "mean_minus_var", lam=0.5),
                                   [2.0 - 1 / 3, 2.0 - 4.0])
        np.testing.assert_allclose(ensemble_reward(R, "nominal_min", alpha=0.25),
                                   [0.25 * 2 + 0.75 * 1, 0.25 * 2 + 0.0])
        np.testing.assert_allclose(ensemble_reward(R, "nominal_min", alpha=0.5, nominal=2),
                                   [1.5, 3.0])
        beta = 2.0
        np.testing.assert_allclose(ensemble_reward(R, "softmin", beta=beta),
                                   -beta * np.log(np.mean(np.exp(-R / beta), axis=0)))

    @given(scores, scales, shifts, st.sampled_from(EQUIVARIANT), st.floats(0, 3))
    def test_affine_equivariance(self, R, a, b, how, lam):
        got = ensemble_reward(a * R + b, how, lam=lam)
        expected = a * ensemble_reward(R, how, lam=lam) + b
        tol = 1e-9 * (abs(a) * np.abs(R).max() + abs(b) + 1)
        np.testing.assert_allclose(got, expected, atol=tol)

    @given(scores, scales, shifts, st.floats(0.1, 10))
    def test_softmin_equivariant_when_beta_scales(self, R, a, b, beta):
        got = ensemble_reward(a * R + b, "softmin", beta=a * beta)
        expected = a * ensemble_reward(R, "softmin", beta=beta) + b
        tol = 1e-9 * (abs(a) * np.abs(R).max() + abs(b) + 1)
        np.testing.assert_allclose(got, expected, atol=tol)

    @given(scores, scales, shifts, st.floats(0.1, 3))
    def test_mean_minus_var_is_not_equivariant(self, R, a, b, lam):
        var = R.var(axis=0)
        assume(abs(a - 1.0) > 0.05 and np.any(var > 1e-3))
        got = ensemble_reward(a * R + b, "mean_minus_var", lam=lam)
        naive = a * ensemble_reward(R, "mean_minus_var", lam=lam) + b
        # the defect is exactly -lam (a^2 - a) var: the penalty scales as a^2
        tol = 1e-8 * (a * a * np.abs(R).max() ** 2 + abs(b) + 1)
        np.testing.assert_allclose(got - naive, -lam * (a * a - a) * var, atol=tol)
        assert np.max(np.abs(got - naive)) > 0

    def test_mean_minus_var_changes_the_ranking(self):
        # response 0: mean 1, spread 1; response 1: mean 0.5, no spread
        R = np.array([[0.0, 0.5], [2.0, 0.5]])
        f = ensemble_reward(R, "mean_minus_var", lam=0.4)
        g = ensemble_reward(3.0 * R, "mean_minus_var", lam=0.4)
        assert f[0] > f[1] and g[0] < g[1]

    @given(scores)
    def test_softmin_limits_and_bounds(self, R):
        tol = 1e-6 * (1 + np.abs(R).max())
        np.testing.assert_allclose(ensemble_reward(R, "softmin", beta=1e10), R.mean(0),
                                   atol=tol)
        np.testing.assert_allclose(ensemble_reward(R, "softmin", beta=1e-10), R.min(0),
                                   atol=tol)
        betas = [0.01, 0.1, 1.0, 10.0, 100.0]
        vals = np.array([ensemble_reward(R, "softmin", beta=b) for b in betas])
        assert np.all(np.diff(vals, axis=0) >= -1e-9 * (1 + np.abs(R).max()))  # increasing
        assert np.all(vals >= R.min(0) - 1e-9 * (1 + np.abs(R).max()))
        assert np.all(vals <= R.mean(0) + 1e-9 * (1 + np.abs(R).max()))

    def test_member_axis(self):
        R = np.random.default_rng(0).standard_normal((4, 3))
        np.testing.assert_allclose(ensemble_reward(R.T, "mean_minus_std", axis=1),
                                   ensemble_reward(R, "mean_minus_std"))

    @pytest.mark.parametrize("kw, match", [
        ({"how": "mode"}, "unknown ensemble how 'mode'; valid values are: 'mean'"),
        ({"how": "mean_minus_std", "lam": -1.0}, "lam must be >= 0.0"),
        ({"how": "softmin", "beta": 0.0}, "beta must be > 0.0"),
        ({"how": "nominal_min", "alpha": 1.5}, "alpha must be <= 1.0"),
        ({"how": "nominal_min", "nominal": 3}, "nominal member index 3 is out of range"),
        ({"how": "nominal_min", "nominal": "first"}, "nominal must be 'mean' or a member"),
        ({"how": "nominal_min", "nominal": 1.0}, "nominal must be 'mean' or a member"),
        ({"axis": 2}, "axis=2 is out of range"),
    ])
    def test_bad_options(self, kw, match):
        with pytest.raises(ValidationError, match=match):
            ensemble_reward(np.zeros((3, 2)), **kw)

    def test_bad_arrays(self):
        with pytest.raises(ValidationError, match="R contains 1 NaN"):
            ensemble_reward([[0.0, np.nan]])
        with pytest.raises(ValidationError, match="R has no members"):
            ensemble_reward(np.zeros((0, 3)))


class TestStandardizeMembers:
    def test_zero_mean_unit_std(self):
        R = np.random.default_rng(1).normal([[0.0], [5.0]], [[1.0], [9.0]], size=(2, 50))
        Z = standardize_members(R)
        np.testing.assert_allclose(Z.mean(axis=1), 0.0, atol=1e-14)
        np.testing.assert_allclose(Z.std(axis=1), 1.0, rtol=1e-14)

    @given(st.integers(0, 2**32 - 1), st.sampled_from(ENSEMBLE_METHODS))
    def test_invariant_to_per_member_affine_maps(self, seed, how):
        rng = np.random.default_rng(seed)
        R = rng.standard_normal((3, 4, 5))            # members x prompts x responses
        a = rng.uniform(0.1, 10.0, size=(3, 1, 1))
        b = rng.normal(0.0, 100.0, size=(3, 1, 1))
        np.testing.assert_allclose(standardize_members(a * R + b), standardize_members(R),
                                   atol=1e-10)
        np.testing.assert_allclose(ensemble_reward(a * R + b, how, standardize=True),
                                   ensemble_reward(R, how, standardize=True), atol=1e-9)

    def test_constant_member_maps_to_zero(self):
        R = np.array([[2.0, 2.0, 2.0], [0.0, 1.0, 2.0]])
        np.testing.assert_array_equal(standardize_members(R)[0], 0.0)

    def test_bad_inputs(self):
        with pytest.raises(ValidationError, match="R must have at least 2 dimension"):
            standardize_members([1.0, 2.0])
        with pytest.raises(ValidationError, match="R contains 1 NaN"):
            standardize_members([[1.0, np.nan]])
