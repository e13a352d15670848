"""The parametric worst-case-regret search (``starc._parametric``), shared by the dense and
sparse paths: the same search with either kind of linear algebra, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from starc import _sparse_linalg as sl
from starc._parametric import parametric_worst_case
from starc.solve import deterministic_values, policy_iteration


def _ops(mdp):
    if mdp.is_sparse:
        idx = np.arange(mdp.n_states)
        return dict(optimal_actions=lambda r: sl.policy_iteration(mdp, r)[0],
                    values=lambda r, a: sl.solve(mdp, a, r[idx, a])[0])
    return dict(optimal_actions=lambda r: policy_iteration(r, mdp)[0],
                values=lambda r, a: deterministic_values(r, mdp, a))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_search_dense_sparse_and_brute_force(small_mdp, seed):
    """Value of max J1(p1) - J1(p2) s.t. J2(p2) >= J2(p1) over *mixtures*: the search's
    value is at least the best deterministic pair (a feasible point) and the dense and
    sparse operations give the same value."""
    rng = np.random.default_rng(seed)
    n, m = small_mdp.n_states, small_mdp.n_actions
    a1, a2 = rng.standard_normal((2, n, m))
    # normalise both value ranges to 1, as the callers do
    rets = {}
    for pol in itertools.product(range(m), repeat=n):
        p = np.array(pol)
        rets[pol] = tuple(float(deterministic_values(a, small_mdp, p) @ small_mdp.initial)
                          for a in (a1, a2))
    j = np.array(list(rets.values()))
    a1 = a1 / np.ptp(j[:, 0])
    a2 = a2 / np.ptp(j[:, 1])
    j = j / np.ptp(j, axis=0)
    dense, _ = parametric_worst_case(a1, a2, small_mdp.gamma, small_mdp.initial,
                                     **_ops(small_mdp))
    sparse_mdp = small_mdp.to_sparse()
    sparse, _ = parametric_worst_case(a1, a2, sparse_mdp.gamma, sparse_mdp.initial,
                                      **_ops(sparse_mdp))
    assert abs(dense - sparse) <= 1e-9
    feasible = j[:, None, 1] >= j[None, :, 1] - 1e-12  # J2(p2) >= J2(p1), p2 the column
    best_pair = float(np.max(np.where(feasible.T, j[:, None, 0] - j[None, :, 0], -np.inf)))
    # a feasible deterministic pair bounds the maximum over mixtures from below
    assert min(best_pair, 1.0) - 1e-9 <= dense <= 1.0
