"""The compact LPs of ``"minimal_potential"`` for the L1 and L-infinity norms.

:func:`starc.canonical._minimal_potential_lp` solves the dual of
:math:`\\min_\\Phi n(R + \\gamma\\Phi(s') - \\Phi(s))` with HiGHS; the reference is the
full primal solved by cvxpy (:func:`starc.canonical._minimal_potential_cvxpy`). The
minimiser need not be unique, so the two are compared through the optimal value, and the
LP's output through what any minimiser satisfies: it differs from the reward by potential
shaping, and no potential does better.
"""

from __future__ import annotations

import highspy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import starc
from starc import canonical
from starc.canonical import _minimal_potential_cvxpy, _minimal_potential_lp
from strategies import mdps, potentials, reward_arrays

LP_NORMS = ("l1", "weighted_l1", "linf", "weighted_linf")

#: Agreement of the two solvers' optimal values, relative to the optimum. Both return a
#: vertex of an LP whose data are exact in float64, so they agree to round-off (about
#: 1e-15 here); an absolute floor of ``OPT_ATOL * n(R)`` covers optima that are zero.
OPT_RTOL = 1e-9
OPT_ATOL = 1e-12


#: HiGHS tolerances of the cvxpy reference: its default 1e-7 leaves the primal it solves
#: up to ~1e-8 (relative) above the optimum, more than the agreement tested here.
TIGHT_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def reference(r, mdp, norm):
    """The cvxpy path (the full primal over S*A*S rows), solved with tight tolerances."""
    from starc import _solvers

    with pytest.MonkeyPatch.context() as mp:
        for name, value in TIGHT_HIGHS.items():
            mp.setitem(_solvers.HIGHS_OPTIONS, name, value)
        return _minimal_potential_cvxpy(r, mdp, norm)


def objective(c, mdp, norm):
    return starc.norm(c, norm, mdp=mdp)


def shaped_by(r, phi, gamma):
    return r + gamma * phi[..., None, None, :] - phi[..., :, None, None]


def primal_oracle(r, mdp, norm):
    """An independent solve of one reward: the textbook primal LP, dense, by linprog.

    Variables ``(Phi, t)``; rows ``+-(R_e + (D Phi)_e) <= t_e`` (one ``t`` per transition
    for L1, a single ``t`` for L-infinity) over all transitions or the support.
    """
    from scipy.optimize import linprog

    n = mdp.n_states
    rows = np.flatnonzero(mdp.support.ravel()) if norm.startswith("weighted") else \
        np.arange(r.size)
    s_idx, _, t_idx = np.unravel_index(rows, mdp.shape)
    d = np.zeros((rows.size, n))
    np.add.at(d, (np.arange(rows.size), t_idx), mdp.gamma)
    np.add.at(d, (np.arange(rows.size), s_idx), -1.0)
    if norm.endswith("l1"):
        n_t = rows.size
        tcol = -np.eye(n_t)
        w = mdp.transition.ravel()[rows] if norm == "weighted_l1" else np.ones(n_t)
    else:
        n_t = 1
        tcol = -np.ones((rows.size, 1))
        w = np.ones(1)
    a_ub = np.block([[d, tcol], [-d, tcol]])
    rf = r.ravel()[rows]
    res = linprog(np.concatenate([np.zeros(n), w]), A_ub=a_ub, b_ub=np.concatenate([-rf, rf]),
                  bounds=[(None, None)] * n + [(0, None)] * n_t, method="highs",
                  options=TIGHT_HIGHS)
    assert res.status == 0, res.message
    return shaped_by(r, res.x[:n], mdp.gamma)


def assert_same_optimum(lp, r, mdp, norm, oracle=True):
    """The LP's value is the optimum: never above cvxpy's, and equal to the best of
    cvxpy's and (small problems) the dense primal's. Every value is the norm of an
    explicit shaped reward, an upper bound on the optimum; so where cvxpy's own
    tolerances leave it above the optimum, the lower bound still holds."""
    scale = OPT_ATOL * np.max(objective(r, mdp, norm))
    got = objective(lp, mdp, norm)
    ref = objective(reference(r, mdp, norm), mdp, norm)
    assert np.all(got <= ref * (1 + OPT_RTOL) + scale)
    best = ref
    if oracle:
        dense = np.reshape([objective(primal_oracle(x, mdp, norm), mdp, norm)
                            for x in r.reshape((-1,) + mdp.shape)], np.shape(ref))
        best = np.minimum(ref, dense)
    np.testing.assert_allclose(got, best, rtol=OPT_RTOL, atol=scale)


