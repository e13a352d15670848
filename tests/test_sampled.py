"""Sample-based EPIC, DARD and VAL distances (starc.sampled).

Against the exact tabular values on random MDPs: within 3 bootstrap standard errors,
and an error that shrinks like 1/sqrt(n_samples). Exact invariances that the common
random numbers guarantee sample by sample (shaping, scaling, negation), seeds, datasets
as coverage, and bad inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import starc
from starc.exceptions import ValidationError
from starc.sampled import (SampledDistance, sampled_dard_distance, sampled_epic_distance,
                           sampled_val_distance, tabular_reward, tabular_samplers)

#: Absolute slack for distances that are 0 up to round-off (sqrt of a ~1e-16 residue).
ROUNDOFF = 1e-6


def _mdp(seed, n_states=7, n_actions=3, gamma=0.9, kind="dirichlet"):
    return starc.random_mdp(n_states, n_actions, gamma=gamma, seed=seed, kind=kind)


def _pair(mdp, seed):
    r1 = starc.random_reward(mdp, seed=seed)
    r2 = r1 + 0.8 * starc.random_reward(mdp, seed=seed + 1)
    return r1, r2


def estimate(method, r1, r2, mdp, n, seed, **kw):
    """One sampled distance between tabular rewards, and the exact value it estimates."""
    smp = tabular_samplers(mdp)
    f1, f2 = tabular_reward(r1), tabular_reward(r2)
    if method == "epic":
        res = sampled_epic_distance(f1, f2, smp.coverage, gamma=mdp.gamma,
                                    state_sampler=smp.state_sampler,
                                    action_sampler=smp.action_sampler, n_samples=n,
                                    seed=seed, **kw)
        return res, starc.epic_distance(r1, r2, mdp)
    if method == "dard":
        res = sampled_dard_distance(f1, f2, smp.coverage, smp.transition, gamma=mdp.gamma,
                                    action_sampler=smp.action_sampler, n_samples=n,
                                    seed=seed, **kw)
        return res, starc.dard_distance(r1, r2, mdp)
    if method == "val":
        v1 = starc.policy_evaluation(r1, mdp)
        v2 = starc.policy_evaluation(r2, mdp)
        res = sampled_val_distance(f1, f2, smp.coverage, smp.transition, gamma=mdp.gamma,
                                   value1=lambda s: v1[s], value2=lambda s: v2[s],
                                   n_samples=n, seed=seed, **kw)
        return res, starc.starc_distance(r1, r2, mdp)
    if method == "val_mc":
        res = sampled_val_distance(f1, f2, smp.coverage, smp.transition, gamma=mdp.gamma,
                                   policy=smp.policy, n_samples=n, seed=seed, **kw)
        return res, starc.starc_distance(r1, r2, mdp)
    raise AssertionError(method)


METHODS = ["epic", "dard", "val", "val_mc"]


# ------------------------------------------------------------------ against exact values


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mdp_seed", [0, 1, 2])
def test_within_three_standard_errors_of_the_exact_value(method, mdp_seed):
    mdp = _mdp(mdp_seed, kind="starc" if mdp_seed == 2 else "dirichlet")
    r1, r2 = _pair(mdp, 10 * mdp_seed + 3)
    n = 4096 if method == "val_mc" else 1024  # Monte-Carlo values are noisier
    res, exact = estimate(method, r1, r2, mdp, n, seed=mdp_seed)
    assert isinstance(res, SampledDistance) and res.n_samples == n
    assert 0 < res.stderr < 0.2
    assert abs(res.estimate - exact) <= 3 * res.stderr, (res, exact)


@pytest.mark.parametrize("method", METHODS)
def test_error_shrinks_like_inverse_sqrt_n(method):
    """RMS error over repetitions and the bootstrap s.e. both fall ~4x for 16x the samples."""
    if method == "val_mc":
        # Monte-Carlo values are much noisier than the signal when rewards depend on s'
        # (the 1/sqrt(n) regime then starts at thousands of samples): state-action
        # rewards and a short horizon keep this test in that regime and fast.
        mdp = _mdp(5, n_states=6, gamma=0.5)
        rng = np.random.default_rng(0)
        r1 = starc.broadcast_reward(rng.standard_normal(mdp.shape[:2]), mdp)
        r2 = r1 + starc.broadcast_reward(rng.standard_normal(mdp.shape[:2]), mdp)
    else:
        mdp = _mdp(5)
        r1, r2 = _pair(mdp, 50)
    reps = 12
    rms, se = {}, {}
    for n in (128, 2048):
        errs, ses = [], []
        for rep in range(reps):
            res, exact = estimate(method, r1, r2, mdp, n, seed=1000 + rep)
            errs.append(res.estimate - exact)
            ses.append(res.stderr)
        rms[n] = np.sqrt(np.mean(np.square(errs)))
        se[n] = np.mean(ses)
    # 1/sqrt(n): a factor 4. The s.e. is an average of bootstrap estimates (tight); the
    # RMS error of 12 repetitions has ~20% relative spread, hence the wider band.
    assert 3.0 < se[128] / se[2048] < 5.4, se
    assert 2.0 < rms[128] / rms[2048] < 8.0, rms
    # and the s.e. describes the actual error
    for n in rms:
        assert 0.5 < rms[n] / se[n] < 2.0, (n, rms[n], se[n])


# ------------------------------------------------------------------ exact invariances


@pytest.mark.parametrize("method", METHODS)
def test_potential_shaping_and_scaling_give_zero(method):
    mdp = _mdp(7)
    r = starc.random_reward(mdp, seed=1)
    shaped, _ = starc.random_potential_shaping(r, mdp, scale=20.0, seed=2)
    res, exact = estimate(method, r, 3.0 * shaped, mdp, 256, seed=0)
    assert exact == pytest.approx(0.0, abs=1e-7)
    assert res.estimate <= 3 * res.stderr + ROUNDOFF, res
    assert res.estimate < ROUNDOFF


@pytest.mark.parametrize("method,expected", [("epic", 1.0), ("dard", 1.0), ("val", 2.0),
                                             ("val_mc", 2.0)])
def test_negation_is_exact(method, expected):
    mdp = _mdp(8)
    r = starc.random_reward(mdp, seed=3)
    res, exact = estimate(method, r, -r, mdp, 128, seed=1)
    assert exact == pytest.approx(expected)
    assert res.estimate == pytest.approx(expected, abs=1e-9)


def test_trivial_rewards_follow_the_exact_conventions():
    mdp = _mdp(9)
    r = starc.random_reward(mdp, seed=4)
    zero = np.zeros(mdp.shape)
    res, exact = estimate("val", r, zero, mdp, 64, seed=0)
    assert exact == pytest.approx(1.0) and res.estimate == pytest.approx(1.0)
    res, exact = estimate("epic", zero, zero, mdp, 64, seed=0)
    assert exact == 0.0 and res.estimate == 0.0 and res.stderr == 0.0


def test_val_with_deterministic_dynamics_needs_one_next_state():
    mdp, reward = starc.gridworld(3, 3)
    other = starc.random_reward(mdp, seed=0)
    res, exact = estimate("val", reward, other, mdp, 2000, seed=0, n_next_samples=1)
    assert abs(res.estimate - exact) <= 3 * res.stderr


# ------------------------------------------------------------------ seeds and inputs


def test_seeds_reproduce_and_the_bootstrap_does_not_move_the_estimate():
    mdp = _mdp(11)
    r1, r2 = _pair(mdp, 5)
    a, _ = estimate("dard", r1, r2, mdp, 200, seed=42)
    b, _ = estimate("dard", r1, r2, mdp, 200, seed=42)
    c, _ = estimate("dard", r1, r2, mdp, 200, seed=42, n_bootstrap=50)
    d, _ = estimate("dard", r1, r2, mdp, 200, seed=np.random.default_rng(42))
    assert a == b
    assert c.estimate == a.estimate and c.stderr != a.stderr
    assert d.estimate == a.estimate
    e, _ = estimate("dard", r1, r2, mdp, 200, seed=43)
    assert e.estimate != a.estimate


def test_coverage_may_be_a_dataset():
    mdp = _mdp(12)
    r1, r2 = _pair(mdp, 7)
    s, a, x = np.indices(mdp.shape).reshape(3, -1)  # every transition once: uniform
    smp = tabular_samplers(mdp)
    res = sampled_epic_distance(tabular_reward(r1), tabular_reward(r2), (s, a, x),
                                gamma=mdp.gamma, state_sampler=np.arange(mdp.n_states),
                                action_sampler=np.arange(mdp.n_actions), n_samples=2000,
                                seed=0)
    assert abs(res.estimate - starc.epic_distance(r1, r2, mdp)) <= 3 * res.stderr
    # D_S and D_A default to the marginals of the coverage
    res2 = sampled_epic_distance(tabular_reward(r1), tabular_reward(r2), smp.coverage,
                                 gamma=mdp.gamma, n_samples=2000, seed=0)
    assert abs(res2.estimate - starc.epic_distance(r1, r2, mdp)) <= 3 * res2.stderr


def test_feature_vector_states():
    """States need not be indices: any array with the batch on its first axis."""
    mdp = _mdp(13)
    r1, r2 = _pair(mdp, 9)
    smp = tabular_samplers(mdp)
    eye = np.eye(mdp.n_states)

    def lift(sampler):
        return lambda n, rng: eye[sampler(n, rng)]

    def cov(n, rng):
        s, a, x = smp.coverage(n, rng)
        return eye[s], a, eye[x]

    def f(r):
        return lambda s, a, x: r[s.argmax(1), a, x.argmax(1)]

    res = sampled_epic_distance(f(r1), f(r2), cov, gamma=mdp.gamma,
                                state_sampler=lift(smp.state_sampler),
                                action_sampler=smp.action_sampler, n_samples=1000, seed=0)
    ref = sampled_epic_distance(tabular_reward(r1), tabular_reward(r2), smp.coverage,
                                gamma=mdp.gamma, state_sampler=smp.state_sampler,
                                action_sampler=smp.action_sampler, n_samples=1000, seed=0)
    assert res == ref


def test_tabular_samplers_follow_the_mdp():
    mdp = starc.random_mdp(5, 2, seed=0, kind="garnet", n_successors=2)
    smp = tabular_samplers(mdp, policy=np.array([1, 0, 1, 0, 1]))
    rng = np.random.default_rng(0)
    s = np.repeat(np.arange(5), 4000)
    a = np.tile([0, 1], 10000)
    x = smp.transition(s, a, rng)
    assert np.all(mdp.transition[s, a, x] > 0)  # never an impossible transition
    freq = np.zeros(mdp.shape)
    np.add.at(freq, (s, a, x), 1.0)
    freq /= freq.sum(-1, keepdims=True)
    np.testing.assert_allclose(freq, mdp.transition, atol=0.03)
    np.testing.assert_array_equal(smp.policy(np.arange(5), rng), [1, 0, 1, 0, 1])
    draws = smp.state_sampler(50000, rng)
    np.testing.assert_allclose(np.bincount(draws, minlength=5) / 50000, 0.2, atol=0.01)


# ------------------------------------------------------------------ bad inputs


@pytest.fixture
def setup():
    mdp = _mdp(14)
    r1, r2 = _pair(mdp, 11)
    return mdp, tabular_samplers(mdp), tabular_reward(r1), tabular_reward(r2)


def test_reward_of_the_wrong_shape_is_named(setup):
    mdp, smp, f1, _ = setup
    with pytest.raises(ValidationError, match=r"reward2 returned shape \(\d+, 1\).*squeeze"):
        sampled_epic_distance(f1, lambda s, a, x: f1(s, a, x)[:, None], smp.coverage,
                              gamma=mdp.gamma, n_samples=16, seed=0)
    with pytest.raises(ValidationError, match="reward1 returned shape"):
        sampled_dard_distance(lambda s, a, x: f1(s, a, x)[:3], f1, smp.coverage,
                              smp.transition, gamma=mdp.gamma,
                              action_sampler=smp.action_sampler, n_samples=16, seed=0)


def test_nan_rewards_and_values_are_named(setup):
    mdp, smp, f1, f2 = setup
    with pytest.raises(ValidationError, match="reward2 returned 16 NaN"):
        sampled_val_distance(f1, lambda s, a, x: np.full(len(s), np.nan), smp.coverage,
                             smp.transition, gamma=mdp.gamma, policy=smp.policy,
                             n_samples=16, n_next_samples=1, seed=0)
    with pytest.raises(ValidationError, match="value1 returned .* NaN"):
        sampled_val_distance(f1, f2, smp.coverage, smp.transition, gamma=mdp.gamma,
                             value1=lambda s: np.where(s == s, np.inf, 0.0),
                             value2=lambda s: np.zeros(len(s)), n_samples=16, seed=0)


def test_bad_samplers_and_options(setup):
    mdp, smp, f1, f2 = setup
    kw = dict(gamma=mdp.gamma, n_samples=16, seed=0)
    with pytest.raises(ValidationError, match=r"coverage\[1\] must return an array with 16"):
        sampled_epic_distance(f1, f2, lambda n, rng: (np.zeros(n, int), np.zeros(3, int),
                                                      np.zeros(n, int)), **kw)
    with pytest.raises(ValidationError, match="coverage must return a tuple"):
        sampled_epic_distance(f1, f2, lambda n, rng: np.zeros(n, int), **kw)
    with pytest.raises(ValidationError, match="coverage must be a callable"):
        sampled_epic_distance(f1, f2, "uniform", **kw)
    with pytest.raises(ValidationError, match="same number of rows"):
        sampled_epic_distance(f1, f2, (np.zeros(3, int), np.zeros(4, int), np.zeros(3, int)),
                              **kw)
    with pytest.raises(ValidationError, match="transition_sampler must return an array"):
        sampled_dard_distance(f1, f2, smp.coverage, lambda s, a, rng: s[:1],
                              action_sampler=smp.action_sampler, **kw)
    with pytest.raises(ValidationError, match="action_sampler is required"):
        sampled_dard_distance(f1, f2, smp.coverage, smp.transition, action_sampler=None, **kw)
    with pytest.raises(ValidationError, match="value1 and value2 must be given together"):
        sampled_val_distance(f1, f2, smp.coverage, smp.transition,
                             value1=lambda s: np.zeros(len(s)), **kw)
    with pytest.raises(ValidationError, match="policy is required"):
        sampled_val_distance(f1, f2, smp.coverage, smp.transition, **kw)
    with pytest.raises(ValidationError, match="used only by the Monte-Carlo"):
        sampled_val_distance(f1, f2, smp.coverage, smp.transition, policy=smp.policy,
                             value1=lambda s: np.zeros(len(s)),
                             value2=lambda s: np.zeros(len(s)), **kw)
    with pytest.raises(ValidationError, match="reward1 must be callable"):
        sampled_epic_distance(np.zeros(mdp.shape), f2, smp.coverage, **kw)
    with pytest.raises(ValidationError, match="n_samples must be an integer >= 2"):
        sampled_epic_distance(f1, f2, smp.coverage, gamma=0.9, n_samples=1)
    with pytest.raises(ValidationError, match="n_bootstrap"):
        sampled_epic_distance(f1, f2, smp.coverage, gamma=0.9, n_bootstrap=1)
    with pytest.raises(ValidationError, match="gamma"):
        sampled_epic_distance(f1, f2, smp.coverage, gamma=1.0)
    with pytest.raises(ValidationError, match="seed"):
        sampled_epic_distance(f1, f2, smp.coverage, gamma=0.9, seed="zero")
    with pytest.raises(ValidationError, match="n_inner_samples"):
        sampled_dard_distance(f1, f2, smp.coverage, smp.transition,
                              action_sampler=smp.action_sampler, n_inner_samples=0, **kw)
    with pytest.raises(ValidationError, match="horizon"):
        sampled_val_distance(f1, f2, smp.coverage, smp.transition, policy=smp.policy,
                             horizon=0, **kw)


def test_bad_tabular_helpers():
    mdp = _mdp(15)
    with pytest.raises(ValidationError, match="mdp must be a starc.TabularMDP"):
        tabular_samplers(np.zeros((2, 2, 2)))
    with pytest.raises(ValidationError, match="state_dist"):
        tabular_samplers(mdp, state_dist=np.ones(mdp.n_states))
    with pytest.raises(ValidationError, match="reward must be a numeric array of shape"):
        tabular_reward(np.zeros((2, 2)))
    with pytest.raises(ValidationError, match="reward contains NaN"):
        tabular_reward(np.full((2, 1, 2), np.nan))
    smp = tabular_samplers(mdp)
    with pytest.raises(ValidationError, match="states holds indices outside"):
        smp.transition(np.array([mdp.n_states]), np.array([0]), np.random.default_rng(0))


@pytest.mark.parametrize("args, match", [((float("nan"), 0.1, 10), "estimate"),
                                         ((0.5, float("inf"), 10), "stderr"),
                                         ((0.5, -0.1, 10), "stderr"),
                                         ((0.5, 0.1, 0), "n_samples"),
                                         ((0.5, 0.1, float("nan")), "n_samples")])
def test_sampled_distance_record_refuses_bad_fields(args, match):
    with pytest.raises(ValidationError, match=match):
        SampledDistance(*args)
    assert SampledDistance(0.5, 0.1, 10.0).n_samples == 10


@pytest.mark.parametrize("kw", [dict(n_samples=2**62), dict(n_bootstrap=2**62),
                                dict(n_samples=2**63)])
def test_sample_counts_beyond_memory_are_refused_before_sampling(kw):
    mdp = starc.random_mdp(3, 2, seed=0)
    smp = tabular_samplers(mdp)
    f = tabular_reward(np.random.default_rng(0).normal(size=mdp.shape))
    with pytest.raises(ValidationError, match=r"(would need|must be an integer <=)"):
        sampled_epic_distance(f, f, smp.coverage, gamma=0.9, seed=0, **kw)
