"""Argument checks shared by every public function.

Every public function of :mod:`starc` converts and checks its inputs here, in
its first lines, and raises :class:`~starc.exceptions.ValidationError` with a
message that names the argument and says how to fix it. Nothing in this module
is public API.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Sequence

import numpy as np

from ._rules import STOCHASTIC_ATOL
from .exceptions import ValidationError

#: Reward forms understood by :func:`as_reward`.
REWARD_FORMS = ("auto", "state", "state_action", "transition")


def as_float_array(x, name: str, *, ndim: int | None = None, min_ndim: int | None = None,
                   allow_nonfinite: bool = False, copy: bool = False) -> np.ndarray:
    """Convert ``x`` to a C-contiguous float64 array, rejecting what cannot be one.

    Object, string, complex and boolean-free-form inputs raise; NaN and inf raise
    unless ``allow_nonfinite``.
    """
    if isinstance(x, str):
        raise ValidationError(f"{name} must be a numeric array, got the string {x!r}")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise ValidationError(f"{name} must be a numeric array: {err}") from None
    if arr.dtype == object:
        raise ValidationError(
            f"{name} has dtype object; pass a numeric (float64) array, not a ragged or "
            "mixed-type sequence")
    if arr.dtype.kind in "cUSVMm":
        raise ValidationError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if copy or arr.dtype != np.float64 or not arr.flags.c_contiguous:
        # the conversion allocates: a broadcast view (zero strides) may be far larger
        # than the memory behind it, so refuse before allocating
        check_memory(arr.shape, name)
    arr = np.array(arr, dtype=np.float64, order="C", copy=copy or None)
    if ndim is not None and arr.ndim != ndim:
        raise ValidationError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValidationError(
            f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    if not allow_nonfinite and not np.all(np.isfinite(arr)):
        n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValidationError(f"{name} contains {n_bad} NaN or infinite value(s); "
                              "every entry must be finite")
    return arr


def check_gamma(gamma, name: str = "gamma") -> float:
    """Return ``gamma`` as a float in ``[0, 1)``."""
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        if isinstance(gamma, np.ndarray) and gamma.ndim == 0 and gamma.dtype.kind in "fiu":
            gamma = gamma.item()
        else:
            raise ValidationError(f"{name} must be a real number in [0, 1), got {gamma!r}")
    gamma = float(gamma)
    if not (0.0 <= gamma < 1.0):
        raise ValidationError(
            f"{name} must lie in [0, 1) for infinite-horizon discounted returns, got {gamma}")
    return gamma


#: Largest count an argument may give: the largest array index of this platform.
MAX_COUNT = int(np.iinfo(np.intp).max)


def check_positive_int(value, name: str, *, minimum: int = 1,
                       maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` in ``[minimum, maximum]``.

    ``maximum`` defaults to :data:`MAX_COUNT`: a count, size or number of samples beyond
    the largest array index can never be allocated or looped over, so it is refused here,
    before any allocation (callers that allocate ``value`` items also call
    :func:`check_memory` with the real shape).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValidationError(f"{name} must be an integer >= {minimum}, got {value}")
    top = MAX_COUNT if maximum is None else int(maximum)
    if value > top:
        raise ValidationError(f"{name} must be an integer <= {top:,}, got {value:,}"
                              + ("" if maximum is not None else
                                 " (larger than any array this platform can index)"))
    return value


def check_real(value, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a finite float inside the given (open or closed) bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
            value = value.item()
        else:
            raise ValidationError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValidationError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValidationError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValidationError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def check_choice(value, name: str, options: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``options``; otherwise list the valid ones."""
    if not isinstance(value, str) or value not in options:
        valid = ", ".join(repr(o) for o in options)
        raise ValidationError(f"unknown {name} {value!r}; valid values are: {valid}")
    return value


def check_seed(seed) -> np.random.Generator:
    """Turn ``seed`` (None, an int, a SeedSequence or a Generator) into a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValidationError(
            f"seed must be None, a non-negative int, a numpy SeedSequence or a numpy "
            f"Generator, got {seed!r}")
    if seed < 0:
        raise ValidationError(f"seed must be non-negative, got {seed}")
    return np.random.default_rng(int(seed))


def available_memory_bytes() -> int:
    """Physical memory of this machine in bytes (a generous upper bound on what we may use)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 2**45


def check_memory(shape: Iterable[int], what: str, *, itemsize: int = 8,
                 copies: float = 1.0) -> None:
    """Refuse, before allocating, an array of ``shape`` that would not fit in memory."""
    n = 1
    for d in shape:
        n *= int(d)
    need = n * itemsize * copies
    have = available_memory_bytes()
    if need > have:
        raise ValidationError(
            f"{what} would need {need:,.0f} bytes ({need / 2**30:.1f} GiB) for an array of "
            f"shape {tuple(int(d) for d in shape)}, more than this machine's "
            f"{have / 2**30:.1f} GiB of memory; use a smaller problem or a batched sweep")


