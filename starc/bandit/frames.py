r"""Long tables of scores to the ``(n, m)`` arrays of :mod:`starc.bandit`.

Scores usually arrive as a long table: one row per (prompt, response), one column per
reward model. :func:`from_frame` turns it into padded arrays:

* prompts are numbered in order of first appearance (row ``i`` of every array is
  ``prompt_ids[i]``);
* each prompt's responses fill its row left to right in order of first appearance,
  ``response_ids[i, j]`` naming the response in slot ``j``; prompts with fewer responses
  than the longest are padded and ``mask`` marks the real slots;
* every numeric column other than the prompt and response columns becomes a reward array
  (0.0 where ``mask`` is False).

It reads pandas and polars DataFrames, pyarrow Tables, any object with
``__arrow_c_stream__`` (via pyarrow) or the ``__dataframe__`` interchange protocol, and
plain mappings of column name to array. No dataframe library is imported unless the input
is one of its objects. Identifiers are factorized with one vectorised pass
(``pandas.factorize``, pyarrow's ``dictionary_encode``, or ``numpy.unique`` with the
first-appearance order restored), so a 1.6-million-row table converts in well under two
seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array
from ..exceptions import MissingDependencyError, ValidationError

__all__ = ["RewardTable", "from_frame"]


@dataclass(frozen=True)
class RewardTable:
    """Padded reward arrays read from a long table (see :func:`from_frame`).

    Attributes
    ----------
    rewards : dict of str to ndarray of shape (n, m)
        One float64 array per score column, 0.0 where ``mask`` is False.
    mask : ndarray of bool, shape (n, m)
        True at the real (prompt, response) entries.
    prompt_ids : ndarray of shape (n,)
        The prompt identifiers in order of first appearance.
    response_ids : ndarray of object, shape (n, m)
        The response identifier in each slot (None where ``mask`` is False), in order of
        first appearance within each prompt.

    The fields are validated on construction: at least one reward array, every one finite
    with ``mask``'s shape; ``mask`` boolean with a True entry in every row; ids of shapes
    ``(n,)`` and ``(n, m)``.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import RewardTable
    >>> t = RewardTable({"score": [[1.0, 2.0], [3.0, 0.0]]},
    ...                 np.array([[True, True], [True, False]]),
    ...                 np.array(["p", "q"]), np.array([["a", "b"], ["a", None]], object))
    >>> t.shape, t.rewards["score"].dtype
    ((2, 2), dtype('float64'))
    """

    rewards: dict
    mask: np.ndarray
    prompt_ids: np.ndarray
    response_ids: np.ndarray

    def __post_init__(self):
        if not isinstance(self.mask, np.ndarray) or self.mask.dtype != bool \
                or self.mask.ndim != 2:
            raise ValidationError("mask must be a 2-D boolean ndarray (prompts x responses), "
                                  f"got {type(self.mask).__name__} "
                                  f"{getattr(self.mask, 'shape', '')}")
        shape = self.mask.shape
        if 0 in shape or not self.mask.any(axis=1).all():
            raise ValidationError(f"mask {shape} must have a True entry in every row (each "
                                  "prompt has a response)")
        if not isinstance(self.rewards, Mapping) or not self.rewards:
            raise ValidationError("rewards must be a non-empty mapping of column name to "
                                  f"an ({shape[0]}, {shape[1]}) array, got {self.rewards!r}")
        rewards = {}
        for key, value in self.rewards.items():
            if not isinstance(key, str):
                raise ValidationError(f"rewards keys must be column names (str), got {key!r}")
            arr = as_float_array(value, f"rewards[{key!r}]")
            if arr.shape != shape:
                raise ValidationError(f"rewards[{key!r}] must have mask's shape {shape}, got "
                                      f"{arr.shape}")
            rewards[key] = arr
        for name, want in (("prompt_ids", shape[:1]), ("response_ids", shape)):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) or value.shape != want:
                raise ValidationError(f"{name} must be an ndarray of shape {want}, got "
                                      f"{type(value).__name__} {getattr(value, 'shape', '')}")
        object.__setattr__(self, "rewards", rewards)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_prompts, n_responses)``."""
        return self.mask.shape


# ----------------------------------------------------------------- column access


def _module(obj) -> str:
    return type(obj).__module__.split(".")[0]


def _first_order(inverse: np.ndarray, first: np.ndarray):
    """Renumber sorted-unique codes by first appearance."""
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse], order


