"""starc.bandit.canonical: closed forms, invariances, minimality against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from bandit_cases import problems, valid_rows
from starc.bandit import CANONICALIZATIONS, canonicalize
from starc.exceptions import ValidationError


def test_closed_forms_on_two_prompts():
    r = np.array([[1.0, 2.0, 6.0, 10.0], [0.0, 4.0, 7.0, np.nan]])
    mask = np.array([[True, True, True, True], [True, True, True, False]])
    # means 4.75 and 11/3; medians: interval [2, 6] -> 4, and 4; midranges 5.5 and 3.5
    np.testing.assert_allclose(canonicalize(r, method="mean", mask=mask),
                               [[-3.75, -2.75, 1.25, 5.25], [-11 / 3, 1 / 3, 10 / 3, 0.0]],
                               atol=1e-14)
    np.testing.assert_array_equal(canonicalize(r, method="median", mask=mask),
                                  [[-3.0, -2.0, 2.0, 6.0], [-4.0, 0.0, 3.0, 0.0]])
    np.testing.assert_array_equal(canonicalize(r, method="midrange", mask=mask),
                                  [[-4.5, -3.5, 0.5, 4.5], [-3.5, 0.5, 3.5, 0.0]])
    np.testing.assert_array_equal(canonicalize(r, method="none", mask=mask),
                                  np.where(mask, r, 0.0))


def test_weighted_mean_and_median():
    r = np.array([[0.0, 1.0, 10.0]])
    nu = np.array([[0.5, 0.25, 0.25]])
    # mean 2.75; weighted median: cumulative weight hits 1/2 at 0 -> interval [0, 1]
    np.testing.assert_allclose(canonicalize(r, method="mean", response_weights=nu),
                               [[-2.75, -1.75, 7.25]])
    np.testing.assert_allclose(canonicalize(r, method="median", response_weights=nu),
                               [[-0.5, 0.5, 9.5]])
    nu2 = np.array([[0.6, 0.2, 0.2]])  # unique weighted median 0
    np.testing.assert_allclose(canonicalize(r, method="median", response_weights=nu2),
                               [[0.0, 1.0, 10.0]])
    # a zero weight does not move the median
    nu3 = np.array([[0.5, 0.0, 0.5]])
    np.testing.assert_allclose(canonicalize(r, method="median", response_weights=nu3),
                               [[-5.0, -4.0, 5.0]])


def _norm_of_offset(row, w, t, p):
    d = np.abs(row - t)
    return d.max() if p == np.inf else (w * d ** p).sum()


@pytest.mark.parametrize("method,p,weighted", [("mean", 2, True), ("mean", 2, False),
                                               ("median", 1, True), ("median", 1, False),
                                               ("midrange", np.inf, False)])
@given(problems(related=False))
def test_each_canonical_minimises_its_norm(method, p, weighted, prob):
    """The offset is a minimiser of the (nu-weighted) L_p norm over per-prompt offsets."""
    nu = prob.nu if weighted else None
    c = canonicalize(prob.r1, method=method, response_weights=nu, mask=prob.mask)
    mask = np.ones(prob.r1.shape, bool) if prob.mask is None else prob.mask
    for i, (row, _, w) in enumerate(valid_rows(prob._replace(nu=nu))):
        if not weighted:
            w = np.full(row.size, 1.0 / row.size)
        offset = row[0] - c[i, mask[i]][0]
        ours = _norm_of_offset(row, w, offset, p)
        lo, hi = row.min(), row.max()
        res = minimize_scalar(lambda t: _norm_of_offset(row, w, t, p), bounds=(lo, hi),
                              method="bounded", options={"xatol": 1e-12})
        grid = np.linspace(lo, hi, 2001)
        brute = min(res.fun, min(_norm_of_offset(row, w, t, p) for t in grid))
        scale = 1.0 + np.abs(row).max() ** (1 if p != 2 else 2)
        assert ours <= brute + 1e-9 * scale


def test_median_is_the_midpoint_of_the_minimisers():
    r = np.array([[1.0, 2.0, 3.0, 10.0]])
    np.testing.assert_allclose(canonicalize(r, method="median"), r - 2.5)


@pytest.mark.parametrize("method", CANONICALIZATIONS)
@given(problems(), st.floats(0.01, 100.0))
def test_offsets_and_scaling(method, prob, a):
    """c(aR + f) = a c(R) for a > 0 (c(R + f) = c(R) except for "none")."""
    f = np.linspace(-3, 7, prob.r1.shape[0])[:, None]
    c = canonicalize(prob.r1, method=method, response_weights=prob.nu, mask=prob.mask)
    c2 = canonicalize(a * prob.r1 + (0.0 if method == "none" else f), method=method,
                      response_weights=prob.nu, mask=prob.mask)
    scale = np.abs(np.nan_to_num(prob.r1)).max() + np.abs(f).max()
    np.testing.assert_allclose(c2, a * c, atol=1e-12 * a * scale)
    # idempotent
    again = canonicalize(c, method=method, response_weights=prob.nu, mask=prob.mask)
    np.testing.assert_allclose(again, c, atol=1e-12 * scale)


def test_batch_axes_and_padding_never_read():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(3, 4, 5))
    mask = rng.random((4, 5)) < 0.6
    mask[:, 0] = True
    for method in CANONICALIZATIONS:
        nan_pad = np.where(mask, r, np.nan)
        huge_pad = np.where(mask, r, 1e300)
        out = canonicalize(nan_pad, method=method, mask=mask)
        np.testing.assert_array_equal(out, canonicalize(huge_pad, method=method, mask=mask))
        for k in range(3):
            np.testing.assert_array_equal(out[k], canonicalize(nan_pad[k], method=method,
                                                               mask=mask))
        assert np.all(out[:, ~mask] == 0.0)


def test_bad_input():
    r = np.zeros((2, 3))
    with pytest.raises(ValidationError, match="unknown method 'avg'.*'mean'"):
        canonicalize(r, method="avg")
    with pytest.raises(ValidationError, match="mask must have shape"):
        canonicalize(r, mask=np.ones((3, 2), bool))
    with pytest.raises(ValidationError, match="mask leaves 1 prompt"):
        canonicalize(r, mask=np.array([[True, True, False], [False, False, False]]))
    with pytest.raises(ValidationError, match="reward has 1 NaN"):
        canonicalize(np.array([[0.0, np.nan]]))
    with pytest.raises(ValidationError, match="response_weights must sum to 1"):
        canonicalize(r, response_weights=np.full((2, 3), 0.5))
    with pytest.raises(ValidationError, match="response_weights must be non-negative"):
        canonicalize(r, response_weights=np.array([[2.0, -1.0, 0.0]] * 2))
    with pytest.raises(ValidationError, match="reward must have shape"):
        canonicalize(np.zeros(3))
    with pytest.raises(ValidationError, match="mask must be a boolean"):
        canonicalize(r, mask=np.full((2, 3), 0.5))


# ----------------------------------------------------------------- API fuzz regressions


def test_huge_scores_are_canonicalized_exactly_or_refused():
    # the row sum 2^1023 (1.5 + 1.25 + 1) overflows; c(R) itself is representable
    r = 2.0**1023 * np.array([[1.5, 1.25, 1.0], [1.0, 1.5, 1.25]])
    expected = [[2.0**1021, 0.0, -2.0**1021], [-2.0**1021, 2.0**1021, 0.0]]
    for method in ("mean", "median", "midrange"):  # offset 1.25 * 2^1023 on both rows
        np.testing.assert_array_equal(canonicalize(r, method=method), expected)
    # batches: each array is scaled on its own; small ones are untouched
    small = np.array([[0.5, 0.25, 1.0], [3.0, 0.0, 1.5]])
    out = canonicalize(np.stack([r, small]), method="mean")
    np.testing.assert_array_equal(out[1], canonicalize(small, method="mean"))
    np.testing.assert_array_equal(out[0], canonicalize(r, method="mean"))
    # R(x, y0) - mean = 1.7e308 + 1.7e308 / 3 is beyond float64: refused, not inf
    wide = np.array([[1.7e308, -1.7e308, -1.7e308]])
    for method in ("mean", "median"):
        with pytest.raises(ValidationError, match="canonical reward is beyond the float64"):
            canonicalize(wide, method=method)
    np.testing.assert_array_equal(canonicalize(wide, method="midrange"),
                                  [[1.7e308, -1.7e308, -1.7e308]])


def test_ragged_lists_are_refused_naming_the_argument():
    with pytest.raises(ValidationError, match="reward must be a numeric array"):
        canonicalize([[1.0, 2.0], [3.0]])
    with pytest.raises(ValidationError, match="mask must be a boolean array"):
        canonicalize(np.zeros((2, 2)), mask=[[True, False], [True]])
    with pytest.raises(ValidationError, match="response_weights must be a numeric array"):
        canonicalize(np.zeros((2, 2)), response_weights=[[0.5, 0.5], [1.0]])
