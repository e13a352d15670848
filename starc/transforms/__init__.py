r"""Reward transforms and aggregation for RLHF.

How should a reward model's scores be transformed before a policy is optimised against
them, and how should the rewards of several properties (or of several ensemble members)
be combined? This subpackage implements the answers of the RLHF reward literature exactly,
over discrete response sets:

* :mod:`~starc.transforms.lsc` -- log-sigmoid centring (LSC) :math:`\log\sigma(r -
  r_{\mathrm{ref}})`, per-prompt references and named transforms;
* :mod:`~starc.transforms.aggregation` -- sums, minima, products; the LSC sum as
  :math:`\log p(\text{all good})`;
* :mod:`~starc.transforms.policies` -- exact KL-tilted and best-of-:math:`n` policies,
  KL, win rates and comparisons at equal KL;
* :mod:`~starc.transforms.ensembles` -- reward-model ensembles;
* :mod:`~starc.transforms.process_rewards` -- Clip and Delta refinements of process
  rewards;
* :mod:`~starc.transforms.tabular` -- the same transforms on tabular rewards
  :math:`R(s, a, s')`, to measure with the tabular core what they do to policy orderings;
* :mod:`~starc.transforms.synthetic` -- synthetic two-property scenarios.

Axis conventions: per-prompt rewards are ``(..., n)`` with responses last; several
properties are ``(K, ..., n)`` and ensembles ``(M, ...)`` with the property or member
axis first; step rewards are ``(..., K)`` with steps last.
"""

from .aggregation import COMBINATION_RULES, aggregate, lsc_aggregate, p_all_good
from .ensembles import ENSEMBLE_METHODS, ensemble_reward, standardize_members
from .lsc import REFERENCE_METHODS, TRANSFORM_KINDS, lsc, reference_reward, transform
from .policies import (WIN_MODELS, KLSweep, best_of_n_kl, best_of_n_policy,
                       compare_at_equal_kl, exponential_tilt, kl_divergence, kl_sweep,
                       kl_tilted_policy, win_probability, win_rate)
from .process_rewards import (DELTA_FINALS, clip_delta_process_rewards, clip_process_rewards,
                              delta_process_rewards, returns_to_go)
from .synthetic import (SCENARIO_SAMPLINGS, SCENARIOS, UTILITY_PIPELINES, AggregationScenario,
                        aggregation_scenario, aggregation_utilities, compare_aggregations)
from .tabular import TABULAR_SCOPES, transform_reward

__all__ = [
    # lsc
    "lsc", "reference_reward", "transform", "TRANSFORM_KINDS", "REFERENCE_METHODS",
    # aggregation
    "aggregate", "lsc_aggregate", "p_all_good", "COMBINATION_RULES",
    # policies
    "kl_tilted_policy", "exponential_tilt", "kl_divergence", "best_of_n_policy",
    "best_of_n_kl",
    "win_probability", "win_rate", "kl_sweep", "KLSweep", "compare_at_equal_kl",
    "WIN_MODELS",
    # ensembles
    "ensemble_reward", "standardize_members", "ENSEMBLE_METHODS",
    # process rewards
    "clip_process_rewards", "delta_process_rewards", "clip_delta_process_rewards",
    "returns_to_go", "DELTA_FINALS",
    # tabular bridge
    "transform_reward", "TABULAR_SCOPES",
    # synthetic scenarios
    "AggregationScenario", "aggregation_scenario", "aggregation_utilities",
    "compare_aggregations", "SCENARIOS", "SCENARIO_SAMPLINGS", "UTILITY_PIPELINES",
]
