"""starc.adapters.gymnasium: toy-text environments as tabular MDPs; Pendulum's model."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import starc  # noqa: E402
from starc.adapters.gymnasium import (from_toy_text, pendulum_task,  # noqa: E402
                                      terminal_states)
from starc.exceptions import ValidationError  # noqa: E402

GAMMA = 0.99


def plain_value_iteration(env, gamma, tol=1e-13):
    """Value iteration on gymnasium's own tables, episodic: no bootstrap after termination."""
    u = env.unwrapped
    n_states, n_actions = u.observation_space.n, u.action_space.n
    rows, probs, nexts, rewards, dones = [], [], [], [], []
    for s in range(n_states):
        for a in range(n_actions):
            for p, s2, r, t in u.P[s][a]:
                rows.append(s * n_actions + a)
                probs.append(p)
                nexts.append(s2)
                rewards.append(r)
                dones.append(float(t))
    rows, probs, nexts = np.array(rows), np.array(probs), np.array(nexts)
    rewards, dones = np.array(rewards, dtype=float), np.array(dones)
    v = np.zeros(n_states)
    for _ in range(100_000):
        target = probs * (rewards + gamma * (1.0 - dones) * v[nexts])
        q = np.bincount(rows, weights=target, minlength=n_states * n_actions)
        new = q.reshape(n_states, n_actions).max(axis=1)
        if np.max(np.abs(new - v)) < tol:
            return new
        v = new
    raise AssertionError("value iteration did not converge")


def episode_states(env):
    """States some episode visits before it terminates (BFS on gymnasium's tables)."""
    u = env.unwrapped
    seen = set(np.flatnonzero(u.initial_state_distrib > 0).tolist())
    frontier = list(seen)
    while frontier:
        s = frontier.pop()
        for a in range(u.action_space.n):
            for p, s2, _, t in u.P[s][a]:
                if p > 0 and not t and s2 not in seen:
                    seen.add(s2)
                    frontier.append(s2)
    mask = np.zeros(u.observation_space.n, dtype=bool)
    mask[sorted(seen)] = True
    return mask


ENVS = [("FrozenLake-v1", {}), ("FrozenLake-v1", {"map_name": "8x8"}),
        ("FrozenLake-v1", {"is_slippery": False}), ("CliffWalking-v1", {}),
        ("Taxi-v4", {})]


def make(name, kw):
    try:
        return gym.make(name, **kw)
    except gym.error.Error as err:  # an older or newer gymnasium names versions differently
        pytest.skip(f"{name} not available in this gymnasium: {err}")


@pytest.mark.parametrize("name,kw", ENVS, ids=lambda x: str(x) if x else "")
def test_optimal_values_match_plain_value_iteration(name, kw):
    env = make(name, kw)
    mdp, reward = from_toy_text(env, gamma=GAMMA)
    v_starc = starc.optimal_values(reward, mdp)
    v_plain = plain_value_iteration(env, GAMMA)
    # Compare where episodes go: terminal states are absorbing (value 0) here while
    # gymnasium keeps unused rows for them, and Taxi's "delivered" states are never
    # visited (their unflagged moves into the terminal states differ).
    live = episode_states(env) & ~terminal_states(env)
    assert live.sum() >= 0.5 * mdp.n_states
    np.testing.assert_allclose(v_starc[live], v_plain[live], rtol=0, atol=1e-8)
    if name.startswith("FrozenLake"):  # FrozenLake already makes its terminals absorbing
        np.testing.assert_allclose(v_starc, v_plain, rtol=0, atol=1e-8)


def test_frozen_lake_model():
    env = gym.make("FrozenLake-v1")
    mdp, reward = from_toy_text(env, gamma=0.9)
    assert (mdp.n_states, mdp.n_actions, mdp.gamma) == (16, 4, 0.9)
    np.testing.assert_array_equal(mdp.initial, np.eye(16)[0])
    np.testing.assert_array_equal(np.flatnonzero(terminal_states(env)), [5, 7, 11, 12, 15])
    for t in (5, 7, 11, 12, 15):
        np.testing.assert_array_equal(mdp.transition[t, :, t], 1.0)
        np.testing.assert_array_equal(reward[t], 0.0)
    # slippery: 1/3 intended, 1/3 each side; reward 1 only on entering the goal
    np.testing.assert_allclose(mdp.transition[14, 2, [10, 14, 15]], [1 / 3, 1 / 3, 1 / 3])
    assert reward[14, 2, 15] == 1.0 and reward.sum() == reward[:, :, 15].sum()


