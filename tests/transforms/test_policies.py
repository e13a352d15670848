"""Tests of starc.transforms.policies: KL tilts, best-of-n, win rates and KL sweeps.

The identities of THEORY.md section 8 are checked at 1e-12 against direct formulas; the
best-of-n distribution against brute-force enumeration of all draws; the KL sweep against
an independent root finder.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import expit, logsumexp

from starc import ValidationError
from starc.transforms import (best_of_n_kl, best_of_n_policy, compare_at_equal_kl,
                              exponential_tilt, kl_divergence, kl_sweep, kl_tilted_policy, lsc,
                              lsc_aggregate, p_all_good, reference_reward, win_probability,
                              win_rate)


def direct_tilt(p0, u, gamma):
    w = p0 * np.exp((u - u.max()) / gamma)
    return w / w.sum()


@st.composite
def bandit(draw, max_n=8, max_k=3):
    """A base policy (log-probs) and K reward vectors over n responses."""
    n = draw(st.integers(2, max_n))
    k = draw(st.integers(1, max_k))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p0 = rng.dirichlet(np.ones(n))
    R = rng.normal(0.0, draw(st.floats(0.1, 5.0)), size=(k, n))
    return np.log(p0), R


class TestKLTilt:
    def test_against_direct_formula(self):
        rng = np.random.default_rng(0)
        p0 = rng.dirichlet(np.ones(7))
        u = rng.standard_normal(7)
        for g in (0.1, 1.0, 7.0):
            np.testing.assert_allclose(kl_tilted_policy(np.log(p0), u, g),
                                       direct_tilt(p0, u, g), rtol=1e-13, atol=1e-300)

    def test_batch_of_gammas_and_zero_probability_responses(self):
        logp0 = np.array([np.log(0.5), np.log(0.5), -np.inf])
        u = np.array([0.0, 1.0, 100.0])
        out = kl_tilted_policy(logp0, u, np.array([1.0, 0.5]))
        assert out.shape == (2, 3)
        np.testing.assert_array_equal(out[:, 2], 0.0)
        np.testing.assert_allclose(out[0, :2], [1 / (1 + math.e), math.e / (1 + math.e)])

    def test_extreme_values_never_nan(self):
        out = kl_tilted_policy(np.log([0.5, 0.5]), [1e300, -1e300], 1e-300)
        np.testing.assert_array_equal(out, [1.0, 0.0])
        out = kl_tilted_policy(np.log([0.5, 0.5]), [1.0, 1.0], 5e-324)
        np.testing.assert_array_equal(out, [0.5, 0.5])

    @given(bandit())
    def test_lsc_tilt_at_gamma_one_is_conditioning_on_all_good(self, case):
        logp0, R = case
        ref = np.quantile(R, 0.85, axis=1, keepdims=True)
        pi = kl_tilted_policy(logp0, lsc_aggregate(R, ref), 1.0)
        good = np.prod(expit(R - ref), axis=0)           # p(all good | y)
        conditioned = np.exp(logp0) * good / np.sum(np.exp(logp0) * good)
        np.testing.assert_allclose(pi, conditioned, rtol=1e-12, atol=1e-15)

    @given(bandit(max_k=1), st.floats(0.05, 20.0))
    def test_reference_limits(self, case, gamma):
        logp0, R = case
        r = R[0]
        raw = kl_tilted_policy(logp0, r, gamma)
        # r_ref = +-200 stands for +-inf: |r| <= 25 here, so the O(exp(-175)) remainder of
        # LSC is far below double precision; rounding r - 200 costs about eps * 200 in
        # each utility, i.e. eps * 200 / gamma relative in the policy.
        rtol = 1e-13 + 8 * np.finfo(float).eps * 200 / gamma
        # r_ref -> +inf: LSC is a shifted raw reward -> the raw-reward policy
        np.testing.assert_allclose(kl_tilted_policy(logp0, lsc(r, 200.0), gamma), raw,
                                   rtol=rtol, atol=1e-15)
        # r_ref -> -inf: LSC -> 0 -> the base policy
        np.testing.assert_allclose(kl_tilted_policy(logp0, lsc(r, -200.0), gamma),
                                   np.exp(logp0), rtol=1e-13, atol=1e-15)

    @given(st.integers(0, 2**32 - 1), st.floats(0.1, 10.0))
    def test_per_prompt_shifts_change_nothing(self, seed, gamma):
        rng = np.random.default_rng(seed)
        P, K, n = 3, 2, 6
        logp0 = np.log(rng.dirichlet(np.ones(n), size=P))
        R = rng.standard_normal((K, P, n))
        c = rng.normal(0.0, 50.0, size=(K, P, 1))         # per-prompt, per-property shifts
        base = rng.standard_normal((K, P, 40))             # base-policy samples per prompt
        ref = reference_reward(base, 0.85, keepdims=True)
        ref_shifted = reference_reward(base + c, 0.85, keepdims=True)
        pi = kl_tilted_policy(logp0, lsc_aggregate(R, ref), gamma)
        pi_shift = kl_tilted_policy(logp0, lsc_aggregate(R + c, ref_shifted), gamma)
        np.testing.assert_allclose(pi_shift, pi, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(p_all_good(R + c, ref_shifted), p_all_good(R, ref),
                                   rtol=1e-9, atol=1e-12)

    @pytest.mark.parametrize("gamma", [0.0, -1.0, np.nan, np.inf, [1.0, 0.0]])
    def test_gamma_must_be_positive(self, gamma):
        with pytest.raises(ValidationError, match="gamma"):
            kl_tilted_policy(np.log([0.5, 0.5]), [0.0, 1.0], gamma)

    def test_gamma_message(self):
        with pytest.raises(ValidationError, match=r"gamma must be > 0 .*got 0\.0"):
            kl_tilted_policy(np.log([0.5, 0.5]), [0.0, 1.0], 0.0)

    @pytest.mark.parametrize("logp0, u, match", [
        ([0.0, np.nan], [0.0, 1.0], "logp0 contains 1 NaN"),
        ([0.0, np.inf], [0.0, 1.0], r"logp0 contains \+inf"),
        ([-np.inf, -np.inf], [0.0, 1.0], "-inf everywhere"),
        ([0.0, 0.0], [0.0, np.nan], "u contains 1 NaN"),
        ([0.0, 0.0], [0.0, 1.0, 2.0], "shapes do not broadcast"),
        (np.zeros(0), np.zeros(0), "at least one response"),
    ])
    def test_bad_inputs(self, logp0, u, match):
        with pytest.raises(ValidationError, match=match):
            kl_tilted_policy(logp0, u, 1.0)


class TestExponentialTilt:
    """The public tilt-with-KL that starc.bandit's overoptimization table uses."""

    def test_against_direct_formula_and_kl_divergence(self):
        rng = np.random.default_rng(3)
        p0 = rng.dirichlet(np.ones(6))
        u = rng.standard_normal(6)
        for beta in (0.1, 1.0, 7.0):
            pi, kl = exponential_tilt(np.log(p0), u, beta)
            np.testing.assert_allclose(pi, direct_tilt(p0, u, 1.0 / beta), rtol=1e-13,
                                       atol=1e-300)
            # the KL from the tilt's own log-partition against scipy's rel_entr sum
            assert float(kl) == pytest.approx(float(kl_divergence(pi, p0)), rel=1e-12)

    def test_same_policy_as_kl_tilted_policy(self):
        logp0 = np.log([0.2, 0.3, 0.5])
        u = np.array([1.0, -2.0, 0.5])
        pi, _ = exponential_tilt(logp0, u, 0.5)
        np.testing.assert_array_equal(pi, kl_tilted_policy(logp0, u, 2.0))

    def test_limits_and_rows(self):
        logp0 = np.log([[0.5, 0.25, 0.25], [0.25, 0.25, 0.5]])
        u = np.array([[0.0, 1.0, 1.0], [3.0, 0.0, 0.0]])
        pi, kl = exponential_tilt(logp0, u, [0.0, np.inf])
        np.testing.assert_allclose(pi[0], [0.5, 0.25, 0.25], rtol=1e-15)
        assert kl[0] == 0.0
        np.testing.assert_allclose(pi[1], [1.0, 0.0, 0.0], rtol=1e-15)   # argmax set
        assert kl[1] == pytest.approx(math.log(4.0), rel=1e-14)          # -log pi0(argmax)

    @pytest.mark.parametrize("logp0, u, beta, match", [
        (np.log([0.5, 0.4]), [0.0, 1.0], 1.0, "must be normalised"),
        ([0.0, np.nan], [0.0, 1.0], 1.0, "never NaN"),
        ([-np.inf, -np.inf], [0.0, 1.0], 1.0, "positive probability"),
        (np.log([0.5, 0.5]), [0.0, np.inf], 1.0, "u contains 1 NaN or infinite"),
        (np.log([0.5, 0.5]), [0.0, 1.0], -1.0, "beta must be >= 0"),
        (np.log([0.5, 0.5]), [0.0, 1.0], np.nan, "beta must be >= 0"),
        (np.log(np.full((2, 2), 0.5)), [0.0, 1.0], [1.0, 2.0, 3.0], "shapes do not broadcast"),
    ])
    def test_bad_inputs(self, logp0, u, beta, match):
        with pytest.raises(ValidationError, match=match):
            exponential_tilt(logp0, u, beta)


