"""starc.bandit.rank_correlation against scipy, per prompt, with ties and ragged masks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given

from bandit_cases import problems, prompt_weights, valid_rows
from starc.bandit import rank_correlation
from starc.exceptions import ValidationError

SCIPY = {"spearman": lambda a, b: scipy.stats.spearmanr(a, b)[0],
         "kendall": lambda a, b: scipy.stats.kendalltau(a, b, variant="b")[0]}


def _reference(prob, method):
    out = []
    for a, b, _ in valid_rows(prob):
        if a.size < 2 or np.all(a == a[0]) or np.all(b == b[0]):
            out.append(np.nan)
        else:
            out.append(SCIPY[method](a, b))
    return np.array(out)


@pytest.mark.parametrize("method", ["spearman", "kendall"])
@given(problems(kinds=("normal", "ties", "trivial")))
def test_per_prompt_values_match_scipy(method, prob):
    ours = rank_correlation(prob.r1, prob.r2, method=method, per_prompt=True, **prob.kw)
    ref = _reference(prob, method)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours[~np.isnan(ref)], ref[~np.isnan(ref)], atol=1e-12)
    mu = prompt_weights(prob)
    ok = ~np.isnan(ref) & (mu > 0)
    if ok.any():
        expected = (mu[ok] * ref[ok]).sum() / mu[ok].sum()
        assert rank_correlation(prob.r1, prob.r2, method=method, **prob.kw) == \
            pytest.approx(expected, abs=1e-12)
    else:
        with pytest.raises(ValidationError, match="undefined on every prompt"):
            rank_correlation(prob.r1, prob.r2, method=method, **prob.kw)


def test_closed_forms_ties_and_monotone_invariance():
    r1 = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 3.0]])
    r2 = np.array([[4.0, 3.0, 2.0, 1.0], [0.0, 0.0, 1.0, 2.0]])
    np.testing.assert_allclose(rank_correlation(r1, r2, per_prompt=True), [-1.0, 1.0])
    np.testing.assert_allclose(rank_correlation(r1, r2, method="kendall", per_prompt=True),
                               [-1.0, 1.0])
    # one tied pair in prompt 1 of r1 only: tau_b = 5 / sqrt(5 * 6)
    r3 = np.array([[0.0, 1.0, 2.0, 3.0]] * 2)
    assert rank_correlation(r1, r3, method="kendall", per_prompt=True)[1] == \
        pytest.approx(5 / np.sqrt(30))
    # invariant to any strictly increasing map, per prompt
    assert rank_correlation(r1, np.exp(r2) * [[1.0], [100.0]] - 5) == \
        rank_correlation(r1, r2)


def test_undefined_prompts_are_skipped_and_weights_renormalised():
    r1 = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [1.0, 2.0, 0.0]])
    r2 = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [3.0, 2.0, np.nan]])
    mask = np.array([[True, True, True], [True, True, True], [True, True, False]])
    mu = np.array([0.5, 0.3, 0.2])
    per = rank_correlation(r1, r2, mask=mask, per_prompt=True)
    np.testing.assert_allclose(per, [1.0, np.nan, -1.0])
    assert rank_correlation(r1, r2, mask=mask, prompt_weights=mu) == \
        pytest.approx((0.5 - 0.2) / 0.7)
    one = np.array([[True, False, False]] * 3)
    with pytest.raises(ValidationError, match="undefined on every prompt"):
        rank_correlation(r1, r2, mask=one)


def test_padding_never_read_and_bad_input():
    rng = np.random.default_rng(0)
    r1, r2 = rng.normal(size=(2, 6, 5))
    mask = rng.random((6, 5)) < 0.7
    mask[:, :2] = True
    for method in ("spearman", "kendall"):
        a = rank_correlation(np.where(mask, r1, np.nan), np.where(mask, r2, -np.inf),
                             mask=mask, method=method)
        b = rank_correlation(np.where(mask, r1, -1e300), np.where(mask, r2, 1e300),
                             mask=mask, method=method)
        assert a == b
    with pytest.raises(ValidationError, match="unknown method 'pearson'.*'spearman'"):
        rank_correlation(r1, r2, method="pearson")
    with pytest.raises(ValidationError, match="r1 and r2 must have the same"):
        rank_correlation(r1, r2[:, :3])


# ----------------------------------------------------------------- API fuzz regressions


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")  # row 3: NaN
@pytest.mark.parametrize("method", ["spearman", "kendall"])
def test_scores_at_the_ends_of_float64(method):
    # Kendall's sign(x_i - x_j) overflowed for +-1.7e308; ranks do not depend on the scale
    rng = np.random.default_rng(5)
    r1, r2 = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    big1 = np.where(r1 >= 0, 1.7e308, -1.7e308)
    small2 = 5e-324 * np.sign(r2)
    expected = rank_correlation(np.sign(r1), np.sign(r2), method=method, per_prompt=True)
    got = rank_correlation(big1, small2, method=method, per_prompt=True)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    peer = scipy.stats.spearmanr if method == "spearman" else scipy.stats.kendalltau
    ref = [peer(np.sign(r1[i]), np.sign(r2[i]))[0] for i in range(6)]
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_ragged_lists_are_refused_naming_the_argument():
    r = np.zeros((2, 2))
    with pytest.raises(ValidationError, match="r1 must be a numeric array"):
        rank_correlation([[1.0, 2.0], [3.0]], r)
    with pytest.raises(ValidationError, match="mask must be a boolean array"):
        rank_correlation(r, r, mask=[[True, True], [True]])
