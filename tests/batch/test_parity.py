"""Every kernel of starc.batch against the public numpy functions (atol 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest

import starc
from starc import batch as B
from starc.batch import _kernels as K

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
