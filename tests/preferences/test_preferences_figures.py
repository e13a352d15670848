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
