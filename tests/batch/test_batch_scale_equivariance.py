"""Scale equivariance of the starc.batch distance, canonical and norm kernels.

Issue 14, item 3: normalized distances ignore a positive scaling of either reward;
canonicals, norms and unnormalized distances are positively homogeneous. Powers of two
must give identical numbers (float64 arithmetic is exactly equivariant under them) over
the whole float64 range, and the batch results must equal the numpy functions' at every
scale; results beyond float64 raise ValidationError.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import starc
from starc import batch as B

#: A spread of registry variants: normalized and not, factored and full canonicals, the LP.
VARIANTS = ["VAL-2-2", "VAL-1-weighted_inf", "VAL-0-2", "EPIC-2-2", "EPIC-0-1",
            "DARD-weighted_2-1", "DARD-0-inf", "MinimalPotential-2-inf", "MinimalPotential-1-1",
            "VALPotential-0-weighted_2", "None-2-2", "None-0-weighted_1", "MinimalL2-2-2",
            "MinimalL2-0-1"]
UNNORMALIZED = [i for i, v in enumerate(VARIANTS) if v.split("-")[1] == "0"]
NORMALIZED = [i for i in range(len(VARIANTS)) if i not in UNNORMALIZED]


def _unit(r: np.ndarray) -> np.ndarray:
    """Each reward of ``r (..., S, A, S)`` rescaled exactly to max |r| in [1/2, 1)."""
    big = np.abs(r).max(axis=(-3, -2, -1))
    e = np.where(big > 0, np.frexp(big)[1], 0)
    return np.ldexp(r, -e[..., None, None, None])


@pytest.fixture(scope="module")
def setup():
    mdps = [starc.random_mdp(5, 3, gamma=0.9, seed=1),
            starc.random_mdp(5, 3, gamma=0.6, seed=2, kind="garnet", n_successors=2)]
    r = np.stack([starc.random_reward(m, seed=10 + i, size=4) for i, m in enumerate(mdps)])
    return mdps, _unit(r)


@settings(max_examples=10)
@given(st.lists(st.integers(-1000, 1000), min_size=4, max_size=4))
def test_variant_distances_under_powers_of_two(setup, exps):
    mdps, r = setup
    e = np.array(exps)
    ref = B.variant_distances(r[:, :1], r, mdps, VARIANTS)
    scaled = np.ldexp(r, e[None, :, None, None, None])
    pair = np.maximum(e[0], e)  # the unnormalized distances at each pair's larger scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected_unnormalized = np.ldexp(
            B.variant_distances(np.ldexp(r[:, :1], e[0] - pair[None, :, None, None, None]),
                                np.ldexp(r, (e - pair)[None, :, None, None, None]), mdps,
                                [VARIANTS[i] for i in UNNORMALIZED]), pair[None, :, None])
    if not np.all(np.isfinite(expected_unnormalized)):
        with pytest.raises(starc.ValidationError, match="float64 range"):
            B.variant_distances(scaled[:, :1], scaled, mdps, VARIANTS)
        got = B.variant_distances(scaled[:, :1], scaled, mdps,
                                  [VARIANTS[i] for i in NORMALIZED])
        np.testing.assert_array_equal(got, ref[..., NORMALIZED])
        return
    got = B.variant_distances(scaled[:, :1], scaled, mdps, VARIANTS)
    np.testing.assert_array_equal(got[..., NORMALIZED], ref[..., NORMALIZED])
    tiny = np.finfo(float).tiny
    unnorm = got[..., UNNORMALIZED]
    ok = (expected_unnormalized == 0) | (np.abs(expected_unnormalized) >= tiny)
    np.testing.assert_array_equal(unnorm[ok], expected_unnormalized[ok])
    np.testing.assert_allclose(unnorm[~ok], expected_unnormalized[~ok], rtol=0,
                               atol=4 * 2.0**-1074)


@pytest.mark.parametrize("scales", [(1e300, 1e-300), (1.7e308, 1.0), (2.0**-1070, 1e160)])
def test_variant_distances_match_numpy_at_extreme_scales(setup, scales):
    mdps, r = setup
    k = np.array([scales[0], scales[1], scales[0], 1.0])
    x = r * k[None, :, None, None, None]
    names = [VARIANTS[i] for i in NORMALIZED]
    got = B.variant_distances(x[:, :1], x, mdps, names)
    for b, mdp in enumerate(mdps):
        for j in range(4):
            for v, name in enumerate(names):
                if name.startswith("MinimalL2"):
                    _, nn, mn = name.split("-")
                    ref = starc.starc_distance(x[b, 0], x[b, j], mdp,
                                               canonicalization="minimal_l2",
                                               normalization=nn, metric=mn)
                else:
                    ref = starc.starc_distance(x[b, 0], x[b, j], mdp, variant=name)
                assert abs(got[b, j, v] - ref) <= 1e-10, (name, b, j)


@pytest.mark.parametrize("method", ["none", "epic", "dard", "val", "val_potential",
                                    "minimal_l2", "minimal_potential"])
@pytest.mark.parametrize("j", [-1000, -300, 5, 700, 1000])
def test_canonicals_and_norms_under_powers_of_two(setup, method, j):
    mdps, r = setup
    c = B.canonicalize(r, mdps, method)
    np.testing.assert_array_equal(B.canonicalize(np.ldexp(r, j), mdps, method),
                                  np.ldexp(c, j))
    n = B.norm(r, mdps, "all")
    np.testing.assert_array_equal(B.norm(np.ldexp(r, j), mdps, "all"), np.ldexp(n, j))


def test_lp_canonicals_and_extreme_norms(setup):
    mdps, r = setup
    c = B.canonicalize(r, mdps, "minimal_potential", norm="l1")
    np.testing.assert_array_equal(
        B.canonicalize(np.ldexp(r, 900), mdps, "minimal_potential", norm="l1"),
        np.ldexp(c, 900))
    huge = r / np.abs(r).max(axis=(-3, -2, -1), keepdims=True) * 1.7e308
    np.testing.assert_array_equal(B.norm(huge, mdps, "linf"), np.full(r.shape[:2], 1.7e308))
    with pytest.raises(starc.ValidationError, match="float64 range"):
        B.norm(huge, mdps, "l1")
    tiny = np.full((2, 1, 5, 3, 5), 5e-324)
    assert B.norm(tiny, mdps, "l1")[0, 0] == 75 * 5e-324


def test_regrets_policies_and_values_at_the_top_of_float64():
    """Issue 14: batch regrets, optimal policies and value ranges of rewards whose largest
    entry is 1.7e308 were NaN/inf; now they are computed on 2**-e R (exact) and values
    beyond float64 are refused."""
    batch = B
    mdp = starc.random_mdp(5, 3, seed=1, gamma=0.9)
    mdps = batch.MDPBatch(mdp.transition[None], np.array([0.9]))
    r1 = starc.random_reward(mdp, seed=11)[None, None]
    r2 = starc.random_reward(mdp, seed=12)[None, None]
    s1, s2 = 1.7e308 / np.abs(r1).max(), 1.7e308 / np.abs(r2).max()
    np.testing.assert_allclose(batch.regrets(r1 * s1, r2 * s2, mdps),
                               batch.regrets(r1, r2, mdps), rtol=1e-12)
    actions, _ = batch.optimal_policies(r1, mdps)
    big_actions, _ = batch.optimal_policies(r1 * 2.0 ** 1000, mdps)
    np.testing.assert_array_equal(big_actions, actions)
    lo, hi = batch.value_ranges(r1 * 2.0 ** 900, mdps)
    lo1, hi1 = batch.value_ranges(r1, mdps)
    np.testing.assert_array_equal(lo, lo1 * 2.0 ** 900)
    np.testing.assert_array_equal(hi, hi1 * 2.0 ** 900)
    with pytest.raises(starc.ValidationError, match="float64 range"):
        batch.value_ranges(r1 * s1, mdps)
    with pytest.raises(starc.ValidationError, match="float64 range"):
        batch.optimal_policies(r1 * s1, mdps)  # values up to 1.7e309
