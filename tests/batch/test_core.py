"""starc.batch (starc/batch/core.py): every batch function against the public numpy
functions (atol 1e-10), the sweeps' entry compare_groups (the numpy oracle, the batch
functions it composes, independence from the other MDPs of a call), and argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import starc
from starc import batch as B
from starc.batch import _kernels as K

VARIANTS = ["VAL-2-2", "EPIC-weighted_1-inf", "DARD-inf-1", "None-0-2", "MinimalL2-1-2",
            "MinimalPotential-2-weighted_inf", "MinimalPotential-1-1", "VALPotential-0-1"]


def _groups(n_mdps=2, n_groups=2, k=4, n=5, m=2, seed=0):
    mdps = [starc.random_mdp(n, m, seed=seed + i) for i in range(n_mdps)]
    R = np.stack([starc.random_reward(mdp, seed=seed + 10 + i, size=(n_groups, k))
                  for i, mdp in enumerate(mdps)])
    return mdps, R


@pytest.mark.parametrize("ties", ["pessimistic", "optimistic", "first"])
def test_compare_groups_equals_the_numpy_functions(ties):
    """Row [b, p, k-1]: starc_distance(R0, Rk) per variant, and regret(R0, Rk) and
    regret(Rk, R0) with the tie rule. MinimalPotential-L1 through HiGHS, as
    starc_distance: its minimiser may not be unique, and the dual simplex may pick
    another one."""
    mdps, R = _groups()
    out = B.compare_groups(R, mdps, VARIANTS, ties=ties, lp_solver="highs")
    assert sorted(out) == ["distances", "regret1", "regret2", "trivial1", "trivial2"]
    assert out["distances"].shape == (2, 2, 3, len(VARIANTS))
    for b, mdp in enumerate(mdps):
        for p in range(2):
            r0 = R[b, p, 0]
            for k in range(1, 4):
                rk = R[b, p, k]
                for v, name in enumerate(VARIANTS):
                    if name.startswith("MinimalL2"):
                        nn, mn = name.split("-")[1:]
                        ref = starc.starc_distance(r0, rk, mdp, canonicalization="minimal_l2",
                                                   normalization=f"l{nn}", metric=f"l{mn}")
                    else:
                        ref = starc.starc_distance(r0, rk, mdp, variant=name)
                    assert abs(out["distances"][b, p, k - 1, v] - ref) <= 1e-9 * max(1, ref)
                assert abs(out["regret1"][b, p, k - 1]
                           - starc.regret(r0, rk, mdp, ties=ties)) <= 1e-10
                assert abs(out["regret2"][b, p, k - 1]
                           - starc.regret(rk, r0, mdp, ties=ties)) <= 1e-10
    np.testing.assert_array_equal(out["trivial1"], False)
    np.testing.assert_array_equal(out["trivial2"], False)


def test_trivial_rewards_are_flagged_and_have_regret_zero_under_them():
    """A constant reward is trivial (every policy equally good): flagged in the direction
    where it is the true reward, whose regret is 0 by convention."""
    mdps, R = _groups()
    R[1, 1, 2] = 3.0  # compared with R[1, 1, 0]: trivial2 of row [1, 1, 1]
    R[0, 1, 0] = -2.0  # the reference of group [0, 1]: trivial1 of its three rows
    out = B.compare_groups(R, mdps, ["VAL-2-2"])
    expect1 = np.zeros((2, 2, 3), dtype=bool)
    expect1[0, 1] = True
    expect2 = np.zeros((2, 2, 3), dtype=bool)
    expect2[1, 1, 1] = True
    np.testing.assert_array_equal(out["trivial1"], expect1)
    np.testing.assert_array_equal(out["trivial2"], expect2)
    np.testing.assert_array_equal(out["regret1"][0, 1], 0.0)
    assert out["regret2"][1, 1, 1] == 0.0
    # the other directions are ordinary regrets, as starc.regret
    assert abs(out["regret2"][0, 1, 1] - starc.regret(R[0, 1, 2], R[0, 1, 0], mdps[0])) <= 1e-10
    assert abs(out["regret1"][1, 1, 1] - starc.regret(R[1, 1, 0], R[1, 1, 2], mdps[1])) <= 1e-10


def test_first_ties_with_a_trivial_proxy_match_the_numpy_regret():
    """ties="first" with a constant proxy (every action exactly tied; its action values
    differ only by the round-off of T's row sums, computed in another order by each
    path): both start policy iteration at the first action within the improvement
    tolerance, i.e. action 0 everywhere, and agree — on the regret of that policy."""
    mdps, R = _groups()
    r0, rk = R[1, 1, 0], np.full_like(R[1, 1, 0], 3.0)
    got = B.regrets(r0[None, None], rk[None, None], mdps[1], ties="first")[0, 0]
    want = starc.regret(r0, rk, mdps[1], ties="first")
    assert abs(got - want) <= 1e-10
    first = np.zeros(mdps[1].n_states, dtype=np.int64)
    np.testing.assert_array_equal(starc.optimal_policy(rk, mdps[1]), first)
    lo, hi = starc.policy_value_range(r0, mdps[1])
    j = float(starc.policy_return(r0, mdps[1], first))
    assert abs(want - (hi - j) / (hi - lo)) <= 1e-10


def test_compare_groups_equals_the_batch_functions_it_composes():
    """Distances as variant_distances, exact regrets as regrets, and with one MDP and
    one group the Monte-Carlo estimates as mc_regrets on the same seed, bit for bit."""
    mdps, R = _groups(n_mdps=1, n_groups=1, k=5)
    names = ["VAL-2-2", "EPIC-2-2", "MinimalPotential-1-1"]
    out = B.compare_groups(R, mdps, names, regrets=("exact", "mc"),
                           seed=[np.random.SeedSequence(7)], n_repeats=2, horizon=30)
    ref_d = B.variant_distances(R[:, 0, :1], R[:, 0, 1:], mdps, names)
    np.testing.assert_array_equal(out["distances"][:, 0], ref_d)
    np.testing.assert_array_equal(out["regret1"][:, 0], B.regrets(R[:, 0, :1], R[:, 0, 1:],
                                                                   mdps))
    mc = B.mc_regrets(R[:, 0, :1], R[:, 0, 1:], mdps, n_repeats=2, horizon=30,
                      seed=np.random.SeedSequence(7))
    np.testing.assert_array_equal(out["mc_regret_raw1"][:, 0], mc[..., 0])
    np.testing.assert_array_equal(out["mc_regret_raw2"][:, 0], mc[..., 1])


def test_an_mdps_numbers_do_not_depend_on_the_other_mdps_of_the_call():
    """Per-MDP seeds: one call on three MDPs equals three calls on one, bit for bit.
    (A SeedSequence spawns new children each time, as numpy's: fresh ones per call.)"""
    mdps, R = _groups(n_mdps=3)

    def seeds():
        return [np.random.SeedSequence(5, spawn_key=(b,)) for b in range(3)]

    kw = dict(variants=["VAL-1-1", "DARD-2-2", "MinimalPotential-1-2"],
              regrets=("exact", "mc"), horizon=25)
    together = B.compare_groups(R, mdps, seed=seeds(), **kw)
    for b in range(3):
        alone = B.compare_groups(R[b:b + 1], mdps[b], seed=[seeds()[b]], **kw)
        assert list(alone) == list(together)
        for key, col in alone.items():
            np.testing.assert_array_equal(col[0], together[key][b], err_msg=key)
    # an int seed: MDP b uses child b of SeedSequence(seed)
    by_int = B.compare_groups(R, mdps, seed=5, **kw)
    np.testing.assert_array_equal(by_int["mc_regret_raw1"], together["mc_regret_raw1"])


def test_compare_groups_without_regrets_computes_distances_only():
    mdps, R = _groups(n_mdps=1)
    out = B.compare_groups(R, mdps, ["VAL-2-2"], regrets=())
    assert list(out) == ["distances"]
    np.testing.assert_array_equal(out["distances"],
                                  B.compare_groups(R, mdps, ["VAL-2-2"])["distances"])
    assert B.compare_groups(R, mdps).get("distances").shape[-1] == len(B.CLOSED_FORM_VARIANTS)


@pytest.mark.parametrize("kwargs, match", [
    (dict(rewards="R5"), r"rewards must have shape \(B, P, K, S, A, S\)"),
    (dict(rewards="K1"), r"K >= 2"),
    (dict(rewards="nan"), "NaN"),
    (dict(variants=["VAL-9-9"]), "unknown variant"),
    (dict(variants=["VAL-2-2", "VAL-2-2"]), "duplicate"),
    (dict(regrets=("wcr",)), "unknown regrets"),
    (dict(regrets=3), "regrets must be a sequence"),
    (dict(ties="random"), "unknown ties"),
    (dict(lp_solver="glpk"), "unknown lp_solver"),
    (dict(regrets=("mc",), seed=[np.random.SeedSequence(0)]), "sequence of 2"),
    (dict(regrets=("mc",), seed=[1, 2]), "sequence of 2"),
    (dict(regrets=("mc",), seed=-1), "seed"),
    (dict(regrets=("mc",), horizon=0), "horizon"),
    (dict(mdps="mdp"), "mdps must be"),
])
def test_compare_groups_refuses_bad_arguments(kwargs, match):
    mdps, R = _groups()
    kwargs = dict(kwargs)
    bad = kwargs.pop("rewards", None)
    if bad == "R5":
        R = R[:, 0]
    elif bad == "K1":
        R = R[:, :, :1]
    elif bad == "nan":
        R[0, 0, 1, 0, 0, 0] = np.nan
    mdps = kwargs.pop("mdps", mdps)
    with pytest.raises(starc.ValidationError, match=match):
        B.compare_groups(R, mdps, **kwargs)


@pytest.mark.parametrize("scale", [2.0**1000, 2.0**-900, 1.7e308])
def test_monte_carlo_regrets_of_huge_and_tiny_rewards_are_those_at_unit_scale(scale):
    """An estimate is a ratio of returns of one reward: scaling every reward changes no
    bit of it (powers of two), or only round-off (1.7e308), and rollouts stay finite
    (they overflowed to inf - inf = NaN before, in mc_regrets too)."""
    mdps, R = _groups(n_mdps=2, n_groups=1, k=3)
    R /= np.abs(R).max()
    kw = dict(regrets=("mc",), horizon=12, n_repeats=2)
    unit = B.compare_groups(R, mdps, ["VAL-2-2"], seed=3, **kw)
    big = B.compare_groups(R * scale, mdps, ["VAL-2-2"], seed=3, **kw)
    ref = B.mc_regrets(R[:, 0, :1], R[:, 0], mdps, seed=4, horizon=12, n_repeats=2)
    got = B.mc_regrets(R[:, 0, :1] * scale, R[:, 0] * scale, mdps, seed=4, horizon=12,
                       n_repeats=2)
    for key in ("mc_regret_raw1", "mc_regret_raw2"):
        assert np.all(np.isfinite(big[key]))
    assert np.all(np.isfinite(got))
    if scale == 1.7e308:
        for key in ("mc_regret_raw1", "mc_regret_raw2"):
            np.testing.assert_allclose(big[key], unit[key], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    else:
        for key in ("mc_regret_raw1", "mc_regret_raw2"):
            np.testing.assert_array_equal(big[key], unit[key])
        np.testing.assert_array_equal(got, ref)


# ------------------------------------------------------------------ parity with numpy

ATOL = 1e-10


def _mdps(n_states=6, n_actions=3):
    """Three MDPs of different kinds: full support, sparse (garnet), Dirichlet; gamma varies."""
    return [starc.random_mdp(n_states, n_actions, gamma=0.9, seed=1, kind="starc"),
            starc.random_mdp(n_states, n_actions, gamma=0.8, seed=2, kind="garnet",
                             n_successors=2, initial=np.arange(1, n_states + 1) / (
                                 n_states * (n_states + 1) / 2)),
            starc.random_mdp(n_states, n_actions, gamma=0.95, seed=3, kind="dirichlet",
                             concentration=0.5)]


@pytest.fixture(scope="module")
def mdps():
    return _mdps()


@pytest.fixture(scope="module")
def rewards(mdps):
    """(B, K, S, A, S): STARC-generator rewards plus a Gaussian, a state and a zero reward."""
    out = []
    for i, mdp in enumerate(mdps):
        rs = list(starc.random_reward(mdp, seed=10 + i, kind="starc", size=3))
        rs.append(starc.random_reward(mdp, seed=20 + i))
        rs.append(starc.broadcast_reward(np.arange(mdp.n_states, dtype=float), mdp))
        rs.append(np.zeros(mdp.shape))
        out.append(rs)
    return np.array(out)


def test_lu_and_cholesky_kernels():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 7)) + 7 * np.eye(7)
    b = rng.standard_normal(7)
    lu = a.copy()
    piv = np.empty(7, dtype=np.int64)
    assert K.lu_factor(lu, piv) == 0
    x = b.copy()
    K.lu_solve(lu, piv, x)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), atol=1e-12)
    g = a @ a.T
    low = np.empty_like(g)
    assert K.cholesky(g, low) == 0
    np.testing.assert_allclose(low @ low.T, g, atol=1e-10)
    y = b.copy()
    K.cho_solve(low, y)
    np.testing.assert_allclose(y, np.linalg.solve(g, b), atol=1e-10)
    assert K.lu_factor(np.zeros((3, 3)), np.empty(3, dtype=np.int64)) == 1