class TestKLDivergence:
    def test_against_sum(self):
        p = np.array([0.2, 0.3, 0.5])
        q = np.array([0.1, 0.6, 0.3])
        assert kl_divergence(p, q) == pytest.approx(np.sum(p * np.log(p / q)), rel=1e-14)
        assert kl_divergence(p, p) == 0.0
        assert kl_divergence([0.0, 1.0], [0.5, 0.5]) == pytest.approx(math.log(2))
        assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
        assert kl_divergence(np.stack([p, q]), q).shape == (2,)

    @pytest.mark.parametrize("p, q, match", [
        ([0.5, 0.6], [0.5, 0.5], "p must sum to 1"),
        ([0.5, 0.5], [1.5, -0.5], "q has a negative entry"),
        ([0.5, np.nan], [0.5, 0.5], "p contains 1 NaN"),
        ([0.5, 0.5], [0.2, 0.3, 0.5], "do not broadcast"),
    ])
    def test_bad_inputs(self, p, q, match):
        with pytest.raises(ValidationError, match=match):
            kl_divergence(p, q)


def brute_force_best_of_n(p0, r, n):
    """Enumerate all n-tuples of draws; ties split uniformly among the tied draws."""
    out = np.zeros(len(p0))
    for draws in itertools.product(range(len(p0)), repeat=n):
        prob = np.prod(p0[list(draws)])
        best = max(r[i] for i in draws)
        winners = [i for i in draws if r[i] == best]
        for i in winners:
            out[i] += prob / len(winners)
    return out


