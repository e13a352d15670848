r"""Plotting helpers for the quantities starc computes.

Three pictures recur in the demo (``starc demo``) and the figure scripts of
``paper_figures/``; they live here so that analysis code draws them the same way. Each
function draws into a given matplotlib ``Axes`` (or a new one when ``ax`` is ``None``)
and returns it; matplotlib is imported only when one of them is called.

:func:`policy_map`
    A grid world's state values as a heat map with the (deterministic) policy as arrows,
    the actions ordered up, right, down, left as in :func:`starc.gridworld`.
:func:`grouped_bars`
    Several series of non-negative quantities (distances, regrets) as grouped bars. A
    bar that is zero up to round-off is invisible, so it is labelled ``"0"``: a height
    :math:`h` counts as zero when

    .. math::

        |h| \le \rho \cdot \max\bigl(1, \max_{\text{all bars}} |h'|\bigr)

    with the relative tolerance :math:`\rho` = ``zero_rtol``.
:func:`regret_vs_distance`
    Regrets of reward pairs against their STARC distance :math:`d`, with the certified
    bound of STARC Thm. 1 [1]_,

    .. math::

        \mathrm{WCR}(R_1, R_2) \le \min\bigl(1, U(R_1)\, d(R_1, R_2)\bigr)
        \quad \text{(normalised regrets)},

    and the running maximum of the worst-case regret over increasing distance
    (completeness, Thm. 2 [1]_, says it rises with :math:`d`).

References
----------
.. [1] Skalse et al. "STARC: A General Framework For Quantifying Differences Between
   Reward Functions". ICLR 2024, arXiv 2309.15257, Thm. 1 (soundness: regret bounded by
   the distance) and Thm. 2 (completeness).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._validation import as_float_array, check_memory, check_real
from .exceptions import ValidationError

__all__ = ["policy_map", "grouped_bars", "regret_vs_distance"]

#: Arrow (dx, dy) in image coordinates (rows grow downwards) for the actions of
#: :func:`starc.gridworld`: up, right, down, left.
_ARROWS = ((0.0, -0.35), (0.35, 0.0), (0.0, 0.35), (-0.35, 0.0))


def _new_axes(ax):
    """``ax`` itself, or the axes of a new figure; refuses anything that is not an Axes."""
    from matplotlib.axes import Axes

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
        return ax
    if not isinstance(ax, Axes):
        raise ValidationError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _optional_text(value, name: str):
    """``None`` or a str."""
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{name} must be a str or None, got {type(value).__name__}")
    return value


def _cells(value, name: str) -> list[tuple[int, int]]:
    """A sequence of grid cells (``None`` is no cells)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValidationError(f"{name} must be a sequence of (row, col) pairs, got "
                              f"{type(value).__name__}")
    return [_cell(c, f"{name}[{i}]") for i, c in enumerate(value)]


def _cell(value, name: str) -> tuple[int, int]:
    """A grid cell ``(row, col)`` of non-negative integers."""
    try:
        row, col = value
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a (row, col) pair, got {value!r}") from None
    for v in (row, col):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValidationError(f"{name} must hold non-negative integers, got {value!r}")
    return int(row), int(col)


