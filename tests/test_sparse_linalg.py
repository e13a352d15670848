"""Sparse MDPs (issue 18, THEORY §11): certified sparse solvers against the dense ones.

Every solver of :mod:`starc.solve` is run on a dense MDP and on the same MDP stored sparse
(``scipy.sparse.csr_array(T.reshape(S*A, S))``) and the answers must agree to 1e-9 of the
value scale; each certificate is checked against a residual recomputed here, and its
error bound against the distance to a ``numpy.linalg.solve`` reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import starc
from starc import ConvergenceError, TabularMDP, ValidationError
from starc import _sparse_linalg as sl
from starc.solve import SolveCertificate
from strategies import (direct_values, evaluation_system, mdps, policies, policy_matrix,
                        reward_arrays, value_scale)

#: Dense/sparse parity required by issue 18, relative to the value scale.
PARITY_RTOL = 1e-9


def _flat(reward, mdp):
    s, a = mdp.n_states, mdp.n_actions
    return sp.csr_array(np.asarray(reward).reshape(s * a, s))


def _chain(n, gamma=0.9, slip=0.1):
    """Sparse chain: action 0 left, action 1 right, slipping to stay with ``slip``."""
    s = np.arange(n)
    rows, cols, vals = [], [], []
    for a, step in enumerate((-1, 1)):
        nxt = np.clip(s + step, 0, n - 1)
        rows += [s * 2 + a, s * 2 + a]
        cols += [nxt, s]
        vals += [np.full(n, 1 - slip), np.full(n, slip)]
    t = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(2 * n, n))
    return TabularMDP(t, gamma)


def _grid(n, gamma=0.95, slip=0.2):
    """Sparse n x n slippery gridworld, 4 moves, 5 successors (4 moves and staying)."""
    s = np.arange(n * n)
    r, c = divmod(s, n)
    moves = [(-1, 0), (1, 0), (0, -1), (0, 1), (0, 0)]
    dest = np.stack([np.clip(r + dr, 0, n - 1) * n + np.clip(c + dc, 0, n - 1)
                     for dr, dc in moves], axis=1)
    rows, cols, vals = [], [], []
    for a in range(4):
        p = np.full(5, slip / 5)
        p[a] += 1 - slip
        rows.append(np.repeat(s * 4 + a, 5))
        cols.append(dest.ravel())
        vals.append(np.tile(p, n * n))
    t = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(4 * n * n, n * n))
    return TabularMDP(t, gamma)


def _residual_bound(mdp, pi, r_pi, v):
    """||r_pi - (I - gamma P_pi) V||_inf / (1 - gamma), recomputed densely here."""
    t = mdp.to_dense().transition if mdp.is_sparse else mdp.transition
    p = np.einsum("sa,sat->st", pi, t)
    res = r_pi - (v - mdp.gamma * p @ v)
    return float(np.max(np.abs(res))) / (1 - mdp.gamma)


# ------------------------------------------------------------ dense/sparse parity


@given(mdps(), st.data())
def test_policy_solvers_dense_sparse_parity(mdp, data):
    sparse = mdp.to_sparse()
    reward = data.draw(reward_arrays(mdp))
    policy = data.draw(policies(mdp))
    scale = value_scale(reward, mdp)
    tol = PARITY_RTOL * scale
    for fn in (starc.policy_evaluation, starc.q_values, starc.policy_return):
        want = fn(reward, mdp, policy)
        np.testing.assert_allclose(fn(reward, sparse, policy), want, rtol=0, atol=tol)
        np.testing.assert_allclose(fn(_flat(reward, mdp), sparse, policy), want, rtol=0,
                                   atol=tol)
    occ_tol = PARITY_RTOL / (1 - mdp.gamma)
    np.testing.assert_allclose(starc.state_occupancy(sparse, policy),
                               starc.state_occupancy(mdp, policy), rtol=0, atol=occ_tol)
    np.testing.assert_allclose(starc.state_action_occupancy(sparse, policy),
                               starc.state_action_occupancy(mdp, policy), rtol=0, atol=occ_tol)
    eta = starc.occupancy(sparse, policy)
    assert isinstance(eta, sp.csr_array) and eta.shape == (mdp.n_states * mdp.n_actions,
                                                           mdp.n_states)
    np.testing.assert_allclose(eta.toarray().reshape(mdp.shape), starc.occupancy(mdp, policy),
                               rtol=0, atol=occ_tol)


@given(mdps(), st.data())
def test_batched_rewards_dense_sparse_parity(mdp, data):
    sparse = mdp.to_sparse()
    form = data.draw(st.sampled_from(["state_action", "state"]))
    k = mdp.n_states * mdp.n_actions + 1  # a batch size no layout rule can mistake
    rewards = data.draw(reward_arrays(mdp, batch=(k,), form=form))
    policy = data.draw(policies(mdp))
    want = starc.policy_evaluation(rewards, mdp, policy)
    got, cert = starc.policy_evaluation(rewards, sparse, policy, certificate=True)
    assert got.shape == want.shape == (k, mdp.n_states)
    np.testing.assert_allclose(got, want, rtol=0,
                               atol=PARITY_RTOL * value_scale(rewards, mdp))
    assert cert.error_bound <= cert.tolerance


@given(mdps(), st.data())
def test_optimal_policy_dense_sparse_parity(mdp, data):
    sparse = mdp.to_sparse()
    reward = data.draw(reward_arrays(mdp))
    scale = value_scale(reward, mdp)
    v_dense, pi_dense = starc.optimal_values(reward, mdp, return_policy=True)
    (v_sparse, pi_sparse), cert = starc.optimal_values(reward, sparse, return_policy=True,
                                                       certificate=True)
    np.testing.assert_allclose(v_sparse, v_dense, rtol=0, atol=PARITY_RTOL * scale)
    # the same tie rule decides: both runs take the same path to the same fixed point
    np.testing.assert_array_equal(starc.optimal_policy(reward, sparse), pi_sparse)
    np.testing.assert_array_equal(pi_sparse, pi_dense)
    assert cert.bellman_residual <= sl.BELLMAN_RTOL * max(scale, 1.0)
    assert cert.policy_loss_bound == pytest.approx(
        2 * mdp.gamma * cert.bellman_residual / (1 - mdp.gamma))
    # independent check: the returned policy's own values equal V*
    np.testing.assert_allclose(direct_values(reward, mdp, pi_sparse), v_dense, rtol=0,
                               atol=PARITY_RTOL * scale)


# ----------------------------------------------------------------- certificates


@given(mdps(), st.data())
def test_evaluation_certificate_holds(mdp, data):
    sparse = mdp.to_sparse()
    reward = data.draw(reward_arrays(mdp))
    policy = data.draw(policies(mdp))
    v, cert = starc.policy_evaluation(reward, sparse, policy, certificate=True)
    assert isinstance(cert, SolveCertificate) and cert.method == "splu"
    assert cert.ordering == sl.SPLU_ORDERING and cert.fill >= 1.0
    pi = policy_matrix(policy, mdp)
    r_pi = np.einsum("sa,sa->s", pi, starc.expected_reward(reward, mdp))
    assert cert.value_scale == pytest.approx(np.abs(r_pi).max() / (1 - mdp.gamma))
    assert cert.tolerance == pytest.approx(1e-10 * cert.value_scale)
    assert cert.error_bound <= cert.tolerance and cert.certified
    # the residual recomputed independently, densely
    bound = _residual_bound(mdp, pi, r_pi, v)
    # The two residuals differ only by the round-off of computing them. Each entry
    # r_s - (V_s - gamma sum_j P_sj V_j) is a sum of S + 2 terms, P_sj itself a sum of A
    # products, so by the standard bound on floating-point sums (Higham, Accuracy and
    # Stability, Sec. 3.1) each computation is off by at most
    # (S + A + 2) u (|r|_max + (1 + gamma) |V|_max), u = eps / 2; the two together by
    # twice that, and the bound divides by 1 - gamma. (The value term, not the reward
    # scale alone, dominates near gamma = 1: |V|_max is up to |r|_max / (1 - gamma).)
    n, m = mdp.n_states, mdp.n_actions
    roundoff = ((n + m + 2) * np.finfo(float).eps
                * (np.abs(r_pi).max() + (1 + mdp.gamma) * np.abs(v).max()) / (1 - mdp.gamma))
    assert bound <= cert.error_bound + roundoff
    # and the bound holds against a direct dense solve
    exact = direct_values(reward, mdp, policy)
    slack = 1e-12 * value_scale(reward, mdp)  # round-off of the reference itself
    assert np.max(np.abs(v - exact)) <= cert.error_bound + slack


@given(mdps(), st.data())
def test_dense_certificates(mdp, data):
    reward = data.draw(reward_arrays(mdp))
    policy = data.draw(policies(mdp))
    v, cert = starc.policy_evaluation(reward, mdp, policy, certificate=True)
    assert cert.method == "lu" and cert.ordering is None and cert.fill is None
    assert cert.certified
    np.testing.assert_array_equal(v, starc.policy_evaluation(reward, mdp, policy))
    d, dcert = starc.state_occupancy(mdp, policy, certificate=True)
    assert dcert.certified and dcert.value_scale == pytest.approx(1 / (1 - mdp.gamma))
    pi, pcert = starc.optimal_policy(reward, mdp, certificate=True)
    np.testing.assert_array_equal(pi, starc.optimal_policy(reward, mdp))
    assert pcert.bellman_residual is not None and pcert.policy_loss_bound >= 0


@given(mdps(), st.data())
def test_occupancy_certificate_holds(mdp, data):
    sparse = mdp.to_sparse()
    policy = data.draw(policies(mdp))
    d, cert = starc.state_occupancy(sparse, policy, certificate=True)
    pi = policy_matrix(policy, mdp)
    p = np.einsum("sa,sat->st", pi, mdp.transition)
    exact = np.linalg.solve((np.eye(mdp.n_states) - mdp.gamma * p).T, mdp.initial)
    assert cert.certified and cert.value_scale == pytest.approx(1 / (1 - mdp.gamma))
    assert np.sum(np.abs(d - exact)) <= cert.error_bound + 1e-12 / (1 - mdp.gamma)
    assert np.sum(d) == pytest.approx(1 / (1 - mdp.gamma), rel=1e-9)


def test_krylov_path_is_certified_and_matches_splu(monkeypatch):
    mdp = _grid(30, gamma=0.99)
    rng = np.random.default_rng(0)
    reward = rng.standard_normal((mdp.n_states, 4))
    policy = rng.integers(0, 4, mdp.n_states)
    v_lu, c_lu = starc.policy_evaluation(reward, mdp, policy, certificate=True)
    pi_lu = starc.optimal_policy(reward, mdp)
    d_lu = starc.state_occupancy(mdp, "uniform")
    assert c_lu.method == "splu"
    monkeypatch.setattr(sl, "SPLU_MAX_STATES", 10)
    monkeypatch.setattr(sl, "PI_SPLU_MAX_STATES", 10)
    mdp2 = _grid(30, gamma=0.99)  # fresh memo
    v_k, c_k = starc.policy_evaluation(reward, mdp2, policy, certificate=True)
    assert c_k.method in ("bicgstab+sgs", "gmres+sgs") and c_k.ordering is None
    assert c_k.iterations > 0 and c_k.certified
    pi_mat = policy_matrix(policy, mdp)
    r_pi = reward[np.arange(mdp.n_states), policy]
    assert _residual_bound(mdp, pi_mat, r_pi, v_k) <= c_k.error_bound * (1 + 1e-6) + 1e-13
    np.testing.assert_allclose(v_k, v_lu, rtol=0, atol=c_k.error_bound + c_lu.error_bound)
    pi_k, c_pi = starc.optimal_policy(reward, mdp2, certificate=True)
    np.testing.assert_array_equal(pi_k, pi_lu)
    assert c_pi.method in ("bicgstab+sgs", "gmres+sgs") and c_pi.certified
    d_k, c_d = starc.state_occupancy(mdp2, "uniform", certificate=True)
    assert c_d.certified and np.sum(np.abs(d_k - d_lu)) <= c_d.error_bound + 1e-9


def test_uncertifiable_solve_raises(monkeypatch):
    mdp = _chain(50)
    monkeypatch.setattr(sl, "EVAL_RTOL", 1e-30)  # below float64 round-off: cannot hold
    with pytest.raises(ConvergenceError, match="certified bound"):
        starc.policy_evaluation(np.arange(50.0), mdp)


def test_certificate_keyword_is_checked(toy_mdp, toy_reward):
    with pytest.raises(ValidationError, match="certificate must be True or False"):
        starc.policy_evaluation(toy_reward, toy_mdp.to_sparse(), certificate="yes")


def test_zero_reward_is_exact():
    mdp = _chain(20)
    v, cert = starc.policy_evaluation(np.zeros(20), mdp, certificate=True)
    np.testing.assert_array_equal(v, np.zeros(20))
    assert cert.error_bound == 0.0 and cert.certified


def test_sparse_policy_input_checked(toy_mdp, toy_reward):
    sparse = toy_mdp.to_sparse()
    with pytest.raises(ValidationError, match="policy"):
        starc.policy_evaluation(toy_reward, sparse, np.array([0, 5]))
    with pytest.raises(ValidationError, match="policy"):
        starc.policy_evaluation(toy_reward, sparse, np.array([[0.5, 0.6], [1.0, 0.0]]))
    with pytest.raises(ValidationError, match="policy"):
        starc.policy_evaluation(toy_reward, sparse, np.array([0, 1, 1]))


# ------------------------------------------------------------------- no densifying


def test_two_hundred_thousand_state_chain_is_never_densified():
    n = 200_000
    mdp = _chain(n, gamma=0.9)
    with pytest.raises(ValidationError, match="to_dense would need"):
        mdp.to_dense()  # 8 * 2 * n^2 bytes = 640 GB
    reward = np.zeros((n, 2))
    reward[:, 1] = 1.0  # moving right pays 1
    v, cert = starc.policy_evaluation(reward, mdp, "uniform", certificate=True)
    assert cert.certified and v.shape == (n,)
    # closed form: under the uniform policy every step pays 1/2 in expectation
    np.testing.assert_allclose(v, 0.5 / (1 - 0.9), rtol=1e-12)
    pi, pcert = starc.optimal_policy(reward, mdp, certificate=True)
    assert np.all(pi == 1) and pcert.certified  # always right
    vstar = starc.optimal_values(reward, mdp)
    np.testing.assert_allclose(vstar, 1 / (1 - 0.9), rtol=1e-12)
    d = starc.state_occupancy(mdp, pi)
    assert d.sum() == pytest.approx(1 / (1 - 0.9), rel=1e-9)
    with pytest.raises(ValidationError, match="dense"):
        starc.broadcast_reward(reward, mdp)


# ------------------------------------------------------------------ quantecon


def test_optimal_values_match_quantecon():
    qe = pytest.importorskip("quantecon")
    mdp = _grid(12, gamma=0.95)
    s = mdp.n_states
    rng = np.random.default_rng(3)
    reward = rng.standard_normal((s, 4))
    ddp = qe.markov.DiscreteDP(reward.ravel(), mdp.transition, mdp.gamma,
                               np.repeat(np.arange(s), 4), np.tile(np.arange(4), s))
    res = ddp.solve("policy_iteration")
    np.testing.assert_allclose(starc.optimal_values(reward, mdp), res.v, rtol=0,
                               atol=1e-9 * np.abs(reward).max() / (1 - mdp.gamma))


# --------------------------------------------------------------- internals


def test_policy_matrix_forms():
    rng = np.random.default_rng(1)
    t = rng.random((5, 3, 5))
    t /= t.sum(-1, keepdims=True)
    mdp = TabularMDP(t, 0.9).to_sparse()
    pi = rng.random((5, 3))
    pi /= pi.sum(1, keepdims=True)
    np.testing.assert_allclose(sl.policy_matrix(mdp, pi).toarray(),
                               np.einsum("sa,sat->st", pi, t), rtol=0, atol=1e-15)
    acts = np.array([0, 2, 1, 1, 0])
    np.testing.assert_array_equal(sl.policy_matrix(mdp, acts).toarray(),
                                  t[np.arange(5), acts])
    onehot = np.eye(3)[acts]
    np.testing.assert_array_equal(sl.policy_matrix(mdp, onehot).toarray(),
                                  t[np.arange(5), acts])


def test_improvement_rule():
    q = np.array([[1.0, 1.0 + 1e-15], [0.0, 2.0]])
    best, switch = sl.improvement(q, np.array([0, 0]), scale=1.0)
    np.testing.assert_array_equal(best, [1, 1])
    np.testing.assert_array_equal(switch, [False, True])  # 1e-15 gain is a tie
    _, switch = sl.improvement(q, np.array([0, 0]), scale=1.0, slack=3.0)
    np.testing.assert_array_equal(switch, [False, False])


def test_gauss_seidel_sweeps_match_triangular_solves():
    import scipy.sparse.linalg as spla

    mdp = _grid(7, gamma=0.9)
    rng = np.random.default_rng(5)
    m = sl.system_matrix(mdp, rng.integers(0, 4, mdp.n_states))
    v = rng.standard_normal(mdp.n_states)
    sgs = sl._SGS(m)
    lower = sp.csr_array(sp.tril(m))
    upper = sp.csr_array(sp.triu(m))
    y = spla.spsolve_triangular(lower, v, lower=True)
    want = spla.spsolve_triangular(upper, m.diagonal() * y, lower=False)
    np.testing.assert_allclose(sgs.solve(v), want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("lu", [True, False])
def test_one_solver_columns_transposes_and_warm_starts(monkeypatch, lu):
    """:func:`sl.solve`, the one solver of the sparse distances and regrets: K right-hand
    sides, the transposed system and a warm start, each against ``numpy.linalg.solve`` and
    a residual recomputed here (inf-norm for M, 1-norm for M^T, per THEORY §11)."""
    if not lu:
        monkeypatch.setattr(sl, "SPLU_MAX_STATES", 0)
    mdp = _grid(8, gamma=0.97)
    n = mdp.n_states
    rng = np.random.default_rng(5)
    pi = rng.dirichlet(np.ones(4), size=n)
    dense_t = mdp.transition.toarray().reshape(n, 4, n)
    m = np.eye(n) - mdp.gamma * np.einsum("sa,sat->st", pi, dense_t)
    b = rng.standard_normal((n, 3))
    x, cert = sl.solve(mdp, pi, b)
    assert cert.method == ("splu" if lu else "bicgstab+sgs") and cert.certified
    for k in range(3):
        bound = np.abs(b[:, k] - m @ x[:, k]).max() / (1 - mdp.gamma)
        slack = (n + 2) * np.finfo(float).eps * (np.abs(b[:, k]).max()
                                                 + 2 * np.abs(x[:, k]).max()) / (1 - mdp.gamma)
        assert bound <= cert.error_bound + slack
        exact = np.linalg.solve(m, b[:, k])
        assert np.abs(x[:, k] - exact).max() <= cert.error_bound + 1e-12 * cert.value_scale
    xt, cert_t = sl.solve(mdp, pi, b, transposed=True)
    assert cert_t.certified
    exact_t = np.linalg.solve(m.T, b)
    assert np.abs(xt - exact_t).sum(axis=0).max() <= cert_t.error_bound + 1e-12 * cert_t.value_scale
    # a warm start at the answer needs no Krylov iteration and keeps the certificate
    x2, cert2 = sl.solve(mdp, pi, b, x0=x)
    assert cert2.certified and np.abs(x2 - x).max() <= 2 * cert.error_bound
    if not lu:
        assert cert2.iterations <= cert.iterations


def _system(n: int = 400, gamma: float = 0.95, seed: int = 3):
    """A random ``I - gamma P`` (five successors per row) and ``b``."""
    return evaluation_system(n, gamma, seed, successors=5)


@pytest.mark.parametrize("ord_", [np.inf, 1])
def test_compiled_bicgstab_meets_its_true_residual_goal(ord_):
    """The compiled BiCGSTAB stops on the true residual (recomputed here) and agrees with
    a direct solve to within what that residual allows (||M^-1|| <= 1 / (1 - gamma))."""
    m, b = _system()
    sgs = sl._SGS(m)
    goal = 1e-11
    x, iters, method = sl._krylov(m, b, None, sgs, goal, ord_, 1e-300, maxiter=1000)
    assert method == "bicgstab+sgs" and 0 < iters < 1000
    assert np.linalg.norm(b - m @ x, ord_) <= goal
    exact = sp.linalg.spsolve(sp.csc_array(m), b)
    assert np.max(np.abs(x - exact)) <= goal / (1 - 0.95) * (1 + 1e-9)
    # a warm start solves for the correction and lands as close
    x2, _, _ = sl._krylov(m, b, exact + 1e-6, sgs, goal, ord_, 1e-300, maxiter=1000)
    assert np.linalg.norm(b - m @ x2, ord_) <= goal


def test_stagnation_returns_the_best_iterate():
    """An unreachable goal (below round-off) stops after KRYLOV_STAGNATION iterations
    without halving and returns the best iterate seen, not the last."""
    m, b = _system(seed=4)
    sgs = sl._SGS(m)
    x, iters, _ = sl._krylov(m, b, None, sgs, 0.0, np.inf, 0.0, maxiter=1000)
    assert iters < 1000
    assert np.linalg.norm(b - m @ x, np.inf) <= 1e-12 * np.abs(b).max() / (1 - 0.95)


def test_breakdown_falls_back_to_gmres(monkeypatch):
    """When BiCGSTAB breaks down twice the solve goes on with GMRES (same stopping
    rules, the same preconditioner) and still meets the goal."""
    from starc import _sparse_kernels as kern

    m, b = _system(seed=5)
    sgs = sl._SGS(m)
    calls = []

    def broken(*args):
        calls.append(1)
        return kern.BREAKDOWN

    monkeypatch.setattr(kern, "bicgstab_sgs", broken)
    x, iters, method = sl._krylov(m, b, None, sgs, 1e-10, np.inf, 1e-300, maxiter=1000)
    assert method == "gmres+sgs" and len(calls) == 2 and iters > 0
    assert np.linalg.norm(b - m @ x, np.inf) <= 1e-10


def test_greedy_start_sends_ties_within_the_improvement_tolerance_to_the_first_action():
    """The first policy takes the first action within IMPROVE_RTOL * scale of the best:
    a round-off-level lead does not win, a real one does, -inf (disallowed) never."""
    scale = 10.0
    tol = sl.IMPROVE_RTOL * scale
    q0 = np.array([[1.0, 1.0 + 0.5 * tol, 0.0],      # lead below the tolerance: action 0
                   [1.0, 1.0 + 2.0 * tol, 0.0],      # lead above it: action 1
                   [-np.inf, 2.0, 2.0],              # first allowed among exact ties
                   [0.0, -1.0, 3.0]])
    np.testing.assert_array_equal(sl.greedy_start(q0, scale), [0, 1, 1, 2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_constant_reward_gives_action_zero_on_every_path(seed):
    """Every action of a constant reward is exactly optimal; its action values differ only
    by the round-off of T's row sums, summed in a different order by each path. Dense,
    sparse and starc.batch all return action 0 everywhere (and the batch regret with
    ties="first" is that policy's)."""
    from starc import batch

    mdp = starc.random_mdp(12, 4, seed=seed)
    const = np.full((12, 4), 3.0)
    zero = np.zeros(12, dtype=np.int64)
    np.testing.assert_array_equal(starc.optimal_policy(const, mdp), zero)
    np.testing.assert_array_equal(starc.optimal_policy(const, mdp.to_sparse()), zero)
    r_true = starc.random_reward(mdp, seed=seed + 10)
    lo, hi = starc.policy_value_range(r_true, mdp)
    j = float(starc.policy_return(r_true, mdp, zero))
    want = (hi - j) / (hi - lo)
    got = batch.regrets(r_true[None, None], np.broadcast_to(const[:, :, None], (12, 4, 12))[None, None],
                        [mdp], ties="first")[0, 0]
    assert abs(got - want) <= 1e-10
    assert abs(starc.regret(r_true, const, mdp, ties="first") - want) <= 1e-10