def test_frozen_lake_against_a_potential_shaped_reward_has_distance_zero():
    mdp, reward = from_toy_text(gym.make("FrozenLake-v1"), gamma=GAMMA)
    phi = np.random.default_rng(0).normal(scale=5.0, size=mdp.n_states)
    shaped = starc.potential_shaping(reward, phi, mdp.gamma)
    assert starc.starc_distance(reward, shaped, mdp) == pytest.approx(0.0, abs=1e-10)
    assert starc.epic_distance(reward, shaped, mdp) == pytest.approx(0.0, abs=1e-7)
    assert starc.dard_distance(reward, shaped, mdp) == pytest.approx(0.0, abs=1e-7)
    assert starc.is_equivalent(reward, shaped, mdp)
    assert starc.starc_distance(reward, -reward, mdp) == pytest.approx(2.0)


def test_cliff_walking_goal_is_absorbing_and_rewards_are_expected_values():
    env = gym.make("CliffWalking-v1")
    mdp, reward = from_toy_text(env, gamma=0.9)
    goal = 47
    assert np.flatnonzero(terminal_states(env)).tolist() == [goal]
    np.testing.assert_array_equal(mdp.transition[goal, :, goal], 1.0)
    rbar = starc.expected_reward(reward, mdp)
    u = env.unwrapped
    for s in range(mdp.n_states):
        if s == goal:
            continue
        for a in range(mdp.n_actions):
            assert rbar[s, a] == pytest.approx(sum(p * r for p, _, r, _ in u.P[s][a]))


def test_non_discrete_spaces_are_refused():
    with pytest.raises(ValidationError, match="env.observation_space must be a gymnasium"):
        from_toy_text(gym.make("Pendulum-v1"))
    with pytest.raises(ValidationError, match="env.observation_space must be"):
        from_toy_text(gym.make("MountainCar-v0"))

    class DiscreteObsBoxAction(gym.Env):
        observation_space = gym.spaces.Discrete(3)
        action_space = gym.spaces.Box(-1.0, 1.0, (1,))

    with pytest.raises(ValidationError, match="env.action_space must be a gymnasium"):
        from_toy_text(DiscreteObsBoxAction())
    with pytest.raises(ValidationError, match="env.action_space"):
        terminal_states(DiscreteObsBoxAction())


class TableEnv(gym.Env):
    """A minimal env with a hand-written P table."""

    def __init__(self, table, n_states=2, n_actions=1, start=0):
        self.observation_space = gym.spaces.Discrete(n_states, start=start)
        self.action_space = gym.spaces.Discrete(n_actions)
        self.P = table


def test_bad_tables_are_refused():
    with pytest.raises(ValidationError, match=r"env\.unwrapped\.P"):
        from_toy_text(TableEnv(None))
    with pytest.raises(ValidationError, match=r"P\[0\]\[0\] sum to 0.5"):
        from_toy_text(TableEnv({0: {0: [(0.5, 1, 0.0, False)]}, 1: {0: [(1.0, 1, 0.0, False)]}}))
    with pytest.raises(ValidationError, match="no entry for state 1"):
        from_toy_text(TableEnv({0: {0: [(1.0, 1, 0.0, False)]}}))
    with pytest.raises(ValidationError, match="invalid outcome"):
        from_toy_text(TableEnv({0: {0: [(1.0, 7, 0.0, False)]}, 1: {0: [(1.0, 1, 0.0, False)]}}))
    with pytest.raises(ValidationError, match="must start at 0"):
        from_toy_text(TableEnv({}, start=1))
    with pytest.raises(ValidationError, match="gamma"):
        from_toy_text(gym.make("FrozenLake-v1"), gamma=1.0)


def test_malformed_initial_distribution_and_next_states_are_refused_not_repaired():
    table = {0: {0: [(1.0, 1, 0.0, False)]}, 1: {0: [(1.0, 0, 1.0, False)]}}
    for bad, match in (([1.5, -0.5], "entry 1 is -0.5"), ([0.2, 0.3], "sum to 1"),
                       ([1.0, 0.0, 0.0], r"shape \(2,\)"), ([np.nan, 1.0], "entry 0 is nan"),
                       (["a", "b"], "array of 2 probabilities")):
        env = TableEnv(table)
        env.initial_state_distrib = bad
        with pytest.raises(ValidationError, match="initial_state_distrib.*" + match):
            from_toy_text(env)
    for s2 in (1.7, np.float64(0.5), True, "1", float("nan")):
        env = TableEnv({0: {0: [(1.0, s2, 0.0, False)]}, 1: {0: [(1.0, 0, 1.0, False)]}})
        with pytest.raises(ValidationError, match=r"P\[0\]\[0\]"):
            from_toy_text(env)
    # what is well formed is taken as it is: integral next states of any integer type, and
    # a distribution summing to 1 up to round-off
    env = TableEnv({0: {0: [(1.0, np.int64(1), 0.0, False)]}, 1: {0: [(1.0, 0.0, 1.0, False)]}})
    env.initial_state_distrib = np.array([0.1, 0.9])
    mdp, reward = from_toy_text(env)
    np.testing.assert_array_equal(mdp.initial, [0.1, 0.9])
    np.testing.assert_array_equal(mdp.transition[:, 0], [[0.0, 1.0], [1.0, 0.0]])
    assert reward[1, 0, 0] == 1.0


