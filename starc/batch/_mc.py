r"""Monte-Carlo returns and regrets, the STARC authors' estimator (private kernels).

The authors of [1]_ estimated returns by rollouts (``src/distance/rollout.py`` of their
code): for a deterministic policy, one episode from *every* state, repeated
:math:`|A|` times, each truncated after :math:`H = \operatorname{round}(\log 10^{-5} /
\log\gamma)` steps (224 for :math:`\gamma = 0.95`), and

.. math::

    \hat J(\pi) = \frac{1}{|A||S|} \sum_{\text{episodes}} \sum_{t=0}^{H-1}
                  \gamma^t R(s_t, a_t, s_{t+1}).

Here an episode from state :math:`s` is weighted by :math:`|S|\mu_0(s)`, so the
estimator targets :math:`J` under any initial distribution (for uniform :math:`\mu_0`, as
in the paper, the weights are 1). Next states are drawn with Walker's alias method
(one uniform per step) from a xoshiro256** stream seeded per group of rewards, so the
estimates do not depend on the number of threads or the chunking of a sweep.

.. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1; github.com/lucyfarnik/starc.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_U1 = np.uint64(1)


@njit(cache=True)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def next_uniform(st):
    """xoshiro256** step on the state ``st (4,) uint64``; a float in ``[0, 1)``."""
    s0 = st[0]
    s1 = st[1]
    s2 = st[2]
    s3 = st[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    st[0] = s0
    st[1] = s1
    st[2] = s2
    st[3] = s3
    return float(result >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def alias_row(p, prob, alias, small, large, scaled):
    """Walker/Vose alias table of a distribution ``p (n,)``."""
    n = p.shape[0]
    ns = 0
    nl = 0
    for i in range(n):
        scaled[i] = p[i] * n
        alias[i] = i
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        lo = small[ns]
        nl -= 1
        hi = large[nl]
        prob[lo] = scaled[lo]
        alias[lo] = hi
        scaled[hi] = (scaled[hi] + scaled[lo]) - 1.0
        if scaled[hi] < 1.0:
            small[ns] = hi
            ns += 1
        else:
            large[nl] = hi
            nl += 1
    while nl > 0:
        nl -= 1
        prob[large[nl]] = 1.0
    while ns > 0:  # round-off leftovers
        ns -= 1
        prob[small[ns]] = 1.0


@njit(cache=True, parallel=True, nogil=True)
def alias_tables(T, prob, alias):
    """Alias tables of every transition row ``T (M, S, A, S)``."""
    n_mdp, n, m = T.shape[0], T.shape[1], T.shape[2]
    for i in prange(n_mdp):
        small = np.empty(n, dtype=np.int64)
        large = np.empty(n, dtype=np.int64)
        scaled = np.empty(n)
        for s in range(n):
            for a in range(m):
                alias_row(T[i, s, a], prob[i, s, a], alias[i, s, a], small, large, scaled)


@njit(cache=True)
def rollout(prob, alias, mu, policy, r_a, r_b, two, gamma, horizon, n_rep, st, out):
    """Mean discounted return of a deterministic ``policy`` under ``r_a`` (and ``r_b``).

    ``n_rep`` episodes from every state ``s`` weighted by ``S mu(s)``, truncated after
    ``horizon`` steps; with ``two`` both rewards are read along the same trajectories.
    """
    n = policy.shape[0]
    tot_a = 0.0
    tot_b = 0.0
    for _ in range(n_rep):
        for s0 in range(n):
            s = s0
            g = 1.0
            ga = 0.0
            gb = 0.0
            for _t in range(horizon):
                a = policy[s]
                u = next_uniform(st) * n
                i = int(u)
                if i >= n:
                    i = n - 1
                nxt = i if (u - i) < prob[s, a, i] else alias[s, a, i]
                ga += g * r_a[s, a, nxt]
                if two:
                    gb += g * r_b[s, a, nxt]
                g *= gamma
                s = nxt
            w = mu[s0] * n
            tot_a += w * ga
            tot_b += w * gb
    out[0] = tot_a / (n_rep * n)
    out[1] = tot_b / (n_rep * n)


@njit(cache=True, parallel=True, nogil=True)
def mc_returns_kernel(prob, alias, gam, mu, mdp_of, R, policies, horizon, n_rep, seeds, out):
    """``out[g, k]``: MC return of ``policies[g, k]`` under ``R[g, k]``; one stream per group."""
    for g in prange(R.shape[0]):
        i = mdp_of[g]
        st = seeds[g].copy()
        res = np.empty(2)
        for k in range(R.shape[1]):
            rollout(prob[i], alias[i], mu[i], policies[g, k], R[g, k], R[g, k], False,
                    gam[i], horizon[i], n_rep, st, res)
            out[g, k] = res[0]


@njit(cache=True)
def _ratio(num, den):
    """The authors' normalisation: a zero range counts as 1."""
    if den == 0.0:
        den = 1.0
    return num / den


@njit(cache=True, parallel=True, nogil=True)
def mc_regret_kernel(prob, alias, gam, mu, mdp_of, R, act, horizon, n_rep, seeds, out):
    """The authors' two Monte-Carlo regrets of every pair ``(R[g, 0], R[g, k])``.

    ``act[g, k, 0]`` / ``act[g, k, 1]``: optimal / pessimal actions of ``R[g, k]``.
    ``out[g, k-1] = (regret1, regret2)`` with (authors' notation, ``1`` = ``R[g, 0]``)

    * ``regret1 = (J_1(pi_1) - J_1(pi_i)) / (J_1(pi_1) - J_1(pi_x))``
    * ``regret2 = (J_i(pi_i) - J_i(pi_1)) / (J_i(pi_i) - J_i(pi_y))``

    each ``J`` an independent rollout estimate except ``J_1(pi_i)`` and ``J_i(pi_i)``,
    which share trajectories (as in the authors' code).
    """
    for g in prange(R.shape[0]):
        i = mdp_of[g]
        st = seeds[g].copy()
        res = np.empty(2)
        p, al, m0, gamma, h = prob[i], alias[i], mu[i], gam[i], horizon[i]
        r1 = R[g, 0]
        pi_1 = act[g, 0, 0]
        pi_x = act[g, 0, 1]
        rollout(p, al, m0, pi_1, r1, r1, False, gamma, h, n_rep, st, res)
        j11 = res[0]
        rollout(p, al, m0, pi_x, r1, r1, False, gamma, h, n_rep, st, res)
        j1x = res[0]
        for k in range(1, R.shape[1]):
            ri = R[g, k]
            pi_i = act[g, k, 0]
            pi_y = act[g, k, 1]
            rollout(p, al, m0, pi_1, ri, ri, False, gamma, h, n_rep, st, res)
            ji1 = res[0]
            rollout(p, al, m0, pi_i, r1, ri, True, gamma, h, n_rep, st, res)
            j1i = res[0]
            jii = res[1]
            rollout(p, al, m0, pi_y, ri, ri, False, gamma, h, n_rep, st, res)
            jiy = res[0]
            out[g, k - 1, 0] = _ratio(j11 - j1i, j11 - j1x)
            out[g, k - 1, 1] = _ratio(jii - ji1, jii - jiy)
