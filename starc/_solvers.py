"""Thin wrappers around cvxpy solves: status checks and a quiet HiGHS.

Not public API. Every cvxpy problem in starc is solved through :func:`solve_cvxpy`,
which raises :class:`~starc.exceptions.SolverError` unless the status is optimal.
"""

from __future__ import annotations

import os
import sys

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


def solve_cvxpy(problem, solver, what: str) -> None:
    """Solve a cvxpy problem with ``solver``; raise SolverError unless the status is optimal."""
    import cvxpy as cp

    if solver == cp.HIGHS:
        silence_highs_banner()
    import numpy as np

    try:
        with np.errstate(invalid="ignore"):  # cvxpy's bound propagation meets inf - inf
            problem.solve(solver=solver)
    except cp.error.SolverError as err:
        raise SolverError(f"{what}: the solver {solver} failed: {err}") from None
    if problem.status != cp.OPTIMAL:
        raise SolverError(f"{what}: the solver {solver} ended with status "
                          f"{problem.status!r}, not 'optimal'")
