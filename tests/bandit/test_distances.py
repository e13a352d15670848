"""starc.bandit distances: closed forms, invariances, a loop reference, scale safety."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bandit_cases import problems, prompt_weights, valid_rows
from starc.bandit import (CANONICALIZATIONS, NORMS, canonicalize, distance, norm, normalize,
                          pairwise_distances, pearson_distance)
from starc.exceptions import ValidationError

P = {"l1": 1, "l2": 2, "linf": np.inf}


def _offset(row, w, method):
    if method == "none":
        return 0.0
    if method == "mean":
        return float((row * w).sum())
    if method == "midrange":
        return 0.5 * (row.max() + row.min())
    keep = w > 0
    vals, wts = row[keep], w[keep]
    order = np.argsort(vals)
    vals, wts = vals[order], wts[order]
    cw = np.cumsum(wts)
    lo = vals[np.searchsorted(cw, 0.5 - 1e-12)]
    hi = vals[np.searchsorted(cw, 0.5 + 1e-12, side="right")]
    return 0.5 * (lo + hi)


def _lp(vals, weights, name):
    """Norm of concatenated per-prompt values (weights = D or None)."""
    p = P[name.replace("weighted_", "")]
    a = np.abs(vals)
    if name.startswith("weighted_"):
        if p == np.inf:
            return a[weights > 0].max(initial=0.0)
        return float((weights * a ** p).sum() ** (1 / p))
    return a.max(initial=0.0) if p == np.inf else float((a ** p).sum() ** (1 / p))


def reference_distance(prob, method, normalization, metric):
    """A loop over prompts, written from THEORY §10 alone."""
    mu = prompt_weights(prob)
    c1, c2, d = [], [], []
    for i, (a, b, w) in enumerate(valid_rows(prob)):
        c1.append(a - _offset(a, w, method))
        c2.append(b - _offset(b, w, method))
        d.append(mu[i] * w)
    c1, c2, d = np.concatenate(c1), np.concatenate(c2), np.concatenate(d)
    s = []
    for c, r in ((c1, prob.r1), (c2, prob.r2)):
        n = _lp(c, d, normalization)
        ones = _lp(np.ones_like(c), d, normalization)
        big = np.nanmax(np.abs(r))
        s.append(c * 0 if n <= 512 * np.finfo(float).eps * ones * big else c / n)
    return _lp(s[0] - s[1], d, metric)


def test_closed_form_two_prompts():
    r1 = np.array([[0.0, 2.0], [1.0, 1.0]])      # prompt 1 is trivial
    r2 = np.array([[0.0, 1.0], [0.0, 1.0]])
    # mean canonicals: c1 = [[-1, 1], [0, 0]], c2 = [[-.5, .5], [-.5, .5]]
    # l2: s1 = c1 / sqrt2, s2 = c2 / 1 -> diff [[-1/sqrt2 + .5, ...], [.5, -.5]]
    e = 0.5 - 1 / np.sqrt(2)
    expected = np.sqrt(2 * e ** 2 + 0.5)
    assert distance(r1, r2) == pytest.approx(expected, abs=1e-14)
    # linf/midrange: s1 = [[-1, 1], [0, 0]], s2 = [[-1, 1], [-1, 1]] -> 1
    assert distance(r1, r2, canonicalization="midrange", normalization="linf",
                    metric="linf") == pytest.approx(1.0, abs=1e-15)
    # weighted_l2 with mu = (3/4, 1/4): ||c1||_D = sqrt(3/4), ||c2||_D = 1/2
    mu = np.array([0.75, 0.25])
    s1 = np.array([[-1, 1], [0, 0]]) / np.sqrt(0.75)
    s2 = np.array([[-1, 1], [-1, 1]])
    dd = np.array([[0.375, 0.375], [0.125, 0.125]])
    expected = np.sqrt((dd * (s1 - s2) ** 2).sum())
    assert distance(r1, r2, normalization="weighted_l2", metric="weighted_l2",
                    prompt_weights=mu) == pytest.approx(expected, abs=1e-14)


@pytest.mark.parametrize("method", CANONICALIZATIONS)
@given(prob=problems(), data=st.data())
def test_against_a_loop_over_prompts(method, prob, data):
    normalization = data.draw(st.sampled_from(NORMS))
    metric = data.draw(st.sampled_from(NORMS))
    ours = distance(prob.r1, prob.r2, canonicalization=method, normalization=normalization,
                    metric=metric, **prob.kw_nu)
    ref = reference_distance(prob, method, normalization, metric)
    # round-off: entries of s(R) are accurate to ~ eps max|R| / max|c(R)| (the
    # conditioning of the canonical), summed over at most N entries by the metric
    cond = 0.0
    for r in (prob.r1, prob.r2):
        c = np.array([a - _offset(a, w, method) for a, _, w in valid_rows(
            prob._replace(r1=r))], dtype=object)
        top = max(np.abs(x).max() for x in c)
        cond += np.nanmax(np.abs(r)) / top if top > 0 else 0.0
    n_valid = np.isfinite(prob.r1).sum()
    assert ours == pytest.approx(ref, rel=1e-9, abs=1e-12 + 1e-13 * n_valid * cond)


def conditioning(r, method, mask, nu=None) -> float:
    """max|R| / max|c(R)|: the relative round-off of s(R)'s entries is ~ eps times this."""
    c = canonicalize(r, method=method, mask=mask, response_weights=nu)
    top = np.abs(c).max()
    return float(np.nanmax(np.abs(r)) / top) if top > 0 else 0.0


