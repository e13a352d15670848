r"""Gymnasium environments as :mod:`starc` MDPs, and Pendulum as a continuous task.

Toy-text environments
---------------------
Gymnasium's toy-text environments (FrozenLake, Taxi, CliffWalking) [1]_ publish their
full model in ``env.unwrapped.P``: ``P[s][a]`` is a list of
``(probability, next_state, reward, terminated)`` tuples. :func:`from_toy_text` turns it
into a :class:`~starc.TabularMDP` and a reward array:

.. math::

    \tau(s' \mid s, a) = \sum_{(p, s', r, t) \in P[s][a]} p, \qquad
    R(s, a, s') = \frac{\sum_{(p, s', r, t) \in P[s][a]} p\, r}{\tau(s' \mid s, a)}
    \quad (0 \text{ where } \tau(s' \mid s, a) = 0).

When several outcomes of :math:`(s, a)` lead to the same :math:`s'` with different
rewards (CliffWalking's cliff and step both return to the start when slippery), the
probability-weighted mean is kept: it leaves the expected reward
:math:`\bar R(s, a)`, hence every value and every STARC distance, unchanged
(an :math:`S'`-redistribution).

**Terminal states are made absorbing.** A state entered by a transition flagged
``terminated=True`` is *terminal*: its row is replaced by a self-loop
:math:`\tau(s \mid s, a) = 1` with reward 0 for every action. An episode that ends on
entering :math:`s_T` then has the same discounted return as the infinite-horizon
return in the absorbing MDP, so values, optimal policies and regrets agree with the
episodic task. (FrozenLake already encodes holes and the goal this way; Taxi and
CliffWalking do not.) If a state reachable from the initial distribution could also
enter a terminal state *without* the flag, absorbing it would change returns, and
:func:`from_toy_text` raises :class:`~starc.ValidationError`; this happens in none of the
toy-text environments (Taxi's unflagged entries come from states no episode reaches).
Rewards on unreachable states are kept as they are (see :mod:`starc.shaping`,
"Unreachable states"); there, values can differ from those of gymnasium's unused table
rows (Taxi's "passenger already delivered" states move into a terminal state without
the flag, which is absorbing here). The initial distribution is the environment's
``initial_state_distrib`` (uniform when it has none); one that is not a distribution over
the states (wrong length, a negative entry, a sum other than 1) is refused, never
repaired, and so is a next state that is not an integer index.

``from_toy_text(env, sparse=True)`` builds the same MDP as a sparse one (THEORY §11): the
transition as a CSR ``(S*A, S)`` matrix accumulated straight from ``P`` and the expected
reward :math:`\bar R(s, a)` of shape ``(S, A)``, without any ``(S, A, S)`` or ``(S, S)``
array — for toy-text-style tables of many states.

Pendulum
--------
:func:`pendulum_task` re-implements the dynamics and reward of gymnasium's
``Pendulum-v1`` [1]_ vectorized in numpy (no MuJoCo, no gymnasium needed), as samplers
for :mod:`starc.sampled`. The state is :math:`x = (\theta, \dot\theta)` with
:math:`\theta` wrapped to :math:`[-\pi, \pi)`, the action a torque
:math:`u \in [-2, 2]`; with :math:`g = 10`, :math:`m = l = 1`, :math:`\Delta t = 0.05`,

.. math::

    \dot\theta' = \operatorname{clip}\big(\dot\theta + (\tfrac{3g}{2l}\sin\theta
    + \tfrac{3}{ml^2} u)\Delta t, -8, 8\big), \qquad
    \theta' = \theta + \dot\theta' \Delta t, \qquad
    R(x, u, x') = -\big(\theta^2 + 0.1\,\dot\theta^2 + 0.001\,u^2\big).

References
----------
.. [1] Towers et al. "Gymnasium: A Standard Interface for Reinforcement Learning
   Environments". arXiv 2407.17032 (2024); ``gymnasium.envs.toy_text`` and
   ``gymnasium.envs.classic_control.pendulum``.
.. [2] Skalse et al. "STARC". ICLR 2024, Sec. 2 (the MDP) and Sec. 4.2 (continuous
   environments).
"""

