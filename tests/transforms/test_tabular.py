"""Tests of starc.transforms.tabular: transforms of (S, A, S) rewards and policy orderings.

Policy returns are computed here by a direct linear solve over all deterministic policies
(independent of starc.solve). The STARC-distance demonstration of the docs is tested when
``starc.starc_distance`` is available and skipped otherwise.
"""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest
from scipy.special import expit, log_expit

from starc import TabularMDP, ValidationError
from starc.transforms import TRANSFORM_KINDS, transform_reward


def all_returns(reward: np.ndarray, mdp: TabularMDP) -> np.ndarray:
    """J(pi) of every deterministic policy, by (I - gamma P_pi) V = r_pi."""
    t = np.asarray(mdp.transition)
    n_s, n_a, _ = t.shape
    out = []
    for actions in itertools.product(range(n_a), repeat=n_s):
        idx = np.arange(n_s), np.array(actions)
        p = t[idx]                                           # (S, S)
        r = np.sum(p * reward[idx], axis=1)                  # (S,)
        v = np.linalg.solve(np.eye(n_s) - mdp.gamma * p, r)
        out.append(mdp.initial @ v)
    return np.array(out)


def random_mdp_and_reward(seed: int, n_s: int = 3, n_a: int = 2, gamma: float = 0.9):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.05, 1.0, size=(n_s, n_a, n_s))
    t /= t.sum(-1, keepdims=True)
    return TabularMDP(t, gamma), rng.normal(0.0, 2.0, size=(n_s, n_a, n_s))


def steady_or_alternate(gamma: float = 0.9, bad: float = -0.5) -> tuple[TabularMDP, np.ndarray]:
    """s0: a0 earns 1 and stays; a1 earns 3 and moves to s1, which earns `bad` and returns."""
    t = np.zeros((2, 2, 2))
    t[0, 0, 0] = t[0, 1, 1] = t[1, 0, 0] = t[1, 1, 0] = 1.0
    r = np.zeros((2, 2, 2))
    r[0, 0, 0], r[0, 1, 1] = 1.0, 3.0
    r[1, :, 0] = bad
    return TabularMDP(t, gamma, initial=[1.0, 0.0]), r


def is_positive_affine(j_new: np.ndarray, j_old: np.ndarray) -> bool:
    slope, icpt = np.polyfit(j_old, j_new, 1)
    resid = j_new - (slope * j_old + icpt)
    return slope > 0 and np.max(np.abs(resid)) <= 1e-9 * (1 + np.abs(j_new).max())