def check_stochastic(p: np.ndarray, name: str, *, axis: int = -1) -> np.ndarray:
    """Check that ``p`` is non-negative and sums to 1 along ``axis`` (within 1e-10).

    The entries are checked to lie in ``[0, 1]`` (NaN included, as not in it) *before*
    they are summed, so a huge entry is reported as such instead of overflowing the sum.
    """
    if np.any(p < 0):
        idx = np.unravel_index(int(np.argmin(p)), p.shape)
        raise ValidationError(
            f"{name} has a negative entry {p[idx]:.3g} at index {tuple(int(i) for i in idx)}; "
            "probabilities must be >= 0")
    outside = ~(p <= 1.0 + STOCHASTIC_ATOL)
    if np.any(outside):
        idx = np.unravel_index(int(np.argmax(outside)), p.shape)
        raise ValidationError(
            f"{name} has the entry {float(p[idx])!r} at index {tuple(int(i) for i in idx)}; "
            "probabilities must lie in [0, 1] (and each row sum to 1)")
    sums = p.sum(axis=axis)
    err = np.abs(sums - 1.0)
    if np.any(err > STOCHASTIC_ATOL):
        idx = np.unravel_index(int(np.argmax(err)), err.shape)
        raise ValidationError(
            f"{name} must sum to 1 along its last axis (within {STOCHASTIC_ATOL:g}); the "
            f"entry at index {tuple(int(i) for i in idx)} sums to {float(sums[idx])!r}. "
            "Normalise it first, e.g. p / p.sum(axis=-1, keepdims=True)")
    return p


def check_transition(transition) -> np.ndarray:
    """Return a validated ``(S, A, S)`` transition tensor."""
    t = as_float_array(transition, "transition", ndim=3)
    n_states, n_actions, n_next = t.shape
    if n_states == 0 or n_actions == 0:
        raise ValidationError(f"transition must have at least one state and one action, "
                              f"got shape {t.shape}")
    if n_next != n_states:
        raise ValidationError(
            f"transition must have shape (S, A, S) with transition[s, a, s'] = P(s' | s, a); "
            f"got shape {t.shape}, whose first and last axes differ")
    return check_stochastic(t, "transition")


def check_distribution(p, n: int, name: str) -> np.ndarray:
    """Return a validated probability vector of length ``n``."""
    arr = as_float_array(p, name, ndim=1)
    if arr.shape[0] != n:
        raise ValidationError(f"{name} must have length {n}, got shape {arr.shape}")
    return check_stochastic(arr, name)


def reward_form(shape: tuple[int, ...], n_states: int, n_actions: int, form: str = "auto",
                name: str = "reward") -> str:
    """Name the form of a reward of ``shape``: 'transition', 'state_action' or 'state'.

    This is the one place where reward layouts are read. In ``"auto"`` mode the longest
    matching trailing form wins: ``(S, A, S)`` before ``(S, A)`` before ``(S,)``. An
    array that holds exactly as many numbers as one ``(S, A, S)`` reward, or whose last
    three axes are a reordering of ``(S, A, S)``, is refused unless it *is* laid out as
    ``(..., S, A, S)``: it is far more likely a transposed or reshaped transition reward
    (``(A, S, S)``, ``(S, S, A)``, ``(S * A, S)``...) than a batch of state or
    state-action rewards. A genuine batch of that shape is passed with an explicit
    ``form`` (``"state"`` or ``"state_action"``; see :func:`starc.broadcast_reward`).
    """
    check_choice(form, "reward form", REWARD_FORMS)
    tails = {"transition": (n_states, n_actions, n_states),
             "state_action": (n_states, n_actions),
             "state": (n_states,)}
    candidates = [form] if form != "auto" else ["transition", "state_action", "state"]
    for kind in candidates:
        tail = tails[kind]
        if len(shape) >= len(tail) and tuple(shape[len(shape) - len(tail):]) == tail:
            if form == "auto" and kind != "transition":
                _refuse_ambiguous_layout(tuple(shape), n_states, n_actions, kind, name)
            return kind
    expected = " or ".join(f"(..., {', '.join(map(str, tails[k]))})" for k in candidates)
    raise ValidationError(
        f"{name} has shape {tuple(shape)}, which does not fit an MDP with {n_states} states "
        f"and {n_actions} actions; expected {expected}")


