"""Reward transforms, ensembles and aggregations for finite inputs anywhere in the float64 range.

A mean, a spread, a range or a sum of finite rewards can overflow although the quantity
asked for is representable. Checked against closed forms at the extremes, against the
textbook formulas (bit for bit) where those do not overflow, and against exact
equivariance under powers of two (which commute with rounding).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import starc
from starc import ValidationError
from starc.transforms import (aggregate, clip_process_rewards, delta_process_rewards,
                              ensemble_reward, kl_sweep, lsc, lsc_aggregate, reference_reward,
                              returns_to_go, standardize_members, transform, transform_reward)

BIG = 1e308
MAX = np.finfo(float).max
# magnitudes 0 or in [1e-100, 1e6]: where the textbook formulas neither overflow nor
# underflow (their squares of 1e-200-sized numbers did), so they are the reference
reward_entries = st.floats(-1e6, 1e6, width=64).map(lambda x: 0.0 if abs(x) < 1e-100 else x)
rewards = st.integers(1, 7).flatmap(
    lambda n: arrays(np.float64, (2, n), elements=reward_entries))
exponents = st.integers(-500, 1000)          # c * r and its centred values stay normal


def _textbook(r, kind):
    """The plain numpy formulas (as before the fix), for inputs where they do not overflow."""
    mean = r.mean(axis=-1, keepdims=True)
    if kind == "center":
        return r - mean
    if kind == "zscore":
        c = r - mean
        std = np.sqrt(np.mean(c**2, axis=-1, keepdims=True))
        flat = std <= 1e-12 * np.maximum(np.abs(r).max(axis=-1, keepdims=True), 1e-300)
        return np.where(flat, 0.0, c / np.where(flat, 1.0, std))
    lo, hi = r.min(axis=-1, keepdims=True), r.max(axis=-1, keepdims=True)
    return np.where(hi > lo, (r - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)


class TestPerPromptTransforms:
    def test_issue_instances(self):
        np.testing.assert_array_equal(transform([BIG, -BIG, 0.0], "minmax"), [1.0, 0.0, 0.5])
        np.testing.assert_allclose(transform([BIG, BIG, 0.0], "center"),
                                   [BIG / 3, BIG / 3, -(BIG / 3) * 2], rtol=1e-15)
        np.testing.assert_allclose(transform([BIG, -BIG, 0.0], "zscore"),
                                   [np.sqrt(1.5), -np.sqrt(1.5), 0.0], rtol=1e-15)
        np.testing.assert_array_equal(transform([MAX, MAX], "zscore"), [0.0, 0.0])
        np.testing.assert_array_equal(transform([-MAX, MAX], "minmax"), [0.0, 1.0])
        # tiny rewards are standardised too (their squares used to underflow to 0)
        np.testing.assert_allclose(transform([1e-200, 2e-200], "zscore"), [-1.0, 1.0],
                                   rtol=1e-15)
        np.testing.assert_allclose(transform([5e-324, 1e-323, 1.5e-323], "minmax"),
                                   [0.0, 0.5, 1.0])

    def test_center_beyond_the_float_range_is_refused(self):
        with pytest.raises(ValidationError, match="center.*beyond the float64 range"):
            transform([MAX, -MAX, -MAX], "center")       # MAX - (-MAX/3) > MAX

    @given(rewards, exponents)
    def test_powers_of_two_commute_and_finite_cases_match_the_textbook(self, r, j):
        c = 2.0**j
        for kind in ("center", "zscore", "minmax"):
            plain = transform(r, kind)
            np.testing.assert_array_equal(plain, _textbook(r, kind))
        np.testing.assert_array_equal(transform(c * r, "center"), c * transform(r, "center"))
        for kind in ("zscore", "minmax"):
            np.testing.assert_array_equal(transform(c * r, kind), transform(r, kind))

    def test_reference_and_lsc(self):
        assert float(reference_reward([-BIG, BIG], 0.5)) == 0.0
        assert float(reference_reward([-MAX, MAX], 0.75)) == pytest.approx(MAX / 2,
                                                                          rel=1e-15)
        assert float(reference_reward([-BIG, BIG], 0.5, method="normal")) == 0.0
        with pytest.raises(ValidationError, match="normal.*beyond the float64 range"):
            reference_reward([MAX, -MAX, MAX], 0.99, method="normal")
        # the default reference of the LSC transform is found without overflow
        out = transform([-BIG, BIG, 0.0], "lsc", q=0.5)
        np.testing.assert_array_equal(out, [-BIG, -0.0, np.log(0.5)])
        with pytest.raises(ValidationError, match="lsc.*beyond the float64 range"):
            lsc([-BIG], BIG)                              # log sigmoid(-2e308) = -2e308
        assert lsc([BIG], -BIG)[0] == 0.0                 # -exp(-2e308): 0 to round-off


class TestEnsembles:
    def test_statistics_of_huge_members(self):
        R = np.array([[BIG, -BIG], [BIG, 0.0], [1.5e308, BIG]])
        np.testing.assert_allclose(ensemble_reward(R, "mean"),
                                   [(BIG / 3) * 3.5, 0.0], rtol=1e-15)
        np.testing.assert_array_equal(ensemble_reward(R, "median"), [BIG, 0.0])
        np.testing.assert_array_equal(ensemble_reward(R[:2, :1], "median"), [BIG])
        np.testing.assert_array_equal(ensemble_reward(np.array([[BIG], [1.5e308]]),
                                                      "median"), [1.25e308])
        nm = ensemble_reward(R, "nominal_min", alpha=0.5)
        np.testing.assert_allclose(nm, [0.5 * (BIG / 3) * 3.5 + 0.5 * BIG, -0.5 * BIG],
                                   rtol=1e-15)
        std0 = np.sqrt(np.mean((R[:, 0] / 1e300 - 1e8 * 3.5 / 3) ** 2)) * 1e300
        np.testing.assert_allclose(ensemble_reward(R, "mean_minus_std", lam=1.0)[0],
                                   (BIG / 3) * 3.5 - std0, rtol=1e-14)
        with pytest.raises(ValidationError, match="mean_minus_var.*beyond the float64 range"):
            ensemble_reward(R, "mean_minus_var")
        # variance of 1e100-sized scores is 1e200: fine
        np.testing.assert_allclose(ensemble_reward(np.array([[1e100], [-1e100]]),
                                                   "mean_minus_var", lam=0.5), [-0.5e200])
        z = standardize_members(np.array([[BIG, -BIG, 0.0], [1e-300, 2e-300, 0.0]]))
        np.testing.assert_allclose(z, [[np.sqrt(1.5), -np.sqrt(1.5), 0.0],
                                       [0.0, np.sqrt(1.5), -np.sqrt(1.5)]], atol=1e-15)

    def test_softmin_between_min_and_mean_and_homogeneous(self):
        R = np.array([[BIG, 3.0], [-BIG, 1.0], [0.0, 2.0]])
        for beta in (1e-300, 1.0, 1e300, MAX):
            out = ensemble_reward(R, "softmin", beta=beta)
            assert np.all(np.isfinite(out))
            assert np.all(out >= R.min(axis=0) - 1e-12 * np.abs(R).max(axis=0))
            assert np.all(out <= ensemble_reward(R, "mean") * (1 + 1e-15) + 1e-300)
        assert ensemble_reward(R, "softmin", beta=1e-300)[0] == -BIG
        # (c r, c beta) -> c * softmin exactly for powers of two c
        small = np.array([[1.0, 3.0], [-2.0, 1.0], [0.5, 2.0]])
        ref = ensemble_reward(small, "softmin", beta=0.7)
        for j in (-1060, -500, 500, 1020):
            c = 2.0**j
            np.testing.assert_array_equal(ensemble_reward(c * small, "softmin", beta=0.7 * c),
                                          c * ref)


class TestAggregationAndSteps:
    def test_sums_and_products(self):
        np.testing.assert_array_equal(aggregate([[BIG], [BIG], [-BIG]]), [BIG])
        with pytest.raises(ValidationError, match="sum.*beyond the float64 range"):
            aggregate([[BIG], [BIG]])
        np.testing.assert_allclose(aggregate([[1e200], [1e200], [1e-200]], "prod"), [1e200],
                                   rtol=1e-15)
        np.testing.assert_allclose(aggregate([[1e-200], [1e-200], [1e200]], "prod"),
                                   [1e-200], rtol=1e-15)
        with pytest.raises(ValidationError, match="prod.*beyond the float64 range"):
            aggregate([[1e200], [1e200]], "prod")
        # weights times utilities beyond the range but cancelling: exact
        out = aggregate([[1e200], [-1e200]], "weighted_sum", weights=[1e150, 1e150])
        assert out[0] == 0.0
        np.testing.assert_array_equal(aggregate([[BIG], [-BIG]], "softmin", beta=1.0), [-BIG])
        # LSC sums of two very bad properties: about -2e308, refused
        with pytest.raises(ValidationError, match="beyond the float64 range"):
            lsc_aggregate([[-BIG], [-BIG]], r_ref=[[BIG], [BIG]])

    def test_process_rewards(self):
        np.testing.assert_array_equal(returns_to_go([BIG, BIG, -BIG]), [BIG, 0.0, -BIG])
        np.testing.assert_allclose(returns_to_go([BIG, BIG, -BIG], 0.5),
                                   [1.25e308, 0.5e308, -BIG], rtol=1e-15)
        with pytest.raises(ValidationError, match="returns_to_go.*beyond the float64 range"):
            returns_to_go([BIG, BIG])
        with pytest.raises(ValidationError, match="delta.*beyond the float64 range"):
            delta_process_rewards([BIG, -BIG])
        with pytest.raises(ValidationError, match="clip.*beyond the float64 range"):
            clip_process_rewards([-BIG], BIG)


class TestTabularAndKL:
    def test_tabular_statistics(self):
        mdp = starc.random_mdp(3, 2, seed=0)
        r = starc.random_reward(mdp, seed=1)
        for j in (-1000, 1000):
            c = 2.0**j
            for kind in ("zscore", "minmax"):
                for per in ("global", "state"):
                    np.testing.assert_array_equal(
                        transform_reward(c * r, kind, mdp, per=per),
                        transform_reward(r, kind, mdp, per=per))
            np.testing.assert_array_equal(transform_reward(c * r, "center", mdp),
                                          c * transform_reward(r, "center", mdp))
        big = np.zeros(mdp.shape)
        big[0, 0, 0], big[1, 0, 0] = BIG, -BIG
        mm = transform_reward(big, "minmax", mdp)
        assert mm[0, 0, 0] == 1.0 and mm[1, 0, 0] == 0.0 and mm[2, 1, 2] == 0.5

    def test_kl_sweep_in_the_units_of_u(self):
        logp0 = np.log(np.full(3, 1 / 3))
        u = np.array([1.0, -1.0, 0.0])
        ref = kl_sweep(logp0, u, [0.1, 0.5])
        for c in (1e-300, 1e300, BIG):
            res = kl_sweep(logp0, c * u, [0.1, 0.5])
            np.testing.assert_allclose(res.gamma, c * ref.gamma, rtol=1e-9)
            np.testing.assert_allclose(res.value, c * ref.value, rtol=1e-9)
            np.testing.assert_array_equal(res.kl, ref.kl)
