"""Over-optimisation curves (starc.bandit.overoptimization) against independent references.

References: Monte-Carlo simulation of best-of-n (tolerance from the standard error),
brute-force enumeration of all n-tuples of draws, the argmax and reference-policy limits
written out by hand, and monotonicity theorems for proxy == true.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from starc import ValidationError
from starc.bandit import OVEROPTIMIZATION_COLUMNS, overoptimization, plot_overoptimization


def ragged_problem(seed: int, n_prompts: int = 4, m: int = 5, *, ties: bool = True,
                   weights: bool = True):
    """Rewards with a ragged mask (NaN padding), proxy ties, non-uniform mu and nu."""
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=(n_prompts, m)) < 0.75
    mask[:, 0] = True
    r_true = rng.standard_normal((n_prompts, m))
    r_proxy = r_true + rng.standard_normal((n_prompts, m))
    if ties:
        r_proxy = np.round(r_proxy * 2) / 2          # coarse scores: many ties
    r_true[~mask] = np.nan
    r_proxy[~mask] = np.nan
    mu = nu = None
    if weights:
        mu = rng.dirichlet(np.ones(n_prompts))
        nu = np.where(mask, rng.uniform(0.2, 1.0, (n_prompts, m)), 0.0)
        nu /= nu.sum(axis=1, keepdims=True)
    return r_true, r_proxy, mask, mu, nu


def enumerate_best_of_n(r_proxy, nu, n: int) -> np.ndarray:
    """pi_n(y) for one prompt by summing over all m**n tuples of draws (ties uniform)."""
    m = len(nu)
    pi = np.zeros(m)
    for draw in itertools.product(range(m), repeat=n):
        p = math.prod(nu[j] for j in draw)
        if p == 0:
            continue
        best = max(r_proxy[j] for j in draw)
        winners = [j for j in draw if r_proxy[j] == best]
        for j in winners:
            pi[j] += p / len(winners)
    return pi


def gains(pi, nu, r, mu):
    """Mean gain of per-prompt policies pi (list of arrays) over nu."""
    return sum(w * (p - q) @ x for w, p, q, x in zip(mu, pi, nu, r))


def compact(a, mask):
    return [row[keep] for row, keep in zip(a, mask)]


class TestBestOfN:
    def test_against_enumeration(self):
        r_true, r_proxy, mask, mu, nu = ragged_problem(3)
        ns = [1, 2, 3, 4]
        t = overoptimization(r_true, r_proxy, n=ns, kl=[], prompt_weights=mu,
                             response_weights=nu, mask=mask)
        rt, rp, q = compact(r_true, mask), compact(r_proxy, mask), compact(nu, mask)
        top = sum(w * (x.max() - p @ x) for w, p, x in zip(mu, q, rt))
        for k, n in enumerate(ns):
            pi = [enumerate_best_of_n(a, b, n) for a, b in zip(rp, q)]
            kl = sum(w * np.sum(np.where(p > 0, p * np.log(p / b), 0.0))
                     for w, p, b in zip(mu, pi, q))
            assert t["kl"][k] == pytest.approx(kl, rel=1e-12, abs=1e-15)
            assert t["kl"][k] <= t["kl_bound"][k] + 1e-12
            assert t["kl_bound"][k] == pytest.approx(math.log(n) - (n - 1) / n)
            assert t["true_gain"][k] == pytest.approx(gains(pi, q, rt, mu), abs=1e-12)
            assert t["proxy_gain"][k] == pytest.approx(gains(pi, q, rp, mu), abs=1e-12)
            assert t["true_gain_normalized"][k] == pytest.approx(gains(pi, q, rt, mu) / top,
                                                                 abs=1e-12)
        assert t["method"].tolist() == ["best_of_n"] * 4
        assert t["n"].tolist() == ns and np.all(np.isnan(t["beta"]))

    def test_against_simulation(self):
        """Monte-Carlo best-of-n: draw n responses from nu, keep the proxy-best (ties at
        random); its mean true gain must lie within 5 standard errors of the exact value."""
        r_true, r_proxy, mask, mu, nu = ragged_problem(7, n_prompts=3, m=6)
        ns = [2, 5, 11]
        t = overoptimization(r_true, r_proxy, n=ns, kl=[], prompt_weights=mu,
                             response_weights=nu, mask=mask)
        rng = np.random.default_rng(12345)
        sims = 40_000
        for k, n in enumerate(ns):
            estimate, variance = 0.0, 0.0
            for i in range(r_true.shape[0]):
                draws = rng.choice(r_true.shape[1], size=(sims, n), p=nu[i])
                score = r_proxy[i][draws] + 1e-9 * rng.uniform(size=(sims, n))  # random tie
                keep = draws[np.arange(sims), np.argmax(score, axis=1)]        # break
                value = r_true[i][keep] - nu[i, mask[i]] @ r_true[i, mask[i]]
                estimate += mu[i] * value.mean()
                variance += mu[i] ** 2 * value.var(ddof=1) / sims
            se = math.sqrt(variance)
            assert se > 0
            assert abs(t["true_gain"][k] - estimate) < 5 * se, (n, estimate, se)

    def test_n_one_is_reference_policy(self):
        r_true, r_proxy, mask, mu, nu = ragged_problem(1)
        t = overoptimization(r_true, r_proxy, n=[1], kl=[], prompt_weights=mu,
                             response_weights=nu, mask=mask)
        assert t["kl"][0] == pytest.approx(0.0, abs=1e-15)
        assert t["true_gain"][0] == pytest.approx(0.0, abs=1e-15)


class TestKLRegularized:
    def test_requested_kl_is_reached(self):
        r_true, r_proxy, mask, mu, nu = ragged_problem(4, n_prompts=6, m=7, ties=False)
        kls = [0.0, 0.05, 0.3, 0.8]
        t = overoptimization(r_true, r_proxy, n=[], kl=kls, prompt_weights=mu,
                             response_weights=nu, mask=mask)
        np.testing.assert_allclose(t["kl"], kls, rtol=1e-9, atol=1e-15)
        assert t["beta"][0] == math.inf and np.all(np.diff(t["beta"][1:]) < 0)
        # the policy at each temperature, written out independently
        rt, rp, q = compact(r_true, mask), compact(r_proxy, mask), compact(nu, mask)
        for k, beta in enumerate(t["beta"][1:], start=1):
            pi = []
            for x, b in zip(rp, q):
                a = b * np.exp((x - x.max()) / beta)
                pi.append(a / a.sum())
            kl = sum(w * np.sum(p * np.log(p / b)) for w, p, b in zip(mu, pi, q))
            assert kl == pytest.approx(kls[k], rel=1e-9)
            assert t["true_gain"][k] == pytest.approx(gains(pi, q, rt, mu), abs=1e-12)

    def test_beta_zero_is_argmax_with_ties(self):
        r_true, r_proxy, mask, mu, nu = ragged_problem(5)
        i = int(np.argmax(mask.sum(axis=1) >= 2))
        two = np.flatnonzero(mask[i])[:2]
        r_proxy[i, two] = np.nanmax(r_proxy[i]) + 1.0     # two responses tie at the top
        t = overoptimization(r_true, r_proxy, n=[], betas=[0.0, 1e-9, math.inf, 1e12],
                             prompt_weights=mu, response_weights=nu, mask=mask)
        rt, rp, q = compact(r_true, mask), compact(r_proxy, mask), compact(nu, mask)
        pi = []
        for x, b in zip(rp, q):
            top = np.where(x == x.max(), b, 0.0)   # nu restricted to the proxy's best set
            pi.append(top / top.sum())
        assert any((x == x.max()).sum() > 1 for x in rp)   # the example has ties at the top
        argmax_kl = sum(w * -np.log(b[x == x.max()].sum()) for w, b, x in zip(mu, q, rp))
        for k in (0, 1):
            assert t["true_gain"][k] == pytest.approx(gains(pi, q, rt, mu), abs=1e-12)
            assert t["kl"][k] == pytest.approx(argmax_kl, rel=1e-12)
        # beta -> inf: the reference policy
        for k in (2, 3):
            assert t["true_gain"][k] == pytest.approx(0.0, abs=1e-11)
            assert t["kl"][k] == pytest.approx(0.0, abs=1e-11)
        assert t["kl"][2] == 0.0 and t["true_gain"][2] == pytest.approx(0.0, abs=1e-15)

    def test_default_grid_and_unreachable_kl(self):
        r_true, r_proxy, mask, mu, nu = ragged_problem(6, ties=False)
        t = overoptimization(r_true, r_proxy, n=[], mask=mask)
        assert t["kl"].size == 20 and t["kl"][0] == 0.0 and np.all(np.diff(t["kl"]) > 0)
        kl_max = np.mean([np.log(k) for k in mask.sum(axis=1)])   # distinct proxy scores
        assert t["kl"][-1] == pytest.approx(0.95 * kl_max, rel=0.02)   # interpolated
        grid = np.linspace(0.0, 1.0, 20) ** 2 * 0.95 * kl_max
        np.testing.assert_allclose(t["kl"], grid, rtol=0.05, atol=1e-3 * kl_max)
        # the kl column is the exact KL of each tabulated policy
        for beta, kl in zip(t["beta"][1:], t["kl"][1:]):
            exact = overoptimization(r_true, r_proxy, n=[], betas=[beta], mask=mask)["kl"][0]
            assert kl == exact
        with pytest.raises(ValidationError, match="kl values must be below kl_max"):
            overoptimization(r_true, r_proxy, n=[], kl=[kl_max], mask=mask)

    def test_constant_proxy_has_only_kl_zero(self):
        r_true = np.arange(6.0).reshape(2, 3)
        t = overoptimization(r_true, np.ones((2, 3)), n=[4])
        assert t["kl"].tolist() == [0.0, 0.0] and t["true_gain"].tolist() == [0.0, 0.0]
        assert t["proxy_gain_normalized"].tolist() == [0.0, 0.0]   # trivial proxy: 0, no NaN


@st.composite
def same_reward_problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n_prompts = draw(st.integers(1, 5))
    m = draw(st.integers(1, 6))
    ties = draw(st.booleans())
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((n_prompts, m)) * draw(st.sampled_from([1e-3, 1.0, 1e3]))
    if ties:
        r = np.round(r / np.abs(r).max() * 2) if np.abs(r).max() > 0 else r
    mask = rng.uniform(size=(n_prompts, m)) < 0.7
    mask[np.arange(n_prompts), rng.integers(0, m, n_prompts)] = True
    mu = rng.dirichlet(np.ones(n_prompts))
    nu = np.where(mask, rng.uniform(0.1, 1.0, (n_prompts, m)), 0.0)
    nu /= nu.sum(axis=1, keepdims=True)
    return r, mask, mu, nu


class TestProperties:
    @given(same_reward_problems())
    def test_gain_monotone_when_proxy_is_true(self, problem):
        r, mask, mu, nu = problem
        betas = [math.inf, 100.0, 10.0, 3.0, 1.0, 0.3, 0.1, 0.01, 0.0]
        t = overoptimization(r, r, n=[1, 2, 3, 5, 8, 13, 21], betas=betas, prompt_weights=mu,
                             response_weights=nu, mask=mask)
        bon = t["method"] == "best_of_n"
        scale = 1e-12 * max(np.abs(r[mask]).max(), 1e-300)
        for rows in (bon, ~bon):
            g = t["true_gain"][rows]
            assert np.all(np.diff(g) >= -scale), g
            assert np.all(g >= -scale)
            assert np.all(np.diff(t["kl"][rows]) >= -1e-12)
            assert np.all(t["true_gain_normalized"][rows] <= 1 + 1e-12)
        np.testing.assert_array_equal(t["true_gain"], t["proxy_gain"])
        # the argmax attains the best possible gain
        assert t["true_gain_normalized"][-1] == pytest.approx(
            1.0 if t["true_gain"][-1] > scale else 0.0, abs=1e-9)

    @given(same_reward_problems(), st.sampled_from([np.nan, np.inf, -1e300, 7.0]))
    def test_padding_is_never_read(self, problem, garbage):
        r, mask, mu, nu = problem
        rng = np.random.default_rng(0)
        other = r + rng.standard_normal(r.shape)
        kw = dict(n=[1, 3, 9], betas=[math.inf, 1.0, 0.1, 0.0], prompt_weights=mu, mask=mask)
        clean = overoptimization(r, other, response_weights=nu, **kw)
        dirty = overoptimization(np.where(mask, r, garbage), np.where(mask, other, -garbage),
                                 response_weights=np.where(mask, nu, garbage), **kw)
        for c in OVEROPTIMIZATION_COLUMNS:
            np.testing.assert_array_equal(clean[c], dirty[c])
        for c in ("kl", "true_gain", "true_gain_normalized", "proxy_gain",
                  "proxy_gain_normalized"):
            assert np.all(np.isfinite(clean[c]))

    def test_moving_padding_changes_nothing(self):
        """The same ragged data, padded at the end or with holes, gives the same table."""
        r_true, r_proxy, mask, mu, nu = ragged_problem(9, ties=True)
        perm = np.random.default_rng(1).permutation(r_true.shape[1])
        kw = dict(n=[1, 2, 6], kl=[0.0, 0.1, 0.4], prompt_weights=mu)
        a = overoptimization(r_true, r_proxy, response_weights=nu, mask=mask, **kw)
        b = overoptimization(r_true[:, perm], r_proxy[:, perm], response_weights=nu[:, perm],
                             mask=mask[:, perm], **kw)
        for c in OVEROPTIMIZATION_COLUMNS[1:]:
            np.testing.assert_allclose(a[c], b[c], rtol=1e-9, atol=1e-14)

    def test_prompt_weights_equal_repeated_prompts(self):
        r_true, r_proxy, mask, _, nu = ragged_problem(2, n_prompts=2)
        rep = [0, 1, 1, 1]
        kw = dict(n=[1, 4], kl=[0.0, 0.2])
        a = overoptimization(r_true, r_proxy, mask=mask, response_weights=nu,
                             prompt_weights=[0.25, 0.75], **kw)
        b = overoptimization(r_true[rep], r_proxy[rep], mask=mask[rep],
                             response_weights=nu[rep], **kw)
        for c in OVEROPTIMIZATION_COLUMNS[1:]:
            np.testing.assert_allclose(a[c], b[c], rtol=1e-8, atol=1e-14)

    def test_per_prompt_offsets_and_scale_change_nothing(self):
        r_true, r_proxy, mask, mu, nu = ragged_problem(8, ties=False)
        offsets = np.arange(r_true.shape[0])[:, None] * 10.0
        kw = dict(n=[1, 4], betas=[math.inf, 0.5, 0.0], prompt_weights=mu,
                  response_weights=nu, mask=mask)
        a = overoptimization(r_true, r_proxy, **kw)
        b = overoptimization(3.0 * r_true - offsets, r_proxy + offsets, **kw)
        np.testing.assert_allclose(b["true_gain"], 3.0 * a["true_gain"], atol=1e-12)
        np.testing.assert_allclose(b["true_gain_normalized"], a["true_gain_normalized"],
                                   atol=1e-12)
        np.testing.assert_allclose(b["kl"], a["kl"], rtol=1e-10, atol=1e-14)


class TestOutput:
    def test_frame_and_columns(self):
        pd = pytest.importorskip("pandas")
        r_true, r_proxy, mask, mu, nu = ragged_problem(0)
        t = overoptimization(r_true, r_proxy, n=[1, 2], kl=[0.0, 0.1], mask=mask)
        f = overoptimization(r_true, r_proxy, n=[1, 2], kl=[0.0, 0.1], mask=mask,
                             as_frame=True)
        assert isinstance(f, pd.DataFrame) and tuple(f.columns) == OVEROPTIMIZATION_COLUMNS
        assert tuple(t) == OVEROPTIMIZATION_COLUMNS
        for c in OVEROPTIMIZATION_COLUMNS:
            np.testing.assert_array_equal(f[c].to_numpy(), t[c])
        assert all(t[c].dtype == np.float64 for c in OVEROPTIMIZATION_COLUMNS[1:])

    def test_empty_grids_give_an_empty_table(self):
        for kw in ({"kl": []}, {"betas": []}):
            t = overoptimization(np.eye(3), np.eye(3), n=[], **kw)
            assert tuple(t) == OVEROPTIMIZATION_COLUMNS
            assert all(len(v) == 0 for v in t.values())

    def test_plot(self):
        import matplotlib.pyplot as plt

        r_true, r_proxy, mask, mu, nu = ragged_problem(0)
        t = overoptimization(r_true, r_proxy, n=[1, 2, 4], kl=[0.0, 0.1, 0.2], mask=mask)
        ax = plot_overoptimization(t)
        labels = [line.get_label() for line in ax.get_lines()]
        assert "best-of-n: true reward" in labels and "KL-regularised: proxy" in labels
        best = next(line for line in ax.get_lines() if line.get_label() ==
                    "best-of-n: true reward")
        np.testing.assert_allclose(best.get_xdata(), t["kl"][:3])
        np.testing.assert_allclose(best.get_ydata(), t["true_gain_normalized"][:3])
        plt.close(ax.figure)
        # from the arrays, against n, in reward units, into a given axes
        fig, ax2 = plt.subplots()
        out = plot_overoptimization(r_true, r_proxy, mask=mask, n=[1, 2, 4], kl=[0.0],
                                    ax=ax2, x="n", normalized=False, show_proxy=False)
        assert out is ax2 and len(ax2.get_lines()) == 2   # best-of-n + the zero line
        np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), t["true_gain"][:3])
        plt.close(fig)

    def test_plot_from_frame(self):
        pytest.importorskip("pandas")
        import matplotlib.pyplot as plt

        r = np.arange(12.0).reshape(3, 4)
        ax = plot_overoptimization(overoptimization(r, -r, n=[1, 2], kl=[0.0],
                                                    as_frame=True))
        assert ax.get_lines()
        plt.close(ax.figure)

    @pytest.mark.parametrize("arg, match", [
        ({"a": [1]}, r"lacks the column\(s\)"),
        ("table", "plot_overoptimization needs the table"),
    ])
    def test_plot_bad_table(self, arg, match):
        with pytest.raises(ValidationError, match=match):
            plot_overoptimization(arg)

    def test_plot_bad_options(self):
        t = overoptimization(np.eye(2), np.eye(2), n=[1], kl=[0.0])
        with pytest.raises(ValidationError, match="x"):
            plot_overoptimization(t, x="beta")
        with pytest.raises(ValidationError, match="only used with r_true and r_proxy"):
            plot_overoptimization(t, n=[1])


class TestBadInput:
    R = np.zeros((2, 3))

    @pytest.mark.parametrize("kw, match", [
        ({"r_true": np.zeros(3)}, r"r_true must have shape \(\.\.\., n_prompts"),
        ({"r_true": np.zeros((1, 2, 3))}, r"r_true must have shape \(n_prompts, n_responses\) "
                                          r"\(one reward model\)"),
        ({"r_proxy": np.zeros((2, 4))}, "r_true and r_proxy must have the same"),
        ({"r_true": [[np.nan, 0, 0], [0, 0, 0]]}, r"r_true has 1 NaN .*\(first at index \(0, 0\)\)"),
        ({"r_true": [["a", "b", "c"]] * 2}, "r_true must be real-valued"),
        ({"mask": np.ones((2, 3))}, "mask must be a boolean array"),
        ({"mask": np.ones((3, 2), bool)}, r"mask must have shape \(2, 3\)"),
        ({"mask": np.array([[True] * 3, [False] * 3])}, r"mask leaves 1 prompt\(s\) without a valid response \(first: prompt 1\)"),
        ({"prompt_weights": [1.0]}, r"prompt_weights must have shape \(2,\)"),
        ({"prompt_weights": [0.6, 0.6]}, "prompt_weights must sum to 1"),
        ({"prompt_weights": [-1.0, 2.0]}, "prompt_weights must be non-negative"),
        ({"response_weights": np.ones((2, 3))}, "prompt 0 sums to"),
        ({"response_weights": np.ones(3) / 3}, r"response_weights must have shape \(2, 3\)"),
        ({"response_weights": [[2, -1, 0]] * 2}, "response_weights must be non-negative"),
        ({"n": [0]}, "n must hold integers >= 1"),
        ({"n": [2.5]}, "n must hold integers >= 1"),
        ({"n": True}, "n must hold integers >= 1"),
        ({"kl": [0.1], "betas": [1.0]}, "give kl or betas, not both"),
        ({"kl": [-0.1]}, "kl values must be >= 0"),
        ({"betas": [-1.0]}, r"betas must be temperatures in \[0, inf\]"),
        ({"betas": [np.nan]}, r"betas must be temperatures in \[0, inf\]"),
        ({"betas": [[1.0]]}, "betas must be a 1-D array"),
        ({"as_frame": "yes"}, "as_frame must be True or False"),
    ])
    def test_messages(self, kw, match):
        args = {"r_true": np.arange(6.0).reshape(2, 3), "r_proxy": -np.arange(6.0).reshape(2, 3)}
        args.update(kw)
        r_true, r_proxy = args.pop("r_true"), args.pop("r_proxy")
        with pytest.raises(ValidationError, match=match):
            overoptimization(r_true, r_proxy, **args)


# ----------------------------------------------------------------- API fuzz regressions


def test_gains_of_huge_scores_are_exact_or_refused():
    # max - E_nu[R] = 1.7e308 * 4/3 overflowed; the gains are computed on R / 2**k now
    r_true = np.array([[1.7e308, -1.7e308, -1.7e308]])
    r_proxy = np.array([[1.0, 0.0, 0.0]])
    table = overoptimization(r_true, r_proxy, n=[1, 4], betas=[])
    # best-of-4 under uniform nu: pi = (65, 8, 8) / 81 (closed form)
    # (n = 1 is nu up to the round-off of the policy: relative to the scale 1.7e308)
    assert table["true_gain"].tolist() == pytest.approx([0.0, 76 / 81 * 1.7e308], rel=1e-14,
                                                        abs=1e-14 * 1.7e308)
    assert table["true_gain_normalized"].tolist() == pytest.approx([0.0, 57 / 81], rel=1e-14)
    assert table["proxy_gain"].tolist() == pytest.approx([0.0, 38 / 81], rel=1e-14)
    assert table["proxy_gain_normalized"].tolist() == pytest.approx([0.0, 57 / 81],
                                                                    rel=1e-14)
    # the argmax gains 1.7e308 * 4/3: beyond float64, refused rather than inf
    with pytest.raises(ValidationError, match="true gain is beyond the float64 range"):
        overoptimization(r_true, r_proxy, n=[], betas=[0.0])
    # subnormal scores: the normalized curves are those of the signs
    tiny = overoptimization(5e-324 * np.sign(r_true), r_proxy, n=[4], betas=[0.0])
    assert tiny["true_gain_normalized"].tolist() == pytest.approx([57 / 81, 1.0], rel=1e-14)


def test_ragged_lists_are_refused_naming_the_argument():
    r = np.zeros((2, 2))
    with pytest.raises(ValidationError, match="r_true must be a numeric array"):
        overoptimization([[1.0, 2.0], [3.0]], r)
    with pytest.raises(ValidationError, match="r_proxy must be a numeric array"):
        overoptimization(r, [[1.0, 2.0], [3.0]])
    with pytest.raises(ValidationError, match="mask must be a boolean array"):
        overoptimization(r, r, mask=[[True, True], [True]])


def test_kl_regularised_policies_of_extreme_proxies():
    # pi_beta ∝ nu exp(R2 / beta) depends on R2 / beta only: a proxy at 1.7e308 with
    # temperatures scaled alike gives the policies (KL, gains) of the unit-scale proxy;
    # before, R2 - max R2 overflowed to -inf and dropped responses
    rng = np.random.default_rng(11)
    r_true = rng.standard_normal((3, 4))
    unit = np.sign(rng.standard_normal((3, 4))) * rng.uniform(0.5, 1.0, (3, 4))
    unit[0] = [1.0, -1.0, 0.5, -0.5]
    huge = unit * 2.0**1023  # +-1.7e308 reached: max - min = 2^1024
    betas = np.array([0.0, 0.25, 1.0, 1.5, np.inf])  # beta * 2^1023 stays finite
    ref = overoptimization(r_true, unit, n=[], betas=betas)
    got = overoptimization(r_true, huge, n=[], betas=betas * 2.0**1023)
    for col in ("kl", "true_gain", "true_gain_normalized", "proxy_gain_normalized"):
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(got["beta"], betas * 2.0**1023)
    # prescribed KL values are reached for a subnormal proxy as for its unit-scale copy
    tiny = overoptimization(r_true, 5e-324 * np.sign(unit), n=[], kl=[0.05, 0.2])
    assert tiny["kl"].tolist() == pytest.approx([0.05, 0.2], rel=1e-9)
    # the default spread leaves out the small KL values whose temperature is beyond float64
    spread = overoptimization(r_true, huge, n=[])
    assert np.all(np.isfinite(spread["beta"][1:])) and spread["beta"][0] == np.inf
    assert np.all(np.diff(spread["kl"]) > 0)
    with pytest.raises(ValidationError, match="temperature beta .* beyond the float64"):
        overoptimization(r_true, huge, n=[], kl=[1e-9])


def test_plot_of_an_empty_table_draws_no_legend():
    import warnings

    r = np.array([[1.0, 0.0], [0.0, 2.0]])
    empty = overoptimization(r, r, n=[], betas=[])
    assert empty["kl"].size == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib: "No artists with labels found"
        ax = plot_overoptimization(empty)
    assert ax.get_legend() is None
    assert plot_overoptimization(r, r, n=[1, 2], betas=[]).get_legend() is not None
