"""starc.adapters.tabulate_callable: numpy reward functions as (S, A, S) arrays."""

from __future__ import annotations

import numpy as np
import pytest

import starc
from starc.adapters import tabulate_callable
from starc.exceptions import ValidationError


@pytest.fixture
def mdp():
    return starc.random_mdp(5, 3, seed=0)


def test_index_features_recover_an_array(mdp):
    table = starc.random_reward(mdp, seed=1)
    out = tabulate_callable(lambda s, a, s2: table[s, a, s2], mdp)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, table)


@pytest.mark.parametrize("batch_size", [None, 1, 7, 75])
def test_vectorized_equals_one_transition_at_a_time(mdp, batch_size):
    rng = np.random.default_rng(0)
    w_s, w_a = rng.standard_normal((3, 4)), rng.standard_normal(3)
    state_feats = rng.standard_normal((5, 3, 4))  # (S, ...) user features
    terminal = np.array([False, True, False, False, True])

    def fn(s, a, s2, done):
        return ((s * w_s).sum((-2, -1)) + a @ w_a + (s2 * w_s).sum((-2, -1)) * 0.5
                + 3.0 * done)

    kw = dict(signature="imitation", state_features=state_feats, action_features="onehot",
              terminal=terminal)
    fast = tabulate_callable(fn, mdp, batch_size=batch_size, **kw)
    ref = np.empty(mdp.shape)
    for s in range(5):
        for a in range(3):
            for s2 in range(5):
                ref[s, a, s2] = fn(state_feats[s][None], np.eye(3)[a][None],
                                   state_feats[s2][None], np.array([float(terminal[s2])]))[0]
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)
    slow = tabulate_callable(lambda s, a, s2, d: fn(s[None], a[None], s2[None],
                                                    np.array([d]))[0],
                             mdp, vectorized=False, **kw)
    np.testing.assert_allclose(slow, ref, rtol=0, atol=1e-12)


def test_done_flags_follow_the_next_state():
    out = tabulate_callable(lambda s, a, s2, d: d, (3, 2), signature="imitation",
                            terminal=[False, False, True])
    np.testing.assert_array_equal(out[:, :, 2], 1.0)
    np.testing.assert_array_equal(out[:, :, :2], 0.0)


def test_onehot_features():
    out = tabulate_callable(lambda s, a, s2: s.argmax(1) * 100 + a.argmax(1) * 10
                            + s2.argmax(1), (3, 2), state_features="onehot",
                            action_features="onehot")
    assert out[2, 1, 0] == 210 and out[0, 0, 2] == 2


def test_wrong_shape_is_named(mdp):
    with pytest.raises(ValidationError, match=r"fn returned shape \(75, 1\).*squeeze"):
        tabulate_callable(lambda s, a, s2: np.zeros((len(s), 1)), mdp)
    with pytest.raises(ValidationError, match="fn returned shape"):
        tabulate_callable(lambda s, a, s2: np.zeros(len(s) + 1), mdp)
    with pytest.raises(ValidationError, match="one number"):
        tabulate_callable(lambda s, a, s2: np.zeros(2), mdp, vectorized=False)


def test_nan_outputs_name_the_transition(mdp):
    def fn(s, a, s2):
        return np.where((s == 2) & (a == 1) & (s2 == 4), np.nan, 0.0)

    with pytest.raises(ValidationError, match=r"fn returned 1 NaN .* \(s=2, a=1, s'=4\)"):
        tabulate_callable(fn, mdp)
    with pytest.raises(ValidationError, match=r"\(s=2, a=1, s'=4\)"):
        tabulate_callable(fn, mdp, batch_size=4)
    with pytest.raises(ValidationError, match="dtype"):
        tabulate_callable(lambda s, a, s2: np.array(["x"] * len(s)), mdp)


def test_bad_options(mdp):
    with pytest.raises(ValidationError, match="fn must be callable"):
        tabulate_callable(np.zeros(mdp.shape), mdp)
    with pytest.raises(ValidationError, match="mdp must be"):
        tabulate_callable(lambda *x: 0.0, np.zeros((2, 2, 2)))
    with pytest.raises(ValidationError, match="unknown signature 'sasd'"):
        tabulate_callable(lambda *x: 0.0, mdp, signature="sasd")
    with pytest.raises(ValidationError, match="unknown state_features 'one-hot'"):
        tabulate_callable(lambda *x: 0.0, mdp, state_features="one-hot")
    with pytest.raises(ValidationError, match=r"action_features must have shape \(3, ...\)"):
        tabulate_callable(lambda *x: 0.0, mdp, action_features=np.zeros((4, 2)))
    with pytest.raises(ValidationError, match=r"terminal must have shape \(5,\)"):
        tabulate_callable(lambda *x: 0.0, mdp, terminal=[True])
    with pytest.raises(ValidationError, match="batch_size"):
        tabulate_callable(lambda *x: 0.0, mdp, batch_size=0)
    with pytest.raises(ValidationError, match="state_features contains"):
        tabulate_callable(lambda *x: 0.0, mdp, state_features=np.full((5, 2), np.nan))


def test_tables_beyond_memory_are_refused_before_allocating(monkeypatch):
    calls = []

    def fn(s, a, s2):
        calls.append(1)
        return 0.0 * s

    # 10^13 transitions (80 TB): refused without a MemoryError and without calling fn
    with pytest.raises(ValidationError, match="tabulate_callable.*reward table.*bytes"):
        tabulate_callable(fn, (10**6, 10))
    # one-hot rows of 10^5 actions need 80 GB on their own (the table, 0.8 MB, fits)
    import starc._validation as V

    monkeypatch.setattr(V, "available_memory_bytes", lambda: 16 * 2**30)
    with pytest.raises(ValidationError, match="action_features='onehot'"):
        tabulate_callable(fn, (1, 10**5), action_features="onehot")
    # a huge user batch_size is clipped to the table, and refused when one batch of
    # inputs alone would not fit
    assert tabulate_callable(fn, (3, 2), batch_size=10**15).shape == (3, 2, 3)
    monkeypatch.setattr(V, "available_memory_bytes", lambda: 2**20)
    with pytest.raises(ValidationError, match="batch_size"):
        tabulate_callable(fn, (200, 2), batch_size=10**6)
    assert len(calls) == 1