@pytest.mark.parametrize("method,p", [("mean", "l2"), ("median", "l1"),
                                      ("midrange", "linf"), ("mean", "weighted_l2"),
                                      ("median", "weighted_l1"), ("none", "linf")])
@given(prob=problems(kinds=("normal", "ties", "scaled")), a=st.floats(0.01, 100.0))
def test_invariances_and_range(method, p, prob, a):
    kw = dict(canonicalization=method, normalization=p, metric=p, **prob.kw_nu)
    d = distance(prob.r1, prob.r2, **kw)
    assert 0.0 <= d <= 2.0
    f = 0.0 if method == "none" else np.arange(prob.r1.shape[0])[:, None] * 1.7
    r2 = a * prob.r1 + f
    tol = 1e-12 + 1e-13 * prob.r1.size * (conditioning(prob.r1, method, prob.mask, prob.nu)
                                          + conditioning(r2, method, prob.mask, prob.nu))
    assert distance(prob.r1, r2, **kw) == pytest.approx(0.0, abs=tol)
    c = norm(prob.r1 - (0 if method == "none" else np.nanmean(prob.r1, axis=1,
                                                                keepdims=True)),
             "linf", mask=prob.mask)
    neg = distance(prob.r1, -prob.r1, **kw)
    trivial = distance(prob.r1, np.zeros_like(prob.r1) + f, **kw)
    if c > 1e-9 * np.nanmax(np.abs(prob.r1)) and neg > 0:
        assert neg == pytest.approx(2.0, abs=1e-12)
        if method != "none":
            assert trivial == pytest.approx(1.0, abs=1e-12)


@given(problems())
def test_pearson_is_half_the_weighted_l2_distance_and_matches_numpy(prob):
    dp = pearson_distance(prob.r1, prob.r2, **prob.kw_nu)
    assert 0.0 <= dp <= 1.0
    mu = prompt_weights(prob)
    c1, c2, w = [], [], []
    for i, (a, b, nu) in enumerate(valid_rows(prob)):
        c1.append(a - (nu * a).sum())
        c2.append(b - (nu * b).sum())
        w.append(mu[i] * nu)
    c1, c2, w = map(np.concatenate, (c1, c2, w))
    v1, v2 = (w * c1 * c1).sum(), (w * c2 * c2).sum()
    eps1 = 512 * np.finfo(float).eps * np.nanmax(np.abs(prob.r1))
    eps2 = 512 * np.finfo(float).eps * np.nanmax(np.abs(prob.r2))
    z1, z2 = np.sqrt(v1) <= eps1, np.sqrt(v2) <= eps2
    if z1 and z2:
        assert dp == 0.0
    elif z1 or z2:
        assert dp == pytest.approx(np.sqrt(0.5))
    else:
        rho = (w * c1 * c2).sum() / np.sqrt(v1 * v2)
        assert dp == pytest.approx(np.sqrt(max(0.0, (1 - rho) / 2)), abs=1e-7)
        half = 0.5 * distance(prob.r1, prob.r2, normalization="weighted_l2",
                              metric="weighted_l2", **prob.kw_nu)
        assert dp == pytest.approx(half, abs=1e-12)


