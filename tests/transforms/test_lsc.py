"""Tests of starc.transforms.lsc: the LSC transform, references and named transforms.

Reference values come from independent formulas (naive float expressions at moderate
arguments, numpy/scipy quantiles), never from the functions under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm

from starc import ValidationError
from starc.transforms import TRANSFORM_KINDS, lsc, reference_reward, transform

finite = st.floats(-50.0, 50.0, allow_nan=False, allow_infinity=False)


def naive_lsc(x: float) -> float:
    return -math.log1p(math.exp(-x))


class TestLSC:
    def test_matches_naive_formula(self):
        x = np.linspace(-30.0, 30.0, 241)
        expected = np.array([naive_lsc(v) for v in x])
        np.testing.assert_allclose(lsc(x, 0.0), expected, rtol=1e-14, atol=0)

    @given(st.floats(-700.0, 700.0))
    def test_probabilities_of_a_and_minus_a_sum_to_one(self, a):
        total = math.exp(float(lsc(a, 0.0))) + math.exp(float(lsc(-a, 0.0)))
        assert abs(total - 1.0) <= 1e-12

    def test_finite_at_plus_minus_1000(self):
        out = lsc([1000.0, -1000.0], 0.0)
        assert np.all(np.isfinite(out))
        assert out[0] <= 0.0 and out[0] > -1e-300       # -exp(-1000) underflows to -0
        assert out[1] == pytest.approx(-1000.0, rel=1e-15)
        # and far outside the double range of exp
        assert np.isfinite(lsc(-1e300, 0.0)) and lsc(1e300, 0.0) == 0.0

    @given(finite, finite)
    def test_non_positive_and_shift_invariant(self, r, c):
        assert lsc(r, 0.0) <= 0.0
        assert lsc(r + c, c) == pytest.approx(float(lsc(r, 0.0)), abs=1e-9)

    def test_increasing_concave_with_sigmoid_derivative(self):
        r = np.linspace(-10, 10, 2001)
        u = lsc(r, 1.5)
        d = np.diff(u)
        assert np.all(d > 0)
        assert np.all(np.diff(d) < 1e-15)                # concave
        h = 1e-6
        deriv = (lsc(r + h, 1.5) - lsc(r - h, 1.5)) / (2 * h)
        np.testing.assert_allclose(deriv, 1.0 / (1.0 + np.exp(r - 1.5)), atol=1e-8)

    def test_reference_limits(self):
        r = np.linspace(-3, 3, 7)
        # r_ref -> +inf: a shifted raw reward; r_ref -> -inf: zero
        np.testing.assert_allclose(lsc(r, 1e3) + 1e3, r, atol=1e-12)
        np.testing.assert_allclose(lsc(r, -1e3), 0.0, atol=1e-300)

    def test_broadcasting(self):
        r = np.arange(6.0).reshape(2, 3)
        out = lsc(r, np.array([[0.0], [1.0]]))
        assert out.shape == (2, 3)
        assert out[1, 1] == pytest.approx(naive_lsc(3.0), rel=1e-14)

    @pytest.mark.parametrize("r, ref, match", [
        ([np.nan], 0.0, "r contains 1 NaN"),
        ([1.0], np.inf, "r_ref contains 1 NaN or infinite"),
        (np.zeros(3), np.zeros(2), r"r of shape \(3,\) and r_ref of shape \(2,\)"),
        ("abc", 0.0, "r must be a numeric array"),
    ])
    def test_bad_inputs(self, r, ref, match):
        with pytest.raises(ValidationError, match=match):
            lsc(r, ref)


class TestReferenceReward:
    def test_empirical_is_numpy_quantile(self):
        rng = np.random.default_rng(0)
        s = rng.standard_normal((4, 37))
        for q in (0.1, 0.5, 0.85, 0.99):
            np.testing.assert_array_equal(reference_reward(s, q), np.quantile(s, q, axis=-1))

    def test_normal_fit(self):
        rng = np.random.default_rng(1)
        s = rng.normal(2.0, 3.0, size=(3, 50))
        expected = norm.ppf(0.85, loc=s.mean(-1), scale=s.std(-1, ddof=1))
        np.testing.assert_allclose(reference_reward(s, method="normal"), expected, rtol=1e-13)

    def test_axis_and_keepdims(self):
        s = np.arange(12.0).reshape(3, 4)
        assert reference_reward(s, 0.5, axis=0).shape == (4,)
        assert reference_reward(s, 0.5, keepdims=True).shape == (3, 1)
        assert float(reference_reward(np.arange(101.0))) == pytest.approx(85.0)

    @given(st.lists(finite, min_size=2, max_size=20), finite,
           st.floats(0.01, 0.99), st.sampled_from(["empirical", "normal"]))
    def test_shift_equivariant(self, samples, c, q, method):
        s = np.array(samples)
        got = reference_reward(s + c, q, method)
        assert got == pytest.approx(float(reference_reward(s, q, method)) + c, abs=1e-9)

    @pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, float("nan"), float("inf")])
    def test_q_outside_open_interval(self, q):
        with pytest.raises(ValidationError, match="q must"):
            reference_reward([1.0, 2.0], q)

    @pytest.mark.parametrize("samples, kw, match", [
        ([1.0, np.nan], {}, "samples contains 1 NaN"),
        (np.zeros((2, 0)), {}, "samples has no entries"),
        ([1.0], {"method": "normal"}, "needs at least 2 samples"),
        ([1.0, 2.0], {"method": "median"}, "unknown method 'median'; valid values are"),
        ([1.0, 2.0], {"axis": 3}, "axis=3 is out of range"),
    ])
    def test_bad_inputs(self, samples, kw, match):
        with pytest.raises(ValidationError, match=match):
            reference_reward(samples, **kw)


prompts = st.integers(1, 4).flatmap(
    lambda p: st.integers(2, 8).flatmap(
        lambda n: st.lists(st.lists(finite, min_size=n, max_size=n), min_size=p, max_size=p)))


class TestTransform:
    @given(prompts, st.lists(finite, min_size=4, max_size=4))
    def test_per_prompt_shift_invariance(self, rows, shifts):
        r = np.array(rows)
        c = np.array(shifts[: r.shape[0]])[:, None]
        for kind in ("center", "zscore", "minmax", "lsc"):
            a, b = transform(r, kind), transform(r + c, kind)
            scale = 1.0 + np.abs(r).max() + np.abs(c).max()
            if kind in ("zscore", "minmax"):
                # values relative to the prompt's spread: compare only well-conditioned rows
                spread = np.ptp(r, axis=1)
                ok = spread > 1e-6 * scale
                np.testing.assert_allclose(a[ok], b[ok], atol=1e-6)
            else:
                np.testing.assert_allclose(a, b, atol=1e-9 * scale)

    @given(prompts, st.sampled_from(TRANSFORM_KINDS))
    def test_monotone_per_prompt(self, rows, kind):
        r = np.array(rows)
        kw = {"low": -1.0, "high": 1.0} if kind == "clip" else {}
        out = transform(r, kind, **kw)
        order = np.argsort(r, axis=1, kind="stable")
        sorted_out = np.take_along_axis(out, order, axis=1)
        assert np.all(np.diff(sorted_out, axis=1) >= -1e-12)
        assert np.all(np.isfinite(out))

    def test_reference_values(self):
        r = np.array([[1.0, 2.0, 3.0, 6.0]])
        np.testing.assert_allclose(transform(r, "center"), [[-2.0, -1.0, 0.0, 3.0]])
        z = transform(r, "zscore")
        assert z.mean() == pytest.approx(0.0, abs=1e-15) and z.std() == pytest.approx(1.0)
        np.testing.assert_allclose(transform(r, "minmax"), [[0.0, 0.2, 0.4, 1.0]])
        np.testing.assert_allclose(transform(r, "clip", low=1.5, high=3.0),
                                   [[1.5, 2.0, 3.0, 3.0]])
        np.testing.assert_allclose(transform(r, "clip", high=2.0), [[1.0, 2.0, 2.0, 2.0]])
        np.testing.assert_allclose(transform(r, "tanh"), np.tanh(r))
        np.testing.assert_allclose(transform(r, "sigmoid"), 1 / (1 + np.exp(-r)))
        np.testing.assert_array_equal(transform(r, "identity"), r)
        ref = np.quantile(r, 0.85)
        np.testing.assert_allclose(transform(r, "lsc"), lsc(r, ref))
        np.testing.assert_allclose(transform(r, "lsc", r_ref=2.0), lsc(r, 2.0))

    def test_constant_prompt_maps_to_zero(self):
        r = np.full((2, 5), 7.0)
        for kind in ("center", "zscore", "minmax"):
            np.testing.assert_array_equal(transform(r, kind), 0.0)

    def test_axis(self):
        r = np.arange(6.0).reshape(3, 2)
        np.testing.assert_allclose(transform(r, "center", axis=0), r - r.mean(0))

    @pytest.mark.parametrize("kind, kw, match", [
        ("softplus", {}, "unknown transform kind 'softplus'; valid values are: 'identity'"),
        ("clip", {}, "kind='clip' needs low and/or high"),
        ("clip", {"low": 2.0, "high": 1.0}, "low must be <= high"),
        ("center", {"r_ref": 0.0}, "r_ref is only used by kind='lsc'"),
        ("tanh", {"low": 0.0}, "low and high are only used by kind='clip'"),
        ("lsc", {"q": 1.0}, "q must be < 1.0"),
        ("lsc", {"r_ref": np.zeros((3, 3))}, "do not broadcast|without enlarging"),
    ])
    def test_bad_options(self, kind, kw, match):
        with pytest.raises(ValidationError, match=match):
            transform(np.zeros((2, 4)), kind, **kw)

    def test_bad_arrays(self):
        with pytest.raises(ValidationError, match="r contains 1 NaN"):
            transform([0.0, np.nan], "center")
        with pytest.raises(ValidationError, match="r has no responses"):
            transform(np.zeros((2, 0)), "center")


@pytest.mark.parametrize("method", ["empirical", "normal"])
def test_reference_reward_of_extreme_samples_scales_exactly(method):
    import warnings

    s = np.random.default_rng(0).normal(size=(3, 9))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = reference_reward(np.ldexp(s, 1020), 0.85, method)
    np.testing.assert_allclose(np.ldexp(big, -1020), reference_reward(s, 0.85, method),
                               rtol=1e-14)
