"""starc: exact, fast reward-function distances and regret for tabular MDPs.

The top-level namespace re-exports the tabular core. Subpackages with heavier
dependencies are imported on first use: ``starc.preferences`` (networkx),
``starc.transforms``, ``starc.batch`` (numba), ``starc.sweep``, ``starc.adapters`` and
``starc.bandit`` (reward models on prompts and responses).
"""

import importlib as _importlib

__version__ = "0.1.0.dev0"

from .canonical import CANONICALIZATIONS, canonicalize
from .distances import (VARIANTS, Variant, dard_distance, epic_distance, is_equivalent,
                        pairwise_distances, pearson_distance, resolve_variant, starc_distance)
from .envs import (TabularEnvironment, chain, gridworld, load_mdp, random_mdp, random_reward,
                   save_mdp)
from .exceptions import (ConvergenceError, MissingDependencyError, SolverError, StarcError,
                         ValidationError)
from .mdp import TabularMDP, as_mdp, broadcast_reward, expected_reward
from .norms import NORMS, norm, normalize
from .regret import (WorstCaseRegret, empirical_constants, occupancy_diameter,
                     policy_value_range, regret, regret_bound, soundness_constant,
                     worst_case_regret)
from .shaping import potential_shaping, random_potential_shaping, s_prime_redistribution
from .solve import (occupancy, optimal_policy, optimal_values, policy_evaluation,
                    policy_return, q_values, state_action_occupancy, state_occupancy)

__all__ = [
    # errors
    "StarcError", "ValidationError", "SolverError", "ConvergenceError",
    "MissingDependencyError",
    # MDPs and environments
    "TabularMDP", "as_mdp", "broadcast_reward", "expected_reward",
    "TabularEnvironment", "random_mdp", "random_reward", "gridworld", "chain",
    "save_mdp", "load_mdp",
    # exact solutions
    "policy_evaluation", "q_values", "optimal_policy", "optimal_values", "policy_return",
    "occupancy", "state_occupancy", "state_action_occupancy",
    # equivalence transformations
    "potential_shaping", "random_potential_shaping", "s_prime_redistribution",
    "is_equivalent",
    # canonicalization, norms, distances
    "CANONICALIZATIONS", "canonicalize", "NORMS", "norm", "normalize",
    "starc_distance", "epic_distance", "dard_distance", "pearson_distance",
    "pairwise_distances", "Variant", "VARIANTS", "resolve_variant",
    # regret
    "regret", "policy_value_range", "worst_case_regret", "WorstCaseRegret", "regret_bound",
    "soundness_constant", "occupancy_diameter", "empirical_constants",
]

_SUBPACKAGES = ("preferences", "transforms", "batch", "sweep", "adapters", "plotting",
                "sampled", "bandit")


def __getattr__(name):
    if name in _SUBPACKAGES:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'starc' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