def test_pairwise_matches_distance():
    rng = np.random.default_rng(3)
    rewards = rng.normal(size=(4, 6, 3))
    rewards[2] = 3 * rewards[0] + 1
    mask = rng.random((6, 3)) < 0.7
    mask[:, 0] = True
    for kw in ({}, {"canonicalization": "median", "normalization": "weighted_l1",
                    "metric": "l1"}, {"normalization": None, "metric": "linf"}):
        mat = pairwise_distances(rewards, mask=mask, **kw)
        assert mat.shape == (4, 4)
        np.testing.assert_allclose(mat, mat.T)
        for i, j in itertools.product(range(4), repeat=2):
            assert mat[i, j] == pytest.approx(distance(rewards[i], rewards[j], mask=mask,
                                                       **kw), abs=1e-13)
    assert pairwise_distances(rewards)[0, 2] == pytest.approx(0.0, abs=1e-13)


@pytest.mark.parametrize("k", list(range(-300, 301, 50)) + [-307, 307])
def test_scale_equivariance(k):
    rng = np.random.default_rng(0)
    r1, r2 = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    mask = np.ones((5, 4), bool)
    mask[1, 2:] = False
    s = 10.0 ** k
    for method, p in [("mean", "l2"), ("median", "l1"), ("midrange", "linf"),
                      ("mean", "weighted_l2")]:
        base = distance(r1, r2, canonicalization=method, normalization=p, metric=p,
                        mask=mask)
        scaled = distance(s * r1 / 2, s * r2 / 2, canonicalization=method, normalization=p,
                          metric=p, mask=mask)
        assert scaled == pytest.approx(base, rel=1e-12)
        mixed = distance(s * r1 / 2, r2, canonicalization=method, normalization=p,
                         metric=p, mask=mask)
        assert mixed == pytest.approx(base, rel=1e-12)
        n = norm(s * r1 / 2, p, mask=mask)
        assert n == pytest.approx(norm(r1, p, mask=mask) * s / 2, rel=1e-12)
    assert pearson_distance(s * r1 / 2, s * r2 / 2, mask=mask) == pytest.approx(
        pearson_distance(r1, r2, mask=mask), rel=1e-12)
    # unnormalized distances scale with the rewards
    un = distance(s * r1 / 2, s * r2 / 2, normalization=None, mask=mask)
    assert un == pytest.approx(distance(r1, r2, normalization=None, mask=mask) * s / 2,
                               rel=1e-12)


def test_padding_is_never_read_and_batches_broadcast():
    rng = np.random.default_rng(1)
    r1, r2 = rng.normal(size=(3, 5, 4)), rng.normal(size=(5, 4))
    mask = rng.random((5, 4)) < 0.6
    mask[:, 0] = True
    for kw in ({}, {"metric": "weighted_linf", "normalization": "weighted_l1",
                    "canonicalization": "median"}):
        a = distance(np.where(mask, r1, np.nan), np.where(mask, r2, np.inf), mask=mask, **kw)
        b = distance(np.where(mask, r1, 1e308), np.where(mask, r2, -1e308), mask=mask, **kw)
        np.testing.assert_array_equal(a, b)
        assert a.shape == (3,)
        for k in range(3):
            assert a[k] == pytest.approx(distance(np.where(mask, r1[k], 0), r2, mask=mask, **kw),
                                         rel=1e-14)
    x = np.where(mask, r2, np.nan)
    assert norm(x, "l1", mask=mask) == pytest.approx(np.abs(r2[mask]).sum())
    np.testing.assert_array_equal(normalize(x, "l2", mask=mask)[~mask], 0.0)


