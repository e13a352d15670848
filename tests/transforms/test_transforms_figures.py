"""Every paper_figures/transforms_*.py script runs in --quick mode and writes its PNG."""

from __future__ import annotations

import pytest

from figure_scripts import FIGURES, run_quick

SCRIPTS = sorted(FIGURES.glob("transforms_*.py"))


def test_all_figures_present():
    names = {p.stem for p in SCRIPTS}
    assert {"transforms_lsc_shape", "transforms_winrate_vs_kl", "transforms_p_all_good",
            "transforms_reference_quantile", "transforms_process_rewards"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_quick_run_writes_png(script, tmp_path, capsys):
    run_quick(script, tmp_path, capsys)