def _refuse_ambiguous_layout(shape: tuple[int, ...], n_states: int, n_actions: int,
                             kind: str, name: str) -> None:
    """Refuse a lower-form batch that looks like a mis-laid ``(S, A, S)`` reward."""
    if len(shape) == (1 if kind == "state" else 2):
        return  # a single lower-form reward: no batch axis to mistake
    full = (n_states, n_actions, n_states)
    size = 1
    for d in shape:
        size *= int(d)
    one_reward = size == n_states * n_actions * n_states
    permuted = len(shape) >= 3 and sorted(shape[-3:]) == sorted(full)
    if not (one_reward or permuted):
        return
    lower = "state rewards (..., S)" if kind == "state" else \
        "state-action rewards (..., S, A)"
    raise ValidationError(
        f"{name} has shape {shape}, which would be read as a batch of {lower}, but it "
        f"{'holds as many numbers as one' if one_reward else 'has the axes of a reordered'} "
        f"transition reward of shape (S, A, S) = {full}; a transition reward must be laid "
        f"out as (..., S, A, S) with reward[..., s, a, s'] = R(s, a, s') (transpose it, "
        f"e.g. np.moveaxis(r, 0, 1) for an (A, S, S) array). If it really is a batch of "
        f"{lower}, say so: pass starc.broadcast_reward({name}, mdp, form={kind!r}) instead")


def as_reward(reward, n_states: int, n_actions: int, *, name: str = "reward",
              form: str = "auto") -> np.ndarray:
    """Return ``reward`` as a float64 ``(..., S, A, S)`` array.

    ``(..., S)`` state rewards (on the current state) and ``(..., S, A)`` state-action
    rewards are broadcast over the missing axes.
    """
    r = as_float_array(reward, name, min_ndim=1)
    kind = reward_form(r.shape, n_states, n_actions, form, name)
    if kind == "transition":
        return r
    if kind == "state_action":
        batch = r.shape[:-2]
        full = batch + (n_states, n_actions, n_states)
        check_memory(full, f"broadcasting {name} to (S, A, S)")
        return np.ascontiguousarray(np.broadcast_to(r[..., None], full))
    batch = r.shape[:-1]
    full = batch + (n_states, n_actions, n_states)
    check_memory(full, f"broadcasting {name} to (S, A, S)")
    return np.ascontiguousarray(np.broadcast_to(r[..., :, None, None], full))


def check_policy(policy, n_states: int, n_actions: int, name: str = "policy") -> np.ndarray:
    """Return ``policy`` as an ``(S, A)`` row-stochastic float64 array.

    Accepts ``"uniform"``, an integer array of shape ``(S,)`` (a deterministic policy:
    the action taken in each state) or an ``(S, A)`` array of probabilities.
    """
    if isinstance(policy, str):
        if policy == "uniform":
            return np.full((n_states, n_actions), 1.0 / n_actions)
        raise ValidationError(f"unknown {name} {policy!r}; pass 'uniform', an int array of "
                              f"shape ({n_states},) or a float array of shape "
                              f"({n_states}, {n_actions})")
    try:
        arr = np.asarray(policy)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise ValidationError(f"{name} must be 'uniform' or a numeric array: {err}") from None
    if arr.dtype == object:
        raise ValidationError(f"{name} has dtype object; pass an int or float array")
    if arr.dtype.kind not in "biuf":
        raise ValidationError(f"{name} must be 'uniform', an int array or a float array, "
                              f"got dtype {arr.dtype}")
    if arr.ndim == 1:
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise ValidationError(
                    f"{name} of shape {arr.shape} must be an integer array of actions "
                    f"(a deterministic policy), got dtype {arr.dtype}")
        if arr.shape[0] != n_states:
            raise ValidationError(f"deterministic {name} must have shape ({n_states},), "
                                  f"got {arr.shape}")
        if np.any(arr < 0) or np.any(arr >= n_actions):
            raise ValidationError(f"deterministic {name} has actions outside "
                                  f"[0, {n_actions - 1}]: {arr[(arr < 0) | (arr >= n_actions)][:5]}")
        out = np.zeros((n_states, n_actions))
        out[np.arange(n_states), arr] = 1.0
        return out
    arr = as_float_array(arr, name, ndim=2)
    if arr.shape != (n_states, n_actions):
        raise ValidationError(f"{name} must have shape ({n_states}, {n_actions}) with rows "
                              f"pi[s, :] summing to 1, got shape {arr.shape}")
    return check_stochastic(arr, name)


