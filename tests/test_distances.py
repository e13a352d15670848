"""STARC, EPIC and DARD distances: metric facts, invariances, counterexamples, registry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import starc
from strategies import garnet_mdps, mdps, reward_arrays

MATCHED = ("l1", "l2", "linf", "weighted_l1", "weighted_l2", "weighted_linf")
CANONS = ("none", "epic", "dard", "val", "val_potential", "minimal_l2", "minimal_potential")


def _nontrivial(r, mdp, canonicalization):
    c = starc.canonicalize(r, mdp, canonicalization)
    return np.abs(c).max() > 1e-6 * (1 + np.abs(r).max())


# ----------------------------------------------------------------- metric facts


@given(data=st.data())
def test_matched_lp_metric_facts(data):
    mdp = data.draw(mdps(min_actions=2))
    r1, r2, r3 = (data.draw(reward_arrays(mdp)) for _ in range(3))
    canon = data.draw(st.sampled_from(("val", "minimal_l2", "epic", "dard")))
    ord = data.draw(st.sampled_from(MATCHED))
    kw = dict(canonicalization=canon, normalization=ord, metric=ord)
    d12 = starc.starc_distance(r1, r2, mdp, **kw)
    d21 = starc.starc_distance(r2, r1, mdp, **kw)
    d13 = starc.starc_distance(r1, r3, mdp, **kw)
    d23 = starc.starc_distance(r2, r3, mdp, **kw)
    assert d12 == pytest.approx(d21, abs=1e-12)
    assert -1e-12 <= d12 <= 2 + 1e-12
    assert d13 <= d12 + d23 + 1e-10
    assert starc.starc_distance(r1, r1, mdp, **kw) == 0.0
    if _nontrivial(r1, mdp, canon) and starc.norm(
            starc.canonicalize(r1, mdp, canon), ord, mdp=mdp) > 1e-6:
        assert starc.starc_distance(r1, -r1, mdp, **kw) == pytest.approx(2.0, abs=1e-10)
        assert starc.starc_distance(r1, np.zeros(mdp.shape), mdp, **kw) == pytest.approx(
            1.0, abs=1e-10)


@pytest.mark.parametrize("canon", CANONS)
@pytest.mark.parametrize("ord", MATCHED)
def test_negation_and_trivial_every_variant(canon, ord, garnet_mdp):
    r = np.random.default_rng(0).standard_normal(garnet_mdp.shape)
    kw = dict(canonicalization=canon, normalization=ord, metric=ord)
    assert starc.starc_distance(r, -r, garnet_mdp, **kw) == pytest.approx(2.0, abs=1e-10)
    assert starc.starc_distance(r, 0 * r, garnet_mdp, **kw) == pytest.approx(1.0, abs=1e-10)
    assert starc.starc_distance(0 * r, 0 * r, garnet_mdp, **kw) == 0.0


# ----------------------------------------------------------------- invariances


@given(data=st.data())
def test_equivalent_rewards_have_distance_zero(data):
    mdp = data.draw(garnet_mdps())
    r = data.draw(reward_arrays(mdp))
    seed = data.draw(st.integers(0, 2**31))
    k = data.draw(st.floats(0.01, 100))
    shaped, _ = starc.random_potential_shaping(r, mdp, scale=3.0, seed=seed)
    shifted = shaped + data.draw(st.floats(-50, 50))
    equivalent = k * starc.s_prime_redistribution(shifted, mdp, seed=seed + 1)
    for canon in ("val", "minimal_l2"):
        for ord in MATCHED:
            d = starc.starc_distance(r, equivalent, mdp, canonicalization=canon,
                                     normalization=ord, metric=ord)
            assert d <= 1e-7, (canon, ord, d)
    # PS, constants and scaling (no S'R) for every canonicalization but "none"
    for canon in ("epic", "dard", "val_potential", "minimal_potential"):
        d = starc.starc_distance(r, k * shifted, mdp, canonicalization=canon)
        assert d <= 1e-7, (canon, d)
    assert starc.is_equivalent(r, equivalent, mdp) or not _nontrivial(r, mdp, "val")


def test_none_reacts_to_shaping(small_mdp):
    r = np.random.default_rng(1).standard_normal(small_mdp.shape)
    shaped, _ = starc.random_potential_shaping(r, small_mdp, seed=2)
    assert starc.starc_distance(r, shaped, small_mdp, canonicalization="none") > 0.1


def test_unnormalized_variant_is_not_scale_invariant(small_mdp):
    r = np.random.default_rng(3).standard_normal(small_mdp.shape)
    d = starc.starc_distance(r, 2 * r, small_mdp, normalization=None)
    expected = starc.norm(starc.canonicalize(r, small_mdp), "l2")
    assert d == pytest.approx(expected, rel=1e-12)


def test_batch_broadcasting(small_mdp):
    rng = np.random.default_rng(4)
    r1 = rng.standard_normal(small_mdp.shape)
    r2 = rng.standard_normal((5,) + small_mdp.shape)
    d = starc.starc_distance(r1, r2, small_mdp)
    assert d.shape == (5,)
    np.testing.assert_allclose(d, [starc.starc_distance(r1, x, small_mdp) for x in r2],
                               atol=1e-14)


# ----------------------------------------------------------------- toy and EPIC identity


def test_epic_distance_is_half_the_epic_l2_starc_distance(small_mdp):
    rng = np.random.default_rng(5)
    r1, r2 = rng.standard_normal((2,) + small_mdp.shape)
    d = starc.epic_distance(r1, r2, small_mdp)
    assert d == pytest.approx(0.5 * starc.starc_distance(r1, r2, small_mdp,
                                                         canonicalization="epic"), abs=1e-12)
    # and EPIC needs only the discount
    assert starc.epic_distance(r1, r2, gamma=small_mdp.gamma) == pytest.approx(d, abs=1e-12)


def test_toy_epic_identity(toy_mdp, toy_reward):
    other = np.random.default_rng(6).standard_normal(toy_mdp.shape)
    assert starc.epic_distance(toy_reward, other, toy_mdp) == pytest.approx(
        0.5 * starc.starc_distance(toy_reward, other, toy_mdp, canonicalization="epic"),
        abs=1e-12)


def test_pearson_distance_matches_numpy():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((2, 3, 2, 3))
    rho = np.corrcoef(x.ravel(), y.ravel())[0, 1]
    assert starc.pearson_distance(x, y) == pytest.approx(np.sqrt((1 - rho) / 2), abs=1e-14)
    w = rng.uniform(size=x.shape)
    w /= w.sum()
    mx, my = (w * x).sum(), (w * y).sum()
    cov = (w * (x - mx) * (y - my)).sum()
    rho_w = cov / np.sqrt((w * (x - mx) ** 2).sum() * (w * (y - my) ** 2).sum())
    assert starc.pearson_distance(x, y, w) == pytest.approx(np.sqrt((1 - rho_w) / 2),
                                                            abs=1e-14)
    assert starc.pearson_distance(x, np.ones_like(x)) == pytest.approx(np.sqrt(0.5))
    assert starc.pearson_distance(np.ones_like(x), 2 * np.ones_like(x)) == 0.0


def test_pearson_distance_is_accurate_near_zero():
    """Arrays equal up to a relative perturbation delta are at distance ~delta, not
    ~sqrt(eps) (what sqrt((1 - rho) / 2) from the moments gives): for small delta the
    distance is delta * std(e - mean e) / 2 with e the perturbation's pattern, to first
    order in delta."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((64, 4, 64))
    e = rng.standard_normal(x.shape)
    for delta in (1e-15, 1e-12, 1e-9, 1e-6):
        y = x + delta * e * np.abs(x).max()
        got = starc.pearson_distance(x, y)
        # first order: the part of (y - x) / std(x) orthogonal to x's centred direction
        xc = (x - x.mean()) / x.std()
        yc = (y - y.mean()) / y.std()
        want = 0.5 * np.sqrt(np.mean((xc - yc) ** 2))
        if delta >= 1e-12:  # well above round-off: the two computations agree
            assert got == pytest.approx(want, rel=1e-3), delta
        assert got < 10 * delta * np.abs(x).max() / x.std()
    assert starc.pearson_distance(x, x.copy()) == 0.0
    assert starc.pearson_distance(x, 3.0 * x + 2.0) < 1e-15


