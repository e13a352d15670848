"""starc.bandit accuracy metrics: closed forms, ties, groups, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from starc.bandit import one_to_many_accuracy, preference_accuracy
from starc.exceptions import ValidationError


def test_pairwise_accuracy_with_ties_and_groups():
    reward = np.array([[1.0, 0.0, 2.0], [3.0, 3.0, 0.0]])
    pairs = np.array([[0, 0, 1], [0, 0, 2], [1, 0, 1], [1, 0, 2]])
    assert preference_accuracy(reward, pairs) == pytest.approx(2.5 / 4)
    out = preference_accuracy(reward, pairs, groups=["a", "b", "a", "b"])
    assert out == {"a": 0.75, "b": 0.5, "all": 0.625}
    assert list(out) == ["a", "b", "all"]
    # round-off ties are ties
    near = np.array([[1.0, 1.0 + 1e-16, 0.0]])
    assert preference_accuracy(near, [[0, 0, 1]]) == 0.5
    # batch axes: one accuracy per reward model
    both = np.stack([reward, -reward])
    np.testing.assert_allclose(preference_accuracy(both, pairs), [0.625, 0.375])


def test_one_to_many_accuracy():
    reward = np.array([[2.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 5.0, 1.0]])
    assert one_to_many_accuracy(reward, [0, 0, 2]) == pytest.approx(1 / 3)
    assert one_to_many_accuracy(reward, [0, 0, 1]) == pytest.approx(2 / 3)
    mask = np.array([[True, True, False], [True, False, True], [True, True, True]])
    # padding ignored: prompt 1 compares 1.0 with 0.0 only
    r = np.where(mask, reward, np.nan)
    assert one_to_many_accuracy(r, [0, 0, 1], mask=mask) == 1.0


def test_bad_input():
    reward = np.zeros((2, 3))
    with pytest.raises(ValidationError, match=r"pairs must have shape \(k, 3\)"):
        preference_accuracy(reward, [[0, 1]])
    with pytest.raises(ValidationError, match="prompt indices outside"):
        preference_accuracy(reward, [[2, 0, 1]])
    with pytest.raises(ValidationError, match="response indices outside"):
        preference_accuracy(reward, [[0, 0, 3]])
    with pytest.raises(ValidationError, match="same"):
        preference_accuracy(reward, [[0, 1, 1]])
    with pytest.raises(ValidationError, match="mask is False"):
        preference_accuracy(reward, [[0, 0, 2]], mask=np.array([[1, 1, 0], [1, 1, 1]], bool))
    with pytest.raises(ValidationError, match="pairs must be an integer array"):
        preference_accuracy(reward, [[0, 0.5, 1]])
    with pytest.raises(ValidationError, match="groups must have shape"):
        preference_accuracy(reward, [[0, 0, 1]], groups=["a", "b"])
    with pytest.raises(ValidationError, match="'all'"):
        preference_accuracy(reward, [[0, 0, 1]], groups=["all"])
    with pytest.raises(ValidationError, match=r"correct must have shape \(2,\)"):
        one_to_many_accuracy(reward, [0])
    with pytest.raises(ValidationError, match="at least two valid responses"):
        one_to_many_accuracy(reward, [0, 0], mask=np.array([[1, 0, 0], [1, 1, 1]], bool))
    with pytest.raises(ValidationError, match=r"correct\[1\] points at a response where"):
        one_to_many_accuracy(reward, [0, 2], mask=np.array([[1, 1, 0], [1, 1, 0]], bool))


# ----------------------------------------------------------------- API fuzz regressions


def test_scores_at_the_ends_of_float64_compare_without_overflow():
    # x - y overflowed for +-1.7e308; accuracies only compare, so any positive scale
    # gives the accuracy of the signs
    r = np.array([[1.0, -1.0, -1.0], [-1.0, 1.0, 1.0], [1.0, 1.0, -1.0]])
    pairs = np.array([[0, 0, 1], [1, 0, 1], [2, 0, 1], [2, 2, 0]])
    expected = (1.0 + 0.0 + 0.5 + 0.0) / 4  # row 2: a tie
    for scale in (1.0, 1.7e308, 5e-324):
        assert preference_accuracy(scale * r, pairs) == expected
        assert one_to_many_accuracy(scale * r, np.array([0, 1, 0])) == 1 / 3


def test_ragged_lists_are_refused_naming_the_argument():
    r = np.zeros((2, 3))
    with pytest.raises(ValidationError, match="reward must be a numeric array"):
        preference_accuracy([[1.0, 2.0], [3.0]], np.array([[0, 0, 1]]))
    with pytest.raises(ValidationError, match="pairs must be an integer array"):
        preference_accuracy(r, [[0, 0, 1], [1, 1]])
    with pytest.raises(ValidationError, match="correct must be an integer array"):
        one_to_many_accuracy(r, [[0, 1], [1]])
    with pytest.raises(ValidationError, match="mask must be a boolean array"):
        one_to_many_accuracy(r, np.array([0, 1]), mask=[[True, True, True], [True]])


def test_unhashable_group_labels_are_refused():
    r = np.zeros((2, 3))
    pairs = np.array([[0, 0, 1], [1, 1, 0]])
    with pytest.raises(ValidationError, match="groups must hold one hashable label"):
        preference_accuracy(r, pairs, groups=[[1, 2], [3]])