def test_expected_rewards(mdps, rewards):
    out = B.expected_rewards(rewards, mdps)
    for b, mdp in enumerate(mdps):
        np.testing.assert_allclose(out[b], starc.expected_reward(rewards[b], mdp), atol=ATOL)


@pytest.mark.parametrize("policy", ["uniform", "stochastic", "deterministic"])
def test_policy_evaluation(mdps, rewards, policy):
    n, m = mdps[0].n_states, mdps[0].n_actions
    if policy == "uniform":
        pol, per_mdp = "uniform", ["uniform"] * 3
    elif policy == "stochastic":
        p = np.random.default_rng(1).uniform(size=(3, n, m))
        pol = p / p.sum(-1, keepdims=True)
        per_mdp = list(pol)
    else:
        pol = np.random.default_rng(2).integers(m, size=(3, n))
        per_mdp = list(pol)
    out = B.policy_evaluation(rewards, mdps, pol)
    for b, mdp in enumerate(mdps):
        np.testing.assert_allclose(out[b], starc.policy_evaluation(rewards[b], mdp, per_mdp[b]),
                                   atol=ATOL)


@pytest.mark.parametrize("method", ["none", "epic", "dard", "val", "val_potential",
                                    "minimal_l2", "minimal_potential"])
def test_canonicalize(mdps, rewards, method):
    out = B.canonicalize(rewards, mdps, method)
    for b, mdp in enumerate(mdps):
        ref = starc.canonicalize(rewards[b], mdp, method)
        np.testing.assert_allclose(out[b], ref, atol=ATOL * max(1.0, np.abs(ref).max()))