def test_dard_distance_is_pearson_of_dard_canonicals(garnet_mdp):
    rng = np.random.default_rng(8)
    r1, r2 = rng.standard_normal((2,) + garnet_mdp.shape)
    c1 = starc.canonicalize(r1, garnet_mdp, "dard")
    c2 = starc.canonicalize(r2, garnet_mdp, "dard")
    rho = np.corrcoef(c1.ravel(), c2.ravel())[0, 1]
    assert starc.dard_distance(r1, r2, garnet_mdp) == pytest.approx(np.sqrt((1 - rho) / 2),
                                                                     abs=1e-12)


# ----------------------------------------------------------------- counterexamples


def test_reward_on_impossible_transition_fools_epic_and_dard(garnet_mdp):
    r = np.random.default_rng(9).standard_normal(garnet_mdp.shape)
    s, a, s2 = np.argwhere(~garnet_mdp.support)[0]
    r2 = r.copy()
    r2[s, a, s2] += 100.0
    # every return is unchanged ...
    for pi in ("uniform", np.zeros(garnet_mdp.n_states, dtype=int)):
        assert starc.policy_return(r2, garnet_mdp, pi) == pytest.approx(
            starc.policy_return(r, garnet_mdp, pi), rel=1e-12)
    # ... but EPIC and DARD see a large difference; VAL and minimal_l2 see none
    assert starc.epic_distance(r, r2, garnet_mdp) > 0.5
    assert starc.dard_distance(r, r2, garnet_mdp) > 0.5
    assert starc.starc_distance(r, r2, garnet_mdp) == pytest.approx(0.0, abs=1e-12)
    assert starc.starc_distance(r, r2, garnet_mdp, canonicalization="minimal_l2") == \
        pytest.approx(0.0, abs=1e-12)


