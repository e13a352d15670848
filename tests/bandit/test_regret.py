"""starc.bandit.regret: argmax regret, exact worst-case regret (sweep == LP), the bound."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings

from bandit_cases import problems, prompt_weights, valid_rows
from starc.bandit import (CANONICALIZATIONS, NORMS, TIES, distance, regret, regret_bound,
                          soundness_constant, worst_case_regret)
from starc.exceptions import ValidationError

#: Round-off allowance when comparing two exact quantities computed differently (a sum of
#: a few dozen terms of size <= 1 after scaling): far above round-off, far below any error.
RTOL = 1e-9


def test_regret_closed_forms_and_tie_rules():
    r_true = np.array([[0.0, 1.0, 2.0], [0.0, 4.0, 1.0]])
    r_proxy = np.array([[0.0, 5.0, 5.0], [0.0, 3.0, 1.0]])
    # range = (2 + 4) / 2 = 3; prompt 0 plays 1 (pess.), 2 (opt.), 1 (first), 1.5 (unif.)
    assert regret(r_true, r_proxy) == pytest.approx(0.5 / 3)
    assert regret(r_true, r_proxy, ties="optimistic") == 0.0
    assert regret(r_true, r_proxy, ties="first") == pytest.approx(0.5 / 3)
    assert regret(r_true, r_proxy, ties="uniform") == pytest.approx(0.25 / 3)
    mu = np.array([0.2, 0.8])  # range = 0.4 + 3.2
    assert regret(r_true, r_proxy, prompt_weights=mu) == pytest.approx(0.2 / 3.6)
    # a trivial true reward has regret 0; the true reward as proxy has regret 0
    assert regret(np.ones((2, 3)) * [[1.0], [5.0]], r_proxy) == 0.0
    assert regret(r_true, 3 * r_true - 1) == 0.0
    assert regret(r_true, -r_true) == 1.0


def test_round_off_ties_of_the_proxy_are_ties():
    r_true = np.array([[1.0, 0.0]])
    proxy = np.array([[1e6, 1e6 * (1 - 1e-15)]])      # equal up to round-off
    assert regret(r_true, proxy) == 1.0                # pessimistic: the worse one
    assert regret(r_true, proxy, ties="first") == 0.0
    assert worst_case_regret(r_true, proxy) == 1.0     # a trivial proxy
    proxy = np.array([[1e6, 1e6 * (1 - 1e-9)]])       # a real preference
    assert regret(r_true, proxy) == 0.0


def test_worst_case_regret_closed_forms():
    r_true = np.array([[0.0, 1.0, 2.0]])
    # pi = (1/2, 1/2, 0) has J2 = 1 = J2(y2) and J1 = 1/2; J1(y2) = 2 -> 1.5 / 2
    assert worst_case_regret(r_true, np.array([[0.0, 2.0, 1.0]])) == pytest.approx(0.75)
    assert worst_case_regret(r_true, np.zeros((1, 3))) == 1.0
    assert worst_case_regret(r_true, np.array([[5.0, 5.0, 5.0]])) == 1.0
    assert worst_case_regret(r_true, 2 * r_true + 3) == 0.0
    assert worst_case_regret(r_true, -r_true) == 1.0
    assert worst_case_regret(np.full((1, 3), 2.0), r_true) == 0.0
    # two prompts, one proxy trivial: the other prompt still orders policies
    r1 = np.array([[0.0, 1.0], [0.0, 1.0]])
    r2 = np.array([[0.0, 0.0], [0.0, 1.0]])
    # lambda -> inf removes prompt 1's width but prompt 0 keeps 1/2: WCR = 1/2
    assert worst_case_regret(r1, r2) == pytest.approx(0.5)
    assert worst_case_regret(r1, r2, method="lp") == pytest.approx(0.5)


def test_near_trivial_proxy_is_exact():
    """R2 = f(x) + eps R' sends lambda* to ~1/eps; the offsets must cost nothing.

    ``f`` is large and ``near - f`` is exact (Sterbenz), so the proxy's information is
    exactly ``near - f``: the WCR with and without the offsets must agree to round-off.
    """
    rng = np.random.default_rng(5)
    r1 = rng.normal(size=(6, 4))
    rp = r1 + 0.5 * rng.normal(size=(6, 4))
    f = 1024.0 * rng.integers(1, 4, size=(6, 1))
    for eps in (1e-3, 1e-6, 1e-8):
        near = f + eps * rp
        plain = near - f
        expected = worst_case_regret(r1, plain)
        assert worst_case_regret(r1, near) == pytest.approx(expected, abs=1e-12)
        assert worst_case_regret(r1, near, method="lp") == pytest.approx(expected, abs=RTOL)
        assert worst_case_regret(r1, plain, method="lp") == pytest.approx(expected, abs=RTOL)
    # below round-off (1e-15 relative to the offsets) the proxy is trivial: WCR = 1
    assert worst_case_regret(r1, f + 1e-13 * rp) == 1.0


@settings(max_examples=60)
@given(problems(max_n=6, max_m=5))
def test_parametric_sweep_equals_the_lp(prob):
    ours = worst_case_regret(prob.r1, prob.r2, **prob.kw)
    lp = worst_case_regret(prob.r1, prob.r2, method="lp", **prob.kw)
    assert ours == pytest.approx(lp, abs=RTOL)
    assert 0.0 <= ours <= 1.0


@given(problems(kinds=("normal", "ties", "trivial", "near_constant")))
def test_worst_case_regret_brute_force_lambda(prob):
    """min over a fine lambda grid (plus every pairwise crossing) is >= the sweep's value."""
    ours = worst_case_regret(prob.r1, prob.r2, **prob.kw)
    mu = prompt_weights(prob)
    rows = valid_rows(prob)
    span = sum(w * (a.max() - a.min()) for w, (a, _, _) in zip(mu, rows))
    if span <= 1e-12 * max(np.abs(a).max() for a, _, _ in rows):
        assert ours == 0.0
        return
    lams = [0.0]
    for a, b, _ in rows:
        for i, j in itertools.combinations(range(a.size), 2):
            if b[i] != b[j]:
                lam = (a[i] - a[j]) / (b[i] - b[j])
                if lam > 0:
                    lams.append(lam)
    g = [sum(w * np.ptp(a - lam * b) for w, (a, b, _) in zip(mu, rows)) for lam in lams]
    # g is piecewise linear with breakpoints among the crossings: its minimum is attained
    # at one of them, unless the proxy's round-off ties were merged (not drawn here)
    assert ours == pytest.approx(min(g) / span, abs=RTOL)


