"""Random MDP and reward generators, named environments, and ``.npz`` file I/O."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import starc
from starc import ValidationError
from starc.envs import (MDP_KINDS, REWARD_KINDS, SPARSE_AUTO_STATES, grid_transition,
                        starc_size_threshold)


def _assert_stochastic(t):
    assert np.all(t >= 0)
    np.testing.assert_allclose(t.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------- random_mdp


@pytest.mark.parametrize("kind", MDP_KINDS)
@pytest.mark.parametrize("n_states, n_actions", [(1, 1), (2, 3), (17, 4), (60, 2), (120, 2)])
def test_random_mdp_kinds_are_valid(kind, n_states, n_actions):
    mdp = starc.random_mdp(n_states, n_actions, gamma=0.8, seed=0, kind=kind,
                           n_successors=min(3, n_states))
    assert isinstance(mdp, starc.TabularMDP)
    assert mdp.shape == (n_states, n_actions, n_states) and mdp.gamma == 0.8
    _assert_stochastic(mdp.transition)
    np.testing.assert_allclose(mdp.initial, 1.0 / n_states)


def test_random_mdp_defaults():
    mdp = starc.random_mdp(32, 4, seed=0)
    assert mdp.gamma == 0.95
    # the default kind is the STARC paper's generator
    np.testing.assert_array_equal(mdp.transition,
                                  starc.random_mdp(32, 4, seed=0, kind="starc").transition)


def _starc_reference(n_states, n_actions, seed):
    """THEORY.md §6 / the authors' code: N(0,1) logits; <= thresh -> -20; softmax."""
    logits = np.random.default_rng(seed).standard_normal((n_states, n_actions, n_states))
    thresh = 1.0 if n_states < 50 else (1.5 if n_states < 100 else 1.8)
    z = np.where(logits <= thresh, -20.0, logits)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return logits, thresh, e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("n_states", [10, 49, 50, 99, 100, 130])
def test_starc_kind_reproduces_the_paper_thresholding(n_states):
    mdp = starc.random_mdp(n_states, 3, seed=n_states, kind="starc")
    logits, thresh, ref = _starc_reference(n_states, 3, n_states)
    assert starc_size_threshold(n_states, 1.0, 1.5, 1.8) == thresh
    np.testing.assert_allclose(mdp.transition, ref, rtol=1e-12, atol=1e-300)
    above = logits > thresh
    has_above = above.any(axis=-1)
    # rows with a logit above the threshold put almost all mass on those successors:
    # each thresholded entry has weight at most e^-20 / e^thresh relative to the best one
    mass_above = np.where(above, mdp.transition, 0.0).sum(axis=-1)
    assert np.all(mass_above[has_above] >= 1.0 - n_states * np.exp(-20.0 - thresh))
    # rows with none above are uniform
    np.testing.assert_allclose(mdp.transition[~has_above], 1.0 / n_states, rtol=1e-12)


def test_starc_kind_has_few_likely_successors():
    mdp = starc.random_mdp(32, 4, seed=3)
    likely = (mdp.transition > 1e-6).sum(axis=-1)
    # P(N(0,1) > 1) = 0.159: about 5 of 32 successors per row carry the mass
    assert 3.0 < likely.mean() < 8.0


def test_dirichlet_kind_concentration():
    dense = starc.random_mdp(10, 2, seed=0, kind="dirichlet", concentration=1e4)
    np.testing.assert_allclose(dense.transition, 0.1, atol=0.02)
    assert np.all(dense.transition > 0)
    sparse = starc.random_mdp(10, 2, seed=0, kind="dirichlet", concentration=1e-3)
    _assert_stochastic(sparse.transition)
    assert np.median(sparse.transition.max(axis=-1)) > 0.99  # nearly deterministic rows
    # so small that every gamma draw underflows to 0: rows fall back to one-hot
    tiny = starc.random_mdp(6, 2, seed=0, kind="dirichlet", concentration=1e-300)
    _assert_stochastic(tiny.transition)
    np.testing.assert_array_equal(tiny.transition.max(axis=-1), 1.0)


@pytest.mark.parametrize("k", [1, 2, 5, 7])
def test_garnet_rows_have_exactly_k_successors(k):
    mdp = starc.random_mdp(7, 3, seed=k, kind="garnet", n_successors=k)
    np.testing.assert_array_equal(np.count_nonzero(mdp.transition, axis=-1), k)
    _assert_stochastic(mdp.transition)
    assert not mdp.support.all() or k == 7


def test_random_mdp_determinism():
    for kind in MDP_KINDS:
        a = starc.random_mdp(9, 3, seed=123, kind=kind)
        b = starc.random_mdp(9, 3, seed=123, kind=kind)
        c = starc.random_mdp(9, 3, seed=124, kind=kind)
        np.testing.assert_array_equal(a.transition, b.transition)
        assert not np.array_equal(a.transition, c.transition)
    # a Generator is used as given, and advances
    g = np.random.default_rng(5)
    m1, m2 = starc.random_mdp(4, 2, seed=g), starc.random_mdp(4, 2, seed=g)
    assert not np.array_equal(m1.transition, m2.transition)
    np.testing.assert_array_equal(m1.transition, starc.random_mdp(4, 2, seed=5).transition)


def test_random_mdp_initial_and_gamma():
    mu = np.array([0.0, 0.25, 0.75])
    mdp = starc.random_mdp(3, 2, gamma=0.0, seed=0, initial=mu)
    np.testing.assert_array_equal(mdp.initial, mu)
    assert mdp.gamma == 0.0


