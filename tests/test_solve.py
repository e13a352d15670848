"""Exact policy evaluation, optimal policies and occupancies.

Checked against closed forms on the two-state MDP of issue 2, against peers
(quantecon's ``DiscreteDP``, mdptoolbox, a direct ``numpy.linalg.solve``), against brute
force over all deterministic policies, and against the identities of THEORY.md §1
(:math:`\\sum \\eta = 1/(1-\\gamma)`, :math:`J = \\langle \\eta, R \\rangle`, the flow
constraints).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import starc
from starc import ConvergenceError, ValidationError
from starc.solve import BELLMAN_RTOL, _LU_CACHE_SIZE, policy_iteration
from strategies import (GAMMA_TOY, VALUE_RTOL, direct_values, make_transition, mdps, policies,
                        policy_matrix, reward_arrays, value_scale)

G = GAMMA_TOY

# ------------------------------------------------------------- closed forms (issue 2)

Q_STAR = np.array([[G / (1 - G**2), 1 / (1 - G**2)],
                   [G**2 / (1 - G**2), G / (1 - G**2)]])


def test_toy_optimal_q_values(toy_mdp, toy_reward):
    pi = starc.optimal_policy(toy_reward, toy_mdp)
    np.testing.assert_array_equal(pi, [1, 1])  # switch in both states
    assert pi.dtype == np.int64 and pi.shape == (2,)
    q = starc.q_values(toy_reward, toy_mdp, pi)
    np.testing.assert_allclose(q, Q_STAR, rtol=0, atol=1e-12)


def test_toy_optimal_values_and_return(toy_mdp, toy_reward):
    v = starc.optimal_values(toy_reward, toy_mdp)
    np.testing.assert_allclose(v, Q_STAR.max(axis=1), rtol=0, atol=1e-12)
    pi = starc.optimal_policy(toy_reward, toy_mdp)
    j = starc.policy_return(toy_reward, toy_mdp, pi)
    assert isinstance(j, float)
    assert abs(j - 5.0) <= 1e-12
    # J* = <mu0, V*> as well
    assert abs(float(toy_mdp.initial @ v) - 5.0) <= 1e-12


def test_toy_uniform_policy(toy_mdp, toy_reward):
    v = starc.policy_evaluation(toy_reward, toy_mdp)  # "uniform" by default
    np.testing.assert_allclose(v, [2.75, 2.25], rtol=0, atol=1e-12)
    np.testing.assert_allclose(starc.policy_evaluation(toy_reward, toy_mdp, "uniform"),
                               [2.75, 2.25], rtol=0, atol=1e-12)
    np.testing.assert_allclose(starc.policy_evaluation(toy_reward, toy_mdp, np.full((2, 2), .5)),
                               [2.75, 2.25], rtol=0, atol=1e-12)
    assert abs(starc.policy_return(toy_reward, toy_mdp) - 2.5) <= 1e-12
    # Q^pi(s, a) = sum_s' tau (R + gamma V): stay/switch from each state
    q = starc.q_values(toy_reward, toy_mdp)
    np.testing.assert_allclose(q, [[G * 2.75, 1 + G * 2.25], [G * 2.25, G * 2.75]],
                               rtol=0, atol=1e-12)


def test_toy_deterministic_policies(toy_mdp, toy_reward):
    """All four deterministic policies, by hand."""
    g = G
    expected = {
        (0, 0): [0.0, 0.0],                                   # stay forever
        (1, 1): [1 / (1 - g**2), g / (1 - g**2)],             # alternate
        (1, 0): [1.0, 0.0],                                   # s0 -> s1, then stay
        (0, 1): [0.0, 0.0],                                   # s1 -> s0, then stay
    }
    for pi, v in expected.items():
        np.testing.assert_allclose(starc.policy_evaluation(toy_reward, toy_mdp, list(pi)), v,
                                   rtol=0, atol=1e-12)


def test_toy_occupancies(toy_mdp, toy_reward):
    # alternating from the uniform start: each state has probability 1/2 at every step
    d = starc.state_occupancy(toy_mdp, [1, 1])
    np.testing.assert_allclose(d, [5.0, 5.0], rtol=0, atol=1e-12)
    eta = starc.occupancy(toy_mdp, [1, 1])
    expected = np.zeros((2, 2, 2))
    expected[0, 1, 1] = expected[1, 1, 0] = 5.0
    np.testing.assert_allclose(eta, expected, rtol=0, atol=1e-12)
    assert abs(float(np.sum(eta * toy_reward)) - 5.0) <= 1e-12
    # s0 switches to s1, which stays: d(s0) = 1/2, d(s1) = 1/2 + gamma / (1 - gamma)
    np.testing.assert_allclose(starc.state_action_occupancy(toy_mdp, [1, 0]),
                               [[0.0, 0.5], [9.5, 0.0]], rtol=0, atol=1e-12)


def test_toy_reward_forms(toy_mdp):
    # state reward paid on the current state: staying in s0 pays 1 per step
    v = starc.optimal_values([1.0, 0.0], toy_mdp)
    np.testing.assert_allclose(v, [1 / (1 - G), G / (1 - G)], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(starc.optimal_policy([1.0, 0.0], toy_mdp), [0, 1])
    # a state-action reward equal to the expected toy reward gives the same values
    sa = np.array([[0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(starc.q_values(sa, toy_mdp, [1, 1]), Q_STAR, rtol=0, atol=1e-12)


def test_gamma_zero_is_myopic(small_mdp):
    mdp = small_mdp.with_gamma(0.0)
    r = np.random.default_rng(3).standard_normal(mdp.shape)
    rbar = np.einsum("sat,sat->sa", r, mdp.transition)
    np.testing.assert_allclose(starc.q_values(r, mdp, [0] * 6), rbar, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(starc.optimal_values(r, mdp), rbar.max(1), rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(starc.optimal_policy(r, mdp), rbar.argmax(1))


def test_constant_and_zero_rewards(small_mdp):
    g = small_mdp.gamma
    np.testing.assert_allclose(starc.optimal_values(np.full(small_mdp.shape, 2.0), small_mdp),
                               2.0 / (1 - g), rtol=1e-13)
    np.testing.assert_allclose(starc.policy_evaluation(np.full(small_mdp.shape, -1.0),
                                                       small_mdp, [2] * 6), -1 / (1 - g),
                               rtol=1e-13)
    assert np.all(starc.optimal_values(np.zeros(small_mdp.shape), small_mdp) == 0.0)
    pi = starc.optimal_policy(np.zeros(small_mdp.shape), small_mdp)
    assert pi.shape == (6,) and np.all((0 <= pi) & (pi < 3))


# ------------------------------------------------------------------ peers: quantecon


def _rbar(reward, mdp):
    return np.einsum("sat,sat->sa", reward, np.asarray(mdp.transition))


@pytest.mark.parametrize("n_states, n_actions", [(1, 3), (5, 2), (20, 4), (64, 8), (150, 3)])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("kind", ["starc", "dirichlet", "garnet"])
def test_optimal_values_match_quantecon(n_states, n_actions, gamma, kind):
    qe = pytest.importorskip("quantecon")
    seed = n_states * 1000 + n_actions * 10 + int(gamma * 1000)
    mdp = starc.random_mdp(n_states, n_actions, gamma=gamma, seed=seed, kind=kind,
                           n_successors=min(3, n_states))
    reward = starc.random_reward(mdp, seed=seed + 1, kind="starc")
    rbar = _rbar(reward, mdp)
    res = qe.markov.DiscreteDP(rbar, np.array(mdp.transition), gamma).solve("policy_iteration")
    scale = np.abs(rbar).max() / (1 - gamma)
    v = starc.optimal_values(reward, mdp)
    np.testing.assert_allclose(v, res.v, rtol=0, atol=1e-9 * scale)
    # the returned policy attains V* (policies may differ only between tied actions)
    pi = starc.optimal_policy(reward, mdp)
    np.testing.assert_allclose(direct_values(reward, mdp, pi), res.v, rtol=0, atol=1e-9 * scale)
    # Bellman optimality residual, computed here without starc
    q = rbar + gamma * np.einsum("sat,t->sa", mdp.transition, v)
    assert np.max(np.abs(q.max(axis=1) - v)) <= BELLMAN_RTOL * max(scale, 1.0)


# -------------------------------------------------------------- peers: mdptoolbox


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_optimal_values_match_mdptoolbox(gamma):
    mdptoolbox = pytest.importorskip("hiive.mdptoolbox.mdp")
    mdp = starc.random_mdp(30, 4, gamma=gamma, seed=11, kind="dirichlet")
    reward = starc.random_reward(mdp, seed=12)
    rbar = _rbar(reward, mdp)
    p = np.ascontiguousarray(np.transpose(mdp.transition, (1, 0, 2)))  # (A, S, S)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solver = mdptoolbox.PolicyIteration(p, rbar, gamma, eval_type="matrix")
        solver.run()
    scale = np.abs(rbar).max() / (1 - gamma)
    np.testing.assert_allclose(starc.optimal_values(reward, mdp), np.asarray(solver.V),
                               rtol=0, atol=1e-9 * scale)


# ------------------------------------------------------ peers: numpy.linalg.solve


@given(data=st.data(), mdp=mdps(max_states=7))
def test_policy_evaluation_matches_direct_solve(data, mdp):
    reward = data.draw(reward_arrays(mdp))
    policy = data.draw(policies(mdp))
    ref = direct_values(reward, mdp, policy)
    tol = VALUE_RTOL * value_scale(reward, mdp)
    np.testing.assert_allclose(starc.policy_evaluation(reward, mdp, policy), ref, rtol=0,
                               atol=tol)
    # Q^pi from its definition, and V^pi = sum_a pi(a|s) Q^pi(s, a)
    q_ref = np.einsum("sat,sat->sa", mdp.transition, reward + mdp.gamma * ref[None, None, :])
    q = starc.q_values(reward, mdp, policy)
    np.testing.assert_allclose(q, q_ref, rtol=0, atol=tol)
    np.testing.assert_allclose((policy_matrix(policy, mdp) * q).sum(1), ref, rtol=0, atol=tol)
    j = starc.policy_return(reward, mdp, policy)
    assert isinstance(j, float)
    assert abs(j - float(mdp.initial @ ref)) <= tol


def test_lu_cache_is_correct_across_many_policies(small_mdp):
    """More policies than the cache holds, revisited: every answer stays exact."""
    rng = np.random.default_rng(5)
    reward = rng.standard_normal(small_mdp.shape)
    pols = [rng.integers(3, size=6) for _ in range(2 * _LU_CACHE_SIZE + 1)]
    pols += [rng.dirichlet(np.ones(3), size=6) for _ in range(3)] + ["uniform"]
    tol = VALUE_RTOL * value_scale(reward, small_mdp)
    for _ in range(2):
        for pi in pols:
            np.testing.assert_allclose(starc.policy_evaluation(reward, small_mdp, pi),
                                       direct_values(reward, small_mdp, pi), rtol=0, atol=tol)
    assert small_mdp.memo_size("policy_lu") <= _LU_CACHE_SIZE


def test_lu_cache_is_per_mdp(small_mdp):
    reward = np.random.default_rng(6).standard_normal(small_mdp.shape)
    other = small_mdp.with_gamma(0.3)
    v1 = starc.policy_evaluation(reward, small_mdp)
    v2 = starc.policy_evaluation(reward, other)
    np.testing.assert_allclose(v2, direct_values(reward, other, "uniform"), rtol=0,
                               atol=VALUE_RTOL * value_scale(reward, other))
    assert not np.allclose(v1, v2)


# ------------------------------------------------------------- linearity and batches


@given(data=st.data(), mdp=mdps(max_states=6))
def test_policy_evaluation_is_linear_in_the_reward(data, mdp):
    r1 = data.draw(reward_arrays(mdp))
    r2 = data.draw(reward_arrays(mdp))
    a = data.draw(st.floats(-10, 10))
    b = data.draw(st.floats(-10, 10))
    policy = data.draw(policies(mdp))
    combo = a * r1 + b * r2
    tol = VALUE_RTOL * value_scale(combo, mdp, 10 * r1, 10 * r2)
    lhs = starc.policy_evaluation(combo, mdp, policy)
    rhs = (a * starc.policy_evaluation(r1, mdp, policy)
           + b * starc.policy_evaluation(r2, mdp, policy))
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=tol)
    lhs = starc.q_values(combo, mdp, policy)
    rhs = a * starc.q_values(r1, mdp, policy) + b * starc.q_values(r2, mdp, policy)
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=tol)
    lhs = starc.policy_return(combo, mdp, policy)
    rhs = a * starc.policy_return(r1, mdp, policy) + b * starc.policy_return(r2, mdp, policy)
    assert abs(lhs - rhs) <= tol


@given(data=st.data(), mdp=mdps(max_states=6))
def test_batch_evaluation_equals_one_by_one(data, mdp):
    batch = data.draw(st.sampled_from([(1,), (4,), (2, 3)]))
    rewards = data.draw(reward_arrays(mdp, batch=batch))
    policy = data.draw(policies(mdp))
    v = starc.policy_evaluation(rewards, mdp, policy)
    q = starc.q_values(rewards, mdp, policy)
    j = starc.policy_return(rewards, mdp, policy)
    assert v.shape == batch + (mdp.n_states,)
    assert q.shape == batch + (mdp.n_states, mdp.n_actions)
    assert isinstance(j, np.ndarray) and j.shape == batch
    for idx in np.ndindex(*batch):
        tol = VALUE_RTOL * value_scale(rewards[idx], mdp)
        np.testing.assert_allclose(v[idx], starc.policy_evaluation(rewards[idx], mdp, policy),
                                   rtol=0, atol=tol)
        np.testing.assert_allclose(q[idx], starc.q_values(rewards[idx], mdp, policy),
                                   rtol=0, atol=tol)
        assert abs(j[idx] - starc.policy_return(rewards[idx], mdp, policy)) <= tol


@given(data=st.data(), mdp=mdps(max_states=5))
def test_lower_reward_forms_evaluate_like_their_broadcast(data, mdp):
    """(S,) and (S, A) rewards are evaluated without broadcasting, to the same values."""
    rng = np.random.default_rng(0)
    policy = data.draw(policies(mdp))
    for tail in (mdp.shape[:1], mdp.shape[:2], (3,) + mdp.shape[:2], (2,) + mdp.shape[:1]):
        r = rng.standard_normal(tail)
        try:
            full = starc.broadcast_reward(r, mdp)
        except starc.ValidationError:
            # a batch with as many numbers as one (S, A, S) reward is ambiguous and refused
            # (issue 14, item 4), by the evaluation functions too: one rule for all
            assert r.size == np.prod(mdp.shape) and r.ndim > 1
            with pytest.raises(starc.ValidationError, match=r"laid out as \(\.\.\., S, A, S\)"):
                starc.policy_evaluation(r, mdp, policy)
            continue
        tol = VALUE_RTOL * value_scale(r, mdp)
        for f in (starc.policy_evaluation, starc.q_values, starc.policy_return):
            np.testing.assert_allclose(f(r, mdp, policy), f(full, mdp, policy), rtol=0, atol=tol)
        if tail in (mdp.shape[:1], mdp.shape[:2]):  # a single reward
            np.testing.assert_allclose(starc.optimal_values(r, mdp),
                                       starc.optimal_values(full, mdp), rtol=0, atol=tol)


def test_empty_batch(small_mdp):
    rewards = np.zeros((0,) + small_mdp.shape)
    assert starc.policy_evaluation(rewards, small_mdp).shape == (0, 6)
    assert starc.q_values(rewards, small_mdp).shape == (0, 6, 3)
    assert starc.policy_return(rewards, small_mdp).shape == (0,)


# --------------------------------------------------------------- optimality (brute force)


def _all_deterministic_values(reward, mdp):
    return np.array([direct_values(reward, mdp, np.array(p))
                     for p in itertools.product(range(mdp.n_actions), repeat=mdp.n_states)])


@given(data=st.data(), mdp=mdps(max_states=4, max_actions=3))
def test_optimal_values_dominate_every_deterministic_policy(data, mdp):
    reward = data.draw(reward_arrays(mdp))
    values = _all_deterministic_values(reward, mdp)  # (A^S, S)
    tol = VALUE_RTOL * value_scale(reward, mdp)
    v_star = starc.optimal_values(reward, mdp)
    assert np.all(v_star >= values - tol)
    # and some deterministic policy attains V* in every state at once
    np.testing.assert_allclose(v_star, values.max(axis=0), rtol=0, atol=tol)
    pi = starc.optimal_policy(reward, mdp)
    np.testing.assert_allclose(direct_values(reward, mdp, pi), v_star, rtol=0, atol=tol)
    # q_values under the optimal policy is Q*, and V* = max_a Q*
    q_star = starc.q_values(reward, mdp, pi)
    np.testing.assert_allclose(q_star.max(axis=1), v_star, rtol=0, atol=tol)
    np.testing.assert_allclose(q_star[np.arange(mdp.n_states), pi], v_star, rtol=0, atol=tol)


@given(data=st.data(), mdp=mdps(max_states=4, max_actions=3))
def test_optimal_values_dominate_stochastic_policies(data, mdp):
    reward = data.draw(reward_arrays(mdp))
    policy = data.draw(policies(mdp, kinds=("uniform", "stochastic")))
    tol = VALUE_RTOL * value_scale(reward, mdp)
    assert np.all(starc.optimal_values(reward, mdp)
                  >= starc.policy_evaluation(reward, mdp, policy) - tol)


@given(data=st.data(), mdp=mdps(min_actions=2, max_states=4, max_actions=3))
def test_restricted_policy_iteration_is_best_among_allowed(data, mdp):
    """``policy_iteration(allowed=...)`` (used for pessimistic regret) by brute force."""
    reward = data.draw(reward_arrays(mdp))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    allowed = rng.uniform(size=(mdp.n_states, mdp.n_actions)) < 0.6
    allowed[np.arange(mdp.n_states), rng.integers(mdp.n_actions, size=mdp.n_states)] = True
    actions, v = policy_iteration(_rbar(reward, mdp), mdp, allowed=allowed)
    assert np.all(allowed[np.arange(mdp.n_states), actions])
    choices = [np.flatnonzero(row) for row in allowed]
    best = np.max([direct_values(reward, mdp, np.array(p))
                   for p in itertools.product(*choices)], axis=0)
    tol = VALUE_RTOL * value_scale(reward, mdp)
    np.testing.assert_allclose(v, best, rtol=0, atol=tol)
    np.testing.assert_allclose(direct_values(reward, mdp, actions), best, rtol=0, atol=tol)


def test_policy_iteration_raises_convergence_error_when_out_of_iterations():
    # A chain needs several improvement steps to propagate the far reward back.
    mdp, reward = starc.chain(8, gamma=0.99)
    rbar = _rbar(reward, mdp)
    with pytest.raises(ConvergenceError, match=r"did not stabilise in 1 iterations"):
        policy_iteration(rbar, mdp, max_iter=1)
    actions, _ = policy_iteration(rbar, mdp)
    np.testing.assert_array_equal(actions, 1)


def test_optimal_functions_reject_batches(small_mdp):
    rewards = np.zeros((2,) + small_mdp.shape)
    for f in (starc.optimal_policy, starc.optimal_values):
        with pytest.raises(ValidationError, match=f"{f.__name__} takes one reward of shape "
                                                  r"\(S, A, S\).*batch of shape \(2,\)"):
            f(rewards, small_mdp)


# ----------------------------------------------------------------------- occupancies


@given(data=st.data(), mdp=mdps(max_states=7))
def test_occupancy_sums_and_reproduces_returns(data, mdp):
    policy = data.draw(policies(mdp))
    eta = starc.occupancy(mdp, policy)
    assert eta.shape == mdp.shape and np.all(eta >= 0)
    total = 1.0 / (1.0 - mdp.gamma)
    assert abs(eta.sum() - total) <= VALUE_RTOL * total
    # zero on impossible transitions: eta = d(s) pi(a|s) tau(s'|s,a)
    assert np.all(eta[~mdp.support] == 0.0)
    rewards = data.draw(reward_arrays(mdp, batch=(3,)))
    j = starc.policy_return(rewards, mdp, policy)
    np.testing.assert_allclose(np.einsum("ksat,sat->k", rewards, eta), j, rtol=0,
                               atol=VALUE_RTOL * value_scale(rewards, mdp))


@given(data=st.data(), mdp=mdps(max_states=7))
def test_state_action_occupancy_satisfies_the_flow_constraints(data, mdp):
    policy = data.draw(policies(mdp))
    d = starc.state_action_occupancy(mdp, policy)
    assert d.shape == (mdp.n_states, mdp.n_actions) and np.all(d >= 0)
    inflow = mdp.initial + mdp.gamma * np.einsum("sat,sa->t", mdp.transition, d)
    total = 1.0 / (1.0 - mdp.gamma)
    np.testing.assert_allclose(d.sum(axis=1), inflow, rtol=0, atol=VALUE_RTOL * total)
    # d(s, a) = d(s) pi(a | s), and the transition occupancy marginalises to it
    pi = policy_matrix(policy, mdp)
    ds = starc.state_occupancy(mdp, policy)
    np.testing.assert_allclose(d, ds[:, None] * pi, rtol=0, atol=VALUE_RTOL * total)
    np.testing.assert_allclose(starc.occupancy(mdp, policy).sum(axis=2), d, rtol=0,
                               atol=VALUE_RTOL * total)


@given(data=st.data(), mdp=mdps(max_states=6, max_gamma=0.5))
def test_state_occupancy_matches_the_discounted_series(data, mdp):
    """d = sum_t gamma^t mu0 P^t, summed until gamma^t is below machine precision."""
    policy = data.draw(policies(mdp))
    p_pi = np.einsum("sa,sat->st", policy_matrix(policy, mdp), mdp.transition)
    dist, acc, w = np.array(mdp.initial), np.zeros(mdp.n_states), 1.0
    for _ in range(200):
        acc += w * dist
        dist, w = dist @ p_pi, w * mdp.gamma
        if w < 1e-18:
            break
    np.testing.assert_allclose(starc.state_occupancy(mdp, policy), acc, rtol=0, atol=1e-13)


def test_occupancy_with_point_initial(garnet_mdp):
    mdp = garnet_mdp.with_initial(np.eye(7)[3])
    d = starc.state_occupancy(mdp, [0] * 7)
    assert d[3] >= 1.0  # s0 = 3 is visited at t = 0
    assert abs(d.sum() - 1 / (1 - mdp.gamma)) <= 1e-12 / (1 - mdp.gamma)


# ---------------------------------------------------------------- larger and harder


@pytest.mark.parametrize("gamma", [0.99, 0.999])
def test_nearly_undiscounted_garnet(gamma):
    """Impossible transitions and gamma near 1: still exact to the Bellman certificate."""
    rng = np.random.default_rng(42)
    mdp = starc.TabularMDP(make_transition(rng, 40, 5, "garnet"), gamma)
    reward = rng.standard_normal(mdp.shape)
    v = starc.optimal_values(reward, mdp)
    rbar = _rbar(reward, mdp)
    scale = np.abs(rbar).max() / (1 - gamma)
    q = rbar + gamma * np.einsum("sat,t->sa", mdp.transition, v)
    assert np.max(np.abs(q.max(1) - v)) <= BELLMAN_RTOL * scale
    np.testing.assert_allclose(v, _all_policy_values_via_quantecon(rbar, mdp), rtol=0,
                               atol=1e-9 * scale)


def _all_policy_values_via_quantecon(rbar, mdp):
    qe = pytest.importorskip("quantecon")
    return qe.markov.DiscreteDP(rbar, np.array(mdp.transition), mdp.gamma).solve(
        "policy_iteration").v


# ------------------------------------------------------------------- LAPACK wrappers


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("trans", [0, 1])
def test_lu_factor_and_solve(order, trans):
    """Both memory orders (C is factorised as its transpose) and both transposes."""
    from starc.solve import lu_factor, lu_solve

    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 7)) + 7 * np.eye(7)
    b = rng.standard_normal((7, 3))
    factors = lu_factor(np.array(a, order=order))
    x = lu_solve(factors, np.asfortranarray(b), trans=trans)
    np.testing.assert_allclose((a.T if trans else a) @ x, b, rtol=0, atol=1e-13)
    x1 = lu_solve(factors, b[:, 0].copy(), trans=trans)
    np.testing.assert_allclose(x1, x[:, 0], rtol=0, atol=1e-14)


def test_lu_factor_singular():
    from starc import SolverError
    from starc.solve import lu_factor

    with pytest.raises(SolverError, match=r"singular"):
        lu_factor(np.array([[1.0, 2.0], [2.0, 4.0]]))


def test_optimal_values_can_return_the_policy(small_mdp):
    r = np.random.default_rng(99).standard_normal(small_mdp.shape)
    v, pi = starc.optimal_values(r, small_mdp, return_policy=True)
    np.testing.assert_array_equal(pi, starc.optimal_policy(r, small_mdp))
    np.testing.assert_allclose(v, starc.policy_evaluation(r, small_mdp, pi), atol=1e-10)


# ------------------------------------------------------ rewards of extreme magnitude


def test_values_of_extreme_rewards_are_exact_multiples(small_mdp):
    """V, Q, V*, J are linear in R: at R * 2^1000 (V beyond 2^1000) they are computed on a
    scaled reward and equal 2^1000 times the values of R, to round-off."""
    import warnings

    R = starc.random_reward(small_mdp, seed=4)
    big = np.ldexp(R, 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in (starc.policy_evaluation, starc.q_values, starc.optimal_values):
            np.testing.assert_allclose(np.ldexp(f(big, small_mdp), -1000), f(R, small_mdp),
                                       rtol=1e-12, atol=1e-12)
        assert np.isclose(np.ldexp(starc.policy_return(big, small_mdp), -1000),
                          starc.policy_return(R, small_mdp), rtol=1e-12)
        np.testing.assert_array_equal(starc.optimal_policy(big, small_mdp),
                                      starc.optimal_policy(R, small_mdp))
        # a batch: each reward scaled by its own power of two
        batch = np.stack([R, big])
        V = starc.policy_evaluation(batch, small_mdp)
        np.testing.assert_allclose(np.ldexp(V[1], -1000), V[0], rtol=1e-12, atol=1e-12)


def test_values_beyond_float64_raise_and_optimal_policy_still_works(small_mdp):
    import warnings

    R = starc.random_reward(small_mdp, seed=5)
    huge = np.where(R >= 0, 1.7e308, -1.7e308)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in (starc.policy_evaluation, starc.q_values, starc.optimal_values):
            with pytest.raises(ValidationError, match=r"exceed the float64 range.*rescale"):
                f(np.full(small_mdp.shape, 1.7e308), small_mdp)
        # scale invariant: the same policy as for sign(R), from any finite reward
        np.testing.assert_array_equal(starc.optimal_policy(huge, small_mdp),
                                      starc.optimal_policy(np.sign(huge), small_mdp))


def test_occupancy_refuses_bad_policies(small_mdp):
    for bad in ([[0.5, 0.5], [1.0]], np.full((small_mdp.n_states, small_mdp.n_actions),
                                              1.7e308)):
        for f in (starc.occupancy, starc.state_occupancy, starc.state_action_occupancy):
            with pytest.raises(ValidationError, match="policy"):
                f(small_mdp, bad)


@given(data=st.data(), mdp=mdps(max_states=5, max_actions=3))
def test_deterministic_values_solve_the_bellman_equation(data, mdp):
    """``deterministic_values`` against ``direct_values`` (an explicit inverse) and the
    public ``policy_evaluation`` of the same policy."""
    from starc.solve import deterministic_values

    reward = data.draw(reward_arrays(mdp))
    actions = np.array(data.draw(st.lists(st.integers(0, mdp.n_actions - 1),
                                          min_size=mdp.n_states, max_size=mdp.n_states)))
    rbar = starc.expected_reward(reward, mdp)
    tol = VALUE_RTOL * value_scale(reward, mdp)
    v = deterministic_values(rbar, mdp, actions)
    np.testing.assert_allclose(v, direct_values(reward, mdp, actions), rtol=0, atol=tol)
    np.testing.assert_allclose(v, starc.policy_evaluation(reward, mdp, actions), rtol=0,
                               atol=tol)
