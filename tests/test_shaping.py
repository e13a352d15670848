"""Potential shaping, S'-redistribution and scaling: the invariances of THEORY.md §2.

Property tests of the theorems [NG99, Thm. 1; STARC Sec. 2]: potential shaping moves
V by -Phi, Q by -Phi(s) and J by -E_mu0[Phi]; S'-redistribution changes nothing; positive
scaling scales. The dimension of the equivalence subspace N is checked by rank.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import starc
from starc import ValidationError
from strategies import (VALUE_RTOL, direct_values, garnet_mdps, mdps, policies, potentials,
                        reward_arrays, value_scale)

# ------------------------------------------------------------------ potential_shaping


def test_potential_shaping_formula():
    rng = np.random.default_rng(0)
    r = rng.standard_normal((4, 3, 4))
    phi = rng.standard_normal(4)
    g = 0.7
    before = r.copy()
    out = starc.potential_shaping(r, phi, g)
    for s, a, sp in itertools.product(range(4), range(3), range(4)):
        assert out[s, a, sp] == pytest.approx(r[s, a, sp] + g * phi[sp] - phi[s], abs=1e-15)
    np.testing.assert_array_equal(r, before)  # the input is not modified
    # lists and ints are accepted; the result is float64
    assert starc.potential_shaping([[[0, 0]], [[0, 0]]], [1, 2], 0).dtype == np.float64


def test_constant_potential_adds_a_constant():
    r = np.zeros((3, 2, 3))
    for g in (0.0, 0.5, 0.99):
        for k in (-2.0, 1.0, 7.5):
            out = starc.potential_shaping(r, np.full(3, -k / (1 - g)), g)
            np.testing.assert_allclose(out, k, rtol=1e-12)


def test_potential_shaping_batches():
    rng = np.random.default_rng(1)
    r = rng.standard_normal((5, 3, 2, 3))
    phis = rng.standard_normal((5, 3))
    out = starc.potential_shaping(r, phis, 0.9)
    assert out.shape == (5, 3, 2, 3)
    for i in range(5):
        np.testing.assert_array_equal(out[i], starc.potential_shaping(r[i], phis[i], 0.9))
    # one potential for a batch of rewards, and a batch of potentials for one reward
    np.testing.assert_array_equal(starc.potential_shaping(r, phis[0], 0.9)[2],
                                  starc.potential_shaping(r[2], phis[0], 0.9))
    assert starc.potential_shaping(r[0], phis, 0.9).shape == (5, 3, 2, 3)


@pytest.mark.parametrize("reward, potential, gamma, pattern", [
    (np.zeros((3, 2)), np.zeros(3), 0.9, r"reward must have at least 3 dimension"),
    (np.zeros((3, 2, 4)), np.zeros(4), 0.9, r"reward must have shape \(\.\.\., S, A, S\), "
                                            r"got \(3, 2, 4\)"),
    (np.zeros((3, 2, 3)), np.zeros(4), 0.9, r"potential must have shape \(\.\.\., 3\)"),
    (np.zeros((3, 2, 3)), np.zeros(()), 0.9, r"potential must have at least 1 dimension"),
    (np.zeros((4, 3, 2, 3)), np.zeros((5, 3)), 0.9, r"potential of shape \(5, 3\) does not "
                                                    r"broadcast against reward of shape"),
    (np.zeros((3, 2, 3)), np.array([0, np.nan, 0]), 0.9, r"potential contains 1 NaN"),
    (np.full((3, 2, 3), np.inf), np.zeros(3), 0.9, r"reward contains 18 NaN or infinite"),
    (np.zeros((3, 2, 3)), np.zeros(3), 1.0, r"gamma must lie in \[0, 1\)"),
    (np.zeros((3, 2, 3)), np.zeros(3), "0.9", r"gamma must be a real number"),
    (np.zeros((3, 2, 3)), ["a", "b", "c"], 0.9, r"potential must be real-valued"),
])
def test_potential_shaping_rejects(reward, potential, gamma, pattern):
    with pytest.raises(ValidationError, match=pattern):
        starc.potential_shaping(reward, potential, gamma)


# ------------------------------------------------------- theorems: potential shaping


@given(data=st.data(), mdp=mdps(max_states=6))
def test_shaping_shifts_values_by_minus_phi(data, mdp):
    """V' = V - Phi, Q'(s, a) = Q(s, a) - Phi(s), J' = J - E_mu0[Phi]  [NG99, Thm. 1]."""
    reward = data.draw(reward_arrays(mdp))
    phi = data.draw(potentials(mdp.n_states))
    policy = data.draw(policies(mdp))
    shaped = starc.potential_shaping(reward, phi, mdp.gamma)
    tol = VALUE_RTOL * value_scale(reward, mdp, phi)
    np.testing.assert_allclose(starc.policy_evaluation(shaped, mdp, policy),
                               starc.policy_evaluation(reward, mdp, policy) - phi,
                               rtol=0, atol=tol)
    np.testing.assert_allclose(starc.q_values(shaped, mdp, policy),
                               starc.q_values(reward, mdp, policy) - phi[:, None],
                               rtol=0, atol=tol)
    assert abs(starc.policy_return(shaped, mdp, policy)
               - (starc.policy_return(reward, mdp, policy) - mdp.initial @ phi)) <= tol
    # the shaped values also follow from an independent solve
    np.testing.assert_allclose(direct_values(shaped, mdp, policy),
                               direct_values(reward, mdp, policy) - phi, rtol=0, atol=tol)


