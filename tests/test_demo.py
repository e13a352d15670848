"""starc.demo: the demo's environment, its table (checked against theory: a potential-shaped
reward is at distance 0 and regret 0) and its output names."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import starc
from starc.cli import main
from starc.demo import demo_environment, demo_table


def test_demo_numbers(capsys, tmp_path):
    mdp, rewards, _ = demo_environment()
    rows = {row["reward"]: row for row in demo_table(mdp, rewards)}
    for key in ("VAL-2-2", "minimal_l2-2-2", "EPIC", "DARD", "regret", "worst_case_regret"):
        assert rows["shaped"][key] == pytest.approx(0.0, abs=1e-9), key
    assert rows["misspecified"]["regret"] > 0.5
    assert rows["misspecified"]["VAL-2-2"] > 0.5
    assert rows["misspecified"]["bound(VAL-2-2)"] >= rows["misspecified"]["worst_case_regret"]
    assert main(["demo", "--json", "--output", str(tmp_path / "d.png")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["reward"] for row in data] == ["true", "shaped", "misspecified"]


def test_demo_output_names(tmp_path, monkeypatch):
    from starc.demo import demo_output

    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    assert demo_output(".") == os.path.join(".", "starc_demo.png")
    assert demo_output("sub") == os.path.join("sub", "starc_demo.png")
    assert demo_output("sub/") == os.path.join("sub", "starc_demo.png")
    assert demo_output("plot") == "plot.png"
    assert demo_output("plot.") == "plot.png"
    assert demo_output("sub/plot.pdf") == "sub/plot.pdf"
    with pytest.raises(starc.ValidationError, match="its folder 'new' does not exist"):
        demo_output("new/")
    with pytest.raises(starc.ValidationError, match="output must be a str"):
        demo_output(3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]  # nothing written



@pytest.mark.parametrize("mdp_ok, rewards", [(False, None), (True, None), (True, {}),
                                             (True, {"shaped": np.zeros(3)}), (True, 3)])
def test_demo_table_refuses_bad_arguments(mdp_ok, rewards):
    mdp, good, _ = demo_environment()
    with pytest.raises(starc.ValidationError):
        demo_table(mdp if mdp_ok else None, rewards if mdp_ok else good)


def test_demo_figure_shares_one_colour_scale_and_shows_the_zero_bars(tmp_path, monkeypatch):
    import starc.demo as demo

    figures = []
    save = demo.save_figure

    def record(fig, *args, **kwargs):
        figures.append(fig)
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(demo, "save_figure", record)
    mdp, rewards, cells = demo_environment()
    rows = demo_table(mdp, rewards)
    demo.plot_demo(mdp, rewards, cells, rows, str(tmp_path / "demo.png"))
    (fig,) = figures
    maps, bars_ax = fig.axes[:3], fig.axes[3]
    # one colour scale for the three value maps, with a colorbar that names it
    norms = [ax.images[0].norm for ax in maps]
    assert all(n is norms[0] for n in norms)
    assert any("V*" in ax.get_ylabel() for ax in fig.axes[4:])
    # the decoy's name is above the grid, not on a cell's arrow
    for ax in maps:
        (label,) = [t for t in ax.texts if t.get_text() == "decoy"]
        assert label.get_position()[1] < -0.5
    # every bar that is zero up to round-off (all of 'shaped') is written as "0"; regrets
    # are not called distances
    zero = sum(1 for row in rows[1:] for k in ("VAL-2-2", "minimal_l2-2-2", "EPIC", "DARD",
                                               "regret", "worst_case_regret", "bound(VAL-2-2)")
               if abs(row[k]) < 1e-9)
    assert zero >= 7
    assert sum(t.get_text() == "0" for t in bars_ax.texts) == zero
    assert "regret" in bars_ax.get_title()
    # the bound of 1 for 'misspecified' is called vacuous
    assert rows[2]["bound(VAL-2-2)"] == 1.0
    assert any("vacuous" in t.get_text() for t in bars_ax.texts)