def test_a_reachable_unflagged_entry_into_a_terminal_state_is_refused():
    # 0 -a0-> 2 (terminated), 0 -a1-> 1, 1 -a0/a1-> 2 without the flag: 2 cannot absorb.
    table = {0: {0: [(1.0, 2, 1.0, True)], 1: [(1.0, 1, 0.0, False)]},
             1: {0: [(1.0, 2, 0.0, False)], 1: [(1.0, 2, 0.0, False)]},
             2: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 0, 0.0, False)]}}
    env = TableEnv(table, n_states=3, n_actions=2)
    with pytest.raises(ValidationError, match="state 2 is entered with terminated=True"):
        from_toy_text(env)


def test_pendulum_task_matches_gymnasium_step():
    env = gym.make("Pendulum-v1").unwrapped
    env.reset(seed=0)
    task = pendulum_task(gamma=0.9)
    rng = np.random.default_rng(0)
    states = task.state_sampler(200, rng)
    actions = rng.uniform(-2.5, 2.5, (200, 1))  # beyond the bounds: both clip
    nxt = task.transition(states, actions, rng)
    rew = task.reward(states, actions, nxt)
    for i in range(200):
        env.state = states[i].copy()
        obs, r, terminated, truncated, _ = env.step(actions[i].astype(np.float32))
        np.testing.assert_allclose(obs, [np.cos(nxt[i, 0]), np.sin(nxt[i, 0]), nxt[i, 1]],
                                   atol=1e-5)
        assert r == pytest.approx(rew[i], abs=1e-5)
        assert not terminated and not truncated
    assert np.all((-np.pi <= nxt[:, 0]) & (nxt[:, 0] < np.pi))
    s, a, s2 = task.coverage(5, rng)
    np.testing.assert_array_equal(task.transition(s, a, None), s2)




@pytest.mark.parametrize("name,kw", ENVS + [("CliffWalking-v1", {"is_slippery": True})],
                         ids=lambda x: str(x) if x else "")
def test_sparse_toy_text_is_the_dense_model(name, kw):
    env = make(name, kw)
    dense_mdp, dense_reward = from_toy_text(env, gamma=0.9)
    mdp, reward = from_toy_text(env, gamma=0.9, sparse=True)
    s, a = dense_mdp.n_states, dense_mdp.n_actions
    assert mdp.is_sparse and mdp.shape == dense_mdp.shape and reward.shape == (s, a)
    np.testing.assert_allclose(mdp.transition.toarray(),
                               dense_mdp.transition.reshape(s * a, s), rtol=0, atol=1e-15)
    np.testing.assert_allclose(reward, starc.expected_reward(dense_reward, dense_mdp),
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mdp.initial, dense_mdp.initial)
    np.testing.assert_allclose(starc.optimal_values(reward, mdp),
                               starc.optimal_values(dense_reward, dense_mdp),
                               rtol=0, atol=1e-8)


def test_sparse_toy_text_refuses_what_the_dense_one_refuses():
    table = {0: {0: [(1.0, 2, 1.0, True)], 1: [(1.0, 1, 0.0, False)]},
             1: {0: [(1.0, 2, 0.0, False)], 1: [(1.0, 2, 0.0, False)]},
             2: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 0, 0.0, False)]}}
    with pytest.raises(ValidationError, match="state 2 is entered with terminated=True"):
        from_toy_text(TableEnv(table, n_states=3, n_actions=2), sparse=True)
    bad = {0: {0: [(0.5, 1, 0.0, False)]}, 1: {0: [(1.0, 1, 0.0, False)]}}
    with pytest.raises(ValidationError, match="sum to 0.5"):
        from_toy_text(TableEnv(bad), sparse=True)
    with pytest.raises(ValidationError, match="sparse must be True or False"):
        from_toy_text(gym.make("FrozenLake-v1"), sparse="yes")
