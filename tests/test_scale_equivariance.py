"""Scale equivariance of every distance, canonicalization and norm, over all of float64.

Theorems checked (issue 14, item 3):

* a normalized STARC distance, the EPIC and DARD (Pearson) distances, ``is_equivalent``
  and ``normalize`` do not depend on a positive scaling of either argument;
* canonicalizations, norms and unnormalized distances are positively homogeneous:
  ``c(k R) = k c(R)``, ``n(k x) = k n(x)``, ``d_0(k R_1, k R_2) = k d_0(R_1, R_2)``.

Float64 arithmetic is exactly equivariant under powers of two (barring overflow and
subnormal numbers), so for ``k = 2**j`` the results must be *identical*; for ``k = 10**j``
they agree to round-off of the inputs (each entry of ``k R`` is rounded). The extreme
region — largest magnitude 1.7e308, or a few units of 5e-324 — is compared against the
same computation on the exactly rescaled input (``np.ldexp``), and where the true result
exceeds float64 (an unnormalised distance of 1e308-sized rewards) a ValidationError is
required, never ``inf`` or NaN.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import starc
from starc.sampled import (sampled_dard_distance, sampled_epic_distance,
                           sampled_val_distance, tabular_reward, tabular_samplers)
from strategies import mdp_and_reward, mdps, reward_arrays

#: Normalized variants: the distance ignores the scale of either reward.
NORMALIZED = ["VAL-2-2", "VAL-1-inf", "VAL-weighted_2-weighted_1", "VAL-inf-weighted_inf",
              "EPIC-2-2", "EPIC-1-weighted_2", "DARD-2-1", "DARD-weighted_1-inf",
              "VALPotential-inf-2", "MinimalPotential-2-2", "MinimalPotential-1-1",
              "None-2-2", "None-weighted_inf-1"]
#: Unnormalized variants: positively homogeneous of degree one.
UNNORMALIZED = ["VAL-0-2", "VAL-0-weighted_1", "EPIC-0-inf", "DARD-0-2", "None-0-1",
                "VALPotential-0-weighted_2"]
CLOSED_FORM_METHODS = ["none", "epic", "dard", "val", "val_potential", "minimal_l2",
                       "minimal_potential"]
#: float64 round-off of the scaled inputs, propagated: generous against 1e-16 per entry,
#: tiny against any real error (a wrong scale changes these results at O(1)).
RTOL = 1e-9

decades = st.integers(-300, 300)
powers_of_two = st.integers(-1000, 1000)


def _unit(r: np.ndarray) -> np.ndarray:
    """``r`` rescaled (exactly) so that its largest magnitude lies in [1/2, 1)."""
    big = np.abs(r).max()
    return r if big == 0 else np.ldexp(r, -int(np.frexp(big)[1]))


def _scaled(r: np.ndarray, j: int) -> np.ndarray:
    """``_unit(r) * 2**j`` (exact unless it leaves the float64 range)."""
    return np.ldexp(_unit(r), j)


def _exact_or_refused(fn, expected: np.ndarray):
    """``fn()`` equals ``expected`` exactly, or raises ValidationError when ``expected`` is
    beyond the float64 range."""
    if np.all(np.isfinite(expected)):
        np.testing.assert_array_equal(fn(), expected)
    else:
        with pytest.raises(starc.ValidationError, match="float64 range"):
            fn()


def _usable(mdp):
    """Skip subnormal discounts (``gamma * x`` underflows: no equivariance to test)."""
    assume(mdp.gamma == 0.0 or mdp.gamma >= 2.0**-500)
    return mdp


def _two_rewards(draw):
    mdp = _usable(draw(mdps(min_states=2, min_actions=2, max_states=5, max_actions=3)))
    r1 = draw(reward_arrays(mdp))
    r2 = draw(reward_arrays(mdp))
    return mdp, r1, r2


# ------------------------------------------------------------------ distances


@given(st.data(), st.sampled_from(NORMALIZED), powers_of_two, powers_of_two)
def test_normalized_distances_ignore_power_of_two_scales(data, variant, j1, j2):
    mdp, r1, r2 = _two_rewards(data.draw)
    a, b = _unit(r1), _unit(r2)
    ref = starc.starc_distance(a, b, mdp, variant=variant)
    assert starc.starc_distance(np.ldexp(a, j1), np.ldexp(b, j2), mdp,
                                variant=variant) == ref


@given(st.data(), st.sampled_from(NORMALIZED), decades, decades)
def test_normalized_distances_ignore_decimal_scales(data, variant, k1, k2):
    mdp, r1, r2 = _two_rewards(data.draw)
    ref = starc.starc_distance(r1, r2, mdp, variant=variant)
    got = starc.starc_distance(10.0**k1 * r1, 10.0**k2 * r2, mdp, variant=variant)
    assert abs(got - ref) <= RTOL


@given(st.data(), st.sampled_from(UNNORMALIZED), powers_of_two)
def test_unnormalized_distances_are_homogeneous(data, variant, j):
    mdp, r1, r2 = _two_rewards(data.draw)
    a, b = _unit(r1), _unit(r2)
    ref = starc.starc_distance(a, b, mdp, variant=variant)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the expected value may overflow
        expected = np.ldexp(ref, j)
    if ref == 0.0 or expected == 0.0 or not np.isfinite(expected) or \
            abs(expected) >= np.finfo(float).tiny:
        _exact_or_refused(lambda: starc.starc_distance(np.ldexp(a, j), np.ldexp(b, j), mdp,
                                                       variant=variant), expected)
    else:  # a subnormal distance: correct to the subnormal spacing
        got = starc.starc_distance(np.ldexp(a, j), np.ldexp(b, j), mdp, variant=variant)
        assert abs(got - expected) <= 4 * 2.0**-1074 + RTOL * abs(expected)


@given(st.data(), st.sampled_from(UNNORMALIZED), decades)
def test_unnormalized_distances_follow_decimal_scales(data, variant, k):
    mdp, r1, r2 = _two_rewards(data.draw)
    c = 10.0**k
    ref = starc.starc_distance(r1, r2, mdp, variant=variant)
    got = starc.starc_distance(c * r1, c * r2, mdp, variant=variant)
    size = np.abs(r1).max() + np.abs(r2).max()
    tol = RTOL * c * size / (1.0 - mdp.gamma)
    assert abs(got - c * ref) <= tol + RTOL * c * ref


@given(st.data(), powers_of_two, st.booleans())
def test_epic_dard_and_pearson_ignore_scales(data, j, negate_scale):
    mdp, r1, r2 = _two_rewards(data.draw)
    a, b = _unit(r1), _unit(r2)
    j2 = -j if negate_scale else j
    assert starc.epic_distance(np.ldexp(a, j), np.ldexp(b, j2), mdp) == \
        starc.epic_distance(a, b, mdp)
    assert starc.dard_distance(np.ldexp(a, j), np.ldexp(b, j2), mdp) == \
        starc.dard_distance(a, b, mdp)
    assert starc.pearson_distance(np.ldexp(a, j), np.ldexp(b, j2)) == \
        starc.pearson_distance(a, b)


@given(st.data(), powers_of_two, decades)
def test_is_equivalent_and_pairwise_ignore_scales(data, j, k):
    mdp, r1, r2 = _two_rewards(data.draw)
    a = _unit(r1)
    assert starc.is_equivalent(a, np.ldexp(a, j), mdp)
    assert starc.is_equivalent(r1, 10.0**k * r1, mdp)
    assert starc.is_equivalent(np.ldexp(a, j), -a, mdp) == starc.is_equivalent(a, -a, mdp)
    stack = np.stack([a, _unit(r2), -a])
    scales = np.array([j, -j, j // 2])
    ref = starc.pairwise_distances(stack, mdp)
    np.testing.assert_array_equal(
        starc.pairwise_distances(np.ldexp(stack, scales[:, None, None, None]), mdp), ref)


@given(st.data(), st.sampled_from(["VAL-2-2", "EPIC-2-2", "DARD-2-2", "None-0-2",
                                    "VAL-0-2"]))
def test_extreme_magnitudes(data, variant):
    """Largest magnitude 1.7e308 or a few units of 5e-324: the rescaled input's result."""
    mdp, r1, r2 = _two_rewards(data.draw)
    a, b = _unit(r1), _unit(r2)
    huge_a = a / np.abs(a).max() * 1.7e308
    tiny_b = np.ldexp(b, -1070)  # subnormal: about 4 significant bits per entry
    for x, y in ((huge_a, -huge_a), (huge_a, tiny_b), (tiny_b, -tiny_b), (huge_a, b)):
        ex = int(np.frexp(np.abs(x).max())[1])
        ey = int(np.frexp(np.abs(y).max())[1])
        if variant.split("-")[1] == "0":
            if ex == ey:  # the same scale: d(x, y) = 2**e d(x 2**-e, y 2**-e)
                ref = starc.starc_distance(np.ldexp(x, -ex), np.ldexp(y, -ex), mdp,
                                           variant=variant)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    expected = np.ldexp(ref, ex)
                if abs(expected) >= np.finfo(float).tiny or expected == 0.0:
                    _exact_or_refused(lambda: starc.starc_distance(x, y, mdp,
                                                                   variant=variant),
                                      expected)
            continue
        got = starc.starc_distance(x, y, mdp, variant=variant)
        ref = starc.starc_distance(np.ldexp(x, -ex), np.ldexp(y, -ey), mdp, variant=variant)
        assert got == ref and np.isfinite(got)


