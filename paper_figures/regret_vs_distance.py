"""Regret against VAL(L2, L2) distance, with the certified bound.

For random MDPs of the STARC paper's generator and reward pairs
``R_i = R_1 + t (R_2 - R_1)`` along a line, plots the exact optimal-policy regret and the
exact worst-case regret (an LP) against the STARC distance ``d = VAL(L2, L2)``, together
with each pair's certified upper bound ``min(1, U(R_1) d)`` (STARC Thm. 1; see
``starc.regret``). The bound lies above every worst-case regret; both regrets grow with
the distance, as soundness and completeness predict. The bound is vacuous (equal to 1)
once ``U(R_1) d >= 1``, which for these rewards happens already at small distances; the
right panel zooms, on log axes, on the pairs where it is informative, and the figure says
how many pairs have a vacuous bound.

Run ``python paper_figures/regret_vs_distance.py [--quick] [--output DIR]``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import SCRIPT_OUTPUT, figure_parser, save_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import starc  # noqa: E402
from starc.plotting import regret_vs_distance  # noqa: E402


def collect(n_mdps: int, n_pairs: int, steps: int, n_states: int, n_actions: int, seed: int,
            n_small: int = 0):
    """Rows of (distance, regret, worst-case regret, bound) over random pairs.

    Each pair line is sampled at ``steps`` even steps of ``t`` in (0, 1] and at ``n_small``
    log-spaced ``t`` in [1e-3, 0.05] (where the bound is informative).
    """
    ts = np.concatenate([np.geomspace(1e-3, 0.05, n_small) if n_small else [],
                         np.linspace(0.0, 1.0, steps + 1)[1:]])
    rows = []
    for mdp_seed in np.random.SeedSequence(seed).spawn(n_mdps):
        rng = np.random.default_rng(mdp_seed)
        mdp = starc.random_mdp(n_states, n_actions, gamma=0.95, seed=rng)
        for _ in range(n_pairs):
            r1 = starc.random_reward(mdp, seed=rng, kind="starc")
            r2 = starc.random_reward(mdp, seed=rng, kind="starc")
            u = starc.soundness_constant(r1, mdp)
            for t in ts:
                ri = r1 + t * (r2 - r1)
                d = starc.starc_distance(r1, ri, mdp)
                rows.append((d, starc.regret(r1, ri, mdp), starc.worst_case_regret(r1, ri, mdp),
                             min(1.0, u * d)))
    return np.array(rows)


def main(argv=None) -> int:
    args = figure_parser(__doc__, "a small run for CI", seed=0, output=SCRIPT_OUTPUT,
                         seed_help=None).parse_args(argv)
    if args.quick:
        data = collect(n_mdps=3, n_pairs=2, steps=8, n_states=12, n_actions=3, seed=args.seed,
                       n_small=6)
    else:
        data = collect(n_mdps=16, n_pairs=8, steps=16, n_states=32, n_actions=4, seed=args.seed,
                       n_small=8)
    d, reg, wcr, bound = data.T
    if np.any(wcr > bound + 1e-8):
        raise AssertionError("a worst-case regret exceeds its certified bound")
    vacuous = bound >= 1.0
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(10, 4.6))
    regret_vs_distance(d, wcr, reg, bound, xlabel="VAL(L2, L2) distance d", ax=ax)
    ax.set_title(f"all {len(d)} reward pairs")
    if vacuous.any():
        d0 = d[vacuous].min()
        fig.text(0.99, 0.02, f"the bound is vacuous (= 1) for {vacuous.sum()} of {len(d)} pairs\n"
                 f"(every pair with U d >= 1; smallest such d = {d0:.3g})",
                 ha="right", va="bottom", fontsize=8)

    # pairs whose distance is zero up to rounding (d < 1e-9) have no place on log axes
    inf = ~vacuous & (d > 1e-9)
    if inf.any():
        zorder = np.argsort(d[inf])
        zoom.plot(d[inf][zorder], bound[inf][zorder], color="0.4", ls="--", lw=1,
                  label="certified bound U d")
        zoom.scatter(d[inf], wcr[inf], s=12, alpha=0.8, color="C0",
                     label="worst-case regret (LP)")
        pos = inf & (reg > 0)
        zoom.scatter(d[pos], reg[pos], s=12, alpha=0.8, color="C1",
                     label="optimal-policy regret (> 0)")
        zoom.set_xscale("log")
        zoom.set_yscale("log")
        zoom.legend(fontsize=8, loc="lower right")
    else:
        zoom.text(0.5, 0.5, "the bound is vacuous (= 1) for every pair",
                  transform=zoom.transAxes, ha="center", va="center")
    zoom.set_xlabel("VAL(L2, L2) distance d")
    zoom.set_ylabel("normalised regret")
    zoom.set_title(f"zoom, log axes: {inf.sum()} pairs with U d < 1 (bound informative)",
                   fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower left", ncol=2,
               bbox_to_anchor=(0.0, 0.0), frameon=False)
    fig.suptitle("Regret vs STARC distance, with the certified bound (STARC Thm. 1)")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path = save_figure(fig, args.output, "regret_vs_distance.png", dpi=120)
    rho = np.corrcoef(d, reg)[0, 1]
    print(f"wrote {path} ({len(d)} pairs; Pearson(distance, regret) = {rho:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
