"""Shared pieces of the sweep tests: a small sweep, a few variants, bitwise comparison."""

from __future__ import annotations

import numpy as np

from starc.sweep import Sweep, SweepResult

#: A few variants covering every family (closed forms, the LP-free minimal ones).
SOME = ["VAL-2-2", "EPIC-2-2", "DARD-2-2", "None-0-2", "VALPotential-1-inf",
        "MinimalPotential-2-weighted_inf", "MinimalL2-2-2"]


def small(**kw) -> Sweep:
    """A 4-MDP, 2-pair, 4-step sweep on 6 states and 2 actions (seed 3); ``kw`` overrides."""
    base = dict(n_mdps=4, pairs_per_mdp=2, n_steps=4, n_states=6, n_actions=2, seed=3)
    base.update(kw)
    return Sweep(**base)


def assert_identical(a: SweepResult, b: SweepResult):
    """The two results have the same variants and every column bit for bit."""
    assert a.variants == b.variants
    np.testing.assert_array_equal(a.distances, b.distances)
    assert list(a.columns) == list(b.columns)
    for k in a.columns:
        np.testing.assert_array_equal(a.columns[k], b.columns[k])
