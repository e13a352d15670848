"""The main job on a built-in default: ``starc demo``.

A 5 x 5 grid world with a wall, slippery moves and an absorbing goal is compared
under three rewards:

``true``
    1 for entering the goal.
``shaped``
    The true reward plus potential shaping with :math:`\\Phi(s) = -(\\text{Manhattan
    distance to the goal})`: a denser signal that orders policies exactly as the
    true reward does.
``misspecified``
    The true reward plus 0.6 for entering a "decoy" cell near the start: an agent can
    farm the decoy by stepping in and out of it instead of going to the goal.

For each reward against the true one the demo prints the STARC distances (VAL and
minimal L2), EPIC and DARD, the exact optimal-policy regret, the exact worst-case regret
and the certified bound, and draws the three optimal policies (their values on one colour
scale) with a bar chart of the distances and regrets into a PNG.

The figure goes to ``output`` (``starc demo --output``): its format follows the extension
(``.png`` is appended when there is none, as matplotlib does); an existing folder, or a
path ending in a separator, gets the default name ``starc_demo.png`` inside it, so
``--output .`` writes ``./starc_demo.png``. The path is checked to be writable before
anything is computed, and the file is written atomically (a temporary file renamed over
it), so an interrupted demo leaves any previous figure whole.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from ._io import check_writable, figure_path, save_figure
from .distances import dard_distance, epic_distance, starc_distance
from .envs import gridworld
from .exceptions import ValidationError
from .regret import regret, regret_bound, worst_case_regret
from .shaping import potential_shaping
from .solve import optimal_policy, optimal_values

__all__ = ["demo_environment", "demo_table", "demo_output", "run_demo"]

logger = logging.getLogger(__name__)

_WALLS = ((1, 1), (2, 1), (3, 3))
_GOAL = (4, 4)
_DECOY = (0, 2)
_SIZE = 5
#: The figure's file name when ``output`` is a folder.
DEFAULT_FIGURE = "starc_demo.png"


def demo_environment():
    """The demo grid world and its three rewards.

    Returns
    -------
    mdp : TabularMDP
        5 x 5 grid, walls at (1, 1), (2, 1), (3, 3), goal (4, 4), slip 0.1, gamma 0.9,
        start (0, 0).
    rewards : dict of str to ndarray of shape (S, A, S)
        ``"true"``, ``"shaped"`` and ``"misspecified"``.
    cells : list of (row, col)
        The grid cell of each state.

    Examples
    --------
    >>> from starc.demo import demo_environment
    >>> mdp, rewards, cells = demo_environment()
    >>> mdp.n_states, sorted(rewards)
    (22, ['misspecified', 'shaped', 'true'])
    """
    mdp, true = gridworld(_SIZE, _SIZE, walls=_WALLS, goal=_GOAL, slip=0.1, gamma=0.9)
    cells = [(r, c) for r in range(_SIZE) for c in range(_SIZE) if (r, c) not in _WALLS]
    index = {rc: i for i, rc in enumerate(cells)}
    phi = -np.array([abs(r - _GOAL[0]) + abs(c - _GOAL[1]) for r, c in cells], dtype=float)
    shaped = potential_shaping(true, phi, mdp.gamma)
    decoy = true.copy()
    decoy[:, :, index[_DECOY]] += 0.6
    decoy[index[_DECOY], :, index[_DECOY]] -= 0.6  # staying put in the decoy pays nothing
    return mdp, {"true": true, "shaped": shaped, "misspecified": decoy}, cells


def demo_table(mdp, rewards) -> list[dict]:
    """One row per reward: distances to ``rewards["true"]``, regrets and the bound.

    Examples
    --------
    >>> from starc.demo import demo_environment, demo_table
    >>> mdp, rewards, _ = demo_environment()
    >>> [round(row["VAL-2-2"], 6) for row in demo_table(mdp, rewards)]
    [0.0, 0.0, 0.944523]
    """
    from collections.abc import Mapping

    from .exceptions import ValidationError
    from .mdp import as_mdp

    as_mdp(mdp)
    if not isinstance(rewards, Mapping) or "true" not in rewards:
        raise ValidationError("rewards must be a dict of reward arrays with the key 'true' "
                              f"(as demo_environment returns), got {type(rewards).__name__}"
                              + (f" with keys {list(rewards)}" if isinstance(rewards, Mapping)
                                 else ""))
    true = rewards["true"]
    rows = []
    for name, r in rewards.items():
        d_val = starc_distance(true, r, mdp)
        rows.append({
            "reward": name,
            "VAL-2-2": d_val,
            "minimal_l2-2-2": starc_distance(true, r, mdp, canonicalization="minimal_l2"),
            "EPIC": epic_distance(true, r, mdp),
            "DARD": dard_distance(true, r, mdp),
            "regret": regret(true, r, mdp),
            "worst_case_regret": worst_case_regret(true, r, mdp),
            "bound(VAL-2-2)": regret_bound(true, d_val, mdp),
        })
    return rows


def format_table(rows: list[dict]) -> str:
    """Render rows of floats (and a leading name column) as an aligned text table."""
    keys = list(rows[0])
    widths = [max(len(k), 12) for k in keys]
    lines = ["  ".join(k.rjust(w) if i else k.ljust(w) for i, (k, w) in
                       enumerate(zip(keys, widths)))]
    for row in rows:
        cells = []
        for i, (k, w) in enumerate(zip(keys, widths)):
            v = row[k]
            cells.append(str(v).ljust(w) if i == 0 else f"{v:.6f}".rjust(w))
        lines.append("  ".join(cells))
    return "\n".join(lines)


_ARROWS = {0: (0, -0.35), 1: (0.35, 0), 2: (0, 0.35), 3: (-0.35, 0)}  # up right down left


def plot_demo(mdp, rewards, cells, rows, path) -> str:
    """Draw the three optimal policies and a bar chart of distances and regrets into ``path``.

    The three value maps share one colour scale (with its colorbar); the bar chart puts
    the distances and the regrets in separate groups, writes "0" over every bar that is
    zero (the shaped reward's, which would otherwise be invisible) and says when the
    certified bound is vacuous (1: no better than the trivial bound on normalised regret).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize, PowerNorm

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.4), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.6]})
    maps = {}
    for name, r in rewards.items():
        values = np.full((_SIZE, _SIZE), np.nan)
        v = optimal_values(r, mdp)
        for s, (row, col) in enumerate(cells):
            values[row, col] = v[s]
        maps[name] = (values, optimal_policy(r, mdp))
    lo = min(float(np.nanmin(m)) for m, _ in maps.values())
    hi = max(float(np.nanmax(m)) for m, _ in maps.values())
    # one scale for the three maps; a square root keeps the small-valued ones readable
    norm = (PowerNorm(0.5, vmin=lo, vmax=hi) if lo >= 0.0 and hi > lo
            else Normalize(vmin=lo, vmax=hi))
    image = None
    for ax, (name, (values, pi)) in zip(axes[:3], maps.items()):
        image = ax.imshow(values, cmap="viridis", norm=norm)
        for s, (row, col) in enumerate(cells):
            if (row, col) == _GOAL:
                ax.text(col, row, "G", ha="center", va="center", color="white", weight="bold")
                continue
            dx, dy = _ARROWS[int(pi[s])]
            ax.arrow(col - dx / 2, row - dy / 2, dx, dy, head_width=0.15, color="white")
        for row, col in _WALLS:
            ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, color="black"))
        # the decoy: a red frame, named above the grid (inside, a label lands on an arrow)
        ax.add_patch(plt.Rectangle((_DECOY[1] - 0.47, _DECOY[0] - 0.47), 0.94, 0.94,
                                   fill=False, edgecolor="red", lw=2))
        ax.text(_DECOY[1], -0.55, "decoy", ha="center", va="bottom", fontsize=8,
                color="red", clip_on=False)
        ax.set_title(f"{name}: optimal policy and V*", pad=14)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=list(axes[:3]), shrink=0.85, pad=0.01,
                 label="optimal value V*(s) (one scale for the three maps)")

    ax = axes[3]
    groups = [("VAL-2-2", "VAL"), ("minimal_l2-2-2", "min L2"), ("EPIC", "EPIC"),
              ("DARD", "DARD"), ("regret", "regret"), ("worst_case_regret", "WC regret"),
              ("bound(VAL-2-2)", "bound (VAL)")]
    x = np.arange(len(groups))
    top = max(row[k] for row in rows for k, _ in groups)
    for i, row in enumerate(rows[1:]):
        heights = [row[k] for k, _ in groups]
        bars = ax.bar(x + 0.4 * i - 0.2, heights, width=0.4, color=f"C{i}",
                      label=row["reward"])
        ax.bar_label(bars, labels=["0" if h <= 1e-9 * max(top, 1.0) else "" for h in heights],
                     padding=2, fontsize=9, color=f"C{i}", fontweight="bold")
    ax.set_xticks(x, [label for _, label in groups], fontsize=8)
    ax.axvline(3.5, color="0.5", lw=0.8, ls=":")
    ymax = 1.45 * max(top, 1.0)
    ax.set_ylim(0.0, ymax)
    ax.text(1.5, 0.97 * ymax, "distances to 'true'", ha="center", va="top", fontsize=8)
    ax.text(5.0, 0.97 * ymax, "regrets (normalised to [0, 1])", ha="center", va="top",
            fontsize=8)
    vacuous = [row["reward"] for row in rows[1:] if row["bound(VAL-2-2)"] >= 1.0]
    if vacuous:
        ax.annotate(f"bound = 1: vacuous for {', '.join(vacuous)}\n"
                    "(regret is at most 1 anyway)", xy=(6.2, 1.0), xytext=(6.4, 1.18),
                    ha="right", va="bottom", fontsize=7,
                    arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 0.8})
    ax.set_ylabel("value")
    ax.set_title("distances and regrets against the true reward", pad=14)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, 0.9))
    try:
        return save_figure(fig, path, dpi=110)
    finally:
        plt.close(fig)