VARIANTS = [(c, n, m) for c in CANONICALIZATIONS for n in NORMS + (None,) for m in NORMS]


@settings(max_examples=40)
@given(problems(zero_weights=True))
def test_bound_dominates_worst_case_regret_dominates_regret(prob):
    """regret <= WCR <= bound for every tie rule and every (canonicalization, norms)."""
    wcr = worst_case_regret(prob.r1, prob.r2, **prob.kw)
    for ties in TIES:
        assert regret(prob.r1, prob.r2, ties=ties, **prob.kw) <= wcr + RTOL
    for c, n, m in VARIANTS:
        kw = dict(canonicalization=c, normalization=n, metric=m, **prob.kw_nu)
        d = distance(prob.r1, prob.r2, **kw)
        bound = regret_bound(prob.r1, d, **kw)
        assert 0.0 <= bound <= 1.0
        assert wcr <= bound + RTOL, (c, n, m, d, bound, wcr)


@pytest.mark.parametrize("metric", NORMS)
@pytest.mark.parametrize("n", [1, 3, 7])
def test_the_dual_constants_are_tight(metric, n):
    """R1 = (1, -1) on every prompt, R2 trivial: WCR = 1 = U d exactly (K is not loose)."""
    r1 = np.tile([1.0, -1.0], (n, 1))
    r2 = np.zeros((n, 2))
    canon = {"l1": "median", "weighted_l1": "median", "linf": "midrange",
             "weighted_linf": "midrange"}.get(metric, "mean")
    kw = dict(canonicalization=canon, normalization=metric, metric=metric)
    d = distance(r1, r2, **kw)
    assert d == pytest.approx(1.0)
    assert worst_case_regret(r1, r2) == 1.0
    u = soundness_constant(r1, **kw)
    assert u * d == pytest.approx(1.0, rel=1e-12)


