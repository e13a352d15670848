"""starc: exact, fast reward-function distances and regret for tabular MDPs."""

__version__ = "0.1.0.dev0"

from .exceptions import (ConvergenceError, MissingDependencyError, SolverError, StarcError,
                         ValidationError)
from .mdp import TabularMDP, broadcast_reward, expected_reward

__all__ = [
    "__version__",
    "StarcError", "ValidationError", "SolverError", "ConvergenceError",
    "MissingDependencyError",
    "TabularMDP", "broadcast_reward", "expected_reward",
]