def recovered_potential(c, r, gamma):
    """Phi with c - r = gamma Phi(s') - Phi(s), read off the diagonal transitions."""
    return np.diagonal(c[..., :, 0, :] - r[..., :, 0, :], axis1=-2, axis2=-1) / (gamma - 1.0)


def assert_is_shaping(c, r, mdp):
    phi = recovered_potential(c, r, mdp.gamma)
    rebuilt = shaped_by(r, phi, mdp.gamma)
    scale = 1.0 + np.abs(r).max() + np.abs(phi).max()
    np.testing.assert_allclose(c, rebuilt, rtol=0, atol=1e-12 * scale)


def named_mdps():
    grid = starc.gridworld(3, 3, walls=[(1, 1)], slip=0.2).mdp
    return {
        "starc": starc.random_mdp(6, 3, seed=0, kind="starc"),
        "dirichlet": starc.random_mdp(6, 3, seed=1, kind="dirichlet", concentration=0.2),
        "garnet": starc.random_mdp(6, 3, seed=2, kind="garnet", n_successors=2),
        "gridworld": grid,
        "gamma0": starc.random_mdp(5, 2, seed=3, kind="garnet", n_successors=2, gamma=0.0),
    }


NAMED = named_mdps()


# ----------------------------------------------------------------- agreement with cvxpy


@pytest.mark.parametrize("name", sorted(NAMED))
@pytest.mark.parametrize("norm", LP_NORMS)
def test_optimum_agrees_with_cvxpy(name, norm):
    mdp = NAMED[name]
    r = starc.random_reward(mdp, seed=4, size=3)
    lp = _minimal_potential_lp(r, mdp, norm)
    assert lp.shape == r.shape
    assert_same_optimum(lp, r, mdp, norm)
    assert_is_shaping(lp, r, mdp)


def test_impossible_transitions_are_present():
    """The named MDPs exercise both full and partial supports."""
    assert not NAMED["garnet"].support.all()
    assert not NAMED["gridworld"].support.all()
    assert NAMED["starc"].support.all()


@pytest.mark.parametrize("norm", LP_NORMS)
def test_tiny_probabilities_of_the_starc_generator(norm):
    """S=32, A=4 STARC MDP: probabilities down to ~1e-11 do not move the optimum."""
    mdp = starc.random_mdp(32, 4, seed=0)
    t = mdp.transition
    assert t[t > 0].min() < 1e-9  # below HiGHS's default small_matrix_value
    r = starc.random_reward(mdp, seed=1)
    lp = _minimal_potential_lp(r, mdp, norm)
    assert_same_optimum(lp, r, mdp, norm, oracle=False)


def draw_problem(data):
    """A small MDP (impossible transitions included), a reward on it and an LP norm."""
    mdp = data.draw(mdps(max_states=5, max_actions=3), label="mdp")
    r = data.draw(reward_arrays(mdp), label="reward")
    return mdp, r, data.draw(st.sampled_from(LP_NORMS), label="norm")


@settings(max_examples=30)
@given(data=st.data())
def test_optimum_agrees_with_cvxpy_property(data):
    mdp, r, norm = draw_problem(data)
    lp = _minimal_potential_lp(r, mdp, norm)
    assert_same_optimum(lp, r, mdp, norm)
    assert_is_shaping(lp, r, mdp)


@settings(max_examples=15)
@given(data=st.data())
def test_no_nearby_potential_does_better(data):
    mdp, r, norm = draw_problem(data)
    c = _minimal_potential_lp(r, mdp, norm)
    best = objective(c, mdp, norm)
    rng = np.random.default_rng(0)
    step = 1e-2 * (1.0 + np.abs(r).max())
    for _ in range(50):
        trial = starc.potential_shaping(c, step * rng.standard_normal(mdp.n_states), mdp.gamma)
        assert best <= objective(trial, mdp, norm) * (1 + 1e-12) + 1e-12 * step