def test_opposite_rewards_hidden_by_impossible_transitions(garnet_mdp):
    rng = np.random.default_rng(10)
    r = rng.standard_normal(garnet_mdp.shape)
    x = np.where(garnet_mdp.support, 0.0, rng.standard_normal(garnet_mdp.shape))
    epic, dard = [], []
    for k in (1.0, 10.0, 100.0, 1000.0):
        r1, r2 = r + k * x, -r + k * x
        epic.append(starc.epic_distance(r1, r2, garnet_mdp))
        dard.append(starc.dard_distance(r1, r2, garnet_mdp))
        assert starc.starc_distance(r1, r2, garnet_mdp) == pytest.approx(2.0, abs=1e-10)
        assert starc.starc_distance(r1, r2, garnet_mdp, canonicalization="minimal_l2") == \
            pytest.approx(2.0, abs=1e-10)
    assert np.all(np.diff(epic) < 0) and epic[-1] < 0.01
    assert np.all(np.diff(dard) < 0) and dard[-1] < 0.01


# ----------------------------------------------------------------- pairwise, equivalence


@pytest.mark.parametrize("canon", ["val", "minimal_l2", "epic"])
@pytest.mark.parametrize("metric", ["l1", "l2", "linf", "weighted_l2"])
def test_pairwise_matches_loop(canon, metric, small_mdp):
    rewards = np.random.default_rng(11).standard_normal((6,) + small_mdp.shape)
    rewards[3] = 2.0 * rewards[1]  # an equivalent pair: exactly 0, not sqrt(eps)
    d = starc.pairwise_distances(rewards, small_mdp, canonicalization=canon, metric=metric)
    loop = np.array([[starc.starc_distance(a, b, small_mdp, canonicalization=canon,
                                           metric=metric) for b in rewards] for a in rewards])
    np.testing.assert_allclose(d, loop, atol=1e-12)
    assert np.array_equal(d, d.T) and np.all(np.diag(d) == 0)
    assert d[1, 3] < 1e-12


def test_pairwise_bad_inputs(small_mdp):
    with pytest.raises(starc.ValidationError, match="unknown keyword"):
        starc.pairwise_distances(np.zeros((2,) + small_mdp.shape), small_mdp, metrc="l2")
    with pytest.raises(starc.ValidationError, match="stack of shape"):
        starc.pairwise_distances(np.zeros(small_mdp.shape), small_mdp)


def test_is_equivalent(small_mdp):
    rng = np.random.default_rng(12)
    r = rng.standard_normal(small_mdp.shape)
    eq = 0.5 * starc.s_prime_redistribution(starc.random_potential_shaping(r, small_mdp,
                                                                          seed=1)[0],
                                            small_mdp, seed=2) - 7.0
    assert starc.is_equivalent(r, eq, small_mdp)
    assert not starc.is_equivalent(r, -r, small_mdp)
    assert not starc.is_equivalent(r, r + 0.01 * rng.standard_normal(r.shape), small_mdp)
    assert starc.is_equivalent(np.zeros(r.shape), np.full(r.shape, 3.0), small_mdp)
    assert not starc.is_equivalent(r, np.zeros(r.shape), small_mdp)
    # brute force: equivalent rewards order all deterministic policies the same way
    pols = list(itertools.product(range(small_mdp.n_actions), repeat=small_mdp.n_states))
    j1 = [starc.policy_return(r, small_mdp, np.array(p)) for p in pols[:50]]
    j2 = [starc.policy_return(eq, small_mdp, np.array(p)) for p in pols[:50]]
    assert np.array_equal(np.argsort(j1), np.argsort(j2))


