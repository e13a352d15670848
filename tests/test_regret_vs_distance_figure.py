"""paper_figures/regret_vs_distance.py: every drawn line is labelled, the bound's regimes shown."""

from __future__ import annotations

import numpy as np

from figure_scripts import FIGURES, capture_figures, load_script, unlabelled_data_artists


def test_quick_figure_labels_every_line_and_zooms_on_the_informative_bound(tmp_path,
                                                                          monkeypatch, capsys):
    module = load_script(FIGURES / "regret_vs_distance.py")
    (fig,) = capture_figures(module, monkeypatch, ["--quick", "--output", str(tmp_path)])
    assert unlabelled_data_artists(fig) == []
    _, zoom = fig.axes
    assert zoom.get_xscale() == "log" and zoom.get_yscale() == "log"
    # the zoom holds only pairs with an informative bound (U d < 1)
    bound_line = next(ln for ln in zoom.get_lines() if ln.get_label().startswith("certified"))
    assert len(bound_line.get_ydata()) >= 5 and np.all(bound_line.get_ydata() < 1.0)
    # the figure says how many pairs have a vacuous bound
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "vacuous" in texts
    assert "regret_vs_distance.png" in capsys.readouterr().out