def test_bad_input():
    r = np.zeros((2, 3))
    with pytest.raises(ValidationError, match="unknown metric 'l3'.*'l1'"):
        distance(r, r, metric="l3")
    with pytest.raises(ValidationError, match="unknown canonicalization 'epic'.*'mean'"):
        distance(r, r, canonicalization="epic")
    with pytest.raises(ValidationError, match="unknown normalization"):
        distance(r, r, normalization="l7")
    with pytest.raises(ValidationError, match="r1 and r2 must have the same"):
        distance(r, np.zeros((2, 4)))
    with pytest.raises(ValidationError, match="prompt_weights must sum to 1"):
        distance(r, r, prompt_weights=[0.3, 0.3])
    with pytest.raises(ValidationError, match="prompt_weights must be non-negative"):
        distance(r, r, prompt_weights=[1.5, -0.5])
    with pytest.raises(ValidationError, match=r"prompt_weights must have shape \(2,\)"):
        distance(r, r, prompt_weights=[1.0])
    with pytest.raises(ValidationError, match="r2 has 1 NaN"):
        distance(r, np.array([[0.0, 1.0, np.nan], [0, 0, 0]]))
    with pytest.raises(ValidationError, match="rewards must have shape"):
        pairwise_distances(r)
    with pytest.raises(ValidationError, match="batch axes"):
        distance(np.zeros((2, 2, 3)), np.zeros((3, 2, 3)))
    with pytest.raises(ValidationError, match="x must have shape"):
        norm(np.zeros(3))
    with pytest.raises(ValidationError, match="unknown ord"):
        norm(r, "l5")
    with pytest.raises(ValidationError, match="reference must have shape"):
        normalize(r, reference=np.zeros((2, 4)))
    with pytest.raises(ValidationError, match="mask must have shape"):
        normalize(r, mask=np.ones((2, 2), bool))


FUSED = [(c, n, m) for c in ("mean", "midrange", "none") for n in NORMS for m in NORMS]


@given(prob=problems(max_n=6, max_m=6), data=st.data())
def test_fused_kernel_matches_the_numpy_oracle(prob, data):
    """The numba kernel used for large inputs against the numpy path (small inputs)."""
    from starc.bandit.distances import _fused

    method, normalization, metric = data.draw(st.sampled_from(FUSED))
    fast = _fused(prob.r1, prob.r2, prob.mask, prob.mu, prob.nu, method, normalization,
                  metric, force=True)
    oracle = distance(prob.r1, prob.r2, canonicalization=method,
                      normalization=normalization, metric=metric, **prob.kw_nu)
    assert fast is not None
    tol = 1e-12 + 1e-13 * prob.r1.size * (
        conditioning(prob.r1, method, prob.mask, prob.nu)
        + conditioning(prob.r2, method, prob.mask, prob.nu))
    assert fast == pytest.approx(oracle, rel=1e-10, abs=max(tol, 1e-10))


def test_large_inputs_take_the_kernel_and_keep_the_checks():
    from starc.bandit.distances import FUSED_MIN_SIZE

    rng = np.random.default_rng(0)
    n = FUSED_MIN_SIZE // 8 + 1
    r1, r2 = rng.normal(size=(n, 8)), rng.normal(size=(n, 8))
    mask = rng.random((n, 8)) < 0.7
    mask[:, 0] = True
    a, b = np.where(mask, r1, np.nan), np.where(mask, r2, -np.inf)
    for kw in ({}, {"canonicalization": "midrange", "metric": "weighted_linf",
                    "normalization": "weighted_l1"}):
        fast = distance(a, b, mask=mask, **kw)
        # the numpy oracle on the same data, through a batch axis (never fused)
        oracle = distance(a[None], b, mask=mask, **kw)[0]
        assert fast == pytest.approx(oracle, rel=1e-12)
    # scores too large to square go through the scaled numpy path
    assert distance(1e300 * r1, r2) == pytest.approx(distance(r1[None], r2)[0], rel=1e-12)
    bad = r1.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValidationError, match="r1 has 1 NaN"):
        distance(bad, r2)
    empty = mask.copy()
    empty[7] = False
    with pytest.raises(ValidationError, match="mask leaves 1 prompt"):
        distance(a, b, mask=empty)