@given(data=st.data(), mdp=mdps(max_states=6))
def test_shaping_preserves_optimality(data, mdp):
    reward = data.draw(reward_arrays(mdp))
    phi = data.draw(potentials(mdp.n_states))
    shaped = starc.potential_shaping(reward, phi, mdp.gamma)
    tol = VALUE_RTOL * value_scale(reward, mdp, phi)
    v_star = starc.optimal_values(reward, mdp)
    np.testing.assert_allclose(starc.optimal_values(shaped, mdp), v_star - phi, rtol=0, atol=tol)
    # an optimal policy of the shaped reward is optimal for the original one
    pi = starc.optimal_policy(shaped, mdp)
    np.testing.assert_allclose(direct_values(reward, mdp, pi), v_star, rtol=0, atol=tol)


@given(data=st.data(), mdp=mdps(max_states=6))
def test_random_potential_shaping(data, mdp):
    batch = data.draw(st.sampled_from([(), (3,)]))
    reward = data.draw(reward_arrays(mdp, batch=batch))
    seed = data.draw(st.integers(0, 2**32 - 1))
    shaped, phi = starc.random_potential_shaping(reward, mdp, scale=2.0, seed=seed)
    assert shaped.shape == reward.shape and phi.shape == batch + (mdp.n_states,)
    np.testing.assert_array_equal(shaped, starc.potential_shaping(reward, phi, mdp.gamma))
    tol = VALUE_RTOL * value_scale(reward, mdp, phi)
    np.testing.assert_allclose(starc.policy_evaluation(shaped, mdp),
                               starc.policy_evaluation(reward, mdp) - phi, rtol=0, atol=tol)
    again, phi2 = starc.random_potential_shaping(reward, mdp, scale=2.0, seed=seed)
    np.testing.assert_array_equal(phi, phi2)
    np.testing.assert_array_equal(shaped, again)


def test_random_potential_shaping_options(small_mdp):
    r = np.random.default_rng(0).standard_normal(small_mdp.shape)
    same, phi = starc.random_potential_shaping(r, small_mdp, scale=0.0, seed=1)
    np.testing.assert_array_equal(same, r)
    np.testing.assert_array_equal(phi, 0.0)
    _, phi_small = starc.random_potential_shaping(r, small_mdp, scale=1.0, seed=3)
    _, phi_big = starc.random_potential_shaping(r, small_mdp, scale=10.0, seed=3)
    np.testing.assert_allclose(phi_big, 10 * phi_small, rtol=1e-15)
    # lower reward forms are broadcast first
    shaped, _ = starc.random_potential_shaping(np.ones(6), small_mdp, seed=0)
    assert shaped.shape == small_mdp.shape
    with pytest.raises(ValidationError, match=r"scale must be >= 0.0, got -1.0"):
        starc.random_potential_shaping(r, small_mdp, scale=-1.0)
    with pytest.raises(ValidationError, match=r"\breward has shape \(5,\)"):
        starc.random_potential_shaping(np.ones(5), small_mdp)


# ---------------------------------------------------------- theorems: S'-redistribution


@given(data=st.data(), mdp=mdps(max_states=6))
def test_s_prime_redistribution_changes_nothing(data, mdp):
    reward = data.draw(reward_arrays(mdp))
    policy = data.draw(policies(mdp))
    moved = starc.s_prime_redistribution(reward, mdp, scale=5.0,
                                         seed=data.draw(st.integers(0, 2**32 - 1)))
    tol = VALUE_RTOL * value_scale(reward, mdp, moved)
    # the expectation over s' is kept, computed here without starc
    np.testing.assert_allclose(np.einsum("sat,sat->sa", moved, mdp.transition),
                               np.einsum("sat,sat->sa", reward, mdp.transition),
                               rtol=0, atol=1e-12 * value_scale(reward, mdp, moved))
    for f in (starc.policy_evaluation, starc.q_values):
        np.testing.assert_allclose(f(moved, mdp, policy), f(reward, mdp, policy),
                                   rtol=0, atol=tol)
    assert abs(starc.policy_return(moved, mdp, policy)
               - starc.policy_return(reward, mdp, policy)) <= tol
    np.testing.assert_allclose(starc.optimal_values(moved, mdp),
                               starc.optimal_values(reward, mdp), rtol=0, atol=tol)


