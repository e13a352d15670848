"""paper_figures/continuous_table1.py: the continuous analogue of STARC's Table 1.

Pendulum-v1 (numpy model of gymnasium's dynamics): the potential-shaped reward is within
3 standard errors of 0 for EPIC, DARD and VAL, and the distances order the variants
shaped < second peak < random < negated.
"""

from __future__ import annotations

import csv

import pytest

from figure_scripts import FIGURES, load_script

SCRIPT = FIGURES / "continuous_table1.py"

#: Absolute slack for a distance that is 0 up to round-off.
ROUNDOFF = 1e-6


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    module = load_script(SCRIPT)
    out = tmp_path_factory.mktemp("continuous_table1")
    assert module.main(["--quick", "--output", str(out)]) == 0
    png = out / "continuous_table1.png"
    assert png.is_file() and png.stat().st_size > 1000
    with open(out / "continuous_table1.csv") as f:
        rows = list(csv.DictReader(f))
    return {(r["reward"], r["method"]): (float(r["estimate"]), float(r["stderr"]))
            for r in rows}


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