def _layouts(n, m, seed):
    """Scores with NaN/inf padding, a mask mixing prefix rows (read in place) and scattered
    rows (copied), and prompt weights with zeros."""
    rng = np.random.default_rng(seed)
    r1 = rng.normal(size=(n, m))
    r2 = 0.5 * r1 + rng.normal(size=(n, m)) + rng.normal(size=(n, 1))
    mask = np.arange(m) < rng.integers(1, m + 1, n)[:, None]
    scattered = rng.random(n) < 0.3
    mask[scattered] = rng.permuted(mask[scattered], axis=1)
    mu = rng.random(n)
    mu[::7] = 0.0
    return (np.where(mask, r1, np.nan), np.where(mask, r2, -np.inf), mask, mu / mu.sum())


@pytest.mark.parametrize("m", [8, 16, 13])
def test_fused_kernel_mask_layouts_match_the_numpy_oracle(m):
    """Several blocks of prompts; m a multiple of 8 (the mask read as words) or not; prefix
    and scattered mask rows; uniform or given prompt weights: every covered option."""
    from starc.bandit._kernels import BLOCK
    from starc.bandit.distances import _fused

    a, b, mask, mu = _layouts(2 * BLOCK + 37, m, seed=m)
    for method, normalization, metric in FUSED:
        for pw in (None, mu):
            fast = _fused(a, b, mask, pw, None, method, normalization, metric, force=True)
            oracle = distance(a[None], b, mask=mask, prompt_weights=pw,
                              canonicalization=method, normalization=normalization,
                              metric=metric)[0]
            assert fast == pytest.approx(oracle, rel=1e-12, abs=1e-14), (method,
                                                                        normalization,
                                                                        metric, pw is None)


def test_fused_l2_distance_of_near_equal_rewards_matches_the_oracle():
    """The L2/L2 kernel's first-pass formula d^2 = 2 - 2<s1, s2> is refused for small d
    (recomputed from the differences): d(R, R + eps noise) and d(R, aR + f) agree with the
    numpy oracle to 1e-12 of their size or 1e-15."""
    from starc.bandit.distances import FUSED_MIN_SIZE

    rng = np.random.default_rng(11)
    n, m = FUSED_MIN_SIZE // 16 + 5, 16
    r = rng.normal(size=(n, m))
    mask = np.arange(m) < rng.integers(4, m + 1, n)[:, None]
    others = [r + s * rng.normal(size=(n, m)) for s in (1e-12, 1e-9, 1e-6, 1e-3, 0.3, 1.0)]
    others.append(3.0 * r + rng.normal(size=(n, 1)))
    for method in ("mean", "midrange", "none"):
        for weighted in ("", "weighted_"):
            kw = {"canonicalization": method, "normalization": weighted + "l2",
                  "metric": weighted + "l2", "mask": mask}
            for r2 in others:
                fast = distance(r, r2, **kw)
                oracle = distance(r[None], r2, **kw)[0]
                assert fast == pytest.approx(oracle, rel=1e-12, abs=1e-15)
    assert distance(r, r + 1e-12 * rng.normal(size=(n, m)), mask=mask) > 1e-14