def test_canonicalize_distributions_and_policy(mdps, rewards):
    n, m = mdps[0].n_states, mdps[0].n_actions
    ds = np.arange(1, n + 1) / (n * (n + 1) / 2)
    da = np.arange(1, m + 1) / (m * (m + 1) / 2)
    pi = np.random.default_rng(3).integers(m, size=n)
    for method, kw in (("epic", dict(state_dist=ds, action_dist=da)),
                       ("dard", dict(action_dist=da)), ("val", dict(policy=pi))):
        out = B.canonicalize(rewards, mdps, method, **kw)
        for b, mdp in enumerate(mdps):
            ref = starc.canonicalize(rewards[b], mdp, method, **kw)
            np.testing.assert_allclose(out[b], ref, atol=ATOL * max(1.0, np.abs(ref).max()))


def _lp_objective_and_shaping(out, r, mdp, ref):
    """Same optimal L1 objective as starc.canonicalize (HiGHS), and ``out - r`` is a potential shaping."""
    np.testing.assert_allclose(np.abs(out).sum(axis=(-3, -2, -1)),
                               np.abs(ref).sum(axis=(-3, -2, -1)), rtol=1e-9)
    shift = out - r
    n = mdp.n_states
    phi = shift[..., np.arange(n), 0, np.arange(n)] / (mdp.gamma - 1.0)  # (gamma-1) phi(s)
    shaping = mdp.gamma * phi[..., None, None, :] - phi[..., :, None, None]
    np.testing.assert_allclose(shift, np.broadcast_to(shaping, shift.shape), atol=1e-9)


