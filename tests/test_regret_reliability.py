"""Reliability of regret and worst-case regret (issue 14): trivial and near-trivial
proxies, discounts close to 1, rewards of extreme size, and solver failures.

Independent references: the definitions (a trivial proxy admits every pair of policies,
so the worst case is 1; a reward is its own proxy with regret 0), the other method of
:func:`starc.worst_case_regret`, closed forms on hand-built MDPs, and invariance under a
positive rescaling of either reward.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import mdps, reward_arrays

import starc
from starc.exceptions import SolverError, ValidationError


# ----------------------------------------------------------------- trivial proxies


@pytest.mark.parametrize("kind", ["constant", "shaped_zero"])
def test_worst_case_regret_of_a_trivial_proxy_is_one(kind):
    """Issue 14 item 1: the parametric method returned 0.0 ("perfectly safe") for a
    constant proxy; every pair of policies is admissible, so the worst case is 1."""
    mdp = starc.random_mdp(5, 3, seed=4, gamma=0.9)
    r = starc.random_reward(mdp, seed=104)
    if kind == "constant":
        proxy = np.full(mdp.shape, 2.0)
    else:
        proxy = starc.potential_shaping(np.zeros(mdp.shape),
                                        np.random.default_rng(0).normal(size=5), mdp.gamma)
    reg = starc.regret(r, proxy, mdp)
    par = starc.worst_case_regret(r, proxy, mdp)
    lp = starc.worst_case_regret(r, proxy, mdp, method="lp")
    assert reg == 1.0 and par == 1.0 and lp == 1.0
    res = starc.worst_case_regret(r, proxy, mdp, return_policies=True)
    lo, hi = starc.policy_value_range(r, mdp)
    j1, j2 = (starc.policy_return(r, mdp, pi) for pi in (res.policy_1, res.policy_2))
    assert (j1 - j2) / (hi - lo) == pytest.approx(1.0, abs=1e-9)  # the pair attains it


def test_worst_case_regret_uses_regrets_trivial_rule(monkeypatch):
    """One rule: a proxy is trivial for worst_case_regret exactly when regret() says so.
    A near-constant proxy (range ~1e-6 of its size) is not trivial under REGRET_RTOL =
    1e-9 and is under 1e-4; both functions follow the module constant (its home,
    starc._rules)."""
    from starc import _rules as reg

    mdp = starc.random_mdp(5, 3, seed=4, gamma=0.9)
    r1 = starc.random_reward(mdp, seed=1)
    proxy = 3.0 + 1e-6 * (r1 + 0.3 * starc.random_reward(mdp, seed=2))
    assert starc.regret(r1, proxy, mdp) < 1.0
    assert starc.worst_case_regret(r1, proxy, mdp) < 1.0
    monkeypatch.setattr(reg, "REGRET_RTOL", 1e-4)
    assert starc.regret(r1, proxy, mdp) == 1.0
    assert starc.worst_case_regret(r1, proxy, mdp) == 1.0
    assert starc.worst_case_regret(r1, proxy, mdp, method="lp") == 1.0


_PROXY_KINDS = ("random", "constant", "shaped_zero", "near_constant", "near_shaped")


@given(data=st.data())
def test_parametric_and_lp_agree_on_trivial_and_near_trivial_proxies(data):
    """Issue 14: default and LP agree to 1e-7, with worst case >= regret, on constant,
    shaped-zero and near-constant proxies (constant or shaping plus eps times a signal,
    eps from 1e-2 down to 1e-7 of the constant)."""
    mdp = data.draw(mdps(min_states=2, max_states=5, max_actions=3, max_gamma=0.95))
    r1 = data.draw(reward_arrays(mdp))
    kind = data.draw(st.sampled_from(_PROXY_KINDS), label="proxy_kind")
    signal = r1 + data.draw(st.floats(0.1, 2.0)) * data.draw(reward_arrays(mdp))
    level = data.draw(st.sampled_from([1.0, 100.0, -1e4]), label="level")
    phi = level * np.random.default_rng(data.draw(st.integers(0, 2**31))).normal(
        size=mdp.n_states)
    eps = data.draw(st.sampled_from([1e-2, 1e-4, 1e-6, 1e-7]), label="eps")
    scale = float(np.abs(signal).max())
    if kind == "random":
        proxy = signal
    elif kind == "constant":
        proxy = np.full(mdp.shape, level)
    elif kind == "shaped_zero":
        proxy = starc.potential_shaping(np.zeros(mdp.shape), phi, mdp.gamma)
    elif kind == "near_constant":
        proxy = level + eps * abs(level) * signal / scale
    else:
        proxy = starc.potential_shaping(eps * abs(level) * signal / scale, phi, mdp.gamma)
    par = starc.worst_case_regret(r1, proxy, mdp)
    lp = starc.worst_case_regret(r1, proxy, mdp, method="lp")
    reg = starc.regret(r1, proxy, mdp)
    assert np.isfinite(par) and 0.0 <= par <= 1.0
    assert par == pytest.approx(lp, abs=1e-7)
    assert reg <= par + 1e-9


def test_near_constant_proxy_has_the_worst_case_of_its_signal():
    """A constant plus eps times a signal orders policies like the signal: the worst
    case does not depend on eps (the old parametric method drifted by 1e-6 at eps=1e-6
    and the LP by 5e-8 at eps=1e-8)."""
    mdp = starc.random_mdp(6, 3, seed=4, gamma=0.95)
    r = starc.random_reward(mdp, seed=104)
    x = r + 0.6 * starc.random_reward(mdp, seed=5)
    ref = starc.worst_case_regret(r, x, mdp)
    for eps in (1e-3, 1e-6):
        for method in ("parametric", "lp"):
            got = starc.worst_case_regret(r, eps * x + 3.0, mdp, method=method)
            assert got == pytest.approx(ref, abs=1e-8)


# ----------------------------------------------------------------- gamma close to 1


@pytest.mark.parametrize("gamma", [1 - 1e-5, 1 - 1e-6, 1 - 1e-7, 1 - 1e-8])
def test_regret_of_a_reward_with_itself_is_zero_near_gamma_one(gamma):
    """Issue 14 item 2: the tie tolerance grew like 1/(1-gamma)^2 and tied every action
    (regret(R, R) = 1.0 at 1 - 1e-7, 0.013 at 1 - 1e-6)."""
    from starc.batch import regrets

    m = starc.random_mdp(5, 3, seed=1).with_gamma(gamma)
    r = starc.random_reward(m, seed=11)
    shaped = starc.potential_shaping(r, np.random.default_rng(0).normal(size=5), gamma)
    assert starc.regret(r, r, m) == 0.0
    assert starc.regret(r, shaped, m) <= 1e-9
    assert starc.regret(shaped, r, m) <= 1e-9
    both = regrets(np.stack([r, r])[None, :1], np.stack([r, shaped])[None], m)
    assert np.all(both <= 1e-9)


def _two_absorbing(gamma: float) -> starc.TabularMDP:
    """State 0 chooses between absorbing states 1 (action 0) and 2 (action 1)."""
    t = np.zeros((3, 2, 3))
    t[0, 0, 1] = t[0, 1, 2] = 1.0
    t[1, :, 1] = t[2, :, 2] = 1.0
    return starc.TabularMDP(t, gamma, initial=[1.0, 0.0, 0.0])


def test_regret_refuses_ties_float64_cannot_decide():
    """A proxy that prefers state 2 by delta = 1e-7 per step: its action gap at state 0
    is gamma delta / (1 - gamma), 0.1 at 1 - gamma = 1e-6, inside the worst-case
    round-off bound of the solves there (~0.4) — float64 cannot certify it — and the
    regret depends on it (the truth prefers state 2 as well: regret 0 if the gap is
    real, 1 if the actions are tied). Refused; at gamma = 0.99 it is decided (regret 0).
    The old rule tied the actions and returned 1.0."""
    from starc.batch import regrets

    true = np.zeros((3, 2, 3)); true[2] = 1.0
    proxy = np.ones((3, 2, 3)); proxy[2] = 1.0 + 1e-7
    m = _two_absorbing(1 - 1e-6)
    with pytest.raises(ValidationError, match="gamma"):
        starc.regret(true, proxy, m)
    with pytest.raises(ValidationError, match="gamma"):
        regrets(true[None, None], proxy[None, None], m)
    m = _two_absorbing(0.99)
    assert starc.regret(true, proxy, m) == 0.0
    assert regrets(true[None, None], proxy[None, None], m)[0, 0] == 0.0


@pytest.mark.parametrize("fn", ["regret", "worst_case_regret", "policy_value_range"])
def test_gamma_beyond_float64_is_refused(fn):
    from starc.regret import GAMMA_MAX

    m = starc.random_mdp(4, 2, seed=0).with_gamma(1 - 1e-10)
    r = starc.random_reward(m, seed=1)
    args = (r, m) if fn == "policy_value_range" else (r, r, m)
    with pytest.raises(ValidationError, match="gamma"):
        getattr(starc, fn)(*args)
    m = m.with_gamma(GAMMA_MAX)  # the limit itself is allowed
    getattr(starc, fn)(*args[:-1], m)


def test_batch_regrets_refuse_gamma_beyond_float64():
    from starc.batch import regrets

    m = starc.random_mdp(4, 2, seed=0).with_gamma(1 - 1e-10)
    r = starc.random_reward(m, seed=1, size=(1, 2))
    with pytest.raises(ValidationError, match="gamma"):
        regrets(r[:, :1], r, m)


@given(data=st.data())
def test_numpy_and_batch_regrets_agree_near_gamma_one(data):
    """The batch kernel's copy of the tie rule decides as starc.regret does, including
    the refusals, for discounts up to 1 - 1e-7."""
    from starc.batch import regrets

    mdp = data.draw(mdps(min_states=2, max_states=5, max_actions=3, max_gamma=0.5))
    gamma = 1 - 10.0 ** -data.draw(st.integers(2, 7), label="digits")
    mdp = mdp.with_gamma(gamma)
    r = data.draw(reward_arrays(mdp, batch=(3,)))
    r[1] = starc.potential_shaping(r[0], np.random.default_rng(0).normal(size=mdp.n_states),
                                   gamma)
    try:
        ref = [starc.regret(r[0], r[k], mdp) for k in range(3)]
    except ValidationError:
        with pytest.raises(ValidationError):
            regrets(r[None, :1], r[None], mdp)
        return
    got = regrets(r[None, :1], r[None], mdp)[0]
    np.testing.assert_allclose(got, ref, atol=1e-9)
    assert ref[0] == 0.0 and ref[1] <= 1e-9


# ----------------------------------------------------------------- scale


_FACTORS = st.integers(-300, 300).map(lambda k: 10.0 ** k)


@given(data=st.data())
def test_regret_is_scale_invariant(data):
    """Issue 14: multiplying either reward by 10^k, k in -300..300, leaves the regret and
    the worst-case regret unchanged (and by 2^k exactly)."""
    mdp = data.draw(mdps(min_states=2, max_states=5, max_actions=3, max_gamma=0.95))
    r1 = data.draw(reward_arrays(mdp))
    r2 = r1 + data.draw(st.floats(0.2, 2.0)) * data.draw(reward_arrays(mdp))
    c1, c2 = data.draw(_FACTORS, label="c1"), data.draw(_FACTORS, label="c2")
    k1, k2 = data.draw(st.integers(-1000, 1000)), data.draw(st.integers(-1000, 1000))
    reg = starc.regret(r1, r2, mdp)
    assert starc.regret(c1 * r1, c2 * r2, mdp) == pytest.approx(reg, abs=1e-9)
    assert starc.regret(np.ldexp(r1, k1), np.ldexp(r2, k2), mdp) == reg
    wcr = starc.worst_case_regret(r1, r2, mdp)
    assert starc.worst_case_regret(c1 * r1, c2 * r2, mdp) == pytest.approx(wcr, abs=1e-9)
    assert starc.worst_case_regret(np.ldexp(r1, k1), np.ldexp(r2, k2), mdp) == wcr
    lp = starc.worst_case_regret(c1 * r1, c2 * r2, mdp, method="lp")
    assert lp == pytest.approx(wcr, abs=1e-7)


@given(data=st.data())
def test_regret_bound_is_scale_invariant(data):
    """The soundness constant U(R_1) and the bound min(1, U d) do not depend on the scale
    of R_1 (d is scale-free for a normalised distance)."""
    mdp = data.draw(mdps(min_states=2, max_states=5, max_actions=3, max_gamma=0.95))
    r1 = data.draw(reward_arrays(mdp))
    c = data.draw(_FACTORS, label="c")
    u = starc.soundness_constant(r1, mdp)
    assert starc.soundness_constant(c * r1, mdp) == pytest.approx(u, rel=1e-9)
    assert starc.regret_bound(c * r1, 0.01, mdp) == pytest.approx(
        starc.regret_bound(r1, 0.01, mdp), rel=1e-9)


def test_policy_value_range_scales_with_the_reward():
    mdp = starc.random_mdp(5, 3, seed=4, gamma=0.9)
    r = starc.random_reward(mdp, seed=104)
    lo, hi = starc.policy_value_range(r, mdp)
    for k in (-300, 300):
        lo_k, hi_k = starc.policy_value_range(r * 10.0 ** k, mdp)
        assert lo_k == pytest.approx(lo * 10.0 ** k, rel=1e-12)
        assert hi_k == pytest.approx(hi * 10.0 ** k, rel=1e-12)


# ----------------------------------------------------------------- solvers


def test_lp_worst_case_regret_with_huge_rewards():
    """Issue 14 item 11: HiGHS reads 1e20 as infinity; cvxpy raised ValueError
    ("Cannot unpack invalid solution"). The data are pre-scaled now."""
    mdp = starc.random_mdp(5, 3, seed=4, gamma=0.9)
    r1 = starc.random_reward(mdp, seed=1)
    r2 = r1 + 0.5 * starc.random_reward(mdp, seed=2)
    ref = starc.worst_case_regret(r1, r2, mdp)
    for c in (1e20, 1e100):
        assert starc.worst_case_regret(c * r1, c * r2, mdp, method="lp") == pytest.approx(
            ref, abs=1e-7)


def test_lp_worst_case_regret_is_repeatable_on_a_near_constant_proxy():
    """Issue 14: worst_case_regret(R1, 1e-11 R2 + 3, method="lp") raised on one run and
    returned 1.0 on another. The proxy is trivial by regret's rule (value range 1e-11 of
    its size, below REGRET_RTOL = 1e-9), so both methods give 1.0, every time, as
    regret does."""
    mdp = starc.random_mdp(5, 3, seed=4, gamma=0.9)
    r1 = starc.random_reward(mdp, seed=1)
    r2 = starc.random_reward(mdp, seed=2)
    proxy = 1e-11 * r2 + 3
    assert starc.regret(r1, proxy, mdp) == 1.0
    for _ in range(3):
        assert starc.worst_case_regret(r1, proxy, mdp, method="lp") == 1.0
        assert starc.worst_case_regret(r1, proxy, mdp) == 1.0


def test_every_cvxpy_failure_is_a_solver_error(monkeypatch):
    """A raw exception from inside cvxpy's solve (here the ValueError it raised on
    malformed HiGHS output) reaches the caller as SolverError."""
    import cvxpy as cp

    def broken(self, *args, **kwargs):
        raise ValueError("Cannot unpack invalid solution")

    monkeypatch.setattr(cp.Problem, "solve", broken)
    mdp = starc.random_mdp(4, 2, seed=0)
    r1, r2 = starc.random_reward(mdp, seed=1), starc.random_reward(mdp, seed=2)
    with pytest.raises(SolverError, match="worst_case_regret"):
        starc.worst_case_regret(r1, r2, mdp, method="lp")
    with pytest.raises(SolverError, match="minimal"):
        starc.canonicalize(r1, mdp, "minimal", norm="linf")


@pytest.mark.parametrize("method,norm", [("minimal", "linf"), ("minimal", "l1"),
                                         ("minimal_potential", "weighted_l2")])
def test_cvxpy_canonicals_of_huge_rewards(method, norm):
    """The cvxpy canonicalizations solve for R / max|R| and scale back: a reward of size
    1e25 (beyond HiGHS's infinity) has the canonical of the unit reward times 1e25."""
    mdp = starc.random_mdp(4, 2, seed=0)
    r = starc.random_reward(mdp, seed=1)
    ref = starc.canonicalize(r, mdp, method, norm=norm)
    big = starc.canonicalize(1e25 * r, mdp, method, norm=norm)
    np.testing.assert_allclose(big / 1e25, ref, atol=1e-6 * np.abs(ref).max())
