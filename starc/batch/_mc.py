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

Bounded, interruptible work: the episodes of each group are simulated in calls of about
:data:`CHUNK_STEPS` steps, each call resuming the group's stream and running sums where
the previous one stopped (so the result is bit-identical however the work is cut), and
control returns to Python between calls, so Ctrl-C interrupts a long estimate within a
fraction of a second. Episodes longer than :data:`MAX_HORIZON` steps and estimates of
more than :data:`MAX_STEPS` steps are refused with :class:`~starc.ValidationError`
before any work (the authors' horizon is 115 million steps at
:math:`\gamma = 1 - 10^{-7}`).

.. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1; github.com/lucyfarnik/starc.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import inner, run_parallel

_U1 = np.uint64(1)


@inner
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@inner
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


@inner
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


def alias_tables(T, prob, alias) -> None:
    """Alias tables of every transition row ``T (M, S, A, S)`` into ``prob``, ``alias``."""
    run_parallel(_alias_range, T.shape[0], T, prob, alias)


@njit(cache=True, nogil=True)
def _alias_range(lo, hi, T, prob, alias):
    """Alias tables of the transition rows of MDPs ``lo .. hi-1``."""
    n, m = T.shape[1], T.shape[2]
    for i in range(lo, hi):
        small = np.empty(n, dtype=np.int64)
        large = np.empty(n, dtype=np.int64)
        scaled = np.empty(n)
        for s in range(n):
            for a in range(m):
                alias_row(T[i, s, a], prob[i, s, a], alias[i, s, a], small, large, scaled)


#: Simulated steps per kernel call (a few tenths of a second on one core): between calls
#: control returns to Python, so Ctrl-C (KeyboardInterrupt) is honoured promptly.
CHUNK_STEPS = 2**24

#: Longest episode simulated: about 0.1-0.3 s of one core. The authors' horizon exceeds
#: it only for discounts :math:`1 - \gamma < 1.2 \times 10^{-6}`.
MAX_HORIZON = 10**7

#: Most steps one estimate may simulate (hours of one core); larger requests are refused.
MAX_STEPS = 10**12


@njit(cache=True, nogil=True)
def mc_chunk_kernel(prob, alias, gam, mu, mdp_of, R, pols, tasks, horizon, n_rep, lo, hi,
                    g0, g1, st, acc):
    """Episodes ``lo <= it < hi`` of the rollout tasks of groups ``g0 <= g < g1``.

    Group ``g`` runs ``T = len(tasks)`` rollouts in order, each ``n_rep`` episodes from
    every state (repetition-major): item ``it`` is episode ``it % (n_rep S)`` of task
    ``it // (n_rep S)``. Task ``(p, a, b, two)`` follows policy ``pols[g, p]`` and reads
    reward ``R[g, a]`` (and, with ``two``, ``R[g, b]``) along the same trajectory.
    ``st[g]`` (xoshiro256** state) and ``acc[g, task] = (sum w G_a, sum w G_b)`` are
    carried from call to call, so any split of ``[0, T n_rep S)`` into calls gives the
    same random stream and bit-identical sums.
    """
    n = prob.shape[1]
    n_ep = n_rep * n
    for g in range(g0, g1):
        i = mdp_of[g]
        p = prob[i]
        al = alias[i]
        m0 = mu[i]
        gamma = gam[i]
        h = horizon[i]
        state = st[g]
        for it in range(lo, hi):
            j = it // n_ep
            s0 = (it % n_ep) % n
            policy = pols[g, tasks[j, 0]]
            r_a = R[g, tasks[j, 1]]
            r_b = R[g, tasks[j, 2]]
            two = tasks[j, 3] != 0
            s = s0
            disc = 1.0
            ga = 0.0
            gb = 0.0
            for _t in range(h):
                a = policy[s]
                u = next_uniform(state) * n
                k = int(u)
                if k >= n:
                    k = n - 1
                nxt = k if (u - k) < p[s, a, k] else al[s, a, k]
                ga += disc * r_a[s, a, nxt]
                if two:
                    gb += disc * r_b[s, a, nxt]
                disc *= gamma
                s = nxt
            w = m0[s0] * n
            acc[g, j, 0] += w * ga
            acc[g, j, 1] += w * gb


def check_work(horizon: np.ndarray, mdp_of: np.ndarray, n_tasks: int, n_rep: int,
               n_states: int) -> None:
    """Refuse episodes longer than :data:`MAX_HORIZON` or more than :data:`MAX_STEPS` steps."""
    from ..exceptions import ValidationError

    longest = int(np.max(horizon)) if horizon.size else 0
    if longest > MAX_HORIZON:
        raise ValidationError(
            f"Monte-Carlo horizon of {longest:,} steps per episode is more than "
            f"{MAX_HORIZON:,} (discounts within 1.2e-6 of 1 give such horizons); pass a "
            "smaller horizon=, or use the exact regrets, which need no rollouts")
    steps = sum(int(h) for h in horizon[mdp_of]) * int(n_tasks) * int(n_rep) * int(n_states)
    if steps > MAX_STEPS:
        raise ValidationError(
            f"this Monte-Carlo estimate would simulate {steps:.3g} steps, more than "
            f"{MAX_STEPS:.0e} (hours of computation); lower horizon= or n_repeats=, or use "
            "fewer rewards per call")