def test_minimal_potential_l1_lp(mdps):
    """Optimal (same objective as HiGHS) and a shaping of R; equal to HiGHS's canonical
    where the minimiser is unique (it often is not: transitions (s, a, s') with the same
    (s, s') share a design row of the least-absolute-deviations problem)."""
    r = np.stack([starc.random_reward(mdp, seed=30 + i, size=2) for i, mdp in enumerate(mdps)])
    out = B.canonicalize(r, mdps, "minimal_potential", norm="l1")
    equal = 0
    for b, mdp in enumerate(mdps):
        ref = starc.canonicalize(r[b], mdp, "minimal_potential", norm="l1")
        _lp_objective_and_shaping(out[b], r[b], mdp, ref)
        equal += int(np.allclose(out[b], ref, atol=1e-9, rtol=0))
    assert equal >= 1
    via_highs = B.canonicalize(r[1:2, :1], mdps[1], "minimal_potential", norm="l1",
                               lp_solver="highs")
    np.testing.assert_array_equal(
        via_highs[0], starc.canonicalize(r[1, :1], mdps[1], "minimal_potential", norm="l1"))


def test_minimal_potential_l1_degenerate_sparse_rewards():
    """Sparse STARC rewards (non-unique minimisers): same optimal objective, valid shaping."""
    mdp = starc.random_mdp(12, 3, seed=5)
    rng = np.random.default_rng(6)
    r = np.zeros((1, 4) + mdp.shape)
    for k in range(4):  # a handful of nonzero entries plus shaping: highly degenerate LPs
        idx = rng.choice(r[0, k].size, size=6, replace=False)
        r[0, k].flat[idx] = rng.uniform(3, 5, size=6)
        phi = rng.standard_normal(12) * 5
        r[0, k] = starc.potential_shaping(r[0, k], phi, mdp.gamma)
    out = B.canonicalize(r, mdp, "minimal_potential", norm="l1")
    ref = starc.canonicalize(r[0], mdp, "minimal_potential", norm="l1")
    _lp_objective_and_shaping(out[0], r[0], mdp, ref)


