"""starc.sweep.result: SweepResult's columns, statistics and files, summary_table."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import starc
from starc.sweep import Sweep, SweepResult, summary_table

from sweep_cases import SOME, assert_identical, small

def test_result_io_and_statistics(tmp_path):
    res = small(variants=SOME).run()
    assert "SweepResult(n_rows=32" in repr(res) and len(res) == 32
    path = tmp_path / "r.npz"
    res.save(path)
    back = SweepResult.load(path)
    assert_identical(res, back)
    assert back.config == res.config
    csv = tmp_path / "r.csv"
    res.to_csv(csv)
    table = np.genfromtxt(csv, delimiter=",", names=True)
    assert table.shape == (32,)
    np.testing.assert_allclose(table["regret"], res["regret"], rtol=1e-15)
    np.testing.assert_allclose(table["VAL22"], res["VAL-2-2"], rtol=1e-15)
    from scipy.stats import spearmanr

    pear = res.correlations("pearson")
    spear = res.correlations("spearman")
    for j, v in enumerate(res.variants):
        np.testing.assert_allclose(pear[v], np.corrcoef(res.distances[:, j], res["regret"])[0, 1],
                                   atol=1e-12)
        np.testing.assert_allclose(spear[v], spearmanr(res.distances[:, j], res["regret"])[0],
                                   atol=1e-12)
    with pytest.raises(starc.ValidationError, match="regret"):
        res.correlations(regret="mc_regret")
    with pytest.raises(starc.ValidationError, match="method"):
        res.correlations("kendall")
    with pytest.raises(KeyError):
        res["nope"]
    with pytest.raises(starc.ValidationError, match="lacks"):
        np.savez(tmp_path / "bad.npz", x=np.zeros(2))
        SweepResult.load(tmp_path / "bad.npz")
    with pytest.raises(starc.ValidationError, match="path"):
        res.save(3)


def test_to_pandas(monkeypatch):
    res = small(variants=["VAL-2-2"]).run()
    if importlib.util.find_spec("pandas") is not None:
        df = res.to_pandas()
        assert df.shape == (32, len(res.columns) + 1)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(starc.MissingDependencyError, match="pip install pandas"):
        res.to_pandas()


def test_summary_table_without_regret_column_is_refused():
    res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2"], regrets=()).run()
    assert not res.regret_columns
    with pytest.raises(starc.ValidationError, match="no regret column.*regrets="):
        summary_table(res)
    with pytest.raises(starc.ValidationError, match="SweepResult"):
        summary_table({"regret": [0.0]})


def test_summary_table_labels_the_regret_it_shows():
    res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "EPIC-2-2"],
                       regrets=("mc",), mc_repeats=1, mc_horizon=20).run()
    head = summary_table(res).splitlines()[2]
    assert "MC unnorm." in head and "best (MC)" in head and "exact" not in head


def test_sweep_result_constructor_refuses_bad_fields():
    d = np.zeros((3, 1))
    cols = {"regret": np.zeros(3)}
    assert len(SweepResult(["VAL-2-2"], d, cols, {})) == 3
    for args in ((None, d, cols, {}), (3, d, cols, {}),
                 (["VAL-2-2"], [[1.0, 2.0], [3.0]], cols, {}),
                 (["VAL-2-2"], d.astype(complex), cols, {}), (["VAL-2-2"], "abc", cols, {}),
                 (["VAL-2-2"], d, None, {}), (["VAL-2-2"], d, {"x": ["a", "b", "c"]}, {}),
                 (["VAL-2-2"], d, cols, None), (["VAL-2-2"], d, cols, 3)):
        with pytest.raises(starc.ValidationError):
            SweepResult(*args)
