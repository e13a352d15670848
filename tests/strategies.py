"""Hypothesis strategies shared by the test suite.

Import from test files with ``from strategies import mdps, rewards, ...`` (``tests/`` is on
``sys.path`` through ``pythonpath`` in pyproject.toml's ``[tool.pytest.ini_options]``).

The strategies draw small sizes, a discount and a seed, and build the arrays with numpy
from that seed: examples stay cheap and reproducible, and Hypothesis still shrinks the
sizes and the discount. The MDPs are built here, not with :func:`starc.random_mdp`, so
tests of the library do not rely on the library's own generator.

MDP kinds
---------
``"dense"``
    Every transition possible (uniform random weights, normalised).
``"garnet"``
    Each ``(s, a)`` has between 1 and ``S`` successors; all other transitions are
    impossible (probability exactly 0), so rewards there are arbitrary.
``"deterministic"``
    One successor per ``(s, a)``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import starc

MDP_KINDS = ("dense", "garnet", "deterministic")

#: Relative tolerance for computed values against an independent reference.
#:
#: Values solve (I - gamma P_pi) V = r_pi by a backward-stable LU. The infinity-norm
#: condition number of that matrix is at most (1 + gamma) / (1 - gamma) and
#: ||V||_inf <= max|R| / (1 - gamma), so the forward error of a solve is of the order
#: S eps (1 + gamma) / (1 - gamma) relative to the value scale — below 3e-13 for the sizes
#: (S <= 8) and discounts (<= 0.99) drawn here. Tests compare at VALUE_RTOL times
#: :func:`value_scale`: far above that bound, far below any real error.
VALUE_RTOL = 1e-10

#: Discount of the two-state toy MDP of issue 2.
GAMMA_TOY = 0.9


def two_state_transition() -> np.ndarray:
    """Two states; action 0 stays, action 1 switches."""
    t = np.zeros((2, 2, 2))
    t[0, 0, 0] = t[1, 0, 1] = 1.0  # a0 stays
    t[0, 1, 1] = t[1, 1, 0] = 1.0  # a1 switches
    return t


def make_transition(rng: np.random.Generator, n_states: int, n_actions: int,
                    kind: str) -> np.ndarray:
    """An ``(S, A, S)`` row-stochastic array of the given kind, from ``rng``."""
    shape = (n_states, n_actions, n_states)
    if kind == "dense":
        w = rng.uniform(0.05, 1.0, size=shape)
    elif kind == "garnet":
        w = np.zeros(shape)
        for s in range(n_states):
            for a in range(n_actions):
                k = int(rng.integers(1, n_states + 1))
                succ = rng.choice(n_states, size=k, replace=False)
                w[s, a, succ] = rng.uniform(0.05, 1.0, size=k)
    elif kind == "deterministic":
        w = np.zeros(shape)
        nxt = rng.integers(n_states, size=(n_states, n_actions))
        w[np.arange(n_states)[:, None], np.arange(n_actions)[None, :], nxt] = 1.0
    else:  # pragma: no cover - programming error in a test
        raise ValueError(kind)
    return w / w.sum(axis=-1, keepdims=True)


def make_initial(rng: np.random.Generator, n_states: int, kind: str) -> np.ndarray | None:
    """``None`` (uniform), a random full-support distribution, or a point mass."""
    if kind == "uniform":
        return None
    if kind == "random":
        w = rng.uniform(0.05, 1.0, size=n_states)
        return w / w.sum()
    mu = np.zeros(n_states)
    mu[int(rng.integers(n_states))] = 1.0
    return mu


@st.composite
def mdps(draw, *, min_states: int = 1, max_states: int = 6, min_actions: int = 1,
         max_actions: int = 4, kinds=MDP_KINDS, max_gamma: float = 0.99,
         initial_kinds=("uniform", "random", "point")) -> starc.TabularMDP:
    """A small random :class:`starc.TabularMDP`."""
    n_states = draw(st.integers(min_states, max_states), label="n_states")
    n_actions = draw(st.integers(min_actions, max_actions), label="n_actions")
    kind = draw(st.sampled_from(kinds), label="kind")
    gamma = draw(st.one_of(st.just(0.0), st.floats(0.0, max_gamma),
                           st.just(max_gamma)), label="gamma")
    initial_kind = draw(st.sampled_from(initial_kinds), label="initial")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    t = make_transition(rng, n_states, n_actions, kind)
    return starc.TabularMDP(t, gamma, make_initial(rng, n_states, initial_kind))


def garnet_mdps(**kw) -> st.SearchStrategy[starc.TabularMDP]:
    """MDPs with impossible transitions (``"garnet"`` or ``"deterministic"`` kinds)."""
    return mdps(kinds=("garnet", "deterministic"), **kw)


@st.composite
def reward_arrays(draw, mdp: starc.TabularMDP, *, batch: tuple[int, ...] = (),
                  form: str = "transition") -> np.ndarray:
    """A reward on ``mdp`` with leading ``batch`` axes: ``"transition"`` ``(S, A, S)``,
    ``"state_action"`` ``(S, A)`` or ``"state"`` ``(S,)``; scale drawn over decades."""
    seed = draw(st.integers(0, 2**32 - 1), label="reward_seed")
    scale = draw(st.sampled_from([1e-3, 1.0, 10.0, 1e3]), label="reward_scale")
    tail = {"transition": mdp.shape, "state_action": mdp.shape[:2],
            "state": mdp.shape[:1]}[form]
    rng = np.random.default_rng(seed)
    return scale * rng.standard_normal(tuple(batch) + tail)


@st.composite
def mdp_and_reward(draw, *, batch: tuple[int, ...] = (), **mdp_kw):
    """``(mdp, reward)`` with a transition reward ``(*batch, S, A, S)``."""
    mdp = draw(mdps(**mdp_kw))
    return mdp, draw(reward_arrays(mdp, batch=batch))


@st.composite
def potentials(draw, n_states: int, *, batch: tuple[int, ...] = ()) -> np.ndarray:
    """A potential ``Phi`` of shape ``(*batch, S)``."""
    seed = draw(st.integers(0, 2**32 - 1), label="potential_seed")
    scale = draw(st.sampled_from([1e-2, 1.0, 100.0]), label="potential_scale")
    return scale * np.random.default_rng(seed).standard_normal(tuple(batch) + (n_states,))


@st.composite
def policies(draw, mdp: starc.TabularMDP, *, kinds=("uniform", "deterministic",
                                                     "stochastic")):
    """A policy in one of the accepted forms: ``"uniform"``, ``(S,)`` ints or ``(S, A)``."""
    kind = draw(st.sampled_from(kinds), label="policy_kind")
    if kind == "uniform":
        return "uniform"
    seed = draw(st.integers(0, 2**32 - 1), label="policy_seed")
    rng = np.random.default_rng(seed)
    if kind == "deterministic":
        return rng.integers(mdp.n_actions, size=mdp.n_states)
    w = rng.uniform(0.0, 1.0, size=(mdp.n_states, mdp.n_actions)) + 1e-3
    return w / w.sum(axis=-1, keepdims=True)


def policy_matrix(policy, mdp: starc.TabularMDP) -> np.ndarray:
    """``(S, A)`` probabilities of a policy in any accepted form (test-side conversion)."""
    n, m = mdp.n_states, mdp.n_actions
    if isinstance(policy, str):
        assert policy == "uniform"
        return np.full((n, m), 1.0 / m)
    policy = np.asarray(policy)
    if policy.ndim == 1:
        out = np.zeros((n, m))
        out[np.arange(n), policy] = 1.0
        return out
    return policy.astype(float)


def direct_values(reward: np.ndarray, mdp: starc.TabularMDP, policy) -> np.ndarray:
    """Reference V^pi for one ``(S, A, S)`` reward, by ``numpy.linalg.solve``."""
    pi = policy_matrix(policy, mdp)
    t = np.asarray(mdp.transition)
    p_pi = np.einsum("sa,sat->st", pi, t)
    r_pi = np.einsum("sa,sat,sat->s", pi, t, reward)
    return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * p_pi, r_pi)


def value_scale(reward, mdp: starc.TabularMDP, *extra) -> float:
    """``(1 + max|R| + max|extra|) / (1 - gamma)``: the size of any value involved."""
    m = float(np.max(np.abs(reward), initial=0.0))
    for x in extra:
        m += float(np.max(np.abs(x), initial=0.0))
    return (1.0 + m) / (1.0 - mdp.gamma)


def evaluation_system(n: int, gamma: float, seed: int, successors: int):
    """A random policy-evaluation system ``I - gamma P`` (row-stochastic ``P`` with
    ``successors`` random successors per row; sorted CSR with its diagonal stored) and a
    right-hand side ``b (n,)`` drawn after it from the same generator."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n, (n, successors))
    vals = rng.random((n, successors))
    vals /= vals.sum(axis=1, keepdims=True)
    p = sp.csr_array((vals.ravel(), (np.repeat(np.arange(n), successors), cols.ravel())),
                     shape=(n, n))
    m = sp.csr_array(sp.eye_array(n, format="csr") - gamma * p)
    m.sum_duplicates()
    m.sort_indices()
    return m, rng.standard_normal(n)