@pytest.mark.parametrize("ord", list(starc.NORMS) + ["2", "weighted_inf"])
def test_norm(mdps, rewards, ord):
    out = B.norm(rewards, mdps, ord)
    for b, mdp in enumerate(mdps):
        np.testing.assert_allclose(out[b], starc.norm(rewards[b], ord, mdp=mdp),
                                   atol=ATOL, rtol=1e-12)
    assert B.norm(rewards, mdps, "all").shape == rewards.shape[:2] + (6,)


def _registry_and_extra():
    return list(starc.VARIANTS) + list(B.MINIMAL_L2_VARIANTS)


def _oracle_distance(r1, r2, mdp, name, lp=None):
    """The numpy path; LP variants normalise the given canonicals ``lp = (c1, c2)``."""
    if name.startswith("MinimalL2-"):
        _, nn, mn = name.split("-")
        return starc.starc_distance(r1, r2, mdp, canonicalization="minimal_l2",
                                    normalization=None if nn == "0" else nn, metric=mn)
    v = starc.VARIANTS[name]
    if v.needs_lp:
        c1, c2 = lp
        s1 = starc.normalize(c1, v.normalization, mdp=mdp, reference=r1)
        s2 = starc.normalize(c2, v.normalization, mdp=mdp, reference=r2)
        return starc.norm(s1 - s2, v.metric, mdp=mdp)
    return starc.starc_distance(r1, r2, mdp, variant=name)


def test_variant_distances_every_variant(mdps):
    """All 222 registry variants and the 42 minimal-L2 ones, reference-vs-many layout."""
    names = _registry_and_extra()
    r = np.stack([starc.random_reward(mdp, seed=40 + i, size=3) for i, mdp in enumerate(mdps)])
    r[:, 2] = -r[:, 0]  # d(R, -R) = 2 for normalised same-norm variants
    out = B.variant_distances(r[:, :1], r, mdps, names)
    lp = B.canonicalize(r, mdps, "minimal_potential", norm="l1")
    assert out.shape == (3, 3, len(names))
    for b, mdp in enumerate(mdps):
        for j, name in enumerate(names):
            ref = _oracle_distance(r[b, 0], r[b], mdp, name, (lp[b, 0], lp[b]))
            np.testing.assert_allclose(out[b, :, j], ref, atol=ATOL * max(1.0, np.max(ref)),
                                       err_msg=name)
        np.testing.assert_array_equal(out[b, 0], 0.0)


def test_variant_distances_starc_rewards_and_pairs(mdps, rewards):
    """STARC-generator, state and zero rewards; elementwise-pairs layout; closed forms."""
    names = list(B.CLOSED_FORM_VARIANTS) + list(B.MINIMAL_L2_VARIANTS)
    r2 = rewards[:, ::-1].copy()
    out = B.variant_distances(rewards, r2, mdps, names)
    assert out.shape == rewards.shape[:2] + (len(names),)
    for b, mdp in enumerate(mdps):
        for j, name in enumerate(names):
            ref = _oracle_distance(rewards[b], r2[b], mdp, name)
            np.testing.assert_allclose(out[b, :, j], ref, atol=ATOL * max(1.0, np.max(ref)),
                                       err_msg=name)


