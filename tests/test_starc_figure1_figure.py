"""paper_figures/starc_figure1.py: the highlighted variants and the paper's values are visible."""

from __future__ import annotations

import pytest

from figure_scripts import FIGURES, capture_figures, load_script, points_under_legends


@pytest.mark.slow
def test_quick_figure_names_highlights_in_a_legend_that_covers_no_point(tmp_path, monkeypatch):
    module = load_script(FIGURES / "starc_figure1.py")
    (fig,) = capture_figures(module, monkeypatch, ["--quick", "--output", str(tmp_path)])
    assert points_under_legends(fig) == []
    ax, bx = fig.axes[:2]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for name in module.HIGHLIGHT:
        assert any(label.startswith(name) for label in labels), (name, labels)
    # no highlighted name is written beside its ring (where it lands on other points)
    assert not any(t.get_text() in module.HIGHLIGHT for t in ax.texts)
    # the paper's values (x) are drawn above the highlight rings, in every panel showing them
    for axes in fig.axes[1:]:
        crosses = [c for c in axes.collections if c.get_offsets().shape[0] == 1
                   and c.get_facecolor().size and c.get_label().startswith("_")
                   and c.get_paths()[0].vertices.shape[0] == 4]
        rings = [c for c in axes.collections if c.get_offsets().shape[0] == 1
                 and c.get_facecolor().size == 0]
        assert crosses and rings
        assert min(c.get_zorder() for c in crosses) > max(r.get_zorder() for r in rings)
    # one spelling in the titles and legends
    texts = [a.get_title() for a in fig.axes] + labels
    texts += [t.get_text() for t in bx.get_legend().get_texts()]
    assert not any("normalis" in t for t in texts), texts
