"""Helpers shared by the tabulation adapters (no optional imports here).

Nothing in this module is public API. It turns the ``state_features`` /
``action_features`` / ``terminal`` options into arrays, enumerates the
``S * A * S`` transitions of an MDP in batches, and checks what a reward model
returned.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_float_array, check_choice, check_memory, check_positive_int
from ..exceptions import MissingDependencyError, ValidationError
from ..mdp import TabularMDP

#: Names accepted by ``state_features`` and ``action_features``.
FEATURE_KINDS = ("onehot", "index")

#: Model signatures understood by the tabulation functions.
SIGNATURES = ("imitation", "sas")

#: Upper bound on the number of input numbers in one batch (8 MiB of float32). Batches
#: stay in cache and below the allocator's mmap threshold: larger ones are several times
#: slower per transition on CPU (page faults on every fresh buffer).
_BATCH_FLOATS = 2**21


def mdp_shape(mdp) -> tuple[int, int]:
    """``(S, A)`` of a :class:`~starc.TabularMDP` or of an ``(n_states, n_actions)`` pair."""
    if isinstance(mdp, TabularMDP):
        return mdp.n_states, mdp.n_actions
    if (isinstance(mdp, tuple) and len(mdp) == 2
            and all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in mdp)):
        return (check_positive_int(mdp[0], "mdp[0] (n_states)"),
                check_positive_int(mdp[1], "mdp[1] (n_actions)"))
    raise ValidationError(f"mdp must be a starc.TabularMDP or an (n_states, n_actions) pair of "
                          f"ints, got {type(mdp).__name__}")


def features(spec, n: int, name: str) -> np.ndarray:
    """Per-item model inputs: one-hot rows ``(n, n)``, indices ``(n,)`` or a user array.

    A user array must have shape ``(n, ...)``: row ``i`` is the input of state (or
    action) ``i``.
    """
    if isinstance(spec, str):
        check_choice(spec, name, FEATURE_KINDS)
        if spec == "onehot":
            check_memory((n, n), f"{name}='onehot' (one row of {n} numbers per item)")
            return np.eye(n)
        return np.arange(n, dtype=np.int64)
    arr = np.asarray(spec)
    if arr.dtype.kind in "iu" and arr.ndim >= 1:
        out = arr.astype(np.int64)
    else:
        out = as_float_array(spec, name, min_ndim=1)
    if out.shape[0] != n:
        raise ValidationError(f"{name} must have shape ({n}, ...) with one row per item, got "
                              f"shape {out.shape}")
    return out


def terminal_flags(terminal, n_states: int) -> np.ndarray:
    """The ``done`` flag of each next state: a float ``(S,)`` array of zeros and ones."""
    if terminal is None:
        return np.zeros(n_states)
    arr = np.asarray(terminal)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValidationError(f"terminal must be a boolean array of shape ({n_states},), got "
                              f"dtype {arr.dtype}")
    if arr.shape != (n_states,):
        raise ValidationError(f"terminal must have shape ({n_states},) (one flag per next "
                              f"state), got {arr.shape}")
    if arr.dtype.kind != "b" and not np.all((arr == 0) | (arr == 1)):
        raise ValidationError("terminal must hold booleans (or 0/1 values)")
    return arr.astype(np.float64)


def check_table_memory(n_states: int, n_actions: int, what: str) -> None:
    """Refuse, before anything is allocated, a reward table ``(S, A, S)`` beyond memory."""
    check_memory((n_states, n_actions, n_states), f"{what}: the reward table R[s, a, s']")


def tabulation_inputs(mdp, signature: str, state_features, action_features, terminal,
                      what: str):
    """The options every tabulation function takes, checked in one order:
    ``(S, A, state inputs, action inputs, done flags)``.

    ``what`` names the caller in the memory error of an ``(S, A, S)`` table too large.
    """
    n_states, n_actions = mdp_shape(mdp)
    check_table_memory(n_states, n_actions, what)
    check_choice(signature, "signature", SIGNATURES)
    fs = features(state_features, n_states, "state_features")
    fa = features(action_features, n_actions, "action_features")
    return n_states, n_actions, fs, fa, terminal_flags(terminal, n_states)


def require(module: str, needed_by: str, hint: str):
    """Import and return the optional dependency ``module``, or raise
    :class:`~starc.MissingDependencyError` saying who needs it and how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(f"{needed_by} needs {module}, which is not installed "
                                     f"({err}); {hint}") from None


def batch_size_for(batch_size, total: int, width: int) -> int:
    """Transitions per model call: the user's value (at most ``total``, and refused when
    one batch of inputs would not fit in memory), or a size bounded by memory."""
    if batch_size is None:
        return int(max(1, min(total, _BATCH_FLOATS // max(1, width))))
    step = min(check_positive_int(batch_size, "batch_size"), max(1, total))
    check_memory((step, width), f"batch_size={batch_size} (one batch of model inputs)")
    return step


def row_width(*arrays: np.ndarray) -> int:
    """Number of input numbers per transition for the given per-item feature arrays."""
    return int(sum(int(np.prod(a.shape[1:], dtype=np.int64)) for a in arrays)) + 1


def split_index(k: np.ndarray, n_states: int, n_actions: int):
    """``(s, a, s')`` of flat transition indices ``k = (s * A + a) * S + s'``."""
    s = k // (n_actions * n_states)
    a = (k // n_states) % n_actions
    s2 = k % n_states
    return s, a, s2


def check_model_output(out: np.ndarray, n: int, start: int, n_states: int, n_actions: int,
                       name: str = "model") -> np.ndarray:
    """Require a finite float ``(n,)`` output; name the first bad transition otherwise."""
    if out.dtype == object or out.dtype.kind not in "biuf":
        raise ValidationError(f"{name} returned dtype {out.dtype}; it must return real numbers")
    if out.shape != (n,):
        hint = ""
        if out.shape == (n, 1):
            hint = " (squeeze the last axis: reward models return one number per transition)"
        raise ValidationError(f"{name} returned shape {out.shape} for a batch of {n} "
                              f"transitions; expected ({n},){hint}")
    out = out.astype(np.float64, copy=False)
    finite = np.isfinite(out)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        s, a, s2 = split_index(np.int64(start + bad), n_states, n_actions)
        count = int(n - finite.sum())
        raise ValidationError(f"{name} returned {count} NaN or infinite value(s) in a batch of "
                              f"{n}; the first at transition (s={int(s)}, a={int(a)}, "
                              f"s'={int(s2)}): {out[bad]!r}")
    return out
