r"""The rules and constants starc decides with, each stated once (private leaf module).

starc computes most things twice: once with numpy (the public functions, the reference)
and once in the numba kernels of :mod:`starc.batch`. The two are different
implementations of the *arithmetic*, but every *rule* — when a number counts as zero,
when a reward is trivial, when two actions are tied — and every tolerance, name table and
integer code is written here, once, and both sides use it. This module imports nothing
from starc but :mod:`starc.exceptions`, and nothing heavier than numpy.

Rules as functions
------------------
Each rule is a small function written with arithmetic operators, comparisons and
``min``/``max`` only, so that it works on Python floats, numpy scalars and (where said)
numpy arrays, and numba compiles the *same* function into the kernels
(``numba.njit(_rules.is_zero)``). The tolerances are arguments of the rules: the numpy
side passes the constants below, the kernels receive them at run time in a
:class:`Tolerances` tuple built by :func:`tolerances` — numba would otherwise freeze a
module constant into its on-disk cache, which is keyed on the kernel's own file and would
not see a change here. (For the same reason, after editing a rule's *code* here, clear
the numba cache or touch ``starc/batch/_kernels.py``.)

1. **Zero rule** (STARC [1]_ Def. 3 with round-off): a canonical reward whose entries are
   accurate to ``noise`` is zero when its norm is at most the norm of the all-ones array
   times ``noise``,

   .. math:: \|C\| \le n(\mathbf 1)\,\mathrm{noise},
      \qquad \mathrm{noise} = \epsilon_{\mathrm{rel}} \cdot \mathrm{scale}.

2. **Trivial-reward rule**: a reward whose best and worst returns differ by at most
   :data:`REGRET_RTOL` :math:`\cdot M/(1-\gamma)`, :math:`M = \max_{s,a}\mathbb
   E_\tau|R|`, barely orders policies; every policy counts as optimal for it.
3. **Tie rule** (docs/theory/regret.rst): an action whose computed gap to the best one is
   at most :math:`\epsilon (M + \max|\hat V|(1 + 2\gamma\|w\|_1))`, :math:`\epsilon` =
   :data:`TIE_RTOL`, is tied with it; a tie whose bound exceeds :data:`REGRET_RTOL`
   :math:`\cdot M` is *in doubt* (float64 cannot tell it from a gap that matters).
4. **Normalised regret**: :math:`(\max J - J(\pi))/(\max J - \min J)` clipped to
   :math:`[0, 1]`.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework For
   Quantifying Differences Between Reward Functions." ICLR 2024.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .exceptions import ValidationError

__all__ = [
    # tolerances
    "ZERO_RTOL", "SOLVER_ZERO_RTOL", "REGRET_RTOL", "TIE_RTOL", "GAMMA_MAX", "BELLMAN_RTOL",
    "IMPROVE_RTOL", "TINY", "PI_MAX_ITER", "LP_GAP_RTOL", "GRAM_RECHECK_RTOL",
    "STOCHASTIC_ATOL", "WEIGHT_RTOL", "LP_FEASIBILITY_TOL",
    "LP_COST_PERTURBATION", "LP_PERTURBATION_STEP", "LP_PRIMAL_TOL", "LP_PIVOT_TOL",
    "LP_DUAL_RTOL", "LP_RATIO_TIE_RTOL", "LP_STALL_RTOL", "LP_BOX_TOL",
    "LP_CERTIFICATE_RTOL", "LP_BLAND_AFTER", "LP_REFACTOR_EVERY", "LP_SCAN_LIMIT",
    "LP_ITER_PER_VARIABLE", "LP_ITER_EXTRA", "Tolerances", "tolerances", "LPTolerances",
    "lp_tolerances",
    # sparse MDPs
    "DENSE_REWARD_MAX_BYTES", "EVAL_RTOL", "SPLU_MAX_STATES", "PI_SPLU_MAX_STATES",
    "PI_PROVISIONAL_RTOL", "REFINE_ROUNDS", "KRYLOV_FLOOR", "KRYLOV_STAGNATION",
    "KRYLOV_MAXITER", "KRYLOV_BREAKDOWN", "EXPLICIT_MAX_ENTRIES", "DARD_MAX_NNZ", "TIE_BAND_BLOCK", "PARAMETRIC_RTOL", "STABLE_ROUNDOFF_ULPS",
    # name tables and codes
    "NORMS", "NORM_L1", "NORM_L2", "NORM_LINF", "NORM_WEIGHTED_L1", "NORM_WEIGHTED_L2",
    "NORM_WEIGHTED_LINF", "NORM_NONE", "N_NORMS", "N_NORMALIZATIONS", "PAPER_NORMS",
    "PAPER_NO_NORMALIZATION", "PAPER_CANONICALIZATIONS",
    "FAMILIES", "F_NONE", "F_EPIC", "F_DARD", "F_MINPOT", "F_VALPOT", "F_VAL", "F_MINL2",
    "F_LP", "N_FAMILIES", "PROFILE_ONES", "PROFILE_MINIMAL_L2",
    "TIES", "TIE_PESSIMISTIC", "TIE_OPTIMISTIC", "TIE_FIRST",
    "STATUS_OK", "STATUS_BELLMAN", "STATUS_NO_CONVERGENCE", "STATUS_SINGULAR",
    "STATUS_EVALUATION", "STATUS_UNDECIDED", "LP_OK", "LP_ITERATION_LIMIT", "LP_SINGULAR",
    "LP_UNCERTIFIED",
    # rules
    "is_zero", "trivial_tolerance", "is_trivial", "tie_bounds", "doubt_limit", "tie_bound",
    "in_doubt", "tie_sign", "regret_fraction", "check_regret_gamma",
]

# ----------------------------------------------------------------------------- tolerances

#: Round-off allowance of closed-form computations, relative to the size of the numbers
#: they combine: 512 units in the last place. A canonical reward whose norm is at most
#: ``ZERO_RTOL * n(1) * scale`` (``scale`` bounds the magnitude of the reward and of the
#: values or potentials computed from it) is zero up to round-off (:func:`is_zero`).
ZERO_RTOL = 512 * float(np.finfo(np.float64).eps)

#: Absolute tolerance on the row sums of stochastic matrices and distributions (a
#: transition's rows, a policy's, a coverage distribution): they must sum to 1 within it.
STOCHASTIC_ATOL = 1e-10

#: Tolerance on the sums of user-given weights over prompts and responses (starc.bandit,
#: the policies of starc.transforms): they must sum to 1 within it (looser than
#: :data:`STOCHASTIC_ATOL`: such weights are often normalised in float32 or by hand).
WEIGHT_RTOL = 1e-9

#: Primal and dual feasibility tolerance of the HiGHS linear programs whose optimum is
#: returned as a number (the minimal-potential canonical, the worst-case regret LP): the
#: smallest HiGHS accepts (its default 1e-7 lets a basic variable sit that far outside its
#: bound, which moves the optimum by ~1e-8 relative).
LP_FEASIBILITY_TOL = 1e-10

#: The same allowance for canonicals found by an optimiser (cvxpy with HiGHS or Clarabel,
#: linear programs): their accuracy is the solver's tolerance, not round-off.
SOLVER_ZERO_RTOL = 1e-8

#: A reward is trivial when its best and worst returns differ by at most
#: ``REGRET_RTOL * max_{s,a} E_tau|R| / (1 - gamma)``: such a reward barely orders
#: policies (regrets normalised by its value range would be dominated by round-off), so
#: every policy counts as optimal for it — regret 0 under it, and as a proxy every
#: action is tied (:func:`is_trivial`). Also the size of a tie "in doubt"
#: (:func:`doubt_limit`).
REGRET_RTOL = 1e-9

#: Ties between optimal actions are decided against round-off: an action is tied when its
#: gap to ``max_a Q*(s, a)`` is at most ``TIE_RTOL * (M + max|V*| (1 + 2 gamma ||w||_1))``
#: (:func:`tie_bounds`, derived in docs/theory/regret.rst).
TIE_RTOL = ZERO_RTOL

#: The largest discount regrets and value ranges are computed for. Above it the round-off
#: floor of action values, ``TIE_RTOL / (1 - gamma)`` of the reward's size, and policy
#: iteration's improvement threshold, ``IMPROVE_RTOL / (1 - gamma)`` of it, pass 1e-5:
#: optimal actions are no longer decided to a useful precision (docs/theory/regret.rst,
#: "Numerical range and failure modes").
GAMMA_MAX = 1.0 - 1e-8

#: Policy iteration stops with an error when the Bellman residual of its result,
#: ``max_s |max_a Q(s, a) - V(s)|``, exceeds this times ``max(scale, 1)``
#: (``scale = max|rbar| / (1 - gamma)``).
BELLMAN_RTOL = 1e-10

#: Policy iteration switches an action only when it gains more than this times the value
#: scale ``max|rbar| / (1 - gamma)`` (at least :data:`TINY`): smaller gains are round-off.
IMPROVE_RTOL = 1e-13

#: Largest accepted duality gap of a ``minimal_potential`` LP solved by HiGHS
#: (``starc.canonical``), relative to the size of the terms of its objective.
LP_GAP_RTOL = 1e-9

#: Pairs whose squared Gram-matrix distance is below this fraction of ``|x|^2 + |y|^2``
#: are recomputed from explicit differences (``starc.distances``; cancellation guard).
GRAM_RECHECK_RTOL = 1e-4

#: The smallest positive normal float64.
TINY = float(np.finfo(np.float64).tiny)

#: Iterations after which policy iteration gives up (status :data:`STATUS_NO_CONVERGENCE`).
PI_MAX_ITER = 10000

# The dual simplex of starc.batch._lp (MinimalPotential-L1). Its rewards are scaled to
# max |R| in [1/2, 1) first, so the tolerances below are absolute or relative to that
# scale ("scale" = max(1, max |R|)).
#: Costs are perturbed by this fraction of their scale to break dual degeneracy.
LP_COST_PERTURBATION = 1e-10
#: The perturbation of cost ``e`` is ``frac((e + 1) * LP_PERTURBATION_STEP) - 1/2``
#: (the golden ratio's fractional part: a low-discrepancy sequence).
LP_PERTURBATION_STEP = 0.6180339887498949
#: A basic variable violates its box [-1, 1] by more than this (primal infeasibility).
LP_PRIMAL_TOL = 1e-9
#: A pivot-row entry smaller than this in magnitude is not eligible to enter.
LP_PIVOT_TOL = 1e-9
#: A reduced cost of the wrong sign beyond this times ``scale * S`` flips its variable
#: after a refactorisation (dual feasibility lost to round-off).
LP_DUAL_RTOL = 1e-12
#: Bland's rule treats ratios within this times ``scale`` of the smallest as tied.
LP_RATIO_TIE_RTOL = 1e-12
#: A dual step shorter than this times ``scale`` is degenerate.
LP_STALL_RTOL = 1e-14
#: The optimality certificate accepts basic values within [-1, 1] up to this.
LP_BOX_TOL = 1e-7
#: The certificate's duality gap ``|primal - dual|`` must be at most this times
#: ``max(1, |primal|)``.
LP_CERTIFICATE_RTOL = 1e-9
#: Bland's rule takes over after this many degenerate dual steps in a row.
LP_BLAND_AFTER = 30
#: The explicit basis inverse is recomputed every this many pivots.
LP_REFACTOR_EVERY = 32
#: The bound-flipping ratio test scans for the next breakpoint this many times before it
#: sorts the breakpoints once.
LP_SCAN_LIMIT = 8
#: The dual simplex stops (status :data:`LP_ITERATION_LIMIT`) after
#: ``LP_ITER_PER_VARIABLE * S*A*S + LP_ITER_EXTRA`` pivots.
LP_ITER_PER_VARIABLE = 50
LP_ITER_EXTRA = 1000

# Sparse MDPs (THEORY §11; starc._sparse_linalg, starc._sparse_distances,
# starc._sparse_regret). Accuracies are relative to the *value scale*
# max|r| / (1 - gamma), a bound on |V|_inf; every solve is certified by
# ||r - M V||_inf / (1 - gamma) <= rtol * value scale, the residual recomputed after it.

#: Largest dense ``(S, A, S)`` reward (bytes) accepted on a sparse MDP (256 MiB); beyond
#: it a transition reward must be a sparse ``(S*A, S)`` array on the support. Converting a
#: dense reward to CSR holds about 2.5 times its size at once (a mask, data, indices), so
#: this keeps that step well inside the 4 GB budget of a 10^6-state computation.
DENSE_REWARD_MAX_BYTES = 2**28

#: Certified accuracy of a sparse policy evaluation (and of every linear solve of the
#: sparse distances and regrets): error bound <= EVAL_RTOL * value scale.
EVAL_RTOL = 1e-10

#: Largest number of states solved by sparse LU; larger systems use the Krylov path.
#: Measured on a 2-D slippery gridworld (A = 4, 5 successors, gamma = 0.99, loaded 2-core
#: machine): one LU costs 0.1 s at S = 10^4 and 1-2 s at 10^5 (fill 7.5 and 11), about a
#: Krylov solve's time, and its factors are memoised and reused for every further reward
#: and for the transposed (occupancy) system; the fill grows with S (nested-dissection
#: theory: O(S log S) at best), so beyond 2 x 10^5 states the Krylov path, linear in the
#: non-zeros, takes over (S = 10^6: one evaluation in about 9 s and 1.3 GB).
SPLU_MAX_STATES = 200_000

#: Largest number of states whose policy iteration factorises every policy by sparse LU
#: (the evaluations then agree with the dense LU's to round-off, so ties are decided
#: exactly as on the dense path). Beyond it each evaluation is a Krylov solve
#: warm-started from the previous values, inexact while the Bellman residual is large
#: (see :data:`PI_PROVISIONAL_RTOL`). Measured on the slippery gridworld (gamma = 0.99,
#: loaded 2-core machine), optimal policy of a Gaussian (S, A) reward: S = 10^4: LU 0.9 s,
#: Krylov 1.3 s; S = 10^5: LU 40 s, Krylov 7.7 s (18-20 iterations each); a goal reward
#: at S = 10^5: LU 128 s (54 iterations), Krylov 12.6 s (118).
PI_SPLU_MAX_STATES = 20_000

#: Accuracy (relative to the value scale) of the first, *provisional* evaluations of a
#: sparse policy iteration on the Krylov path: only gains beyond twice their certified
#: error switch an action, and the last policy is always re-evaluated to round-off before
#: its Bellman residual is certified (inexact policy iteration).
PI_PROVISIONAL_RTOL = 1e-6

#: Residual a backward-stable solve of ``(I - gamma P) x = b`` may leave, in units of
#: ``eps * (|b| + (1 + gamma) |x|)``: the sparse distances and regrets accept it when
#: :data:`EVAL_RTOL` is below float64's reach (gamma near 1), and say so in the
#: certificate's tolerance; :func:`starc.policy_evaluation` does not (it raises).
STABLE_ROUNDOFF_ULPS = 64

#: Rounds of iterative refinement after the first sparse solve.
REFINE_ROUNDS = 4

#: A residual below ``KRYLOV_FLOOR * eps * (|b| + 2 |b| / (1 - gamma))`` is round-off:
#: no sparse solver aims below it.
KRYLOV_FLOOR = 8.0

#: Krylov iterations without halving the residual after which a solve stops (stagnation
#: at round-off level; the certificate then says what was reached).
KRYLOV_STAGNATION = 25

#: Most Krylov iterations per solve (each refinement round starts a new solve).
KRYLOV_MAXITER = 1000

#: BiCGSTAB breaks down when ``|rho|`` or ``|omega|`` falls below ``eps**2`` (scipy's
#: threshold): it is restarted once from where it got, then GMRES takes over.
KRYLOV_BREAKDOWN = float(np.finfo(np.float64).eps) ** 2

#: The parametric worst-case-regret search (``starc._parametric``, dense and sparse) stops
#: when g at the intersection of the two active lines is within this times
#: ``1 + max|rbar_1| / (1 - gamma)`` of the lines there.
PARAMETRIC_RTOL = 1e-12

#: Products ``S * A * S`` up to this size sum the squares of an ``x + y + Z`` sparse
#: canonical entry by entry (a boolean mask of that size); larger ones use the closed form.
EXPLICIT_MAX_ENTRIES = 2**20

#: Stored entries allowed in DARD's sparse second term ``A * nnz(H)`` on a sparse MDP.
DARD_MAX_NNZ = 2**27

#: Right-hand sides per block of the transposed solves of the sparse tie band (bounds the
#: memory of a block to ``S * TIE_BAND_BLOCK`` floats).
TIE_BAND_BLOCK = 64


class LPTolerances(NamedTuple):
    """The constants of the dual simplex (``starc.batch._lp``), passed at run time."""

    cost_perturbation: float
    perturbation_step: float
    primal_tol: float
    pivot_tol: float
    dual_rtol: float
    ratio_tie_rtol: float
    stall_rtol: float
    box_tol: float
    certificate_rtol: float
    bland_after: int
    refactor_every: int
    scan_limit: int
    iter_per_variable: int
    iter_extra: int


def lp_tolerances() -> LPTolerances:
    """The current LP constants of this module as an :class:`LPTolerances`."""
    return LPTolerances(float(LP_COST_PERTURBATION), float(LP_PERTURBATION_STEP),
                        float(LP_PRIMAL_TOL), float(LP_PIVOT_TOL), float(LP_DUAL_RTOL),
                        float(LP_RATIO_TIE_RTOL), float(LP_STALL_RTOL), float(LP_BOX_TOL),
                        float(LP_CERTIFICATE_RTOL), int(LP_BLAND_AFTER),
                        int(LP_REFACTOR_EVERY), int(LP_SCAN_LIMIT),
                        int(LP_ITER_PER_VARIABLE), int(LP_ITER_EXTRA))


class Tolerances(NamedTuple):
    """The tolerances a kernel decides with, passed at run time (see the module notes)."""

    zero_rtol: float
    tie_rtol: float
    regret_rtol: float
    bellman_rtol: float
    improve_rtol: float


def tolerances() -> Tolerances:
    """The current tolerances of this module as a :class:`Tolerances` (read at call time)."""
    return Tolerances(float(ZERO_RTOL), float(TIE_RTOL), float(REGRET_RTOL),
                      float(BELLMAN_RTOL), float(IMPROVE_RTOL))


# ----------------------------------------------------------------------------- names and codes

#: Norm names, in code order: code ``j`` is ``NORMS[j]``.
NORMS = ("l1", "l2", "linf", "weighted_l1", "weighted_l2", "weighted_linf")
NORM_L1, NORM_L2, NORM_LINF, NORM_WEIGHTED_L1, NORM_WEIGHTED_L2, NORM_WEIGHTED_LINF = range(6)
N_NORMS = 6
#: Normalization code "no normalization" (after the six norm codes).
NORM_NONE = 6
N_NORMALIZATIONS = 7

#: The paper's names of the norms (variant names such as ``"VAL-weighted_1-inf"``).
PAPER_NORMS = {"1": "l1", "2": "l2", "inf": "linf", "weighted_1": "weighted_l1",
               "weighted_2": "weighted_l2", "weighted_inf": "weighted_linf"}
#: The paper's name of "no normalization".
PAPER_NO_NORMALIZATION = "0"
#: The paper's names of the canonicalizations.
PAPER_CANONICALIZATIONS = {"None": "none", "EPIC": "epic", "DARD": "dard",
                           "MinimalPotential": "minimal_potential",
                           "VALPotential": "val_potential", "VAL": "val"}

#: Canonicalization families with a closed form, in code order (``minimal_potential``
#: here is its L2 version; ``minimal_l2`` the minimal canonical of STARC Def. 4).
FAMILIES = ("none", "epic", "dard", "minimal_potential", "val_potential", "val", "minimal_l2")
F_NONE, F_EPIC, F_DARD, F_MINPOT, F_VALPOT, F_VAL, F_MINL2 = range(7)
N_FAMILIES = 7
#: MinimalPotential with the L1 norm (one linear program per reward), after the others.
F_LP = 7

#: Norm-weight profiles of factored canonicals ``u (S, A)``: the all-ones profile of VAL
#: and the profile ``tau / ||tau||^2`` of the minimal L2 canonical.
PROFILE_ONES, PROFILE_MINIMAL_L2 = 0, 1

#: How regret breaks ties between the proxy's optimal policies, in code order.
TIES = ("pessimistic", "optimistic", "first")
TIE_PESSIMISTIC, TIE_OPTIMISTIC, TIE_FIRST = range(3)

#: Status codes of the kernels (0 = success).
STATUS_OK = 0
STATUS_BELLMAN = 1          # policy iteration: Bellman residual above BELLMAN_RTOL
STATUS_NO_CONVERGENCE = 2   # policy iteration: no fixed point in PI_MAX_ITER iterations
STATUS_SINGULAR = 3         # a factorisation failed (singular matrix)
STATUS_EVALUATION = 4       # a policy evaluation failed
STATUS_UNDECIDED = 5        # a regret depends on ties float64 cannot decide
#: Status codes of the MinimalPotential-L1 dual simplex.
LP_OK, LP_ITERATION_LIMIT, LP_SINGULAR, LP_UNCERTIFIED = range(4)

# ----------------------------------------------------------------------------- rules


def is_zero(norm, ones_norm, noise):
    r"""Zero rule: ``norm <= ones_norm * noise`` (arrays or scalars).

    ``noise`` bounds the round-off of each entry of the array whose norm is ``norm``, and
    ``ones_norm`` is the norm of the all-ones array of its shape.
    """
    return norm <= ones_norm * noise


def trivial_tolerance(magnitude, gamma, regret_rtol):
    r"""The largest value range of a trivial reward:
    ``regret_rtol * magnitude / (1 - gamma)``, ``magnitude = max E_tau |R|``."""
    return regret_rtol * magnitude / (1.0 - gamma)


def is_trivial(lo, hi, tolerance):
    """Trivial-reward rule: every policy's return within ``tolerance`` of every other's."""
    return hi - lo <= tolerance


def tie_bounds(magnitude, gamma, size, tie_rtol):
    r"""``(floor, worst, unit)`` of the round-off bound of a computed advantage gap.

    The gap :math:`\hat Q(s,a^*) - \hat Q(s,a)` is off by at most ``tie_rtol``
    :math:`\cdot(M + \max|\hat V|\,(1 + 2\gamma\|w_{sa}\|_1))` with
    :math:`w_{sa}^\top = (\tau(\cdot|s,a) - \tau(\cdot|s,a^*))(I - \gamma P_\pi)^{-1}`
    (``magnitude`` = :math:`M`, ``size`` = :math:`\max|\hat V|`): ``floor`` is that bound
    with :math:`w = 0`, ``worst`` with the largest possible :math:`\|w\|_1 = 2/(1-\gamma)`,
    and ``unit`` the factor :math:`2\gamma\,\epsilon\max|\hat V|` of :math:`\|w\|_1`.
    """
    floor = tie_rtol * (magnitude + size)
    unit = 2.0 * gamma * tie_rtol * size
    return floor, floor + unit * 2.0 / (1.0 - gamma), unit


def tie_bound(floor, unit, spread):
    """The round-off bound of one gap, ``floor + unit * ||w||_1`` (``spread = ||w||_1``);
    the gap is a tie when at most this."""
    return floor + unit * spread


def doubt_limit(magnitude, regret_rtol):
    """Ties with a bound above ``regret_rtol * magnitude`` are in doubt (:func:`in_doubt`)."""
    return regret_rtol * magnitude


def in_doubt(bound, limit):
    """Tie rule, second half: a tie decided against a bound above ``limit`` is in doubt."""
    return bound > limit


def tie_sign(ties):
    """``-1.0`` for pessimistic ties (minimise the true return over the tied policies),
    ``1.0`` otherwise; ``ties`` is a tie code (:data:`TIES`)."""
    return -1.0 if ties == TIE_PESSIMISTIC else 1.0


def regret_fraction(lo, hi, j):
    """Normalised regret ``(hi - j) / (hi - lo)`` of a return ``j``, clipped to [0, 1]
    (scalars)."""
    x = (hi - j) / (hi - lo)
    return min(max(x, 0.0), 1.0)


def check_regret_gamma(gamma: float, what: str) -> None:
    """Refuse a discount above :data:`GAMMA_MAX` (see there) with a ValidationError
    (``what`` names the caller in the message)."""
    if gamma > GAMMA_MAX:
        raise ValidationError(
            f"{what}: gamma = {gamma!r} is above {GAMMA_MAX!r}, where float64 cannot decide "
            f"optimal actions: the round-off of action values computed from returns of size "
            f"|R|/(1 - gamma) is at least {TIE_RTOL:.2g}/(1 - gamma) = "
            f"{TIE_RTOL / (1.0 - gamma):.2g} of the reward's size, and policy iteration "
            f"cannot see improvements below {IMPROVE_RTOL:g}/(1 - gamma) of it; use a "
            "smaller gamma")
