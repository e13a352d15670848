"""Canonicalizations against their definitions, closed forms and the theorems of STARC §2-3."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import starc
from starc.canonical import _minimal_potential_cvxpy
from strategies import garnet_mdps, make_transition, mdps, policy_matrix, reward_arrays

ALL_BUT_NONE = ("epic", "dard", "val", "val_potential", "minimal_l2", "minimal_potential")
STARC_METHODS = ("val", "minimal_l2")


def scale_of(*arrays) -> float:
    return 1.0 + max(float(np.abs(a).max(initial=0.0)) for a in arrays)


def shaping_potential(mdp, seed, scale=3.0):
    return scale * np.random.default_rng(seed).standard_normal(mdp.n_states)


def brute_epic(r, gamma, ds, da):
    """EPIC canonical by explicit sums over (S, A, S') (Gleave et al. 2021, Def. 4.1)."""
    n, m, _ = r.shape
    out = np.empty_like(r)
    for s, a, s2 in itertools.product(range(n), range(m), range(n)):
        e = 0.0
        for big_s, big_a, big_s2 in itertools.product(range(n), range(m), range(n)):
            p = ds[big_s] * da[big_a] * ds[big_s2]
            e += p * (gamma * r[s2, big_a, big_s2] - r[s, big_a, big_s2]
                      - gamma * r[big_s, big_a, big_s2])
        out[s, a, s2] = r[s, a, s2] + e
    return out


def brute_dard(r, t, gamma, da):
    """DARD canonical by explicit sums (Wulfe et al. 2022, Def. 1)."""
    n, m, _ = r.shape
    out = np.empty_like(r)
    for s, a, s2 in itertools.product(range(n), range(m), range(n)):
        e = 0.0
        for big_a in range(m):
            for u in range(n):  # S' ~ tau(s, A)
                for v in range(n):  # S'' ~ tau(s', A)
                    p = da[big_a] * t[s, big_a, u] * t[s2, big_a, v]
                    e += p * (gamma * r[s2, big_a, v] - r[s, big_a, u] - gamma * r[u, big_a, v])
        out[s, a, s2] = r[s, a, s2] + e
    return out


# ----------------------------------------------------------------- closed forms


def test_val_toy_closed_form(toy_mdp, toy_reward):
    c = starc.canonicalize(toy_reward, toy_mdp, "val")
    expected = np.array([[-0.275, 0.275], [-0.225, 0.225]])
    np.testing.assert_allclose(c[:, :, 0], expected, atol=1e-12)
    np.testing.assert_allclose(c[:, :, 1], expected, atol=1e-12)  # constant in s'


def test_minimal_l2_toy_support(toy_mdp, toy_reward):
    c = starc.canonicalize(toy_reward, toy_mdp, "minimal_l2")
    assert np.all(c[~toy_mdp.support] == 0.0)
    assert np.count_nonzero(c) == 4


def test_epic_matches_brute_force():
    rng = np.random.default_rng(0)
    r = rng.standard_normal((3, 2, 3))
    mdp = starc.TabularMDP(make_transition(rng, 3, 2, "dense"), 0.7)
    ds = np.array([0.2, 0.5, 0.3])
    da = np.array([0.6, 0.4])
    c = starc.canonicalize(r, mdp, "epic", state_dist=ds, action_dist=da)
    np.testing.assert_allclose(c, brute_epic(r, 0.7, ds, da), atol=1e-12)


def test_dard_matches_brute_force():
    rng = np.random.default_rng(1)
    r = rng.standard_normal((3, 2, 3))
    t = make_transition(rng, 3, 2, "garnet")
    mdp = starc.TabularMDP(t, 0.8)
    da = np.array([0.3, 0.7])
    c = starc.canonicalize(r, mdp, "dard", action_dist=da)
    np.testing.assert_allclose(c, brute_dard(r, t, 0.8, da), atol=1e-12)


def test_val_potential_definition(small_mdp):
    r = np.random.default_rng(2).standard_normal(small_mdp.shape)
    v = starc.policy_evaluation(r, small_mdp)
    expected = r - v[:, None, None] + small_mdp.gamma * v[None, None, :]
    np.testing.assert_allclose(starc.canonicalize(r, small_mdp, "val_potential"), expected,
                               atol=1e-12)


def test_val_is_advantage_of_any_policy(small_mdp):
    rng = np.random.default_rng(3)
    r = rng.standard_normal(small_mdp.shape)
    pi = rng.dirichlet(np.ones(small_mdp.n_actions), size=small_mdp.n_states)
    q = starc.q_values(r, small_mdp, pi)
    v = starc.policy_evaluation(r, small_mdp, pi)
    c = starc.canonicalize(r, small_mdp, "val", policy=pi)
    np.testing.assert_allclose(c, np.repeat((q - v[:, None])[:, :, None], small_mdp.n_states, -1),
                               atol=1e-12)


# ----------------------------------------------------------------- invariances


@given(data=st.data())
def test_potential_shaping_and_constants_are_removed(data):
    mdp = data.draw(mdps(kinds=("dense", "garnet")))
    r = data.draw(reward_arrays(mdp))
    phi = shaping_potential(mdp, data.draw(st.integers(0, 2**31)))
    k = data.draw(st.floats(-100, 100))
    shaped = starc.potential_shaping(r, phi, mdp.gamma) + k
    for method in ALL_BUT_NONE:
        c1 = starc.canonicalize(r, mdp, method)
        c2 = starc.canonicalize(shaped, mdp, method)
        tol = 1e-9 * scale_of(r, phi, [k]) / (1 - mdp.gamma)
        np.testing.assert_allclose(c1, c2, atol=tol, err_msg=method)


@given(data=st.data())
def test_s_prime_redistribution_removed_by_starc_methods(data):
    mdp = data.draw(garnet_mdps())
    r = data.draw(reward_arrays(mdp))
    r2 = starc.s_prime_redistribution(r, mdp, scale=5.0, seed=data.draw(st.integers(0, 2**31)))
    for method in STARC_METHODS:
        c1 = starc.canonicalize(r, mdp, method)
        c2 = starc.canonicalize(r2, mdp, method)
        np.testing.assert_allclose(c1, c2, atol=1e-9 * scale_of(r, r2) / (1 - mdp.gamma),
                                   err_msg=method)


def test_epic_and_dard_change_under_s_prime_redistribution(garnet_mdp):
    r = np.random.default_rng(4).standard_normal(garnet_mdp.shape)
    r2 = starc.s_prime_redistribution(r, garnet_mdp, scale=5.0, seed=5)
    for method in ("epic", "dard", "val_potential", "minimal_potential", "none"):
        diff = np.abs(starc.canonicalize(r, garnet_mdp, method)
                      - starc.canonicalize(r2, garnet_mdp, method)).max()
        assert diff > 0.1, method
    for method in STARC_METHODS:
        assert starc.starc_distance(r, r2, garnet_mdp, canonicalization=method) < 1e-9


@given(data=st.data())
def test_linearity(data):
    mdp = data.draw(mdps())
    r1 = data.draw(reward_arrays(mdp))
    r2 = data.draw(reward_arrays(mdp))
    a = data.draw(st.floats(-10, 10))
    for method in ("none",) + ALL_BUT_NONE:
        lhs = starc.canonicalize(a * r1 + r2, mdp, method)
        rhs = a * starc.canonicalize(r1, mdp, method) + starc.canonicalize(r2, mdp, method)
        tol = 1e-9 * (1 + abs(a)) * scale_of(r1, r2) / (1 - mdp.gamma)
        np.testing.assert_allclose(lhs, rhs, atol=tol, err_msg=method)


@given(data=st.data())
def test_idempotence(data):
    mdp = data.draw(mdps(kinds=("dense", "garnet")))
    r = data.draw(reward_arrays(mdp))
    for method in ("none", "epic", "val", "val_potential", "minimal_l2", "minimal_potential"):
        c = starc.canonicalize(r, mdp, method)
        np.testing.assert_allclose(starc.canonicalize(c, mdp, method), c,
                                   atol=1e-9 * scale_of(r) / (1 - mdp.gamma), err_msg=method)


def test_dard_canonical_is_not_equivalent_to_its_reward(garnet_mdp):
    """DARD's -gamma h(s, s') term is not a potential: C_DARD(R) may order policies differently."""
    r = np.random.default_rng(14).standard_normal(garnet_mdp.shape)
    assert not starc.is_equivalent(r, starc.canonicalize(r, garnet_mdp, "dard"), garnet_mdp)
    assert starc.is_equivalent(r, starc.canonicalize(r, garnet_mdp, "epic"), garnet_mdp)


def test_dard_is_not_idempotent(garnet_mdp):
    r = np.random.default_rng(6).standard_normal(garnet_mdp.shape)
    c = starc.canonicalize(r, garnet_mdp, "dard")
    assert np.abs(starc.canonicalize(c, garnet_mdp, "dard") - c).max() > 1e-3


def _linear_map_matrix(mdp, method):
    n = int(np.prod(mdp.shape))
    basis = np.eye(n).reshape((n,) + mdp.shape)
    return starc.canonicalize(basis, mdp, method).reshape(n, n).T  # columns = images


def _equivalence_basis(mdp):
    """A spanning set of N: potential-shaping directions and S'-redistributions."""
    n, m = mdp.n_states, mdp.n_actions
    vecs = []
    for s in range(n):
        phi = np.zeros(n)
        phi[s] = 1.0
        vecs.append(starc.potential_shaping(np.zeros(mdp.shape), phi, mdp.gamma).ravel())
    t = mdp.transition
    for s, a, s2 in itertools.product(range(n), range(m), range(n)):
        x = np.zeros(mdp.shape)
        x[s, a, s2] = 1.0
        x[s, a, :] -= t[s, a, s2]  # e_{s2} - tau(s, a): zero mean under tau(s, a)
        vecs.append(x.ravel())
    return np.array(vecs).T


@pytest.mark.parametrize("method", STARC_METHODS)
@pytest.mark.parametrize("kind", ["dense", "garnet", "deterministic"])
def test_kernel_is_equivalence_subspace_and_rank(method, kind):
    rng = np.random.default_rng(7)
    n, m = 4, 3
    mdp = starc.TabularMDP(make_transition(rng, n, m, kind), 0.9)
    c = _linear_map_matrix(mdp, method)
    basis = _equivalence_basis(mdp)
    dim_n = np.linalg.matrix_rank(basis)
    assert dim_n == n + n * m * (n - 1)
    np.testing.assert_allclose(c @ basis, 0.0, atol=1e-10)
    assert np.linalg.matrix_rank(c, tol=1e-8) == n * (m - 1)


@given(data=st.data())
def test_val_averages_to_zero_under_its_policy(data):
    from strategies import policies

    mdp = data.draw(mdps())
    r = data.draw(reward_arrays(mdp))
    policy = data.draw(policies(mdp))
    c = starc.canonicalize(r, mdp, "val", policy=policy)
    avg = np.einsum("sa,sa->s", policy_matrix(policy, mdp), c[:, :, 0])
    np.testing.assert_allclose(avg, 0.0, atol=1e-9 * scale_of(r) / (1 - mdp.gamma))


@given(data=st.data())
def test_canonical_preserves_return_differences(data):
    mdp = data.draw(mdps(max_states=4, max_actions=3))
    r = data.draw(reward_arrays(mdp))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    pi1 = rng.integers(mdp.n_actions, size=mdp.n_states)
    pi2 = rng.integers(mdp.n_actions, size=mdp.n_states)
    base = starc.policy_return(r, mdp, pi1) - starc.policy_return(r, mdp, pi2)
    for method in STARC_METHODS + ("epic", "val_potential", "minimal_potential"):
        c = starc.canonicalize(r, mdp, method)
        diff = starc.policy_return(c, mdp, pi1) - starc.policy_return(c, mdp, pi2)
        np.testing.assert_allclose(diff, base, atol=1e-8 * scale_of(r) / (1 - mdp.gamma) ** 2,
                                   err_msg=method)


# ----------------------------------------------------------------- minimality


@given(data=st.data())
def test_minimal_l2_has_smallest_norm_in_class(data):
    mdp = data.draw(mdps(kinds=("dense", "garnet")))
    r = data.draw(reward_arrays(mdp))
    best = np.linalg.norm(starc.canonicalize(r, mdp, "minimal_l2"))
    tol = 1e-9 * scale_of(r) / (1 - mdp.gamma)
    for other in (r, starc.canonicalize(r, mdp, "val"), starc.canonicalize(r, mdp, "epic"),
                  starc.canonicalize(r, mdp, "minimal_potential")):
        assert best <= np.linalg.norm(other) + tol
    # random members of the class are never smaller
    shaped, _ = starc.random_potential_shaping(r, mdp, seed=1)
    assert best <= np.linalg.norm(starc.s_prime_redistribution(shaped, mdp, seed=2)) + tol


def _full_minimal_cvxpy(r, mdp, norm):
    """min over phi, X (E_tau X = 0) of norm(R + gamma phi(s') - phi(s) + X): the definition."""
    import cvxpy as cp

    n, m = mdp.n_states, mdp.n_actions
    t = mdp.transition.reshape(n * m, n)
    phi = cp.Variable(n)
    x = cp.Variable((n * m, n))
    rows = np.repeat(np.eye(n), m, axis=0)
    shaped = (r.reshape(n * m, n) + mdp.gamma * np.ones((n * m, 1)) @ cp.reshape(phi, (1, n),
                                                                                 order="C")
              - cp.reshape(rows @ phi, (n * m, 1), order="C") @ np.ones((1, n)) + x)
    flat = cp.vec(shaped, order="C")
    w = t.ravel()
    objective = {
        "l1": lambda: cp.norm1(flat),
        "l2": lambda: cp.norm(flat, 2),
        "linf": lambda: cp.norm_inf(flat),
        "weighted_l1": lambda: cp.norm1(cp.multiply(w, flat)),
        "weighted_l2": lambda: cp.norm(cp.multiply(np.sqrt(w), flat), 2),
        "weighted_linf": lambda: cp.norm_inf(flat[np.flatnonzero(w > 0)]),
    }[norm]()
    problem = cp.Problem(cp.Minimize(objective), [cp.sum(cp.multiply(t, x), axis=1) == 0])
    problem.solve(solver=cp.CLARABEL)
    assert problem.status == cp.OPTIMAL
    return problem.value


@pytest.mark.parametrize("norm", starc.NORMS)
def test_minimal_reaches_the_definitions_optimum(norm, garnet_mdp):
    r = np.random.default_rng(8).standard_normal(garnet_mdp.shape)
    c = starc.canonicalize(r, garnet_mdp, "minimal", norm=norm)
    optimum = _full_minimal_cvxpy(r, garnet_mdp, norm)
    np.testing.assert_allclose(starc.norm(c, norm, mdp=garnet_mdp), optimum, rtol=1e-6)
    # and c stays in the class of r: c - r lies in the kernel of a canonicalization function
    np.testing.assert_allclose(starc.canonicalize(c - r, garnet_mdp, "minimal_l2"), 0.0,
                               atol=1e-6)


def test_minimal_l2_cvxpy_agrees_with_closed_form(garnet_mdp):
    r = np.random.default_rng(9).standard_normal((3,) + garnet_mdp.shape)
    np.testing.assert_allclose(starc.canonicalize(r, garnet_mdp, "minimal", norm="l2"),
                               starc.canonicalize(r, garnet_mdp, "minimal_l2"), atol=1e-7)


def test_minimal_potential_l2_closed_form_agrees_with_cvxpy(garnet_mdp):
    r = np.random.default_rng(10).standard_normal((2,) + garnet_mdp.shape)
    closed = starc.canonicalize(r, garnet_mdp, "minimal_potential", norm="l2")
    np.testing.assert_allclose(closed, _minimal_potential_cvxpy(r, garnet_mdp, "l2"), atol=1e-7)


def test_minimal_potential_l1_is_optimal_over_potentials(garnet_mdp):
    r = np.random.default_rng(11).standard_normal(garnet_mdp.shape)
    c = starc.canonicalize(r, garnet_mdp, "minimal_potential", norm="l1")
    best = np.abs(c).sum()
    rng = np.random.default_rng(12)
    for _ in range(200):  # no random nearby potential does better
        trial = starc.potential_shaping(c, 0.1 * rng.standard_normal(garnet_mdp.n_states),
                                        garnet_mdp.gamma)
        assert best <= np.abs(trial).sum() + 1e-7


# ----------------------------------------------------------------- input forms and errors


def test_batch_axes_and_lower_forms(small_mdp):
    rng = np.random.default_rng(13)
    batch = rng.standard_normal((2, 3) + small_mdp.shape)
    for method in ("epic", "dard", "val", "minimal_l2", "minimal_potential"):
        out = starc.canonicalize(batch, small_mdp, method)
        assert out.shape == batch.shape
        np.testing.assert_allclose(out[1, 2], starc.canonicalize(batch[1, 2], small_mdp, method),
                                   atol=1e-12)
    state = rng.standard_normal(small_mdp.n_states)
    full = starc.broadcast_reward(state, small_mdp)
    np.testing.assert_allclose(starc.canonicalize(state, small_mdp),
                               starc.canonicalize(full, small_mdp), atol=1e-12)


def test_callable_method(small_mdp):
    r = np.ones(small_mdp.shape)
    out = starc.canonicalize(r, small_mdp, lambda x, mdp: 2 * x)
    np.testing.assert_allclose(out, 2.0)
    with pytest.raises(starc.ValidationError, match="callable returned shape"):
        starc.canonicalize(r, small_mdp, lambda x, mdp: x[0])


def test_bad_inputs(small_mdp):
    r = np.zeros(small_mdp.shape)
    with pytest.raises(starc.ValidationError, match="unknown canonicalization 'vall'.*'val'"):
        starc.canonicalize(r, small_mdp, "vall")
    with pytest.raises(starc.ValidationError, match="unknown norm 'l3'.*'l1'"):
        starc.canonicalize(r, small_mdp, "minimal", norm="l3")
    with pytest.raises(starc.ValidationError, match="norm= is used only"):
        starc.canonicalize(r, small_mdp, "val", norm="l1")
    with pytest.raises(starc.ValidationError, match="state_dist"):
        starc.canonicalize(r, small_mdp, "epic", state_dist=np.ones(small_mdp.n_states))
    with pytest.raises(starc.ValidationError, match="action_dist must have length"):
        starc.canonicalize(r, small_mdp, "dard", action_dist=[1.0])
    with pytest.raises(starc.ValidationError, match="policy"):
        starc.canonicalize(r, small_mdp, "val", policy=np.ones((2, 2)))
    with pytest.raises(starc.ValidationError, match="reward has shape"):
        starc.canonicalize(np.zeros((3, 3, 3, 3, 2)), small_mdp)
    with pytest.raises(starc.ValidationError, match="NaN"):
        starc.canonicalize(np.full(small_mdp.shape, np.nan), small_mdp)
    with pytest.raises(starc.ValidationError, match="mdp must be a starc.TabularMDP"):
        starc.canonicalize(r, "mdp")


def test_solver_failure_raises_solver_error(garnet_mdp, monkeypatch):
    import cvxpy as cp

    def failing_solve(self, *args, **kwargs):
        raise cp.error.SolverError("forced failure")

    monkeypatch.setattr(cp.Problem, "solve", failing_solve)
    with pytest.raises(starc.SolverError, match="forced failure"):
        starc.canonicalize(np.ones(garnet_mdp.shape), garnet_mdp, "minimal", norm="l1")


@settings(max_examples=10)
@given(data=st.data())
def test_minimal_lp_norms_are_invariant(data):
    mdp = data.draw(garnet_mdps(max_states=4, max_actions=3))
    r = data.draw(reward_arrays(mdp))
    equivalent = 2.0 * starc.s_prime_redistribution(
        starc.random_potential_shaping(r, mdp, seed=1)[0], mdp, seed=2)
    for norm in ("l1", "linf", "weighted_l1"):
        d = starc.starc_distance(r, equivalent, mdp, canonicalization="minimal",
                                 normalization=norm, metric=norm, minimal_norm=norm)
        # The LP minimiser may be non-unique, but its norm is not; a unique optimum makes the
        # distance 0. Check the optimal values agree and the distance is 0 or tiny.
        n1 = starc.norm(starc.canonicalize(r, mdp, "minimal", norm=norm), norm, mdp=mdp)
        n2 = starc.norm(starc.canonicalize(equivalent, mdp, "minimal", norm=norm), norm,
                        mdp=mdp)
        np.testing.assert_allclose(2.0 * n1, n2, rtol=1e-6, atol=1e-6 * scale_of(r))
        assert 0.0 <= d <= 2.0


# ------------------------------------------------------- Factored and Canonical methods


PROFILES_OF = {"val": "ones", "minimal_l2": "l2"}


@settings(max_examples=30, deadline=None)
@given(data=st.data(), method=st.sampled_from(["val", "minimal_l2"]),
       ord=st.sampled_from(starc.NORMS))
def test_factored_norm_and_expand_agree_with_the_full_array(data, method, ord):
    """``Factored.norm`` (closed forms on the (S, A) coefficients) against the norm of
    ``Factored.expand`` (the full array), and ``expand`` against ``canonicalize``."""
    from starc.canonical import Factored, canonical_parts, resolve_options
    from starc.norms import array_norm

    mdp = data.draw(garnet_mdps())
    r = data.draw(reward_arrays(mdp))
    m, pi, ds, da, nrm = resolve_options(mdp, method, "uniform", None, None, None)
    canon = canonical_parts(r, mdp, m, pi=pi, state_dist=ds, action_dist=da, norm=nrm)
    f = canon.value
    assert isinstance(f, Factored) and f.profile == PROFILES_OF[method]
    full = f.expand(mdp)
    assert full.shape == mdp.shape
    np.testing.assert_allclose(full, starc.canonicalize(r, mdp, method), rtol=0,
                               atol=1e-12 * scale_of(r))
    expected = float(array_norm(full, ord, mdp))
    assert np.isclose(float(f.norm(ord, mdp)), expected, rtol=1e-12, atol=1e-300)
    assert np.isclose(float(canon.norm(ord, mdp)), expected, rtol=1e-12, atol=1e-300)
    w = f.weights(ord, mdp)
    assert w.shape == mdp.shape[:2] and not w.flags.writeable


def test_canonical_standardize_matches_normalize_and_zero_rule(small_mdp):
    """``Canonical.standardize`` divides by the norm (compared with ``starc.normalize`` of
    the expanded canonical) and maps a pure-shaping reward (canonical zero up to
    round-off, ``Canonical.is_zero``) to exactly zero."""
    from starc.canonical import canonical_parts, resolve_options
    from starc.norms import ones_norm

    rng = np.random.default_rng(3)
    r = rng.standard_normal(small_mdp.shape)
    phi = 1e3 * rng.standard_normal(small_mdp.n_states)
    shaping = small_mdp.gamma * phi[None, None, :] - phi[:, None, None]
    rewards = np.stack([r, np.broadcast_to(shaping, small_mdp.shape)])
    m, pi, ds, da, nrm = resolve_options(small_mdp, "val", "uniform", None, None, None)
    canon = canonical_parts(rewards, small_mdp, m, pi=pi, state_dist=ds, action_dist=da,
                            norm=nrm)
    for ord in starc.NORMS:
        zero = canon.is_zero(ord, small_mdp)
        assert zero.tolist() == [False, True]
        n = canon.norm(ord, small_mdp)
        assert n[1] <= ones_norm(ord, small_mdp.shape) * canon.noise[1]
        s = canon.standardize(ord, small_mdp)
        full = s.expand(small_mdp)
        np.testing.assert_array_equal(full[1], 0.0)
        np.testing.assert_allclose(full[0], starc.normalize(canon.value.expand(small_mdp)[0],
                                                            ord, mdp=small_mdp),
                                   rtol=1e-12, atol=1e-15)
        assert np.isclose(float(s.norm(ord, small_mdp)[0]), 1.0, rtol=1e-12)


def test_standardize_of_a_full_canonical(small_mdp):
    """EPIC canonicals are full arrays: ``standardize`` returns a full array of unit norm."""
    from starc.canonical import canonical_parts, resolve_options

    r = np.random.default_rng(4).standard_normal((2,) + small_mdp.shape)
    m, pi, ds, da, nrm = resolve_options(small_mdp, "epic", "uniform", None, None, None)
    canon = canonical_parts(r, small_mdp, m, pi=pi, state_dist=ds, action_dist=da, norm=nrm)
    s = canon.standardize("l1", small_mdp)
    assert isinstance(s, np.ndarray) and s.shape == r.shape
    np.testing.assert_allclose(starc.norm(s, "l1"), [1.0, 1.0], rtol=1e-12)
