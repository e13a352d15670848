r"""Reward files of the ``starc compare`` command: ``.npy``, ``.npz`` and CSV.

A reward on an MDP with ``S`` states and ``A`` actions is an array
:math:`R \in \mathbb{R}^{S \times A \times S}`, :math:`R[s, a, s']`. On disk it is

``.npy``
    one array of shape ``(S, A, S)``, ``(S, A)`` or ``(S,)`` (broadcast as in
    :func:`starc.mdp.broadcast_reward`);
``.npz``
    an archive with such an array under the key ``reward`` (as written by
    :func:`starc.save_mdp`), or holding exactly one array;
``.csv``
    a header ``state,action,next_state,reward`` and then one row per transition
    :math:`(s, a, s')` — all :math:`S \cdot A \cdot S` of them, each exactly once, in any
    order — with integer indices from 0 and the reward as a decimal number. Lines starting
    with ``#`` are comments.

Binary files are read through :func:`starc._io.load_arrays` (headers checked first, never
unpickled) and every file is written atomically through :mod:`starc._io`.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .exceptions import ValidationError

__all__ = ["CSV_HEADER", "read_reward", "write_reward_csv"]

#: The header line of a reward CSV file.
CSV_HEADER = ("state", "action", "next_state", "reward")


def _read_csv(path: str, mdp) -> np.ndarray:
    label = f"reward file {path!r}"
    S, A = mdp.n_states, mdp.n_actions
    need = S * A * S
    # every row is at most a few dozen characters: refuse a file far too big to be one
    if os.path.getsize(path) > 256 * (need + 16):
        raise ValidationError(f"{label} is {os.path.getsize(path):,} bytes, too large for a "
                              f"reward on {S} states and {A} actions ({need:,} rows)")
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except UnicodeDecodeError:
        raise ValidationError(f"{label} is not a UTF-8 text file (a .csv reward is text: "
                              f"a header {','.join(CSV_HEADER)} and one row per "
                              "(s, a, s'))") from None
    reward = np.zeros((S, A, S))
    seen = np.zeros((S, A, S), dtype=bool)
    header = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        cells = [c.strip() for c in text.split(",")]
        if header is None:
            header = tuple(c.lower() for c in cells)
            if header != CSV_HEADER:
                raise ValidationError(f"{label} line {number}: the header must be "
                                      f"{','.join(CSV_HEADER)}, got {text!r}")
            continue
        if len(cells) != 4:
            raise ValidationError(f"{label} line {number}: expected 4 columns "
                                  f"({','.join(CSV_HEADER)}), got {len(cells)}")
        index = []
        for cell, name, size in zip(cells[:3], CSV_HEADER[:3], (S, A, S)):
            try:
                value = int(cell)
            except ValueError:
                raise ValidationError(f"{label} line {number}: {name} {cell!r} is not an "
                                      "integer") from None
            if not 0 <= value < size:
                raise ValidationError(f"{label} line {number}: {name} {value} is outside "
                                      f"0..{size - 1}")
            index.append(value)
        try:
            value = float(cells[3])
        except ValueError:
            raise ValidationError(f"{label} line {number}: reward {cells[3]!r} is not a "
                                  "number") from None
        if not math.isfinite(value):
            raise ValidationError(f"{label} line {number}: reward {cells[3]!r} is not finite")
        s, a, t = index
        if seen[s, a, t]:
            raise ValidationError(f"{label} line {number}: (state, action, next_state) = "
                                  f"({s}, {a}, {t}) appears twice")
        seen[s, a, t] = True
        reward[s, a, t] = value
    if header is None:
        raise ValidationError(f"{label} is empty (expected a header {','.join(CSV_HEADER)} "
                              "and one row per (s, a, s'))")
    if not seen.all():
        s, a, t = (int(i) for i in np.argwhere(~seen)[0])
        raise ValidationError(f"{label} has {int(seen.sum()):,} of the {need:,} rows of a "
                              f"reward on {S} states and {A} actions; missing e.g. "
                              f"({s}, {a}, {t})")
    return reward


def read_reward(path, mdp) -> np.ndarray:
    """One reward of shape ``(S, A, S)`` on ``mdp`` from a ``.npy``, ``.npz`` or ``.csv`` file.

    Raises :class:`~starc.exceptions.ValidationError` (one line, naming the file) for a
    missing file, a wrong layout, shape or header, a non-finite value and a batch of rewards.
    """
    from ._io import check_path, load_arrays
    from .mdp import broadcast_reward

    path = check_path(path, "reward file")
    if path.lower().endswith(".csv"):
        if not os.path.exists(path):
            raise ValidationError(f"reward file {path!r} does not exist")
        if os.path.isdir(path):
            raise ValidationError(f"reward file {path!r} is a folder, not a file")
        reward = _read_csv(path, mdp)
    else:
        data = load_arrays(path, "reward file")
        if isinstance(data, dict):
            if "reward" in data:
                data = data["reward"]
            elif len(data) == 1:
                data = next(iter(data.values()))
            else:
                raise ValidationError(f"reward file {path!r} is an .npz with the arrays "
                                      f"{sorted(data)}: store the reward under the key "
                                      "'reward'")
        if data.dtype.kind not in "biuf":
            raise ValidationError(f"reward file {path!r} holds an array of dtype "
                                  f"{data.dtype}, not real numbers")
        reward = broadcast_reward(data, mdp, name=f"reward in {path!r}")
    if reward.ndim != 3:
        raise ValidationError(f"reward file {path!r} holds a batch of rewards of shape "
                              f"{reward.shape}; compare takes one reward (S, A, S)")
    return reward


def write_reward_csv(path, reward) -> str:
    """Write one reward of shape ``(S, A, S)`` as CSV (the layout of :func:`read_reward`),
    atomically; return the path. Values are written with ``repr`` (exact round trip)."""
    from ._io import write_text

    r = np.asarray(reward, dtype=np.float64)
    if r.ndim != 3 or r.shape[0] != r.shape[2]:
        raise ValidationError(f"reward must have shape (S, A, S), got {r.shape}")
    rows = [",".join(CSV_HEADER)]
    for (s, a, t), value in np.ndenumerate(r):
        rows.append(f"{s},{a},{t},{float(value)!r}")
    return write_text(path, "\n".join(rows) + "\n")
