"""Exceptions raised by :mod:`starc`.

Every error the library raises on purpose derives from :class:`StarcError`, so
``except starc.StarcError`` catches them all. Argument problems raise
:class:`ValidationError`, which is also a :class:`ValueError`, so code written
against numpy/scipy conventions keeps working.
"""

__all__ = [
    "StarcError",
    "ValidationError",
    "SolverError",
    "ConvergenceError",
    "MissingDependencyError",
]


class StarcError(Exception):
    """Base class of every error raised by :mod:`starc`."""


class ValidationError(StarcError, ValueError):
    """An argument has the wrong type, shape or value.

    The message names the argument and says how to fix it.
    """


class SolverError(StarcError, RuntimeError):
    """A numerical solver (cvxpy, HiGHS, a linear solve) did not reach an optimum."""


class ConvergenceError(StarcError, RuntimeError):
    """An iterative method stopped before its certificate (e.g. a Bellman residual) held."""


class MissingDependencyError(StarcError, ImportError):
    """An optional dependency is needed; the message gives the ``pip install`` line."""
