"""Tests of starc.transforms.aggregation against direct numpy/scipy formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import expit

from starc import ValidationError
from starc.transforms import aggregate, lsc, lsc_aggregate, p_all_good

utilities = st.integers(1, 4).flatmap(lambda k: st.integers(1, 6).flatmap(
    lambda n: arrays(np.float64, (k, n), elements=st.floats(-20, 20))))


class TestAggregate:
    def test_reference_values(self):
        U = np.array([[1.0, 2.0, -3.0], [0.5, -1.0, 4.0]])
        np.testing.assert_allclose(aggregate(U), [1.5, 1.0, 1.0])
        np.testing.assert_allclose(aggregate(U, "weighted_sum", weights=[2.0, -1.0]),
                                   [1.5, 5.0, -10.0])
        np.testing.assert_allclose(aggregate(U, "min"), [0.5, -1.0, -3.0])
        np.testing.assert_allclose(aggregate(U, "prod"), [0.5, -2.0, -12.0])
        beta = 0.7
        expected = -beta * np.log(np.mean(np.exp(-U / beta), axis=0))
        np.testing.assert_allclose(aggregate(U, "softmin", beta=beta), expected, rtol=1e-13)

    def test_axis(self):
        U = np.arange(6.0).reshape(2, 3)
        np.testing.assert_allclose(aggregate(U, axis=1), U.sum(1))
        np.testing.assert_allclose(aggregate(U, axis=-1), U.sum(1))

    @given(utilities, st.floats(1e-3, 1e3))
    def test_softmin_between_min_and_mean(self, U, beta):
        s = aggregate(U, "softmin", beta=beta)
        tol = 1e-9 * (1 + np.abs(U).max())
        assert np.all(s >= U.min(0) - tol) and np.all(s <= U.mean(0) + tol)

    @given(utilities)
    def test_softmin_limits(self, U):
        tol = 1e-6 * (1 + np.abs(U).max())
        np.testing.assert_allclose(aggregate(U, "softmin", beta=1e9), U.mean(0), atol=tol)
        np.testing.assert_allclose(aggregate(U, "softmin", beta=1e-9), U.min(0), atol=tol)

    def test_softmin_no_overflow(self):
        U = np.array([[1e300], [-1e300]])
        assert aggregate(U, "softmin", beta=1e-300)[0] == -1e300

    @pytest.mark.parametrize("how, kw, match", [
        ("avg", {}, "unknown aggregation how 'avg'; valid values are: 'sum'"),
        ("weighted_sum", {}, "how='weighted_sum' needs weights"),
        ("weighted_sum", {"weights": [1.0]}, "expected length 2"),
        ("sum", {"weights": [1.0, 1.0]}, "weights are only used with how='weighted_sum'"),
        ("softmin", {"beta": 0.0}, "beta must be > 0.0"),
        ("softmin", {"beta": -1.0}, "beta must be > 0.0"),
        ("sum", {"axis": 2}, "axis=2 is out of range"),
        ("weighted_sum", {"weights": [1.0, np.nan]}, "weights contains 1 NaN"),
    ])
    def test_bad_inputs(self, how, kw, match):
        with pytest.raises(ValidationError, match=match):
            aggregate(np.ones((2, 3)), how, **kw)

    def test_nan_rejected(self):
        with pytest.raises(ValidationError, match="U contains 1 NaN"):
            aggregate([[1.0, np.nan]])


class TestLSCAggregate:
    @given(utilities, st.floats(0.05, 0.95))
    def test_sum_of_lsc_and_product_of_sigmoids(self, R, q):
        if R.shape[1] < 2:
            R = np.concatenate([R, R + 1.0], axis=1)
        ref = np.quantile(R, q, axis=1, keepdims=True)
        expected = sum(np.log(expit(R[k] - ref[k])) for k in range(R.shape[0]))
        got = lsc_aggregate(R, q=q)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(lsc_aggregate(R, ref), got, rtol=1e-15)
        prod = np.prod(expit(R - ref), axis=0)
        np.testing.assert_allclose(p_all_good(R, ref), prod, rtol=1e-12, atol=1e-300)

    def test_prompts_and_property_axis(self):
        rng = np.random.default_rng(0)
        R = rng.standard_normal((2, 3, 5))      # 2 properties, 3 prompts, 5 responses
        ref = rng.standard_normal((2, 3, 1))
        np.testing.assert_allclose(lsc_aggregate(R, ref), lsc(R, ref).sum(0))
        Rt = np.moveaxis(R, 0, 1)                # (3, 2, 5): properties on axis 1
        np.testing.assert_allclose(lsc_aggregate(Rt, np.moveaxis(ref, 0, 1), axis=1),
                                   lsc(R, ref).sum(0))

    def test_expectation_under_policy(self):
        R = np.array([[0.0, 3.0], [0.0, -3.0]])
        ref = np.zeros((2, 1))
        pol = np.array([0.3, 0.7])
        per = expit(R[0]) * expit(R[1])
        assert p_all_good(R, ref, policy=pol) == pytest.approx(pol @ per, rel=1e-14)

    @pytest.mark.parametrize("R, kw, match", [
        (np.zeros((2, 3)), {"r_ref": np.zeros((3, 1))}, r"do not broadcast"),
        (np.zeros((2, 3)), {"r_ref": np.zeros((4, 1, 1))}, "without enlarging it"),
        (np.zeros((2, 3)), {"q": 0.0}, "q must be > 0.0"),
        (np.zeros(3), {}, "no response axis"),
        (np.array([[0.0, np.nan]]), {}, "R contains 1 NaN"),
    ])
    def test_bad_inputs(self, R, kw, match):
        with pytest.raises(ValidationError, match=match):
            lsc_aggregate(R, **kw)

    def test_bad_policy(self):
        with pytest.raises(ValidationError, match="policy must sum to 1"):
            p_all_good(np.zeros((2, 3)), np.zeros((2, 1)), policy=[0.5, 0.2, 0.2])
        with pytest.raises(ValidationError, match="policy has a negative entry"):
            p_all_good(np.zeros((2, 3)), np.zeros((2, 1)), policy=[1.5, -0.5, 0.0])


def test_sums_of_extreme_utilities_are_exact_or_refused():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # naive summation overflows at 1.7e308 + 1.7e308; the true sum is 1.7e308
        U = np.array([[1.7e308], [1.7e308], [-1.7e308]])
        assert aggregate(U)[0] == 1.7e308
        assert aggregate(U, "weighted_sum", weights=[1.0, 1.0, 1.0])[0] == 1.7e308
        with pytest.raises(ValidationError, match="float64 range"):
            aggregate(U, "weighted_sum", weights=[2.0 ** 600] * 3)
        with pytest.raises(ValidationError, match="float64 range"):
            aggregate(np.array([[1.7e308], [1.7e308]]))
        with pytest.raises(ValidationError, match="float64 range"):
            aggregate(np.array([[1e200], [1e200]]), "prod")
        R = np.array([[-1.7e308, 0.0], [-1.7e308, 0.0]])
        # lsc(r, r_ref) ~ r - r_ref = -3.4e308 is itself beyond float64: refused, also in
        # the probability of all good (which would underflow to 0)
        with pytest.raises(ValidationError, match="float64 range"):
            lsc_aggregate(R, r_ref=np.full((2, 1), 1.7e308))
        with pytest.raises(ValidationError, match="float64 range"):
            p_all_good(R, r_ref=np.full((2, 1), 1.7e308))
        p = p_all_good(R, r_ref=np.full((2, 1), 1e306))  # log p(all good) < -1.8e308: p = 0
        assert p[0] == 0.0 and 0.0 <= p[1] <= 1.0
