"""Which reward-model metric predicts over-optimisation damage? Per-prompt rank metrics do best; pooled Pearson is fooled by per-prompt offsets.

A synthetic gold/proxy study on prompts x responses (the contextual bandit of
:mod:`starc.bandit`), in the spirit of Figure 1 of the STARC paper (Skalse et al., ICLR
2024), which correlates distances with the regret they should predict. A gold reward
``G(x, y) ~ N(0, 1)`` scores ``m`` responses to each of ``n`` prompts; proxies of four
families stand in for learned reward models:

* **noise**: ``G + s * t_2`` (Student-t noise with 2 degrees of freedom, heavy tailed) for
  a range of scales ``s`` -- increasing distance from the gold reward;
* **offset**: ``G + c(x)`` with large per-prompt offsets (equivalent to ``G``: distance 0,
  the same optimal policies), and the same plus noise;
* **per-prompt scale**: ``a(x) G`` with log-normal ``a(x)`` (same order within each
  prompt, but one shared KL coefficient spends the KL budget differently);
* **monotone**: ``exp(k G)`` and ``G^3`` (same order, different magnitudes).

Each proxy is optimised exactly (:func:`starc.bandit.overoptimization`): best-of-n for
n = 2..64 and the KL-regularised policy ``pi ∝ nu exp(proxy / beta)`` on a grid of KL
values, and scored by the gold reward. The *damage* of a proxy is the shortfall of its
normalised gold gain against optimising the gold reward itself with the same n (or the
same KL), averaged over the n (or KL) grid; the argmax regret
(:func:`starc.bandit.regret`) is the limit. Each candidate metric, written as a distance
(0 = agrees with gold), is correlated with each damage across the proxies: the STARC
distances of the three matching variants (mean/L2, median/L1, midrange/Linf), ``1 -`` the
Pearson correlation pooled over all prompt-response pairs, ``1 -`` the per-prompt
Spearman correlation, and ``1 -`` the pairwise accuracy on every within-prompt pair the
gold reward orders. (Two further metrics are left out because they are exact functions of
these here: with uniform weights the Pearson distance of the mean-canonical rewards is half
the mean/L2 STARC distance, and without ties, with the same number of responses per
prompt, ``1 -`` Kendall's tau is twice ``1 -`` the pairwise accuracy.)

What comes out: the per-prompt rank metrics and the pairwise accuracy track the damage
closely (best-of-n depends only on each prompt's order, so they are exact there, and the
noise proxies dominate the KL damage too). The STARC distance is right about the offset
proxies (0) but charges the order-preserving scale and monotone proxies far more than the
little KL damage they cause; the pooled Pearson correlation is fooled by per-prompt
offsets, which change nothing that is optimised.

Run ``python paper_figures/bandit_overoptimization.py [--quick] [--output DIR]``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import figure_parser, write_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from starc import bandit  # noqa: E402

#: The metrics, as distances from the gold reward (0 = agrees with it), in plot order.
METRICS = ("STARC mean-L2", "STARC median-L1", "STARC midrange-Linf", "1 - pooled Pearson",
           "1 - Spearman", "1 - pairwise accuracy")
#: (canonicalization, norm) of the STARC variants of :data:`METRICS`.
STARC_VARIANTS = {"STARC mean-L2": ("mean", "l2"), "STARC median-L1": ("median", "l1"),
                  "STARC midrange-Linf": ("midrange", "linf")}
#: The damages of optimising a proxy, measured with the gold reward.
DAMAGES = ("best-of-n", "KL-regularised", "argmax regret")
FAMILY_COLOURS = {"gold": "k", "noise": "C0", "offset": "C1", "scale": "C2",
                  "monotone": "C3"}


def make_proxies(gold: np.ndarray, rng: np.random.Generator, quick: bool) -> dict:
    """Name -> (family, proxy scores) for the gold reward ``gold`` (n, m)."""
    n, m = gold.shape
    scales = np.geomspace(0.05, 4.0, 6 if quick else 10)
    proxies = {"gold": ("gold", gold)}
    for s in scales:
        proxies[f"noise {s:.2g}"] = ("noise", gold + s * rng.standard_t(2, (n, m)))
    offsets = 5.0 * rng.standard_normal((n, 1))
    proxies["offset"] = ("offset", gold + offsets)
    for s in ((0.5,) if quick else (0.2, 0.5, 1.0)):
        proxies[f"offset + noise {s:.2g}"] = ("offset",
                                              gold + offsets + s * rng.standard_t(2, (n, m)))
    for k in ((1.0,) if quick else (0.5, 1.0, 2.0)):
        proxies[f"scale {k:.2g}"] = ("scale", np.exp(k * rng.standard_normal((n, 1))) * gold)
    for k in ((1.0, 2.0) if quick else (0.5, 1.0, 2.0)):
        proxies[f"exp({k:.2g} G)"] = ("monotone", np.exp(k * gold))
    proxies["G^3"] = ("monotone", gold ** 3)
    return proxies


def within_prompt_pairs(gold: np.ndarray) -> np.ndarray:
    """(prompt, chosen, rejected) for every pair of responses the gold reward orders."""
    i, j = np.triu_indices(gold.shape[1], k=1)
    diff = gold[:, i] - gold[:, j]
    x, k = np.nonzero(diff != 0)
    first = diff[x, k] > 0
    return np.stack([x, np.where(first, i[k], j[k]), np.where(first, j[k], i[k])], axis=1)


def metrics(gold: np.ndarray, proxy: np.ndarray, pairs: np.ndarray) -> dict[str, float]:
    """Each metric of :data:`METRICS` between ``gold`` and ``proxy``."""
    out = {name: bandit.distance(gold, proxy, canonicalization=c, normalization=p, metric=p)
           for name, (c, p) in STARC_VARIANTS.items()}
    out["1 - pooled Pearson"] = 1.0 - np.corrcoef(gold.ravel(), proxy.ravel())[0, 1]
    out["1 - Spearman"] = 1.0 - bandit.rank_correlation(gold, proxy, method="spearman")
    out["1 - pairwise accuracy"] = 1.0 - bandit.preference_accuracy(proxy, pairs)
    return out


def compute(quick: bool = False, seed: int = 0) -> dict:
    """The study: curves, metrics and damages of every proxy, and their correlations.

    Returns a dict with ``names``, ``families``, ``metrics`` (name -> (P,)), ``damage``
    (name -> (P,)), ``curves`` (proxy name -> over-optimisation table), ``kl`` (the KL
    grid), ``ns`` and ``correlation`` ((metric, damage) -> Pearson r across the proxies
    other than the gold reward itself).
    """
    rng = np.random.default_rng(seed)
    n, m = (120, 12) if quick else (400, 16)
    gold = rng.standard_normal((n, m))
    proxies = make_proxies(gold, rng, quick)
    ns = [2, 4, 8, 16, 32, 64]
    kl = np.linspace(0.05, 0.9, 8 if quick else 16) * np.log(m)   # every proxy: no ties
    pairs = within_prompt_pairs(gold)

    curves = {name: bandit.overoptimization(gold, p, n=ns, kl=kl)
              for name, (_, p) in proxies.items()}
    ref = curves["gold"]
    bon = ref["method"] == "best_of_n"
    names = [k for k in proxies if k != "gold"]
    table = {k: np.empty(len(names)) for k in METRICS}
    damage = {k: np.empty(len(names)) for k in DAMAGES}
    for i, name in enumerate(names):
        proxy = proxies[name][1]
        for k, v in metrics(gold, proxy, pairs).items():
            table[k][i] = v
        gap = ref["true_gain_normalized"] - curves[name]["true_gain_normalized"]
        damage["best-of-n"][i] = gap[bon].mean()
        damage["KL-regularised"][i] = gap[~bon].mean()
        damage["argmax regret"][i] = bandit.regret(gold, proxy)
    correlation = {(k, d): float(np.corrcoef(table[k], damage[d])[0, 1])
                   for k in METRICS for d in DAMAGES}
    return {"names": names, "families": [proxies[k][0] for k in names], "metrics": table,
            "damage": damage, "curves": curves, "kl": kl, "ns": ns,
            "correlation": correlation}


def report(res: dict) -> str:
    """The correlation table (metric x damage) as text."""
    width = max(map(len, METRICS)) + 2
    lines = ["Pearson correlation across proxies of each metric with the realised damage",
             f"{'metric':<{width}}" + "".join(f"{d:>18}" for d in DAMAGES)]
    for k in METRICS:
        lines.append(f"{k:<{width}}" + "".join(f"{res['correlation'][(k, d)]:>18.3f}"
                                                for d in DAMAGES))
    return "\n".join(lines)


def main(argv=None) -> int:
    args = figure_parser(__doc__, "smaller problem, fewer proxies (for CI)", seed=0).parse_args(
        argv)
    res = compute(quick=args.quick, seed=args.seed)
    print(report(res))

    fig = plt.figure(figsize=(15, 7.5), constrained_layout=True)
    grid = fig.add_gridspec(2, len(METRICS))
    ax_kl = fig.add_subplot(grid[0, :2])
    ax_bon = fig.add_subplot(grid[0, 2:4])
    ax_bar = fig.add_subplot(grid[0, 4:])
    shown = ["gold", res["names"][1], res["names"][len(res["names"]) // 3], "offset",
             next(k for k in res["names"] if k.startswith("scale")),
             next(k for k in res["names"] if k.startswith("exp"))]
    families = dict(zip(res["names"], res["families"]), gold="gold")
    for idx, name in enumerate(dict.fromkeys(shown)):
        t = res["curves"][name]
        bon = t["method"] == "best_of_n"
        colour = FAMILY_COLOURS[families[name]]
        style = ["-", "--", ":", "-."][idx % 4]
        ax_kl.plot(t["kl"][~bon], t["true_gain_normalized"][~bon], style, color=colour,
                   label=name)
        ax_bon.plot(t["n"][bon], t["true_gain_normalized"][bon], style, color=colour,
                    marker="o", ms=3, label=name)
    ax_kl.set_xlabel(r"KL$(\pi_\beta \,\|\, \nu)$ (nats)")
    ax_kl.set_ylabel("gold gain, fraction of the best possible")
    ax_kl.set_title("KL-regularised optimisation of each proxy")
    ax_kl.legend(fontsize=7)
    ax_bon.set_xscale("log", base=2)
    ax_bon.set_xlabel("best-of-n: n")
    ax_bon.set_title("best-of-n on each proxy")

    width = 0.8 / len(DAMAGES)
    xs = np.arange(len(METRICS))
    for j, d in enumerate(DAMAGES):
        ax_bar.bar(xs + (j - 1) * width, [res["correlation"][(k, d)] for k in METRICS],
                   width, label=d)
    ax_bar.set_xticks(xs, [k.replace(" - ", "-").replace(" ", "\n") for k in METRICS],
                      fontsize=7)
    ax_bar.set_ylim(0, 1.05)
    ax_bar.set_ylabel("Pearson r with the damage, across proxies")
    ax_bar.set_title("which metric predicts the damage?")
    ax_bar.legend(fontsize=7, loc="lower left")

    colours = [FAMILY_COLOURS[f] for f in res["families"]]
    for i, k in enumerate(METRICS):
        ax = fig.add_subplot(grid[1, i])
        ax.scatter(res["metrics"][k], res["damage"]["KL-regularised"], c=colours, s=14)
        ax.set_xlabel(k)
        ax.set_title(f"r = {res['correlation'][(k, 'KL-regularised')]:.2f}", fontsize=9)
        if i == 0:
            ax.set_ylabel("KL-regularised damage")
    for fam, colour in FAMILY_COLOURS.items():
        if fam != "gold":
            ax.scatter([], [], c=colour, s=14, label=fam)
    ax.legend(fontsize=7)
    fig.suptitle(__doc__.splitlines()[0], fontsize=11)
    write_figure(fig, args, "bandit_overoptimization")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