@given(data=st.data(), mdp=garnet_mdps(min_states=2, max_states=6))
def test_s_prime_redistribution_is_free_on_impossible_transitions(data, mdp):
    reward = data.draw(reward_arrays(mdp))
    moved = starc.s_prime_redistribution(reward, mdp, seed=data.draw(st.integers(0, 2**32 - 1)))
    impossible = ~mdp.support
    if impossible.any():
        assert np.all(moved[impossible] != reward[impossible])
    # any reward on impossible transitions is an S'-redistribution: values are unchanged
    wild = np.where(impossible, 1e6, reward)
    tol = VALUE_RTOL * value_scale(reward, mdp)
    np.testing.assert_allclose(starc.policy_evaluation(wild, mdp),
                               starc.policy_evaluation(reward, mdp), rtol=0, atol=tol)
    np.testing.assert_allclose(starc.optimal_values(wild, mdp),
                               starc.optimal_values(reward, mdp), rtol=0, atol=tol)


def test_s_prime_redistribution_options(small_mdp):
    r = np.random.default_rng(0).standard_normal((2,) + small_mdp.shape)
    np.testing.assert_array_equal(starc.s_prime_redistribution(r, small_mdp, scale=0.0), r)
    a = starc.s_prime_redistribution(r, small_mdp, seed=9)
    np.testing.assert_array_equal(a, starc.s_prime_redistribution(r, small_mdp, seed=9))
    assert a.shape == r.shape
    assert not np.array_equal(a, starc.s_prime_redistribution(r, small_mdp, seed=10))
    with pytest.raises(ValidationError, match=r"scale must be >= 0.0"):
        starc.s_prime_redistribution(r, small_mdp, scale=-0.5)
    with pytest.raises(ValidationError, match=r"scale must be a real number"):
        starc.s_prime_redistribution(r, small_mdp, scale="big")


# ------------------------------------------------------------------ theorems: scaling


@given(data=st.data(), mdp=mdps(max_states=5))
def test_positive_scaling_scales_values_and_keeps_optimal_policies(data, mdp):
    reward = data.draw(reward_arrays(mdp))
    k = data.draw(st.floats(1e-3, 1e3))
    tol = VALUE_RTOL * value_scale(k * reward, mdp, reward)
    np.testing.assert_allclose(starc.policy_evaluation(k * reward, mdp),
                               k * starc.policy_evaluation(reward, mdp), rtol=0, atol=tol)
    pi = starc.optimal_policy(k * reward, mdp)
    np.testing.assert_allclose(direct_values(reward, mdp, pi), starc.optimal_values(reward, mdp),
                               rtol=0, atol=VALUE_RTOL * value_scale(reward, mdp))


# ------------------------------------------------------------- the subspace N (§2)


@pytest.mark.parametrize("n_states, n_actions, kind", [(1, 1, "dense"), (2, 2, "dense"),
                                                        (3, 2, "garnet"), (4, 3, "dense"),
                                                        (4, 2, "deterministic")])
def test_equivalence_subspace_dimension(n_states, n_actions, kind):
    """dim N = |S| + |S||A|(|S| - 1): potentials and redistributions meet only in 0."""
    from strategies import make_transition

    rng = np.random.default_rng(n_states * 10 + n_actions)
    mdp = starc.TabularMDP(make_transition(rng, n_states, n_actions, kind), 0.9)
    zero = np.zeros(mdp.shape)
    ps = [starc.potential_shaping(zero, e, mdp.gamma).ravel() for e in np.eye(n_states)]
    n_sr = n_states * n_actions * (n_states - 1)
    sr = [starc.s_prime_redistribution(zero, mdp, seed=i).ravel() for i in range(n_sr + 5)]
    rank = np.linalg.matrix_rank
    assert rank(np.array(ps)) == n_states
    if n_sr:
        assert rank(np.array(sr)) == n_sr
    assert rank(np.array(ps + sr)) == n_states + n_sr


# --------------------------------------------------------------- unreachable states


def test_rewards_on_unreachable_states_change_no_return():
    """The caveat documented in starc.shaping: state 2 is never reached from s0."""
    t = np.zeros((3, 2, 3))
    t[0, 0, 0] = t[0, 1, 1] = 1.0
    t[1, :, 0] = 1.0
    t[2, :, :] = 1 / 3
    mdp = starc.TabularMDP(t, 0.9, initial=[1.0, 0.0, 0.0])
    r = np.random.default_rng(0).standard_normal(mdp.shape)
    r2 = r.copy()
    r2[2] += 100.0
    for pi in itertools.product(range(2), repeat=3):
        assert starc.policy_return(r2, mdp, list(pi)) == pytest.approx(
            starc.policy_return(r, mdp, list(pi)), abs=1e-12)
    # ... yet the values of the unreachable state differ: starc compares all states
    assert not np.allclose(starc.optimal_values(r2, mdp)[2], starc.optimal_values(r, mdp)[2])