class _NumpyColumns:
    def __init__(self, data: Mapping):
        self.data = data
        self.names = [str(k) for k in data]
        self._keys = {str(k): k for k in data}

    def values(self, name):
        arr = np.asarray(self.data[self._keys[name]])
        if arr.ndim != 1:
            raise ValidationError(f"column {name!r} must be one-dimensional, got shape "
                                  f"{arr.shape}")
        return arr

    def factorize(self, name):
        arr = self.values(name)
        try:
            uniques, first, inverse = np.unique(arr, return_index=True, return_inverse=True)
        except TypeError as err:
            raise ValidationError(f"column {name!r} holds identifiers that cannot be "
                                  f"compared ({err})") from None
        if arr.dtype.kind == "f" and np.isnan(uniques).any():
            raise ValidationError(f"column {name!r} has missing (NaN) identifiers")
        if arr.dtype == object and any(u is None for u in uniques):
            raise ValidationError(f"column {name!r} has missing (None) identifiers")
        codes, order = _first_order(inverse.reshape(-1), first)
        return codes, uniques[order]


class _PandasColumns:
    def __init__(self, frame):
        self.frame = frame
        self.names = [str(c) for c in frame.columns]
        self._keys = {str(c): c for c in frame.columns}

    def values(self, name):
        return self.frame[self._keys[name]].to_numpy()

    def factorize(self, name):
        import pandas as pd

        codes, uniques = pd.factorize(self.frame[self._keys[name]], sort=False)
        if np.any(codes < 0):
            raise ValidationError(f"column {name!r} has missing identifiers")
        return codes, np.asarray(uniques)


class _ArrowColumns:
    def __init__(self, table):
        self.table = table
        self.names = [str(c) for c in table.column_names]

    def values(self, name):
        col = self.table.column(name)
        if col.null_count:
            raise ValidationError(f"column {name!r} has {col.null_count} missing value(s)")
        return col.to_numpy()

    def factorize(self, name):
        col = self.table.column(name)
        if col.null_count:
            raise ValidationError(f"column {name!r} has {col.null_count} missing "
                                  "identifier(s)")
        enc = col.combine_chunks().dictionary_encode()  # first-appearance order
        return (enc.indices.to_numpy(zero_copy_only=False).astype(np.int64),
                enc.dictionary.to_numpy(zero_copy_only=False))


def _need_pyarrow(what: str):
    try:
        import pyarrow
    except ImportError:
        raise MissingDependencyError(f"reading {what} needs pyarrow: pip install pyarrow"
                                     ) from None
    return pyarrow


def _columns(frame):
    if isinstance(frame, Mapping):
        return _NumpyColumns(frame)
    mod = _module(frame)
    if mod == "pandas" and hasattr(frame, "columns"):
        return _PandasColumns(frame)
    if mod == "pyarrow" and hasattr(frame, "column_names"):
        return _ArrowColumns(frame)
    if mod == "polars" and hasattr(frame, "to_arrow"):
        if "pyarrow" in sys.modules or _has_module("pyarrow"):
            return _ArrowColumns(frame.to_arrow())
        return _NumpyColumns({c: frame[c].to_numpy() for c in frame.columns})
    if hasattr(frame, "__arrow_c_stream__"):
        pa = _need_pyarrow("an Arrow stream")
        return _ArrowColumns(pa.table(frame))
    if hasattr(frame, "__dataframe__"):
        if _has_module("pyarrow"):
            from pyarrow.interchange import from_dataframe
            return _ArrowColumns(from_dataframe(frame))
        if _has_module("pandas"):
            from pandas.api.interchange import from_dataframe
            return _PandasColumns(from_dataframe(frame))
        raise MissingDependencyError("reading a __dataframe__ object needs pyarrow or pandas: "
                                     "pip install pyarrow")
    raise ValidationError(f"frame must be a pandas or polars DataFrame, a pyarrow Table, an "
                          f"object with __arrow_c_stream__ or __dataframe__, or a mapping of "
                          f"column name to array; got {type(frame).__name__}")


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# ----------------------------------------------------------------- conversion