def policy_map(values, policy, cells, *, walls=(), goal=None, highlight=None,
               highlight_label: str | None = None, norm=None, cmap: str = "viridis",
               title: str | None = None, ax=None):
    r"""Draw state values as a grid heat map with the policy's actions as arrows.

    Cell :math:`(r, c)` of state :math:`s` is coloured by :math:`V(s)` (typically
    :math:`V^*(s) = \max_\pi V^\pi(s)`) and carries an arrow for :math:`\pi(s)`; the goal
    cell carries a ``"G"``, walls are black, cells without a state are left blank.

    Parameters
    ----------
    values : array_like of shape (S,)
        Finite state values.
    policy : array_like of int, shape (S,)
        Deterministic policy, actions in ``0..3`` (up, right, down, left), e.g. from
        :func:`starc.optimal_policy` on a :func:`starc.gridworld`.
    cells : sequence of S (row, col)
        The grid cell of every state (distinct).
    walls : iterable of (row, col), optional
        Cells drawn black.
    goal : (row, col), optional
        The goal cell: a ``"G"`` instead of an arrow.
    highlight : (row, col), optional
        A cell framed in red, named ``highlight_label`` above the grid (a label inside the
        grid would land on an arrow).
    highlight_label : str, optional
    norm : matplotlib.colors.Normalize, optional
        Colour scale; pass one object to several maps to share their scale.
    cmap : str
        Colour map.
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes by default.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``; its image is ``ax.images[0]`` (for a colorbar).

    Raises
    ------
    ValidationError
        For values or a policy of the wrong shape or kind, actions outside ``0..3``,
        malformed or repeated cells, an unknown colour map, a ``norm`` that is not a
        ``Normalize``, a grid too large for memory, or an ``ax`` that is not an Axes.

    References
    ----------
    .. [1] Sutton and Barto, "Reinforcement Learning", 2nd ed., Example 4.1 (grid world
       values and policies drawn this way).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from starc import gridworld, optimal_policy, optimal_values
    >>> from starc.plotting import policy_map
    >>> mdp, reward = gridworld(2, 3, goal=(1, 2))
    >>> cells = [(r, c) for r in range(2) for c in range(3)]
    >>> ax = policy_map(optimal_values(reward, mdp), optimal_policy(reward, mdp), cells,
    ...                 goal=(1, 2))
    >>> ax.images[0].get_array().shape, [t.get_text() for t in ax.texts]
    ((2, 3), ['G'])
    >>> plt.close(ax.figure)
    """
    v = as_float_array(values, "values", ndim=1)
    try:
        pi = np.asarray(policy)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise ValidationError(f"policy must be an integer array: {err}") from None
    if pi.shape != v.shape or pi.dtype.kind not in "iu":
        raise ValidationError(f"policy must be an integer array of shape {v.shape} (one "
                              f"action per state), got dtype {pi.dtype} and shape {pi.shape}")
    if pi.size and (pi.min() < 0 or pi.max() >= len(_ARROWS)):
        raise ValidationError("policy holds an action outside 0..3 (up, right, down, left)")
    cells = _cells(cells, "cells")
    if len(cells) != v.shape[0]:
        raise ValidationError(f"cells must give one cell per state: {v.shape[0]} values "
                              f"and {len(cells)} cells")
    if len(set(cells)) != len(cells):
        raise ValidationError("cells lists a cell more than once")
    walls = _cells(walls, "walls")
    goal = None if goal is None else _cell(goal, "goal")
    highlight = None if highlight is None else _cell(highlight, "highlight")
    highlight_label = _optional_text(highlight_label, "highlight_label")
    title = _optional_text(title, "title")
    import matplotlib
    from matplotlib.colors import Normalize

    if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
        raise ValidationError(f"cmap must name a matplotlib colour map (e.g. 'viridis'), "
                              f"got {cmap!r}")
    if norm is not None and not isinstance(norm, Normalize):
        raise ValidationError(f"norm must be a matplotlib.colors.Normalize or None, got "
                              f"{type(norm).__name__}")
    occupied = cells + walls + [c for c in (goal, highlight) if c is not None]
    height = 1 + max((r for r, _ in occupied), default=0)
    width = 1 + max((c for _, c in occupied), default=0)
    check_memory((height, width), "the grid of policy_map")
    ax = _new_axes(ax)
    import matplotlib.pyplot as plt

    grid = np.full((height, width), np.nan)
    for s, (row, col) in enumerate(cells):
        grid[row, col] = v[s]
    ax.imshow(grid, cmap=cmap, norm=norm)
    for s, (row, col) in enumerate(cells):
        if (row, col) == goal:
            ax.text(col, row, "G", ha="center", va="center", color="white", weight="bold")
            continue
        dx, dy = _ARROWS[int(pi[s])]
        ax.arrow(col - dx / 2, row - dy / 2, dx, dy, head_width=0.15, color="white")
    for row, col in walls:
        ax.add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, color="black"))
    if highlight is not None:
        row, col = highlight
        ax.add_patch(plt.Rectangle((col - 0.47, row - 0.47), 0.94, 0.94, fill=False,
                                   edgecolor="red", lw=2))
        if highlight_label:
            ax.text(col, -0.55, highlight_label, ha="center", va="bottom", fontsize=8,
                    color="red", clip_on=False)
    if title is not None:
        ax.set_title(title, pad=14)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def grouped_bars(values: Mapping[str, Sequence[float]], groups: Sequence[str], *,
                 errors: Mapping[str, Sequence[float]] | None = None,
                 zero_rtol: float = 1e-9, width: float = 0.8,
                 hatches: Mapping[str, str] | None = None, label_fontsize: float = 8,
                 tick_fontsize: float | None = None, ax=None):
    r"""Grouped bars, one series per key of ``values``, with ``"0"`` over the zero bars.

    Series :math:`i` of :math:`k` is drawn in colour ``C<i>`` at offsets
    :math:`(i - (k - 1)/2)\, w/k` from each group's position, so the ``k`` bars of a group
    fill the width :math:`w`. A bar of height :math:`h` is labelled ``"0"`` when

    .. math::

        |h| \le \rho \cdot \max\bigl(1, \max_{\text{all bars}} |h'|\bigr),

    :math:`\rho` = ``zero_rtol``: a zero bar has no visible height, and a reader should
    not take it for a missing one.

    Parameters
    ----------
    values : mapping of str to sequence of float
        Series label -> one finite height per group.
    groups : sequence of str
        Tick labels of the groups.
    errors : mapping of str to sequence of float, optional
        Series label -> error-bar half-lengths (>= 0), one per group; series left out have
        none.
    zero_rtol : float
        Relative tolerance :math:`\rho \ge 0` of the zero labels.
    width : float
        Width :math:`w` of a group, in (0, 1].
    hatches : mapping of str to str, optional
        Series label -> matplotlib hatch pattern.
    label_fontsize : float
        Font size of the ``"0"`` labels.
    tick_fontsize : float, optional
        Font size of the group labels.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes by default.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``; one bar container per series in ``ax.containers`` (in the order of
        ``values``), labelled for a legend.

    Raises
    ------
    ValidationError
        For no series, a series or error list whose length differs from ``groups``,
        non-finite heights, negative errors, ``zero_rtol < 0``, a width outside (0, 1],
        font sizes that are not > 0, hatches or errors for unknown series, or an ``ax``
        that is not an Axes.

    References
    ----------
    .. [1] Skalse et al., ICLR 2024, arXiv 2309.15257, Table 1 (distances of rewards that
       differ by shaping are exactly 0).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from starc.plotting import grouped_bars
    >>> ax = grouped_bars({"shaped": [0.0, 0.0], "decoy": [0.4, 0.2]}, ["VAL", "regret"])
    >>> [t.get_text() for t in ax.texts if t.get_text()]
    ['0', '0']
    >>> plt.close(ax.figure)
    """
    if not isinstance(values, Mapping) or not values:
        raise ValidationError("values must be a non-empty mapping of series label to heights")
    if isinstance(groups, (str, bytes)) or not isinstance(groups, (Sequence, np.ndarray)):
        raise ValidationError(f"groups must be a sequence of group labels, got "
                              f"{type(groups).__name__}")
    groups = [str(g) for g in groups]
    heights = {}
    for label, h in values.items():
        arr = as_float_array(h, f"values[{label!r}]", ndim=1)
        if arr.shape[0] != len(groups):
            raise ValidationError(f"values[{label!r}] has {arr.shape[0]} heights for "
                                  f"{len(groups)} groups")
        heights[label] = arr
    for name, mapping in (("errors", errors), ("hatches", hatches)):
        if mapping is not None and not isinstance(mapping, Mapping):
            raise ValidationError(f"{name} must be a mapping of series label to values, "
                                  f"got {type(mapping).__name__}")
    errs = {}
    for label, e in (errors or {}).items():
        if label not in heights:
            raise ValidationError(f"errors names the series {label!r}, which values lacks")
        arr = as_float_array(e, f"errors[{label!r}]", ndim=1)
        if arr.shape[0] != len(groups) or np.any(arr < 0):
            raise ValidationError(f"errors[{label!r}] must hold {len(groups)} values >= 0")
        errs[label] = arr
    zero_rtol = check_real(zero_rtol, "zero_rtol", low=0.0)
    width = check_real(width, "width", low=0.0, high=1.0, low_open=True)
    label_fontsize = check_real(label_fontsize, "label_fontsize", low=0.0, low_open=True)
    if tick_fontsize is not None:
        tick_fontsize = check_real(tick_fontsize, "tick_fontsize", low=0.0, low_open=True)
    hatches = dict(hatches or {})
    for label, hatch in hatches.items():
        if label not in heights or not (hatch is None or isinstance(hatch, str)):
            raise ValidationError(f"hatches must map series labels of values to hatch "
                                  f"patterns (str), got {label!r}: {hatch!r}")
    ax = _new_axes(ax)

    k = len(heights)
    bar = width / k
    x = np.arange(len(groups))
    top = max(float(np.max(np.abs(h), initial=0.0)) for h in heights.values())
    tol = zero_rtol * max(top, 1.0)
    for i, (label, h) in enumerate(heights.items()):
        extra = {"yerr": errs[label], "capsize": 3} if label in errs else {}
        bars = ax.bar(x + (i - (k - 1) / 2) * bar, h, bar, label=label, color=f"C{i}",
                      hatch=hatches.get(label), **extra)
        ax.bar_label(bars, labels=["0" if abs(v) <= tol else "" for v in h], padding=2,
                     fontsize=label_fontsize, color=f"C{i}", fontweight="bold")
    ax.set_xticks(x, groups, fontsize=tick_fontsize)
    return ax