class TestTransformReward:
    def test_elementwise_kinds(self):
        mdp, r = random_mdp_and_reward(0)
        np.testing.assert_allclose(transform_reward(r, "tanh", mdp), np.tanh(r))
        np.testing.assert_allclose(transform_reward(r, "sigmoid", mdp), expit(r))
        np.testing.assert_allclose(transform_reward(r, "clip", mdp, low=-1, high=1),
                                   np.clip(r, -1, 1))
        np.testing.assert_allclose(transform_reward(r, "lsc", mdp, r_ref=0.5),
                                   log_expit(r - 0.5))
        np.testing.assert_array_equal(transform_reward(r, "identity", mdp), r)

    def test_weighted_statistics(self):
        mdp, r = random_mdp_and_reward(1)
        w = np.asarray(mdp.transition) / (mdp.n_states * mdp.n_actions)
        c = transform_reward(r, "center", mdp)
        assert np.sum(w * c) == pytest.approx(0.0, abs=1e-14)
        z = transform_reward(r, "zscore", mdp)
        assert np.sum(w * z) == pytest.approx(0.0, abs=1e-14)
        assert np.sum(w * z**2) == pytest.approx(1.0, rel=1e-13)
        per = transform_reward(r, "center", mdp, per="state")
        np.testing.assert_allclose(np.sum(w * per, axis=(1, 2)), 0.0, atol=1e-14)

    def test_impossible_transitions_do_not_count(self):
        t = np.zeros((2, 1, 2))
        t[0, 0, 0] = t[1, 0, 1] = 1.0
        mdp = TabularMDP(t, 0.5)
        r = np.array([[[1.0, 1e6]], [[-1e6, 3.0]]])         # huge values where tau = 0
        np.testing.assert_allclose(transform_reward(r, "minmax", mdp)[[0, 1], 0, [0, 1]],
                                   [0.0, 1.0])
        np.testing.assert_allclose(transform_reward(r, "center", mdp)[[0, 1], 0, [0, 1]],
                                   [-1.0, 1.0])

    def test_default_reference_is_weighted_quantile(self):
        mdp, r = random_mdp_and_reward(2)
        w = (np.asarray(mdp.transition) / (mdp.n_states * mdp.n_actions)).ravel()
        v = r.ravel()
        order = np.argsort(v)
        cum = np.cumsum(w[order])
        ref = v[order][np.searchsorted(cum, 0.85 - 1e-12)]   # smallest v with F(v) >= q
        np.testing.assert_allclose(transform_reward(r, "lsc", mdp), log_expit(r - ref))

    def test_batch_and_lower_forms(self):
        mdp, r = random_mdp_and_reward(3)
        batch = np.stack([r, 2 * r])
        out = transform_reward(batch, "zscore", mdp)
        np.testing.assert_allclose(out[0], out[1], atol=1e-12)
        state_reward = np.array([1.0, 2.0, 4.0])
        full = transform_reward(state_reward, "center", mdp)
        assert full.shape == (3, 2, 3)
        no_mdp = transform_reward(r, "minmax")
        assert no_mdp.min() == 0.0 and no_mdp.max() == 1.0

    @pytest.mark.parametrize("kind", ["identity", "center", "zscore", "minmax"])
    def test_global_affine_transforms_keep_policy_order(self, kind):
        for seed in range(5):
            mdp, r = random_mdp_and_reward(seed)
            j = all_returns(r, mdp)
            assert is_positive_affine(all_returns(transform_reward(r, kind, mdp), mdp), j)

    @pytest.mark.parametrize("kind, kw", [("lsc", {}), ("tanh", {}), ("sigmoid", {}),
                                          ("clip", {"low": -1.0, "high": 1.0})])
    def test_nonaffine_transforms_change_returns_non_affinely(self, kind, kw):
        mdp, r = random_mdp_and_reward(7)
        j = all_returns(r, mdp)
        assert not is_positive_affine(all_returns(transform_reward(r, kind, mdp, **kw), mdp), j)

    def test_lsc_reverses_a_policy_order(self):
        # steady reward 1 vs alternating 3, -0.5: the raw reward prefers alternating, the
        # concave LSC (reference 1) prefers steady.
        mdp, r = steady_or_alternate()
        j_raw = all_returns(r, mdp)                          # policies (a0|s0, .) first
        j_lsc = all_returns(transform_reward(r, "lsc", mdp, r_ref=1.0), mdp)
        assert j_raw[0] < j_raw[2] and j_lsc[0] > j_lsc[2]
        assert j_raw[0] == pytest.approx(1.0 / 0.1)
        assert j_raw[2] == pytest.approx((3.0 - 0.9 * 0.5) / (1 - 0.81))

    def test_per_state_centering_is_harmless_only_in_bandits(self):
        mdp, r = steady_or_alternate(bad=-2.0)
        j = all_returns(r, mdp)
        j_c = all_returns(transform_reward(r, "center", mdp, per="state"), mdp)
        assert j[0] > j[2] and j_c[0] < j_c[2]             # the optimal policy flips
        for seed in range(3):
            bandit, rb = random_mdp_and_reward(seed, gamma=0.0)
            jb = all_returns(rb, bandit)
            assert is_positive_affine(
                all_returns(transform_reward(rb, "center", bandit, per="state"), bandit), jb)

    @pytest.mark.parametrize("args, kw, match", [
        (("softplus",), {}, "unknown transform kind 'softplus'"),
        (("center",), {"per": "action"}, "unknown per 'action'; valid values are"),
        (("center",), {"r_ref": 1.0}, "r_ref is only used by kind='lsc'"),
        (("center",), {"low": 1.0}, "low and high are only used by kind='clip'"),
        (("clip",), {}, "kind='clip' needs low and/or high"),
        (("lsc",), {"q": 1.5}, "q must be < 1.0"),
        (("lsc",), {"r_ref": np.zeros((4, 1, 1))}, "without enlarging it"),
    ])
    def test_bad_options(self, args, kw, match):
        mdp, r = random_mdp_and_reward(0)
        with pytest.raises(ValidationError, match=match):
            transform_reward(r, *args, mdp, **kw)

    def test_bad_rewards(self):
        mdp, r = random_mdp_and_reward(0)
        with pytest.raises(ValidationError, match="does not fit an MDP with 3 states"):
            transform_reward(np.zeros((4, 2, 4)), "center", mdp)
        with pytest.raises(ValidationError, match="reward contains 1 NaN"):
            bad = r.copy()
            bad[0, 0, 0] = np.nan
            transform_reward(bad, "center", mdp)
        with pytest.raises(ValidationError, match="whose state axes differ"):
            transform_reward(np.zeros((3, 2, 4)), "center")
        with pytest.raises(ValidationError, match="mdp must be a starc.TabularMDP or None"):
            transform_reward(r, "center", "mdp")

    def test_all_kinds_finite(self):
        mdp, r = random_mdp_and_reward(4)
        for kind in TRANSFORM_KINDS:
            kw = {"low": -1.0} if kind == "clip" else {}
            for per in ("global", "state"):
                assert np.all(np.isfinite(transform_reward(r * 100, kind, mdp, per=per, **kw)))


