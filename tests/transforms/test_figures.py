"""Every paper_figures/transforms_*.py script runs in --quick mode and writes its PNG."""

from __future__ import annotations

import pytest

from figure_scripts import FIGURES, points_under_legends, run_quick, unlabelled_data_artists

SCRIPTS = sorted(FIGURES.glob("transforms_*.py"))
#: The scripts whose every line and scatter is named in a legend (the others explain their
#: line styles in their titles).
FULLY_LABELLED = {"transforms_reference_quantile", "transforms_process_rewards",
                  "transforms_winrate_vs_kl", "transforms_p_all_good"}


def test_all_figures_present():
    names = {p.stem for p in SCRIPTS}
    assert {"transforms_lsc_shape", "transforms_winrate_vs_kl", "transforms_p_all_good",
            "transforms_reference_quantile", "transforms_process_rewards"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_quick_run_writes_png(script, tmp_path, capsys):
    figures = []
    run_quick(script, tmp_path, capsys, figures=figures)
    for fig in figures:
        # no legend hides a data point, and (where promised) every drawn line has a name
        assert points_under_legends(fig) == []
        if script.stem in FULLY_LABELLED:
            assert unlabelled_data_artists(fig) == []


def test_winrate_vs_kl_quick_shows_lsc_resisting_reward_hacking():
    # The title claims LSC resists reward hacking: in --quick mode too, at the largest KL
    # the LSC tilt's true win rate beats the raw tilt's by at least 0.1.
    from figure_scripts import load_script

    module = load_script(FIGURES / "transforms_winrate_vs_kl.py")
    kl, curves, _, _ = module.compute(True, 0)
    assert kl[-1] == pytest.approx(5.0)
    assert curves["LSC proxy"][-1] - curves["raw proxy"][-1] >= 0.1
