"""paper_figures/continuous_table1.py: the continuous analogue of STARC's Table 1.

Pendulum-v1 (numpy model of gymnasium's dynamics): the potential-shaped reward is within
3 standard errors of 0 for EPIC, DARD and VAL, and the distances order the variants
shaped < second peak < random < negated.
"""

from __future__ import annotations

import csv

import pytest

from figure_scripts import FIGURES, load_script, points_under_legends

SCRIPT = FIGURES / "continuous_table1.py"

#: Absolute slack for a distance that is 0 up to round-off.
ROUNDOFF = 1e-6


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    """The table (from the CSV) and the figure of one --quick run."""
    module = load_script(SCRIPT)
    figures = []
    save = module.save_figure

    def record(fig, *args, **kwargs):
        figures.append(fig)
        return save(fig, *args, **kwargs)

    module.save_figure = record  # a freshly loaded module: nothing outside it changes
    out = tmp_path_factory.mktemp("continuous_table1")
    assert module.main(["--quick", "--output", str(out)]) == 0
    png = out / "continuous_table1.png"
    assert png.is_file() and png.stat().st_size > 1000
    with open(out / "continuous_table1.csv") as f:
        rows = list(csv.DictReader(f))
    table = {(r["reward"], r["method"]): (float(r["estimate"]), float(r["stderr"]))
             for r in rows}
    (fig,) = figures
    return table, fig


@pytest.fixture(scope="module")
def table(run_output):
    return run_output[0]


def test_figure_writes_0_over_the_zero_bars_and_labels_its_axes(run_output):
    table, fig = run_output
    (ax,) = fig.axes
    assert ax.get_xlabel() and ax.get_ylabel()
    zero_bars = sum(1 for v, _ in table.values() if abs(v) <= ROUNDOFF)
    zeros = [t for t in ax.texts if t.get_text() == "0"]
    assert zero_bars >= 3 and len(zeros) == zero_bars
    assert points_under_legends(fig) == []
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    assert not any(box.overlaps(t.get_window_extent()) for t in zeros)


@pytest.mark.parametrize("method", ["EPIC", "DARD", "VAL"])
def test_potential_shaped_is_zero_within_three_standard_errors(table, method):
    est, se = table[("potential_shaped", method)]
    assert est <= 3 * se + ROUNDOFF, (est, se)


@pytest.mark.parametrize("method", ["EPIC", "DARD", "VAL"])
def test_ordering_shaped_second_peak_random_negated(table, method):
    est = [table[(v, method)][0] for v in ("potential_shaped", "second_peak", "random",
                                           "negated")]
    assert est[0] < est[1] < est[2] < est[3], est


@pytest.mark.parametrize("method,value", [("EPIC", 1.0), ("DARD", 1.0), ("VAL", 2.0)])
def test_negated_is_the_maximum(table, method, value):
    assert table[("negated", method)][0] == pytest.approx(value, abs=1e-9)


def test_independent_samples_per_reward_break_the_shaped_case(table):
    """Estimating each reward's canonical from its own samples: shaped is far from 0."""
    est, _ = table[("potential_shaped", "VAL, independent samples (paper-style)")]
    assert est > 0.5
