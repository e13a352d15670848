"""starc.adapters.minigrid: MiniGrid levels enumerated into sparse MDPs.

Checked against MiniGrid itself: an independent breadth-first search over deep copies of
the real environment (its own ``step`` and ``hash``), and rollouts of the MDP's optimal
policy in the real environment (steps to the goal, MiniGrid's reward, the discounted
return).
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import numpy as np
import pytest

import starc
from starc.adapters.minigrid import MINIGRID_ACTIONS, from_minigrid
from starc.exceptions import MissingDependencyError, ValidationError

try:
    import gymnasium as gym
    import minigrid
    import minigrid.core.constants
except ImportError:  # the [minigrid] extra is not installed
    gym = minigrid = None

needs_minigrid = pytest.mark.skipif(minigrid is None, reason="needs minigrid")

GAMMA = 0.9
LEVELS = [("MiniGrid-Empty-5x5-v0", 0), ("MiniGrid-DoorKey-5x5-v0", 0),
          ("MiniGrid-DoorKey-5x5-v0", 3)]


def reference_states(env, seed):
    """Independent enumeration: BFS over deep copies of the real environment stepped by
    its own ``step`` (no state restoring, no incremental encoding), keyed by the full
    grid encoding, the agent's cell and direction and the carried object."""
    root = copy.deepcopy(env.unwrapped)
    root.reset(seed=seed)

    def key(e):
        carried = None if e.carrying is None else tuple(e.carrying.encode())
        return (e.grid.encode().tobytes(), tuple(int(v) for v in e.agent_pos),
                int(e.agent_dir), carried)

    seen = {key(root): root}
    edges = []   # (env before, action, env after or None, reward)
    frontier = [root]
    while frontier:
        e = frontier.pop()
        for a in range(e.action_space.n):
            f = copy.deepcopy(e)
            f.step_count = 0
            _, r, terminated, _, _ = f.step(a)
            if terminated:
                edges.append((e, a, None, r))
                continue
            k = key(f)
            if k not in seen:
                seen[k] = f
                frontier.append(f)
            edges.append((e, a, seen[k], r))
    return seen, edges


@needs_minigrid
@pytest.mark.parametrize("name, seed", LEVELS)
def test_states_and_transitions_match_an_independent_search(name, seed):
    env = gym.make(name)
    model = from_minigrid(env, gamma=GAMMA, seed=seed)
    seen, edges = reference_states(env, seed)
    mdp, reward = model
    n_actions = len(MINIGRID_ACTIONS)
    assert mdp.is_sparse and mdp.n_actions == n_actions
    assert model.n_states == len(seen) + 1 and model.terminal == len(seen)
    t = mdp.transition
    np.testing.assert_array_equal(t.sum(axis=1), 1.0)              # rows sum to 1
    assert t.nnz == model.n_states * n_actions                     # deterministic
    index = {k: model.state_index(e) for k, e in seen.items()}
    assert sorted(index.values()) == list(range(len(seen)))        # a bijection
    assert model.start == 0 and mdp.initial[0] == 1.0
    for e, a, f, r in edges:
        i = model.state_index(e)
        j = model.terminal if f is None else model.state_index(f)
        assert t.indices[t.indptr[i * n_actions + a]] == j
        assert reward[i, a] == (1.0 if r > 0 else 0.0)
    # the terminal state absorbs with reward 0
    rows = model.terminal * n_actions + np.arange(n_actions)
    np.testing.assert_array_equal(t.indices[t.indptr[rows]], model.terminal)
    assert np.all(reward[model.terminal] == 0.0)


@needs_minigrid
def test_empty_5x5_closed_form():
    """8 free cells x 4 directions + the terminal; from (1, 1) facing right the goal at
    (3, 3) is 5 steps away: V*(start) = gamma^4."""
    model = from_minigrid(gym.make("MiniGrid-Empty-5x5-v0"), gamma=GAMMA, seed=0)
    assert model.n_states == 33
    assert tuple(model.agent_pos[0]) == (1, 1) and model.agent_dir[0] == 0
    v = starc.optimal_values(model.reward, model.mdp)
    assert v[0] == pytest.approx(GAMMA**4, abs=1e-10)


