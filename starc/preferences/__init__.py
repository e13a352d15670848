r"""Preference-dataset topology and general preferences.

The RLHF-theory part of :mod:`starc`: how the *shape* of a preference dataset controls how
well a reward model generalises (Qiu et al., arXiv 2402.10184), and what to do when
preferences are not transitive at all (maximal lotteries, Bradley-Terry diagnostics).

* :mod:`~starc.preferences.graphs` -- induced Bayesian networks: human-preference and
  inductive-bias edges with variances, Laplacians.
* :mod:`~starc.preferences.inference_distance` -- path (Dijkstra) and resistance (exact
  Gaussian posterior) inference distances, matrices and exact or sampled means.
* :mod:`~starc.preferences.datasets` -- chain- and tree-structured datasets on a clustered
  semantic space.
* :mod:`~starc.preferences.structural` -- the structural function via k-center and its
  complexity class.
* :mod:`~starc.preferences.scaling` -- the chain/tree gap as the dataset grows.
* :mod:`~starc.preferences.general` -- preference matrices, Borda, Copeland, Condorcet,
  Smith set, circular triads, maximal lotteries, Bradley-Terry fits.

This subpackage imports networkx (and numba, on first use of a distance query); plain
``import starc`` does not.
"""

from .datasets import (PreferenceDataset, chain_dataset,
                       complexity_function, semantic_clusters, threshold_n_clusters,
                       tree_dataset)
from .general import (BradleyTerryFit, borda_scores, circular_triads, condorcet_winner,
                      copeland_scores, fit_bradley_terry, maximal_lottery,
                      preference_matrix, smith_set, win_matrix)
from .graphs import graph_laplacian, hp_edge_variance, merge_parallel_edges, preference_graph
from .inference_distance import (InferenceDistanceOracle, inference_distance,
                                 inference_distance_matrix, inference_distances,
                                 mean_inference_distance)
from .scaling import TopologyGapCurve, topology_gap_curve
from .structural import StructuralFit, fit_structural_function, k_center, structural_function

__all__ = [
    # graphs
    "hp_edge_variance", "preference_graph", "merge_parallel_edges", "graph_laplacian",
    # inference distance
    "InferenceDistanceOracle", "inference_distance", "inference_distances",
    "inference_distance_matrix", "mean_inference_distance",
    # datasets
    "PreferenceDataset", "chain_dataset", "tree_dataset", "semantic_clusters",
    "threshold_n_clusters", "complexity_function",
    # structural function
    "k_center", "structural_function", "fit_structural_function", "StructuralFit",
    # scaling
    "topology_gap_curve", "TopologyGapCurve",
    # general preferences
    "win_matrix", "preference_matrix", "borda_scores", "copeland_scores",
    "condorcet_winner", "smith_set", "circular_triads", "maximal_lottery",
    "fit_bradley_terry", "BradleyTerryFit",
]