# ----------------------------------------------------------------- shaping


@settings(max_examples=20)
@given(data=st.data())
def test_optimum_is_invariant_under_shaping(data):
    mdp, r, norm = draw_problem(data)
    phi = data.draw(potentials(mdp.n_states), label="phi")
    shaped = starc.potential_shaping(r, phi, mdp.gamma)
    got = objective(_minimal_potential_lp(shaped, mdp, norm), mdp, norm)
    want = objective(_minimal_potential_lp(r, mdp, norm), mdp, norm)
    # round-off of forming the shaped reward: a few ulps of its entries, per entry
    scale = objective(np.abs(r) + np.abs(shaped), mdp, norm)
    np.testing.assert_allclose(got, want, rtol=OPT_RTOL, atol=1e-12 * scale)


@settings(max_examples=20)
@given(data=st.data())
def test_pure_shaping_has_optimum_zero(data):
    mdp = data.draw(mdps(max_states=5, max_actions=3), label="mdp")
    phi = data.draw(potentials(mdp.n_states), label="phi")
    norm = data.draw(st.sampled_from(LP_NORMS), label="norm")
    r = starc.potential_shaping(np.zeros(mdp.shape), phi, mdp.gamma)
    c = _minimal_potential_lp(r, mdp, norm)
    assert objective(c, mdp, norm) <= 1e-12 * (1.0 + objective(r, mdp, norm))


def test_scaling_by_a_power_of_two_is_exact():
    """Costs are normalised before the solve, so R and 2^k R reach the same vertex."""
    mdp = NAMED["garnet"]
    r = starc.random_reward(mdp, seed=5)
    for norm in LP_NORMS:
        c = _minimal_potential_lp(r, mdp, norm)
        np.testing.assert_array_equal(_minimal_potential_lp(1024.0 * r, mdp, norm), 1024.0 * c)


# ----------------------------------------------------------------- shapes and dispatch


@pytest.mark.parametrize("norm", LP_NORMS)
def test_batch_axes_match_the_loop_exactly(norm):
    """Every solve starts cold: a batch gives the bits of the one-by-one solves."""
    mdp = NAMED["gridworld"]
    r = starc.random_reward(mdp, seed=6, size=6).reshape((2, 3) + mdp.shape)
    out = _minimal_potential_lp(r, mdp, norm)
    assert out.shape == r.shape
    for idx in np.ndindex(2, 3):
        np.testing.assert_array_equal(out[idx], _minimal_potential_lp(r[idx], mdp, norm))
    assert _minimal_potential_lp(r[:0], mdp, norm).shape == (0, 3) + mdp.shape


@pytest.mark.parametrize("norm", LP_NORMS)
def test_canonicalize_dispatches_to_the_lp(norm, monkeypatch):
    mdp = NAMED["garnet"]
    r = starc.random_reward(mdp, seed=7, size=2)
    expected = _minimal_potential_lp(r, mdp, norm)

    def no_cvxpy(*args, **kwargs):
        raise AssertionError("the cvxpy path was used")

    monkeypatch.setattr(canonical, "_minimal_potential_cvxpy", no_cvxpy)
    np.testing.assert_array_equal(
        starc.canonicalize(r, mdp, "minimal_potential", norm=norm), expected)
    # the lower reward forms broadcast first
    rsa = r[..., 0]
    np.testing.assert_array_equal(
        starc.canonicalize(rsa, mdp, "minimal_potential", norm=norm),
        _minimal_potential_lp(starc.canonicalize(rsa, mdp, "none"), mdp, norm))


def test_weighted_l2_still_uses_cvxpy(monkeypatch):
    mdp = NAMED["garnet"]
    called = []
    original = canonical._minimal_potential_cvxpy

    def spy(r, mdp, norm):
        called.append(norm)
        return original(r, mdp, norm)

    monkeypatch.setattr(canonical, "_minimal_potential_cvxpy", spy)
    starc.canonicalize(np.ones(mdp.shape), mdp, "minimal_potential", norm="weighted_l2")
    assert called == ["weighted_l2"]