class TestBestOfN:
    @given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(2, 5))
    def test_against_enumeration_with_ties(self, seed, n, m):
        rng = np.random.default_rng(seed)
        p0 = rng.dirichlet(np.ones(m))
        r = rng.integers(0, 3, size=m).astype(float)      # many ties
        np.testing.assert_allclose(best_of_n_policy(np.log(p0), r, n),
                                   brute_force_best_of_n(p0, r, n), rtol=1e-12, atol=1e-15)

    def test_n_one_is_base_policy(self):
        p0 = np.array([0.1, 0.2, 0.7])
        np.testing.assert_allclose(best_of_n_policy(np.log(p0), [3.0, 1.0, 2.0], 1), p0)

    def test_tiny_top_probability_keeps_relative_precision(self):
        p0 = np.array([1.0 - 1e-20, 1e-20])
        pi = best_of_n_policy(np.log(p0), [0.0, 1.0], 4)
        assert pi[1] == pytest.approx(4e-20, rel=1e-12)

    _increasing = [
        lambda x: 2.0 * x + 5.0,
        lambda x: x**3 + x,
        np.exp,
        lambda x: lsc(x, 0.7),
        lambda x: np.arctan(x),
    ]

    @given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.sampled_from(range(5)))
    def test_invariant_to_increasing_transforms(self, seed, n, which):
        rng = np.random.default_rng(seed)
        m = 12
        logp0 = np.log(rng.dirichlet(np.ones(m), size=2))
        r = np.round(rng.uniform(-3, 3, size=(2, m)), 1)    # ties included
        f = self._increasing[which]
        np.testing.assert_allclose(best_of_n_policy(logp0, f(r), n),
                                   best_of_n_policy(logp0, r, n), rtol=1e-12, atol=1e-15)

    def test_kl_formula(self):
        assert best_of_n_kl(4) == pytest.approx(math.log(4) - 0.75, abs=1e-15)
        assert best_of_n_kl(1) == 0.0

    @pytest.mark.parametrize("n", [2, 4, 16])
    def test_exact_kl_below_and_close_to_formula(self, n):
        m = 20000
        logp0 = np.full(m, -math.log(m))
        r = np.arange(m, dtype=float)
        kl = kl_divergence(best_of_n_policy(logp0, r, n), np.exp(logp0))
        assert kl <= best_of_n_kl(n)
        assert kl == pytest.approx(best_of_n_kl(n), abs=5e-3)

    def test_win_rate_against_base_is_n_over_n_plus_one(self):
        m = 4000
        p0 = np.full(m, 1.0 / m)
        r = np.random.default_rng(3).permutation(m).astype(float)
        for n in (1, 2, 5):
            wr = win_rate(best_of_n_policy(np.log(p0), r, n), p0, r)
            assert wr == pytest.approx(n / (n + 1), abs=1e-3)

    @pytest.mark.parametrize("n, match", [
        (0, "n must be an integer >= 1, got 0"),
        (2.5, "n must be an integer >= 1, got 2.5"),
        (True, "n must be an integer >= 1"),
    ])
    def test_bad_n(self, n, match):
        with pytest.raises(ValidationError, match=match):
            best_of_n_policy(np.log([0.5, 0.5]), [0.0, 1.0], n)
        with pytest.raises(ValidationError, match=match):
            best_of_n_kl(n)

    def test_bad_rewards(self):
        with pytest.raises(ValidationError, match="r contains 1 NaN"):
            best_of_n_policy(np.log([0.5, 0.5]), [0.0, np.nan], 2)
        with pytest.raises(ValidationError, match="do not broadcast"):
            best_of_n_policy(np.log([0.5, 0.5]), [0.0, 1.0, 2.0], 2)