def test_variant_distances_default_is_closed_form(mdps, rewards):
    out = B.variant_distances(rewards[:, :1], rewards[:, :2], mdps)
    assert out.shape == (3, 2, 216)
    assert len(B.CLOSED_FORM_VARIANTS) == 216 and len(B.LP_VARIANTS) == 6
    assert all(starc.VARIANTS[v].needs_lp for v in B.LP_VARIANTS)


def test_optimal_policies_and_value_ranges(mdps, rewards):
    actions, values = B.optimal_policies(rewards, mdps)
    lo, hi = B.value_ranges(rewards, mdps)
    for b, mdp in enumerate(mdps):
        for k in range(rewards.shape[1]):
            np.testing.assert_array_equal(actions[b, k], starc.optimal_policy(rewards[b, k], mdp))
            np.testing.assert_allclose(values[b, k], starc.optimal_values(rewards[b, k], mdp),
                                       atol=ATOL)
            ref = starc.policy_value_range(rewards[b, k], mdp)
            np.testing.assert_allclose([lo[b, k], hi[b, k]], ref, atol=ATOL)


@pytest.mark.parametrize("ties", ["pessimistic", "optimistic", "first"])
def test_regrets(mdps, rewards, ties):
    proxies = rewards[:, ::-1].copy()
    # ties: a state-only proxy ties every action; a shaped copy is equivalent
    for b, mdp in enumerate(mdps):
        proxies[b, 1] = starc.potential_shaping(rewards[b, 0], np.arange(mdp.n_states) * 1.0,
                                                mdp.gamma)
    out = B.regrets(rewards, proxies, mdps, ties=ties)
    ref_one = B.regrets(rewards[:, :1], proxies, mdps, ties=ties)
    for b, mdp in enumerate(mdps):
        for k in range(rewards.shape[1]):
            ref = starc.regret(rewards[b, k], proxies[b, k], mdp, ties=ties)
            assert abs(out[b, k] - ref) <= ATOL, (b, k)
            ref = starc.regret(rewards[b, 0], proxies[b, k], mdp, ties=ties)
            assert abs(ref_one[b, k] - ref) <= ATOL, (b, k)


def test_batch_composition_does_not_change_bits(mdps, rewards):
    """An MDP's results are bit-identical alone or inside a batch (chunk invariance)."""
    names = ["VAL-2-2", "DARD-1-inf", "EPIC-weighted_2-2", "MinimalPotential-2-1"]
    whole = B.variant_distances(rewards[:, :1], rewards, mdps, names)
    reg = B.regrets(rewards[:, :1], rewards, mdps)
    for b, mdp in enumerate(mdps):
        alone = B.variant_distances(rewards[b:b + 1, :1], rewards[b:b + 1], mdp, names)
        np.testing.assert_array_equal(alone[0], whole[b])
        np.testing.assert_array_equal(B.regrets(rewards[b:b + 1, :1], rewards[b:b + 1], mdp)[0],
                                      reg[b])


def test_mdp_batch_roundtrip(mdps):
    batch = B.MDPBatch.from_mdps(mdps)
    assert len(batch) == 3 and batch.n_states == 6 and batch.n_actions == 3
    for b, mdp in enumerate(mdps):
        np.testing.assert_array_equal(batch[b].transition, mdp.transition)
        np.testing.assert_array_equal(batch[b].initial, mdp.initial)
        assert batch[b].gamma == mdp.gamma
    assert not batch.transition.flags.writeable
    again = B.MDPBatch(batch.transition, 0.5)
    assert again.gamma.tolist() == [0.5] * 3
    import pickle

    back = pickle.loads(pickle.dumps(batch))
    np.testing.assert_array_equal(back.transition, batch.transition)
    assert "MDPBatch(n_mdps=3" in repr(batch)


# ----------------------------------------------------------------------------- validation


@pytest.fixture(scope="module")
def small():
    mdps = [starc.random_mdp(4, 2, seed=i) for i in range(2)]
    return mdps, starc.random_reward(mdps[0], seed=1, size=(2, 3))