def _check_duplicates(p_codes, r_codes, n, n_resp, p_ids, r_ids) -> None:
    """Refuse repeated (prompt, response) pairs: a count table when small, else a sort."""
    key = p_codes * np.int64(n_resp) + r_codes
    if n * n_resp <= 4 * key.size + 1024:
        hits = np.bincount(key, minlength=n * n_resp)
        dup = np.flatnonzero(hits > 1)
        n_dup = int((hits[dup] - 1).sum()) if dup.size else 0
        first = int(dup[0]) if dup.size else 0
    else:
        key = np.sort(key)
        same = np.flatnonzero(key[1:] == key[:-1])
        n_dup = same.size
        first = int(key[same[0]]) if same.size else 0
    if n_dup:
        p_id, r_id = (x.item() if isinstance(x, np.generic) else x
                      for x in (p_ids[first // n_resp], r_ids[first % n_resp]))
        raise ValidationError(f"duplicate (prompt, response) rows, e.g. "
                              f"({p_id!r}, {r_id!r}); "
                              f"{n_dup} duplicate row(s) in all: aggregate them first")


def _slots(codes: np.ndarray, n: int):
    """Each row's position among its prompt's rows (order of appearance) and the counts."""
    small = codes.astype(np.int32) if n < 2**31 else codes
    order = np.argsort(small, kind="stable")
    counts = np.bincount(codes, minlength=n)
    starts = np.cumsum(counts) - counts
    slot = np.empty(codes.size, dtype=np.int64)
    slot[order] = np.arange(codes.size) - starts[codes[order]]
    return slot, counts


def from_frame(frame, *, prompt="prompt", response="response", rewards=None) -> RewardTable:
    r"""Padded ``(n, m)`` reward arrays and mask from a long (prompt, response, score) table.

    Parameters
    ----------
    frame : DataFrame, Table or mapping
        pandas or polars DataFrame, pyarrow Table, an object with ``__arrow_c_stream__``
        or ``__dataframe__``, or a mapping of column name to 1-d array.
    prompt, response : str
        Names of the identifier columns (any hashable, comparable values).
    rewards : str or list of str, optional
        Score columns; default every numeric (non-boolean) column other than ``prompt``
        and ``response``.

    Returns
    -------
    RewardTable
        ``rewards`` (column -> (n, m) float64, 0.0 where ``mask`` is False), ``mask``,
        ``prompt_ids`` (first-appearance order) and ``response_ids``.

    Raises
    ------
    ValidationError
        Unknown columns (the message lists the available ones), a non-numeric score column,
        missing identifiers or scores, duplicate (prompt, response) rows.
    MissingDependencyError
        An Arrow stream or interchange object without pyarrow (or pandas) installed.

    Examples
    --------
    >>> from starc.bandit import from_frame
    >>> table = from_frame({"prompt": ["p", "p", "q"], "response": ["a", "b", "a"],
    ...                     "score": [1.0, 2.0, 3.0]})
    >>> table.rewards["score"]
    array([[1., 2.],
           [3., 0.]])
    >>> table.mask
    array([[ True,  True],
           [ True, False]])
    >>> table.prompt_ids.tolist(), table.response_ids.tolist()
    (['p', 'q'], [['a', 'b'], ['a', None]])
    """
    cols = _columns(frame)
    names = cols.names
    for arg, col in (("prompt", prompt), ("response", response)):
        if not isinstance(col, str) or col not in names:
            raise ValidationError(f"{arg} column {col!r} is not in the frame; its columns "
                                  f"are: {', '.join(map(repr, names))}")
    if prompt == response:
        raise ValidationError("prompt and response must name different columns")
    if rewards is None:
        candidates = [c for c in names if c not in (prompt, response)]
        reward_cols = []
        for c in candidates:
            kind = cols.values(c).dtype.kind
            if kind in "fiu":
                reward_cols.append(c)
        if not reward_cols:
            raise ValidationError(f"the frame has no numeric score column besides {prompt!r} "
                                  f"and {response!r}; its columns are: "
                                  f"{', '.join(map(repr, names))}")
    else:
        reward_cols = [rewards] if isinstance(rewards, str) else list(rewards)
        for c in reward_cols:
            if not isinstance(c, str) or c not in names:
                raise ValidationError(f"rewards column {c!r} is not in the frame; its "
                                      f"columns are: {', '.join(map(repr, names))}")
            if c in (prompt, response):
                raise ValidationError(f"rewards column {c!r} is an identifier column")
        if not reward_cols:
            raise ValidationError("rewards must name at least one column")

    p_codes, p_ids = cols.factorize(prompt)
    r_codes, r_ids = cols.factorize(response)
    p_codes = np.asarray(p_codes, dtype=np.int64)
    r_codes = np.asarray(r_codes, dtype=np.int64)
    rows = p_codes.size
    if rows == 0:
        raise ValidationError("frame has no rows")
    n, n_resp = len(p_ids), len(r_ids)
    _check_duplicates(p_codes, r_codes, n, n_resp, p_ids, r_ids)
    slot, counts = _slots(p_codes, n)
    m = int(counts.max())
    codes = np.full((n, m), -1, dtype=np.int64)
    codes[p_codes, slot] = r_codes
    mask = codes >= 0
    # one object take from the n_resp identifiers (index -1 = None for padding)
    lookup = np.empty(n_resp + 1, dtype=object)
    lookup[:n_resp] = np.asarray(r_ids).tolist()  # Python ints / strings
    response_ids = lookup[codes]
    out = {}
    for c in reward_cols:
        vals = cols.values(c)
        if vals.dtype.kind not in "fiu":
            raise ValidationError(f"rewards column {c!r} must be numeric, got dtype "
                                  f"{vals.dtype}")
        vals = vals.astype(np.float64, copy=False)
        bad = ~np.isfinite(vals)
        if bad.any():
            raise ValidationError(f"rewards column {c!r} has {int(bad.sum())} NaN or "
                                  f"infinite score(s) (first at row {int(np.argmax(bad))}); "
                                  "drop or fill those rows first")
        arr = np.zeros((n, m))
        arr[p_codes, slot] = vals
        out[c] = arr
    return RewardTable(out, mask, np.asarray(p_ids), response_ids)
