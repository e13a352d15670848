r"""Tabulate a reward given as a plain Python callable on numpy arrays.

A learned or hand-written reward is often a function, not an array. On a tabular MDP
with :math:`S` states and :math:`A` actions, :func:`tabulate_callable` evaluates it on
every transition and returns the array :math:`R[s, a, s']` of shape ``(S, A, S)`` that
every other function of :mod:`starc` takes:

.. math::

    R[s, a, s'] = f\big(\phi_S(s), \phi_A(a), \phi_S(s')\big)
    \qquad \text{or} \qquad
    f\big(\phi_S(s), \phi_A(a), \phi_S(s'), d(s')\big),

with :math:`\phi_S`, :math:`\phi_A` the *features* fed to the function (indices, one-hot
rows or a user array with one row per state or action) and :math:`d(s') \in \{0, 1\}`
the episode-termination flag of the imitation library's reward nets [1]_.

The transitions are enumerated in the order ``k = (s * A + a) * S + s'`` and passed in
batches, so a vectorized function is called ``ceil(S * A * S / batch_size)`` times. What
the function returns is checked: it must be one finite number per transition, else
:class:`~starc.ValidationError` names the first offending transition.

:mod:`starc.adapters.torch` does the same for torch modules.

References
----------
.. [1] Gleave, Taufeeque, Rocamonde, Jenner, Wang, Toyer, Ernestus, Belrose, Emmons,
   Russell. "imitation: Clean Imitation Learning Implementations". arXiv 2211.11972
   (2022); ``imitation.rewards.reward_nets.RewardNet.forward(state, action,
   next_state, done)``.
.. [2] Skalse et al. "STARC". ICLR 2024, Sec. 2 (rewards :math:`R: S \times A \times S \to
   \mathbb R`).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ValidationError
from ._common import (batch_size_for, check_model_output, row_width, split_index,
                      tabulation_inputs)

__all__ = ["tabulate_callable"]


def tabulate_callable(fn, mdp, *, signature: str = "sas", state_features="index",
                      action_features="index", terminal=None, batch_size: int | None = None,
                      vectorized: bool = True) -> np.ndarray:
    r"""Evaluate a numpy reward function on every transition of a tabular MDP.

    .. math::

        R[s, a, s'] = f\big(\phi_S(s), \phi_A(a), \phi_S(s')\,[, d(s')]\big),
        \qquad (s, a, s') \in S \times A \times S.

    Parameters
    ----------
    fn : callable
        ``fn(states, actions, next_states) -> (n,)`` (``signature="sas"``) or
        ``fn(states, actions, next_states, dones) -> (n,)`` (``"imitation"``), on numpy
        arrays whose first axis is the batch. With ``vectorized=False`` it is called on
        one transition at a time (feature rows without the batch axis) and returns a
        number.
    mdp : TabularMDP or (int, int)
        The MDP, or just ``(n_states, n_actions)``.
    signature : {"sas", "imitation"}, default "sas"
        Whether ``fn`` also takes the ``done`` flags (a float array of zeros and ones),
        as the imitation library's ``RewardNet.forward`` does.
    state_features : {"index", "onehot"} or array_like of shape (S, ...), default "index"
        What ``fn`` receives for a state: its integer index (``states`` of shape ``(n,)``),
        its one-hot row (``(n, S)``), or row ``s`` of a user array (``(n, ...)``).
    action_features : {"index", "onehot"} or array_like of shape (A, ...), default "index"
        The same for actions.
    terminal : array_like of bool, shape (S,), optional
        ``done = terminal[s']`` (all ``False`` by default).
    batch_size : int, optional
        Transitions per call; by default about :math:`2^{21}` input numbers per call.
    vectorized : bool, default True
        ``False`` calls ``fn`` once per transition (slow; a reference for testing).

    Returns
    -------
    ndarray of shape (S, A, S)
        float64 rewards :math:`R[s, a, s']`.

    Raises
    ------
    ValidationError
        When ``fn`` returns the wrong shape, a non-numeric type, NaN or inf (the message
        names ``fn`` and the first bad transition), or an option is invalid; before
        allocating, when the table (or the one-hot features) would not fit in memory.

    See Also
    --------
    starc.adapters.torch.tabulate : the same for torch modules.

    References
    ----------
    .. [1] Gleave et al. 2022, "imitation", ``RewardNet.forward`` (the ``"imitation"``
       signature).
    .. [2] Skalse et al. 2024 ("STARC"), Sec. 2 (the reward :math:`R(s, a, s')`).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import chain
    >>> from starc.adapters import tabulate_callable
    >>> mdp, _ = chain(3)
    >>> R = tabulate_callable(lambda s, a, s2: 1.0 * (s2 == 2), mdp)
    >>> R.shape, float(R[:, :, 2].min()), float(R[:, :, :2].max())
    ((3, 2, 3), 1.0, 0.0)
    """
    if not callable(fn):
        raise ValidationError(f"fn must be callable, got {type(fn).__name__}")
    n_states, n_actions, fs, fa, done = tabulation_inputs(
        mdp, signature, state_features, action_features, terminal, "tabulate_callable")
    if not isinstance(vectorized, (bool, np.bool_)):
        raise ValidationError(f"vectorized must be True or False, got {vectorized!r}")
    total = n_states * n_actions * n_states
    out = np.empty(total)
    if not vectorized:
        _tabulate_one_by_one(fn, out, fs, fa, done, signature, n_states, n_actions)
        return out.reshape(n_states, n_actions, n_states)
    step = batch_size_for(batch_size, total, row_width(fs, fs, fa))
    for start in range(0, total, step):
        stop = min(total, start + step)
        s, a, s2 = split_index(np.arange(start, stop, dtype=np.int64), n_states, n_actions)
        args = (fs[s], fa[a], fs[s2])
        if signature == "imitation":
            args = args + (done[s2],)
        val = np.asarray(fn(*args))
        out[start:stop] = check_model_output(val, stop - start, start, n_states, n_actions,
                                             name="fn")
    return out.reshape(n_states, n_actions, n_states)


def _tabulate_one_by_one(fn, out, fs, fa, done, signature, n_states, n_actions) -> None:
    k = 0
    for s in range(n_states):
        for a in range(n_actions):
            for s2 in range(n_states):
                args = (fs[s], fa[a], fs[s2])
                if signature == "imitation":
                    args = args + (done[s2],)
                val = np.asarray(fn(*args))
                if val.size != 1:
                    raise ValidationError(f"fn returned shape {val.shape} for the single "
                                          f"transition (s={s}, a={a}, s'={s2}); with "
                                          "vectorized=False it must return one number")
                out[k] = check_model_output(val.reshape(1), 1, k, n_states, n_actions,
                                            name="fn")[0]
                k += 1