def test_issue_14_item_3_examples():
    """The failures reported in issue 14 (item 3), on the code before the fix."""
    mdp = starc.random_mdp(8, 3, seed=0)
    r = starc.random_reward(mdp, seed=1)
    assert starc.starc_distance(1e160 * r, r, mdp) <= 1e-12  # was 1
    assert starc.starc_distance(1e-300 * r, -1e-300 * r, mdp) == pytest.approx(2.0)  # was 0
    assert starc.is_equivalent(r, 1e200 * r, mdp)  # was False
    d0 = starc.starc_distance(r, starc.random_reward(mdp, seed=2), mdp, variant="VAL-0-2")
    big = starc.starc_distance(1e300 * r, 1e300 * starc.random_reward(mdp, seed=2), mdp,
                               variant="VAL-0-2")
    assert np.isfinite(big) and big == pytest.approx(1e300 * d0, rel=1e-12)  # was inf
    extreme = r / np.abs(r).max() * 1.7e308
    assert starc.starc_distance(extreme, -extreme, mdp) == pytest.approx(2.0)  # was NaN
    with pytest.raises(starc.ValidationError, match="float64 range"):
        starc.starc_distance(extreme, -extreme, mdp, variant="VAL-0-2")


# ------------------------------------------------------------------ canonicals