def test_is_equivalent_allows_for_round_off_of_large_shaping():
    """Found by the thorough hypothesis profile: at gamma = 0.99 a shaped, shifted and
    scaled copy has values ~1e5 and an advantage ~1e-3, so its computed canonical is
    only accurate to ~1e-8 relative; the tolerance adds that round-off bound, and the
    decision still separates a perturbation far above it."""
    mdp = starc.TabularMDP(np.ones((1, 2, 1)), 0.99)
    r = np.array([[[0.00067228], [0.00062011]]])
    eq = 45.0 * (starc.potential_shaping(r, np.array([30.0]), mdp.gamma) + 30.0)
    assert starc.starc_distance(r, eq, mdp) <= 1e-7
    assert starc.is_equivalent(r, eq, mdp)
    bumped = eq.copy()
    bumped[0, 0, 0] += 0.5 * abs(eq[0, 0, 0] - eq[0, 1, 0])  # the advantage shrinks by half
    assert starc.is_equivalent(r, bumped, mdp)  # still the same order of the two actions
    assert not starc.is_equivalent(r + np.array([[[0.0], [1e-4]]]), eq, mdp)


# ----------------------------------------------------------------- registry


def test_registry_has_222_unique_variants():
    assert len(starc.VARIANTS) == 222
    names = list(starc.VARIANTS)
    assert len(set(names)) == 222
    families = {v.canonicalization for v in starc.VARIANTS.values()}
    assert families == {"none", "epic", "dard", "minimal_potential", "val_potential", "val"}
    for name in ("VAL-2-2", "EPIC-weighted_1-inf", "MinimalPotential-1-1", "None-0-2"):
        assert name in starc.VARIANTS
    assert starc.VARIANTS["MinimalPotential-1-1"].needs_lp
    assert not starc.VARIANTS["MinimalPotential-2-inf"].needs_lp
    assert starc.VARIANTS["None-0-2"].normalization is None


def test_variant_names_resolve_to_the_same_distance(small_mdp):
    rng = np.random.default_rng(13)
    r1, r2 = rng.standard_normal((2,) + small_mdp.shape)
    for name in ("VAL-2-2", "EPIC-weighted_1-inf", "DARD-inf-1", "None-0-2",
                 "VALPotential-weighted_2-weighted_inf", "MinimalPotential-2-2"):
        v = starc.resolve_variant(name)
        assert starc.starc_distance(r1, r2, small_mdp, variant=name) == \
            starc.starc_distance(r1, r2, small_mdp, **v.kwargs())
    assert starc.starc_distance(r1, r2, small_mdp, variant="VAL-2-2") == \
        starc.starc_distance(r1, r2, small_mdp)


def test_every_closed_form_variant_runs(small_mdp):
    rng = np.random.default_rng(14)
    r1, r2 = rng.standard_normal((2,) + small_mdp.shape)
    for name, v in starc.VARIANTS.items():
        if v.needs_lp:
            continue
        d = starc.starc_distance(r1, r2, small_mdp, variant=name)
        assert np.isfinite(d) and d >= 0.0, name


def test_unknown_variant_lists_the_grammar():
    with pytest.raises(starc.ValidationError, match="unknown variant 'VAL-3-2'.*VAL-2-2"):
        starc.resolve_variant("VAL-3-2")


# ----------------------------------------------------------------- bad inputs


def test_bad_inputs(small_mdp):
    r = np.zeros(small_mdp.shape)
    with pytest.raises(starc.ValidationError, match="unknown canonicalization"):
        starc.starc_distance(r, r, small_mdp, canonicalization="epik")
    with pytest.raises(starc.ValidationError, match="unknown normalization 'l5'"):
        starc.starc_distance(r, r, small_mdp, normalization="l5")
    with pytest.raises(starc.ValidationError, match="unknown metric"):
        starc.starc_distance(r, r, small_mdp, metric=None)
    with pytest.raises(starc.ValidationError, match="do not broadcast"):
        starc.starc_distance(np.zeros((2,) + r.shape), np.zeros((3,) + r.shape), small_mdp)
    with pytest.raises(starc.ValidationError, match="r2 has shape"):
        starc.starc_distance(r, np.zeros((2, 2, 2)), small_mdp)
    with pytest.raises(starc.ValidationError, match="needs the discount"):
        starc.epic_distance(r, r)
    with pytest.raises(starc.ValidationError, match="contradicts"):
        starc.epic_distance(r, r, small_mdp, gamma=0.5)
    with pytest.raises(starc.ValidationError, match="r1 must have"):
        starc.epic_distance(np.zeros((2, 3)), np.zeros((2, 3)), gamma=0.5)
    with pytest.raises(starc.ValidationError, match=r"r2 must have shape \(\.\.\., S, A, S\)"):
        starc.epic_distance(np.zeros((2, 3, 2)), np.zeros((2, 3, 3)), gamma=0.5)
    with pytest.raises(starc.ValidationError, match="weights must be a distribution"):
        starc.pearson_distance(r, r, np.ones(r.shape))
    with pytest.raises(starc.ValidationError, match="mdp must be"):
        starc.dard_distance(r, r, None)
    with pytest.raises(starc.ValidationError, match="single rewards"):
        starc.is_equivalent(np.zeros((2,) + r.shape), r, small_mdp)
    with pytest.raises(starc.ValidationError, match="rtol"):
        starc.is_equivalent(r, r, small_mdp, rtol=-1.0)


