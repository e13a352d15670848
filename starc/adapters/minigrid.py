r"""MiniGrid levels as sparse tabular MDPs: every reachable state, enumerated exactly.

A MiniGrid level [1]_ is fully determined, at each step, by the agent's cell and direction
(right, down, left, up), the grid (walls, doors with their open / closed / locked state,
keys and balls where they lie, goal, lava) and the object the agent carries. The built-in
dynamics of :meth:`minigrid.minigrid_env.MiniGridEnv.step` are deterministic: ``left`` and
``right`` turn, ``forward`` moves onto an empty or overlappable cell, ``pickup`` takes the
object in front when the hands are empty, ``drop`` puts the carried object on an empty cell
in front, ``toggle`` opens or closes a door (unlocking a locked one with the key of its
colour), ``done`` does nothing. :func:`from_minigrid` enumerates the states reachable from
the level's start state by breadth-first search over these dynamics — it restores each
state in a private copy of the environment and calls the environment's own ``step`` for
every action — and returns the sparse MDP of THEORY §11:

.. math::

    \tau(s' \mid s, a) = [s' = \operatorname{step}(s, a)], \qquad
    R(s, a) = \text{the reward of that step},

a CSR matrix of shape ``(S*A, S)`` with one entry per row, and an ``(S, A)`` reward.

Time and the reward
-------------------
MiniGrid pays :math:`1 - 0.9\,t / T_{\max}` on reaching the goal at step :math:`t`
(``max_steps`` :math:`= T_{\max}`), 0 otherwise, and ends the episode (``terminated``);
it also truncates at :math:`T_{\max}` steps. The step count is not part of a tabular
state, so the MDP takes MiniGrid's reward *at step 0*: :math:`R = 1` on every transition
that reaches the goal (0 on lava and everywhere else), with the episode's end made an
absorbing state of reward 0 (every terminating transition leads to one state
:math:`s_\top`), and no truncation (infinite horizon, discount :math:`\gamma`). A policy
that reaches the goal after :math:`t` steps has the discounted return [2]_

.. math::

    J_{\text{MDP}} = \gamma^{t-1}, \qquad
    J_{\text{MiniGrid}} = 1 - 0.9\, t / T_{\max} \quad (t \le T_{\max}),

both decreasing in :math:`t`: on a deterministic level the two rank the goal-reaching
behaviours from the start state the same way (fewer steps is better), so the MDP's
optimal policy reaches the goal in the fewest steps, as MiniGrid's does. Returns
themselves differ (:math:`\gamma^{t-1}` against :math:`1 - 0.9t/T_{\max}`); compare rewards
on this MDP, and read MiniGrid's return from the step count,
:math:`t = 1 + \log J_{\text{MDP}} / \log \gamma`.

Scope
-----
Levels that use MiniGrid's own ``step`` (Empty, DoorKey, FourRooms, MultiRoom, LavaGap,
SimpleCrossing, LavaCrossing, DistShift, LockedRoom, ...) and objects whose encoding
determines them (wall, floor, door, key, ball, goal, lava). Levels that override ``step``
(their dynamics may read attributes outside the grid, or draw random numbers, as
DynamicObstacles does) and boxes (their content is hidden from the encoding) are refused
with :class:`~starc.ValidationError`. The partial-view observation is never computed: the
state is the full grid.

References
----------
.. [1] Chevalier-Boisvert et al. "Minigrid & Miniworld: Modular & Customizable
   Reinforcement Learning Environments for Goal-Oriented Tasks". NeurIPS 2023 Datasets and
   Benchmarks; ``minigrid.minigrid_env.MiniGridEnv.step``.
.. [2] Skalse et al. "STARC". ICLR 2024, Sec. 2 (the MDP and :math:`J(\pi)`).
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .._validation import check_gamma, check_positive_int
from ..exceptions import MissingDependencyError, ValidationError
from ..mdp import TabularMDP

__all__ = ["from_minigrid", "MiniGridModel", "require_minigrid", "MINIGRID_ACTIONS"]

INSTALL_HINT = 'install it with `pip install minigrid` or `pip install "starc[minigrid]"`'
#: MiniGrid's actions, in the order of its ``Actions`` enum (the MDP's action indices).
MINIGRID_ACTIONS = ("left", "right", "forward", "pickup", "drop", "toggle", "done")
#: Object types whose 3-number encoding determines them (a box hides its content).
_SUPPORTED = frozenset({"empty", "wall", "floor", "door", "key", "ball", "goal", "lava"})
#: Actions that may change the grid (pickup, drop, toggle; the others move or turn only).
_MUTATING = frozenset({3, 4, 5})


def require_minigrid():
    """Import and return :mod:`minigrid`, or raise :class:`~starc.MissingDependencyError`.

    Returns
    -------
    module
        The ``minigrid`` module.

    Raises
    ------
    MissingDependencyError
        When minigrid is not installed; the message gives the ``pip install`` line.

    References
    ----------
    .. [1] Chevalier-Boisvert et al. 2023, "Minigrid & Miniworld".

    Examples
    --------
    >>> from starc.adapters.minigrid import require_minigrid
    >>> require_minigrid().__name__
    'minigrid'
    """
    try:
        import minigrid
        import minigrid.minigrid_env
    except ImportError as err:
        raise MissingDependencyError(
            f"starc.adapters.minigrid needs minigrid, which is not installed ({err}); "
            f"{INSTALL_HINT}") from None
    return minigrid


@dataclass(frozen=True, eq=False)
class MiniGridModel:
    r"""A MiniGrid level as a sparse MDP, with the description of every state.

    Unpacks as ``mdp, reward`` (like :class:`~starc.TabularEnvironment`).

    Attributes
    ----------
    mdp : TabularMDP
        Sparse: transition ``(S*A, S)`` CSR with one entry 1 per row; initial distribution
        one-hot on :attr:`start`.
    reward : ndarray of shape (S, A)
        1 on the transitions that reach the goal, 0 elsewhere (see the module
        documentation for the step-count factor).
    agent_pos : ndarray of int, shape (S, 2)
        The agent's ``(x, y)`` cell; ``(-1, -1)`` for the terminal state.
    agent_dir : ndarray of int, shape (S,)
        0 right, 1 down, 2 left, 3 up; -1 for the terminal state.
    grid : ndarray of uint8, shape (S, width, height, 3)
        MiniGrid's encoding of the grid (object, colour, state) in each state.
    carrying : ndarray of uint8, shape (S, 3)
        The encoding of the carried object; zeros when the hands are empty.
    start : int
        The index of the level's start state (0).
    terminal : int or None
        The index of the absorbing state every terminating step leads to; ``None`` when
        no reachable step terminates.

    Examples
    --------
    See :func:`from_minigrid`.
    """

    mdp: TabularMDP
    reward: np.ndarray
    agent_pos: np.ndarray
    agent_dir: np.ndarray
    grid: np.ndarray
    carrying: np.ndarray
    start: int
    terminal: int | None
    _index: dict = field(repr=False)

    def __iter__(self):
        return iter((self.mdp, self.reward))

    @property
    def n_states(self) -> int:
        """:math:`|S|`, the reachable states and the terminal one."""
        return self.mdp.n_states

    def state_index(self, env) -> int:
        """The MDP state of a MiniGrid environment's current state.

        Parameters
        ----------
        env : minigrid.minigrid_env.MiniGridEnv
            The level this model was built from (wrapped or not), in any state an episode
            reaches; an agent standing on the goal or on lava is in :attr:`terminal`.

        Returns
        -------
        int

        Raises
        ------
        ValidationError
            When the state is not one of this model's (another level or layout).
        """
        u = getattr(env, "unwrapped", env)
        cell = u.grid.get(*u.agent_pos)
        if cell is not None and cell.type in ("goal", "lava") and self.terminal is not None:
            return self.terminal
        key = _state_key(u, u.grid.encode().tobytes())
        try:
            return self._index[key]
        except KeyError:
            raise ValidationError("env is in a state this MiniGridModel does not have (a "
                                  "different level or layout?)") from None


def _state_key(u, grid_bytes: bytes) -> tuple:
    carry = u.carrying.encode() if u.carrying is not None else (0, 0, 0)
    x, y = (int(v) for v in u.agent_pos)
    return (x, y, int(u.agent_dir), grid_bytes, tuple(int(v) for v in carry))


def from_minigrid(env, *, gamma: float = 0.99, seed: int | None = None,
                  max_states: int = 1_000_000) -> MiniGridModel:
    r"""Enumerate a fully observable MiniGrid level into a sparse MDP and its reward.

    Breadth-first search from the level's start state over MiniGrid's deterministic
    dynamics (see the module documentation): each reachable state — agent cell and
    direction, the grid (door states, where the keys and balls lie) and the carried
    object — becomes a state; every step that terminates the episode leads to one
    absorbing state with reward 0:

    .. math::

        \tau(s' \mid s, a) = [s' = \operatorname{step}(s, a)], \qquad
        R(s, a) = [\operatorname{step}(s, a) \text{ reaches the goal}].

    Parameters
    ----------
    env : minigrid.minigrid_env.MiniGridEnv
        A MiniGrid environment (``gymnasium.make("MiniGrid-DoorKey-5x5-v0")``), wrapped or
        not; never modified (the search runs on a copy).
    gamma : float, default 0.99
        Discount in ``[0, 1)``.
    seed : int >= 0, optional
        Reset the level with this seed first (MiniGrid draws the layout at reset). When
        omitted, the level is taken in its current state, or reset without a seed if it
        never was.
    max_states : int, default 1_000_000
        Refuse levels with more reachable states (the search keeps one grid encoding per
        state).

    Returns
    -------
    MiniGridModel
        ``(mdp, reward)`` with the state descriptions; state 0 is the start state.

    Raises
    ------
    MissingDependencyError
        When minigrid is not installed.
    ValidationError
        When ``env`` is not a MiniGrid environment, overrides ``step``, holds a box or an
        object its encoding does not determine, or has more than ``max_states`` states.

    References
    ----------
    .. [1] Chevalier-Boisvert et al. 2023, "Minigrid & Miniworld", NeurIPS Datasets and
       Benchmarks.
    .. [2] Skalse et al. 2024 ("STARC"), Sec. 2.

    Examples
    --------
    >>> import gymnasium as gym
    >>> import minigrid  # registers the MiniGrid levels with gymnasium
    >>> from starc.adapters.minigrid import from_minigrid
    >>> model = from_minigrid(gym.make("MiniGrid-Empty-5x5-v0"), gamma=0.9, seed=0)
    >>> model.n_states  # 8 free cells x 4 directions, and the terminal state
    33
    >>> mdp, reward = model
    >>> mdp.is_sparse, reward.shape
    (True, (33, 7))
    """
    require_minigrid()
    import scipy.sparse as sp
    from minigrid.core.constants import DIR_TO_VEC, IDX_TO_OBJECT, OBJECT_TO_IDX
    from minigrid.core.grid import Grid
    from minigrid.core.world_object import WorldObj
    from minigrid.minigrid_env import MiniGridEnv

    gamma = check_gamma(gamma)
    max_states = check_positive_int(max_states, "max_states")
    if seed is not None and (isinstance(seed, (bool, np.bool_))
                             or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValidationError(f"seed must be a non-negative int or None, got {seed!r}")
    u = getattr(env, "unwrapped", env)
    if not isinstance(u, MiniGridEnv):
        raise ValidationError(f"env must be a MiniGrid environment (a minigrid.minigrid_env."
                              f"MiniGridEnv), got {type(u).__name__}")
    if type(u).step is not MiniGridEnv.step:
        raise ValidationError(
            f"env: {type(u).__name__} overrides MiniGridEnv.step; its dynamics may read "
            "attributes outside the grid or draw random numbers, so its states cannot be "
            "enumerated from the grid; use a level with MiniGrid's own step (Empty, "
            "DoorKey, FourRooms, MultiRoom, LavaGap, Crossing, ...)")
    sim = copy.deepcopy(u)
    sim.render_mode = None
    if seed is not None or getattr(sim, "agent_dir", None) is None \
            or getattr(sim, "agent_pos", None) is None:
        sim.reset(seed=None if seed is None else int(seed))
    sim.gen_obs = lambda: None   # the partial view is never needed (private copy)
    n_actions = int(sim.action_space.n)
    start_grid = sim.grid.encode()
    types = {IDX_TO_OBJECT[int(i)] for i in np.unique(start_grid[..., 0])}
    if sim.carrying is not None:
        types.add(sim.carrying.type)
    unsupported = sorted(types - _SUPPORTED)
    if unsupported:
        raise ValidationError(f"env holds {unsupported} objects; only {sorted(_SUPPORTED)} "
                              "are determined by MiniGrid's encoding (a box hides its "
                              "content)")
    if not np.array_equal(Grid.decode(start_grid)[0].encode(), start_grid):
        raise ValidationError("env: the grid does not survive MiniGrid's encode/decode "
                              "round trip (a goal or lava of a non-default colour?)")

    width, height = start_grid.shape[:2]
    empty = (OBJECT_TO_IDX["empty"], 0, 0)
    start = _state_key(sim, start_grid.tobytes())
    index = {start: 0}
    keys = [start]
    nxt: list[int] = []
    rew: list[float] = []
    terminal = None
    current = start[3]          # the encoding of the grid ``sim`` holds now
    queue = deque([start])
    while queue:
        key = queue.popleft()
        x, y, d, grid_bytes, carry = key
        for a in range(n_actions):
            if current != grid_bytes:     # an earlier step changed the grid: rebuild it
                sim.grid = Grid.decode(np.frombuffer(grid_bytes, dtype=np.uint8).reshape(
                    start_grid.shape))[0]
                current = grid_bytes
            sim.agent_pos = (x, y)
            sim.agent_dir = d
            sim.carrying = WorldObj.decode(*carry) if any(carry) else None
            fx, fy = x + int(DIR_TO_VEC[d][0]), y + int(DIR_TO_VEC[d][1])
            sim.step_count = -1   # MiniGrid's reward at step 0; never truncated
            _, r, terminated, _, _ = sim.step(a)
            rew.append(float(r))
            if terminated:
                terminal = -1     # one absorbing state, placed after the others
                nxt.append(-1)
                continue
            new_grid = grid_bytes
            if a in _MUTATING and 0 <= fx < width and 0 <= fy < height:
                # MiniGrid's step changes at most the cell in front of the agent
                cell = sim.grid.get(fx, fy)
                code = bytes(int(v) for v in (cell.encode() if cell is not None else empty))
                at = 3 * (fx * height + fy)
                if code != grid_bytes[at:at + 3]:
                    new_grid = grid_bytes[:at] + code + grid_bytes[at + 3:]
                    current = new_grid
            new = _state_key(sim, new_grid)
            j = index.get(new)
            if j is None:
                j = len(keys)
                if j >= max_states:
                    raise ValidationError(f"env has more than max_states={max_states} "
                                          "reachable states; raise max_states to enumerate "
                                          "it")
                index[new] = j
                keys.append(new)
                queue.append(new)
            nxt.append(j)
    n_live = len(keys)
    n = n_live + (terminal is not None)
    succ = np.asarray(nxt, dtype=np.int64)
    reward = np.asarray(rew, dtype=np.float64).reshape(n_live, n_actions)
    if terminal is not None:
        terminal = n_live
        succ[succ < 0] = terminal
        succ = np.concatenate([succ, np.full(n_actions, terminal)])
        reward = np.vstack([reward, np.zeros((1, n_actions))])
    transition = sp.csr_array((np.ones(n * n_actions), succ,
                               np.arange(n * n_actions + 1)), shape=(n * n_actions, n))
    initial = np.zeros(n)
    initial[0] = 1.0
    mdp = TabularMDP(transition, gamma, initial)
    agent_pos = np.full((n, 2), -1, dtype=np.int64)
    agent_dir = np.full(n, -1, dtype=np.int64)
    grid = np.zeros((n,) + start_grid.shape, dtype=np.uint8)
    carrying = np.zeros((n, 3), dtype=np.uint8)
    for i, (x, y, d, grid_bytes, carry) in enumerate(keys):
        agent_pos[i] = (x, y)
        agent_dir[i] = d
        grid[i] = np.frombuffer(grid_bytes, dtype=np.uint8).reshape(start_grid.shape)
        carrying[i] = carry
    for arr in (reward, agent_pos, agent_dir, grid, carrying):
        arr.setflags(write=False)
    return MiniGridModel(mdp, reward, agent_pos, agent_dir, grid, carrying, 0, terminal,
                         index)