def check_same_mdp_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Require two ``(..., S, A, S)`` rewards to have broadcast-compatible batch axes."""
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValidationError(f"{name_a} of shape {a.shape} and {name_b} of shape {b.shape} "
                              "have batch axes that do not broadcast") from None



def as_log_probs(logp, name: str) -> np.ndarray:
    """Return ``logp`` (..., n) as float64 log-probabilities normalised along the last axis.

    ``-inf`` marks responses of probability zero; NaN and ``+inf`` are refused, and every
    row needs at least one finite entry.
    """
    arr = as_float_array(logp, name, min_ndim=1, allow_nonfinite=True)
    if np.any(np.isnan(arr)):
        raise ValidationError(f"{name} contains {int(np.isnan(arr).sum())} NaN value(s); "
                              "every log-probability must be a number or -inf")
    if np.any(arr == np.inf):
        raise ValidationError(f"{name} contains +inf; log-probabilities must be finite or "
                              "-inf (for responses of probability zero)")
    if arr.shape[-1] == 0:
        raise ValidationError(f"{name} must have at least one response along its last axis, "
                              f"got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not np.all(finite.any(axis=-1)):
        raise ValidationError(f"{name} has a row that is -inf everywhere; every base policy "
                              "needs at least one response of positive probability")
    from scipy.special import logsumexp

    # a log-probability below -1.8e308 overflows to -inf: probability 0, exactly as its
    # exponential underflows anyway
    with np.errstate(over="ignore"):
        return arr - logsumexp(arr, axis=-1, keepdims=True)


def is_sparse_matrix(x) -> bool:
    """True for a ``scipy.sparse`` matrix or array (scipy is imported only if loaded)."""
    import sys

    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(x)


def check_sparse_transition(transition):
    """Return a validated sparse ``(S*A, S)`` transition as a canonical float64 CSR array.

    Row ``s*A + a`` holds :math:`\\tau(\\cdot \\mid s, a)`. The result owns its arrays, has
    sorted column indices, no duplicates and no explicit zeros. Nothing is densified:
    every check runs over the stored entries, in O(nnz + S*A).
    """
    import scipy.sparse as sp

    shape = transition.shape
    if len(shape) != 2:
        raise ValidationError(f"a sparse transition must be 2-D of shape (S*A, S) with row "
                              f"s*A + a holding tau(. | s, a), got shape {shape}")
    n_rows, n_states = (int(d) for d in shape)
    if n_states == 0 or n_rows == 0:
        raise ValidationError(f"transition must have at least one state and one action, "
                              f"got shape {shape}")
    if n_rows % n_states != 0:
        raise ValidationError(
            f"a sparse transition must have shape (S*A, S) (row s*A + a holds tau(. | s, a)); "
            f"got shape {shape}, whose {n_rows} rows are not a multiple of its {n_states} "
            "columns (states)")
    if transition.dtype.kind not in "biuf":
        raise ValidationError(f"transition must be real-valued, got dtype {transition.dtype}")
    try:
        csr = sp.csr_array(transition, dtype=np.float64, copy=True)
        csr.check_format(full_check=True)
    except (ValueError, TypeError, IndexError) as err:
        raise ValidationError(f"transition is not a valid sparse matrix: {err} (e.g. a "
                              "column index out of range [0, S))") from None
    if csr.indices.size and (csr.indices.min() < 0 or csr.indices.max() >= n_states):
        raise ValidationError(f"transition has a column index outside [0, {n_states})")
    data = csr.data
    if not np.all(np.isfinite(data)):
        n_bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        raise ValidationError(f"transition contains {n_bad} NaN or infinite value(s); every "
                              "entry must be finite")
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    data = csr.data
    n_actions = n_rows // n_states
    if data.size and data.min() < 0:
        k = int(np.argmin(data))
        row = int(np.searchsorted(csr.indptr, k, side="right") - 1)
        raise ValidationError(
            f"transition has a negative entry {data[k]:.3g} at (state, action, next state) "
            f"= ({row // n_actions}, {row % n_actions}, {int(csr.indices[k])}); "
            "probabilities must be >= 0")
    if data.size and not data.max() <= 1.0 + STOCHASTIC_ATOL:
        k = int(np.argmax(data))
        row = int(np.searchsorted(csr.indptr, k, side="right") - 1)
        raise ValidationError(
            f"transition has the entry {float(data[k])!r} at (state, action, next state) = "
            f"({row // n_actions}, {row % n_actions}, {int(csr.indices[k])}); probabilities "
            "must lie in [0, 1] (and each row sum to 1)")
    sums = csr @ np.ones(n_states)  # O(nnz); an empty row sums to 0
    err = np.abs(sums - 1.0)
    if np.any(err > STOCHASTIC_ATOL):
        row = int(np.argmax(err))
        raise ValidationError(
            f"every row of transition must sum to 1 (within {STOCHASTIC_ATOL:g}); the row of "
            f"(state, action) = ({row // n_actions}, {row % n_actions}) (row {row}) sums to "
            f"{float(sums[row])!r}. Normalise it first, e.g. t / t.sum(axis=1)[:, None]")
    for arr in (csr.data, csr.indices, csr.indptr):
        arr.flags.writeable = False
    return csr
