"""Chain vs tree preference data: the mean inference distance gap grows like ln n / ln ln n.

Reproduces the scaling claim of Qiu et al. 2024 ("Reward Generalization in RLHF: A
Topological Perspective", arXiv 2402.10184, Thm. 4.5): with a polynomial structural
function and limited data, tree-structured preference data lower the mean *path*
inference distance by a factor Theta(log n / log log n) against chain data, n being the
number of comparisons. Datasets come from ``starc.preferences.chain_dataset`` and
``tree_dataset`` (semantic clusters at the connectivity threshold M = 2n / ln n).

Left: mean path inference distance of chain and tree data against n (log axis spanning
more than two decades), with the mean effective resistance (the exact Gaussian
posterior variance) dashed. Right: the chain/tree ratio of path distances with the
least-squares fit a + b ln n / ln ln n, and the resistance ratio, which does not grow.

Run ``python paper_figures/topology_scaling.py [--quick] [--output DIR]``; the PNG is
written to ``DIR/topology_scaling.png``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import figure_parser, write_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from starc.preferences import topology_gap_curve  # noqa: E402


def main(argv=None) -> int:
    args = figure_parser(__doc__, "small sizes (for CI)", seed=0,
                         seed_help="root random seed").parse_args(argv)

    if args.quick:
        ns = 2 ** np.arange(6, 14)                 # 64 .. 8192: 2.1 decades
        kw = dict(n_samples=300, n_resistance_pairs=8, n_repeats=1)
    else:
        ns = 2 ** np.arange(8, 17)                 # 256 .. 65536: 2.4 decades
        kw = dict(n_samples=3000, n_resistance_pairs=48, n_repeats=2)
    curve = topology_gap_curve(ns, seed=args.seed, **kw)

    fig, (ax_d, ax_r) = plt.subplots(1, 2, figsize=(10, 4.8), constrained_layout=True)
    ax_d.plot(ns, curve.chain_path, "o-", color="C3", label="chain data, path")
    ax_d.plot(ns, curve.tree_path, "s-", color="C0", label="tree data, path")
    ax_d.plot(ns, curve.chain_resistance, "o--", color="C3", alpha=0.6,
              label="chain data, resistance")
    ax_d.plot(ns, curve.tree_resistance, "s--", color="C0", alpha=0.6,
              label="tree data, resistance")
    ax_d.set_xscale("log")
    ax_d.set_yscale("log")
    ax_d.set_xlabel("number of comparisons $n$")
    ax_d.set_ylabel("mean inference distance between responses")
    ax_d.set_title("path grows for chain data only; resistance does not grow")
    # legends below the panels: inside, every corner holds data
    ax_d.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)

    grid = np.geomspace(ns[0], ns[-1], 200)
    ref = np.log(grid) / np.log(np.log(grid))
    ax_r.plot(ns, curve.ratio, "o", color="k", label="chain / tree, path distance")
    ax_r.plot(grid, curve.fit_intercept + curve.fit_slope * ref, "-", color="C2",
              label=(rf"fit ${curve.fit_intercept:.2f} + {curve.fit_slope:.2f}\,"
                     rf"\ln n / \ln\ln n$ ($R^2$ = {curve.fit_r2:.3f})"))
    ax_r.plot(ns, curve.resistance_ratio, "^--", color="0.5",
              label="chain / tree, resistance")
    ax_r.set_xscale("log")
    ax_r.set_xlabel("number of comparisons $n$")
    ax_r.set_ylabel("ratio of mean inference distances")
    ax_r.set_title(r"the gap follows $\ln n / \ln\ln n$ (Qiu et al., Thm. 4.5)")
    ax_r.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)

    write_figure(fig, args, "topology_scaling")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
