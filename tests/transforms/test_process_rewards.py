"""Tests of starc.transforms.process_rewards: Clip, Delta, Clip-Delta and returns-to-go."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from starc import ValidationError
from starc.transforms import (clip_delta_process_rewards, clip_process_rewards,
                              delta_process_rewards, returns_to_go)

steps = st.lists(st.floats(-5.0, 5.0), min_size=1, max_size=30)
eta = st.floats(-2.0, 2.0)


def loop_returns(r, gamma):
    out = np.zeros(len(r))
    g = 0.0
    for k in range(len(r) - 1, -1, -1):
        g = r[k] + gamma * g
        out[k] = g
    return out


class TestReturnsToGo:
    @given(steps, st.floats(0.0, 1.0))
    def test_against_loop(self, r, gamma):
        np.testing.assert_allclose(returns_to_go(r, gamma), loop_returns(r, gamma),
                                   rtol=1e-12, atol=1e-12)

    def test_lengths_ignore_padding(self):
        r = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 99.0]])
        out = returns_to_go(r, lengths=[3, 2])
        np.testing.assert_allclose(out, [[6.0, 5.0, 3.0], [9.0, 5.0, 0.0]])

    @pytest.mark.parametrize("gamma", [-0.1, 1.1, float("nan")])
    def test_bad_gamma(self, gamma):
        with pytest.raises(ValidationError, match="gamma must"):
            returns_to_go([1.0], gamma)


class TestClip:
    @given(steps, eta)
    def test_returns_non_positive(self, r, e):
        g = returns_to_go(clip_process_rewards(r, e))
        assert np.all(g <= 0.0)

    @given(steps, st.floats(-5.0, 5.0), eta)
    def test_appending_a_step_never_increases_the_return(self, r, extra, e):
        before = returns_to_go(clip_process_rewards(r, e))[0]
        after = returns_to_go(clip_process_rewards(r + [extra], e))[0]
        assert after <= before + 1e-12

    def test_values(self):
        np.testing.assert_allclose(clip_process_rewards([0.9, 0.2, 0.6], 0.5),
                                   [0.0, -0.3, 0.0])


class TestDelta:
    @given(steps)
    def test_returns_telescope(self, r):
        r = np.array(r)
        g = returns_to_go(delta_process_rewards(r))
        np.testing.assert_allclose(g, r - r[-1], atol=1e-12)
        g_keep = returns_to_go(delta_process_rewards(r, final="keep"))
        np.testing.assert_allclose(g_keep, r, atol=1e-12)

    @given(st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=400))
    def test_bounded_whatever_the_length(self, r):
        g = returns_to_go(delta_process_rewards(r))
        assert np.all(np.abs(g) <= 2.0 + 1e-12)           # 2 max|r_t| with |r_t| <= 1

    def test_redundant_steps_do_not_pay(self):
        useful = [0.3, 0.5, 0.7]
        returns = [returns_to_go(delta_process_rewards(useful + [0.8] * m))[0]
                   for m in range(1, 50)]
        np.testing.assert_allclose(returns, 0.3 - 0.8, atol=1e-12)
        raw = [returns_to_go(useful + [0.8] * m)[0] for m in range(1, 50)]
        assert np.all(np.diff(raw) > 0)

    @given(steps, eta)
    def test_clip_delta_telescopes_on_clipped_rewards(self, r, e):
        c = np.minimum(np.array(r) - e, 0.0)
        g = returns_to_go(clip_delta_process_rewards(r, e))
        np.testing.assert_allclose(g, c - c[-1], atol=1e-12)

    def test_lengths_match_separate_traces(self):
        rng = np.random.default_rng(0)
        traces = [rng.uniform(size=k) for k in (1, 4, 7)]
        padded = np.zeros((3, 7))
        for i, t in enumerate(traces):
            padded[i, : t.size] = t
        lengths = np.array([1, 4, 7])
        for fn in (lambda x, **kw: clip_process_rewards(x, 0.5, **kw),
                   delta_process_rewards,
                   lambda x, **kw: clip_delta_process_rewards(x, 0.5, **kw)):
            out = fn(padded, lengths=lengths)
            for i, t in enumerate(traces):
                np.testing.assert_allclose(out[i, : t.size], fn(t), atol=1e-15)
                np.testing.assert_array_equal(out[i, t.size:], 0.0)

    def test_zero_length_trace(self):
        out = delta_process_rewards(np.ones((2, 3)), lengths=[0, 3])
        np.testing.assert_array_equal(out[0], 0.0)


@pytest.mark.parametrize("fn", [clip_process_rewards, delta_process_rewards,
                                clip_delta_process_rewards, returns_to_go])
class TestBadInputs:
    def test_nan(self, fn):
        with pytest.raises(ValidationError, match="r contains 1 NaN"):
            fn([0.1, np.nan])

    def test_no_steps(self, fn):
        with pytest.raises(ValidationError, match="r must have at least one step"):
            fn(np.zeros((2, 0)))

    @pytest.mark.parametrize("lengths, match", [
        ([4, 1], r"lengths must lie in \[0, 3\]"),
        ([-1, 1], r"lengths must lie in \[0, 3\]"),
        ([1.5, 1], "lengths must be an integer array"),
        ([1, 2, 3], "must broadcast to the trace shape"),
    ])
    def test_bad_lengths(self, fn, lengths, match):
        with pytest.raises(ValidationError, match=match):
            fn(np.zeros((2, 3)), lengths=lengths)


def test_unknown_final_and_bad_eta():
    with pytest.raises(ValidationError, match="unknown final 'last'; valid values are"):
        delta_process_rewards([1.0], final="last")
    with pytest.raises(ValidationError, match="eta must be finite"):
        clip_process_rewards([1.0], float("inf"))


def test_process_rewards_of_extreme_magnitude_exact_or_refused():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(returns_to_go([1.7e308, 1.7e308, -1.7e308]),
                                      [1.7e308, 0.0, -1.7e308])
        with pytest.raises(ValidationError, match="float64 range"):
            returns_to_go([1.7e308, 1.7e308])
        with pytest.raises(ValidationError, match="float64 range"):
            delta_process_rewards([1.7e308, -1.7e308, 0.0])
        np.testing.assert_array_equal(delta_process_rewards([1e308, -5e307, 0.0]),
                                      [1.5e308, -5e307, 0.0])
