"""starc.plotting: what each helper draws, checked on the artists it returns."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from starc import ValidationError, gridworld, optimal_policy, optimal_values  # noqa: E402
from starc.plotting import grouped_bars, policy_map, regret_vs_distance  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class TestPolicyMap:
    def test_values_arrows_walls_goal(self):
        walls = [(0, 1)]
        mdp, reward = gridworld(2, 3, walls=walls, goal=(1, 2))
        cells = [(r, c) for r in range(2) for c in range(3) if (r, c) not in walls]
        v = optimal_values(reward, mdp)
        pi = optimal_policy(reward, mdp)
        ax = policy_map(v, pi, cells, walls=walls, goal=(1, 2), highlight=(0, 0),
                        highlight_label="start", title="V*")
        grid = np.asarray(ax.images[0].get_array().filled(np.nan))
        expected = np.full((2, 3), np.nan)
        for s, (r, c) in enumerate(cells):
            expected[r, c] = v[s]
        np.testing.assert_array_equal(grid, expected)
        texts = sorted(t.get_text() for t in ax.texts)
        assert texts == ["G", "start"]
        arrows = [p for p in ax.patches if isinstance(p, matplotlib.patches.FancyArrow)]
        assert len(arrows) == len(cells) - 1                  # every state but the goal
        rects = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
        assert len(rects) == len(walls) + 1                   # walls + the highlight frame
        assert ax.get_title() == "V*"

    def test_arrow_directions_follow_gridworld_actions(self):
        # one state per action, each arrow drawn centred on its cell
        cells = [(1, 1), (1, 3), (3, 1), (3, 3)]
        ax = policy_map(np.zeros(4), np.arange(4), cells)
        arrows = [p for p in ax.patches if isinstance(p, matplotlib.patches.FancyArrow)]
        moves = [(-1, 0), (0, 1), (1, 0), (0, -1)]            # up, right, down, left
        for arrow, (row, col), (dr, dc) in zip(arrows, cells, moves):
            xy = arrow.get_xy()
            tip = xy[np.argmax(xy @ np.array([dc, dr]))]      # furthest along the move
            assert np.sign(tip[0] - col) == dc and np.sign(tip[1] - row) == dr

    @pytest.mark.parametrize("kwargs, match", [
        ({"policy": [0, 4]}, "outside 0..3"),
        ({"policy": [0.0, 1.0]}, "integer array"),
        ({"cells": [(0, 0)]}, "one cell per state"),
        ({"cells": [(0, 0), (0, 0)]}, "more than once"),
        ({"cells": [(0, 0), (0, -1)]}, "non-negative integers"),
        ({"values": [0.0, np.nan]}, "NaN"),
        ({"ax": "axes"}, "matplotlib Axes"),
    ])
    def test_bad_input(self, kwargs, match):
        args = {"values": [0.0, 1.0], "policy": [0, 1], "cells": [(0, 0), (0, 1)]}
        args.update(kwargs)
        with pytest.raises(ValidationError, match=match):
            policy_map(args.pop("values"), args.pop("policy"), args.pop("cells"), **args)


class TestGroupedBars:
    def test_positions_heights_and_zero_labels(self):
        values = {"a": [0.0, 2.0, 1e-12], "b": [4.0, 1e-3, 0.5]}
        fig, ax = plt.subplots()
        assert grouped_bars(values, ["x", "y", "z"], width=0.8, ax=ax) is ax
        a, b = ax.containers
        np.testing.assert_allclose([r.get_x() + r.get_width() / 2 for r in a], [-0.2, 0.8, 1.8])
        np.testing.assert_allclose([r.get_x() + r.get_width() / 2 for r in b], [0.2, 1.2, 2.2])
        np.testing.assert_array_equal([r.get_height() for r in b], values["b"])
        # zero: |h| <= 1e-9 * max(1, 4) -- 0 and 1e-12 are, 1e-3 is not
        labels = [t.get_text() for t in ax.texts]
        assert labels.count("0") == 2
        assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
        assert ax.get_legend_handles_labels()[1] == ["a", "b"]

    def test_errors_and_hatches(self):
        ax = grouped_bars({"a": [1.0, 2.0], "b": [1.0, 0.0]}, ["x", "y"],
                          errors={"a": [0.1, 0.2]}, hatches={"b": "//"})
        a, b = [c for c in ax.containers
                if isinstance(c, matplotlib.container.BarContainer)]
        assert a.errorbar is not None and b.errorbar is None
        segments = a.errorbar.lines[2][0].get_segments()
        np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], [0.2, 0.4])
        assert all(r.get_hatch() == "//" for r in b)

    @pytest.mark.parametrize("values, kwargs, match", [
        ({}, {}, "non-empty mapping"),
        ({"a": [1.0]}, {}, "1 heights for 2 groups"),
        ({"a": [1.0, np.inf]}, {}, "infinite"),
        ({"a": [1.0, 1.0]}, {"errors": {"b": [0, 0]}}, "values lacks"),
        ({"a": [1.0, 1.0]}, {"errors": {"a": [0, -1]}}, ">= 0"),
        ({"a": [1.0, 1.0]}, {"zero_rtol": -1.0}, "zero_rtol"),
        ({"a": [1.0, 1.0]}, {"width": 0.0}, "width"),
    ])
    def test_bad_input(self, values, kwargs, match):
        with pytest.raises(ValidationError, match=match):
            grouped_bars(values, ["x", "y"], **kwargs)


class TestRegretVsDistance:
    def test_artists_and_running_max(self):
        d = [0.3, 0.1, 0.2, 0.4]
        wcr = [0.5, 0.2, 0.1, 0.4]
        ax = regret_vs_distance(d, wcr, [0.1, 0.0, 0.0, 0.2], [1.0, 0.6, 0.9, 1.0])
        labels = ax.get_legend_handles_labels()[1]
        assert labels == ["certified bound min(1, U d)", "worst-case regret (LP)",
                          "optimal-policy regret", "running max of worst-case regret"]
        (line,) = ax.lines
        np.testing.assert_array_equal(line.get_xdata(), [0.1, 0.2, 0.3, 0.4])
        np.testing.assert_array_equal(line.get_ydata(), [0.2, 0.2, 0.5, 0.5])
        assert ax.get_ylim() == (-0.02, 1.05)

    def test_optional_series(self):
        ax = regret_vs_distance([0.1, 0.2], [0.0, 0.1], running_max=False)
        assert ax.get_legend_handles_labels()[1] == ["worst-case regret (LP)"]
        assert len(ax.lines) == 0

    @pytest.mark.parametrize("args, match", [
        (([-0.1], [0.0]), "distance must be >= 0"),
        (([0.1, 0.2], [0.0]), "one value per pair"),
        (([[0.1]], [0.0]), "1 dimension"),
    ])
    def test_bad_input(self, args, match):
        with pytest.raises(ValidationError, match=match):
            regret_vs_distance(*args)