@pytest.mark.parametrize("kwargs, pattern", [
    ({"n_states": 0, "n_actions": 2}, r"n_states must be an integer >= 1, got 0"),
    ({"n_states": 3.0, "n_actions": 2}, r"n_states must be an integer >= 1, got 3.0"),
    ({"n_states": 3, "n_actions": -1}, r"n_actions must be an integer >= 1, got -1"),
    ({"n_states": 3, "n_actions": True}, r"n_actions must be an integer"),
    ({"n_states": 3, "n_actions": 2, "gamma": 1.0}, r"gamma must lie in \[0, 1\)"),
    ({"n_states": 3, "n_actions": 2, "gamma": True}, r"gamma must be a real number"),
    ({"n_states": 3, "n_actions": 2, "kind": "uniform"},
     r"unknown kind 'uniform'; valid values are: 'starc', 'dirichlet', 'garnet'"),
    ({"n_states": 3, "n_actions": 2, "kind": "dirichlet", "concentration": 0.0},
     r"concentration must be > 0.0, got 0.0"),
    ({"n_states": 3, "n_actions": 2, "kind": "dirichlet", "concentration": float("nan")},
     r"concentration must be finite"),
    ({"n_states": 3, "n_actions": 2, "kind": "garnet", "n_successors": 4},
     r"n_successors must be <= n_states = 3, got 4"),
    ({"n_states": 3, "n_actions": 2, "kind": "garnet", "n_successors": 0},
     r"n_successors must be an integer >= 1, got 0"),
    ({"n_states": 3, "n_actions": 2, "initial": [0.5, 0.5]}, r"initial must have length 3"),
    ({"n_states": 3, "n_actions": 2, "seed": -3}, r"seed must be non-negative"),
])
def test_random_mdp_rejects(kwargs, pattern):
    with pytest.raises(ValidationError, match=pattern):
        starc.random_mdp(**kwargs)