from __future__ import annotations

import numbers
from typing import Callable, NamedTuple

import numpy as np

from .._rules import STOCHASTIC_ATOL
from .._validation import check_gamma, check_real
from ..envs import TabularEnvironment
from ..exceptions import ValidationError
from ..mdp import TabularMDP
from ._common import require

__all__ = ["from_toy_text", "terminal_states", "pendulum_task", "ContinuousTask",
           "require_gymnasium"]

INSTALL_HINT = 'install it with `pip install gymnasium` or `pip install "starc[gym]"`'


def require_gymnasium():
    """Import and return :mod:`gymnasium`, or raise :class:`~starc.MissingDependencyError`.

    Returns
    -------
    module
        The ``gymnasium`` module.

    Raises
    ------
    MissingDependencyError
        When gymnasium is not installed; the message gives the ``pip install`` line.

    References
    ----------
    .. [1] Towers et al. 2024, "Gymnasium", arXiv 2407.17032.

    Examples
    --------
    >>> from starc.adapters.gymnasium import require_gymnasium
    >>> require_gymnasium().__name__
    'gymnasium'
    """
    return require("gymnasium", "starc.adapters.gymnasium", INSTALL_HINT)


def _discrete_n(space, what: str) -> int:
    gym = require_gymnasium()
    if not isinstance(space, gym.spaces.Discrete):
        raise ValidationError(
            f"env.{what} must be a gymnasium.spaces.Discrete space for a tabular MDP, got "
            f"{space!r}; continuous environments are compared with starc.sampled instead")
    if int(space.start) != 0:
        raise ValidationError(f"env.{what} must start at 0, got Discrete(n={space.n}, "
                              f"start={space.start})")
    return int(space.n)


def _read_tables(env):
    """Validate ``env`` and return ``(unwrapped, P, S, A)``."""
    unwrapped = getattr(env, "unwrapped", env)
    n_states = _discrete_n(getattr(unwrapped, "observation_space", None), "observation_space")
    n_actions = _discrete_n(getattr(unwrapped, "action_space", None), "action_space")
    table = getattr(unwrapped, "P", None)
    if not isinstance(table, dict):
        raise ValidationError(f"env must expose its model as env.unwrapped.P (a dict "
                              f"P[s][a] = [(prob, next_state, reward, terminated), ...]) as "
                              f"gymnasium's toy-text environments do; "
                              f"{type(unwrapped).__name__} has none")
    return unwrapped, table, n_states, n_actions


def _outcomes(table, n_states: int, n_actions: int):
    """Every validated outcome of ``P`` in table order: ``(s, a, p, s2, r, terminated)``;
    zero-probability outcomes are skipped."""
    for s in range(n_states):
        row = table.get(s)
        if row is None:
            raise ValidationError(f"env.unwrapped.P has no entry for state {s}")
        for a in range(n_actions):
            outcomes = row.get(a)
            if outcomes is None:
                raise ValidationError(f"env.unwrapped.P[{s}] has no entry for action {a}")
            for item in outcomes:
                try:
                    p, s2_raw, r, done = item[:4]
                    p, s2, r = float(p), _state_index(s2_raw), float(r)
                except (TypeError, ValueError):
                    raise ValidationError(f"env.unwrapped.P[{s}][{a}] holds {item!r}; expected "
                                          "(prob, next_state, reward, terminated)") from None
                if s2 is None:
                    raise ValidationError(
                        f"env.unwrapped.P[{s}][{a}] holds {item!r}: next_state {s2_raw!r} is "
                        "not an integer state index")
                if not (0 <= s2 < n_states) or not np.isfinite(p) or p < 0 or \
                        not np.isfinite(r):
                    raise ValidationError(f"env.unwrapped.P[{s}][{a}] holds the invalid "
                                          f"outcome {item!r}")
                if p == 0.0:
                    continue
                yield s, a, p, s2, r, bool(done)


