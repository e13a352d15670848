"""paper_figures/topology_*.py run in --quick mode, write their PNG and print where."""

from __future__ import annotations

import pytest

from figure_scripts import FIGURES, points_under_legends, run_quick

SCRIPTS = sorted(FIGURES.glob("topology_*.py"))


def test_both_figures_present():
    assert {p.stem for p in SCRIPTS} >= {"topology_scaling", "topology_schematic"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_quick_run_writes_png(script, tmp_path, capsys):
    figures = []
    run_quick(script, tmp_path, capsys, max_seconds=20.0, figures=figures)
    for fig in figures:
        assert points_under_legends(fig) == []


def test_topology_scaling_quick_figure_shows_the_claim_of_its_title(tmp_path, capsys):
    """The title claims the chain/tree gap of path distances grows like ln n / ln ln n and
    the resistance gap does not: the quick figure must show both (issue 19)."""
    import re

    import numpy as np

    figures = []
    run_quick(FIGURES / "topology_scaling.py", tmp_path, capsys, max_seconds=20.0,
              figures=figures)
    lines = {line.get_label(): line for line in figures[0].axes[1].get_lines()}
    ns = np.asarray(lines["chain / tree, path distance"].get_xdata(), dtype=float)
    path = np.asarray(lines["chain / tree, path distance"].get_ydata(), dtype=float)
    resistance = np.asarray(lines["chain / tree, resistance"].get_ydata(), dtype=float)
    assert np.log10(ns[-1] / ns[0]) >= 2.0           # two decades, as THEORY §7 asks
    assert path[-1] >= 1.25 * path[0]                # the path gap grows ...
    fit = next(label for label in lines if label.startswith("fit"))
    assert float(re.search(r"R\^2\$ = ([0-9.]+)", fit).group(1)) >= 0.9  # ... like the law
    ref = np.log(ns) / np.log(np.log(ns))
    slope = np.polyfit(ref, resistance, 1)[0]
    assert slope < 0.5 * np.polyfit(ref, path, 1)[0]  # the resistance gap does not grow