def brute_force_win(policy, reference, r, model):
    total = 0.0
    for i, j in itertools.product(range(len(r)), repeat=2):
        if model == "hard":
            s = 1.0 if r[i] > r[j] else 0.5 if r[i] == r[j] else 0.0
        else:
            s = 1.0 / (1.0 + math.exp(-(r[i] - r[j])))
        total += policy[i] * reference[j] * s
    return total


class TestWinRates:
    @given(st.integers(0, 2**32 - 1), st.sampled_from(["hard", "bradley_terry"]))
    def test_against_double_loop(self, seed, model):
        rng = np.random.default_rng(seed)
        m = 7
        p, q = rng.dirichlet(np.ones(m), size=2)
        r = rng.integers(-2, 3, size=m).astype(float)
        assert win_rate(p, q, r, model=model) == pytest.approx(
            brute_force_win(p, q, r, model), abs=1e-13)
        # antisymmetry and self-play
        assert win_rate(p, q, r, model=model) + win_rate(q, p, r, model=model) == \
            pytest.approx(1.0, abs=1e-13)
        assert win_rate(p, p, r, model=model) == pytest.approx(0.5, abs=1e-13)

    def test_bradley_terry_chunks(self):
        rng = np.random.default_rng(5)
        m = 3000
        r = rng.standard_normal(m)
        q = rng.dirichlet(np.ones(m))
        w = win_probability(r, q, model="bradley_terry")
        idx = [0, 17, 2999]
        expected = [np.sum(q * expit(r[i] - r)) for i in idx]
        np.testing.assert_allclose(w[idx], expected, rtol=1e-12)

    def test_bad_inputs(self):
        with pytest.raises(ValidationError, match="unknown win-rate model 'soft'"):
            win_probability([0.0, 1.0], [0.5, 0.5], model="soft")
        with pytest.raises(ValidationError, match="reference must sum to 1"):
            win_probability([0.0, 1.0], [0.5, 0.6])
        with pytest.raises(ValidationError, match="policy must sum to 1"):
            win_rate([0.2, 0.2], [0.5, 0.5], [0.0, 1.0])