def test_soundness_constant_closed_form_and_edges():
    r = np.array([[0.0, 1.0], [0.0, 3.0]])
    # midrange/linf: n(c) = 1.5, K = 2, range = (1 + 3) / 2 = 2 -> U = 1.5
    u = soundness_constant(r, canonicalization="midrange", normalization="linf",
                           metric="linf")
    assert u == pytest.approx(1.5, rel=1e-12)
    # mean/l2/l2: n(c) = sqrt(2 (0.25 + 2.25)) = sqrt5, K = sqrt(2 * 2 / 4) = 1
    assert soundness_constant(r) == pytest.approx(np.sqrt(5) / 2, rel=1e-12)
    # weighted_l2 metric: K = sqrt(sum mu (1/nu1 + 1/nu2)) = 2
    assert soundness_constant(r, normalization="weighted_l2", metric="weighted_l2") == \
        pytest.approx(np.sqrt(0.5 * (0.25 + 2.25)) * 2 / 2, rel=1e-12)
    # trivial true reward -> 0; a zero response weight under a weighted metric -> inf
    assert soundness_constant(np.ones((2, 2))) == 0.0
    nu = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert soundness_constant(r, metric="weighted_l2", response_weights=nu) == np.inf
    assert regret_bound(r, 0.0, metric="weighted_l2", response_weights=nu) == 1.0
    # a prompt of weight 0 does not count
    assert soundness_constant(r, metric="weighted_l2", response_weights=nu,
                              prompt_weights=np.array([0.0, 1.0])) < np.inf


@pytest.mark.parametrize("k", [-300, -150, -20, 0, 20, 150, 300])
def test_regret_scale_equivariance(k):
    rng = np.random.default_rng(2)
    r1, r2 = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    r2 = r1 + 0.4 * r2
    s = 10.0 ** k
    assert regret(s * r1, s * r2) == pytest.approx(regret(r1, r2), rel=1e-12)
    assert worst_case_regret(s * r1, r2) == pytest.approx(worst_case_regret(r1, r2),
                                                          rel=1e-12, abs=1e-15)
    assert worst_case_regret(r1, s * r2) == pytest.approx(worst_case_regret(r1, r2),
                                                          rel=1e-12, abs=1e-15)
    # n(c1) / range is scale free; without normalization U = K / range scales as 1/s
    assert soundness_constant(s * r1) == pytest.approx(soundness_constant(r1), rel=1e-12)
    assert soundness_constant(s * r1, normalization=None) == pytest.approx(
        soundness_constant(r1, normalization=None) / s, rel=1e-12)


def test_padding_is_never_read_and_batches():
    rng = np.random.default_rng(4)
    r1, r2 = rng.normal(size=(2, 5, 4)), rng.normal(size=(5, 4))
    mask = rng.random((5, 4)) < 0.6
    mask[:, :2] = True
    for fill1, fill2 in ((np.nan, np.inf), (1e300, -1e300)):
        a = np.where(mask, r1, fill1)
        b = np.where(mask, r2, fill2)
        for fn in (regret, worst_case_regret):
            out = fn(a, b, mask=mask)
            assert out.shape == (2,)
            ref = [fn(np.where(mask, r1[k], 0.0), np.where(mask, r2, 0.0), mask=mask)
                   for k in range(2)]
            np.testing.assert_allclose(out, ref, rtol=0, atol=1e-15)
        assert soundness_constant(a[0], mask=mask) == soundness_constant(
            np.where(mask, r1[0], 0.0), mask=mask)


