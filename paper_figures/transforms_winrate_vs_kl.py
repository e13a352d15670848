"""True win rate against KL for a heavy-tailed proxy reward: raw, LSC and best-of-n.

A synthetic version of the reward-hacking experiment of Wang et al. 2024 (arXiv
2402.00742, Sec. 5): ``n`` responses are sampled from the base policy (uniform over them);
each has a true reward ``r* ~ N(0, 1)`` and a proxy (reward-model) score
``r = r* + 0.5 t_3`` with Student-t noise, whose heavy tail makes a few responses look
excellent to the proxy while being ordinary. Policies optimise the proxy:

* the KL tilt of the raw proxy, ``pi ∝ pi0 exp(r / gamma)``;
* the KL tilt of the LSC proxy, ``pi ∝ pi0 exp(log sigmoid(r - r_ref) / gamma)`` with
  ``r_ref`` the 85th percentile of the proxy scores;
* best-of-n on the proxy (exact distribution, n = 1, 2, 4, ...).

Each is scored by its exact true win rate against the base policy,
``P(r*(Y) > r*(Y'))``, and plotted against its exact ``KL(pi || pi0)``; the tilts are
compared at equal KL. The curves average several independent response sets.

Run ``python paper_figures/transforms_winrate_vs_kl.py [--quick] [--output DIR]``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import figure_parser, write_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from starc.transforms import (best_of_n_policy, compare_at_equal_kl, kl_divergence,  # noqa: E402
                              lsc, reference_reward, win_probability, win_rate)


def compute(quick: bool, seed: int):
    """The averaged curves: ``(kl, {name: win rate}, best-of-n KL, best-of-n win rate)``.

    The full response sets take seconds, so ``quick`` keeps them (a smaller problem would
    not show the claim of the title) and only thins the KL grid.
    """
    n = 20000
    n_sets = 5
    kl = np.linspace(0.0, 5.0, 21 if quick else 41)
    ns = [2**k for k in range(10)]
    seeds = np.random.SeedSequence(seed).spawn(n_sets)

    curves = {"raw proxy": np.zeros(kl.size), "LSC proxy": np.zeros(kl.size)}
    bon_kl = np.zeros(len(ns))
    bon_wr = np.zeros(len(ns))
    for ss in seeds:
        rng = np.random.default_rng(ss)
        r_true = rng.standard_normal(n)
        proxy = r_true + 0.5 * rng.standard_t(3, n)
        logp0 = np.full(n, -np.log(n))
        p0 = np.exp(logp0)
        w = win_probability(r_true, p0)
        ref = reference_reward(proxy, 0.85)
        res = compare_at_equal_kl(logp0, {"raw proxy": proxy, "LSC proxy": lsc(proxy, ref)},
                                  w, kl)
        for name in curves:
            curves[name] += res[name] / n_sets
        for i, m in enumerate(ns):
            pi = best_of_n_policy(logp0, proxy, m)
            bon_kl[i] += kl_divergence(pi, p0) / n_sets
            bon_wr[i] += win_rate(pi, p0, r_true) / n_sets
    return kl, curves, bon_kl, bon_wr


def main(argv=None) -> int:
    args = figure_parser(__doc__, "coarser KL grid (for CI)", seed=0,
                         seed_help="root seed").parse_args(argv)
    kl, curves, bon_kl, bon_wr = compute(args.quick, args.seed)

    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    for name, style in (("raw proxy", "C3-"), ("LSC proxy", "C0-")):
        ax.plot(kl, curves[name], style, label=f"KL tilt, {name}")
    ax.plot(bon_kl, bon_wr, "C2o--", ms=4, label="best-of-n, proxy")
    ax.axhline(0.5, color="0.6", lw=0.8, label="base policy (win rate 0.5)")
    ax.set_xlabel(r"KL$(\pi \,\|\, \pi_0)$ (nats)")
    ax.set_ylabel("true win rate against $\\pi_0$")
    ax.set_title("heavy-tailed proxy: LSC resists reward hacking")
    ax.legend(fontsize=8)

    write_figure(fig, args, "transforms_winrate_vs_kl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