class TestKLSweep:
    def exact(self, logp0, u, target, k):
        def kl_and_value(beta):
            a = logp0 + beta * u
            lz = logsumexp(a)
            p = np.exp(a - lz)
            return p @ (beta * u - lz), p @ target
        beta = brentq(lambda b: kl_and_value(b)[0] - k, 1e-12, 1e6, xtol=1e-15, rtol=1e-15)
        return kl_and_value(beta)[1], 1.0 / beta

    def test_against_root_finder(self):
        rng = np.random.default_rng(11)
        n = 300
        logp0 = np.log(rng.dirichlet(np.ones(n)))
        u = rng.standard_normal(n)
        target = rng.uniform(size=n)
        kls = [0.01, 0.3, 1.0, 2.5]
        res = kl_sweep(logp0, u, kls, target=target)
        for j, k in enumerate(kls):
            value, gamma = self.exact(logp0, u, target, k)
            assert res.value[j] == pytest.approx(value, abs=1e-10)
            assert res.gamma[j] == pytest.approx(gamma, rel=1e-8)
            pi = kl_tilted_policy(logp0, u, res.gamma[j])
            assert kl_divergence(pi, np.exp(logp0)) == pytest.approx(k, rel=1e-9)
        # interpolation alone is close, too
        rough = kl_sweep(logp0, u, kls, target=target, refine=False, n_points=512)
        np.testing.assert_allclose(rough.value, res.value, atol=1e-3)

    def test_kl_zero_and_kl_max(self):
        logp0 = np.log(np.full(4, 0.25))
        u = np.array([0.0, 1.0, 2.0, 2.0])
        res = kl_sweep(logp0, u, [0.0], target=u)
        assert res.value[0] == pytest.approx(1.25) and res.gamma[0] == math.inf
        assert res.kl_max == pytest.approx(math.log(2))
        with pytest.raises(ValidationError, match=r"kl values must be below kl_max = 0\.693"):
            kl_sweep(logp0, u, [0.7])

    def test_prompts_share_gamma(self):
        rng = np.random.default_rng(2)
        logp0 = np.log(rng.dirichlet(np.ones(20), size=3))
        u = rng.standard_normal((3, 20))
        res = kl_sweep(logp0, u, [0.5])
        pi = kl_tilted_policy(logp0, u, res.gamma[0])
        assert np.mean(kl_divergence(pi, np.exp(logp0))) == pytest.approx(0.5, rel=1e-9)
        assert res.value[0] == pytest.approx(np.mean(np.sum(pi * u, -1)), rel=1e-9)

    def test_prompt_weights_equal_repeated_prompts(self):
        # weights (1/4, 3/4) on two prompts == uniform weights on the prompts (a, b, b, b)
        rng = np.random.default_rng(5)
        logp0 = np.log(rng.dirichlet(np.ones(12), size=2))
        u = rng.standard_normal((2, 12))
        target = rng.uniform(size=(2, 12))
        rep = [0, 1, 1, 1]
        weighted = kl_sweep(logp0, u, [0.0, 0.2, 0.9], target=target, weights=[0.25, 0.75])
        repeated = kl_sweep(logp0[rep], u[rep], [0.0, 0.2, 0.9], target=target[rep])
        np.testing.assert_allclose(weighted.value, repeated.value, rtol=1e-9)
        np.testing.assert_allclose(weighted.gamma[1:], repeated.gamma[1:], rtol=1e-8)
        assert weighted.kl_max == pytest.approx(repeated.kl_max, rel=1e-12)
        pi = kl_tilted_policy(logp0, u, weighted.gamma[2])
        kl = kl_divergence(pi, np.exp(logp0))
        assert 0.25 * kl[0] + 0.75 * kl[1] == pytest.approx(0.9, rel=1e-9)
        out = compare_at_equal_kl(logp0, {"u": u}, target, [0.2], weights=[0.25, 0.75])
        assert out["u"][0] == pytest.approx(weighted.value[1], rel=1e-12)

    @pytest.mark.parametrize("weights, match", [
        ([0.5, 0.5, 0.0], r"weights must have the shape of the prompt axes \(2,\)"),
        ([-0.5, 1.5], "weights has a negative entry"),
        ([0.5, 0.6], "weights must sum to 1"),
        ([np.nan, 1.0], "weights contains 1 NaN"),
    ])
    def test_bad_weights(self, weights, match):
        with pytest.raises(ValidationError, match=match):
            kl_sweep(np.log(np.full((2, 3), 1 / 3)), np.eye(2, 3), [0.1], weights=weights)

    def test_compare_at_equal_kl(self):
        logp0 = np.log(np.full(50, 0.02))
        t = np.linspace(0, 1, 50)
        out = compare_at_equal_kl(logp0, {"a": t, "b": -t, "c": t**2}, t, [0.2, 1.0])
        assert list(out) == ["a", "b", "c"]
        assert np.all(out["a"] > out["c"]) and np.all(out["b"] < 0.5)

    @pytest.mark.parametrize("kw, match", [
        ({"kl": [-0.1]}, "kl values must be >= 0"),
        ({"kl": [[0.1]]}, "kl must be a non-empty 1-D array"),
        ({"kl": [np.nan]}, "kl contains 1 NaN"),
        ({"kl": [0.1], "n_points": 3}, "n_points must be an integer >= 8"),
        ({"kl": [0.1], "target": [1.0, 2.0, 3.0]}, "shapes do not broadcast"),
        ({"kl": [0.1], "refine": "yes"}, "refine must be True or False"),
    ])
    def test_bad_inputs(self, kw, match):
        with pytest.raises(ValidationError, match=match):
            kl_sweep(np.log([0.5, 0.5]), [0.0, 1.0], **kw)

    def test_compare_bad_utilities(self):
        with pytest.raises(ValidationError, match="utilities must be a non-empty mapping"):
            compare_at_equal_kl(np.log([0.5, 0.5]), {}, [0.0, 1.0], [0.1])
        with pytest.raises(ValidationError, match="utilities keys must be strings"):
            compare_at_equal_kl(np.log([0.5, 0.5]), {1: [0.0, 1.0]}, [0.0, 1.0], [0.1])