def test_random_mdp_too_large_is_refused_before_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError) as err:
            starc.random_mdp(200_000, 8, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = str(err.value)
    need = 200_000 * 8 * 200_000 * 8 * 2  # float64 (S, A, S), and a temporary of that size
    assert "random_mdp" in msg and f"{need:,}" in msg and "bytes" in msg
    assert "(200000, 8, 200000)" in msg
    assert peak < 2**20  # nothing of that size was allocated first


# -------------------------------------------------------------------- random_reward


@pytest.mark.parametrize("kind", REWARD_KINDS)
@pytest.mark.parametrize("size, batch", [(None, ()), (1, (1,)), (5, (5,)), ((2, 3), (2, 3)),
                                         (0, (0,)), ((), ()), (np.int64(2), (2,))])
def test_random_reward_kinds_and_sizes(kind, size, batch, small_mdp):
    r = starc.random_reward(small_mdp, seed=0, kind=kind, size=size)
    assert r.shape == batch + small_mdp.shape and r.dtype == np.float64
    assert np.all(np.isfinite(r))


def test_random_reward_gaussian_statistics():
    mdp = starc.random_mdp(20, 5, seed=0)
    r = starc.random_reward(mdp, seed=1, size=10)
    assert abs(r.mean()) < 0.02 and abs(r.std() - 1.0) < 0.02  # 20,000 N(0, 1) draws
    np.testing.assert_array_equal(r, np.random.default_rng(1).standard_normal(r.shape))


def _starc_reward_reference(mdp, rng):
    """THEORY.md §6: N(0,1); p=0.2 sparsify; p=0.7 scale 10U; p=0.3 shift 10U; p=0.5 shape."""
    n = mdp.n_states
    r = rng.standard_normal(mdp.shape)
    if rng.uniform() < 0.2:
        r = np.where(r > (3.0 if n < 50 else 3.5 if n < 100 else 3.8), r, 0.0)
    if rng.uniform() < 0.7:
        r = r * (10 * rng.uniform())
    if rng.uniform() < 0.3:
        r = r + 10 * rng.uniform()
    if rng.uniform() < 0.5:
        phi = rng.standard_normal(n) * (10 * rng.uniform()) + rng.uniform()
        r = r + mdp.gamma * phi[None, None, :] - phi[:, None, None]
    return r


@pytest.mark.parametrize("n_states", [8, 60, 110])
def test_starc_reward_follows_the_paper_recipe(n_states):
    mdp = starc.random_mdp(n_states, 2, seed=0)
    rewards = starc.random_reward(mdp, seed=7, kind="starc", size=40)
    rng = np.random.default_rng(7)
    for i in range(40):
        np.testing.assert_allclose(rewards[i], _starc_reward_reference(mdp, rng), rtol=1e-13,
                                   atol=1e-13)


def test_starc_reward_applies_each_step_sometimes():
    mdp = starc.random_mdp(8, 2, seed=0)
    rewards = starc.random_reward(mdp, seed=0, kind="starc", size=300)
    zero_frac = (rewards == 0).mean(axis=(1, 2, 3))
    sparse = zero_frac > 0.9  # sparsified and neither shifted nor shaped: p = 0.2*0.7*0.5
    assert 0.02 < sparse.mean() < 0.15
    scale = rewards.std(axis=(1, 2, 3))
    assert scale.max() > 3.0 and scale.min() < 1.0  # scaled by 10 U(0, 1) sometimes


def test_random_reward_determinism_and_generators(small_mdp):
    for kind in REWARD_KINDS:
        a = starc.random_reward(small_mdp, seed=4, kind=kind, size=3)
        np.testing.assert_array_equal(a, starc.random_reward(small_mdp, seed=4, kind=kind,
                                                             size=3))
        assert not np.array_equal(a, starc.random_reward(small_mdp, seed=5, kind=kind, size=3))
    g = np.random.default_rng(0)
    assert not np.array_equal(starc.random_reward(small_mdp, seed=g),
                              starc.random_reward(small_mdp, seed=g))


@pytest.mark.parametrize("kwargs, pattern", [
    ({"kind": "uniform"}, r"unknown kind 'uniform'; valid values are: 'gaussian', 'starc'"),
    ({"size": -1}, r"size must be an integer >= 0, got -1"),
    ({"size": (2, -1)}, r"size must be an integer >= 0, got -1"),
    ({"size": 2.5}, r"size must be None, an int or a tuple of ints"),
    ({"size": (2, "a")}, r"size must be an integer"),
    ({"size": True}, r"size must be"),
    ({"seed": 1.5}, r"seed must be None"),
])
def test_random_reward_rejects(kwargs, pattern, small_mdp):
    with pytest.raises(ValidationError, match=pattern):
        starc.random_reward(small_mdp, **kwargs)


def test_random_reward_too_large_is_refused(monkeypatch, small_mdp):
    monkeypatch.setattr(starc._validation, "available_memory_bytes", lambda: 10**6)
    with pytest.raises(ValidationError, match=r"random_reward would need 8,640,000 bytes"):
        starc.random_reward(small_mdp, size=10_000)


# ------------------------------------------------------------------------ gridworld


def test_corridor_goes_right():
    g = 0.9
    mdp, reward = starc.gridworld(1, 4, gamma=g)  # goal: bottom-right corner = state 3
    assert mdp.n_states == 4 and mdp.n_actions == 4
    np.testing.assert_array_equal(mdp.initial, [1, 0, 0, 0])
    pi = starc.optimal_policy(reward, mdp)
    np.testing.assert_array_equal(pi[:3], 1)  # "right"
    assert starc.envs.GRID_ACTIONS[1] == "right"
    # V*(s) = gamma^(d - 1) with d the distance to the goal; the goal is absorbing, V = 0
    np.testing.assert_allclose(starc.optimal_values(reward, mdp), [g**2, g, 1.0, 0.0],
                               rtol=0, atol=1e-12)
    assert starc.policy_return(reward, mdp, pi) == pytest.approx(g**2, abs=1e-12)


def test_gridworld_layout_and_walls():
    mdp, reward = starc.gridworld(3, 3, walls=[(1, 1)], goal=(2, 2), gamma=0.9)
    # free cells in row-major order: (0,0) (0,1) (0,2) (1,0) (1,2) (2,0) (2,1) (2,2)
    assert mdp.n_states == 8
    up, right, down, left = range(4)
    t = mdp.transition
    assert t[1, down, 1] == 1.0  # (0,1) moving down hits the wall: stays
    assert t[3, right, 3] == 1.0  # (1,0) moving right hits the wall: stays
    assert t[0, up, 0] == 1.0 and t[0, left, 0] == 1.0  # off the grid: stays
    assert t[0, right, 1] == 1.0 and t[0, down, 3] == 1.0
    np.testing.assert_array_equal(t[7, :, 7], 1.0)  # the goal is absorbing
    assert reward[4, down, 7] == 1.0 and reward[6, right, 7] == 1.0
    assert np.all(reward[7] == 0.0)  # nothing paid inside the goal
    pi = starc.optimal_policy(reward, mdp)
    assert pi[4] == down and pi[6] == right and pi[2] == down and pi[5] == right
    assert pi[1] == right and pi[3] == down  # around the wall


def test_gridworld_slip_keeps_rows_stochastic():
    for slip in (0.0, 0.1, 0.5, 1.0):
        mdp, _ = starc.gridworld(3, 4, walls=[(1, 1), (0, 3)], slip=slip)
        _assert_stochastic(mdp.transition)
    mdp, _ = starc.gridworld(3, 3, slip=0.2)
    # from the centre (state 4) moving right: 0.8 right, 0.1 up, 0.1 down
    up_cell, right_cell, down_cell = 1, 5, 7
    assert mdp.transition[4, 1, right_cell] == pytest.approx(0.8)
    assert mdp.transition[4, 1, up_cell] == pytest.approx(0.1)
    assert mdp.transition[4, 1, down_cell] == pytest.approx(0.1)


def test_gridworld_slip_lowers_values():
    v0 = starc.optimal_values(*reversed(starc.gridworld(3, 3, slip=0.0)))
    v1 = starc.optimal_values(*reversed(starc.gridworld(3, 3, slip=0.4)))
    assert np.all(v1[:-1] < v0[:-1])


def test_gridworld_options():
    mdp, reward = starc.gridworld(2, 2, start=None, goal=(0, 0), goal_reward=5.0,
                                  step_reward=-1.0, gamma=0.5)
    np.testing.assert_allclose(mdp.initial, 0.25)
    assert mdp.gamma == 0.5
    assert reward[1, 3, 0] == 5.0 and reward[3, 0, 1] == -1.0 and np.all(reward[0] == 0)
    env = starc.gridworld(2, 2)
    assert isinstance(env, starc.TabularEnvironment)
    assert env.mdp is env[0] and env.reward is env[1]


@pytest.mark.parametrize("kwargs, pattern", [
    ({"height": 0}, r"height must be an integer >= 1"),
    ({"width": 2.5}, r"width must be an integer"),
    ({"slip": 1.5}, r"slip must be <= 1.0"),
    ({"slip": -0.1}, r"slip must be >= 0.0"),
    ({"gamma": 1.0}, r"gamma must lie in \[0, 1\)"),
    ({"goal": (5, 5)}, r"goal \(5, 5\) lies outside the 3 x 3 grid"),
    ({"goal": "corner"}, r"goal must be a \(row, col\) pair"),
    ({"walls": [(2, 2)]}, r"goal \(2, 2\) is a wall"),
    ({"walls": [(0, 0)]}, r"start \(0, 0\) is a wall"),
    ({"walls": [(9, 0)]}, r"walls entry \(9, 0\) lies outside"),
    ({"walls": [1, 2]}, r"walls entry must be a \(row, col\) pair"),
    ({"start": (-1, 0)}, r"start \(-1, 0\) lies outside"),
    ({"goal_reward": float("nan")}, r"goal_reward must be finite"),
    ({"step_reward": "x"}, r"step_reward must be a real number"),
])
def test_gridworld_rejects(kwargs, pattern):
    with pytest.raises(ValidationError, match=pattern):
        starc.gridworld(**{"height": 3, "width": 3, **kwargs})


# ---------------------------------------------------------------------------- chain


@pytest.mark.parametrize("n, gamma", [(2, 0.5), (5, 0.9), (5, 0.3), (8, 0.7), (10, 0.99)])
def test_chain_closed_form(n, gamma):
    """Without slip, V*(s) = max(gamma^(n-1-s) * right, gamma^s * left) / (1 - gamma)."""
    mdp, reward = starc.chain(n, gamma=gamma)
    s = np.arange(n)
    expected = np.maximum(gamma ** (n - 1 - s) * 1.0, gamma**s * 0.1) / (1 - gamma)
    np.testing.assert_allclose(starc.optimal_values(reward, mdp), expected, rtol=1e-12)
    pi = starc.optimal_policy(reward, mdp)
    goes_right = gamma ** (n - 1 - s) > gamma**s * 0.1
    np.testing.assert_array_equal(pi, goes_right.astype(int))


def test_chain_far_sighted_and_myopic():
    np.testing.assert_array_equal(starc.optimal_policy(*reversed(starc.chain(5, gamma=0.9))), 1)
    myopic = starc.optimal_policy(*reversed(starc.chain(5, gamma=0.3)))
    assert myopic[0] == 0 and myopic[-1] == 1


def test_chain_structure_and_slip():
    mdp, reward = starc.chain(4, slip=0.25, left_reward=0.5, right_reward=2.0)
    _assert_stochastic(mdp.transition)
    assert mdp.transition[1, 1, 2] == 0.75 and mdp.transition[1, 1, 0] == 0.25
    assert mdp.transition[0, 0, 0] == 0.75 and mdp.transition[0, 0, 1] == 0.25
    assert reward[0, 0, 0] == 0.5 and reward[3, 1, 3] == 2.0
    assert np.count_nonzero(reward) == 2
    np.testing.assert_array_equal(mdp.initial, [1, 0, 0, 0])


@pytest.mark.parametrize("kwargs, pattern", [
    ({"n_states": 1}, r"n_states must be an integer >= 2, got 1"),
    ({"slip": 2.0}, r"slip must be <= 1.0"),
    ({"gamma": -1}, r"gamma must lie in \[0, 1\)"),
    ({"left_reward": float("inf")}, r"left_reward must be finite"),
    ({"right_reward": None}, r"right_reward must be a real number"),
])
def test_chain_rejects(kwargs, pattern):
    with pytest.raises(ValidationError, match=pattern):
        starc.chain(**kwargs)


# ---------------------------------------------------------------------- save / load


def test_save_load_round_trip_without_reward(tmp_path, small_mdp):
    path = tmp_path / "m.npz"
    starc.save_mdp(path, small_mdp)
    mdp = starc.load_mdp(path)
    np.testing.assert_array_equal(mdp.transition, small_mdp.transition)
    np.testing.assert_array_equal(mdp.initial, small_mdp.initial)
    assert mdp.gamma == small_mdp.gamma
    with pytest.raises(ValidationError, match=r"has no 'reward' key"):
        starc.load_mdp(path, with_reward=True)


@pytest.mark.parametrize("reward_shape", [(6, 3, 6), (6, 3), (6,), (2, 6, 3, 6)])
def test_save_load_round_trip_with_reward(tmp_path, small_mdp, reward_shape):
    reward = np.random.default_rng(0).standard_normal(reward_shape)
    path = str(tmp_path / "m.npz")
    starc.save_mdp(path, small_mdp, reward)
    mdp, r = starc.load_mdp(path, with_reward=True)
    np.testing.assert_array_equal(r, starc.broadcast_reward(reward, small_mdp))
    np.testing.assert_array_equal(mdp.transition, small_mdp.transition)
    assert starc.load_mdp(path).gamma == 0.8  # the reward is optional on loading


def test_save_appends_npz_suffix(tmp_path, toy_mdp):
    starc.save_mdp(tmp_path / "plain", toy_mdp)
    assert (tmp_path / "plain.npz").exists()
    assert starc.load_mdp(tmp_path / "plain.npz").n_states == 2
    # the name it was saved under loads it back, as a str or a Path
    assert starc.load_mdp(tmp_path / "plain").n_states == 2
    assert starc.load_mdp(str(tmp_path / "plain")).n_states == 2
    with pytest.raises(starc.ValidationError, match="does not exist"):
        starc.load_mdp(tmp_path / "other")


def test_load_without_initial_defaults_to_uniform(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, transition=np.full((3, 1, 3), 1 / 3), gamma=0.5)
    mdp = starc.load_mdp(path)
    np.testing.assert_allclose(mdp.initial, 1 / 3)


def test_load_rejects_a_pickled_npz(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, transition=np.array([object()], dtype=object), gamma=0.9)
    with pytest.raises(ValidationError, match=r"path .*evil.npz' holds pickled data, which starc "
                                              r"never loads"):
        starc.load_mdp(path)


class _Boom:
    """Unpickling this would run code; load_mdp must never get that far."""

    def __reduce__(self):
        return (pytest.fail, ("load_mdp unpickled a file",))


def test_load_rejects_a_raw_pickle(tmp_path):
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ValidationError, match=r"path .*evil.npz' holds pickled data"):
        starc.load_mdp(path)