def test_bad_input():
    r = np.zeros((2, 3))
    with pytest.raises(ValidationError, match="unknown ties 'worst'.*'pessimistic'"):
        regret(r, r, ties="worst")
    with pytest.raises(ValidationError, match="unknown method 'simplex'.*'parametric'"):
        worst_case_regret(r, r, method="simplex")
    with pytest.raises(ValidationError, match="r_true and r_proxy must have the same"):
        regret(r, np.zeros((3, 3)))
    with pytest.raises(ValidationError, match="r_proxy has 1 NaN"):
        worst_case_regret(r, np.array([[0, 0, np.nan], [0, 0, 0]]))
    with pytest.raises(ValidationError, match="prompt_weights must sum to 1"):
        regret(r, r, prompt_weights=[0.5, 0.6])
    with pytest.raises(ValidationError, match="distance must be non-negative"):
        regret_bound(r, -0.1)
    with pytest.raises(ValidationError, match="r_true must be one reward"):
        soundness_constant(np.zeros((2, 2, 3)))
    with pytest.raises(ValidationError, match="unknown metric"):
        regret_bound(r, 0.1, metric="l4")


# ----------------------------------------------------------------- API fuzz regressions


def _signs(seed):
    rng = np.random.default_rng(seed)
    r1 = rng.normal(size=(5, 4))
    return r1, r1 + 0.6 * rng.normal(size=(5, 4))


@pytest.mark.parametrize("scale", ["huge", "subnormal"])
def test_regrets_at_the_ends_of_float64_equal_the_unit_scale(scale):
    # Reg, WCR and (normalized) U do not depend on the scale of either reward (exact
    # power-of-two scaling); without it, max - min overflowed or 1 / max|R| did
    r1, r2 = _signs(3)
    if scale == "huge":
        a, b = r1 * (1.7e308 / np.abs(r1).max()), r2 * (1.7e308 / np.abs(r2).max())
        a[0] = np.where(r1[0] >= 0, 1.7e308, -1.7e308)  # max - min = 3.4e308
        r1, r2 = a / 2.0**1023, b / 2.0**1023  # the same rewards at scale 1 (exact)
    else:
        r1, r2 = np.sign(r1), np.sign(r2)
        a, b = 5e-324 * r1, 5e-324 * r2
    for ties in TIES:
        assert regret(a, b, ties=ties) == pytest.approx(regret(r1, r2, ties=ties), rel=1e-12)
    for method in ("parametric", "lp"):
        assert worst_case_regret(a, b, method=method) == pytest.approx(
            worst_case_regret(r1, r2, method=method), rel=1e-9, abs=1e-12)
    for metric in ("l2", "linf"):
        assert soundness_constant(a, metric=metric, normalization=metric) == pytest.approx(
            soundness_constant(r1, metric=metric, normalization=metric), rel=1e-12)
    assert regret_bound(a, 0.1) == pytest.approx(regret_bound(r1, 0.1), rel=1e-12)


def test_soundness_constant_without_normalization_beyond_float64_is_refused():
    r = np.array([[1.0, -1.0, 0.0], [0.5, 0.0, 1.0]])
    # U = K / range: exact at 2^-1000 (U = 2^1000 U_1), beyond float64 at subnormal scores
    assert soundness_constant(2.0**-1000 * r, normalization=None) == pytest.approx(
        2.0**1000 * soundness_constant(r, normalization=None), rel=1e-15)
    assert soundness_constant(2.0**1000 * r, normalization=None) == pytest.approx(
        2.0**-1000 * soundness_constant(r, normalization=None), rel=1e-15)
    with pytest.raises(ValidationError, match="soundness constant is beyond the float64"):
        soundness_constant(5e-324 * np.sign(r), normalization=None)


def test_bad_weights_and_ragged_lists():
    r = np.zeros((4, 3))
    for fn in (regret, worst_case_regret):
        with pytest.raises(ValidationError, match="prompt_weights must be non-negative"):
            fn(r, r, prompt_weights=np.array([1.7e308, -1.7e308, 1.7e308, 1.7e308]))
        with pytest.raises(ValidationError, match=r"prompt_weights has the entry .*\[0, 1\]"):
            fn(r, r, prompt_weights=np.array([1.7e308, 1.7e308, 1.7e308, 1.7e308]))
        with pytest.raises(ValidationError, match="r_true must be a numeric array"):
            fn([[1.0, 2.0], [3.0]], r)
        with pytest.raises(ValidationError, match="mask must be a boolean array"):
            fn(r, r, mask=[[True, False], [True]])
    with pytest.raises(ValidationError, match="r_true must be a numeric array"):
        regret_bound([[1.0, 2.0], [3.0]], 0.1)