def demo_output(output) -> str:
    """The file ``starc demo --output OUTPUT`` writes, checked before any computing.

    A folder (existing, or a path ending in a separator) gets :data:`DEFAULT_FIGURE`
    inside it; a path without an extension gets ``.png``. Raises
    :class:`~starc.exceptions.ValidationError` for an unknown figure format, a folder that
    does not exist, or one that cannot be written.

    Examples
    --------
    >>> import os, tempfile
    >>> from starc.demo import demo_output
    >>> folder = tempfile.mkdtemp()
    >>> os.path.basename(demo_output(folder)), os.path.basename(demo_output(folder + "/x"))
    ('starc_demo.png', 'x.png')
    """
    if not isinstance(output, (str, os.PathLike)):
        raise ValidationError(f"output must be a str or os.PathLike, got "
                              f"{type(output).__name__}")
    path = os.fspath(output)
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        path = os.path.join(path, DEFAULT_FIGURE)
    path, _ = figure_path(path, "output")
    check_writable(path, "output")
    return path


def run_demo(output: str = "starc_demo.png", seed: int = 0, show_json: bool = False) -> int:
    """Run the demo: print the table (or JSON) and write the figure to ``output``.

    ``output`` is resolved and checked by :func:`demo_output` before anything is
    computed (a folder gets ``starc_demo.png`` inside it). ``seed`` is accepted for
    symmetry with the other commands; the demo is deterministic.
    """
    output = demo_output(output)
    mdp, rewards, cells = demo_environment()
    rows = demo_table(mdp, rewards)
    if show_json:
        print(json.dumps(rows, indent=2))
    else:
        print("starc demo: 5x5 slippery grid world, gamma 0.9; each reward against 'true'\n")
        print(format_table(rows))
        print("\n'shaped' orders policies exactly as 'true' (distance 0, regret 0);"
              "\n'misspecified' farms the decoy cell: positive distance and regret.")
    path = plot_demo(mdp, rewards, cells, rows, output)
    if not show_json:
        print(f"\nwrote {path}")
    return 0