def test_fused_kernel_does_not_depend_on_the_thread_count():
    """Blocks of prompts are combined in block order: the same bits with 1 and 2 threads."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from starc.bandit import distance\n"
        "rng = np.random.default_rng(0)\n"
        "r1 = rng.normal(size=(9000, 16)); r2 = r1 + rng.standard_t(3, (9000, 16))\n"
        "mask = np.arange(16) < rng.integers(8, 17, 9000)[:, None]\n"
        "kws = [{}, {'metric': 'l1', 'normalization': 'weighted_l1'},\n"
        "       {'canonicalization': 'midrange', 'metric': 'linf', 'normalization': 'l2'}]\n"
        "out = [distance(r1, r2, mask=mask, **kw) for kw in kws]\n"
        "out.append(distance(r1, r1 + 1e-9 * r2, mask=mask))\n"
        "print([float(x).hex() for x in out])\n")
    runs = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=600, check=True)
        runs.append(proc.stdout.strip())
    assert runs[0] == runs[1]
    assert runs[0].count("0x") == 4


# ----------------------------------------------------------------- API fuzz regressions


def _pair_of_signs(seed=0, shape=(4, 3)):
    rng = np.random.default_rng(seed)
    return np.sign(rng.normal(size=shape)), np.sign(rng.normal(size=shape))


def test_subnormal_scores_are_scaled_not_inverted():
    # 1 / 5e-324 overflows; the scale is a power of two instead. Every normalized distance
    # is scale invariant, so the subnormal rewards are at the distance of their signs.
    s1, s2 = _pair_of_signs()
    mask = np.ones(s1.shape, bool)
    mask[1, 2] = False
    for kw in ({}, {"canonicalization": "midrange", "normalization": "linf",
                    "metric": "linf"}, {"mask": mask}):
        assert distance(5e-324 * s1, s2, **kw) == pytest.approx(distance(s1, s2, **kw),
                                                                rel=1e-12)
        assert distance(5e-324 * s1, 5e-324 * s2, **kw) == pytest.approx(
            distance(s1, s2, **kw), rel=1e-12)
    assert pearson_distance(5e-324 * s1, s2) == pytest.approx(pearson_distance(s1, s2),
                                                              rel=1e-12)
    np.testing.assert_allclose(pairwise_distances(np.stack([5e-324 * s1, s2, s1])),
                               pairwise_distances(np.stack([s1, s2, s1])), rtol=1e-12)


def test_unnormalized_distance_at_the_ends_of_float64():
    s1, s2 = _pair_of_signs(1)
    # a subnormal reward next to a huge one: its canonical is 0 to float64 precision
    huge = 2.0**1000 * s2
    expected = distance(np.zeros_like(s1), huge, normalization=None)
    assert expected == pytest.approx(2.0**1000 * float(norm(canonicalize(s2), "l2")),
                                     rel=1e-14)
    assert distance(5e-324 * s1, huge, normalization=None) == pytest.approx(expected,
                                                                            rel=1e-14)
    # exact scaling: d(2^k R1, 2^k R2) = 2^k d(R1, R2) down to subnormal scores
    assert distance(5e-324 * s1, 5e-324 * s2, normalization=None) == pytest.approx(
        5e-324 * distance(s1, s2, normalization=None), rel=1e-12)
    # a distance beyond float64 is refused, not returned as inf (nor a RuntimeWarning)
    with pytest.raises(ValidationError, match="beyond the float64 range"):
        distance(1.7e308 * s1, -1.7e308 * s1, normalization=None)
    with pytest.raises(ValidationError, match="beyond the float64 range"):
        pairwise_distances(np.stack([1.7e308 * s1, -1.7e308 * s1]), normalization=None)


@pytest.mark.parametrize("weights", [[1.7e308, -1.7e308, 1.7e308, 1.7e308],
                                     [1.7e308, 0.0, 0.0, 0.0], [2.0, -1.0, 0.0, 0.0]])
def test_prompt_weights_outside_the_unit_interval_are_refused_before_summing(weights):
    r = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(ValidationError, match="prompt_weights"):
        distance(r, 2 * r, prompt_weights=np.array(weights))
    with pytest.raises(ValidationError, match="prompt_weights"):
        norm(r, "weighted_l2", prompt_weights=np.array(weights))
    nu = np.full((4, 3), 1 / 3)
    nu[0] = [1.7e308, 0.0, 0.0]
    with pytest.raises(ValidationError, match=r"response_weights has the entry .* \[0, 1\]"):
        distance(r, 2 * r, response_weights=nu)


def test_ragged_lists_are_refused_naming_the_argument():
    r = np.zeros((2, 2))
    ragged = [[1.0, 2.0], [3.0]]
    with pytest.raises(ValidationError, match="r1 must be a numeric array"):
        distance(ragged, r)
    with pytest.raises(ValidationError, match="r2 must be a numeric array"):
        pearson_distance(r, ragged)
    with pytest.raises(ValidationError, match="mask must be a boolean array"):
        distance(r, r, mask=ragged)
    with pytest.raises(ValidationError, match="x must be a numeric array"):
        normalize(ragged)
    with pytest.raises(ValidationError, match="rewards must be a numeric array"):
        pairwise_distances([ragged, ragged])

