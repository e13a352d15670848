"""Norms and normalization against numpy and hand computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import starc
from strategies import garnet_mdps, reward_arrays


@pytest.mark.parametrize("ord, p", [("l1", 1), ("l2", 2), ("linf", np.inf)])
def test_unweighted_norms_match_numpy(ord, p):
    x = np.random.default_rng(0).standard_normal((3, 4, 2, 4))
    expected = [np.linalg.norm(xi.ravel(), p) for xi in x]
    np.testing.assert_allclose(starc.norm(x, ord), expected, rtol=1e-14)


@given(data=st.data())
def test_weighted_norms_by_hand(data):
    mdp = data.draw(garnet_mdps())
    x = data.draw(reward_arrays(mdp))
    t = mdp.transition
    np.testing.assert_allclose(starc.norm(x, "weighted_l1", mdp=mdp), (t * np.abs(x)).sum(),
                               rtol=1e-12)
    np.testing.assert_allclose(starc.norm(x, "weighted_l2", mdp=mdp),
                               np.sqrt((t * x * x).sum()), rtol=1e-12)
    support_max = max(abs(x[i]) for i in zip(*np.nonzero(t > 0)))
    np.testing.assert_allclose(starc.norm(x, "weighted_linf", mdp=mdp), support_max, rtol=1e-14)


def test_weighted_linf_ignores_impossible_transitions(garnet_mdp):
    x = np.zeros(garnet_mdp.shape)
    x[~garnet_mdp.support] = 1e6
    assert starc.norm(x, "weighted_linf", mdp=garnet_mdp) == 0.0
    assert starc.norm(x, "linf") == 1e6


def test_weighted_norms_of_constant_in_next_state_rewards(small_mdp):
    """On rewards constant in s' the weighted L_p norm is the plain L_p norm over (s, a)."""
    u = np.random.default_rng(1).standard_normal(small_mdp.shape[:2])
    x = np.repeat(u[:, :, None], small_mdp.n_states, axis=-1)
    for p, name in ((1, "l1"), (2, "l2"), (np.inf, "linf")):
        np.testing.assert_allclose(starc.norm(x, f"weighted_{name}", mdp=small_mdp),
                                   np.linalg.norm(u.ravel(), p), rtol=1e-12)


def test_paper_aliases():
    x = np.random.default_rng(2).standard_normal((2, 2, 2))
    assert starc.norm(x, 1) == starc.norm(x, "l1") == starc.norm(x, "1")
    assert starc.norm(x, 2) == starc.norm(x, "l2")
    assert starc.norm(x, float("inf")) == starc.norm(x, "inf") == starc.norm(x, "linf")


@pytest.mark.parametrize("ord", starc.NORMS)
def test_normalize_unit_norm_and_zero(ord, small_mdp):
    x = np.random.default_rng(3).standard_normal((2,) + small_mdp.shape)
    x[1] = 0.0
    out = starc.normalize(x, ord, mdp=small_mdp)
    np.testing.assert_allclose(starc.norm(out[0], ord, mdp=small_mdp), 1.0, rtol=1e-12)
    assert np.all(out[1] == 0.0)


def test_normalize_treats_round_off_as_zero():
    reference = np.full((2, 2, 2), 1e6)
    tiny = np.full((2, 2, 2), 1e-12)  # a round-off residue of a large computation
    assert np.all(starc.normalize(tiny, "l2", reference=reference) == 0.0)
    assert np.all(starc.normalize(tiny, "l2") != 0.0)  # on its own it is a real reward


def test_bad_inputs(small_mdp):
    x = np.zeros(small_mdp.shape)
    with pytest.raises(starc.ValidationError, match="unknown ord 'l3'.*'l1'"):
        starc.norm(x, "l3")
    with pytest.raises(starc.ValidationError, match="pass mdp="):
        starc.norm(x, "weighted_l2")
    with pytest.raises(starc.ValidationError, match="x must have shape"):
        starc.norm(np.zeros((2, 2, 2)), "weighted_l1", mdp=small_mdp)
    with pytest.raises(starc.ValidationError, match="x must have at least 3"):
        starc.norm(np.zeros(3), "l2")
    with pytest.raises(starc.ValidationError, match="NaN"):
        starc.normalize(np.full((1, 1, 1), np.inf), "l2")
    with pytest.raises(starc.ValidationError, match="mdp must be"):
        starc.norm(x, "l2", mdp="yes")


def test_normalize_refuses_a_reference_that_does_not_fit():
    x = np.ones((2, 2, 2, 2))
    with pytest.raises(starc.ValidationError, match="reference of shape"):
        starc.normalize(x, "l2", reference=np.ones((3, 2, 2, 2)))
    with pytest.raises(starc.ValidationError, match="reference of shape"):
        starc.normalize(x, "l2", reference=np.ones((2, 2, 2, 3)))
    with pytest.raises(starc.ValidationError, match="reference of shape"):
        starc.normalize(x[0], "l2", reference=x)        # would enlarge x
    # a reference that broadcasts over the batch axes is fine
    np.testing.assert_array_equal(starc.normalize(x, "l2", reference=x[0]),
                                  starc.normalize(x, "l2"))


@pytest.mark.parametrize("ord", starc.NORMS)
def test_ones_norm_is_the_norm_of_the_all_ones_array(ord, garnet_mdp):
    """The closed form ``n(1)`` against ``norm`` of ``np.ones``: exact for the plain norms,
    and for the weighted ones up to the rows of tau summing to 1 within 1e-10."""
    from starc.norms import ones_norm

    expected = starc.norm(np.ones(garnet_mdp.shape), ord, mdp=garnet_mdp)
    got = ones_norm(ord, garnet_mdp.shape)
    assert isinstance(got, float)
    if ord.startswith("weighted_") and ord != "weighted_linf":
        assert got == pytest.approx(expected, rel=1e-10)
    else:
        assert got == expected
    n, m = garnet_mdp.n_states, garnet_mdp.n_actions
    closed = {"l1": n * m * n, "l2": np.sqrt(n * m * n), "linf": 1.0, "weighted_l1": n * m,
              "weighted_l2": np.sqrt(n * m), "weighted_linf": 1.0}[ord]
    assert got == closed


@given(data=st.data(), ord=st.sampled_from(starc.NORMS))
def test_array_norm_is_norm_without_checks(data, ord):
    from starc.norms import array_norm

    mdp = data.draw(garnet_mdps())
    x = data.draw(reward_arrays(mdp))
    np.testing.assert_array_equal(array_norm(x, ord, mdp), starc.norm(x, ord, mdp=mdp))
