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

Large sparse MDPs
-----------------
A ``scipy.sparse`` matrix of shape ``(S*A, S)`` whose row ``s*A + a`` holds
:math:`\tau(\cdot \mid s, a)` makes a *sparse* MDP (THEORY §11): it is stored as a
canonical CSR array and never densified. Its rewards are ``(..., S, A)`` or ``(..., S)``
arrays, or one ``(S*A, S)`` sparse reward on the transition's support (values off the
support never affect a return: S'-redistribution); :func:`expected_reward` turns any of
them into :math:`\bar R(s, a)`. :mod:`starc.solve` solves sparse MDPs with sparse LU or
a preconditioned Krylov method, each with a certified error bound.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Sec. 2.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

import numpy as np

from . import _rules
from ._validation import (as_float_array, as_reward, available_memory_bytes,
                          check_distribution, check_gamma, check_memory,
                          check_sparse_transition, check_transition, is_sparse_matrix,
                          reward_form)
from .exceptions import ValidationError

__all__ = ["TabularMDP", "as_mdp", "as_dense_mdp", "broadcast_reward", "expected_reward",
           "DENSE_REWARD_MAX_BYTES"]

#: Largest dense ``(S, A, S)`` reward (in bytes, 256 MiB) accepted on a sparse MDP; beyond
#: it a transition reward must be given as a sparse ``(S*A, S)`` array on the support. The
#: one value for every sparse function (stated in ``starc._rules``).
DENSE_REWARD_MAX_BYTES = _rules.DENSE_REWARD_MAX_BYTES

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

    Supports sparse MDPs: a ``scipy.sparse`` ``(S*A, S)`` transition (THEORY §11).

    Instances are immutable: the arrays are validated once, copied to float64
    C-contiguous storage and made read-only.

    Parameters
    ----------
    transition : array_like of shape (S, A, S), or scipy.sparse matrix of shape (S*A, S)
        ``transition[s, a, s']`` :math:`= \tau(s' \mid s, a)`; non-negative, each row
        ``transition[s, a, :]`` sums to 1 within 1e-10. A ``scipy.sparse`` matrix or
        array of shape ``(S*A, S)`` (row ``s*A + a``) makes a sparse MDP (THEORY §11):
        it is validated entry by entry without densifying and stored as a canonical
        float64 CSR array (sorted indices, duplicates summed, explicit zeros dropped).
    gamma : float
        Discount factor in ``[0, 1)``.
    initial : array_like of shape (S,), optional
        Initial-state distribution :math:`\mu_0`; uniform when omitted.

    Attributes
    ----------
    n_states, n_actions : int
        :math:`|\mathcal S|` and :math:`|\mathcal A|`.
    transition : ndarray of shape (S, A, S), or scipy.sparse.csr_array of shape (S*A, S)
    gamma : float
    initial : ndarray of shape (S,)
    is_sparse : bool
        Whether the transition is stored sparse.

    Notes
    -----
    Two MDPs compare equal only if they are the same object; compare arrays explicitly
    (``np.array_equal(m1.transition, m2.transition)``) for value equality. Objects are
    hashable, and quantities derived from the (immutable) MDP alone — factorisations,
    compiled optimisation problems, norm weights — are memoised on it by :meth:`memo`
    under named keys.

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

    The same MDP in sparse form, row ``s*A + a`` of an ``(S*A, S)`` matrix:

    >>> import scipy.sparse as sp
    >>> sparse = TabularMDP(sp.csr_array(T.reshape(4, 2)), gamma=0.9)
    >>> sparse.is_sparse, sparse.shape, sparse.nnz
    (True, (2, 2, 2), 4)
    """

    __slots__ = ("_transition", "_gamma", "_initial", "_memo", "_dims", "__weakref__")

    def __init__(self, transition, gamma: float, initial=None):
        if is_sparse_matrix(transition):
            t = check_sparse_transition(transition)  # owns read-only canonical arrays
            n = t.shape[1]
            dims = (n, t.shape[0] // n)
        else:
            t = check_transition(transition)
            n = t.shape[0]
            dims = (n, t.shape[1])
            t = np.array(t, dtype=np.float64, order="C", copy=True)
            t.flags.writeable = False
            # Expose a view: a view of a read-only array cannot be made writeable again
            # (``mdp.transition.flags.writeable = True`` raises), unlike an array owning
            # its data.
            t = t.view()
        g = check_gamma(gamma)
        if initial is None:
            mu = np.full(n, 1.0 / n)
        else:
            mu = check_distribution(initial, n, "initial")
        mu = np.array(mu, dtype=np.float64, order="C", copy=True)
        mu.flags.writeable = False
        mu = mu.view()
        object.__setattr__(self, "_dims", dims)
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
    def transition(self):
        """Read-only ``(S, A, S)`` transition tensor; for a sparse MDP the ``(S*A, S)`` CSR
        array (row ``s*A + a``) whose data, indices and indptr are read-only."""
        return self._transition

    @property
    def is_sparse(self) -> bool:
        """Whether the transition is a sparse ``(S*A, S)`` CSR array (THEORY §11)."""
        return not isinstance(self._transition, np.ndarray)

    @property
    def nnz(self) -> int:
        """Number of stored transition probabilities (non-zeros for a dense MDP)."""
        if self.is_sparse:
            return int(self._transition.nnz)
        return int(np.count_nonzero(self._transition))

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
        return self._dims[0]

    @property
    def n_actions(self) -> int:
        """Number of actions ``A``."""
        return self._dims[1]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape ``(S, A, S)`` of a reward on this MDP."""
        return (self._dims[0], self._dims[1], self._dims[0])

    @property
    def support(self) -> np.ndarray:
        """Boolean ``(S, A, S)`` mask of possible transitions, ``tau(s'|s,a) > 0``.

        Dense MDPs only; the support of a sparse MDP is the pattern of its ``(S*A, S)``
        transition (``mdp.transition.indices`` per row).
        """
        if self.is_sparse:
            raise ValidationError("mdp.support is a dense (S, A, S) mask; for a sparse MDP "
                                  "use the sparsity pattern of mdp.transition ((S*A, S) CSR)")
        return self.memo("support", lambda: self._transition > 0)

    def to_sparse(self) -> "TabularMDP":
        """The same MDP with its transition stored as a sparse ``(S*A, S)`` CSR array.

        Returns ``self`` when it is already sparse.

        Examples
        --------
        >>> import numpy as np
        >>> from starc import TabularMDP
        >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.9).to_sparse()
        >>> mdp.is_sparse, mdp.transition.shape
        (True, (2, 2))
        """
        if self.is_sparse:
            return self
        import scipy.sparse as sp

        s, a = self._dims
        return TabularMDP(sp.csr_array(self._transition.reshape(s * a, s)), self._gamma,
                          self._initial)

    def to_dense(self, *, max_bytes: int | None = None) -> "TabularMDP":
        """The same MDP with a dense ``(S, A, S)`` transition tensor.

        Parameters
        ----------
        max_bytes : int, optional
            Refuse when the dense tensor needs more bytes; the default is the machine's
            physical memory (the guard of every allocation in starc).

        Raises
        ------
        ValidationError
            When ``8 S^2 A`` bytes exceed ``max_bytes``; the message gives the size.

        Examples
        --------
        >>> import numpy as np
        >>> from starc import TabularMDP
        >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.9)
        >>> mdp.to_sparse().to_dense().transition.shape
        (2, 1, 2)
        """
        if not self.is_sparse:
            return self
        s, a = self._dims
        need = 8 * s * a * s
        limit = available_memory_bytes() if max_bytes is None else int(max_bytes)
        if need > limit:
            raise ValidationError(
                f"to_dense would need {need:,} bytes ({need / 2**30:.1f} GiB) for the "
                f"({s}, {a}, {s}) transition tensor, more than max_bytes = {limit:,}; keep "
                "the MDP sparse (the solvers in starc.solve support sparse MDPs)")
        check_memory((s, a, s), "to_dense", copies=1.0)
        dense = self._transition.toarray().reshape(s, a, s)
        return TabularMDP(dense, self._gamma, self._initial)

    def memo(self, key: str, compute: Callable[[], _T], *parts: Hashable,
             maxsize: int | None = None) -> _T:
        r"""Return the value memoised under ``(key, *parts)``, computing it on first use.

        Every quantity that depends on the MDP alone (a factorisation of
        :math:`I - \gamma P_\pi`, a compiled linear program, the norm weights of a
        canonical's profile, ...) is computed once per MDP and kept on it. Since the MDP is immutable,
        a memoised value never goes stale; it lives as long as the MDP.

        Parameters
        ----------
        key : str
            The name of the quantity, e.g. ``"profile_weights"`` or ``"policy_lu"``.
            Each name belongs to the one function that computes it.
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
            If ``key`` is not a non-empty str, ``compute`` is not callable, ``maxsize``
            is not a positive int, or ``parts`` are not hashable.

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
        if not callable(compute):
            raise ValidationError(f"compute must be a callable without arguments, got "
                                  f"{type(compute).__name__}")
        if maxsize is not None and (isinstance(maxsize, bool) or not isinstance(maxsize, int)
                                    or maxsize < 1):
            raise ValidationError(f"maxsize must be a positive int or None, got {maxsize!r}")
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
        value = _freeze(compute())
        with _MEMO_LOCK:  # threads may share an MDP (starc.regret runs solves concurrently)
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
        if self.is_sparse:
            raise ValidationError("mdp.expectation takes dense (..., S, A, S) arrays; on a "
                                  "sparse MDP use starc.expected_reward(reward, mdp)")
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
        extra = f", sparse, nnz={self.nnz}" if self.is_sparse else ""
        return (f"TabularMDP(n_states={self.n_states}, n_actions={self.n_actions}, "
                f"gamma={self._gamma}{extra})")

    def __reduce__(self):
        t = self._transition.copy() if self.is_sparse else np.array(self._transition)
        return (TabularMDP, (t, self._gamma, np.array(self._initial)))


_MISSING = object()
#: Guards the insertion and eviction of memoised values (threads may share an MDP).
_MEMO_LOCK = threading.Lock()


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


def as_dense_mdp(mdp, what: str, *, instead: str = "", name: str = "mdp") -> TabularMDP:
    """:func:`as_mdp` for functions that need the dense ``(S, A, S)`` transition.

    Parameters
    ----------
    mdp : object
        The argument to check.
    what : str
        The function's name, for the message.
    instead : str, optional
        What to use for a sparse MDP, appended to the message.
    name : str
        The argument's name.

    Returns
    -------
    TabularMDP
        ``mdp`` itself, a dense MDP.

    Raises
    ------
    ValidationError
        If ``mdp`` is not a TabularMDP, or is sparse (THEORY §11: a sparse MDP is never
        densified silently).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.mdp import TabularMDP, as_dense_mdp
    >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.9)
    >>> as_dense_mdp(mdp, "f") is mdp
    True
    >>> as_dense_mdp(mdp.to_sparse(), "f", instead="use g")
    Traceback (most recent call last):
        ...
    starc.exceptions.ValidationError: f does not support sparse MDPs (mdp.is_sparse); use g
    """
    as_mdp(mdp, name)
    if mdp.is_sparse:
        hint = instead or ("convert a small one with mdp.to_dense(); the solvers of "
                           "starc.solve support sparse MDPs")
        raise ValidationError(f"{what} does not support sparse MDPs ({name}.is_sparse); {hint}")
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
    if mdp.is_sparse:
        raise ValidationError(
            "broadcast_reward builds a dense (..., S, A, S) array, which a sparse MDP never "
            "does; use starc.expected_reward(reward, mdp) for the (..., S, A) expected reward")
    return as_reward(reward, mdp.n_states, mdp.n_actions, name=name, form=form)


def expected_reward(reward, mdp: TabularMDP, *, name: str = "reward") -> np.ndarray:
    r"""Expected immediate reward of each state-action pair.

    .. math::

        \bar R(s, a) = \sum_{s'} \tau(s' \mid s, a)\, R(s, a, s').

    Supports sparse MDPs: there ``reward`` is ``(..., S, A)``, ``(..., S)``, a
    ``scipy.sparse`` ``(S*A, S)`` array (row ``s*A + a``; entries off the transition's
    support are ignored, S'-redistribution, THEORY §11), or a dense ``(S, A, S)`` array
    of at most :data:`DENSE_REWARD_MAX_BYTES` bytes.

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S), or sparse (S*A, S)
    mdp : TabularMDP
    name : str
        Name used in error messages.

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

    On a sparse MDP, a sparse reward on the support:

    >>> import scipy.sparse as sp
    >>> R = sp.csr_array(np.array([[1.0, 3.0], [0.0, 4.0]]))
    >>> expected_reward(R, mdp.to_sparse())
    array([[2.],
           [2.]])
    """
    as_mdp(mdp)
    if mdp.is_sparse:
        return _sparse_expected_reward(reward, mdp, name)
    if is_sparse_matrix(reward):
        raise ValidationError(f"{name} is a scipy.sparse matrix but the MDP is dense; pass a "
                              "dense array, or make the MDP sparse with mdp.to_sparse()")
    r = broadcast_reward(reward, mdp, name=name)
    with np.errstate(over="ignore", invalid="ignore"):
        out = mdp.expectation(r)
    if not np.all(np.isfinite(out)):
        # rows may sum to 1 + 1e-10: an average of entries near 1.8e308 can overflow
        raise ValidationError("reward is finite but its expectation over s' overflows "
                              "float64 (entries near 1.8e308); scale the reward down")
    return out


def _sparse_expected_reward(reward, mdp: TabularMDP, name: str) -> np.ndarray:
    """``rbar (..., S, A)`` of a reward on a sparse MDP, never densifying the transition."""
    s, a = mdp.n_states, mdp.n_actions
    t = mdp.transition
    if is_sparse_matrix(reward):
        import scipy.sparse as sp

        if reward.shape != (s * a, s):
            raise ValidationError(
                f"a sparse {name} must have the transition's shape (S*A, S) = {(s * a, s)} "
                f"(row s*A + a holds R(s, a, .)), got {reward.shape}")
        if reward.dtype.kind not in "biuf":
            raise ValidationError(f"{name} must be real-valued, got dtype {reward.dtype}")
        r = sp.csr_array(reward, dtype=np.float64)
        if not np.all(np.isfinite(r.data)):
            n_bad = int(r.data.size - np.count_nonzero(np.isfinite(r.data)))
            raise ValidationError(f"{name} contains {n_bad} NaN or infinite value(s); every "
                                  "entry must be finite")
        with np.errstate(over="ignore", invalid="ignore"):
            rbar = np.asarray(t.multiply(r).sum(axis=1)).reshape(s, a)
    else:
        shape = np.shape(reward) if isinstance(reward, np.ndarray) else None
        if shape is not None and len(shape) >= 3 and shape[-3:] == (s, a, s):
            need = 8 * int(np.prod(shape, dtype=np.int64))
            if need > DENSE_REWARD_MAX_BYTES:
                raise ValidationError(
                    f"{name} is a dense array of shape {shape}, {need:,} bytes, more than "
                    f"DENSE_REWARD_MAX_BYTES = {DENSE_REWARD_MAX_BYTES:,} on a sparse MDP; "
                    f"give an (S, A) reward or a scipy.sparse (S*A, S) = {(s * a, s)} reward "
                    "on the transition's support")
        r = as_float_array(reward, name, min_ndim=1)
        kind = reward_form(r.shape, s, a, "auto", name)
        row_sums = mdp.memo("sparse_row_sums", lambda: (t @ np.ones(s)).reshape(s, a))
        with np.errstate(over="ignore", invalid="ignore"):
            if kind == "state_action":
                rbar = r * row_sums
            elif kind == "state":
                rbar = r[..., :, None] * row_sums
            else:
                need = 8 * int(np.prod(r.shape, dtype=np.int64))
                if need > DENSE_REWARD_MAX_BYTES:
                    raise ValidationError(
                        f"{name} has shape {r.shape}, {need:,} bytes as a dense array, more "
                        f"than DENSE_REWARD_MAX_BYTES = {DENSE_REWARD_MAX_BYTES:,} on a sparse "
                        "MDP; give a scipy.sparse (S*A, S) reward on the support")
                flat = r.reshape(r.shape[:-3] + (s * a, s))
                rows = np.repeat(np.arange(s * a), np.diff(t.indptr))
                rbar = np.zeros(r.shape[:-3] + (s * a,))
                prod = flat[..., rows, t.indices] * t.data
                for idx in np.ndindex(r.shape[:-3]):
                    rbar[idx] = np.bincount(rows, weights=prod[idx], minlength=s * a)
                rbar = rbar.reshape(r.shape[:-3] + (s, a))
    if not np.all(np.isfinite(rbar)):
        raise ValidationError(f"{name} is finite but its expectation over s' overflows "
                              "float64 (entries near 1.8e308); scale the reward down")
    return rbar


def reward_nbytes(mdp: TabularMDP, batch: tuple[int, ...] = ()) -> int:
    """Bytes of a float64 reward with the given batch shape on ``mdp``."""
    n = int(np.prod(batch, dtype=np.int64)) if batch else 1
    return n * mdp.n_states * mdp.n_actions * mdp.n_states * 8


def check_reward_memory(mdp: TabularMDP, batch: tuple[int, ...], what: str) -> None:
    """Refuse to allocate rewards of ``batch`` shape on ``mdp`` that do not fit in memory."""
    check_memory(tuple(batch) + mdp.shape, what)