def test_bad_rewards_shape(small):
    mdps, r = small
    for bad in (r[0], r[:1], r[..., :3], np.zeros((2, 0, 4, 2, 4))):
        with pytest.raises(starc.ValidationError, match="rewards"):
            B.expected_rewards(bad, mdps)
    with pytest.raises(starc.ValidationError, match="rewards"):
        B.policy_evaluation(np.full(r.shape, np.nan), mdps)


def test_bad_mdps(small):
    _, r = small
    with pytest.raises(starc.ValidationError, match="mdps"):
        B.expected_rewards(r, "nope")
    with pytest.raises(starc.ValidationError, match="mdps"):
        B.MDPBatch.from_mdps([])
    with pytest.raises(starc.ValidationError, match="shape"):
        B.MDPBatch.from_mdps([starc.random_mdp(4, 2, seed=0), starc.random_mdp(5, 2, seed=0)])
    with pytest.raises(starc.ValidationError, match=r"mdps\[1\]"):
        B.MDPBatch.from_mdps([starc.random_mdp(4, 2, seed=0), object()])


def test_bad_mdp_batch_arrays():
    t = np.full((2, 3, 2, 3), 1 / 3)
    with pytest.raises(starc.ValidationError, match="transition"):
        B.MDPBatch(t * 2, 0.9)
    with pytest.raises(starc.ValidationError, match="transition"):
        B.MDPBatch(t[:, :, :, :2], 0.9)
    with pytest.raises(starc.ValidationError, match="gamma"):
        B.MDPBatch(t, 1.0)
    with pytest.raises(starc.ValidationError, match="gamma"):
        B.MDPBatch(t, [0.9, 0.9, 0.9])
    with pytest.raises(starc.ValidationError, match="initial"):
        B.MDPBatch(t, 0.9, initial=np.ones(3))
    with pytest.raises(starc.ValidationError, match="initial"):
        B.MDPBatch(t, 0.9, initial=np.ones((3, 3)) / 3)
    batch = B.MDPBatch(t, [0.5, 0.9], initial=np.array([1.0, 0.0, 0.0]))
    assert batch.initial.shape == (2, 3)
    with pytest.raises(AttributeError):
        batch.gamma = 0.1


def test_bad_options(small):
    mdps, r = small
    with pytest.raises(starc.ValidationError, match="method"):
        B.canonicalize(r, mdps, "nope")
    with pytest.raises(starc.ValidationError, match="norm"):
        B.canonicalize(r, mdps, "minimal_potential", norm="linf")
    with pytest.raises(starc.ValidationError, match="norm"):
        B.canonicalize(r, mdps, "val", norm="l2")
    with pytest.raises(starc.ValidationError, match="state_dist"):
        B.canonicalize(r, mdps, "epic", state_dist=np.ones(3) / 3)
    with pytest.raises(starc.ValidationError, match="ord"):
        B.norm(r, mdps, "l3")
    with pytest.raises(starc.ValidationError, match="policy"):
        B.policy_evaluation(r, mdps, np.ones((3, 2)))
    with pytest.raises(starc.ValidationError, match="ties"):
        B.regrets(r, r, mdps, ties="random")
    with pytest.raises(starc.ValidationError, match="variant"):
        B.variant_distances(r, r, mdps, ["VAL-3-2"])
    with pytest.raises(starc.ValidationError, match="duplicate"):
        B.variant_distances(r, r, mdps, ["VAL-2-2", "VAL-2-2"])
    with pytest.raises(starc.ValidationError, match="at least one"):
        B.variant_distances(r, r, mdps, [])
    with pytest.raises(starc.ValidationError, match="r1"):
        B.variant_distances(r[:, :2], r, mdps, ["VAL-2-2"])
    with pytest.raises(starc.ValidationError, match="r2"):
        B.variant_distances(r, r[:, :1], mdps, ["VAL-2-2"])


def test_importing_starc_does_not_import_numba():
    import subprocess
    import sys

    code = "import sys, starc; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


# ------------------------------------------------- bounded, chunked, interruptible rollouts


def test_batch_refuses_sparse_mdps():
    from starc.batch import MDPBatch
    from starc.batch.core import as_batch
    from starc.exceptions import ValidationError

    sparse = starc.chain(4).mdp.to_sparse()
    with pytest.raises(ValidationError, match="sparse"):
        as_batch(sparse)
    with pytest.raises(ValidationError, match="sparse"):
        as_batch([starc.chain(4).mdp, sparse])
    with pytest.raises(ValidationError, match=r"mdps\[0\] is a sparse MDP"):
        MDPBatch.from_mdps([sparse])
