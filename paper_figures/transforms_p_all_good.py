"""P(all good) against KL for aggregations of two rewards in three scenarios.

The aggregation experiment of Wang et al. 2024 (arXiv 2402.00742, Sec. 4-5) in a
controlled synthetic form (:mod:`starc.transforms.synthetic`): two properties, true
Bradley-Terry rewards defining "good", reward-model scores seen by the aligner. Each
aggregation of the scores (raw sum, LSC sum, sum of z-scores, sum of sigmoids, min and
soft-min of z-scores) is turned into its exact KL-tilted policy, and the true probability
that a response is good on both properties is plotted against ``KL(pi || pi0)``:

* i.i.d. rewards (negative control: raw and LSC sums tie);
* the second reward model at 3x the scale of the truth (the raw sum is dominated by it);
* 10 % "refusals", perfectly harmless and unhelpful (the raw sum rewards them).

The response sets are the population limit by Gauss-Hermite quadrature.

Run ``python paper_figures/transforms_p_all_good.py [--quick] [--output DIR]``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import figure_parser, write_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from starc.transforms import (UTILITY_PIPELINES, SCENARIOS, aggregation_scenario,  # noqa: E402
                              compare_aggregations)

TITLES = {"iid": "i.i.d. rewards", "scale": "reward 2 at 3x scale",
          "refusal": "10 % refusals"}
STYLES = {"raw_sum": "C3-", "lsc_sum": "C0-", "zscore_sum": "C1--", "sigmoid_sum": "C2--",
          "min": "C4:", "softmin": "C5:"}


def main(argv=None) -> int:
    args = figure_parser(__doc__, "coarse quadrature (for CI)").parse_args(argv)

    n_nodes = 16 if args.quick else 40
    kl = np.linspace(0.05, 4.0, 8 if args.quick else 60)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True, constrained_layout=True)
    for ax, kind in zip(axes, SCENARIOS):
        sc = aggregation_scenario(kind, n_nodes=n_nodes)
        res = compare_aggregations(sc, kl, methods=UTILITY_PIPELINES)
        for name in UTILITY_PIPELINES:
            ax.plot(kl, res[name], STYLES[name], label=name.replace("_", " "))
        ax.set_title(TITLES[kind])
        ax.set_xlabel(r"KL$(\pi \,\|\, \pi_0)$ (nats)")
    axes[0].set_ylabel("true P(all good)")
    axes[0].legend(fontsize=8)

    write_figure(fig, args, "transforms_p_all_good")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