@needs_minigrid
@pytest.mark.parametrize("name, seed", LEVELS)
def test_optimal_policy_reaches_the_goal_in_the_real_environment(name, seed):
    env = gym.make(name)
    model = from_minigrid(env, gamma=GAMMA, seed=seed)
    pi = starc.optimal_policy(model.reward, model.mdp)
    v_start = starc.optimal_values(model.reward, model.mdp)[model.start]
    assert starc.policy_return(model.reward, model.mdp, pi) == pytest.approx(v_start,
                                                                             abs=1e-9)
    steps_mdp = 1 + math.log(v_start) / math.log(GAMMA)    # V*(start) = gamma^(t - 1)
    assert steps_mdp == pytest.approx(round(steps_mdp), abs=1e-6)
    env.reset(seed=seed)
    u = env.unwrapped
    discounted, t = 0.0, 0
    while True:
        s = model.state_index(env)
        assert s != model.terminal
        _, r, terminated, truncated, _ = env.step(int(pi[s]))
        discounted += GAMMA**t * (1.0 if r > 0 else 0.0)
        t += 1
        if terminated or truncated:
            break
    assert terminated and not truncated and r > 0
    assert t == round(steps_mdp)
    assert r == pytest.approx(1 - 0.9 * t / u.max_steps)           # MiniGrid's reward
    assert discounted == pytest.approx(v_start, abs=1e-12)
    assert model.state_index(env) == model.terminal


@needs_minigrid
def test_doorkey_needs_the_key():
    """DoorKey: the optimal path picks up the key and toggles the door before the goal."""
    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    model = from_minigrid(env, gamma=GAMMA, seed=0)
    pi = starc.optimal_policy(model.reward, model.mdp)
    env.reset(seed=0)
    actions = []
    for _ in range(100):
        a = int(pi[model.state_index(env)])
        actions.append(MINIGRID_ACTIONS[a])
        if env.step(a)[2]:
            break
    assert "pickup" in actions and "toggle" in actions
    assert actions.index("pickup") < actions.index("toggle")
    # states with the key carried exist, and some have the door open
    key_idx = minigrid.core.constants.OBJECT_TO_IDX["key"]
    assert np.any(model.carrying[:, 0] == key_idx)


@needs_minigrid
def test_the_callers_environment_is_not_modified():
    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    env.reset(seed=1)
    before = env.unwrapped.hash()
    model = from_minigrid(env, gamma=GAMMA)      # seed None: the current layout
    assert env.unwrapped.hash() == before
    assert model.state_index(env) == model.start


@needs_minigrid
def test_refusals():
    with pytest.raises(ValidationError, match="must be a MiniGrid environment"):
        from_minigrid(gym.make("FrozenLake-v1"))
    with pytest.raises(ValidationError, match="overrides MiniGridEnv.step"):
        from_minigrid(gym.make("MiniGrid-Dynamic-Obstacles-5x5-v0"))
    with pytest.raises(ValidationError, match="max_states=10"):
        from_minigrid(gym.make("MiniGrid-DoorKey-5x5-v0"), seed=0, max_states=10)
    with pytest.raises(ValidationError, match="gamma"):
        from_minigrid(gym.make("MiniGrid-Empty-5x5-v0"), gamma=1.0)
    for seed in ("x", -1, True):
        with pytest.raises(ValidationError, match="seed must be a non-negative int"):
            from_minigrid(gym.make("MiniGrid-Empty-5x5-v0"), seed=seed)
    model = from_minigrid(gym.make("MiniGrid-Empty-5x5-v0"), seed=0)
    other = gym.make("MiniGrid-Empty-6x6-v0")
    other.reset(seed=0)
    with pytest.raises(ValidationError, match="does not have"):
        model.state_index(other)


def test_importing_the_adapter_does_not_import_minigrid():
    code = ("import sys, starc.adapters, starc.adapters.minigrid; "
            "print('minigrid' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False"]


def test_missing_minigrid_gives_the_pip_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "minigrid", None)   # makes `import minigrid` fail
    with pytest.raises(MissingDependencyError, match=r"starc\[minigrid\]") as err:
        from_minigrid(object())
    assert "pip install minigrid" in str(err.value) and isinstance(err.value, ImportError)