def test_load_rejects_missing_keys(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, transition=np.full((2, 1, 2), 0.5))
    with pytest.raises(ValidationError, match=r"path .* lacks the key\(s\) \['gamma'\]; an MDP "
                                              r"file needs \['transition', 'gamma'\]"):
        starc.load_mdp(path)
    np.savez(path, T=np.full((2, 1, 2), 0.5), discount=0.9)
    with pytest.raises(ValidationError, match=r"lacks the key\(s\) \['transition', 'gamma'\]"):
        starc.load_mdp(path)


def test_load_rejects_missing_and_malformed_files(tmp_path):
    with pytest.raises(ValidationError, match=r"path .*nowhere.npz' does not exist"):
        starc.load_mdp(tmp_path / "nowhere.npz")
    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    with pytest.raises(ValidationError, match=r"path .*text.npz'"):
        starc.load_mdp(text)
    npy = tmp_path / "single.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValidationError, match=r"holds a single .npy array, not an .npz archive"):
        starc.load_mdp(npy)
    with pytest.raises(ValidationError, match=r"path must be a str or os.PathLike, got int"):
        starc.load_mdp(3)
    with pytest.raises(ValidationError, match=r"path must be a str or os.PathLike, got NoneType"):
        starc.save_mdp(None, starc.TabularMDP(np.full((2, 1, 2), 0.5), 0.5))


