"""Regret, worst-case regret and the certified bounds, against brute force and scipy's LP."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import starc
from starc.regret import _occupancy_constraints
from strategies import mdps, reward_arrays


def all_deterministic_returns(reward, mdp):
    pols = [np.array(p) for p in itertools.product(range(mdp.n_actions), repeat=mdp.n_states)]
    return pols, np.array([starc.policy_return(reward, mdp, p) for p in pols])


def linprog_worst_case_regret(r1, r2, mdp):
    """The worst-case regret LP written independently with scipy.optimize.linprog."""
    from scipy.optimize import OptimizeWarning, linprog

    rb1 = starc.expected_reward(r1, mdp).ravel()
    rb2 = starc.expected_reward(r2, mdp).ravel()
    lo, hi = starc.policy_value_range(r1, mdp)
    if hi - lo <= 1e-12:
        return 0.0
    a, b = _occupancy_constraints(mdp)
    z = np.zeros_like(a)
    a_eq = np.block([[a, z], [z, a]])
    b_eq = np.concatenate([b, b])
    c = -np.concatenate([rb1, -rb1]) / (hi - lo)  # maximise rb1.(d1 - d2)
    a_ub = np.concatenate([rb2, -rb2])[None, :] / max(np.abs(rb2).max(), 1e-300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        res = linprog(c, A_ub=a_ub, b_ub=[0.0], A_eq=a_eq, b_eq=b_eq, bounds=(0, None),
                      method="highs-ipm", options={"small_matrix_value": 1e-12})
    assert res.status == 0
    return -res.fun


# ----------------------------------------------------------------- closed forms


def test_toy_regret_is_one(toy_mdp, toy_reward):
    proxy = np.zeros((2, 2, 2))
    proxy[0, 0, 0] = 1.0
    for ties in starc.regret.__globals__["TIES"]:
        assert starc.regret(toy_reward, proxy, toy_mdp, ties=ties) == 1.0
    assert starc.worst_case_regret(toy_reward, proxy, toy_mdp) == pytest.approx(1.0, abs=1e-9)


def test_toy_value_range(toy_mdp, toy_reward):
    lo, hi = starc.policy_value_range(toy_reward, toy_mdp)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(5.0, abs=1e-12)


def test_regret_by_brute_force(small_mdp):
    rng = np.random.default_rng(0)
    r1, r2 = rng.standard_normal((2,) + small_mdp.shape)
    pols, j1 = all_deterministic_returns(r1, small_mdp)
    _, j2 = all_deterministic_returns(r2, small_mdp)
    best2 = np.flatnonzero(j2 >= j2.max() - 1e-9)
    expected = (j1.max() - j1[best2].min()) / (j1.max() - j1.min())
    assert starc.regret(r1, r2, small_mdp) == pytest.approx(expected, abs=1e-12)
    assert starc.policy_value_range(r1, small_mdp) == pytest.approx((j1.min(), j1.max()),
                                                                    abs=1e-10)


def test_ties_pessimistic_and_optimistic(small_mdp):
    rng = np.random.default_rng(1)
    r1 = rng.standard_normal(small_mdp.shape)
    trivial = np.zeros(small_mdp.shape)  # every policy is optimal for the proxy
    assert starc.regret(r1, trivial, small_mdp, ties="pessimistic") == pytest.approx(1.0)
    assert starc.regret(r1, trivial, small_mdp, ties="optimistic") == pytest.approx(0.0,
                                                                                   abs=1e-12)
    first = starc.regret(r1, trivial, small_mdp, ties="first")
    assert 0.0 <= first <= 1.0


def test_trivial_true_reward_has_zero_regret(small_mdp):
    shaped = starc.potential_shaping(np.zeros(small_mdp.shape),
                                     np.arange(small_mdp.n_states, dtype=float),
                                     small_mdp.gamma)
    # shaping changes returns only by -E_mu0[Phi]: every policy is equally good
    r2 = np.random.default_rng(2).standard_normal(small_mdp.shape)
    assert starc.regret(shaped, r2, small_mdp) == 0.0
    assert starc.worst_case_regret(shaped, r2, small_mdp) == 0.0


def test_ties_are_round_off_not_a_fraction_of_the_scale(small_mdp):
    """A shaped copy of a reward with small action gaps is still optimised like the
    reward: shaping inflates max|rbar| / (1 - gamma), not the gaps. With ties at 1e-9 of
    that scale every action of the copy was tied and the pessimistic regret was 1. A
    trivial proxy (the zero reward) still ties every action."""
    from starc import batch

    mdp = starc.TabularMDP(small_mdp.transition, 0.99, small_mdp.initial)
    rng = np.random.default_rng(3)
    r1 = 1e-6 * rng.standard_normal(mdp.shape)
    proxy = 2.0 * starc.potential_shaping(r1, 30.0 * rng.standard_normal(mdp.n_states),
                                          mdp.gamma)
    from starc.solve import policy_iteration, q_from_values

    rbar = starc.expected_reward(proxy, mdp)
    q = q_from_values(rbar, policy_iteration(rbar, mdp)[1], mdp)
    widest_gap = np.ptp(q, axis=1).max()
    old_tolerance = 1e-9 * np.abs(rbar).max() / (1 - mdp.gamma)
    assert widest_gap < old_tolerance  # the old rule tied every action
    lo, hi = starc.policy_value_range(proxy, mdp)
    assert hi - lo > 1e-9 * np.abs(proxy).max() / (1 - mdp.gamma)  # proxy not trivial
    for ties in ("pessimistic", "optimistic", "first"):
        assert starc.regret(r1, proxy, mdp, ties=ties) == pytest.approx(0.0, abs=1e-9)
        assert starc.regret(proxy, r1, mdp, ties=ties) == pytest.approx(0.0, abs=1e-9)
    got = batch.regrets(np.stack([r1, proxy])[None], np.stack([proxy, r1])[None], mdp)
    np.testing.assert_allclose(got, 0.0, atol=1e-9)
    zero = np.zeros(mdp.shape)
    assert starc.regret(r1, zero, mdp) == pytest.approx(1.0)
    assert batch.regrets(r1[None, None], zero[None, None], mdp)[0, 0] == pytest.approx(1.0)


def test_a_trivial_proxy_ties_every_action(small_mdp):
    """A proxy whose value range is within REGRET_RTOL of its scale counts as trivial:
    under pessimistic tie-breaking its 'optimal' policy is the worst, as for 0."""
    from starc import batch
    from starc.regret import REGRET_RTOL

    rng = np.random.default_rng(6)
    r1 = rng.standard_normal(small_mdp.shape)
    nearly = starc.potential_shaping(1e-13 * r1, rng.standard_normal(small_mdp.n_states),
                                     small_mdp.gamma)
    lo, hi = starc.policy_value_range(nearly, small_mdp)
    assert 0 < hi - lo <= REGRET_RTOL * np.abs(nearly).max() / (1 - small_mdp.gamma)
    assert starc.regret(r1, nearly, small_mdp) == pytest.approx(1.0)
    assert starc.regret(r1, nearly, small_mdp, ties="optimistic") == pytest.approx(0.0,
                                                                                   abs=1e-12)
    assert batch.regrets(r1[None, None], nearly[None, None], small_mdp)[0, 0] == \
        pytest.approx(1.0)


def test_trivial_rule_sees_through_s_prime_redistribution(small_mdp):
    """The trivial threshold is relative to max E_tau|R|, not max|rbar|: a large
    redistribution (E_tau X = 0) on top of a reward that barely orders policies makes
    it trivial, as it makes the float64 rbar inaccurate at that level."""
    rng = np.random.default_rng(4)
    tiny = 1e-13 * rng.standard_normal(small_mdp.shape)
    redistributed = starc.s_prime_redistribution(tiny, small_mdp, scale=1e3, seed=5)
    other = rng.standard_normal(small_mdp.shape)
    assert starc.regret(redistributed, other, small_mdp) == 0.0
    assert starc.regret(tiny, -tiny, small_mdp) == pytest.approx(1.0)  # alone it is not


# ----------------------------------------------------------------- properties


@given(data=st.data())
def test_regret_ordering(data):
    mdp = data.draw(mdps(max_states=5, max_actions=3, max_gamma=0.95))
    r1 = data.draw(reward_arrays(mdp))
    r2 = data.draw(reward_arrays(mdp))
    reg = starc.regret(r1, r2, mdp)
    wcr = starc.worst_case_regret(r1, r2, mdp)
    assert 0.0 <= reg <= wcr + 1e-9
    assert wcr <= 1.0


@given(data=st.data())
def test_equivalent_rewards_have_zero_worst_case_regret(data):
    mdp = data.draw(mdps(max_states=5, max_actions=3, max_gamma=0.95,
                         kinds=("garnet", "deterministic", "dense")))
    r = data.draw(reward_arrays(mdp))
    seed = data.draw(st.integers(0, 2**31))
    k = data.draw(st.floats(0.1, 10))
    eq = k * starc.s_prime_redistribution(starc.random_potential_shaping(r, mdp,
                                                                        seed=seed)[0],
                                          mdp, seed=seed + 1)
    assert starc.worst_case_regret(r, eq, mdp) <= 1e-7
    assert starc.regret(r, eq, mdp) <= 1e-9


@given(data=st.data())
def test_negated_reward_has_worst_case_regret_one(data):
    mdp = data.draw(mdps(max_states=5, max_actions=3, max_gamma=0.95))
    r = data.draw(reward_arrays(mdp))
    lo, hi = starc.policy_value_range(r, mdp)
    if hi - lo <= 1e-6 * (1 + np.abs(r).max()):
        return  # trivial reward: regret is 0 by definition
    assert starc.worst_case_regret(r, -r, mdp) == pytest.approx(1.0, abs=1e-8)


@given(data=st.data())
def test_parametric_and_lp_agree(data):
    mdp = data.draw(mdps(max_states=5, max_actions=3, max_gamma=0.95))
    r1 = data.draw(reward_arrays(mdp))
    r2 = r1 + data.draw(st.floats(0.05, 3.0)) * data.draw(reward_arrays(mdp))
    a = starc.worst_case_regret(r1, r2, mdp, method="parametric")
    b = starc.worst_case_regret(r1, r2, mdp, method="lp")
    assert a == pytest.approx(b, abs=1e-7)


@settings(max_examples=15)
@given(data=st.data())
def test_worst_case_regret_dominates_brute_force_pairs(data):
    mdp = data.draw(mdps(max_states=3, max_actions=3, max_gamma=0.9))
    r1 = data.draw(reward_arrays(mdp))
    r2 = data.draw(reward_arrays(mdp))
    _, j1 = all_deterministic_returns(r1, mdp)
    _, j2 = all_deterministic_returns(r2, mdp)
    rng_ = j1.max() - j1.min()
    wcr = starc.worst_case_regret(r1, r2, mdp)
    if rng_ <= 1e-9 * (1 + np.abs(r1).max()) / (1 - mdp.gamma):
        assert wcr == 0.0
        return
    brute = max((j1[i] - j1[k]) / rng_ for i in range(len(j1)) for k in range(len(j1))
                if j2[k] >= j2[i])
    assert wcr >= brute - 1e-8


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_independent_linprog(seed):
    rng = np.random.default_rng(seed)
    kind = ["starc", "dirichlet", "garnet"][seed % 3]
    mdp = starc.random_mdp(12, 3, gamma=[0.5, 0.9, 0.99][seed % 3], seed=seed, kind=kind)
    r1, r2 = rng.standard_normal((2,) + mdp.shape)
    r2 = r1 + 0.5 * r2  # a proxy close enough that the constraint binds
    reference = linprog_worst_case_regret(r1, r2, mdp)
    for method in ("parametric", "lp"):
        assert starc.worst_case_regret(r1, r2, mdp, method=method) == pytest.approx(
            reference, abs=1e-8), method


@pytest.mark.parametrize("method", ["parametric", "lp"])
def test_returned_policies_achieve_the_value(method, small_mdp):
    rng = np.random.default_rng(3)
    r1 = rng.standard_normal(small_mdp.shape)
    r2 = r1 + 0.7 * rng.standard_normal(small_mdp.shape)
    res = starc.worst_case_regret(r1, r2, small_mdp, return_policies=True, method=method)
    assert isinstance(res, starc.WorstCaseRegret)
    lo, hi = starc.policy_value_range(r1, small_mdp)
    j1 = [starc.policy_return(r1, small_mdp, p) for p in (res.policy_1, res.policy_2)]
    j2 = [starc.policy_return(r2, small_mdp, p) for p in (res.policy_1, res.policy_2)]
    assert (j1[0] - j1[1]) / (hi - lo) == pytest.approx(res.regret, abs=1e-7)
    assert j2[1] >= j2[0] - 1e-7 * (hi - lo)
    np.testing.assert_allclose(res.occupancy_1,
                               starc.state_action_occupancy(small_mdp, res.policy_1), atol=1e-7)


# ----------------------------------------------------------------- certified bounds


def _random_pair(rng, mdp):
    r1 = rng.standard_normal(mdp.shape)
    mix = rng.uniform(0, 1)
    return r1, (1 - mix) * r1 + mix * rng.standard_normal(mdp.shape)


@pytest.mark.slow
def test_regret_bound_holds_on_1000_pairs():
    """regret_bound(r1, d(r1, r2)) >= worst_case_regret(r1, r2): VAL, minimal_l2 x L1/L2/Linf."""
    rng = np.random.default_rng(4)
    configs = [(4, 2, 0.5), (6, 3, 0.9), (8, 2, 0.95), (5, 4, 0.99)]
    checked = 0
    for n, m, gamma in configs:
        for kind in ("garnet", "dirichlet"):
            mdp = starc.random_mdp(n, m, gamma=gamma, seed=int(rng.integers(2**31)), kind=kind,
                                   n_successors=min(2, n))
            for _ in range(21):
                r1, r2 = _random_pair(rng, mdp)
                wcr = starc.worst_case_regret(r1, r2, mdp)
                for canon in ("val", "minimal_l2"):
                    for ord in ("l1", "l2", "linf"):
                        kw = dict(canonicalization=canon, normalization=ord, metric=ord)
                        d = starc.starc_distance(r1, r2, mdp, **kw)
                        bound = starc.regret_bound(r1, d, mdp, **kw)
                        assert wcr <= bound + 1e-8, (n, m, gamma, canon, ord, wcr, bound)
                        checked += 1
    assert checked >= 1000


def test_tight_bound_is_tighter_and_still_valid(garnet_mdp):
    rng = np.random.default_rng(5)
    for _ in range(10):
        r1, r2 = _random_pair(rng, garnet_mdp)
        wcr = starc.worst_case_regret(r1, r2, garnet_mdp)
        for ord in ("l1", "l2", "weighted_l1", "weighted_l2"):
            kw = dict(normalization=ord, metric=ord)
            d = starc.starc_distance(r1, r2, garnet_mdp, **kw)
            loose = starc.regret_bound(r1, d, garnet_mdp, **kw)
            tight = starc.regret_bound(r1, d, garnet_mdp, tight=True, **kw)
            assert wcr <= tight + 1e-8 and tight <= loose + 1e-15


def test_occupancy_diameter_brute_force(garnet_mdp):
    pols = itertools.product(range(garnet_mdp.n_actions), repeat=garnet_mdp.n_states)
    etas = np.array([starc.occupancy(garnet_mdp, np.array(p)) for p in pols])
    brute = (etas.max(axis=0) - etas.min(axis=0)).max()  # = max over pairs of |a - b|_inf
    assert starc.occupancy_diameter(garnet_mdp) == pytest.approx(brute, rel=1e-8)
    assert starc.occupancy_diameter(garnet_mdp) <= 1 / (1 - garnet_mdp.gamma)


def test_soundness_constant_and_empirical_constants(small_mdp):
    rng = np.random.default_rng(6)
    r1 = rng.standard_normal(small_mdp.shape)
    u = starc.soundness_constant(r1, small_mdp)
    regrets, dists = [], []
    for _ in range(20):
        r2 = r1 + rng.uniform(0.1, 2) * rng.standard_normal(small_mdp.shape)
        regrets.append(starc.worst_case_regret(r1, r2, small_mdp))
        dists.append(starc.starc_distance(r1, r2, small_mdp))
    lo, hi = starc.empirical_constants(regrets, dists)
    assert 0 <= lo <= hi <= u
    assert starc.soundness_constant(np.zeros(small_mdp.shape), small_mdp) == 0.0


# ----------------------------------------------------------------- bad inputs


def test_bad_inputs(small_mdp, monkeypatch):
    r = np.ones(small_mdp.shape)
    with pytest.raises(starc.ValidationError, match="unknown ties 'worst'.*'pessimistic'"):
        starc.regret(r, r, small_mdp, ties="worst")
    with pytest.raises(starc.ValidationError, match="r_proxy has shape"):
        starc.regret(r, np.ones((2, 2, 2)), small_mdp)
    with pytest.raises(starc.ValidationError, match="r_true must be one reward"):
        starc.worst_case_regret(np.ones((2,) + small_mdp.shape), r, small_mdp)
    with pytest.raises(starc.ValidationError, match="mdp must be"):
        starc.policy_value_range(r, None)
    with pytest.raises(starc.ValidationError, match="unknown method 'simplex'"):
        starc.worst_case_regret(r, r, small_mdp, method="simplex")
    with pytest.raises(starc.ValidationError, match="distance must be non-negative"):
        starc.regret_bound(r, -0.1, small_mdp)
    with pytest.raises(starc.ValidationError, match="'dard' does not"):
        starc.regret_bound(r, 0.1, small_mdp, canonicalization="dard")
    with pytest.raises(starc.ValidationError, match="same shape"):
        starc.empirical_constants([0.1], [0.1, 0.2])
    with pytest.raises(starc.ValidationError, match="every distance is 0"):
        starc.empirical_constants([0.0], [0.0])
    with pytest.raises(starc.ValidationError, match=r"regrets must be .* in \[0, 1\]"):
        starc.empirical_constants([1.7e308], [0.5])
    with pytest.raises(starc.ValidationError, match="ratio .* float64 range"):
        starc.empirical_constants([0.5], [5e-324])  # was a raw overflow warning (issue 14)

    import cvxpy as cp

    r1 = np.random.default_rng(7).standard_normal(small_mdp.shape)

    def infeasible(self, *args, **kwargs):
        self._status = cp.INFEASIBLE
        return None

    monkeypatch.setattr(cp.Problem, "solve", infeasible)
    monkeypatch.setattr(cp.Problem, "status", property(lambda self: cp.INFEASIBLE))
    with pytest.raises(starc.SolverError, match="status 'infeasible'"):
        starc.worst_case_regret(r1, -r1, small_mdp, method="lp")


def test_check_regret_gamma_is_the_one_limit():
    """The public check refuses exactly the discounts above GAMMA_MAX, naming the caller."""
    from starc.regret import GAMMA_MAX, check_regret_gamma

    assert check_regret_gamma(GAMMA_MAX, "regret") is None
    assert check_regret_gamma(0.0, "regret") is None
    with pytest.raises(starc.ValidationError, match=r"^my computation: gamma = 0\.9999999999 "):
        check_regret_gamma(0.9999999999, "my computation")