def test_public_minimal_potential_l1_distance():
    mdp = NAMED["starc"]
    r1, r2 = starc.random_reward(mdp, seed=8, size=2)
    d = starc.starc_distance(r1, r2, mdp, variant="MinimalPotential-1-1")
    s1, s2 = (starc.normalize(_minimal_potential_lp(r, mdp, "l1"), "l1") for r in (r1, r2))
    np.testing.assert_allclose(d, starc.norm(s1 - s2, "l1"), rtol=1e-12)


@pytest.mark.parametrize("norm", LP_NORMS)
def test_zero_reward_and_rewards_off_the_support(norm):
    mdp = NAMED["garnet"]
    np.testing.assert_array_equal(_minimal_potential_lp(np.zeros(mdp.shape), mdp, norm), 0.0)
    off = np.where(mdp.support, 0.0, 1.0)  # reward on impossible transitions only
    c = _minimal_potential_lp(off, mdp, norm)
    assert_is_shaping(c, off, mdp)
    if norm.startswith("weighted"):  # the weighted norms ignore it: the optimum is 0
        assert objective(off, mdp, norm) == 0.0
        assert objective(c, mdp, norm) <= 1e-12
    else:
        assert objective(c, mdp, norm) <= objective(off, mdp, norm) + 1e-12


# ----------------------------------------------------------------- bad input and failures


def test_bad_arguments():
    mdp = NAMED["garnet"]
    with pytest.raises(starc.ValidationError, match="norm must be one of"):
        _minimal_potential_lp(np.zeros(mdp.shape), mdp, "l2")
    with pytest.raises(starc.ValidationError, match=r"reward must have shape \(\.\.\., 6, 3, 6\)"):
        _minimal_potential_lp(np.zeros((6, 3)), mdp, "l1")
    with pytest.raises(starc.ValidationError, match="norm"):
        starc.canonicalize(np.zeros(mdp.shape), mdp, "minimal_potential", norm="l3")
    bad = np.zeros(mdp.shape)
    bad[0, 0, 0] = np.nan
    with pytest.raises(starc.ValidationError):
        starc.canonicalize(bad, mdp, "minimal_potential", norm="l1")


class _Infeasible(highspy.Highs):
    def getModelStatus(self):  # noqa: N802 - HiGHS's spelling
        return highspy.HighsModelStatus.kInfeasible


class _WrongDuals(highspy.Highs):
    """Returns the multipliers with the wrong sign: a potential that is not optimal."""

    def getSolution(self):  # noqa: N802
        sol = super().getSolution()
        sol.row_dual = [-v for v in sol.row_dual]
        return sol


def test_failed_status_raises_solver_error(monkeypatch):
    mdp = NAMED["garnet"]
    monkeypatch.setattr(highspy, "Highs", _Infeasible)
    with pytest.raises(starc.SolverError, match="status 'Infeasible', not 'Optimal'"):
        starc.canonicalize(starc.random_reward(mdp, seed=10), mdp, "minimal_potential",
                           norm="l1")


@pytest.mark.parametrize("norm", LP_NORMS)
def test_failed_certificate_raises_solver_error(norm, monkeypatch):
    mdp = NAMED["garnet"]
    r = starc.random_reward(mdp, seed=9)
    monkeypatch.setattr(highspy, "Highs", _WrongDuals)
    with pytest.raises(starc.SolverError, match="fails its optimality check"):
        _minimal_potential_lp(r, mdp, norm)


def test_rejected_option_raises_solver_error(monkeypatch):
    from starc import _solvers

    monkeypatch.setitem(_solvers.HIGHS_TIGHT_OPTIONS, "no_such_highs_option", 1)
    mdp = NAMED["garnet"]
    with pytest.raises(starc.SolverError, match="rejected the option no_such_highs_option"):
        _minimal_potential_lp(np.ones(mdp.shape), mdp, "l1")
