r"""Batched numba kernels: many MDPs, many rewards, every distance variant at once.

The numpy functions of :mod:`starc` are the readable reference; this subpackage computes
the *same numbers* (tested against them at ``atol=1e-10``) for a batch of ``B`` MDPs and
``K`` rewards on each, ``rewards[b, k, s, a, s']`` of shape ``(B, K, S, A, S)``, fast
enough for the STARC paper's 49,152-pair experiment [1]_ in seconds. It is the engine of
:mod:`starc.sweep`. numba is imported here only, never by ``import starc``.

Design
------
* Kernels are ``@numba.njit(cache=True, nogil=True)`` functions with explicit loops and
  no ``fastmath``, each computing a range of batch items; Python threads (numba's thread
  count) share the batch axis out between them, so every batch item goes through the
  same floating-point operations whatever the batch size or the number of threads:
  results are **bit-identical for any chunking**. Compiled code is cached on disk
  (``__pycache__``), so only the first call of a fresh install compiles. The rules and
  tolerances they decide with are those of the numpy functions (``starc._rules``).
* Policy evaluation is exact: :math:`V^\pi = (I - \gamma P_\pi)^{-1} r_\pi` by an LU
  factorisation with partial pivoting written in numba, one per MDP and policy, reused
  for the ``K`` rewards.
* Canonicals with a closed form — ``none``, ``epic``, ``dard``, ``val``,
  ``val_potential``, ``minimal_l2`` and ``minimal_potential`` for the :math:`L_2` norm —
  are computed once per reward; all normalizations (six norms or none) and all six
  metrics are then read off one pass over each pair of canonicals:
  :math:`d(R_1, R_2) = n'(c(R_1)/n(c(R_1)) - c(R_2)/n(c(R_2)))`. VAL and minimal-L2
  canonicals are stored factored, :math:`u(s,a)\,p(s,a,s')` with a fixed profile
  :math:`p`, and their norms use closed-form per-:math:`(s,a)` weights.
* Optimal policies come from Howard's policy iteration with the Bellman-residual check
  of :func:`starc.optimal_policy`; normalised regrets (with pessimistic tie-breaking)
  restrict the proxy's optimal actions exactly as :func:`starc.regret`.
* MinimalPotential-L1 (the registry's variants with ``needs_lp``) is a least absolute
  deviations problem in the potential; it is solved per reward by a small dual simplex
  with a bound-flipping ratio test and a duality certificate (a reward whose
  certificate fails falls back to :func:`starc.canonicalize`, a compact LP solved by
  HiGHS, which ``lp_solver="highs"`` uses throughout). The minimiser is often not unique (transitions
  that share ``(s, s')`` share a row of the regression); then any minimiser is valid
  and the two solvers may return different ones, with the same L1 norm.
* :func:`mc_policy_returns` and :func:`mc_regrets` reproduce the authors' Monte-Carlo
  estimator of returns (rollouts of :func:`authors_horizon` steps, one episode per
  start state and action count), to show how its noise lowers correlations.
* :func:`compare_groups` is the entry of :mod:`starc.sweep`: groups of rewards on each
  MDP, every group's first reward compared with the others by the distance variants and
  the exact and Monte-Carlo regrets, returned as columns.

Inputs
------
``mdps`` is an :class:`MDPBatch`, a sequence of :class:`~starc.TabularMDP` of one size,
or one MDP (``B = 1``). Pairwise functions take ``r1`` of shape ``(B, K, S, A, S)`` or
``(B, 1, S, A, S)`` — one reference reward per MDP compared with the ``K`` rewards of
``r2``, its canonical computed once.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Sec. 4.1.
.. [2] Lam, Pitrou, Seibert. "Numba: a LLVM-based Python JIT compiler". LLVM-HPC 2015.

Examples
--------
>>> import numpy as np
>>> import starc
>>> from starc.batch import variant_distances, regrets
>>> mdps = [starc.random_mdp(8, 2, seed=i) for i in range(3)]
>>> R = np.stack([starc.random_reward(m, seed=7, kind="starc", size=5) for m in mdps])
>>> variant_distances(R[:, :1], R, mdps, ["VAL-2-2", "EPIC-2-2"]).shape
(3, 5, 2)
>>> regrets(R[:, :1], R, mdps)[:, 0]
array([0., 0., 0.])
"""

# starc.batch.core's __all__ is the one list of this package's public names
from .core import *  # noqa: F401,F403
from .core import __all__  # noqa: F401
