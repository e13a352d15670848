"""starc.batch._kernels: the range kernels and how they are driven.

The kernels compute a range ``lo .. hi-1`` of batch items and :func:`run_parallel` splits
a batch over threads; every item must come out bit-identical whatever the split. Policy
iteration serves the optimal policies, the value ranges and the tie-restricted regrets
with one compiled signature (a mask of allowed actions, all True when unrestricted).
"""

from __future__ import annotations

import numpy as np

import starc
from starc import _rules
from starc.batch import _kernels as K
from starc.batch import core


def _groups(n_mdps=3, k=4, seed=0):
    mdps = [starc.random_mdp(5, 3, seed=seed + i, gamma=0.9) for i in range(n_mdps)]
    batch = core.MDPBatch.from_mdps(mdps)
    R = np.stack([starc.random_reward(m, seed=10 + i, size=k) for i, m in enumerate(mdps)])
    return batch, R, np.arange(n_mdps, dtype=np.int64)


def _run(kernel_blocks, batch, R, mdp_of, need):
    prep = core.prepare(batch)
    n_groups, n_k, n, m = R.shape[:4]
    grp = K.Groups(R, mdp_of, np.zeros((n_groups, n_k), dtype=np.int64))
    tols = _rules.tolerances()
    dists = K.DistanceOut(np.zeros((n_groups, n_k - 1, _rules.N_FAMILIES,
                                    _rules.N_NORMALIZATIONS, _rules.N_NORMS)),
                          np.zeros(n_groups, dtype=np.int64))
    regs = K.RegretOut(np.zeros((n_groups, n_k - 1, 2)),
                       np.zeros((n_groups, n_k, 2, n), dtype=np.int64),
                       np.zeros((n_groups, n_k), dtype=np.bool_),
                       np.zeros(n_groups, dtype=np.int64))
    ds, da = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    for lo, hi in kernel_blocks:
        K.distance_groups(lo, hi, prep, grp, need, K.Dists(ds, da), tols, dists)
        K.regret_groups(lo, hi, prep, grp, _rules.TIE_PESSIMISTIC, tols, regs)
    return dists, regs


def test_any_split_of_the_batch_gives_the_same_bits():
    """Groups computed in one block, or one group per block in reverse order (as threads
    may), give bit-identical distances, regrets, actions and flags."""
    batch, R, mdp_of = _groups()
    need = np.ones((_rules.N_FAMILIES, _rules.N_NORMALIZATIONS), dtype=np.bool_)
    one = _run([(0, 3)], batch, R, mdp_of, need)
    split = _run([(2, 3), (1, 2), (0, 1)], batch, R, mdp_of, need)
    for a, b in zip(one, split):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert not one[1].status.any() and not one[0].status.any()


def test_run_parallel_covers_each_item_once():
    """run_parallel calls the kernel on disjoint blocks covering ``start .. n-1``."""
    seen = []
    K.run_parallel(lambda lo, hi: seen.extend(range(lo, hi)), 37, start=5)
    assert sorted(seen) == list(range(5, 37))


def test_policy_iteration_compiles_once():
    """Optimal policies, value ranges and regrets (pessimistic, optimistic, first) all use
    one compiled policy iteration. Fresh, uncached copies of the two kernels that call it
    are compiled here (a warm cache would load them without compiling their callees)."""
    from numba import njit

    batch, R, mdp_of = _groups(n_mdps=2, k=3, seed=5)
    prep = core.prepare(batch)
    n_groups, n_k, n = R.shape[0], R.shape[1], R.shape[2]
    optimal = njit(nogil=True)(K.optimal_kernel.py_func)
    actions = np.empty(R.shape[:3], dtype=np.int64)
    values = np.empty(R.shape[:3])
    status = np.zeros(n_groups, dtype=np.int64)
    for sign in (1.0, -1.0):
        optimal(0, n_groups, prep.T, prep.gam, mdp_of, R, sign, _rules.tolerances(), actions,
                values, status)
    regret = njit(nogil=True)(K.regret_groups.py_func)
    grp = K.Groups(R, mdp_of, np.zeros((n_groups, n_k), dtype=np.int64))
    regs = K.RegretOut(np.zeros((n_groups, n_k - 1, 2)),
                       np.zeros((n_groups, n_k, 2, n), dtype=np.int64),
                       np.zeros((n_groups, n_k), dtype=np.bool_),
                       np.zeros(n_groups, dtype=np.int64))
    for ties in range(len(_rules.TIES)):
        regret(0, n_groups, prep, grp, ties, _rules.tolerances(), regs)
    assert not status.any() and not regs.status.any()
    assert len(K.policy_iteration.signatures) == 1
