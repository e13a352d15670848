r"""The STARC stack for reward models on prompts and responses (contextual bandits).

An RLHF reward model scores responses :math:`y` to prompts :math:`x`. Over a finite
sample -- ``n`` prompts with weights :math:`\mu(x)`, each with a (ragged) set of responses
with weights :math:`\nu(y|x)` -- a reward is an ``(n, m)`` array with a boolean ``mask``
marking the real entries. This is the one-step MDP of STARC [1]_, so every piece of the
tabular theory carries over, exactly and fast:

* :mod:`~starc.bandit.canonical` -- per-prompt canonicalizations ("mean", "median",
  "midrange", "none");
* :mod:`~starc.bandit.norms` -- (weighted) :math:`L_p` norms over the valid entries;
* :mod:`~starc.bandit.distances` -- STARC and Pearson distances, pairwise matrices;
* :mod:`~starc.bandit.correlations` -- per-prompt Spearman and Kendall correlations;
* :mod:`~starc.bandit.regret` -- argmax regret, exact worst-case regret and the
  certified bound;
* :mod:`~starc.bandit.accuracy` -- pairwise and one-to-many preference accuracy;
* :mod:`~starc.bandit.bootstrap` -- confidence intervals over prompts;
* :mod:`~starc.bandit.frames` -- long tables (pandas, polars, pyarrow) to arrays;
* :mod:`~starc.bandit.overoptimization` -- exact best-of-n and KL-regularised
  over-optimisation curves of a proxy (true-reward gain against KL) and their plot.

Conventions: rewards are ``(..., n, m)``; ``mask`` is ``(n, m)`` bool (None = all valid)
and entries where it is False are never read; ``prompt_weights`` is ``(n,)`` summing to 1;
``response_weights`` is ``(n, m)`` with each prompt's valid entries summing to 1.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024.
"""

from .accuracy import one_to_many_accuracy, preference_accuracy
from .bootstrap import STATISTICS, BootstrapResult, bootstrap
from .canonical import CANONICALIZATIONS, canonicalize
from .correlations import RANK_METHODS, rank_correlation
from .distances import distance, pairwise_distances, pearson_distance
from .frames import RewardTable, from_frame
from .norms import NORMS, norm, normalize
from .overoptimization import OVEROPTIMIZATION_COLUMNS, overoptimization, plot_overoptimization
from .regret import TIES, regret, regret_bound, soundness_constant, worst_case_regret

__all__ = [
    # canonicalization and norms
    "CANONICALIZATIONS", "canonicalize", "NORMS", "norm", "normalize",
    # distances
    "distance", "pearson_distance", "pairwise_distances",
    # regret
    "regret", "worst_case_regret", "regret_bound", "soundness_constant", "TIES",
    # baselines and evaluation
    "rank_correlation", "RANK_METHODS", "preference_accuracy", "one_to_many_accuracy",
    # uncertainty
    "bootstrap", "BootstrapResult", "STATISTICS",
    # data in
    "from_frame", "RewardTable",
    # over-optimisation
    "overoptimization", "plot_overoptimization", "OVEROPTIMIZATION_COLUMNS",
]