# ----------------------------------------------------- empty stacks and batch mismatches


@pytest.mark.parametrize("metric", ["l1", "l2", "linf", "weighted_l2"])
def test_pairwise_distances_of_an_empty_stack_is_an_empty_matrix(small_mdp, metric):
    empty = np.zeros((0,) + small_mdp.shape)
    D = starc.pairwise_distances(empty, small_mdp, metric=metric)
    assert D.shape == (0, 0) and D.dtype == np.float64
    # the same as numpy's answer for the distances among zero points
    np.testing.assert_array_equal(D, np.zeros((0, 0)))


def test_batched_distances_refuse_batches_that_do_not_broadcast(small_mdp):
    shape = small_mdp.shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2,) + shape), rng.standard_normal((3,) + shape)
    with pytest.raises(starc.ValidationError, match="r1 of shape.*r2 of shape.*broadcast"):
        starc.epic_distance(a, b, gamma=0.9)
    with pytest.raises(starc.ValidationError, match="r1 of shape.*r2 of shape.*broadcast"):
        starc.epic_distance(a, b, small_mdp)
    with pytest.raises(starc.ValidationError, match="r1 of shape.*r2 of shape.*broadcast"):
        starc.dard_distance(a, b, small_mdp)
    with pytest.raises(starc.ValidationError, match="x of shape.*y of shape.*broadcast"):
        starc.pearson_distance(a, b)
    # batches that do broadcast still work, pair by pair
    d = starc.pearson_distance(a[:, None], b[None])
    assert d.shape == (2, 3)
    assert d[1, 2] == starc.pearson_distance(a[1], b[2])


@pytest.mark.parametrize("kw", [dict(metric="l1"), dict(normalization="l1"),
                                dict(normalization=None), dict(canonicalization="epic"),
                                dict(minimal_norm="l1")])
def test_variant_contradicted_by_an_explicit_keyword_raises(kw, small_mdp):
    """Issue 14, item 8: variant= no longer silently overrides an explicit keyword."""
    r1 = starc.random_reward(small_mdp, seed=1)
    r2 = starc.random_reward(small_mdp, seed=2)
    variant = "MinimalPotential-2-2" if "minimal_norm" in kw else "VAL-2-2"
    with pytest.raises(starc.ValidationError, match="contradicts variant="):
        starc.starc_distance(r1, r2, small_mdp, variant=variant, **kw)
    with pytest.raises(starc.ValidationError, match="contradicts variant="):
        starc.pairwise_distances(np.stack([r1, r2]), small_mdp, variant=variant, **kw)


def test_variant_agreeing_with_explicit_keywords_is_accepted(small_mdp):
    r1 = starc.random_reward(small_mdp, seed=1)
    r2 = starc.random_reward(small_mdp, seed=2)
    ref = starc.starc_distance(r1, r2, small_mdp, variant="VAL-1-inf")
    assert starc.starc_distance(r1, r2, small_mdp, variant="VAL-1-inf", metric="inf",
                                normalization=1, canonicalization="val") == ref
    assert starc.starc_distance(r1, r2, small_mdp, variant="VAL-1-inf", metric="linf") == ref


def test_variant_record_validates_its_fields():
    from starc.distances import Variant

    v = Variant("mine", "val", "2", "l2", None, False)
    assert v.normalization == "l2" and v.kwargs()["metric"] == "l2"
    for args in (("x", "nope", "l2", "l2", None, False), ("x", "val", "l7", "l2", None, False),
                 ("x", "val", "l2", "l2", float("nan"), False),
                 ("x", "val", "l2", "l2", None, float("nan")), (None, "val", "l2", "l2", None, 1)):
        with pytest.raises(starc.ValidationError):
            Variant(*args)
