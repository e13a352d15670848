"""Argument checks: every bad input raises ``ValidationError`` naming the argument.

The helpers of ``starc._validation`` are tested directly, then through the public
functions that use them. Each test checks the error type *and* that the message names
the offending argument (and, where the design asks for it, says how to fix it).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import starc
from starc import _validation as v
from starc.exceptions import ValidationError

# ---------------------------------------------------------------------------- exceptions
# (the hierarchy itself is tested in tests/test_exceptions.py)


def test_validation_error_caught_as_value_error(toy_mdp):
    with pytest.raises(ValueError):
        starc.policy_evaluation(np.zeros(3), toy_mdp)


# --------------------------------------------------------------------------- arrays


@pytest.mark.parametrize("bad, pattern", [
    ("abc", r"x must be a numeric array, got the string"),
    ([[1.0, 2.0], [3.0]], r"x (must be a numeric array|has dtype object)"),
    (np.array([1, "a", None], dtype=object), r"x has dtype object"),
    (np.array([1 + 2j]), r"x must be real-valued"),
    (np.array(["1.0"]), r"x must be real-valued"),
    (np.array([1.0, np.nan]), r"x contains 1 NaN or infinite value"),
    (np.array([np.inf, -np.inf, 0.0]), r"x contains 2 NaN or infinite value"),
])
def test_as_float_array_rejects(bad, pattern):
    with pytest.raises(ValidationError, match=pattern):
        v.as_float_array(bad, "x")


def test_as_float_array_converts_and_checks_ndim():
    out = v.as_float_array([[1, 2], [3, 4]], "x", ndim=2)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    f = np.asfortranarray(np.ones((3, 2)))
    assert v.as_float_array(f, "x").flags.c_contiguous
    assert v.as_float_array([np.nan], "x", allow_nonfinite=True).shape == (1,)
    with pytest.raises(ValidationError, match=r"x must have 3 dimension\(s\), got shape \(2, 2\)"):
        v.as_float_array(np.ones((2, 2)), "x", ndim=3)
    with pytest.raises(ValidationError, match=r"x must have at least 1 dimension"):
        v.as_float_array(1.0, "x", min_ndim=1)


def test_as_float_array_copy_flag():
    a = np.ones(3)
    assert v.as_float_array(a, "x") is a or np.shares_memory(v.as_float_array(a, "x"), a)
    assert not np.shares_memory(v.as_float_array(a, "x", copy=True), a)


# --------------------------------------------------------------------------- scalars


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.999999, np.float32(0.9), np.float64(0.3),
                                   np.array(0.7), 0, np.int64(0)])
def test_check_gamma_accepts(gamma):
    out = v.check_gamma(gamma)
    assert isinstance(out, float) and out == float(gamma)


@pytest.mark.parametrize("gamma, pattern", [
    (1.0, r"gamma must lie in \[0, 1\)"),
    (1, r"gamma must lie in \[0, 1\)"),
    (-0.1, r"gamma must lie in \[0, 1\)"),
    (1.5, r"gamma must lie in \[0, 1\)"),
    (float("nan"), r"gamma must lie in \[0, 1\)"),
    (float("inf"), r"gamma must lie in \[0, 1\)"),
    (True, r"gamma must be a real number"),
    (False, r"gamma must be a real number"),
    ("0.9", r"gamma must be a real number"),
    (None, r"gamma must be a real number"),
    ([0.9], r"gamma must be a real number"),
    (np.array([0.9]), r"gamma must be a real number"),
    (0.5 + 0j, r"gamma must be a real number"),
])
def test_check_gamma_rejects(gamma, pattern):
    with pytest.raises(ValidationError, match=pattern):
        v.check_gamma(gamma)


def test_check_gamma_custom_name():
    with pytest.raises(ValidationError, match=r"^discount must"):
        v.check_gamma(2.0, "discount")


@pytest.mark.parametrize("value, minimum, pattern", [
    (0, 1, r"n must be an integer >= 1, got 0"),
    (-3, 0, r"n must be an integer >= 0, got -3"),
    (2.0, 1, r"n must be an integer >= 1, got 2.0"),
    (True, 1, r"n must be an integer >= 1, got True"),
    ("3", 1, r"n must be an integer >= 1, got '3'"),
    (None, 1, r"n must be an integer"),
])
def test_check_positive_int_rejects(value, minimum, pattern):
    with pytest.raises(ValidationError, match=pattern):
        v.check_positive_int(value, "n", minimum=minimum)


def test_check_positive_int_accepts_numpy_ints():
    assert v.check_positive_int(np.int32(4), "n") == 4
    assert v.check_positive_int(0, "n", minimum=0) == 0


@pytest.mark.parametrize("value, kw, pattern", [
    (float("nan"), {}, r"slip must be finite"),
    (float("inf"), {}, r"slip must be finite"),
    ("0.1", {}, r"slip must be a real number"),
    (True, {}, r"slip must be a real number"),
    (-0.1, {"low": 0.0}, r"slip must be >= 0.0, got -0.1"),
    (0.0, {"low": 0.0, "low_open": True}, r"slip must be > 0.0, got 0.0"),
    (1.5, {"high": 1.0}, r"slip must be <= 1.0, got 1.5"),
    (1.0, {"high": 1.0, "high_open": True}, r"slip must be < 1.0, got 1.0"),
])
def test_check_real_rejects(value, kw, pattern):
    with pytest.raises(ValidationError, match=pattern):
        v.check_real(value, "slip", **kw)


def test_check_real_accepts_bounds_and_0d_arrays():
    assert v.check_real(0.0, "x", low=0.0) == 0.0
    assert v.check_real(1.0, "x", high=1.0) == 1.0
    assert v.check_real(np.array(2.5), "x") == 2.5


def test_check_choice_lists_valid_values():
    with pytest.raises(ValidationError) as err:
        v.check_choice("bogus", "kind", ("a", "b", "c"))
    msg = str(err.value)
    assert "unknown kind 'bogus'" in msg
    assert "'a', 'b', 'c'" in msg
    with pytest.raises(ValidationError, match=r"unknown kind 3"):
        v.check_choice(3, "kind", ("a",))
    assert v.check_choice("b", "kind", ("a", "b")) == "b"


# ------------------------------------------------------------------------------ seeds


def test_check_seed_accepts():
    g = np.random.default_rng(0)
    assert v.check_seed(g) is g
    assert isinstance(v.check_seed(None), np.random.Generator)
    a = v.check_seed(5).standard_normal(3)
    b = v.check_seed(np.int64(5)).standard_normal(3)
    np.testing.assert_array_equal(a, b)
    c = v.check_seed(np.random.SeedSequence(5)).standard_normal(3)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("seed, pattern", [
    (-1, r"seed must be non-negative, got -1"),
    (1.5, r"seed must be None, a non-negative int"),
    (True, r"seed must be None, a non-negative int"),
    ("0", r"seed must be None, a non-negative int"),
    ([1, 2], r"seed must be None, a non-negative int"),
    (np.random.RandomState(0), r"seed must be None, a non-negative int"),
])
def test_check_seed_rejects(seed, pattern):
    with pytest.raises(ValidationError, match=pattern):
        v.check_seed(seed)


@pytest.mark.parametrize("call", [
    lambda m: starc.random_mdp(3, 2, seed=-5),
    lambda m: starc.random_mdp(3, 2, seed="abc"),
    lambda m: starc.random_reward(m, seed=2.5),
    lambda m: starc.random_potential_shaping(np.zeros(m.shape), m, seed=-1),
    lambda m: starc.s_prime_redistribution(np.zeros(m.shape), m, seed=[0]),
])
def test_public_functions_reject_bad_seeds(call, small_mdp):
    with pytest.raises(ValidationError, match=r"\bseed\b"):
        call(small_mdp)


# ----------------------------------------------------------------------------- memory


def test_check_memory_refuses_with_bytes():
    with pytest.raises(ValidationError) as err:
        v.check_memory((10**7, 10**7), "a test array")
    msg = str(err.value)
    assert "a test array" in msg
    assert f"{10**14 * 8:,}" in msg and "bytes" in msg
    assert "(10000000, 10000000)" in msg
    v.check_memory((10, 10), "small")  # fits: no error


def test_check_memory_copies_factor(monkeypatch):
    monkeypatch.setattr(v, "available_memory_bytes", lambda: 1000)
    v.check_memory((100,), "x")  # 800 bytes
    with pytest.raises(ValidationError, match=r"1,600 bytes"):
        v.check_memory((100,), "x", copies=2)


def test_available_memory_is_positive():
    assert v.available_memory_bytes() > 2**20


def test_a_broadcast_view_is_refused_before_it_is_copied(monkeypatch, small_mdp):
    # np.broadcast_to gives a view with zero strides: 8 bytes of memory behind an array
    # that a C-contiguous conversion would have to allocate in full
    monkeypatch.setattr(v, "available_memory_bytes", lambda: 10**6)
    view = np.broadcast_to(np.float64(1.0), (2000, 6, 3, 6))
    with pytest.raises(ValidationError, match=r"reward would need 1,728,000 bytes"):
        starc.broadcast_reward(view, small_mdp)
    with pytest.raises(ValidationError, match=r"x would need 1,728,000 bytes"):
        v.as_float_array(view, "x")
    small = np.broadcast_to(np.float64(1.0), (2, 6, 3, 6))
    assert starc.broadcast_reward(small, small_mdp).flags.c_contiguous


def test_broadcasting_a_reward_refuses_before_allocating(monkeypatch, small_mdp):
    # A state reward (K, S) broadcasts to (K, S, A, S): refuse that when it cannot fit.
    monkeypatch.setattr(v, "available_memory_bytes", lambda: 10**6)
    k = 200  # 200 * 6 * 3 * 6 * 8 = 172,800 bytes fits; 2000x does not
    starc.broadcast_reward(np.zeros((k, 6)), small_mdp)
    with pytest.raises(ValidationError, match=r"broadcasting reward to \(S, A, S\) would need "
                                              r"1,728,000 bytes"):
        starc.broadcast_reward(np.zeros((2000, 6)), small_mdp)
    with pytest.raises(ValidationError, match=r"broadcasting reward to \(S, A, S\) would need "
                                              r"1,728,000 bytes"):
        starc.broadcast_reward(np.zeros((2000, 6, 3)), small_mdp)
    # evaluation never broadcasts a lower-form reward, so it needs no such memory
    rewards = np.random.default_rng(0).standard_normal((2000, 6, 3))
    values = starc.policy_evaluation(rewards, small_mdp, [1, 0, 2, 2, 1, 0])
    assert values.shape == (2000, 6)
    p = np.asarray(small_mdp.transition)[np.arange(6), [1, 0, 2, 2, 1, 0]]
    ref = np.linalg.solve(np.eye(6) - small_mdp.gamma * p,
                          rewards[:, np.arange(6), [1, 0, 2, 2, 1, 0]].T).T
    np.testing.assert_allclose(values, ref, rtol=0, atol=1e-10 * np.abs(rewards).max() / 0.2)


# ---------------------------------------------------------------------- stochasticity


def test_check_stochastic():
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    assert v.check_stochastic(p, "p") is p
    v.check_stochastic(np.array([0.5 + 4e-11, 0.5]), "p")  # within 1e-10
    with pytest.raises(ValidationError, match=r"p has a negative entry -0.1 at index \(1,\)"):
        v.check_stochastic(np.array([1.1, -0.1]), "p")
    with pytest.raises(ValidationError, match=r"p must sum to 1 .* index \(1,\) sums to 0.9"):
        v.check_stochastic(np.array([[0.5, 0.5], [0.45, 0.45]]), "p")
    with pytest.raises(ValidationError, match=r"Normalise it first"):
        v.check_stochastic(np.array([0.5, 0.5 + 1e-9]), "p")


def test_check_transition():
    t = np.full((2, 3, 2), 0.5)
    assert v.check_transition(t).shape == (2, 3, 2)
    with pytest.raises(ValidationError, match=r"transition must have 3 dimension"):
        v.check_transition(np.full((2, 2), 0.5))
    with pytest.raises(ValidationError, match=r"transition must have shape \(S, A, S\).*\(2, 3, 4\)"):
        v.check_transition(np.full((2, 3, 4), 0.25))
    with pytest.raises(ValidationError, match=r"transition must have at least one state"):
        v.check_transition(np.zeros((0, 1, 0)))
    with pytest.raises(ValidationError, match=r"transition must have at least one state"):
        v.check_transition(np.zeros((1, 0, 1)))


def test_check_distribution():
    np.testing.assert_array_equal(v.check_distribution([0.25, 0.75], 2, "initial"),
                                  [0.25, 0.75])
    with pytest.raises(ValidationError, match=r"initial must have length 3, got shape \(2,\)"):
        v.check_distribution([0.5, 0.5], 3, "initial")
    with pytest.raises(ValidationError, match=r"initial must have 1 dimension"):
        v.check_distribution([[0.5, 0.5]], 2, "initial")
    with pytest.raises(ValidationError, match=r"initial has a negative entry"):
        v.check_distribution([1.5, -0.5], 2, "initial")
    with pytest.raises(ValidationError, match=r"initial must sum to 1"):
        v.check_distribution([0.5, 0.6], 2, "initial")


# ---------------------------------------------------------------------------- rewards


def test_reward_form_auto_and_explicit():
    assert v.reward_form((3, 2, 3), 3, 2) == "transition"
    assert v.reward_form((3, 2), 3, 2) == "state_action"
    assert v.reward_form((3,), 3, 2) == "state"
    assert v.reward_form((5, 7, 3), 3, 2) == "state"  # batch (5, 7) of state rewards
    # a batch axis that looks like a state axis: auto picks the longest match ...
    assert v.reward_form((3, 3, 3), 3, 3) == "transition"
    # ... and an explicit form overrides it
    assert v.reward_form((3, 3, 3), 3, 3, "state_action") == "state_action"
    with pytest.raises(ValidationError, match=r"unknown reward form 'bogus'; valid values are: "
                                              r"'auto', 'state', 'state_action', 'transition'"):
        v.reward_form((3,), 3, 2, "bogus")
    with pytest.raises(ValidationError,
                       match=r"reward has shape \(4,\), which does not fit an MDP with 3 states "
                             r"and 2 actions"):
        v.reward_form((4,), 3, 2)
    with pytest.raises(ValidationError, match=r"R1 has shape \(3,\).* expected \(\.\.\., 3, 2\)"):
        v.reward_form((3,), 3, 2, "state_action", name="R1")


def test_as_reward_broadcasts():
    sa = np.arange(6.0).reshape(3, 2)
    full = v.as_reward(sa, 3, 2)
    assert full.shape == (3, 2, 3) and full.flags.c_contiguous and full.flags.writeable
    for sp in range(3):
        np.testing.assert_array_equal(full[:, :, sp], sa)
    st = np.array([1.0, 2.0, 3.0])
    full = v.as_reward(st, 3, 2)
    np.testing.assert_array_equal(full, np.broadcast_to(st[:, None, None], (3, 2, 3)))
    batch = v.as_reward(np.ones((4, 5, 3)), 3, 2)
    assert batch.shape == (4, 5, 3, 2, 3)


@pytest.mark.parametrize("reward, pattern", [
    (np.zeros((2, 2, 3)), r"reward has shape \(2, 2, 3\)"),
    (np.zeros(()), r"reward must have at least 1 dimension"),
    (np.array([np.nan, 0.0]), r"reward contains 1 NaN or infinite value"),
    (np.array([0.0, np.inf]), r"reward contains 1 NaN or infinite value"),
    (np.array([1, "x"], dtype=object), r"reward has dtype object"),
    ("zeros", r"reward must be a numeric array"),
])
def test_public_functions_reject_bad_rewards(reward, pattern, toy_mdp):
    for f in (starc.policy_evaluation, starc.q_values, starc.policy_return,
              starc.optimal_policy, starc.optimal_values, starc.expected_reward,
              starc.broadcast_reward):
        with pytest.raises(ValidationError, match=pattern):
            f(reward, toy_mdp)


# --------------------------------------------------------------------------- policies


def test_check_policy_forms():
    np.testing.assert_array_equal(v.check_policy("uniform", 2, 4), np.full((2, 4), 0.25))
    np.testing.assert_array_equal(v.check_policy([2, 0], 2, 3), [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(v.check_policy(np.array([1.0, 0.0]), 2, 2), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(v.check_policy(np.array([1, 0], dtype=np.uint8), 2, 2),
                                  [[0, 1], [1, 0]])
    p = np.array([[0.2, 0.8], [1.0, 0.0]])
    np.testing.assert_array_equal(v.check_policy(p, 2, 2), p)
    np.testing.assert_array_equal(v.check_policy([[0, 1], [1, 0]], 2, 2), [[0, 1], [1, 0]])


@pytest.mark.parametrize("policy, pattern", [
    ("greedy", r"unknown policy 'greedy'; pass 'uniform', an int array of shape \(3,\) or a "
               r"float array of shape \(3, 2\)"),
    (np.array([0, 1, 2]), r"deterministic policy has actions outside \[0, 1\]: \[2\]"),
    (np.array([0, -1, 0]), r"deterministic policy has actions outside \[0, 1\]: \[-1\]"),
    (np.array([0, 1]), r"deterministic policy must have shape \(3,\), got \(2,\)"),
    (np.array([0.5, 0.5, 0.0]), r"policy of shape \(3,\) must be an integer array of actions"),
    (np.array([True, False, True]), r"policy of shape \(3,\) must be an integer array"),
    (np.array([0.0, np.nan, 1.0]), r"policy of shape \(3,\) must be an integer array"),
    (np.full((3, 3), 1 / 3), r"policy must have shape \(3, 2\) with rows pi\[s, :\] summing "
                             r"to 1, got shape \(3, 3\)"),
    (np.full((2, 3, 2), 0.5), r"policy must have 2 dimension"),
    (np.array([[0.5, 0.5], [0.5, 0.4], [1.0, 0.0]]), r"policy must sum to 1 .* index \(1,\)"),
    (np.array([[1.5, -0.5], [0.5, 0.5], [1.0, 0.0]]), r"policy has a negative entry -0.5"),
    (np.array([[np.nan, 1.0], [0.5, 0.5], [1.0, 0.0]]), r"policy contains 1 NaN"),
    (np.array([0, None, 1], dtype=object), r"policy has dtype object"),
])
def test_check_policy_rejects(policy, pattern):
    with pytest.raises(ValidationError, match=pattern):
        v.check_policy(policy, 3, 2)


@pytest.mark.parametrize("f", [starc.policy_evaluation, starc.q_values, starc.policy_return])
def test_public_functions_reject_bad_policies(f, toy_mdp, toy_reward):
    for bad in ("optimal", [0, 2], [[0.5, 0.6], [0.5, 0.5]], np.ones((2, 3)) / 3, [0.5, 0.5]):
        with pytest.raises(ValidationError, match=r"\bpolicy\b"):
            f(toy_reward, toy_mdp, bad)


@pytest.mark.parametrize("f", [starc.occupancy, starc.state_occupancy,
                               starc.state_action_occupancy])
def test_occupancies_reject_bad_policies(f, toy_mdp):
    for bad in ("optimal", [0, 2], [[0.5, 0.6], [0.5, 0.5]], np.ones((2, 3)) / 3):
        with pytest.raises(ValidationError, match=r"\bpolicy\b"):
            f(toy_mdp, bad)


# ------------------------------------------------------------------------------- misc


def test_check_same_mdp_shape():
    v.check_same_mdp_shape(np.zeros((4, 2, 1, 2)), np.zeros((1, 2, 1, 2)), "r1", "r2")
    with pytest.raises(ValidationError, match=r"r1 of shape \(4, 2, 1, 2\) and r2 of shape "
                                              r"\(3, 2, 1, 2\) have batch axes that do not"):
        v.check_same_mdp_shape(np.zeros((4, 2, 1, 2)), np.zeros((3, 2, 1, 2)), "r1", "r2")


@pytest.mark.parametrize("call", [
    lambda r, t: starc.policy_evaluation(r, t),
    lambda r, t: starc.q_values(r, t),
    lambda r, t: starc.optimal_policy(r, t),
    lambda r, t: starc.optimal_values(r, t),
    lambda r, t: starc.policy_return(r, t),
    lambda r, t: starc.occupancy(t),
    lambda r, t: starc.state_occupancy(t),
    lambda r, t: starc.state_action_occupancy(t),
    lambda r, t: starc.broadcast_reward(r, t),
    lambda r, t: starc.expected_reward(r, t),
    lambda r, t: starc.random_reward(t),
    lambda r, t: starc.random_potential_shaping(r, t),
    lambda r, t: starc.s_prime_redistribution(r, t),
    lambda r, t: starc.save_mdp("/tmp/never_written.npz", t),
])
def test_functions_require_a_tabular_mdp(call, toy_reward):
    """Passing the transition array where an MDP is expected names ``mdp``."""
    t = np.asarray(starc.TabularMDP(np.full((2, 2, 2), 0.5), 0.9).transition)
    with pytest.raises(ValidationError, match=r"mdp must be a starc.TabularMDP, got ndarray"):
        call(toy_reward, t)


def test_messages_are_single_sentences_without_tracebacks(toy_mdp):
    """Error messages carry the fix, not a chained numpy traceback."""
    with pytest.raises(ValidationError) as err:
        starc.policy_evaluation(np.zeros((2, 3)), toy_mdp)
    assert err.value.__cause__ is None
    assert re.search(r"expected \(\.\.\., 2, 2, 2\) or \(\.\.\., 2, 2\) or \(\.\.\., 2\)",
                     str(err.value))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_rewards_on_impossible_transitions_are_rejected(bad, garnet_mdp):
    """Evaluation checks finiteness on E_tau R; 0 * inf and 0 * NaN are NaN, so a bad entry
    where tau = 0 is still caught, with the usual message."""
    reward = np.zeros((3,) + garnet_mdp.shape)
    s, a, sp = np.argwhere(~garnet_mdp.support)[0]
    reward[1, s, a, sp] = bad
    for call in (lambda r: starc.policy_evaluation(r, garnet_mdp),
                 lambda r: starc.q_values(r, garnet_mdp, [0] * 7),
                 lambda r: starc.policy_return(r, garnet_mdp),
                 lambda r: starc.optimal_values(r[1], garnet_mdp),
                 lambda r: starc.optimal_policy(r[1], garnet_mdp)):
        with pytest.raises(ValidationError, match=r"reward contains 1 NaN or infinite value"):
            call(reward)


def test_reward_whose_expectation_overflows():
    """A convex combination of finite rewards cannot overflow, but a row sum of 1 + 5e-11
    (accepted) times the largest float can: refuse it rather than return inf."""
    t = np.full((2, 1, 2), 0.5)
    t[0, 0, 0] += 5e-11
    mdp = starc.TabularMDP(t, 0.5)
    huge = np.finfo(np.float64).max
    with pytest.raises(ValidationError, match=r"reward is finite but its expectation over s' "
                                              r"overflows float64"):
        starc.policy_evaluation([huge, 0.0], mdp)


@pytest.mark.parametrize("layout", ["asa_transposed", "ssa_transposed", "flat_rows",
                                    "batch_of_transposed"])
def test_mislaid_transition_reward_is_refused(layout, tmp_path):
    """Issue 14, item 4: an (S, A, S) reward in another layout is not read as a batch of
    state or state-action rewards; the error names the expected layout; save_mdp refuses
    it too; an explicit form= passes a genuine batch."""
    n, m = 5, 3
    mdp = starc.random_mdp(n, m, seed=0)
    r = starc.random_reward(mdp, seed=1)
    bad = {"asa_transposed": np.moveaxis(r, 1, 0),  # (A, S, S): was a (3, 5) batch
           "ssa_transposed": np.moveaxis(r, 1, 2),  # (S, S, A): was (5,) (S, A) rewards
           "flat_rows": r.reshape(n * m, n),        # (S*A, S)
           "batch_of_transposed": np.stack([np.moveaxis(r, 1, 0)] * 2)}[layout]
    expected = r"laid out as \(\.\.\., S, A, S\)"
    with pytest.raises(ValidationError, match=expected):
        starc.starc_distance(bad, r, mdp)
    with pytest.raises(ValidationError, match=expected):
        starc.canonicalize(bad, mdp)
    with pytest.raises(ValidationError, match=expected):
        starc.save_mdp(tmp_path / "m.npz", mdp, bad)
    assert not (tmp_path / "m.npz").exists()
    if layout != "ssa_transposed":  # an explicit form: a batch of state rewards
        batch = starc.broadcast_reward(bad, mdp, form="state")
        assert batch.shape == bad.shape[:-1] + mdp.shape
        d = starc.starc_distance(batch, r, mdp)
        assert np.shape(d) == bad.shape[:-1]


def test_single_lower_form_rewards_still_read_on_tiny_mdps():
    """One state (or state-action) reward has no batch axis to mistake."""
    mdp = starc.TabularMDP(np.ones((1, 1, 1)), 0.5)
    assert starc.broadcast_reward([2.0], mdp).shape == (1, 1, 1)
    mdp2 = starc.TabularMDP(np.ones((1, 3, 1)), 0.5)
    assert starc.broadcast_reward(np.ones((1, 3)), mdp2).shape == (1, 3, 1)


# ------------------------------------------------------------ extreme inputs (issue 14)


def test_check_positive_int_refuses_counts_beyond_any_array_index():
    assert v.check_positive_int(2**40, "n") == 2**40
    with pytest.raises(ValidationError, match=r"n must be an integer <= .*larger than any array"):
        v.check_positive_int(2**63, "n")
    with pytest.raises(ValidationError, match=r"n must be an integer <= 5"):
        v.check_positive_int(6, "n", maximum=5)


def test_check_policy_refuses_ragged_and_huge_entries_without_overflow(toy_mdp):
    import warnings

    S, A = toy_mdp.n_states, toy_mdp.n_actions
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValidationError, match=r"policy must be 'uniform' or a numeric"):
            v.check_policy([[1.0, 0.0], [1.0]], S, A)
        with pytest.raises(ValidationError, match=r"policy has the entry 1.7e\+308.*\[0, 1\]"):
            v.check_policy(np.full((S, A), 1.7e308), S, A)
        with pytest.raises(ValidationError, match=r"policy must be 'uniform', an int array"):
            v.check_policy(np.full((S, A), "a"), S, A)
        with pytest.raises(ValidationError, match=r"transition has the entry"):
            starc.TabularMDP(np.full((2, 1, 2), 1.7e308), 0.9)
