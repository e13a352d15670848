"""Hypothesis strategies and brute-force references for the tests of starc.bandit.

Problems are drawn as sizes plus a seed; arrays are built with numpy from the seed, so
examples stay cheap and reproducible while Hypothesis still shrinks sizes and kinds.

Reward kinds
------------
``"normal"``        i.i.d. standard normal scores.
``"ties"``          integers in {0, 1, 2}: many exact ties within prompts.
``"trivial"``       constant on every prompt (a per-prompt offset only).
``"near_constant"`` a per-prompt offset plus 1e-6 times noise.
``"scaled"``        normal scores times 10**k, k in [-8, 8], plus a per-prompt offset.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

KINDS = ("normal", "ties", "trivial", "near_constant", "scaled")


class Problem(NamedTuple):
    r1: np.ndarray          # (n, m), NaN on padding
    r2: np.ndarray
    mask: np.ndarray | None
    mu: np.ndarray | None
    nu: np.ndarray | None

    @property
    def kw(self) -> dict:
        return {"mask": self.mask, "prompt_weights": self.mu}

    @property
    def kw_nu(self) -> dict:
        return {"mask": self.mask, "prompt_weights": self.mu, "response_weights": self.nu}


def make_reward(rng: np.random.Generator, n: int, m: int, kind: str) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=(n, m))
    if kind == "ties":
        return rng.integers(0, 3, size=(n, m)).astype(float)
    offset = rng.normal(size=(n, 1)) * 3
    if kind == "trivial":
        return np.repeat(offset, m, axis=1)
    if kind == "near_constant":
        return offset + 1e-6 * rng.normal(size=(n, m))
    return offset + rng.normal(size=(n, m)) * 10.0 ** rng.integers(-8, 9)


def make_mask(rng: np.random.Generator, n: int, m: int, min_valid: int = 1):
    mask = rng.random((n, m)) < 0.7
    for i in range(n):
        if mask[i].sum() < min(min_valid, m):
            mask[i, rng.choice(m, size=min(min_valid, m), replace=False)] = True
    return mask


@st.composite
def problems(draw, *, min_valid: int = 1, max_n: int = 5, max_m: int = 5, ragged=None,
             weighted=None, kinds=KINDS, related=True, zero_weights: bool = False):
    """A pair of rewards with mask and weights; r2 is related to r1 half of the time."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(max(1, min_valid), max_m))
    seed = draw(st.integers(0, 2**32 - 1))
    k1 = draw(st.sampled_from(kinds))
    k2 = draw(st.sampled_from(kinds))
    rag = draw(st.booleans()) if ragged is None else ragged
    wtd = draw(st.booleans()) if weighted is None else weighted
    mix = draw(st.sampled_from(("independent", "close", "equivalent"))) if related else \
        "independent"
    rng = np.random.default_rng(seed)
    r1 = make_reward(rng, n, m, k1)
    if mix == "independent":
        r2 = make_reward(rng, n, m, k2)
    elif mix == "close":
        r2 = r1 + 0.3 * np.abs(r1).max() * rng.normal(size=(n, m))
    else:
        r2 = 2.5 * r1 + rng.normal(size=(n, 1))
    mask = make_mask(rng, n, m, min_valid) if rag else None
    mu = nu = None
    if wtd:
        mu = rng.dirichlet(np.ones(n))
        if zero_weights and n > 1:
            mu[rng.integers(n)] = 0.0
            mu /= mu.sum()
        valid = np.ones((n, m), bool) if mask is None else mask
        nu = rng.uniform(0.1, 1.0, size=(n, m)) * valid
        nu /= nu.sum(axis=1, keepdims=True)
    if mask is not None:
        r1 = np.where(mask, r1, np.nan)
        r2 = np.where(mask, r2, np.nan)
    return Problem(r1, r2, mask, mu, nu)


def valid_rows(p: Problem):
    """The valid entries of each prompt, as lists of 1-d arrays (r1, r2, nu)."""
    n, m = p.r1.shape
    mask = np.ones((n, m), bool) if p.mask is None else p.mask
    nu = mask / mask.sum(axis=1, keepdims=True) if p.nu is None else p.nu
    return [(p.r1[i, mask[i]], p.r2[i, mask[i]], nu[i, mask[i]]) for i in range(n)]


def prompt_weights(p: Problem) -> np.ndarray:
    n = p.r1.shape[0]
    return np.full(n, 1.0 / n) if p.mu is None else p.mu
