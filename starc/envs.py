r"""Environments: random MDP and reward generators, small named MDPs, file I/O.

Random MDPs
-----------
:func:`random_mdp` draws transition kernels of three kinds:

``"starc"``
    The generator of the STARC paper's tabular experiment [1]_ (Sec. 4.1 and the
    authors' code): logits :math:`z(s, a, s') \sim \mathcal N(0, 1)`; logits at or below a
    threshold :math:`\theta` are set to :math:`-20`; :math:`\tau(\cdot \mid s, a) =
    \operatorname{softmax}(z(s, a, \cdot))`. The threshold is 1 for :math:`|S| < 50`, 1.5 for
    :math:`|S| < 100` and 1.8 otherwise, so each state-action pair has a few likely
    successors and many almost-impossible ones (probability about :math:`e^{-20}` relative).
    A row whose logits all fall below the threshold is uniform.
``"dirichlet"``
    :math:`\tau(\cdot \mid s, a) \sim \operatorname{Dirichlet}(\alpha \mathbf 1)`: dense for
    large ``concentration`` :math:`\alpha`, nearly deterministic for small.
``"garnet"``
    Garnet MDPs [2]_: each pair :math:`(s, a)` has ``n_successors`` distinct successors
    drawn uniformly, with probabilities from a uniform random partition of the unit
    interval; every other transition is impossible (probability exactly zero).

Random rewards
--------------
:func:`random_reward` draws ``"gaussian"`` rewards :math:`R(s, a, s') \sim \mathcal N(0, 1)`
or ``"starc"`` rewards, the paper's generator: a Gaussian reward to which, independently,
with probability 0.2 a sparsification is applied (entries at or below a threshold of 3,
3.5 or 3.8 by the same size classes are zeroed), with probability 0.7 a scaling by
:math:`10\,U(0, 1)`, with probability 0.3 a shift by :math:`10\,U(0, 1)`, and with
probability 0.5 a potential shaping with
:math:`\Phi = \mathcal N(0, 1)^{S} \cdot 10\,U(0,1) + U(0,1)`.

Named environments
------------------
:func:`gridworld` (walls, a goal, slip probability), :func:`maze` (a random perfect maze or
rooms level on a grid) and :func:`chain` return a :class:`TabularEnvironment` — the MDP and
its reward.

Large sparse grid worlds
------------------------
:func:`gridworld` and :func:`maze` build a sparse MDP (THEORY §11) when asked
(``sparse=True``) or when the grid has more than :data:`SPARSE_AUTO_STATES` free cells:
:func:`grid_transition` computes, for every free cell :math:`s` and direction :math:`a`,
the cell :math:`f(s, a)` reached (vectorised over all cells at once), and writes row
:math:`sA + a` of the ``(S*A, S)`` CSR transition from the intended move and the two
perpendicular slips — :math:`O(SA)` time and memory, never an ``(S, A, S)`` array. A
1000 x 1000 slippery grid (:math:`S = 10^6`, 12 million nonzeros) builds in about a
second. The reward of a sparse grid is the expected reward :math:`\bar R(s, a)`, shape
``(S, A)``.

Files
-----
:func:`save_mdp` and :func:`load_mdp` use ``.npz`` files with the keys ``transition``,
``gamma`` and ``initial`` (and optionally ``reward``). Saving is atomic (a temporary file
renamed over the destination, so an interrupted save leaves the previous file whole);
loading never unpickles, checks every array header against the memory guard before
reading, and calls a cut-off file "truncated or not an .npz/.npy file".

References
----------
.. [1] Skalse et al. "STARC: A General Framework for Quantifying Differences Between
   Reward Functions". ICLR 2024, Sec. 4.1 and Appendix; authors' code
   github.com/lucyfarnik/starc.
.. [2] Archibald, McKinnon, Thomas. "On the generation of Markov decision processes".
   J. Oper. Res. Soc. 46 (1995).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ._io import load_npz, save_npz
from ._validation import (as_float_array, check_choice, check_gamma, check_memory,
                          check_positive_int, check_real, check_seed, is_sparse_matrix)
from .exceptions import ValidationError
from .mdp import TabularMDP, as_dense_mdp, as_mdp, broadcast_reward

__all__ = [
    "TabularEnvironment",
    "random_mdp",
    "random_reward",
    "gridworld",
    "grid_transition",
    "maze",
    "chain",
    "save_mdp",
    "load_mdp",
    "starc_size_threshold",
]

MDP_KINDS = ("starc", "dirichlet", "garnet")
REWARD_KINDS = ("gaussian", "starc")


class _EnvironmentFields(NamedTuple):
    mdp: TabularMDP
    reward: np.ndarray


class TabularEnvironment(_EnvironmentFields):
    """A named environment: the MDP and its reward ``(S, A, S)``; unpacks as ``mdp, reward``.

    Parameters
    ----------
    mdp : TabularMDP
    reward : array_like of shape (S, A, S), (S, A) or (S,)
        Finite; broadcast to ``(S, A, S)`` (see :func:`starc.broadcast_reward`). On a
        sparse MDP kept as given: ``(S, A)``, ``(S,)`` or a sparse ``(S*A, S)`` array
        (see :func:`starc.expected_reward`).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularEnvironment, random_mdp
    >>> mdp = random_mdp(3, 2, seed=0)
    >>> env = TabularEnvironment(mdp, np.arange(3.0))
    >>> env.reward.shape
    (3, 2, 3)
    """

    __slots__ = ()

    def __new__(cls, mdp: TabularMDP, reward) -> TabularEnvironment:
        as_mdp(mdp)
        if mdp.is_sparse:  # the reward stays (S, A), (S,) or sparse (S*A, S)
            from .mdp import expected_reward

            if expected_reward(reward, mdp).ndim != 2:
                raise ValidationError(f"reward must be one reward of shape (S, A) = "
                                      f"{mdp.shape[:2]}, (S,) or sparse (S*A, S), got a batch")
            if not is_sparse_matrix(reward):
                reward = as_float_array(reward, "reward")
                reward.flags.writeable = False
            return super().__new__(cls, mdp, reward)
        reward = broadcast_reward(reward, mdp)
        if reward.ndim != 3:
            raise ValidationError(f"reward must be one reward of shape {mdp.shape}, "
                                  f"(S, A) or (S,), got a batch of shape {reward.shape}")
        return super().__new__(cls, mdp, reward)


def starc_size_threshold(n_states: int, small: float, medium: float, large: float) -> float:
    """The STARC generators' size classes: ``small`` if S < 50, ``medium`` if S < 100.

    Parameters
    ----------
    n_states : int
        :math:`|S| \\ge 1`.
    small, medium, large : float
        Finite thresholds of the three size classes.

    Returns
    -------
    float
        The threshold of the size class of ``n_states``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 and the authors' MDP and reward
       generators (the thresholds 1 / 1.5 / 1.8 and 3 / 3.5 / 3.8).

    Examples
    --------
    >>> from starc.envs import starc_size_threshold
    >>> starc_size_threshold(64, 1.0, 1.5, 1.8)
    1.5
    """
    n_states = check_positive_int(n_states, "n_states")
    small = check_real(small, "small")
    medium = check_real(medium, "medium")
    large = check_real(large, "large")
    if n_states < 50:
        return small
    if n_states < 100:
        return medium
    return large


def random_mdp(n_states: int, n_actions: int, *, gamma: float = 0.95, seed=None,
               kind: str = "starc", initial=None, concentration: float = 1.0,
               n_successors: int = 3) -> TabularMDP:
    r"""Draw a random MDP.

    Parameters
    ----------
    n_states, n_actions : int
        :math:`|S| \ge 1` and :math:`|A| \ge 1`.
    gamma : float, default 0.95
        Discount in ``[0, 1)``.
    seed : int, numpy.random.Generator or None
    kind : {"starc", "dirichlet", "garnet"}
        The generator; see the module documentation.
    initial : array_like of shape (S,), optional
        Initial distribution; uniform when omitted (as in the STARC experiment).
    concentration : float, default 1.0
        Dirichlet parameter :math:`\alpha > 0` (``kind="dirichlet"``).
    n_successors : int, default 3
        Successors per state-action pair (``kind="garnet"``), at most ``n_states``.

    Returns
    -------
    TabularMDP
        With ``transition`` of shape ``(S, A, S)``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 (the ``"starc"`` kind).
    .. [2] Archibald et al. 1995 (``"garnet"``).

    Examples
    --------
    >>> from starc import random_mdp
    >>> mdp = random_mdp(32, 4, seed=0)
    >>> mdp.transition.shape, bool(abs(mdp.transition.sum(-1) - 1).max() < 1e-12)
    ((32, 4, 32), True)
    """
    n_states = check_positive_int(n_states, "n_states")
    n_actions = check_positive_int(n_actions, "n_actions")
    gamma = check_gamma(gamma)
    check_choice(kind, "kind", MDP_KINDS)
    check_memory((n_states, n_actions, n_states), "random_mdp", copies=2)
    rng = check_seed(seed)
    shape = (n_states, n_actions, n_states)
    if kind == "starc":
        logits = rng.standard_normal(shape)
        threshold = starc_size_threshold(n_states, 1.0, 1.5, 1.8)
        logits[logits <= threshold] = -20.0
        logits -= logits.max(axis=-1, keepdims=True)
        t = np.exp(logits, out=logits)
        t /= t.sum(axis=-1, keepdims=True)
    elif kind == "dirichlet":
        alpha = check_real(concentration, "concentration", low=0.0, low_open=True)
        g = rng.standard_gamma(alpha, size=shape)
        if alpha > 2.0 ** 900:  # draws near 1e308 would overflow their row sums; the
            g /= alpha          # Dirichlet draw g / sum(g) does not change with a common scale
        sums = g.sum(axis=-1, keepdims=True)
        # Tiny alpha can underflow a whole row to zero: fall back to a random one-hot row.
        empty = sums[..., 0] == 0
        if np.any(empty):
            hot = rng.integers(n_states, size=int(empty.sum()))
            g[empty] = 0.0
            g[empty, hot] = 1.0
            sums = g.sum(axis=-1, keepdims=True)
        t = g / sums
    else:
        k = check_positive_int(n_successors, "n_successors")
        if k > n_states:
            raise ValidationError(f"n_successors must be <= n_states = {n_states}, got {k}")
        t = np.zeros(shape)
        for s in range(n_states):
            for a in range(n_actions):
                succ = rng.choice(n_states, size=k, replace=False)
                cuts = np.sort(rng.uniform(size=k - 1))
                t[s, a, succ] = np.diff(np.concatenate(([0.0], cuts, [1.0])))
    # Renormalise so rows sum to 1 to the last bit.
    t /= t.sum(axis=-1, keepdims=True)
    return TabularMDP(t, gamma, initial)


def random_reward(mdp: TabularMDP, *, seed=None, kind: str = "gaussian",
                  size: int | tuple[int, ...] | None = None) -> np.ndarray:
    r"""Draw a random reward :math:`R(s, a, s')` on ``mdp``.

    Parameters
    ----------
    mdp : TabularMDP
    seed : int, numpy.random.Generator or None
    kind : {"gaussian", "starc"}
        ``"gaussian"``: i.i.d. :math:`\mathcal N(0, 1)` entries. ``"starc"``: the STARC
        paper's generator (sparsify / scale / shift / potential-shape, each applied
        independently at random; see the module documentation).
    size : int or tuple of int, optional
        Leading batch shape; ``None`` draws a single reward.

    Returns
    -------
    ndarray of shape (\*size, S, A, S)

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 and the authors' reward generator.

    Examples
    --------
    >>> from starc import random_mdp, random_reward
    >>> mdp = random_mdp(8, 2, seed=0)
    >>> random_reward(mdp, seed=1, kind="starc", size=3).shape
    (3, 8, 2, 8)
    """
    as_dense_mdp(mdp, "random_reward", instead="draw an (S, A) reward, e.g. "
                 "numpy.random.default_rng(seed).standard_normal((S, A))")
    check_choice(kind, "kind", REWARD_KINDS)
    rng = check_seed(seed)
    if size is None:
        batch: tuple[int, ...] = ()
    elif isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        batch = (check_positive_int(size, "size", minimum=0),)
    else:
        try:
            batch = tuple(check_positive_int(d, "size", minimum=0) for d in size)
        except TypeError:
            raise ValidationError(f"size must be None, an int or a tuple of ints, "
                                  f"got {size!r}") from None
    check_memory(batch + mdp.shape, "random_reward")
    if kind == "gaussian":
        return rng.standard_normal(batch + mdp.shape)
    out = np.empty(batch + mdp.shape)
    flat = out.reshape((-1,) + mdp.shape)
    for i in range(flat.shape[0]):
        flat[i] = _starc_reward(mdp, rng)
    return out


def _starc_reward(mdp: TabularMDP, rng: np.random.Generator) -> np.ndarray:
    n = mdp.n_states
    r = rng.standard_normal(mdp.shape)
    if rng.uniform() < 0.2:
        threshold = starc_size_threshold(n, 3.0, 3.5, 3.8)
        r[r <= threshold] = 0.0
    if rng.uniform() < 0.7:
        r *= 10.0 * rng.uniform()
    if rng.uniform() < 0.3:
        r += 10.0 * rng.uniform()
    if rng.uniform() < 0.5:
        phi = rng.standard_normal(n) * (10.0 * rng.uniform()) + rng.uniform()
        r += mdp.gamma * phi[None, None, :] - phi[:, None, None]
    return r


GRID_ACTIONS = ("up", "right", "down", "left")
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
#: Above this many free cells, ``sparse=None`` builds a sparse MDP (the dense transition and
#: reward would take 2 * 8 * S * 4 * S bytes: 268 MB at this size).
SPARSE_AUTO_STATES = 2048
MAZE_LAYOUTS = ("perfect", "rooms")


def _check_flag(value, name: str, *, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        allowed = "True, False or None" if allow_none else "True or False"
        raise ValidationError(f"{name} must be {allowed}, got {value!r}")
    return bool(value)


def _grid_cell(c, name: str, height: int, width: int) -> tuple[int, int]:
    try:
        r, col = (int(x) for x in c)
        exact = all(x == int(x) for x in c)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{name} must be a (row, col) pair, got {c!r}") from None
    if not exact or any(isinstance(x, (bool, np.bool_)) for x in c):
        raise ValidationError(f"{name} must be a (row, col) pair of integers, got {c!r}")
    if not (0 <= r < height and 0 <= col < width):
        raise ValidationError(f"{name} {c!r} lies outside the {height} x {width} grid")
    return r, col


def _wall_mask(walls, height: int, width: int) -> np.ndarray:
    """``walls`` (pairs, or a boolean ``(height, width)`` mask) as a boolean mask."""
    if isinstance(walls, np.ndarray) and walls.dtype == np.bool_:
        if walls.shape != (height, width):
            raise ValidationError(f"walls given as a boolean mask must have shape "
                                  f"({height}, {width}), got {walls.shape}")
        return walls.copy()
    if isinstance(walls, (str, bytes)):
        raise ValidationError(f"walls must be an iterable of (row, col) pairs, got {walls!r}")
    try:
        walls = list(walls)
    except TypeError:
        raise ValidationError(f"walls must be an iterable of (row, col) pairs, got "
                              f"{walls!r}") from None
    check_memory((len(walls),), "walls")
    mask = np.zeros((height, width), dtype=bool)
    for w in walls:
        mask[_grid_cell(w, "walls entry", height, width)] = True
    return mask


def gridworld(height: int = 4, width: int = 4, *, walls=(), goal=None, start=(0, 0),
              slip: float = 0.0, gamma: float = 0.95, goal_reward: float = 1.0,
              step_reward: float = 0.0, sparse: bool | None = None) -> TabularEnvironment:
    r"""A grid world with walls, an absorbing goal and slippery moves.

    States are the free cells in row-major order (``state = row * width + col`` when there
    are no walls); actions are up, right, down, left. A move into a wall or off the grid
    leaves the agent in place. With probability ``slip`` the agent instead moves in one of
    the two perpendicular directions (``slip / 2`` each):

    .. math::

        \tau(s' \mid s, a) = (1 - p)\,[s' = f(s, a)]
        + \tfrac p2\,[s' = f(s, a^{+})] + \tfrac p2\,[s' = f(s, a^{-})],

    with :math:`f(s, a)` the cell reached by moving in direction :math:`a` (or :math:`s`
    when blocked) and :math:`a^{\pm}` the perpendicular directions. The goal is absorbing.

    The reward pays ``goal_reward`` on every transition that *enters* the goal from another
    cell, ``step_reward`` on every other transition out of a non-goal cell, and 0 inside
    the goal.

    **Sparse form.** With ``sparse=True`` the transition is built directly as a
    ``scipy.sparse`` CSR matrix of shape ``(S*A, S)`` (row ``s*A + a``, at most three
    successors per row) by vectorised numpy in :math:`O(SA)` time and memory, never as an
    ``(S, A, S)`` array — a 1000 x 1000 grid (:math:`S = 10^6`) takes about a second and
    a few hundred MB. The reward is then the expected reward
    :math:`\bar R(s, a) = \sum_{s'} \tau(s' \mid s, a) R(s, a, s')` of shape ``(S, A)``,
    which has the same returns and STARC distances as the ``(S, A, S)`` one (an
    :math:`S'`-redistribution, THEORY §11). On small grids the sparse transition equals
    the dense one entry for entry (``dense.transition.reshape(S*A, S)``).

    Parameters
    ----------
    height, width : int
        Grid size.
    walls : iterable of (row, col), or bool ndarray of shape (height, width)
        Blocked cells, as pairs or as a mask (``True`` = wall).
    goal : (row, col), optional
        Goal cell; the bottom-right corner by default.
    start : (row, col) or None, default (0, 0)
        The initial state; ``None`` makes the initial distribution uniform over free cells.
    slip : float in [0, 1]
        Probability of slipping sideways.
    gamma : float
    goal_reward, step_reward : float
    sparse : bool or None, default None
        Build a sparse MDP (``True``) or a dense one (``False``); ``None`` builds a sparse
        one when the grid has more than :data:`SPARSE_AUTO_STATES` (2048) free cells.

    Returns
    -------
    TabularEnvironment
        ``(mdp, reward)``: ``reward`` of shape ``(S, A, S)`` for a dense MDP, ``(S, A)``
        (the expected reward) for a sparse one.

    References
    ----------
    .. [1] Sutton and Barto, "Reinforcement Learning", 2nd ed., Example 4.1 (grid world).

    Examples
    --------
    >>> from starc import gridworld, optimal_policy
    >>> mdp, reward = gridworld(3, 3, walls=[(1, 1)], slip=0.1)
    >>> mdp.n_states, mdp.n_actions
    (8, 4)
    """
    height = check_positive_int(height, "height")
    width = check_positive_int(width, "width")
    slip = check_real(slip, "slip", low=0.0, high=1.0)
    gamma = check_gamma(gamma)
    goal_reward = check_real(goal_reward, "goal_reward")
    step_reward = check_real(step_reward, "step_reward")
    sparse = _check_flag(sparse, "sparse", allow_none=True)
    check_memory((height, width), "gridworld", itemsize=24)  # masks and cell indices
    wall = _wall_mask(walls, height, width)
    goal = _grid_cell(goal if goal is not None else (height - 1, width - 1), "goal",
                      height, width)
    if wall[goal]:
        raise ValidationError(f"goal {goal} is a wall")
    st = None
    if start is not None:
        st = _grid_cell(start, "start", height, width)
        if wall[st]:
            raise ValidationError(f"start {st} is a wall")
    n = int(height * width - np.count_nonzero(wall))
    if sparse is None:
        sparse = n > SPARSE_AUTO_STATES
    if sparse:
        transition, reward, initial = grid_transition(
            ~wall, goal, slip=slip, start=st, goal_reward=goal_reward,
            step_reward=step_reward)
        return TabularEnvironment(TabularMDP(transition, gamma, initial), reward)
    # dense: refuse before looping over the cells: T and R are (S, 4, S)
    try:
        check_memory((n, len(_MOVES), n), "gridworld", copies=2)
    except ValidationError as err:
        raise ValidationError(f"{err}; or build it sparse with sparse=True") from None
    free = [(r, c) for r in range(height) for c in range(width) if not wall[r, c]]
    index = {rc: i for i, rc in enumerate(free)}
    m = len(_MOVES)
    t = np.zeros((n, m, n))
    reward = np.zeros((n, m, n))
    g = index[goal]

    def step(rc, move):
        r2, c2 = rc[0] + move[0], rc[1] + move[1]
        return index.get((r2, c2), index[rc]) if 0 <= r2 < height and 0 <= c2 < width \
            else index[rc]

    for rc, s in index.items():
        if s == g:
            t[s, :, s] = 1.0
            continue
        for a, move in enumerate(_MOVES):
            side = [_MOVES[(a + 1) % 4], _MOVES[(a + 3) % 4]]
            t[s, a, step(rc, move)] += 1.0 - slip
            for sm in side:
                t[s, a, step(rc, sm)] += slip / 2.0
        reward[s, :, :] = step_reward
        reward[s, :, g] = goal_reward
    if st is None:
        initial = None
    else:
        initial = np.zeros(n)
        initial[index[st]] = 1.0
    return TabularEnvironment(TabularMDP(t, gamma, initial), reward)


def grid_transition(free, goal, *, slip: float = 0.0, start=None, goal_reward: float = 1.0,
                    step_reward: float = 0.0):
    r"""The sparse transition, expected reward and initial distribution of a grid world.

    The vectorised :math:`O(SA)` builder behind :func:`gridworld` and :func:`maze` (see
    :func:`gridworld` for the dynamics and the reward). For each free cell and direction it
    computes the cell reached (itself when blocked); row ``s*A + a`` of the CSR matrix
    then holds the intended move with probability :math:`1 - p` and the two perpendicular
    moves with :math:`p/2` each, coinciding successors summed in the order intended, then
    clockwise, then anticlockwise (as the dense :func:`gridworld` adds them, so both agree
    to the last bit), zero-probability entries dropped and column indices sorted.

    Parameters
    ----------
    free : bool array_like of shape (height, width)
        ``True`` on the cells the agent may occupy; states are the free cells in row-major
        order.
    goal : (row, col)
        A free cell, absorbing (every action stays, reward 0).
    slip : float in [0, 1]
    start : (row, col) or None
        A free cell (one-hot initial distribution), or uniform over the free cells.
    goal_reward, step_reward : float

    Returns
    -------
    transition : scipy.sparse.csr_array of shape (S * 4, S)
        Canonical CSR (sorted indices, no duplicates, no explicit zeros); every row sums
        to 1.
    reward : ndarray of shape (S, 4)
        :math:`\bar R(s, a) = \texttt{step\_reward}\,(1 - \tau(g \mid s, a))
        + \texttt{goal\_reward}\,\tau(g \mid s, a)` off the goal, 0 at the goal :math:`g`.
    initial : ndarray of shape (S,)

    References
    ----------
    .. [1] Sutton and Barto, "Reinforcement Learning", 2nd ed., Example 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.envs import grid_transition
    >>> t, r, mu = grid_transition(np.ones((1, 3), bool), (0, 2), slip=0.2)
    >>> t.shape, t.nnz
    ((12, 3), 21)
    >>> t.toarray()[1 * 4 + 1]  # row s*A + a: from the middle cell, move right
    array([0. , 0.2, 0.8])
    """
    import scipy.sparse as sp

    try:
        free = np.asarray(free)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"free must be a 2-d boolean mask: {err}") from None
    if free.dtype != np.bool_ or free.ndim != 2 or free.size == 0:
        raise ValidationError(f"free must be a 2-d boolean mask, got dtype {free.dtype} and "
                              f"shape {free.shape}")
    height, width = free.shape
    slip = check_real(slip, "slip", low=0.0, high=1.0)
    goal_reward = check_real(goal_reward, "goal_reward")
    step_reward = check_real(step_reward, "step_reward")
    goal = _grid_cell(goal, "goal", height, width)
    if not free[goal]:
        raise ValidationError(f"goal {goal} is not a free cell")
    if start is not None:
        start = _grid_cell(start, "start", height, width)
        if not free[start]:
            raise ValidationError(f"start {start} is not a free cell")
    n = int(np.count_nonzero(free))
    n_act = len(_MOVES)
    # about 16 arrays of S * A * 3 numbers of 8 bytes live at the peak
    check_memory((n, n_act, 3), "the sparse grid world", copies=16)
    idx_dtype = np.int32 if 3 * n * n_act < 2**31 else np.int64
    index = np.full(free.shape, -1, dtype=idx_dtype)
    index[free] = np.arange(n, dtype=idx_dtype)
    rows, cols = np.nonzero(free)  # row-major, the order of ``index``
    own = np.arange(n, dtype=idx_dtype)
    dest = np.empty((n, n_act), dtype=idx_dtype)  # the cell each move reaches
    for m, (dr, dc) in enumerate(_MOVES):
        r2, c2 = rows + dr, cols + dc
        inside = (r2 >= 0) & (r2 < height) & (c2 >= 0) & (c2 < width)
        target = index[np.clip(r2, 0, height - 1), np.clip(c2, 0, width - 1)]
        dest[:, m] = np.where(inside & (target >= 0), target, own)
    del rows, cols, r2, c2, inside, target, own
    g = int(index[goal])
    dest[g] = g                                                # the goal is absorbing
    # outcome 0: intended move a; 1: clockwise a + 1; 2: anticlockwise a + 3 (row s*A + a)
    c0 = dest.reshape(-1)
    c1 = dest[:, [1, 2, 3, 0]].reshape(-1)
    c2 = dest[:, [3, 0, 1, 2]].reshape(-1)
    del dest
    v0, v1, v2 = 1.0 - slip, slip / 2.0, slip / 2.0
    e01, e02, e12 = c0 == c1, c0 == c2, c1 == c2
    # coinciding successors merged, summed in the dense generator's order (0, 1, 2)
    m0 = v0 + np.where(e01, v1, 0.0)
    m0 += np.where(e02, v2, 0.0)
    m1 = np.where(e12, v1 + v2, v1)
    k0 = m0 > 0.0
    k1 = ~e01 & (m1 > 0.0)
    k2 = ~(e02 | e12) if v2 > 0.0 else np.zeros_like(e02)
    del e01, e02, e12
    goal_rows = slice(g * n_act, (g + 1) * n_act)
    m0[goal_rows] = 1.0                                        # as the dense generator
    k0[goal_rows], k1[goal_rows], k2[goal_rows] = True, False, False
    # tau(g | s, a) and the row sums, from the kept entries
    at_goal = np.where(k0 & (c0 == g), m0, 0.0)
    at_goal += np.where(k1 & (c1 == g), m1, 0.0)
    at_goal += np.where(k2 & (c2 == g), v2, 0.0)
    total = np.where(k0, m0, 0.0)
    total += np.where(k1, m1, 0.0)
    total += np.where(k2, v2, 0.0)
    counts = k0.astype(idx_dtype)
    counts += k1
    counts += k2
    indptr = np.zeros(n * n_act + 1, dtype=idx_dtype)
    np.cumsum(counts, out=indptr[1:])
    del counts
    keep = np.stack([k0, k1, k2], axis=1)
    del k0, k1, k2
    indices = np.stack([c0, c1, c2], axis=1)[keep]
    del c0, c1, c2
    data = np.stack([m0, m1, np.broadcast_to(v2, m1.shape)], axis=1)[keep]
    del m0, m1, keep
    transition = sp.csr_array((data, indices, indptr), shape=(n * n_act, n))
    transition.sort_indices()                                  # at most 3 entries per row
    reward = (step_reward * (total - at_goal) + goal_reward * at_goal).reshape(n, n_act)
    reward[g] = 0.0
    if start is None:
        initial = np.full(n, 1.0 / n)
    else:
        initial = np.zeros(n)
        initial[index[start]] = 1.0
    return transition, reward, initial


def maze(height: int = 21, width: int = 21, *, layout: str = "perfect", room_size: int = 5,
         seed=None, slip: float = 0.0, gamma: float = 0.95, goal_reward: float = 1.0,
         step_reward: float = 0.0, sparse: bool | None = None) -> TabularEnvironment:
    r"""A random maze or rooms level as a :func:`gridworld` (any size; sparse when large).

    ``layout="perfect"``
        A perfect maze (one path between any two cells) on the cells with even row and
        column, carved by the binary-tree algorithm [2]_: every such cell opens the
        passage to its north or its east neighbour with probability 1/2 (cells on the top
        row always east, on the last column always north). Every free cell is connected
        to the top-right cell, so the maze is a spanning tree; like every binary-tree
        maze it has an open top row and last column.
    ``layout="rooms"``
        Rooms of ``room_size x room_size`` cells separated by one-cell walls (a
        generalised four-rooms level [3]_), with one door at a uniformly drawn position in
        every wall between two adjacent rooms; every room is reachable.

    The agent starts in the top-left cell (0, 0); the goal is the last free cell in
    row-major order (the bottom-right corner when it is free). Dynamics, slip and reward
    are :func:`gridworld`'s. Built in :math:`O(SA)` vectorised numpy.

    Parameters
    ----------
    height, width : int
        Grid size, each at least 1.
    layout : {"perfect", "rooms"}
    room_size : int, default 5
        Side of a room (``layout="rooms"``).
    seed : int, numpy.random.Generator or None
    slip, gamma, goal_reward, step_reward, sparse
        As in :func:`gridworld`.

    Returns
    -------
    TabularEnvironment
        As :func:`gridworld`.

    References
    ----------
    .. [1] Sutton and Barto, "Reinforcement Learning", 2nd ed., Example 4.1.
    .. [2] Buck, "Mazes for Programmers", Pragmatic Bookshelf 2015, ch. 2 (binary tree).
    .. [3] Sutton, Precup, Singh. "Between MDPs and semi-MDPs". Artificial Intelligence
       112 (1999) (the four-rooms domain).

    Examples
    --------
    >>> from starc.envs import maze
    >>> mdp, reward = maze(7, 7, seed=0)
    >>> mdp.n_states  # 16 cells and the 15 passages of a spanning tree
    31
    >>> maze(11, 11, layout="rooms", room_size=5, seed=0).mdp.n_states
    104
    """
    height = check_positive_int(height, "height")
    width = check_positive_int(width, "width")
    check_choice(layout, "layout", MAZE_LAYOUTS)
    room_size = check_positive_int(room_size, "room_size")
    rng = check_seed(seed)
    check_memory((height, width), "maze", itemsize=24)
    if layout == "perfect":
        wall = np.ones((height, width), dtype=bool)
        wall[::2, ::2] = False                                 # the maze's cells
        nr, nc = (height + 1) // 2, (width + 1) // 2
        north = rng.random((nr, nc)) < 0.5
        north[0, :] = False
        north[:, nc - 1] = True
        north[0, nc - 1] = False
        east = ~north
        east[0, nc - 1] = False
        ci, cj = np.nonzero(north)
        wall[2 * ci - 1, 2 * cj] = False
        ci, cj = np.nonzero(east)
        wall[2 * ci, 2 * cj + 1] = False
    else:
        step = room_size + 1
        wall = np.zeros((height, width), dtype=bool)
        wall_rows = np.arange(room_size, height - 1, step)    # a room on both sides
        wall_cols = np.arange(room_size, width - 1, step)
        wall[wall_rows, :] = True
        wall[:, wall_cols] = True
        for lines, extent, vertical in ((wall_cols, height, True), (wall_rows, width, False)):
            starts = np.arange(0, extent, step)               # room bands along the wall
            lengths = np.minimum(room_size, extent - starts)
            doors = starts[None, :] + rng.integers(0, lengths, size=(len(lines), len(starts)))
            at = np.broadcast_to(lines[:, None], doors.shape)
            if vertical:
                wall[doors, at] = False
            else:
                wall[at, doors] = False
    free_r, free_c = np.nonzero(~wall)
    goal = (int(free_r[-1]), int(free_c[-1]))
    return gridworld(height, width, walls=wall, goal=goal, start=(0, 0), slip=slip,
                     gamma=gamma, goal_reward=goal_reward, step_reward=step_reward,
                     sparse=sparse)


def chain(n_states: int = 5, *, slip: float = 0.0, gamma: float = 0.95,
          left_reward: float = 0.1, right_reward: float = 1.0) -> TabularEnvironment:
    r"""A chain of states with actions left (0) and right (1).

    Moving off an end stays in place; with probability ``slip`` the agent moves the other
    way. Staying at the left end (action left in state 0) pays ``left_reward``; staying at
    the right end (action right in the last state) pays ``right_reward``. The agent starts
    in state 0, so a myopic policy collects the small reward while a far-sighted one walks
    to the large one.

    Parameters
    ----------
    n_states : int, >= 2
    slip : float in [0, 1]
    gamma : float
    left_reward, right_reward : float

    Returns
    -------
    TabularEnvironment

    References
    ----------
    .. [1] Strens, "A Bayesian framework for reinforcement learning", ICML 2000 (the chain).

    Examples
    --------
    >>> from starc import chain, optimal_policy
    >>> mdp, reward = chain(5, gamma=0.9)
    >>> optimal_policy(reward, mdp)
    array([1, 1, 1, 1, 1])
    """
    n = check_positive_int(n_states, "n_states", minimum=2)
    slip = check_real(slip, "slip", low=0.0, high=1.0)
    gamma = check_gamma(gamma)
    left_reward = check_real(left_reward, "left_reward")
    right_reward = check_real(right_reward, "right_reward")
    check_memory((n, 2, n), "chain", copies=2)
    t = np.zeros((n, 2, n))
    for s in range(n):
        left, right = max(s - 1, 0), min(s + 1, n - 1)
        t[s, 0, left] += 1.0 - slip
        t[s, 0, right] += slip
        t[s, 1, right] += 1.0 - slip
        t[s, 1, left] += slip
    reward = np.zeros((n, 2, n))
    reward[0, 0, 0] = left_reward
    reward[n - 1, 1, n - 1] = right_reward
    initial = np.zeros(n)
    initial[0] = 1.0
    return TabularEnvironment(TabularMDP(t, gamma, initial), reward)


_REQUIRED_KEYS = ("transition", "gamma")


def save_mdp(path, mdp: TabularMDP, reward=None) -> None:
    """Save an MDP (and optionally a reward) to an ``.npz`` file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.npz`` is appended when missing (as :func:`numpy.savez` does).
        The file is written atomically: to a temporary file in the same folder, then
        renamed over ``path``, so an interrupt leaves the previous file intact.
    mdp : TabularMDP
        Supports sparse MDPs: their CSR transition is stored as the arrays
        ``transition_data``, ``transition_indices``, ``transition_indptr`` and
        ``transition_shape`` (no pickle), and loads back bit for bit.
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S), optional
        Stored under the key ``reward``, broadcast to ``(..., S, A, S)``. On a sparse
        MDP stored as given: an ``(..., S, A)`` or ``(..., S)`` array, or a sparse
        ``(S*A, S)`` reward as ``reward_data``/``reward_indices``/``reward_indptr``/
        ``reward_shape``.

    Raises
    ------
    ValidationError
        When ``path``'s folder does not exist or cannot be written, or ``path`` is a folder.

    Examples
    --------
    >>> import tempfile, os
    >>> from starc import chain, save_mdp, load_mdp
    >>> mdp, reward = chain(4)
    >>> path = os.path.join(tempfile.mkdtemp(), "chain.npz")
    >>> save_mdp(path, mdp, reward)
    >>> load_mdp(path).n_states
    4
    """
    as_mdp(mdp)
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if mdp.is_sparse:
        arrays = {"gamma": np.float64(mdp.gamma), "initial": np.asarray(mdp.initial),
                  **_csr_arrays("transition", mdp.transition)}
        if reward is not None:
            arrays.update(_sparse_reward_arrays(reward, mdp))
        save_npz(path, arrays)
        return
    arrays = {"transition": np.asarray(mdp.transition), "gamma": np.float64(mdp.gamma),
              "initial": np.asarray(mdp.initial)}
    if reward is not None:
        arrays["reward"] = broadcast_reward(reward, mdp)
    save_npz(path, arrays)


_CSR_PARTS = ("data", "indices", "indptr", "shape")


def _csr_arrays(key: str, m) -> dict[str, np.ndarray]:
    """The arrays of a CSR matrix under ``key_data``, ``key_indices``, ... (no pickle)."""
    return {f"{key}_data": np.asarray(m.data, dtype=np.float64),
            f"{key}_indices": np.asarray(m.indices), f"{key}_indptr": np.asarray(m.indptr),
            f"{key}_shape": np.asarray(m.shape, dtype=np.int64)}


def _sparse_reward_arrays(reward, mdp: TabularMDP) -> dict[str, np.ndarray]:
    """A reward of a sparse MDP as stored arrays, validated by :func:`expected_reward`."""
    import scipy.sparse as sp

    from .mdp import expected_reward

    expected_reward(reward, mdp)  # validates shape and values, never densifies
    if sp.issparse(reward):
        return _csr_arrays("reward", sp.csr_array(reward, dtype=np.float64))
    return {"reward": as_float_array(reward, "reward")}


def _read_csr(data: dict, key: str, path):
    """The CSR matrix stored under ``key_*``; ValidationError for malformed parts."""
    import scipy.sparse as sp

    missing = [f"{key}_{p}" for p in _CSR_PARTS if f"{key}_{p}" not in data]
    if missing:
        raise ValidationError(f"path {os.fspath(path)!r} lacks the key(s) {missing} of the "
                              f"sparse {key}")
    shape = np.asarray(data[f"{key}_shape"])
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or np.any(shape < 0):
        raise ValidationError(f"{key}_shape in {os.fspath(path)!r} must be two non-negative "
                              f"integers, got {shape!r}")
    indices, indptr = np.asarray(data[f"{key}_indices"]), np.asarray(data[f"{key}_indptr"])
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu" \
            or indices.ndim != 1 or indptr.ndim != 1:
        raise ValidationError(f"{key}_indices and {key}_indptr in {os.fspath(path)!r} must "
                              "be 1-D integer arrays")
    try:
        m = sp.csr_array((as_float_array(data[f"{key}_data"], f"{key}_data (in file)",
                                         ndim=1), indices, indptr),
                         shape=tuple(int(d) for d in shape))
        m.check_format(full_check=True)
    except (ValueError, TypeError, IndexError) as err:
        raise ValidationError(f"the sparse {key} in {os.fspath(path)!r} is malformed: "
                              f"{err}") from None
    return m


def load_mdp(path, *, with_reward: bool = False):
    """Load an MDP saved by :func:`save_mdp`; never unpickles.

    Supports sparse MDPs: a file written from a sparse MDP loads as a sparse MDP with
    the same CSR arrays, bit for bit.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` file with the keys ``transition`` and ``gamma`` (and optionally
        ``initial`` and ``reward``); the ``.npz`` suffix may be left out, as in
        :func:`save_mdp`.
    with_reward : bool, default False
        Also return the stored reward (``ValidationError`` when there is none).

    Returns
    -------
    TabularMDP, or (TabularMDP, ndarray) when ``with_reward``

    Raises
    ------
    ValidationError
        When the file is missing, not an ``.npz``, truncated, pickled, lacks a key, holds
        an array too large for memory (refused from its header, before reading), or holds
        invalid arrays.

    Examples
    --------
    See :func:`save_mdp`.
    """
    data = load_npz(path)
    if "transition" not in data and "transition_data" in data:
        return _load_sparse(data, path, with_reward)
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    if missing:
        raise ValidationError(f"path {os.fspath(path)!r} lacks the key(s) {missing}; an MDP "
                              f"file needs {list(_REQUIRED_KEYS)} (and optionally 'initial', "
                              "'reward')")
    gamma = as_float_array(data["gamma"], "gamma (in file)")
    if gamma.ndim != 0:
        raise ValidationError(f"gamma in {os.fspath(path)!r} must be a scalar, "
                              f"got shape {gamma.shape}")
    mdp = TabularMDP(data["transition"], float(gamma), data.get("initial"))
    if not with_reward:
        return mdp
    if "reward" not in data:
        raise ValidationError(f"path {os.fspath(path)!r} has no 'reward' key")
    return mdp, broadcast_reward(data["reward"], mdp, name="reward (in file)")


def _load_sparse(data: dict, path, with_reward: bool):
    """:func:`load_mdp` for a file written from a sparse MDP."""
    if "gamma" not in data:
        raise ValidationError(f"path {os.fspath(path)!r} lacks the key 'gamma'")
    gamma = as_float_array(data["gamma"], "gamma (in file)")
    if gamma.ndim != 0:
        raise ValidationError(f"gamma in {os.fspath(path)!r} must be a scalar, "
                              f"got shape {gamma.shape}")
    mdp = TabularMDP(_read_csr(data, "transition", path), float(gamma), data.get("initial"))
    if not with_reward:
        return mdp
    from .mdp import expected_reward

    if "reward" in data:
        reward = as_float_array(data["reward"], "reward (in file)")
    elif "reward_data" in data:
        reward = _read_csr(data, "reward", path)
    else:
        raise ValidationError(f"path {os.fspath(path)!r} has no 'reward' key")
    expected_reward(reward, mdp, name="reward (in file)")  # validates against the MDP
    return mdp, reward