def test_load_validates_the_arrays(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, transition=np.full((2, 1, 2), 0.6), gamma=0.9)
    with pytest.raises(ValidationError, match=r"transition must sum to 1"):
        starc.load_mdp(path)
    np.savez(path, transition=np.full((2, 1, 2), 0.5), gamma=[0.9, 0.8])
    with pytest.raises(ValidationError, match=r"gamma in .* must be a scalar, got shape \(2,\)"):
        starc.load_mdp(path)
    np.savez(path, transition=np.full((2, 1, 2), 0.5), gamma=1.5)
    with pytest.raises(ValidationError, match=r"gamma must lie in \[0, 1\)"):
        starc.load_mdp(path)
    np.savez(path, transition=np.full((2, 1, 2), 0.5), gamma=0.5, initial=[1.0, 1.0])
    with pytest.raises(ValidationError, match=r"initial must sum to 1"):
        starc.load_mdp(path)
    np.savez(path, transition=np.full((2, 1, 2), 0.5), gamma=0.5, reward=np.zeros(3))
    with pytest.raises(ValidationError, match=r"reward \(in file\) has shape \(3,\)"):
        starc.load_mdp(path, with_reward=True)
    np.savez(path, transition=np.full((2, 1, 2), 0.5), gamma=0.5, reward=[np.nan, 0.0])
    with pytest.raises(ValidationError, match=r"reward \(in file\) contains 1 NaN"):
        starc.load_mdp(path, with_reward=True)


def test_save_rejects_bad_rewards(tmp_path, toy_mdp):
    with pytest.raises(ValidationError, match=r"reward has shape \(3,\)"):
        starc.save_mdp(tmp_path / "m.npz", toy_mdp, np.zeros(3))
    assert not (tmp_path / "m.npz").exists()


# ------------------------------------------------------------ bad inputs (issue 14)


def test_absurd_sizes_are_refused_before_any_allocation():
    import time

    t0 = time.perf_counter()
    for call in (lambda: starc.gridworld(2**40, 2**40), lambda: starc.gridworld(2**63, 2),
                 lambda: starc.chain(2**62), lambda: starc.chain(2**63)):
        with pytest.raises(starc.ValidationError, match=r"(would need|must be an integer <=)"):
            call()
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("args", [(None, 1.0, 2.0, 3.0), ("5", 1.0, 2.0, 3.0),
                                  (np.array([5, 6]), 1.0, 2.0, 3.0), (5, float("nan"), 2.0, 3.0),
                                  (5, 1.0, 2.0, float("inf")), (0, 1.0, 2.0, 3.0)])
def test_starc_size_threshold_refuses_bad_arguments(args):
    from starc.envs import starc_size_threshold

    with pytest.raises(starc.ValidationError):
        starc_size_threshold(*args)


def test_starc_size_threshold_classes():
    from starc.envs import starc_size_threshold

    assert [starc_size_threshold(n, 1.0, 1.5, 1.8) for n in (1, 49, 50, 99, 100)] == \
        [1.0, 1.0, 1.5, 1.5, 1.8]


def test_tabular_environment_validates_and_broadcasts():
    mdp, reward = starc.chain(4)
    env = starc.TabularEnvironment(mdp, np.arange(4.0))
    np.testing.assert_array_equal(env.reward, starc.broadcast_reward(np.arange(4.0), mdp))
    assert env.mdp is mdp and env._fields == ("mdp", "reward")
    m2, r2 = env
    assert m2 is mdp
    for bad_mdp, bad_reward, match in ((None, reward, "mdp must be"),
                                       (mdp, np.full(mdp.shape, np.nan), "NaN or infinite"),
                                       (mdp, np.ones((2, 4, 2, 4)), "one reward")):
        with pytest.raises(starc.ValidationError, match=match):
            starc.TabularEnvironment(bad_mdp, bad_reward)


@pytest.mark.parametrize("kwargs, match", [
    (dict(walls=None), "walls must be an iterable"), (dict(walls=3), "walls must be an iterable"),
    (dict(goal=(1.5, 2.7)), "pair of integers"), (dict(start=(True, False)), "pair of integers"),
    (dict(goal=(float("nan"), 1)), "pair"), (dict(walls=[(1,)]), "pair")])