def regret_vs_distance(distance, worst_case_regret, regret=None, bound=None, *,
                       running_max: bool = True, xlabel: str = "STARC distance d", ax=None):
    r"""Scatter regrets of reward pairs against their distance, with the certified bound.

    For pairs :math:`(R_1, R_2)` with distance :math:`d`, draws the exact worst-case
    regret, optionally the optimal-policy regret and each pair's certified bound

    .. math::

        \mathrm{Reg}(R_1, R_2) \le \mathrm{WCR}(R_1, R_2)
        \le \min\bigl(1, U(R_1)\, d\bigr)

    (STARC Thm. 1; :func:`starc.regret_bound`), and the running maximum of the
    worst-case regret in order of increasing :math:`d`.

    Parameters
    ----------
    distance : array_like of shape (P,)
        Distances :math:`d \ge 0` of the ``P`` pairs.
    worst_case_regret : array_like of shape (P,)
        Normalised worst-case regrets (:func:`starc.worst_case_regret`).
    regret : array_like of shape (P,), optional
        Normalised optimal-policy regrets (:func:`starc.regret`).
    bound : array_like of shape (P,), optional
        Certified bounds (:func:`starc.regret_bound`), drawn as dashes.
    running_max : bool
        Draw the running maximum of the worst-case regret.
    xlabel : str
        Label of the distance axis.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes by default.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, with labelled artists for a legend and the regret axis on
        :math:`[-0.02, 1.05]`.

    Raises
    ------
    ValidationError
        For arrays that are not 1-D, finite and of one length, a negative distance, a
        ``running_max`` that is not a bool, or an ``ax`` that is not an Axes.

    References
    ----------
    .. [1] Skalse et al., ICLR 2024, arXiv 2309.15257, Thm. 1 (soundness) and Thm. 2
       (completeness).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from starc.plotting import regret_vs_distance
    >>> ax = regret_vs_distance([0.1, 0.3, 0.2], [0.05, 0.4, 0.1], bound=[0.5, 1.0, 1.0])
    >>> sorted(ax.get_legend_handles_labels()[1])[:2]
    ['certified bound min(1, U d)', 'running max of worst-case regret']
    >>> plt.close(ax.figure)
    """
    d = as_float_array(distance, "distance", ndim=1)
    if np.any(d < 0):
        raise ValidationError("distance must be >= 0")
    if not isinstance(running_max, (bool, np.bool_)):
        raise ValidationError(f"running_max must be True or False, got {running_max!r}")
    if not isinstance(xlabel, str):
        raise ValidationError(f"xlabel must be a str, got {type(xlabel).__name__}")
    named = {"worst_case_regret": worst_case_regret, "regret": regret, "bound": bound}
    arrays = {}
    for name, arr in named.items():
        if arr is None and name != "worst_case_regret":   # the optional series
            continue
        a = as_float_array(arr, name, ndim=1)
        if a.shape != d.shape:
            raise ValidationError(f"{name} has shape {a.shape}, distance {d.shape}: one "
                                  "value per pair")
        arrays[name] = a
    ax = _new_axes(ax)
    if "bound" in arrays:
        ax.scatter(d, arrays["bound"], s=12, marker="_", color="0.4",
                   label="certified bound min(1, U d)")
    wcr = arrays["worst_case_regret"]
    ax.scatter(d, wcr, s=9, alpha=0.7, color="C0", label="worst-case regret (LP)")
    if "regret" in arrays:
        ax.scatter(d, arrays["regret"], s=9, alpha=0.7, color="C1",
                   label="optimal-policy regret")
    if running_max and d.size:
        order = np.argsort(d)
        ax.plot(d[order], np.maximum.accumulate(wcr[order]), color="C0", lw=0.8,
                label="running max of worst-case regret")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("normalised regret")
    ax.set_ylim(-0.02, 1.05)
    return ax
