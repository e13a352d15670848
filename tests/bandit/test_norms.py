"""starc.bandit.norms: closed forms, zero, and the ends of float64."""

from __future__ import annotations

import numpy as np
import pytest

from starc.bandit import norm, normalize
from starc.exceptions import ValidationError


def test_norm_closed_forms_and_zero():
    x = np.array([[3.0, -4.0], [1.0, 0.0]])
    mu = np.array([0.25, 0.75])
    nu = np.array([[0.5, 0.5], [1.0, 0.0]])
    assert norm(x, "weighted_l2", prompt_weights=mu, response_weights=nu) == \
        pytest.approx(np.sqrt(0.125 * 9 + 0.125 * 16 + 0.75))
    assert norm(x, "weighted_linf", prompt_weights=np.array([1.0, 0.0])) == 4.0
    assert norm(x, "weighted_linf", prompt_weights=np.array([0.0, 1.0])) == 1.0
    np.testing.assert_allclose(normalize(x, 2), x / np.sqrt(26))
    assert np.all(normalize(1e-20 * x, "l2", reference=x) == 0.0)


def test_norm_of_huge_scores_is_exact_or_refused():
    assert norm(np.array([[1e308, 1e308]]), "l2") == pytest.approx(np.sqrt(2) * 1e308,
                                                                   rel=1e-15)
    assert norm(np.array([[1e308, -1e308]]), "weighted_l1") == 1e308
    assert norm(np.full((2, 2), 5e-324), "l1") == 4 * 5e-324
    with pytest.raises(ValidationError, match="l2 norm of x is beyond the float64 range"):
        norm(np.full((4, 3), 1.7e308), "l2")


def test_normalize_against_a_far_larger_reference_is_zero():
    # max|ref| / max|x| overflowed; x is then zero at the reference's round-off
    s = np.sign(np.random.default_rng(2).normal(size=(3, 4)))
    np.testing.assert_array_equal(normalize(5e-324 * s, reference=1.7e308 * s),
                                  np.zeros((3, 4)))
    np.testing.assert_allclose(normalize(5e-324 * s, reference=5e-324 * s),
                               normalize(s), rtol=1e-15)
