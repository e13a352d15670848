"""Shared fixtures and the Hypothesis profiles of the test suite.

Hypothesis strategies and tolerances live in ``tests/strategies.py`` (importable from
every test file as ``strategies``); this file holds the fixtures.

Profiles
--------
``starc`` (default)
    ``deadline=None`` (timings on a shared CI machine are noisy) and a modest
    ``max_examples`` so the whole suite stays fast.
``thorough``
    Many more examples; select with ``STARC_HYPOTHESIS_PROFILE=thorough``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import starc
from strategies import GAMMA_TOY, two_state_transition

# The test problems are small: BLAS threads buy nothing there and, on a loaded machine
# with few cores, contending OpenBLAS threads can make a 256 x 256 LU 100x slower. Pin
# them (scipy.linalg first: threadpoolctl only limits the libraries already loaded).
try:
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl comes with the [bench] extra
    pass
else:
    threadpool_limits(limits=1)

settings.register_profile(
    "starc", deadline=None, max_examples=25, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", deadline=None, max_examples=500, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("STARC_HYPOTHESIS_PROFILE", "starc"))


@pytest.fixture
def toy_mdp() -> starc.TabularMDP:
    """The two-state MDP of issue 2: a0 stays, a1 switches, gamma 0.9, mu0 uniform."""
    return starc.TabularMDP(two_state_transition(), GAMMA_TOY)


@pytest.fixture
def toy_reward() -> np.ndarray:
    """R = 1 on (s0, a1, s1), 0 elsewhere."""
    r = np.zeros((2, 2, 2))
    r[0, 1, 1] = 1.0
    return r


@pytest.fixture
def small_mdp() -> starc.TabularMDP:
    """A dense random 6-state, 3-action MDP (gamma 0.8) with a non-uniform initial distribution."""
    rng = np.random.default_rng(12345)
    t = rng.uniform(0.05, 1.0, size=(6, 3, 6))
    t /= t.sum(axis=-1, keepdims=True)
    mu = rng.uniform(0.1, 1.0, size=6)
    return starc.TabularMDP(t, 0.8, mu / mu.sum())


@pytest.fixture
def garnet_mdp() -> starc.TabularMDP:
    """A 7-state, 3-action MDP (gamma 0.9) with impossible transitions (2 successors per pair)."""
    rng = np.random.default_rng(777)
    t = np.zeros((7, 3, 7))
    for s in range(7):
        for a in range(3):
            succ = rng.choice(7, size=2, replace=False)
            t[s, a, succ] = rng.uniform(0.1, 1.0, size=2)
    t /= t.sum(axis=-1, keepdims=True)
    return starc.TabularMDP(t, 0.9)
