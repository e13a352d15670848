r"""Finite Markov decision processes without a reward.

A tabular MDP here is the tuple :math:`(\mathcal S, \mathcal A, \tau, \mu_0, \gamma)` of
finite state and action sets, a transition kernel, an initial-state distribution and a
discount factor. The reward is kept apart: everything :mod:`starc` measures compares
*several* rewards on one environment, so the environment is one object and rewards are
plain arrays.

Conventions
-----------
``transition[s, a, s']`` :math:`= \tau(s' \mid s, a)` has shape ``(S, A, S)`` and every
row ``transition[s, a, :]`` sums to one. A reward is an array ``R[s, a, s']`` of shape
``(S, A, S)``; state rewards ``(S,)`` (paid on the *current* state) and state-action
rewards ``(S, A)`` are broadcast to that shape by :func:`broadcast_reward`, and any number
of leading batch axes may come first.

Reward layout
    Every public function that takes a reward reads its layout the same way (one rule,
    in :func:`broadcast_reward`): the longest matching trailing form wins, ``(..., S, A,
    S)`` before ``(..., S, A)`` before ``(..., S)``. An array with the size of one
    ``(S, A, S)`` reward in another layout — a transposed ``(A, S, S)`` or ``(S, S, A)``
    array, a reshaped ``(S * A, S)`` one — or whose last three axes reorder ``(S, A,
    S)``, raises :class:`~starc.exceptions.ValidationError` naming the expected layout,
    instead of being read as a batch of state or state-action rewards. To pass such a
    batch on purpose, convert it first with the explicit keyword
    ``broadcast_reward(rewards, mdp, form="state")`` (or ``form="state_action"``) and
    pass the result.

The discounted return of a policy :math:`\pi` is

.. math::

    J_R(\pi) = \mathbb E\Big[\sum_{t=0}^\infty \gamma^t R(s_t, a_t, s_{t+1})\Big],
    \qquad s_0 \sim \mu_0,\; a_t \sim \pi(\cdot \mid s_t),\;
    s_{t+1} \sim \tau(\cdot \mid s_t, a_t),

computed exactly by :mod:`starc.solve`.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Sec. 2.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import numpy as np

from ._validation import (as_reward, check_distribution, check_gamma, check_memory,
                          check_transition)
from .exceptions import ValidationError

__all__ = ["TabularMDP", "as_mdp", "broadcast_reward", "expected_reward"]

_T = TypeVar("_T")


def _freeze(value):
    """Make the arrays of a memoised value read-only (in tuples too); return the value.

    A top-level array is returned as a read-only *view*: the flag of a view of a read-only
    array cannot be turned back on, unlike that of an array owning its data.
    """
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return value.view()
    if isinstance(value, tuple):
        for item in value:
            _freeze(item)
    return value


class TabularMDP:
    r"""A finite MDP without reward: transitions, discount and initial distribution.

    Instances are immutable: the arrays are validated once, copied to float64
    C-contiguous storage and made read-only.

    Parameters
    ----------
    transition : array_like of shape (S, A, S)
        ``transition[s, a, s']`` :math:`= \tau(s' \mid s, a)`; non-negative, each row
        ``transition[s, a, :]`` sums to 1 within 1e-10.
    gamma : float
        Discount factor in ``[0, 1)``.
    initial : array_like of shape (S,), optional
        Initial-state distribution :math:`\mu_0`; uniform when omitted.

    Attributes
    ----------
    n_states, n_actions : int
        :math:`|\mathcal S|` and :math:`|\mathcal A|`.
    transition : ndarray of shape (S, A, S)
    gamma : float
    initial : ndarray of shape (S,)

    Notes
    -----
    Two MDPs compare equal only if they are the same object; compare arrays explicitly
    (``np.array_equal(m1.transition, m2.transition)``) for value equality. Objects are
    hashable, and quantities derived from the (immutable) MDP alone — factorisations,
    compiled optimisation problems, norms of constant arrays — are memoised on it by
    :meth:`memo` under named keys.

    References
    ----------
    .. [1] Skalse et al. 2024, "STARC", Sec. 2 (the MDP tuple).

    Examples
    --------
    A two-state MDP where action 0 stays and action 1 switches:

    >>> import numpy as np
    >>> from starc import TabularMDP
    >>> T = np.zeros((2, 2, 2))
    >>> T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1.0
    >>> mdp = TabularMDP(T, gamma=0.9)
    >>> mdp.n_states, mdp.n_actions, mdp.initial
    (2, 2, array([0.5, 0.5]))
    """

    __slots__ = ("_transition", "_gamma", "_initial", "_memo", "__weakref__")

    def __init__(self, transition, gamma: float, initial=None):
        t = check_transition(transition)
        g = check_gamma(gamma)
        n = t.shape[0]
        if initial is None:
            mu = np.full(n, 1.0 / n)
        else:
            mu = check_distribution(initial, n, "initial")
        t = np.array(t, dtype=np.float64, order="C", copy=True)
        mu = np.array(mu, dtype=np.float64, order="C", copy=True)
        t.flags.writeable = False
        mu.flags.writeable = False
        # Expose views: a view of a read-only array cannot be made writeable again
        # (``mdp.transition.flags.writeable = True`` raises), unlike an array owning its data.
        t, mu = t.view(), mu.view()
        object.__setattr__(self, "_transition", t)
        object.__setattr__(self, "_gamma", g)
        object.__setattr__(self, "_initial", mu)
        object.__setattr__(self, "_memo", {})

    def __setattr__(self, key, value):
        raise AttributeError("TabularMDP is immutable; build a new one with "
                             "TabularMDP(transition, gamma, initial)")

    def __delattr__(self, key):
        raise AttributeError("TabularMDP is immutable")

    @property
    def transition(self) -> np.ndarray:
        """Read-only ``(S, A, S)`` transition tensor."""
        return self._transition

    @property
    def gamma(self) -> float:
        """Discount factor in ``[0, 1)``."""
        return self._gamma

    @property
    def initial(self) -> np.ndarray:
        """Read-only ``(S,)`` initial-state distribution."""
        return self._initial

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return self._transition.shape[0]

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return self._transition.shape[1]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape ``(S, A, S)`` of a reward on this MDP."""
        return self._transition.shape

    @property
    def support(self) -> np.ndarray:
        """Boolean ``(S, A, S)`` mask of possible transitions, ``tau(s'|s,a) > 0``."""
        return self.memo("support", lambda: self._transition > 0)

    def memo(self, key: str, compute: Callable[[], _T], *parts: Hashable,
             maxsize: int | None = None) -> _T:
        r"""Return the value memoised under ``(key, *parts)``, computing it on first use.

        Every quantity that depends on the MDP alone (a factorisation of
        :math:`I - \gamma P_\pi`, a compiled linear program, the norm of the all-ones
        reward, ...) is computed once per MDP and kept on it. Since the MDP is immutable,
        a memoised value never goes stale; it lives as long as the MDP.

        Parameters
        ----------
        key : str
            The name of the quantity, e.g. ``"ones_norm"`` or ``"policy_lu"``. Each
            name belongs to the one function that computes it.
        compute : callable
            Called without arguments, once, when ``(key, *parts)`` is not memoised.
        *parts : hashable
            What else the value depends on (a norm name, a policy's bytes, ...).
        maxsize : int, optional
            Keep at most this many values under ``key`` (the oldest is dropped first);
            unbounded when omitted.

        Returns
        -------
        object
            ``compute()``, or the value it returned before. Memoised values are
            **read-only**: arrays (also those inside tuples) are made non-writeable
            before they are stored, and other objects (solver handles, compiled
            problems) must be treated as shared state derived from the MDP and not be
            modified beyond their intended reuse.

        Raises
        ------
        ValidationError
            If ``key`` is not a non-empty str, ``maxsize`` is not a positive int, or
            ``parts`` are not hashable.

        Examples
        --------
        >>> import numpy as np
        >>> from starc import TabularMDP
        >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.9)
        >>> calls = []
        >>> def row_sums():
        ...     calls.append(1)
        ...     return mdp.transition.sum(axis=-1)
        >>> mdp.memo("row_sums", row_sums) is mdp.memo("row_sums", row_sums), len(calls)
        (True, 1)
        >>> mdp.memo("row_sums", row_sums).flags.writeable
        False
        """
        if not isinstance(key, str) or not key:
            raise ValidationError(f"key must be a non-empty str naming the memoised "
                                  f"quantity, got {key!r}")
        table = self._memo.get(key)
        if table is None:
            table = self._memo.setdefault(key, {})
        try:
            hit = table.get(parts, _MISSING)
        except TypeError:
            raise ValidationError(f"the parts of memo key {key!r} must be hashable, got "
                                  f"{tuple(type(p).__name__ for p in parts)}") from None
        if hit is not _MISSING:
            return hit
        if maxsize is not None and (isinstance(maxsize, bool) or not isinstance(maxsize, int)
                                    or maxsize < 1):
            raise ValidationError(f"maxsize must be a positive int or None, got {maxsize!r}")
        value = _freeze(compute())
        if maxsize is not None:
            while len(table) >= maxsize:
                table.pop(next(iter(table)))
        table[parts] = value
        return value

    def memo_size(self, key: str) -> int:
        """Number of values memoised under ``key`` (see :meth:`memo`).

        Examples
        --------
        >>> import numpy as np
        >>> from starc import TabularMDP
        >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.9)
        >>> mdp.memo_size("support"), mdp.support.shape, mdp.memo_size("support")
        (0, (2, 1, 2), 1)
        """
        if not isinstance(key, str) or not key:
            raise ValidationError(f"key must be a non-empty str naming the memoised "
                                  f"quantity, got {key!r}")
        return len(self._memo.get(key, ()))

    def memo_clear(self, key: str | None = None) -> None:
        """Drop the values memoised under ``key``, or all of them when ``key`` is None.

        The results of every function stay the same; only the next call recomputes what
        it memoises (benchmarks use this to time a cold call, long-lived programs to free
        memory).

        Examples
        --------
        >>> import numpy as np
        >>> from starc import TabularMDP
        >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.9)
        >>> _ = mdp.support
        >>> mdp.memo_clear()
        >>> mdp.memo_size("support")
        0
        """
        if key is None:
            self._memo.clear()
            return
        if not isinstance(key, str) or not key:
            raise ValidationError(f"key must be a non-empty str naming the memoised "
                                  f"quantity, or None, got {key!r}")
        self._memo.pop(key, None)

    def expectation(self, x: np.ndarray) -> np.ndarray:
        r"""Expectation over the next state of an array on transitions.

        .. math::

            (\mathbb E x)(\ldots, s, a) = \sum_{s'} \tau(s' \mid s, a)\, x(\ldots, s, a, s').

        The arithmetic core of :func:`expected_reward`, for arrays already in the
        ``(..., S, A, S)`` layout (e.g. from :func:`broadcast_reward`): only the shape is
        checked, the entries are not scanned, and NaN or inf entries (or an overflowing
        sum) propagate to the result. ``einsum`` streams both operands once, with no
        ``(..., S, A, S)`` temporary.

        Parameters
        ----------
        x : ndarray of shape (..., S, A, S)

        Returns
        -------
        ndarray of shape (..., S, A)

        Raises
        ------
        ValidationError
            If ``x`` is not an ndarray whose last three axes are ``(S, A, S)``.

        Examples
        --------
        >>> import numpy as np
        >>> from starc import TabularMDP
        >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.0)
        >>> mdp.expectation(np.array([[[1.0, 3.0]], [[0.0, 4.0]]]))
        array([[2.],
               [2.]])
        """
        if not isinstance(x, np.ndarray) or x.shape[-3:] != self.shape:
            raise ValidationError(f"x must be an ndarray of shape (..., {self.n_states}, "
                                  f"{self.n_actions}, {self.n_states}), got "
                                  f"{getattr(x, 'shape', type(x).__name__)}")
        # einsum beats a batched matmul of (1, S) by (S, 1) blocks by 3-4x for small MDPs
        # and matches it for large ones
        return np.einsum("...sat,sat->...sa", x, self._transition)

    def with_gamma(self, gamma: float) -> "TabularMDP":
        """Return the same environment with another discount factor."""
        return TabularMDP(self._transition, gamma, self._initial)

    def with_initial(self, initial) -> "TabularMDP":
        """Return the same environment with another initial-state distribution."""
        return TabularMDP(self._transition, self._gamma, initial)

    def __repr__(self) -> str:
        return (f"TabularMDP(n_states={self.n_states}, n_actions={self.n_actions}, "
                f"gamma={self._gamma})")

    def __reduce__(self):
        return (TabularMDP, (np.array(self._transition), self._gamma, np.array(self._initial)))


_MISSING = object()


def as_mdp(mdp, name: str = "mdp") -> TabularMDP:
    """Return ``mdp`` if it is a :class:`TabularMDP`; raise a ValidationError naming it if not.

    The one check of an MDP argument in starc: every public function that takes an MDP
    calls it first.

    Parameters
    ----------
    mdp : object
        The argument to check.
    name : str
        The argument's name, used in the error message.

    Returns
    -------
    TabularMDP
        ``mdp`` itself.

    Raises
    ------
    ValidationError
        If ``mdp`` is not a :class:`TabularMDP` (e.g. a bare transition array).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.mdp import TabularMDP, as_mdp
    >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.9)
    >>> as_mdp(mdp) is mdp
    True
    >>> as_mdp(mdp.transition, "env")
    Traceback (most recent call last):
        ...
    starc.exceptions.ValidationError: env must be a starc.TabularMDP, got ndarray; build one with starc.TabularMDP(transition, gamma)
    """
    if not isinstance(mdp, TabularMDP):
        raise ValidationError(f"{name} must be a starc.TabularMDP, got {type(mdp).__name__}; "
                              "build one with starc.TabularMDP(transition, gamma)")
    return mdp


def broadcast_reward(reward, mdp: TabularMDP, *, form: str = "auto",
                     name: str = "reward") -> np.ndarray:
    r"""Return a reward as a float64 array of shape ``(..., S, A, S)``.

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
        A transition reward :math:`R(s, a, s')`, a state-action reward :math:`R(s, a)`
        or a state reward :math:`R(s)` paid on the current state, with any leading
        batch axes.
    mdp : TabularMDP
    form : {"auto", "transition", "state_action", "state"}
        Which form ``reward`` is in. ``"auto"`` picks the longest trailing match
        (``(S, A, S)``, then ``(S, A)``, then ``(S,)``) and refuses a batch of lower
        forms that has the size of one ``(S, A, S)`` reward or a reordering of its axes
        (a likely mis-laid transition reward; see "Reward layout" in :mod:`starc.mdp`).
        Pass the form explicitly for a batch whose axes could be mistaken that way.
    name : str
        Name used in error messages.

    Returns
    -------
    ndarray of shape (..., S, A, S)
        :math:`R(s, a, s')`; broadcast copies for the lower forms.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, broadcast_reward
    >>> mdp = TabularMDP(np.full((2, 3, 2), 0.5), gamma=0.5)
    >>> broadcast_reward([1.0, 2.0], mdp)[1]
    array([[2., 2.],
           [2., 2.],
           [2., 2.]])
    """
    as_mdp(mdp)
    return as_reward(reward, mdp.n_states, mdp.n_actions, name=name, form=form)


def expected_reward(reward, mdp: TabularMDP) -> np.ndarray:
    r"""Expected immediate reward of each state-action pair.

    .. math::

        \bar R(s, a) = \sum_{s'} \tau(s' \mid s, a)\, R(s, a, s').

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
    mdp : TabularMDP

    Returns
    -------
    ndarray of shape (..., S, A)

    Raises
    ------
    ValidationError
        For a bad shape, or when the expectation exceeds the float64 range (rows may sum
        to :math:`1 + 10^{-10}`, so entries near :math:`1.8\times10^{308}` can overflow).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP, expected_reward
    >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.0)
    >>> expected_reward([[[1.0, 3.0]], [[0.0, 4.0]]], mdp)
    array([[2.],
           [2.]])
    """
    r = broadcast_reward(reward, mdp)
    with np.errstate(over="ignore", invalid="ignore"):
        out = mdp.expectation(r)
    if not np.all(np.isfinite(out)):
        # rows may sum to 1 + 1e-10: an average of entries near 1.8e308 can overflow
        raise ValidationError("reward is finite but its expectation over s' overflows "
                              "float64 (entries near 1.8e308); scale the reward down")
    return out


def reward_nbytes(mdp: TabularMDP, batch: tuple[int, ...] = ()) -> int:
    """Bytes of a float64 reward with the given batch shape on ``mdp``."""
    n = int(np.prod(batch, dtype=np.int64)) if batch else 1
    return n * mdp.n_states * mdp.n_actions * mdp.n_states * 8


def check_reward_memory(mdp: TabularMDP, batch: tuple[int, ...], what: str) -> None:
    """Refuse to allocate rewards of ``batch`` shape on ``mdp`` that do not fit in memory."""
    check_memory(tuple(batch) + mdp.shape, what)