def run_tasks(prob, alias, gam, mu, mdp_of, R, pols, tasks, horizon, n_rep, seeds, *,
              chunk_steps: int | None = None) -> np.ndarray:
    """Mean discounted returns ``(G, T, 2)`` of the rollout ``tasks`` of every group.

    Calls :func:`mc_chunk_kernel` on pieces of about ``chunk_steps`` (default
    :data:`CHUNK_STEPS`) simulated steps, returning to Python in between so a
    KeyboardInterrupt stops the estimate; the pieces do not change the result.
    """
    import numba

    n_groups, n = R.shape[0], prob.shape[1]
    tasks = np.ascontiguousarray(tasks, dtype=np.int64)
    n_items = tasks.shape[0] * n_rep * n
    check_work(horizon, mdp_of, tasks.shape[0], n_rep, n)
    st = np.array(seeds, dtype=np.uint64, copy=True)
    acc = np.zeros((n_groups, tasks.shape[0], 2))
    if n_groups == 0 or n_items == 0:
        return acc
    budget = CHUNK_STEPS if chunk_steps is None else max(1, int(chunk_steps))
    h = max(1, int(np.max(horizon[mdp_of])))
    per_group = n_items * h
    if per_group * n_groups <= budget:
        g_step, i_step = n_groups, n_items
    else:
        g_step = min(n_groups, max(numba.get_num_threads(), budget // per_group))
        i_step = max(1, min(n_items, budget // (h * g_step)))
    for g0 in range(0, n_groups, g_step):
        g1 = min(n_groups, g0 + g_step)
        for lo in range(0, n_items, i_step):
            it1 = min(n_items, lo + i_step)

            def piece(ga, gb, lo=lo, it1=it1):  # groups ga .. gb-1 on one thread
                mc_chunk_kernel(prob, alias, gam, mu, mdp_of, R, pols, tasks, horizon, n_rep,
                                lo, it1, ga, gb, st, acc)

            run_parallel(piece, g1, start=g0)
    return acc / (n_rep * n)


def mc_returns(prob, alias, gam, mu, mdp_of, R, policies, horizon, n_rep, seeds,
               **kw) -> np.ndarray:
    """``(G, K)``: MC return of ``policies[g, k]`` under ``R[g, k]``; one stream per group."""
    k = R.shape[1]
    tasks = np.array([(j, j, j, 0) for j in range(k)], dtype=np.int64).reshape(k, 4)
    return run_tasks(prob, alias, gam, mu, mdp_of, R, policies, tasks, horizon, n_rep, seeds,
                     **kw)[..., 0]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """The authors' normalisation: a zero range counts as 1."""
    return num / np.where(den == 0.0, 1.0, den)


def mc_regrets(prob, alias, gam, mu, mdp_of, R, act, horizon, n_rep, seeds,
               **kw) -> np.ndarray:
    """The authors' two Monte-Carlo regrets of every pair ``(R[g, 0], R[g, k])``.

    ``act[g, k, 0]`` / ``act[g, k, 1]``: optimal / pessimal actions of ``R[g, k]``.
    Returns ``out (G, K-1, 2)``, ``out[g, k-1] = (regret1, regret2)`` with (authors'
    notation, ``1`` = ``R[g, 0]``)

    * ``regret1 = (J_1(pi_1) - J_1(pi_i)) / (J_1(pi_1) - J_1(pi_x))``
    * ``regret2 = (J_i(pi_i) - J_i(pi_1)) / (J_i(pi_i) - J_i(pi_y))``

    each ``J`` an independent rollout estimate except ``J_1(pi_i)`` and ``J_i(pi_i)``,
    which share trajectories (as in the authors' code). Rollouts per group, in stream
    order: ``J_1(pi_1)``, ``J_1(pi_x)``, then for each ``k``: ``J_i(pi_1)``,
    ``(J_1(pi_i), J_i(pi_i))``, ``J_i(pi_y)``.
    """
    n_groups, k = R.shape[0], R.shape[1]
    pols = np.ascontiguousarray(act, dtype=np.int64).reshape(n_groups, 2 * k, -1)
    tasks = [(0, 0, 0, 0), (1, 0, 0, 0)]
    for j in range(1, k):
        tasks += [(0, j, j, 0), (2 * j, 0, j, 1), (2 * j + 1, j, j, 0)]
    J = run_tasks(prob, alias, gam, mu, mdp_of, R, pols, np.array(tasks, dtype=np.int64),
                  horizon, n_rep, seeds, **kw)
    j11, j1x = J[:, 0, 0], J[:, 1, 0]
    out = np.empty((n_groups, k - 1, 2))
    for j in range(1, k):
        b = 2 + 3 * (j - 1)
        ji1, j1i, jii, jiy = J[:, b, 0], J[:, b + 1, 0], J[:, b + 1, 1], J[:, b + 2, 0]
        out[:, j - 1, 0] = _ratio(j11 - j1i, j11 - j1x)
        out[:, j - 1, 1] = _ratio(jii - ji1, jii - jiy)
    return out
