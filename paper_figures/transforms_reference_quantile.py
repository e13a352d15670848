"""How the reference quantile of LSC changes P(all good) at fixed KL.

In the synthetic two-property scenarios of :mod:`starc.transforms.synthetic` (see
``transforms_p_all_good.py``) "good" is fixed: beating the 85th percentile of the true
rewards. The aligner's LSC references are swept over quantiles ``q`` of the reward-model
scores, and the true P(all good) of the LSC-sum tilt is read off at KL = 1 and KL = 4
(dashed: the raw sum at the same KL, the limit ``r_ref -> +inf``). Wang et al. 2024
(arXiv 2402.00742) take the reference from base-policy rewards of the same prompt; this
shows how sensitive the result is to which quantile is used.

Run ``python paper_figures/transforms_reference_quantile.py [--quick] [--output DIR]``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import figure_parser, write_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from starc.transforms import (SCENARIOS, aggregation_scenario, compare_at_equal_kl,  # noqa: E402
                              lsc_aggregate)

TITLES = {"iid": "i.i.d. rewards", "scale": "reward 2 at 3x scale",
          "refusal": "10 % refusals"}


def main(argv=None) -> int:
    args = figure_parser(__doc__, "few quantiles (for CI)").parse_args(argv)

    n_nodes = 16 if args.quick else 40
    qs = np.linspace(0.05, 0.99, 9 if args.quick else 40)
    kl = np.array([1.0, 4.0])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True, constrained_layout=True)
    for ax, kind in zip(axes, SCENARIOS):
        truth = aggregation_scenario(kind, n_nodes=n_nodes, q=0.85)
        raw = compare_at_equal_kl(truth.logp0, {"raw": truth.rewards.sum(axis=0)},
                                  truth.target, kl)["raw"]
        values = np.empty((qs.size, kl.size))
        for i, q in enumerate(qs):
            r_ref = aggregation_scenario(kind, n_nodes=n_nodes, q=q).r_ref
            u = lsc_aggregate(truth.rewards, r_ref)
            values[i] = compare_at_equal_kl(truth.logp0, {"lsc": u}, truth.target, kl)["lsc"]
        for j, (k, color) in enumerate(zip(kl, ("C0", "C1"))):
            ax.plot(qs, values[:, j], color=color, marker="o" if args.quick else None,
                    ms=3, label=f"LSC sum, KL = {k:g}")
            ax.axhline(raw[j], color=color, ls="--", lw=1, label=f"raw sum, KL = {k:g}")
        ax.axvline(0.85, color="0.6", lw=0.8,
                   label="q = 0.85, the quantile that defines \"good\"")
        ax.set_title(TITLES[kind])
        ax.set_xlabel("reference quantile $q$ of the aligner")
    axes[0].set_ylabel("true P(all good)")
    handles, labels = axes[0].get_legend_handles_labels()
    # below the panels: inside, the legend would cover curves
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncol=5)

    write_figure(fig, args, "transforms_reference_quantile")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
