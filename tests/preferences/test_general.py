"""General (intransitive) preferences: scores, Smith set, cycles, lotteries, Bradley-Terry."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from starc.exceptions import ValidationError
from starc.preferences import (borda_scores, circular_triads, condorcet_winner,
                               copeland_scores, fit_bradley_terry, maximal_lottery,
                               preference_matrix, smith_set, win_matrix)

RPS = np.array([[0.5, 0.0, 1.0], [1.0, 0.5, 0.0], [0.0, 1.0, 0.5]])


@st.composite
def preference_matrices(draw, max_n=7, ties=False):
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    P = rng.uniform(size=(n, n))
    if ties:
        P = np.round(P * 4) / 4                     # many exact 1/2 entries
    P = np.triu(P, 1)
    P = P + np.tril(1.0 - P.T, -1)
    np.fill_diagonal(P, 0.5)
    return P


def beats(P):
    B = P > 0.5 + 1e-9
    np.fill_diagonal(B, False)
    return B


def test_rock_paper_scissors():
    np.testing.assert_allclose(maximal_lottery(RPS), [1 / 3] * 3, atol=1e-9)
    np.testing.assert_allclose(maximal_lottery(RPS, kind="majority"), [1 / 3] * 3, atol=1e-9)
    assert condorcet_winner(RPS) is None
    np.testing.assert_array_equal(smith_set(RPS), [0, 1, 2])
    assert circular_triads(RPS) == 1
    np.testing.assert_allclose(borda_scores(RPS), [1, 1, 1])
    np.testing.assert_allclose(copeland_scores(RPS), [1, 1, 1])


def test_weighted_rps_lottery_is_the_known_equilibrium():
    # margins a, b, c: equilibrium proportional to (b, c, a) for RPS with unequal payoffs
    P = np.array([[0.5, 0.3, 0.8], [0.7, 0.5, 0.4], [0.2, 0.6, 0.5]])
    M = P - P.T
    p = maximal_lottery(P)
    assert np.all(p @ M >= -1e-9) and p.sum() == pytest.approx(1.0)
    a, b, c = M[1, 0], M[0, 2], M[2, 1]               # 1 beats 0, 0 beats 2, 2 beats 1
    np.testing.assert_allclose(p, np.array([c, b, a]) / (a + b + c), atol=1e-9)


@given(preference_matrices(), st.data())
def test_condorcet_winner_gets_probability_one(P, data):
    n = P.shape[0]
    w = data.draw(st.integers(0, n - 1))
    margin = data.draw(st.floats(0.01, 0.5))
    for j in range(n):
        if j != w:
            P[w, j] = 0.5 + margin * (1 + j) / (n + 1)
            P[j, w] = 1.0 - P[w, j]
    assert condorcet_winner(P) == w
    p = maximal_lottery(P)
    assert p[w] == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_array_equal(smith_set(P), [w])


@given(preference_matrices(ties=True), st.sampled_from(["probability", "majority"]))
def test_maximal_lottery_is_an_equilibrium(P, kind):
    p = maximal_lottery(P, kind=kind)
    M = P - P.T
    if kind == "majority":
        M = np.sign(np.where(np.abs(M) < 1e-9, 0.0, M))
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0)
    assert np.all(p @ M >= -1e-8)                     # no pure reply beats it


@given(preference_matrices(ties=True))
def test_scores_and_smith_set_against_brute_force(P):
    n = P.shape[0]
    B = beats(P)
    assert borda_scores(P).sum() == pytest.approx(comb(n, 2))
    assert copeland_scores(P).sum() == pytest.approx(comb(n, 2))
    # Smith set: the smallest non-empty set whose members all beat all non-members
    best = None
    for k in range(1, n + 1):
        for S in itertools.combinations(range(n), k):
            out = [j for j in range(n) if j not in S]
            if all(B[i, j] for i in S for j in out):
                best = list(S)
                break
        if best is not None:
            break
    np.testing.assert_array_equal(smith_set(P), best)
    # circular triads by enumeration
    cyc = sum(1 for i, j, k in itertools.combinations(range(n), 3)
              if (B[i, j] and B[j, k] and B[k, i]) or (B[j, i] and B[k, j] and B[i, k]))
    assert circular_triads(P) == cyc


@given(preference_matrices(max_n=9))
def test_circular_triads_kendall_formula_for_tournaments(P):
    n = P.shape[0]
    s = beats(P).sum(axis=1)                          # no ties with continuous draws
    assert circular_triads(P) == comb(n, 3) - sum(comb(int(x), 2) for x in s)


def test_win_and_preference_matrices():
    W = win_matrix([(0, 1), (0, 1), (1, 0), (2, 1)], n_items=4, weights=[1, 2, 1, 0.5])
    np.testing.assert_allclose(W, [[0, 3, 0, 0], [1, 0, 0, 0], [0, 0.5, 0, 0],
                                   [0, 0, 0, 0]])
    P = preference_matrix(W, default=0.5)
    np.testing.assert_allclose(P + P.T, 1.0)
    assert P[0, 1] == 0.75 and P[2, 1] == 1.0 and P[0, 3] == 0.5 and P[1, 1] == 0.5
    P2 = preference_matrix(W, default=0.2)
    assert P2[0, 2] == pytest.approx(0.2) and P2[2, 0] == pytest.approx(0.8)


def test_bradley_terry_recovers_scores_from_expected_counts():
    s_true = np.array([1.2, 0.3, -0.4, -1.1])
    N = 50.0
    W = N * expit(s_true[:, None] - s_true[None, :])
    np.fill_diagonal(W, 0.0)
    fit = fit_bradley_terry(W)
    np.testing.assert_allclose(fit.scores, s_true - s_true.mean(), atol=1e-8)
    assert fit.deviance == pytest.approx(0.0, abs=1e-9)
    assert fit.df == 6 - 3
    np.testing.assert_allclose(fit.probabilities, expit(s_true[:, None] - s_true[None, :]),
                               atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bradley_terry_against_scipy_minimize(seed):
    rng = np.random.default_rng(seed)
    n = 6
    W = rng.integers(1, 12, size=(n, n)).astype(float)
    np.fill_diagonal(W, 0)

    def nll(s):
        return -np.sum(W * log_expit(s[:, None] - s[None, :]))

    ref = minimize(nll, np.zeros(n), method="BFGS", options={"gtol": 1e-10}).x
    fit = fit_bradley_terry(W)
    np.testing.assert_allclose(fit.scores, ref - ref.mean(), atol=1e-5)
    assert fit.log_likelihood == pytest.approx(-nll(fit.scores), rel=1e-12)
    # deviance against the saturated model, computed by hand
    Nn = W + W.T
    ratio = np.where(W > 0, W, 1.0) / np.where(Nn > 0, Nn, 1.0)
    sat = np.sum(np.where(W > 0, W * np.log(ratio), 0.0))
    assert fit.deviance == pytest.approx(2 * (sat - fit.log_likelihood), rel=1e-9)
    assert fit.df == comb(n, 2) - (n - 1)


def test_bradley_terry_intransitive_data_have_large_deviance():
    W = 30 * RPS
    np.fill_diagonal(W, 0)
    fit = fit_bradley_terry(W)
    np.testing.assert_allclose(fit.scores, 0.0, atol=1e-10)
    assert fit.deviance == pytest.approx(2 * 90 * np.log(2), rel=1e-9)  # 90 one-sided games


def test_bradley_terry_needs_strong_connectivity_unless_penalised():
    W = np.array([[0, 3, 2], [0, 0, 1], [0, 1, 0]])   # item 0 never lost
    with pytest.raises(ValidationError, match="does not exist .* strongly connected"):
        fit_bradley_terry(W)
    fit = fit_bradley_terry(W, l2=0.1)
    assert fit.scores[0] > fit.scores[1] and fit.l2 == 0.1
    assert fit_bradley_terry([[0.0]]).scores.shape == (1,)


@pytest.mark.parametrize("call, fragment", [
    (lambda: maximal_lottery([[0.5, 0.7], [0.7, 0.5]]),
     r"P must satisfy P\[i, j\] \+ P\[j, i\] == 1"),
    (lambda: borda_scores([[0.5, 1.2], [-0.2, 0.5]]), r"P must have entries in \[0, 1\]"),
    (lambda: copeland_scores(np.ones((2, 3))), "P must be a non-empty square matrix"),
    (lambda: smith_set([[np.nan]]), "P contains 1 NaN"),
    (lambda: condorcet_winner("P"), "P must be a numeric array"),
    (lambda: circular_triads(np.zeros(3)), "P must have 2 dimension"),
    (lambda: maximal_lottery(RPS, kind="borda"), "unknown kind 'borda'"),
    (lambda: win_matrix([(0, 0)]), r"comparisons\[0\] compares item 0 with itself"),
    (lambda: win_matrix([(0, 1.5)]), "comparisons must be an integer array"),
    (lambda: win_matrix([(0, 3)], n_items=2), "refers to item 3, but n_items=2"),
    (lambda: win_matrix([(0, -1)]), "non-negative item indices"),
    (lambda: win_matrix([(0, 1)], weights=[-1.0]), "weights must be non-negative"),
    (lambda: win_matrix([(0, 1)], weights=[1.0, 2.0]), "one entry per comparison"),
    (lambda: preference_matrix([[0, -1], [1, 0]]), "wins must be non-negative"),
    (lambda: preference_matrix([[0, 1], [1, 0]], default=2.0), "default must be <= 1.0"),
    (lambda: fit_bradley_terry(np.ones((2, 3))), "wins must be a non-empty square"),
    (lambda: fit_bradley_terry([[0, 1], [1, 0]], l2=-1), "l2 must be >= 0.0"),
    (lambda: fit_bradley_terry([[0, 1], [1, 0]], max_iter=0), "max_iter must be"),
])
def test_bad_inputs(call, fragment):
    with pytest.raises(ValidationError, match=fragment):
        call()


# ------------------------------------------------------------ counts across the float64 range


def test_preference_matrix_is_exact_across_the_float_range():
    big = np.finfo(float).max
    assert preference_matrix([[0, 1e308], [1e308, 0]])[0, 1] == 0.5
    assert preference_matrix([[0, big], [big, 0]])[1, 0] == 0.5
    assert preference_matrix([[0, 3e307], [1e308, 0]])[0, 1] == pytest.approx(3 / 13,
                                                                             rel=1e-15)
    tiny = 5e-324                                   # the smallest subnormal, 2^-1074
    assert preference_matrix([[0, tiny], [2 * tiny, 0]])[0, 1] == pytest.approx(1 / 3,
                                                                               rel=1e-15)
    # where W + W.T is finite, the same numbers as the textbook formula (bit for bit)
    rng = np.random.default_rng(0)
    W = rng.integers(0, 50, size=(9, 9)).astype(float) * rng.uniform(size=(9, 9))
    np.fill_diagonal(W, 0.0)
    N = W + W.T
    textbook = np.where(N > 0, W / np.where(N > 0, N, 1.0), 0.5)
    upper = np.triu(np.ones((9, 9), dtype=bool), 1)
    P = preference_matrix(W)
    np.testing.assert_array_equal(P[upper], textbook[upper])
    for c in (1e-300, 1e-12, 1e100, 1e300):        # c * W is exact to round-off
        np.testing.assert_allclose(preference_matrix(c * W), P, rtol=0, atol=1e-15)


W_EXAMPLE = np.array([[0, 8, 9], [2, 0, 6], [1, 4, 0]], dtype=float)


@pytest.mark.parametrize("c", [1e-300, 1e-200, 1e-12, 1e-3, 1.0, 37.0, 1e12, 1e100, 1e300])
def test_bradley_terry_fit_does_not_depend_on_the_units_of_the_counts(c):
    ref = fit_bradley_terry(W_EXAMPLE)
    fit = fit_bradley_terry(c * W_EXAMPLE)
    np.testing.assert_allclose(fit.scores, ref.scores, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fit.probabilities, ref.probabilities, rtol=0, atol=1e-12)
    # the likelihood is homogeneous of degree 1 in the counts
    assert fit.log_likelihood == pytest.approx(c * ref.log_likelihood, rel=1e-12)
    assert fit.deviance == pytest.approx(c * ref.deviance, rel=1e-9)
    assert fit.df == ref.df
    # a ridge penalty scaled with the counts gives the same penalised fit
    pen = fit_bradley_terry(W_EXAMPLE, l2=0.7)
    np.testing.assert_allclose(fit_bradley_terry(c * W_EXAMPLE, l2=0.7 * c).scores,
                               pen.scores, rtol=0, atol=1e-12)


def test_bradley_terry_fit_is_the_mle_independently_checked():
    fit = fit_bradley_terry(1e-250 * W_EXAMPLE)
    s = fit.scores
    # stationarity: sum_j W_ij - N_ij sigma(s_i - s_j) = 0 (relative to the total count)
    N = W_EXAMPLE + W_EXAMPLE.T
    grad = (W_EXAMPLE - N * expit(s[:, None] - s[None, :])).sum(axis=1)
    assert np.max(np.abs(grad)) <= 1e-9 * W_EXAMPLE.sum()
    # and the optimum of an independent optimiser on the log-likelihood (gauge s_0 = 0)

    def nll(x):
        t = np.concatenate([[0.0], x])
        return -np.sum(W_EXAMPLE * log_expit(t[:, None] - t[None, :]))

    opt = minimize(nll, np.zeros(2), method="Nelder-Mead",
                   options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000})
    t = np.concatenate([[0.0], opt.x])
    np.testing.assert_allclose(s, t - t.mean(), atol=1e-6)


def test_bradley_terry_refuses_a_log_likelihood_beyond_the_float_range():
    with pytest.raises(ValidationError, match="log-likelihood .* float64 range"):
        fit_bradley_terry(1.5e307 * W_EXAMPLE)        # l = -15.02 * 1.5e307
    # the largest counts whose log-likelihood is representable are fitted exactly
    fit = fit_bradley_terry(np.array([[0, 1e307], [1e307, 0]]))
    np.testing.assert_array_equal(fit.scores, [0.0, 0.0])
    assert fit.log_likelihood == pytest.approx(2e307 * np.log(0.5), rel=1e-15)