def _check_row_sums(sums: np.ndarray) -> None:
    if np.any(np.abs(sums - 1.0) > 1e-8):
        s, a = np.unravel_index(int(np.argmax(np.abs(sums - 1.0))), sums.shape)
        raise ValidationError(f"the probabilities of env.unwrapped.P[{s}][{a}] sum to "
                              f"{float(sums[s, a])!r}, not 1")


def _raw_model(env):
    """Transition, reward and terminal mask straight from ``P`` (no absorbing yet)."""
    unwrapped, table, n_states, n_actions = _read_tables(env)
    t = np.zeros((n_states, n_actions, n_states))
    pr = np.zeros((n_states, n_actions, n_states))
    entered_terminal = np.zeros(n_states, dtype=bool)
    entered_plain = np.zeros((n_states, n_states), dtype=bool)  # [s, s'] without the flag
    for s, a, p, s2, r, done in _outcomes(table, n_states, n_actions):
        t[s, a, s2] += p
        pr[s, a, s2] += p * r
        if done:
            entered_terminal[s2] = True
        else:
            entered_plain[s, s2] = True
    sums = t.sum(axis=-1)
    _check_row_sums(sums)
    t /= sums[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        reward = np.where(t > 0, pr / np.where(t > 0, t * sums[..., None], 1.0), 0.0)
    initial = getattr(unwrapped, "initial_state_distrib", None)
    if initial is not None:
        initial = _initial_distribution(initial, n_states)
    return t, reward, entered_terminal, entered_plain, initial


def _sparse_model(env, gamma: float) -> TabularEnvironment:
    """:func:`from_toy_text` with a sparse ``(S*A, S)`` transition and an ``(S, A)`` reward;
    never allocates an ``(S, A, S)`` or ``(S, S)`` array."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import breadth_first_order

    unwrapped, table, n_states, n_actions = _read_tables(env)
    prob: dict[tuple[int, int], float] = {}
    entered_terminal = np.zeros(n_states, dtype=bool)
    plain: set[tuple[int, int]] = set()                   # (s, s') entered without the flag
    pr_sa = np.zeros((n_states, n_actions))
    for s, a, p, s2, r, done in _outcomes(table, n_states, n_actions):
        key = (s * n_actions + a, s2)
        prob[key] = prob.get(key, 0.0) + p
        pr_sa[s, a] += p * r
        if done:
            entered_terminal[s2] = True
        else:
            plain.add((s, s2))
    rows = np.fromiter((k[0] for k in prob), dtype=np.int64, count=len(prob))
    cols = np.fromiter((k[1] for k in prob), dtype=np.int64, count=len(prob))
    vals = np.fromiter(prob.values(), dtype=np.float64, count=len(prob))
    t = sp.csr_array((vals, (rows, cols)), shape=(n_states * n_actions, n_states))
    sums = np.asarray(t.sum(axis=1)).reshape(n_states, n_actions)
    _check_row_sums(sums)
    initial = getattr(unwrapped, "initial_state_distrib", None)
    if initial is not None:
        initial = _initial_distribution(initial, n_states)
    terminal = entered_terminal
    # states reachable from the initial support without passing a terminal state
    succ = sp.csr_array((np.ones(len(rows)), (rows // n_actions, cols)),
                        shape=(n_states, n_states))
    succ = sp.diags_array((~terminal).astype(float)) @ succ   # terminal states: no exits
    sources = np.flatnonzero(initial > 0) if initial is not None else np.arange(n_states)
    hub = sp.csr_array((np.ones(len(sources)), (np.full(len(sources), n_states), sources)),
                       shape=(n_states + 1, n_states + 1))
    graph = sp.block_diag([succ, sp.csr_array((1, 1))], format="csr") + hub
    reach = np.zeros(n_states + 1, dtype=bool)
    reach[breadth_first_order(graph, n_states, directed=True, return_predecessors=False)] = True
    reach = reach[:n_states]
    for src, s2 in plain:
        if terminal[s2] and reach[src] and not terminal[src]:
            raise ValidationError(
                f"env: state {s2} is entered with terminated=True by some transitions but "
                f"without it from the reachable state {src}; making it absorbing would "
                "change returns, so this environment cannot be converted")
    # normalise, then make terminal states absorbing (self-loops, reward 0)
    t = sp.diags_array(1.0 / sums.reshape(-1)) @ t
    reward = pr_sa / sums
    idx = np.flatnonzero(terminal)
    live = ~np.repeat(terminal, n_actions)
    t = sp.diags_array(live.astype(float)) @ t
    loops = sp.csr_array((np.ones(len(idx) * n_actions),
                          ((idx[:, None] * n_actions + np.arange(n_actions)).reshape(-1),
                           np.repeat(idx, n_actions))),
                         shape=(n_states * n_actions, n_states))
    t = sp.csr_array(t + loops)
    t.eliminate_zeros()
    t.sum_duplicates()
    t.sort_indices()
    reward[terminal] = 0.0
    return TabularEnvironment(TabularMDP(t, gamma, initial), reward)


def _state_index(value) -> int | None:
    """``value`` as an int when it is an integer (``3``, ``np.int64(3)``, ``3.0``), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if not isinstance(value, numbers.Real):
        return None
    x = float(value)
    return int(x) if np.isfinite(x) and x == np.floor(x) else None


def _initial_distribution(initial, n_states: int) -> np.ndarray:
    """The environment's ``initial_state_distrib``, checked: a distribution over ``S``."""
    name = "env.unwrapped.initial_state_distrib"
    try:
        arr = np.asarray(initial, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{name} must be an array of {n_states} probabilities: "
                              f"{err}") from None
    if arr.shape != (n_states,):
        raise ValidationError(f"{name} must have shape ({n_states},) (one probability per "
                              f"state), got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = int(np.flatnonzero(~np.isfinite(arr) | (arr < 0))[0])
        raise ValidationError(f"{name} must hold non-negative probabilities; entry {bad} is "
                              f"{float(arr[bad])!r}")
    total = float(arr.sum())
    if abs(total - 1.0) > STOCHASTIC_ATOL:
        raise ValidationError(f"{name} must sum to 1 (within {STOCHASTIC_ATOL:g}), got "
                              f"{total!r}")
    return arr / total


def _reachable(t: np.ndarray, initial: np.ndarray | None, stop: np.ndarray) -> np.ndarray:
    """States reachable from the support of ``initial`` without passing a ``stop`` state."""
    n = t.shape[0]
    seen = np.zeros(n, dtype=bool)
    frontier = list(np.flatnonzero(initial > 0)) if initial is not None else list(range(n))
    seen[frontier] = True
    succ = (t > 0).any(axis=1)
    while frontier:
        s = frontier.pop()
        if stop[s]:
            continue
        for s2 in np.flatnonzero(succ[s] & ~seen):
            seen[s2] = True
            frontier.append(int(s2))
    return seen


def terminal_states(env) -> np.ndarray:
    r"""Boolean mask of the terminal states of a toy-text environment.

    A state is terminal when some transition of ``env.unwrapped.P`` enters it with
    ``terminated=True``.

    Parameters
    ----------
    env : gymnasium.Env
        A toy-text environment (``Discrete`` observation and action spaces and a ``P``
        table), wrapped or not.

    Returns
    -------
    ndarray of bool, shape (S,)

    Raises
    ------
    ValidationError
        When a space is not ``Discrete`` or ``env`` has no ``P`` table.

    References
    ----------
    .. [1] Towers et al. 2024, "Gymnasium", ``gymnasium.envs.toy_text``.

    Examples
    --------
    >>> import gymnasium as gym
    >>> from starc.adapters.gymnasium import terminal_states
    >>> terminal_states(gym.make("FrozenLake-v1")).nonzero()[0]
    array([ 5,  7, 11, 12, 15])
    """
    return _raw_model(env)[2]


def from_toy_text(env, *, gamma: float = 0.99, sparse: bool = False) -> TabularEnvironment:
    r"""Build a :class:`~starc.TabularMDP` and its reward from a toy-text environment.

    .. math::

        \tau(s' \mid s, a) = \sum_{(p, s', r, t) \in P[s][a]} p, \qquad
        R(s, a, s') = \mathbb E[r \mid s, a, s'],

    with terminal states made absorbing (self-loops with reward 0); see the module
    documentation for why this preserves every return.

    Parameters
    ----------
    env : gymnasium.Env
        FrozenLake, Taxi, CliffWalking or any environment with ``Discrete`` observation
        and action spaces and a ``P`` table on ``env.unwrapped``; wrappers are looked
        through.
    gamma : float, default 0.99
        Discount in ``[0, 1)`` (gymnasium environments carry none).
    sparse : bool, default False
        Build a sparse MDP (THEORY §11): the transition as a ``scipy.sparse`` CSR matrix
        of shape ``(S*A, S)`` (row ``s*A + a``) and the expected reward
        :math:`\bar R(s, a) = \sum_{s'} \tau(s' \mid s, a) R(s, a, s')` of shape
        ``(S, A)``; no ``(S, A, S)`` array is allocated. The same MDP as the dense one
        (transition equal to ``dense.transition.reshape(S*A, S)`` up to rounding).

    Returns
    -------
    TabularEnvironment
        ``(mdp, reward)``: the MDP (initial distribution from the environment's
        ``initial_state_distrib``) and the reward of shape ``(S, A, S)`` (``(S, A)`` when
        ``sparse``).

    Raises
    ------
    MissingDependencyError
        When gymnasium is not installed.
    ValidationError
        When a space is not ``Discrete`` (e.g. Pendulum's ``Box``), ``env`` has no ``P``
        table or a malformed one (a next state that is not an integer index,
        probabilities that do not sum to 1), ``initial_state_distrib`` is not a
        probability vector over the states, or a reachable state enters a terminal state
        without the ``terminated`` flag.

    References
    ----------
    .. [1] Towers et al. 2024, "Gymnasium", ``gymnasium.envs.toy_text``.
    .. [2] Skalse et al. 2024 ("STARC"), Sec. 2 (the MDP and :math:`J(\pi)`).

    Examples
    --------
    >>> import gymnasium as gym
    >>> from starc import optimal_values
    >>> from starc.adapters.gymnasium import from_toy_text
    >>> mdp, reward = from_toy_text(gym.make("FrozenLake-v1"), gamma=0.99)
    >>> mdp.n_states, mdp.n_actions, float(reward.max())
    (16, 4, 1.0)
    >>> round(float(optimal_values(reward, mdp)[0]), 3)  # P(reach the goal), discounted
    0.542
    """
    gamma = check_gamma(gamma)
    if not isinstance(sparse, (bool, np.bool_)):
        raise ValidationError(f"sparse must be True or False, got {sparse!r}")
    if sparse:
        return _sparse_model(env, gamma)
    t, reward, terminal, plain, initial = _raw_model(env)
    reach = _reachable(t, initial, terminal)
    leak = plain[:, terminal] & (reach & ~terminal)[:, None]
    if np.any(leak):
        src, col = np.argwhere(leak)[0]
        s2 = int(np.flatnonzero(terminal)[col])
        raise ValidationError(
            f"env: state {s2} is entered with terminated=True by some transitions but "
            f"without it from the reachable state {int(src)}; making it absorbing would "
            "change returns, so this environment cannot be converted")
    t[terminal] = 0.0
    idx = np.flatnonzero(terminal)
    t[idx, :, idx] = 1.0
    reward[terminal] = 0.0
    return TabularEnvironment(TabularMDP(t, gamma, initial), reward)


# --------------------------------------------------------------------------- pendulum


class ContinuousTask(NamedTuple):
    """A continuous-state task as the samplers of :mod:`starc.sampled`.

    Attributes
    ----------
    transition : callable
        ``transition(states (n, ...), actions (n, ...), rng) -> next_states (n, ...)``.
    reward : callable
        ``reward(states, actions, next_states) -> (n,)``: the task's own reward.
    coverage : callable
        ``coverage(n, rng) -> (states, actions, next_states)``: states and actions drawn
        from ``state_sampler`` / ``action_sampler``, next states from ``transition``.
    state_sampler : callable
        ``state_sampler(n, rng) -> states``.
    action_sampler : callable
        ``action_sampler(n, rng) -> actions``.
    gamma : float
        Discount.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.2 (continuous environments).

    Examples
    --------
    >>> from starc.adapters.gymnasium import pendulum_task
    >>> task = pendulum_task(gamma=0.9)
    >>> task.gamma, sorted(task._fields)[:2]
    (0.9, ['action_sampler', 'coverage'])
    """

    transition: Callable
    reward: Callable
    coverage: Callable
    state_sampler: Callable
    action_sampler: Callable
    gamma: float


def _angle_normalize(theta):
    """Wrap angles to ``[-pi, pi)`` (gymnasium's ``angle_normalize``)."""
    return ((theta + np.pi) % (2.0 * np.pi)) - np.pi


def pendulum_task(*, gamma: float = 0.95, g: float = 10.0) -> ContinuousTask:
    r"""Gymnasium's ``Pendulum-v1`` as vectorized numpy samplers.

    States are arrays of shape ``(n, 2)`` holding :math:`(\theta, \dot\theta)` with
    :math:`\theta \in [-\pi, \pi)` and :math:`\dot\theta \in [-8, 8]`; actions have shape
    ``(n, 1)`` (torque in :math:`[-2, 2]`). Dynamics and reward follow gymnasium's
    ``PendulumEnv.step`` exactly (see the module documentation); the pendulum is
    deterministic, so ``transition`` ignores its ``rng``. ``state_sampler`` and
    ``action_sampler`` are uniform on the boxes, and ``coverage`` draws
    :math:`(x, u)` from them with :math:`x'` from the dynamics.

    Parameters
    ----------
    gamma : float, default 0.95
        Discount of the task (gymnasium has none).
    g : float, default 10.0
        Gravity, as in ``gymnasium.make("Pendulum-v1", g=...)``.

    Returns
    -------
    ContinuousTask

    References
    ----------
    .. [1] Towers et al. 2024, "Gymnasium", ``gymnasium.envs.classic_control.pendulum``.
    .. [2] Skalse et al. 2024 ("STARC"), Sec. 4.2 and Table 1 (continuous rewards).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.adapters.gymnasium import pendulum_task
    >>> task = pendulum_task()
    >>> s, a, s2 = task.coverage(4, np.random.default_rng(0))
    >>> s.shape, a.shape, s2.shape, task.reward(s, a, s2).shape
    ((4, 2), (4, 1), (4, 2), (4,))
    >>> task.reward(np.zeros((1, 2)), np.zeros((1, 1)), np.zeros((1, 2)))
    array([-0.])
    """
    gamma = check_gamma(gamma)
    g = check_real(g, "g", low=0.0)
    max_speed, max_torque, dt, m, length = 8.0, 2.0, 0.05, 1.0, 1.0

    def transition(states, actions, rng=None):
        x = np.asarray(states, dtype=np.float64)
        u = np.clip(np.asarray(actions, dtype=np.float64)[:, 0], -max_torque, max_torque)
        th, thdot = x[:, 0], x[:, 1]
        newthdot = thdot + (3.0 * g / (2.0 * length) * np.sin(th)
                            + 3.0 / (m * length**2) * u) * dt
        newthdot = np.clip(newthdot, -max_speed, max_speed)
        newth = _angle_normalize(th + newthdot * dt)
        return np.stack([newth, newthdot], axis=1)

    def reward(states, actions, next_states=None):
        x = np.asarray(states, dtype=np.float64)
        u = np.clip(np.asarray(actions, dtype=np.float64)[:, 0], -max_torque, max_torque)
        return -(_angle_normalize(x[:, 0]) ** 2 + 0.1 * x[:, 1] ** 2 + 0.001 * u**2)

    def state_sampler(n, rng):
        return np.stack([rng.uniform(-np.pi, np.pi, n), rng.uniform(-max_speed, max_speed, n)],
                        axis=1)

    def action_sampler(n, rng):
        return rng.uniform(-max_torque, max_torque, (n, 1))

    def coverage(n, rng):
        s = state_sampler(n, rng)
        a = action_sampler(n, rng)
        return s, a, transition(s, a, rng)

    return ContinuousTask(transition, reward, coverage, state_sampler, action_sampler, gamma)
