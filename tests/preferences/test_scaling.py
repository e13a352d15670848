"""The chain/tree gap: grows like ln n / ln ln n for path distance, not for resistance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from starc.exceptions import ValidationError
from starc.preferences import TopologyGapCurve, topology_gap_curve


def test_curve_fields_and_reproducibility():
    c = topology_gap_curve([64, 256], n_samples=300, n_resistance_pairs=16, seed=3)
    assert isinstance(c, TopologyGapCurve)
    for name in ("chain_path", "tree_path", "ratio", "reference", "chain_resistance",
                 "tree_resistance", "resistance_ratio", "connected_fraction_chain",
                 "connected_fraction_tree"):
        arr = getattr(c, name)
        assert arr.shape == (2,) and np.all(np.isfinite(arr)), name
    np.testing.assert_allclose(c.ratio, c.chain_path / c.tree_path)
    np.testing.assert_allclose(c.reference, np.log([64, 256]) / np.log(np.log([64, 256])))
    assert np.all(c.chain_resistance <= c.chain_path)
    assert np.all((0 < c.connected_fraction_chain) & (c.connected_fraction_chain <= 1))
    again = topology_gap_curve([64, 256], n_samples=300, n_resistance_pairs=16, seed=3)
    np.testing.assert_array_equal(again.ratio, c.ratio)
    np.testing.assert_array_equal(again.tree_resistance, c.tree_resistance)


def test_no_resistance_gives_nan_and_repeats_average():
    c = topology_gap_curve([128], n_samples=200, resistance=False, n_repeats=2,
                           seed=np.random.default_rng(0), sampling="sources")
    assert np.isnan(c.chain_resistance).all() and np.isnan(c.resistance_ratio).all()
    assert math.isnan(c.fit_r2) and c.ratio[0] > 1
    c2 = topology_gap_curve([128], n_samples=50, resistance=False, beta=2.0,
                            tree_kwargs={"branching": 3}, chain_kwargs={}, seed=1)
    assert c2.chain_path[0] < c.chain_path[0]     # beta = 2: smaller HP variances


def test_ratio_grows_like_log_over_loglog():
    """Issue 6: the chain/tree ratio increases over n = 2^10 .. 2^16 and fits ln n/ln ln n."""
    ns = 2 ** np.arange(10, 17)
    c = topology_gap_curve(ns, n_samples=1500, resistance=False, seed=2024)
    assert np.all(np.diff(c.ratio) > 0), c.ratio
    assert c.fit_slope > 0 and c.fit_r2 > 0.95
    # proportional to ln n / ln ln n: ratio / reference stays within a few per cent
    scaled = c.ratio / c.reference
    assert scaled.std() / scaled.mean() < 0.05, scaled
    # the tree mean stays O(1) while the chain mean grows
    assert c.tree_path.max() / c.tree_path.min() < 1.1
    assert c.chain_path[-1] / c.chain_path[0] > 1.2


def test_resistance_does_not_show_the_growth():
    c = topology_gap_curve([2 ** 10, 2 ** 13], n_samples=600, n_resistance_pairs=32,
                           seed=7)
    # the path ratio grows by more than 10 % over three doublings ...
    assert c.ratio[1] / c.ratio[0] > 1.10
    # ... while the posterior variances of chain data do not grow at all
    assert c.chain_resistance[1] < c.chain_resistance[0]
    assert c.chain_path[1] > c.chain_path[0]


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(ns=[8, 64]), "every n in ns must be >= 16"),
    (dict(ns=[64.0]), "ns must be a non-empty 1-D array of ints"),
    (dict(ns=[]), "ns must be a non-empty 1-D array of ints"),
    (dict(ns=[64], n_samples=0), "n_samples must be an integer >= 1"),
    (dict(ns=[64], n_repeats=0), "n_repeats must be an integer >= 1"),
    (dict(ns=[64], resistance="yes"), "resistance must be True or False"),
    (dict(ns=[64], tree_kwargs=[1]), "tree_kwargs must be a dict"),
    (dict(ns=[64], sampling="all"), "unknown sampling 'all'"),
    (dict(ns=[64], seed=-5), "seed must be non-negative"),
    (dict(ns=[64], complexity="cubic"), "unknown complexity 'cubic'"),
])
def test_bad_inputs(kwargs, fragment):
    with pytest.raises(ValidationError, match=fragment):
        topology_gap_curve(**kwargs)



def test_topology_gap_curve_record_validates_its_fields():
    import dataclasses

    curve = topology_gap_curve([50, 100], n_samples=50, resistance=False, seed=0)
    fields = {f.name: getattr(curve, f.name) for f in dataclasses.fields(curve)}
    assert np.isnan(TopologyGapCurve(**fields).chain_resistance).all()  # not computed
    for name, bad in (("ns", [50.0, 100.0]), ("chain_path", np.array([1.0, np.nan])),
                      ("ratio", np.ones(3)), ("fit_slope", np.inf), ("fit_r2", "x"),
                      ("connected_fraction_tree", np.array([0.5, 1.5])),
                      ("tree_resistance", np.array([np.inf, 1.0]))):
        with pytest.raises(ValidationError):
            TopologyGapCurve(**{**fields, name: bad})
