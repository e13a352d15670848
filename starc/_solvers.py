"""Thin wrappers around cvxpy solves: status checks and a quiet HiGHS.

Not public API. Every cvxpy problem in starc is solved through :func:`solve_cvxpy`,
which raises :class:`~starc.exceptions.SolverError` unless the status is optimal and the
solution finite, and turns every exception of the solve into one. HiGHS treats numbers of
magnitude ``>= 1e20`` as infinite and its tolerances are absolute, so every caller divides
its data by their largest magnitude first (and scales the solution back).
"""

from __future__ import annotations

import os
import sys

from ._rules import LP_FEASIBILITY_TOL
from .exceptions import SolverError

_HIGHS_BANNER_SILENCED = False


def silence_highs_banner() -> None:
    """HiGHS prints a banner on stdout the first time a solver object is built; absorb it."""
    global _HIGHS_BANNER_SILENCED
    if _HIGHS_BANNER_SILENCED:
        return
    _HIGHS_BANNER_SILENCED = True
    try:
        import highspy
    except ImportError:  # pragma: no cover - highspy is a core dependency
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


#: Options for every HiGHS solve. HiGHS drops matrix entries below ``small_matrix_value``
#: (default 1e-9); transition probabilities such as the STARC generator's ``e^-20``-sized
#: ones would vanish and the optimum move by ~1e-7. 1e-12 is the smallest value HiGHS allows.
HIGHS_OPTIONS = {"small_matrix_value": 1e-12}

#: :data:`HIGHS_OPTIONS` with the feasibility tolerances at
#: :data:`starc._rules.LP_FEASIBILITY_TOL`, for linear programs whose optimal value is a
#: result (the minimal-potential canonical, the worst-case regret LP).
HIGHS_TIGHT_OPTIONS = {**HIGHS_OPTIONS,
                       "primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
                       "dual_feasibility_tolerance": LP_FEASIBILITY_TOL}


def solve_cvxpy(problem, solver, what: str, **options) -> None:
    """Solve a cvxpy problem with ``solver``; raise SolverError unless the status is optimal.

    ``options`` are passed to the solver; HiGHS always gets :data:`HIGHS_OPTIONS`.
    """
    import cvxpy as cp

    if solver == cp.HIGHS:
        silence_highs_banner()
        options = {**HIGHS_OPTIONS, **options}
    import numpy as np

    try:
        with np.errstate(invalid="ignore"):  # cvxpy's bound propagation meets inf - inf
            problem.solve(solver=solver, **options)
    except Exception as err:  # noqa: BLE001 - every solver failure becomes a SolverError
        # cvxpy raises its SolverError, but also ValueError ("Cannot unpack invalid
        # solution") or ArithmeticError when the solver hands back a malformed solution
        raise SolverError(f"{what}: the solver {solver} failed "
                          f"({type(err).__name__}: {err})") from None
    if problem.status != cp.OPTIMAL:
        raise SolverError(f"{what}: the solver {solver} ended with status "
                          f"{problem.status!r}, not 'optimal'")
    value = problem.value
    if value is None or not np.isfinite(value) or any(
            v.value is None or not np.all(np.isfinite(v.value)) for v in problem.variables()):
        raise SolverError(f"{what}: the solver {solver} reported 'optimal' but returned a "
                          f"non-finite solution (objective {value!r})")