@pytest.mark.parametrize("scale", [1e160, 1e300, 1e-300])
def test_kl_sweep_at_extreme_utility_scales(scale):
    """The tilt depends on u / gamma only: scaling u scales gamma and the value of u."""
    import warnings

    logp0 = np.log(np.full(5, 0.2))
    u = np.array([0.0, 1.0, -1.0, 0.5, 2.0])
    ref = kl_sweep(logp0, u, [0.0, 0.1, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = kl_sweep(logp0, u * scale, [0.0, 0.1, 0.5])
    np.testing.assert_allclose(got.gamma[1:] / scale, ref.gamma[1:], rtol=1e-9)
    np.testing.assert_allclose(got.value / scale, ref.value, rtol=1e-9, atol=1e-12)
    assert got.gamma[0] == np.inf  # documented: the base policy at KL 0


def test_probabilities_above_one_refused_before_summing():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValidationError, match=r"\[0, 1\]"):
            kl_divergence(np.full(3, 1.7e308), np.full(3, 1 / 3))


def test_kl_sweep_record_validates_its_fields():
    from starc.transforms import KLSweep

    ok = KLSweep([0.0, 0.1], [np.inf, 2.0], [1.0, 1.5], 1.6)
    assert ok.gamma[0] == np.inf and ok.kl_max == 1.6
    for args in (([0.1], [np.nan], [1.0], 1.0), ([0.1], [np.inf], [1.0], 1.0),
                 ([0.1], [-1.0], [1.0], 1.0), ([0.1, 0.2], [1.0], [1.0], 1.0),
                 ([0.1], [1.0], [np.nan], 1.0), ([0.1], [1.0], [1.0], None),
                 ([-0.1], [1.0], [1.0], 1.0)):
        with pytest.raises(ValidationError):
            KLSweep(*args)


def test_log_probabilities_below_float64_normalise_to_probability_zero():
    import warnings

    logp0 = np.array([0.0, 0.0, 0.0, 1.7e308, -9.769313486231587e306])
    u = np.array([0.0, 1.0, -1.0, 0.5, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pi = kl_tilted_policy(logp0, u, 1.0)
    np.testing.assert_array_equal(pi, [0.0, 0.0, 0.0, 1.0, 0.0])