starc_distance = getattr(importlib.import_module("starc"), "starc_distance", None)
needs_distance = pytest.mark.skipif(starc_distance is None,
                                    reason="starc.starc_distance is not available yet")


@needs_distance
class TestSTARCDistanceDemonstration:
    """The docs' demonstration: affine transforms are at distance 0, LSC is not."""

    @pytest.mark.parametrize("kind", ["center", "zscore", "minmax"])
    def test_affine_transforms_at_distance_zero(self, kind):
        mdp, r = random_mdp_and_reward(5, n_s=5, n_a=3)
        assert starc_distance(r, transform_reward(r, kind, mdp), mdp) == pytest.approx(
            0.0, abs=1e-8)

    def test_lsc_at_positive_distance(self):
        mdp, r = random_mdp_and_reward(5, n_s=5, n_a=3)
        assert starc_distance(r, transform_reward(r, "lsc", mdp), mdp) > 1e-2
        mdp2, r2 = steady_or_alternate()
        assert starc_distance(r2, transform_reward(r2, "lsc", mdp2, r_ref=1.0), mdp2) > 1e-2

    def test_per_state_centering_in_mdps_and_bandits(self):
        mdp, r = random_mdp_and_reward(6, n_s=4, n_a=3)
        assert starc_distance(r, transform_reward(r, "center", mdp, per="state"), mdp) > 1e-3
        bandit = mdp.with_gamma(0.0)
        assert starc_distance(r, transform_reward(r, "center", bandit, per="state"),
                              bandit) == pytest.approx(0.0, abs=1e-8)



@pytest.mark.parametrize("kind", ["center", "zscore", "minmax"])
def test_transform_reward_of_extreme_rewards(kind):
    """center is linear, zscore and minmax scale invariant: at R * 2^1020 (where R - mean
    and R - min would overflow) the results are exact."""
    import warnings

    from starc import random_mdp

    mdp = random_mdp(3, 2, seed=0)
    r = np.random.default_rng(0).normal(size=(3, 2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = transform_reward(np.ldexp(r, 1020), kind, mdp)
        if kind == "center":
            big = np.ldexp(big, -1020)
    np.testing.assert_array_equal(big, transform_reward(r, kind, mdp))


def test_transform_reward_lsc_below_float64_raises():
    from starc import random_mdp

    mdp = random_mdp(3, 2, seed=0)
    r = np.full((3, 2, 3), -1.7e308)
    with pytest.raises(ValidationError, match="float64 range"):
        transform_reward(r, "lsc", mdp, r_ref=np.full((3, 2, 3), 1.7e308))