@given(mdp_and_reward(max_states=5, max_actions=3), st.sampled_from(CLOSED_FORM_METHODS),
       powers_of_two)
def test_canonicals_are_exactly_equivariant_under_powers_of_two(mr, method, j):
    mdp, r = mr
    _usable(mdp)
    a = _unit(r)
    c = starc.canonicalize(a, mdp, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.ldexp(c, j)
    if np.all(np.isfinite(expected)) and np.all((expected == 0) | (np.abs(expected) >=
                                                                   np.finfo(float).tiny)):
        np.testing.assert_array_equal(starc.canonicalize(np.ldexp(a, j), mdp, method),
                                      expected)
    elif not np.all(np.isfinite(expected)):
        with pytest.raises(starc.ValidationError, match="float64 range"):
            starc.canonicalize(np.ldexp(a, j), mdp, method)


@given(mdp_and_reward(max_states=5, max_actions=3), st.sampled_from(CLOSED_FORM_METHODS),
       decades)
def test_canonicals_follow_decimal_scales(mr, method, k):
    mdp, r = mr
    _usable(mdp)
    c = 10.0**k
    ref = starc.canonicalize(r, mdp, method)
    got = starc.canonicalize(c * r, mdp, method)
    scale = c * np.abs(r).max() / (1.0 - mdp.gamma)
    np.testing.assert_allclose(got, c * ref, rtol=0, atol=RTOL * scale)


@pytest.mark.parametrize("method,norm", [("minimal", "l1"), ("minimal_potential", "linf"),
                                         ("minimal_potential", "weighted_l2")])
def test_solver_canonicals_are_equivariant(method, norm):
    """Optimisers run at unit scale: powers of two give identical canonicals.

    A fresh MDP per solve: cvxpy problems are cached per MDP and warm-started, so a solve
    depends (within the solver's tolerance) on the previous one.
    """
    transition = starc.random_mdp(4, 2, seed=3).transition

    def canonical(x):
        return starc.canonicalize(x, starc.TabularMDP(transition, 0.9), method, norm=norm)

    r = _unit(starc.random_reward(starc.TabularMDP(transition, 0.9), seed=4))
    ref = canonical(r)
    for j in (-300, 40, 1000):
        np.testing.assert_array_equal(canonical(np.ldexp(r, j)), np.ldexp(ref, j))
    tiny = np.ldexp(r, -1060)  # subnormal: the canonical of the bits that are left
    c = canonical(tiny)
    e = int(np.frexp(np.abs(tiny).max())[1])
    np.testing.assert_array_equal(c, np.ldexp(canonical(np.ldexp(tiny, -e)), e))


def test_extreme_canonical_is_refused_not_inf():
    mdp = starc.random_mdp(6, 2, gamma=0.9, seed=0)
    r = -np.ones(mdp.shape)
    r[0, 0, 0] = 1.0  # EPIC canonical about 2 at (0, 0, 0)
    assert np.abs(starc.canonicalize(r, mdp, "epic")).max() > 1.5
    with pytest.raises(starc.ValidationError, match="float64 range"):
        starc.canonicalize(1.7e308 * r, mdp, "epic")
    assert starc.starc_distance(1.7e308 * r, r, mdp, canonicalization="epic") <= 1e-12
    c = starc.canonicalize(np.ldexp(r, 1000), mdp, "epic")  # finite: returned exactly
    np.testing.assert_array_equal(c, np.ldexp(starc.canonicalize(r, mdp, "epic"), 1000))


# ------------------------------------------------------------------ norms


@given(st.data(), st.sampled_from(starc.NORMS), powers_of_two)
def test_norm_and_normalize(data, ord, j):
    mdp = _usable(data.draw(mdps(max_states=5, max_actions=3)))
    x = _unit(data.draw(reward_arrays(mdp, batch=(2,))))
    ref = starc.norm(x, ord, mdp=mdp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.ldexp(ref, j)
    if np.all((expected == 0) | (np.abs(expected) >= np.finfo(float).tiny)):
        _exact_or_refused(lambda: starc.norm(np.ldexp(x, j), ord, mdp=mdp), expected)
    np.testing.assert_array_equal(starc.normalize(np.ldexp(x, j), ord, mdp=mdp),
                                  starc.normalize(x, ord, mdp=mdp))


@given(st.data(), st.sampled_from(starc.NORMS), decades)
def test_normalize_follows_decimal_scales(data, ord, k):
    mdp = _usable(data.draw(mdps(max_states=5, max_actions=3)))
    x = data.draw(reward_arrays(mdp))
    np.testing.assert_allclose(starc.normalize(10.0**k * x, ord, mdp=mdp),
                               starc.normalize(x, ord, mdp=mdp), rtol=0, atol=RTOL)
    assert starc.norm(10.0**k * x, ord, mdp=mdp) == pytest.approx(
        10.0**k * starc.norm(x, ord, mdp=mdp), rel=RTOL)


def test_norm_extremes():
    x = np.ones((2, 1, 2))
    assert starc.norm(5e-324 * x, "l2") == 1e-323
    assert starc.norm(1.7e308 * x, "linf") == 1.7e308
    np.testing.assert_array_equal(starc.normalize(5e-324 * x), np.full_like(x, 0.5))
    np.testing.assert_array_equal(starc.normalize(1.7e308 * x), np.full_like(x, 0.5))
    with pytest.raises(starc.ValidationError, match="float64 range"):
        starc.norm(1.7e308 * x, "l2")


# ------------------------------------------------------------------ sampled estimates


@pytest.mark.parametrize("which", ["epic", "dard", "val"])
def test_sampled_estimates_ignore_scales(which):
    mdp = starc.random_mdp(5, 2, seed=0)
    r1 = _unit(starc.random_reward(mdp, seed=1))
    r2 = _unit(starc.random_reward(mdp, seed=2))
    smp = tabular_samplers(mdp)

    def run(a, b):
        if which == "epic":
            return sampled_epic_distance(tabular_reward(a), tabular_reward(b), smp.coverage,
                                         gamma=mdp.gamma, state_sampler=smp.state_sampler,
                                         action_sampler=smp.action_sampler, n_samples=200,
                                         n_bootstrap=20, seed=0)
        if which == "dard":
            return sampled_dard_distance(tabular_reward(a), tabular_reward(b), smp.coverage,
                                         smp.transition, gamma=mdp.gamma,
                                         action_sampler=smp.action_sampler, n_samples=200,
                                         n_bootstrap=20, seed=0)
        return sampled_val_distance(tabular_reward(a), tabular_reward(b), smp.coverage,
                                    smp.transition, gamma=mdp.gamma, policy=smp.policy,
                                    n_samples=50, n_bootstrap=20, seed=0)

    ref = run(r1, r2)
    for j1, j2 in ((700, 700), (-1000, 1000), (1023, -300)):
        assert run(np.ldexp(r1, j1), np.ldexp(r2, j2)) == ref
    # subnormal rewards keep only a few bits: the same estimate as those bits at unit scale
    x, y = np.ldexp(r1, -1065), np.ldexp(r2, 1000)
    assert run(x, y) == run(_unit(x), _unit(y))
    for k in (-300, 300):
        got = run(10.0**k * r1, 10.0**k * r2)
        assert got.estimate == pytest.approx(ref.estimate, abs=RTOL)


# ------------------------------------------------------------------ transforms


@pytest.mark.parametrize("j", [-1060, -900, -300, 7, 300, 1000])
def test_zscores_ignore_power_of_two_scales(j):
    """z-scores are scale-free: identical for 2**j R (squares no longer overflow)."""
    from starc.transforms import standardize_members, transform, transform_reward

    rng = np.random.default_rng(0)
    scores = _unit(rng.standard_normal((4, 6)))
    mdp = starc.random_mdp(4, 2, seed=1, kind="garnet", n_successors=2)
    r = _unit(starc.random_reward(mdp, seed=2))
    if j < -1050:  # subnormal scores keep a few bits: compare with those bits at unit scale
        scores, r = _unit(np.ldexp(scores, j)), _unit(np.ldexp(r, j))
    np.testing.assert_array_equal(standardize_members(np.ldexp(scores, j)),
                                  standardize_members(scores))
    np.testing.assert_array_equal(transform(np.ldexp(scores, j), "zscore"),
                                  transform(scores, "zscore"))
    np.testing.assert_array_equal(transform_reward(np.ldexp(r, j), "zscore", mdp=mdp),
                                  transform_reward(r, "zscore", mdp=mdp))


# ------------------------------------------------------------------ shaping


@pytest.mark.parametrize("j", [-1000, 0, 900])
def test_shaping_is_homogeneous_and_refuses_overflow(j):
    mdp = starc.random_mdp(4, 2, seed=0)
    r = _unit(starc.random_reward(mdp, seed=1))
    phi = _unit(np.random.default_rng(2).standard_normal(4))
    np.testing.assert_array_equal(
        starc.potential_shaping(np.ldexp(r, j), np.ldexp(phi, j), mdp.gamma),
        np.ldexp(starc.potential_shaping(r, phi, mdp.gamma), j))
    big = np.full(4, 1.7e308)
    big[0] = -1.7e308
    with pytest.raises(starc.ValidationError, match="float64 range"):
        starc.potential_shaping(r / np.abs(r).max() * 1.7e308, big, 0.5)
    with pytest.raises(starc.ValidationError, match="float64 range"):
        starc.s_prime_redistribution(r, mdp, scale=1e308, seed=0)


def test_expected_reward_overflow_is_refused_but_distances_work():
    """Rows summing to 1 + 5e-11 can push an average of 1.8e308 entries past float64:
    expected_reward refuses; canonicals and distances rescale first and are exact."""
    t = np.full((2, 2, 2), 0.5)
    t[0, 0, 0] += 5e-11
    mdp = starc.TabularMDP(t, 0.5)
    huge = np.finfo(np.float64).max
    with pytest.raises(starc.ValidationError, match="overflows float64"):
        starc.expected_reward([[huge, 0.0], [0.0, 0.0]], mdp)
    one = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert starc.starc_distance(huge * one, one, mdp) == 0.0
    assert starc.starc_distance(huge * one, -one, mdp) == 2.0