def test_gridworld_refuses_malformed_cells(kwargs, match):
    with pytest.raises(starc.ValidationError, match=match):
        starc.gridworld(3, 3, **kwargs)


def test_gridworld_accepts_integer_valued_cells_and_arrays():
    a = starc.gridworld(3, 3, walls=np.array([[1, 1]]), goal=np.array([2, 2]))
    b = starc.gridworld(3, 3, walls=[(1.0, 1.0)], goal=(2.0, 2.0))
    np.testing.assert_array_equal(a.mdp.transition, b.mdp.transition)


def test_dirichlet_of_huge_concentration_is_uniform_without_overflow():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mdp = starc.random_mdp(3, 2, kind="dirichlet", concentration=1e308, seed=0)
    np.testing.assert_allclose(mdp.transition, 1.0 / 3.0, rtol=1e-12)


# ------------------------------------------------------------ sparse grid worlds, maze


def _free_mask(height, width, walls):
    free = np.ones((height, width), dtype=bool)
    for r, c in walls:
        free[r, c] = False
    return free


def _assert_matches_dense(height, width, walls, goal, start, slip):
    """grid_transition == the dense gridworld, entry for entry (independent loop code)."""
    dense = starc.gridworld(height, width, walls=walls, goal=goal, start=start, slip=slip,
                            goal_reward=2.5, step_reward=-0.25, sparse=False)
    t, r, mu = grid_transition(_free_mask(height, width, walls), goal, slip=slip,
                               start=start, goal_reward=2.5, step_reward=-0.25)
    s = dense.mdp.n_states
    assert t.shape == (s * 4, s)
    np.testing.assert_array_equal(t.toarray(), dense.mdp.transition.reshape(s * 4, s))
    assert t.has_canonical_format and np.all(t.data > 0)
    np.testing.assert_allclose(t.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(r, starc.expected_reward(dense.reward, dense.mdp),
                               rtol=0, atol=1e-14)
    np.testing.assert_array_equal(mu, dense.mdp.initial)


@pytest.mark.parametrize("height, width, walls, goal, start, slip", [
    (3, 3, [(1, 1)], (2, 2), (0, 0), 0.1),
    (1, 4, [], (0, 3), (0, 0), 0.0),
    (4, 5, [(0, 1), (2, 2), (3, 1)], (3, 4), (0, 0), 0.3),
    (3, 3, [], (0, 0), None, 1.0),        # slip 1: never the intended move
    (1, 1, [], (0, 0), (0, 0), 0.2),      # a single absorbing cell
    (5, 1, [(2, 0)], (4, 0), (0, 0), 0.7),  # a corridor cut in two
    (2, 6, [(0, 2), (1, 4)], (0, 5), (1, 0), 0.5),
])
def test_grid_transition_equals_the_dense_gridworld(height, width, walls, goal, start, slip):
    _assert_matches_dense(height, width, walls, goal, start, slip)


@given(st.integers(1, 6), st.integers(1, 6), st.data(),
       st.sampled_from([0.0, 0.1, 1.0 / 3.0, 0.5, 0.9, 1.0]))
def test_grid_transition_equals_the_dense_gridworld_on_random_layouts(height, width, data,
                                                                     slip):
    cells = [(r, c) for r in range(height) for c in range(width)]
    goal = data.draw(st.sampled_from(cells), label="goal")
    rest = [c for c in cells if c != goal]
    walls = data.draw(st.lists(st.sampled_from(rest), unique=True, max_size=len(rest)),
                      label="walls") if rest else []
    free = [c for c in cells if c not in walls]
    start = data.draw(st.one_of(st.none(), st.sampled_from(free)), label="start")
    _assert_matches_dense(height, width, walls, goal, start, slip)


def test_grid_transition_is_linear_in_the_grid_and_never_dense():
    """200 x 200 (S = 40,000; a dense transition would take 51 GB): at most 3 successors a
    row, and peak memory a few hundred bytes per state."""
    n_side = 200
    s = n_side * n_side
    tracemalloc.start()
    try:
        t, r, mu = grid_transition(np.ones((n_side, n_side), dtype=bool),
                                   (n_side - 1, n_side - 1), slip=0.1, start=(0, 0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert t.shape == (4 * s, s) and r.shape == (s, 4) and mu.shape == (s,)
    assert np.diff(t.indptr).max() == 3 and np.diff(t.indptr).min() == 1
    # interior cells keep all three outcomes apart: 4 actions * 3 successors
    assert t.nnz > 4 * 3 * (n_side - 2) ** 2
    np.testing.assert_allclose(t.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert peak < 600 * s, f"peak {peak} bytes for {s} states"
    # an interior cell (row 100, col 100) moving right: 0.9 right, 0.05 down, 0.05 up
    cell = 100 * n_side + 100
    row = t[[cell * 4 + 1]].toarray()[0]
    assert row[cell + 1] == 0.9 and row[cell + n_side] == 0.05 and row[cell - n_side] == 0.05


@pytest.mark.parametrize("kwargs, pattern", [
    ({"free": np.ones((2, 2), dtype=int)}, "free must be a 2-d boolean mask"),
    ({"free": np.ones(4, dtype=bool)}, "free must be a 2-d boolean mask"),
    ({"goal": (0, 0)}, r"goal \(0, 0\) is not a free cell"),
    ({"start": (0, 0)}, r"start \(0, 0\) is not a free cell"),
    ({"goal": (3, 0)}, "lies outside"),
    ({"slip": 2.0}, "slip must be <= 1.0"),
    ({"goal_reward": float("inf")}, "goal_reward must be finite"),
])
def test_grid_transition_rejects(kwargs, pattern):
    free = np.array([[False, True], [True, True]])
    args = {"free": free, "goal": (1, 1), **kwargs}
    with pytest.raises(ValidationError, match=pattern):
        grid_transition(args.pop("free"), args.pop("goal"), **args)


def test_gridworld_accepts_a_wall_mask():
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 1] = mask[0, 3] = True
    a = starc.gridworld(3, 4, walls=mask, slip=0.2)
    b = starc.gridworld(3, 4, walls=[(1, 1), (0, 3)], slip=0.2)
    np.testing.assert_array_equal(a.mdp.transition, b.mdp.transition)
    with pytest.raises(ValidationError, match=r"mask must have shape \(3, 4\)"):
        starc.gridworld(3, 4, walls=np.zeros((4, 3), dtype=bool))
    with pytest.raises(ValidationError, match="sparse must be True, False or None"):
        starc.gridworld(3, 4, sparse="yes")


def test_dense_gridworld_too_large_points_to_sparse():
    with pytest.raises(ValidationError, match="sparse=True"):
        starc.gridworld(1000, 1000, sparse=False)


def _components(free):
    """Connected components of the free cells (4-neighbourhood), and the edge count."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    index = -np.ones(free.shape, dtype=int)
    index[free] = np.arange(free.sum())
    right = free[:, :-1] & free[:, 1:]
    down = free[:-1, :] & free[1:, :]
    src = np.concatenate([index[:, :-1][right], index[:-1, :][down]])
    dst = np.concatenate([index[:, 1:][right], index[1:, :][down]])
    n = int(free.sum())
    graph = sp.coo_array((np.ones(len(src)), (src, dst)), shape=(n, n))
    return connected_components(graph, directed=False)[0], len(src)


@pytest.mark.parametrize("height, width", [(1, 1), (1, 7), (7, 1), (7, 7), (8, 9), (21, 31)])
@pytest.mark.parametrize("seed", [0, 1])
def test_perfect_maze_is_a_spanning_tree(height, width, seed, monkeypatch):
    captured = {}
    real = starc.envs.gridworld

    def spy(*args, **kwargs):
        captured["walls"] = kwargs["walls"]
        captured["goal"] = kwargs["goal"]
        return real(*args, **kwargs)

    monkeypatch.setattr(starc.envs, "gridworld", spy)
    mdp, reward = starc.envs.maze(height, width, seed=seed, sparse=False)
    free = ~captured["walls"]
    n_cells = ((height + 1) // 2) * ((width + 1) // 2)
    assert free[::2, ::2].all() and free.sum() == mdp.n_states == 2 * n_cells - 1
    n_comp, n_edges = _components(free)
    assert n_comp == 1 and n_edges == mdp.n_states - 1       # connected and acyclic
    rows, cols = np.nonzero(free)
    assert captured["goal"] == (rows[-1], cols[-1]) and mdp.initial[0] == 1.0
    if mdp.n_states > 1:   # the goal is reachable: its value is positive at the start
        assert starc.optimal_values(reward, mdp)[0] > 0


@pytest.mark.parametrize("height, width, room_size", [(11, 11, 5), (20, 13, 4), (6, 6, 5),
                                                      (3, 30, 2), (40, 40, 1)])
def test_rooms_maze_is_connected_with_one_door_per_wall(height, width, room_size,
                                                        monkeypatch):
    captured = {}
    real = starc.envs.gridworld
    monkeypatch.setattr(starc.envs, "gridworld", lambda *a, **k: (
        captured.update(k), real(*a, **k))[1])
    env = starc.envs.maze(height, width, layout="rooms", room_size=room_size, seed=3,
                          sparse=False)
    wall = captured["walls"]
    step = room_size + 1
    lines_r = np.arange(room_size, height - 1, step)
    lines_c = np.arange(room_size, width - 1, step)
    bands_r, bands_c = len(range(0, height, step)), len(range(0, width, step))
    n_doors = len(lines_c) * bands_r + len(lines_r) * bands_c
    full = np.zeros_like(wall)
    full[lines_r, :] = True
    full[:, lines_c] = True
    assert np.all(wall <= full) and int((full & ~wall).sum()) == n_doors
    assert env.mdp.n_states == int((~wall).sum())
    assert _components(~wall)[0] == 1


def test_maze_is_seeded_and_validated():
    a = starc.envs.maze(15, 15, seed=7, sparse=False)
    b = starc.envs.maze(15, 15, seed=np.random.default_rng(7), sparse=False)
    c = starc.envs.maze(15, 15, seed=8, sparse=False)
    np.testing.assert_array_equal(a.mdp.transition, b.mdp.transition)
    assert a.mdp.n_states == c.mdp.n_states   # same cell count, different passages
    assert not np.array_equal(a.mdp.transition, c.mdp.transition)
    for kwargs, pattern in (({"layout": "spiral"}, "unknown layout .spiral."),
                            ({"room_size": 0}, "room_size must be an integer >= 1"),
                            ({"height": -1}, "height must be an integer >= 1"),
                            ({"seed": "x"}, "seed")):
        with pytest.raises(ValidationError, match=pattern):
            starc.envs.maze(**{"height": 9, "width": 9, **kwargs})


@pytest.mark.parametrize("layout", ["perfect", "rooms"])
def test_sparse_maze_equals_dense_maze(layout):
    dense = starc.envs.maze(13, 17, layout=layout, room_size=3, seed=5, slip=0.2,
                            sparse=False)
    sparse = starc.envs.maze(13, 17, layout=layout, room_size=3, seed=5, slip=0.2,
                             sparse=True)
    s = dense.mdp.n_states
    assert sparse.mdp.is_sparse and not dense.mdp.is_sparse
    np.testing.assert_array_equal(sparse.mdp.transition.toarray(),
                                  dense.mdp.transition.reshape(s * 4, s))
    np.testing.assert_allclose(sparse.reward, starc.expected_reward(dense.reward, dense.mdp),
                               rtol=0, atol=1e-14)


def test_gridworld_sparse_switch():
    small = starc.gridworld(3, 3, slip=0.1)
    assert not small.mdp.is_sparse and small.reward.shape == (9, 4, 9)
    sp_env = starc.gridworld(3, 3, slip=0.1, sparse=True)
    assert sp_env.mdp.is_sparse and sp_env.reward.shape == (9, 4)
    np.testing.assert_array_equal(sp_env.mdp.transition.toarray(),
                                  small.mdp.transition.reshape(36, 9))
    np.testing.assert_allclose(starc.optimal_values(sp_env.reward, sp_env.mdp),
                               starc.optimal_values(small.reward, small.mdp), atol=1e-9)
    side = int(np.ceil(np.sqrt(SPARSE_AUTO_STATES + 1)))
    auto = starc.gridworld(side, side)           # above the threshold: sparse by default
    assert auto.mdp.is_sparse and auto.mdp.n_states == side * side


def test_sparse_gridworld_end_to_end_stays_linear_in_memory():
    """gridworld(300, 300, sparse=True): S = 90,000 (a dense transition: 259 GB); building,
    validating and wrapping it peaks at well under a kilobyte per state."""
    side = 300
    tracemalloc.start()
    try:
        env = starc.gridworld(side, side, slip=0.1, sparse=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    s = side * side
    assert env.mdp.is_sparse and env.mdp.n_states == s and env.reward.shape == (s, 4)
    assert peak < 1000 * s, f"peak {peak} bytes for {s} states"
    np.testing.assert_allclose(env.mdp.transition.sum(axis=1), 1.0, rtol=0, atol=1e-15)
# ------------------------------------------------------- sparse MDP files (issue 18)


def _sparse_mdp():
    import scipy.sparse as sp

    rng = np.random.default_rng(7)
    t = rng.random((6, 2, 6)) * (rng.random((6, 2, 6)) < 0.4)
    t[:, :, 0] += 0.1
    t /= t.sum(-1, keepdims=True)
    init = rng.random(6)
    return starc.TabularMDP(sp.csr_array(t.reshape(12, 6)), 0.8, init / init.sum())


def test_save_load_sparse_round_trip_is_bit_exact(tmp_path):
    import zipfile

    import scipy.sparse as sp

    mdp = _sparse_mdp()
    path = tmp_path / "sparse.npz"
    starc.save_mdp(path, mdp)
    with zipfile.ZipFile(path) as zf:  # plain arrays, no full (S, A, S) tensor
        assert sorted(zf.namelist()) == sorted(
            ["gamma.npy", "initial.npy", "transition_data.npy", "transition_indices.npy",
             "transition_indptr.npy", "transition_shape.npy"])
    back = starc.load_mdp(path)
    assert back.is_sparse and isinstance(back.transition, sp.csr_array)
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(back.transition, part),
                                      getattr(mdp.transition, part))
    assert back.transition.data.tobytes() == mdp.transition.data.tobytes()
    assert back.gamma == mdp.gamma and back.shape == mdp.shape
    assert back.initial.tobytes() == mdp.initial.tobytes()


@pytest.mark.parametrize("kind", ["state_action", "state", "sparse"])
def test_save_load_sparse_with_reward(tmp_path, kind):
    import scipy.sparse as sp

    mdp = _sparse_mdp()
    rng = np.random.default_rng(1)
    if kind == "state_action":
        reward = rng.standard_normal((6, 2))
    elif kind == "state":
        reward = rng.standard_normal(6)
    else:
        reward = sp.csr_array(mdp.transition.multiply(rng.standard_normal((12, 6))))
    starc.save_mdp(tmp_path / "r.npz", mdp, reward)
    back, got = starc.load_mdp(tmp_path / "r.npz", with_reward=True)
    if kind == "sparse":
        assert sp.issparse(got) and (got != reward).nnz == 0
    else:
        np.testing.assert_array_equal(got, reward)
    np.testing.assert_array_equal(starc.expected_reward(got, back),
                                  starc.expected_reward(reward, mdp))


def test_load_rejects_malformed_sparse_files(tmp_path):
    mdp = _sparse_mdp()
    path = tmp_path / "s.npz"
    starc.save_mdp(path, mdp)
    arrays = dict(np.load(path))
    bad = dict(arrays, transition_indices=arrays["transition_indices"] + 100)
    np.savez(tmp_path / "idx.npz", **bad)
    with pytest.raises(ValidationError, match="sparse transition .* malformed"):
        starc.load_mdp(tmp_path / "idx.npz")
    bad = dict(arrays)
    del bad["transition_indptr"]
    np.savez(tmp_path / "miss.npz", **bad)
    with pytest.raises(ValidationError, match="transition_indptr"):
        starc.load_mdp(tmp_path / "miss.npz")
    bad = dict(arrays, transition_data=-arrays["transition_data"])
    np.savez(tmp_path / "neg.npz", **bad)
    with pytest.raises(ValidationError, match="negative"):
        starc.load_mdp(tmp_path / "neg.npz")
    bad = dict(arrays, transition_shape=np.array([12.0, 6.0]))
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(ValidationError, match="transition_shape"):
        starc.load_mdp(tmp_path / "shape.npz")
    with pytest.raises(ValidationError, match="no 'reward'"):
        starc.load_mdp(path, with_reward=True)
