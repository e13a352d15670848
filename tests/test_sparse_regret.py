"""Regret on sparse MDPs (issue 18, THEORY §11): the dense path is the oracle.

``regret`` (every ``ties`` rule), ``worst_case_regret`` (parametric, with policies),
``policy_value_range``, ``soundness_constant`` and ``regret_bound`` agree with the dense
functions on the suite's small MDPs to 1e-9; the LP method, the tight bound and
``occupancy_diameter`` refuse; a 200,000-state MDP runs ``regret`` without densifying.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import make_transition, mdps
from test_sparse_distances import FORMS, chain, draw_reward

import starc
from starc.regret import GAMMA_MAX

TOL = 1e-9


def close(a, b, tol=TOL) -> bool:
    return bool(abs(a - b) <= tol * max(1.0, abs(a)))


@settings(max_examples=20)
@given(data=st.data())
def test_regret_parity(data):
    mdp = data.draw(mdps(max_states=5, max_actions=3, max_gamma=0.99))
    smdp = mdp.to_sparse()
    f1, f2 = (data.draw(st.sampled_from(FORMS), label=f"form{i}") for i in (1, 2))
    d1, s1 = draw_reward(data, mdp, f1, "r1")
    d2, s2 = draw_reward(data, mdp, f2, "r2")
    q = starc.q_values(d2, mdp, starc.optimal_policy(d2, mdp))
    top = np.sort(q, axis=1)
    unique = mdp.n_actions == 1 or bool(np.all(
        top[:, -1] - top[:, -2] > 1e-9 * (1 + np.abs(q).max())))
    # "first" is the optimal policy starc.optimal_policy returns: among exactly tied
    # actions (a state reward at gamma = 0) round-off picks one, on either path
    for ties in ("pessimistic", "optimistic", "first") if unique else ("pessimistic",
                                                                          "optimistic"):
        dense = starc.regret(d1, d2, mdp, ties=ties)
        assert close(dense, starc.regret(s1, s2, smdp, ties=ties)), ties
    assert close(starc.worst_case_regret(d1, d2, mdp), starc.worst_case_regret(s1, s2, smdp))
    lo, hi = starc.policy_value_range(d1, mdp)
    slo, shi = starc.policy_value_range(s1, smdp)
    span = abs(lo) + abs(hi)
    assert close(lo, slo, TOL * max(1.0, span)) and close(hi, shi, TOL * max(1.0, span))
    dist = starc.starc_distance(d1, d2, mdp)
    for method in ("val", "minimal_l2", "epic", "none"):
        for normalization in ("l2", "weighted_l1", None):
            kw = {"canonicalization": method, "normalization": normalization, "metric": "l2"}
            u = starc.soundness_constant(d1, mdp, **kw)
            su = starc.soundness_constant(s1, smdp, **kw)
            assert u == su or close(u, su), (method, normalization, u, su)
            assert close(starc.regret_bound(d1, dist, mdp, **kw),
                         starc.regret_bound(s1, dist, smdp, **kw))


@settings(max_examples=10)
@given(data=st.data())
def test_worst_case_policies_attain_the_value(data):
    """The returned pair is admissible for R2 and its normalised R1-gap is the value."""
    mdp = data.draw(mdps(max_states=5, max_actions=3, max_gamma=0.95))
    smdp = mdp.to_sparse()
    d1, s1 = draw_reward(data, mdp, "state_action", "r1")
    d2, s2 = draw_reward(data, mdp, "support", "r2")
    out = starc.worst_case_regret(s1, s2, smdp, return_policies=True)
    assert close(out.regret, starc.worst_case_regret(d1, d2, mdp))
    lo, hi = starc.policy_value_range(d1, mdp)
    j1 = [float(starc.policy_return(d1, mdp, p)) for p in (out.policy_1, out.policy_2)]
    j2 = [float(starc.policy_return(d2, mdp, p)) for p in (out.policy_1, out.policy_2)]
    scale = 1e-8 * (1.0 + np.abs(d2).max() / (1.0 - mdp.gamma))
    assert j2[1] >= j2[0] - scale  # the proxy does not prefer policy_1
    if hi - lo > 1e-9 * (1 + np.abs(d1).max() / (1 - mdp.gamma)):
        assert abs((j1[0] - j1[1]) / (hi - lo) - out.regret) <= 1e-7
    flows = starc.state_action_occupancy(mdp, out.policy_1)
    assert np.allclose(out.occupancy_1.sum(), flows.sum())


def test_regret_closed_form_two_states():
    """The two-state toy of the dense tests: regret 1 for a proxy that prefers staying."""
    t = np.zeros((2, 2, 2))
    t[0, 0, 0] = t[1, 0, 1] = t[0, 1, 1] = t[1, 1, 0] = 1.0
    smdp = starc.TabularMDP(t, 0.9).to_sparse()
    r = np.zeros((2, 2, 2))
    r[0, 1, 1] = 1.0
    proxy = np.zeros((2, 2, 2))
    proxy[0, 0, 0] = 1.0
    sparse_r = sp.csr_array(r.reshape(4, 2))
    assert starc.regret(sparse_r, sp.csr_array(proxy.reshape(4, 2)), smdp) == 1.0
    lo, hi = starc.policy_value_range(sparse_r, smdp)
    assert abs(lo) < 1e-12 and abs(hi - 5.0) < 1e-12  # the dense doctest's values


@pytest.mark.parametrize("scales", [(1e-300, 1e300), (1e300, 1e-300)])
def test_regret_extreme_scales(garnet_mdp, scales):
    smdp = garnet_mdp.to_sparse()
    rng = np.random.default_rng(9)
    r1, r2 = scales[0] * rng.standard_normal((7, 3)), scales[1] * rng.standard_normal((7, 3))
    for ties in ("pessimistic", "first"):
        assert close(starc.regret(r1, r2, garnet_mdp, ties=ties),
                     starc.regret(r1, r2, smdp, ties=ties))
    assert close(starc.worst_case_regret(r1, r2, garnet_mdp),
                 starc.worst_case_regret(r1, r2, smdp))


@pytest.mark.parametrize("gamma", [0.999, 1 - 1e-6, GAMMA_MAX])
def test_regret_gamma_near_one(gamma):
    rng = np.random.default_rng(13)
    mdp = starc.TabularMDP(make_transition(rng, 5, 3, "garnet"), gamma)
    smdp = mdp.to_sparse()
    r1, r2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    for ties in ("pessimistic", "first"):
        assert close(starc.regret(r1, r2, mdp, ties=ties), starc.regret(r1, r2, smdp, ties=ties),
                     1e-6)
    assert close(starc.worst_case_regret(r1, r2, mdp), starc.worst_case_regret(r1, r2, smdp),
                 1e-6)


def test_refusals(small_mdp):
    smdp = small_mdp.to_sparse()
    r = np.random.default_rng(0).standard_normal((6, 3))
    with pytest.raises(starc.ValidationError, match="parametric"):
        starc.worst_case_regret(r, -r, smdp, method="lp")
    with pytest.raises(starc.ValidationError, match="tight=False"):
        starc.regret_bound(r, 0.1, smdp, tight=True)
    with pytest.raises(starc.ValidationError, match="tight=False"):
        starc.occupancy_diameter(smdp)
    with pytest.raises(starc.ValidationError, match="GAMMA_MAX|above"):
        starc.regret(r, r, small_mdp.with_gamma(1 - 1e-9).to_sparse())
    with pytest.raises(starc.ValidationError, match="batch"):
        starc.regret(np.stack([r, r]), r, smdp)


def test_regret_200k_states_without_densifying():
    n = 200_000
    mdp = chain(n, gamma=0.8)
    rng = np.random.default_rng(1)
    r1 = rng.standard_normal((n, 2))
    r2 = r1 + 0.5 * rng.standard_normal((n, 2))
    tracemalloc.start()
    try:
        same = starc.regret(r1, 3.0 * r1 + 2.0, mdp, ties="first")
        reg = starc.regret(r1, r2, mdp, ties="first")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(same) < 1e-9 and 0.0 < reg < 1.0
    assert peak < 400 * 2**20


@pytest.mark.parametrize("gamma", [0.5, 0.95])
def test_iterative_path_matches_dense(monkeypatch, gamma):
    """The Krylov path (provisional then certified evaluations) gives the dense regrets."""
    from starc import _sparse_linalg as sl

    monkeypatch.setattr(sl, "SPLU_MAX_STATES", 0)
    monkeypatch.setattr(sl, "PI_SPLU_MAX_STATES", 0)
    rng = np.random.default_rng(21)
    mdp = starc.TabularMDP(make_transition(rng, 8, 3, "garnet"), gamma)
    smdp = mdp.to_sparse()
    for _ in range(3):
        r1, r2 = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
        for ties in ("pessimistic", "first"):
            assert close(starc.regret(r1, r2, mdp, ties=ties),
                         starc.regret(r1, r2, smdp, ties=ties), 1e-8)
        assert close(starc.worst_case_regret(r1, r2, mdp),
                     starc.worst_case_regret(r1, r2, smdp), 1e-8)
        assert close(starc.starc_distance(r1, r2, mdp), starc.starc_distance(r1, r2, smdp),
                     1e-8)


def _krylov_path(monkeypatch, cores: int):
    """Force the Krylov path (no sparse LU) with ``cores`` usable cores; returns
    :mod:`starc._sparse_regret`."""
    from starc import _sparse_linalg as sl
    from starc import _sparse_regret as sr

    monkeypatch.setattr(sl, "SPLU_MAX_STATES", 0)
    monkeypatch.setattr(sl, "PI_SPLU_MAX_STATES", 0)
    monkeypatch.setattr(sr, "_usable_cores", lambda: cores)
    return sr


@pytest.mark.parametrize("cores", [1, 2])
def test_concurrent_and_serial_policy_iterations_agree(monkeypatch, cores):
    """On the Krylov path the value range and the proxy's side run on threads when two
    cores are usable (``_sparse_regret.concurrent``); both ways give the dense regrets,
    worst-case regrets and value ranges (every policy iteration is certified)."""
    sr = _krylov_path(monkeypatch, cores)
    rng = np.random.default_rng(5)
    mdp = starc.TabularMDP(make_transition(rng, 9, 3, "garnet"), 0.9)
    smdp = mdp.to_sparse()
    assert sr.concurrent(smdp) == (cores >= 2)
    for _ in range(3):
        r1, r2 = rng.standard_normal((9, 3)), rng.standard_normal((9, 3))
        for ties in ("pessimistic", "optimistic", "first"):
            assert close(starc.regret(r1, r2, mdp, ties=ties),
                         starc.regret(r1, r2, smdp, ties=ties), 1e-8), ties
        assert close(starc.worst_case_regret(r1, r2, mdp),
                     starc.worst_case_regret(r1, r2, smdp), 1e-8)
        for a, b in zip(starc.policy_value_range(r1, mdp), starc.policy_value_range(r1, smdp)):
            assert close(a, b, 1e-8)


def test_run_all_keeps_order_and_raises_after_all_tasks():
    from starc import _sparse_regret as sr
    from starc.exceptions import ConvergenceError

    done = []

    def slow():
        done.append("slow")
        return 2

    def fail():
        raise ConvergenceError("no")

    assert sr.run_all([lambda: 1, slow], True) == [1, 2]
    assert sr.run_all([lambda: 1, slow], False) == [1, 2]
    with pytest.raises(ConvergenceError):
        sr.run_all([fail, slow], True)
    assert done == ["slow", "slow", "slow"]


@pytest.mark.parametrize("cores", [1, 2])
def test_trivial_and_nearly_trivial_proxies_on_the_krylov_path(monkeypatch, cores):
    """A proxy that is only potential shaping is trivial (every action optimal: the
    pessimistic regret is the worst policy's, 1); a tiny non-shaping part makes it
    non-trivial. ``_proxy_trivial`` decides the second by its gap bound or one
    evaluation, the first by policy iteration — as the dense path decides both."""
    _krylov_path(monkeypatch, cores)
    rng = np.random.default_rng(8)
    mdp = starc.TabularMDP(make_transition(rng, 7, 3, "garnet"), 0.8)
    smdp = mdp.to_sparse()
    r1 = rng.standard_normal((7, 3))
    phi = rng.standard_normal(7)
    shaped = (mdp.gamma * (mdp.transition @ phi) - phi[:, None])
    for proxy in (shaped, shaped + 1e-6 * rng.standard_normal((7, 3))):
        for ties in ("pessimistic", "optimistic"):
            assert close(starc.regret(r1, proxy, mdp, ties=ties),
                         starc.regret(r1, proxy, smdp, ties=ties), 1e-8), ties
    assert close(starc.regret(r1, shaped, smdp, ties="pessimistic"), 1.0, 1e-8)
