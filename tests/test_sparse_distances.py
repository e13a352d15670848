"""Distances on sparse MDPs (issue 18, THEORY §11): the dense path is the oracle.

Every supported function is compared with the dense implementation on the suite's small
MDPs (converted with ``mdp.to_sparse()``) to 1e-9; the unsupported ones must refuse with
a ValidationError that says what to use; a 200,000-state MDP whose dense form would not
fit anywhere runs VAL distances without building it.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import make_transition, mdps

import starc
from starc import _sparse_distances as sd
from starc import _sparse_linalg as sl
from starc.norms import NORMS
from starc.regret import GAMMA_MAX

METHODS = sd.SPARSE_CANONICALIZATIONS
FORMS = ("state_action", "state", "support", "transition")
TOL = 1e-9


def sparse_reward(r: np.ndarray) -> sp.csr_array:
    """A dense ``(S, A, S)`` reward as the sparse ``(S*A, S)`` matrix of its nonzeros."""
    n, m = r.shape[0], r.shape[1]
    return sp.csr_array(r.reshape(n * m, n))


def draw_reward(data, mdp, form: str, label: str):
    """``(dense_form, sparse_form)`` of one reward of the given form."""
    seed = data.draw(st.integers(0, 2**32 - 1), label=f"{label}_seed")
    scale = data.draw(st.sampled_from([1e-3, 1.0, 1e3]), label=f"{label}_scale")
    rng = np.random.default_rng(seed)
    n, m = mdp.n_states, mdp.n_actions
    if form == "state_action":
        r = scale * rng.standard_normal((n, m))
        return r, r
    if form == "state":
        r = scale * rng.standard_normal(n)
        return r, r
    r = scale * rng.standard_normal((n, m, n))
    if form == "support":  # a reward on the transition's support only, as a sparse matrix
        r = np.where(mdp.transition > 0, r, 0.0)
        return r, sparse_reward(r)
    return r, r  # a dense (S, A, S) array below the budget, with values off the support


def allowance(mdp, method, *rewards) -> tuple[float, float]:
    """``(relative, absolute)`` error allowed between two float64 computations of a distance.

    Each entry of a canonical carries round-off of order ``eps (max|R| + max|V|)`` (the
    numbers it is combined from); divided by the canonical's root mean square it bounds the
    error of the normalised canonical, hence of a normalised distance (``relative``);
    ``absolute`` is the round-off of an unnormalised one. For ordinary draws ``relative``
    is ~1e-14; it grows only for canonicals that are tiny against their inputs (a discount
    near 0 with A = 1, or near 1), where the dense path is no more accurate than this.
    """
    rel, ab = TOL, 0.0
    count = float(mdp.n_states) ** 2 * mdp.n_actions
    for r in rewards:
        c = starc.canonicalize(r, mdp, "val" if method in ("minimal_l2",) else method)
        c = c - c.mean()
        scale = np.abs(r).max() + np.abs(starc.policy_evaluation(r, mdp)).max()
        rms = np.sqrt(np.mean(c * c))
        rel += 4096 * np.finfo(float).eps * scale / rms if rms > 0 else np.inf
        ab += 4096 * np.finfo(float).eps * scale * count
    return rel, ab


def close(a, b, tol=TOL) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(a))))


@st.composite
def setting(draw, max_gamma=0.99):
    mdp = draw(mdps(max_states=5, max_actions=3, max_gamma=max_gamma))
    return mdp, mdp.to_sparse()


# ------------------------------------------------------------------ parity


@settings(max_examples=10)
@given(data=st.data())
def test_starc_distance_parity_every_method_norm_and_metric(data):
    mdp, smdp = data.draw(setting())
    assert smdp.is_sparse and not mdp.is_sparse
    f1, f2 = (data.draw(st.sampled_from(FORMS), label=f"form{i}") for i in (1, 2))
    d1, s1 = draw_reward(data, mdp, f1, "r1")
    d2, s2 = draw_reward(data, mdp, f2, "r2")
    allow = {method: allowance(mdp, method, d1, d2) for method in METHODS}
    for method in METHODS:
        for normalization in NORMS + (None,):
            for metric in NORMS:
                kw = {"canonicalization": method, "normalization": normalization,
                      "metric": metric}
                dense = starc.starc_distance(d1, d2, mdp, **kw)
                sparse = starc.starc_distance(s1, s2, smdp, **kw)
                rel, ab = allow[method]
                tol = rel if normalization is not None else TOL * max(1.0, dense) + ab
                assert abs(dense - sparse) <= tol, (method, normalization, metric, dense, sparse)


@settings(max_examples=10)
@given(data=st.data())
def test_canonicalize_norm_normalize_parity(data):
    mdp, smdp = data.draw(setting())
    form = data.draw(st.sampled_from(FORMS), label="form")
    d, s = draw_reward(data, mdp, form, "r")
    n, m = mdp.n_states, mdp.n_actions
    policy = data.draw(st.sampled_from(["uniform", "deterministic"]), label="policy")
    if policy == "deterministic":
        policy = np.random.default_rng(0).integers(m, size=n)
    val = starc.canonicalize(s, smdp, "val", policy=policy)
    dense_val = starc.canonicalize(d, mdp, "val", policy=policy)
    assert val.shape == (n, m)  # the advantage: the canonical is constant in s'
    scale = 1.0 + np.abs(dense_val).max()
    assert np.allclose(val[:, :, None] * np.ones(n), dense_val, rtol=0, atol=TOL * scale)
    ml2 = starc.canonicalize(s, smdp, "minimal_l2")
    assert sp.issparse(ml2) and ml2.shape == (n * m, n)
    dense_ml2 = starc.canonicalize(d, mdp, "minimal_l2")
    assert np.allclose(ml2.toarray().reshape(n, m, n), dense_ml2, rtol=0,
                       atol=TOL * (1.0 + np.abs(dense_ml2).max()))
    full = dense_val
    values = np.abs(starc.policy_evaluation(d, mdp, policy)).max() + np.abs(d).max()
    for ord in NORMS:
        assert close(starc.norm(val, ord, mdp=smdp), starc.norm(full, ord, mdp=mdp)), ord
        assert close(starc.norm(ml2, ord, mdp=smdp), starc.norm(dense_ml2, ord, mdp=mdp)), ord
        if np.abs(dense_val).max() <= 1e-9 * values:
            continue  # a canonical at round-off level: "zero" is decided on noise (use
            # starc_distance, which knows the reward's scale, for such rewards)
        unit = starc.normalize(val, ord, mdp=smdp)
        assert unit.shape == (n, m)
        assert np.allclose(unit[:, :, None] * np.ones(n), starc.normalize(full, ord, mdp=mdp),
                           rtol=0, atol=TOL)
        unit_ml2 = starc.normalize(ml2, ord, mdp=smdp)
        assert np.allclose(unit_ml2.toarray().reshape(n, m, n),
                           starc.normalize(dense_ml2, ord, mdp=mdp), rtol=0, atol=TOL)


@given(data=st.data())
def test_epic_dard_pairwise_equivalence_parity(data):
    mdp, smdp = data.draw(setting())
    f1, f2 = (data.draw(st.sampled_from(FORMS), label=f"form{i}") for i in (1, 2))
    d1, s1 = draw_reward(data, mdp, f1, "r1")
    d2, s2 = draw_reward(data, mdp, f2, "r2")
    for name in ("epic", "dard"):
        f = getattr(starc, f"{name}_distance")
        dense, sparse = f(d1, d2, mdp), f(s1, s2, smdp)
        assert abs(dense - sparse) <= allowance(mdp, name, d1, d2)[0], (name, dense, sparse)
    for pair in ((d1, d2), (d1, 3.0 * d1 + 1.0)):
        sparse_pair = [sparse_reward(x) if x.ndim == 3 else x for x in pair]
        assert starc.is_equivalent(*pair, mdp) == starc.is_equivalent(*sparse_pair, smdp)
    k = mdp.n_states + 1  # K != S: a (K, S, A) stack is not mistaken for (S, A, S)
    stack = np.random.default_rng(1).standard_normal((k, mdp.n_states, mdp.n_actions))
    for method in ("val", "minimal_l2", "epic", "val_potential"):
        for metric in ("l1", "weighted_l2", "linf"):
            dense = starc.pairwise_distances(stack, mdp, canonicalization=method, metric=metric)
            sparse = starc.pairwise_distances(stack, smdp, canonicalization=method,
                                              metric=metric)
            tol = allowance(mdp, method, *stack)[0]
            assert sparse.shape == (k, k) and np.abs(dense - sparse).max() <= tol, (method,
                                                                                  metric)
    mats = [sparse_reward(np.where(mdp.transition > 0, x[:, :, None], 0.0)) for x in stack]
    dense = starc.pairwise_distances(
        np.stack([m.toarray().reshape(mdp.shape) for m in mats]), mdp)
    assert close(dense, starc.pairwise_distances(mats, smdp))


def test_batches_broadcast_like_dense(small_mdp):
    smdp = small_mdp.to_sparse()
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 6, 3))
    b = rng.standard_normal((6, 3))
    dense = starc.starc_distance(a, b, small_mdp)
    sparse = starc.starc_distance(a, b, smdp)
    assert sparse.shape == (4,) and close(dense, sparse)


# ------------------------------------------------------------------ extremes


@pytest.mark.parametrize("scales", [(1e-300, 1e300), (1e300, 1.0), (1e-310, 1e-300)])
@pytest.mark.parametrize("method", METHODS)
def test_extreme_scales_match_dense(garnet_mdp, scales, method):
    smdp = garnet_mdp.to_sparse()
    rng = np.random.default_rng(5)
    r1 = scales[0] * rng.standard_normal((7, 3))
    r2 = scales[1] * rng.standard_normal((7, 3, 7)) * (garnet_mdp.transition > 0)
    for normalization in ("l2", "weighted_l1", "linf"):
        kw = {"canonicalization": method, "normalization": normalization, "metric": "l2"}
        dense = starc.starc_distance(r1, r2, garnet_mdp, **kw)
        sparse = starc.starc_distance(r1, sparse_reward(r2), smdp, **kw)
        assert close(dense, sparse), (normalization, dense, sparse)
    assert close(starc.norm(starc.canonicalize(r1, smdp), "l2", mdp=smdp),
                 starc.norm(starc.canonicalize(r1, garnet_mdp), "l2", mdp=garnet_mdp))


@pytest.mark.parametrize("gamma", [1 - 1e-6, GAMMA_MAX])
def test_gamma_near_one_within_roundoff(gamma):
    """Near gamma = 1 both paths carry round-off of order eps |V| / |c|: compare within it."""
    rng = np.random.default_rng(11)
    t = make_transition(rng, 5, 3, "garnet")
    mdp = starc.TabularMDP(t, gamma)
    smdp = mdp.to_sparse()
    r1, r2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    v = starc.policy_evaluation(r1, mdp)
    c = starc.canonicalize(r1, mdp)
    allowance = TOL + 1e4 * np.finfo(float).eps * np.abs(v).max() / np.abs(c).max()
    for method in ("val", "val_potential", "epic", "dard"):
        dense = starc.starc_distance(r1, r2, mdp, canonicalization=method)
        sparse = starc.starc_distance(r1, r2, smdp, canonicalization=method)
        assert abs(dense - sparse) <= allowance, (method, dense, sparse, allowance)


# ------------------------------------------------------------------ closed forms


@pytest.mark.parametrize("explicit_max", [0, sd.EXPLICIT_MAX_ENTRIES])
def test_outer_norms_against_explicit_arrays(monkeypatch, explicit_max):
    """The x + y + Z closed forms (and the small-product sum) against the explicit
    (S, A, S) array, ties included."""
    monkeypatch.setattr(sd, "EXPLICIT_MAX_ENTRIES", explicit_max)
    rng = np.random.default_rng(7)
    t = make_transition(rng, 6, 2, "garnet")
    mdp = starc.TabularMDP(t, 0.9).to_sparse()
    for trial in range(20):
        x = rng.integers(-3, 4, size=(6, 2)).astype(float)  # integer values: many ties
        y = rng.integers(-3, 4, size=6).astype(float)
        zd = np.where(rng.uniform(size=(6, 2, 6)) < 0.4, rng.standard_normal((6, 2, 6)), 0.0)
        if trial % 4 == 0:
            zd[:, 0, :] = 1e-3 + rng.uniform(size=(6, 6))  # rows stored on every column
        full = x[:, :, None] + y[None, None, :] + zd
        z = sd.parse_rewards(zd, mdp).z[0]
        for ord in NORMS:
            expected = starc.norm(full, ord, mdp=starc.TabularMDP(t, 0.9))
            got = sd.canonical_norm(sd.Outer(x[None], y[None], [z]), ord, mdp)[0]
            assert abs(got - expected) <= 1e-12 * (1 + expected), (ord, got, expected)


def test_solver_paths_agree_and_certify(monkeypatch, garnet_mdp):
    """The iterative (BiCGSTAB) path against sparse LU, residual checked independently."""
    smdp = garnet_mdp.to_sparse()
    r = np.random.default_rng(2).standard_normal((7, 3))
    direct = starc.canonicalize(r, smdp)
    fresh = garnet_mdp.to_sparse()
    monkeypatch.setattr(sl, "SPLU_MAX_STATES", 0)  # the policy solver
    monkeypatch.setattr(sd, "SPLU_MAX_STATES", 0)  # the minimal-L2 normal equations
    iterative = starc.canonicalize(r, fresh)
    assert np.allclose(direct, iterative, rtol=0, atol=1e-10)
    pi = np.full((7, 3), 1.0 / 3)
    b = np.random.default_rng(4).standard_normal(7)
    v, cert = sl.solve(fresh, pi, b)
    assert cert.method == "bicgstab+sgs"
    p = np.einsum("sa,sat->st", pi, garnet_mdp.transition)
    resid = np.abs(b - (v - garnet_mdp.gamma * p @ v)).max()
    assert resid <= sl.EVAL_RTOL * np.abs(b).max()
    assert cert.error_bound <= sl.EVAL_RTOL * np.abs(b).max() / (1 - garnet_mdp.gamma)


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("method", ["minimal", "minimal_potential"])
def test_minimal_with_solver_refused(small_mdp, method):
    smdp = small_mdp.to_sparse()
    r = np.ones((6, 3))
    with pytest.raises(starc.ValidationError, match="minimal_l2"):
        starc.starc_distance(r, r, smdp, canonicalization=method)
    with pytest.raises(starc.ValidationError, match="dense"):
        starc.canonicalize(r, smdp, method, norm="l1")


@pytest.mark.parametrize("method", ["epic", "dard", "val_potential", "none"])
def test_dense_canonicals_not_returned(small_mdp, method):
    with pytest.raises(starc.ValidationError, match="starc_distance"):
        starc.canonicalize(np.ones((6, 3)), small_mdp.to_sparse(), method)


def test_other_refusals(small_mdp):
    smdp = small_mdp.to_sparse()
    r = np.ones((6, 3))
    with pytest.raises(starc.ValidationError, match="coverage"):
        starc.epic_distance(r, r, smdp, coverage=np.full(small_mdp.shape, 1 / 108))
    with pytest.raises(starc.ValidationError, match="sparse MDP"):
        starc.canonicalize(r, smdp, lambda x, m: x)
    with pytest.raises(starc.ValidationError, match=r"\(S\*A, S\)"):
        starc.starc_distance(sp.csr_array(np.ones((6, 6))), r, smdp)


def test_dense_reward_above_budget_refused(small_mdp, monkeypatch):
    smdp = small_mdp.to_sparse()
    r = np.ones(small_mdp.shape)
    monkeypatch.setattr(sd, "DENSE_REWARD_MAX_BYTES", r.nbytes - 1)
    with pytest.raises(starc.ValidationError, match=f"{r.nbytes:,} bytes"):
        starc.starc_distance(r, r, smdp)
    with pytest.raises(starc.ValidationError, match="bytes"):
        starc.regret(r, r, smdp)


# ------------------------------------------------------------------ scale


def chain(n: int, gamma: float = 0.9, slip: float = 0.1):
    """A sparse n-state ring: action 0 steps left, action 1 right, both slip to stay."""
    s = np.arange(n)
    rows, cols, vals = [], [], []
    for a, step in enumerate((-1, 1)):
        rows += [s * 2 + a, s * 2 + a]
        cols += [(s + step) % n, s]
        vals += [np.full(n, 1 - slip), np.full(n, slip)]
    t = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(2 * n, n))
    return starc.TabularMDP(t, gamma)


def test_no_densify_200k_states():
    n = 200_000
    mdp = chain(n)
    assert mdp.is_sparse
    with pytest.raises(starc.ValidationError, match="bytes"):
        mdp.to_dense()
    rng = np.random.default_rng(0)
    r1, r2 = rng.standard_normal((n, 2)), rng.standard_normal((n, 2))
    tracemalloc.start()
    try:
        d = starc.starc_distance(r1, r2, mdp)
        same = starc.starc_distance(r1, 2.0 * r1 + 1.0, mdp)
        pair = starc.pairwise_distances(np.stack([r1, r2, -r1]), mdp)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0.0 < d < 2.0 and abs(same) < 1e-9
    assert abs(pair[0, 2] - 2.0) < 1e-9 and abs(pair[0, 1] - d) < 1e-12
    assert peak < 400 * 2**20  # a few (S, A) arrays and the solver, nothing (S, A, S)


def test_building_blocks_on_sparse_mdps(small_mdp):
    """Factored.norm works from the sparse per-row factors; dense-only blocks refuse."""
    from starc.canonical import Factored, profile_array
    from starc.norms import array_norm

    smdp = small_mdp.to_sparse()
    u = np.random.default_rng(0).standard_normal((6, 3))
    for profile in ("ones", "l2"):
        for ord in NORMS:
            assert close(Factored(u, profile).norm(ord, smdp),
                         Factored(u, profile).norm(ord, small_mdp)), (profile, ord)
    with pytest.raises(starc.ValidationError, match="sparse"):
        Factored(u, "ones").expand(smdp)
    with pytest.raises(starc.ValidationError, match="sparse"):
        profile_array(smdp, "l2")
    with pytest.raises(starc.ValidationError, match="sparse"):
        array_norm(np.ones(small_mdp.shape), "weighted_l2", smdp)


def test_pairwise_shares_one_factorisation(garnet_mdp):
    """K rewards, one policy: one factorisation serves every column (memoised on the MDP)."""
    smdp = garnet_mdp.to_sparse()
    stack = np.random.default_rng(8).standard_normal((5, 7, 3))
    d = starc.pairwise_distances(stack, smdp)
    assert smdp.memo_size("sparse_policy_factors") == 1
    assert close(d, starc.pairwise_distances(stack, garnet_mdp))
    starc.starc_distance(stack[0], stack[1], smdp)  # the same uniform policy: reused
    assert smdp.memo_size("sparse_policy_factors") == 1


def test_dard_second_term_guard(garnet_mdp, monkeypatch):
    """DARD's sparse H = sum_a D_A(a) T_a Z_a T_a^T is refused beyond its entry budget."""
    smdp = garnet_mdp.to_sparse()
    r = np.random.default_rng(3).standard_normal((7, 3, 7)) * (garnet_mdp.transition > 0)
    monkeypatch.setattr(sd, "DARD_MAX_NNZ", 1)
    with pytest.raises(starc.ValidationError, match=r"\(S, A\)"):
        starc.dard_distance(sparse_reward(r), sparse_reward(-r), smdp)
    d = starc.dard_distance(r.sum(axis=2), -r.sum(axis=2), smdp)  # (S, A): no H at all
    assert close(d, starc.dard_distance(r.sum(axis=2), -r.sum(axis=2), garnet_mdp))
