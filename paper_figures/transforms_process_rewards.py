"""Return of a reasoning trace against the number of redundant steps appended to it.

The reward-hacking mechanism of Gao et al. 2024 ("On Designing Effective RL Reward at
Training Time for LLM Reasoning", arXiv 2410.15115): a process reward model scores every
step, and a trace padded with correct-looking but useless steps collects more and more
dense reward. Here a trace has 6 useful steps (scores rising from 0.3 to 0.9) followed by
``m`` redundant steps that the PRM scores around 0.8. The return ``G_0`` of the trace is
plotted against ``m`` for the raw process rewards, Clip (``eta = 0.5``), Delta and
Clip-Delta, averaged over random traces (band: 10-90 % of traces). Raw returns grow
linearly with ``m``; Clip returns are <= 0 and never increase; Delta returns stay bounded.

Run ``python paper_figures/transforms_process_rewards.py [--quick] [--output DIR]``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import figure_parser, write_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from starc.transforms import (clip_delta_process_rewards, clip_process_rewards,  # noqa: E402
                              delta_process_rewards, returns_to_go)

ETA = 0.5


def main(argv=None) -> int:
    args = figure_parser(__doc__, "few traces (for CI)", seed=0).parse_args(argv)

    rng = np.random.default_rng(args.seed)
    n_traces = 300 if args.quick else 1000
    n_useful, m_max = 6, 30 if args.quick else 60
    useful = np.clip(np.linspace(0.3, 0.9, n_useful) + 0.05 * rng.standard_normal(
        (n_traces, n_useful)), 0.0, 1.0)
    redundant = np.clip(0.8 + 0.1 * rng.standard_normal((n_traces, m_max)), 0.0, 1.0)
    r = np.concatenate([useful, redundant], axis=1)  # (traces, 6 + m_max), padded
    ms = np.arange(m_max + 1)

    variants = {
        "raw": lambda x, L: x,
        f"clip ($\\eta$ = {ETA:g})": lambda x, L: clip_process_rewards(x, ETA, lengths=L),
        "delta": lambda x, L: delta_process_rewards(x, lengths=L),
        "clip-delta": lambda x, L: clip_delta_process_rewards(x, ETA, lengths=L),
    }
    # left: the raw returns alone (on their scale the bounded ones would lie flat on 0);
    # right: the three transforms on their own scale
    fig, (ax_raw, ax_zoom) = plt.subplots(1, 2, figsize=(10, 4.6), constrained_layout=True)
    for (name, fn), color in zip(variants.items(), ("C3", "C0", "C2", "C1")):
        g0 = np.empty((ms.size, n_traces))
        for i, m in enumerate(ms):
            lengths = np.full(n_traces, n_useful + m)
            g0[i] = returns_to_go(fn(r, lengths), lengths=lengths)[:, 0]
        lo, hi = np.quantile(g0, [0.1, 0.9], axis=1)
        ax = ax_raw if name == "raw" else ax_zoom
        ax.plot(ms, g0.mean(axis=1), color=color, label=f"{name}: mean")
        ax.fill_between(ms, lo, hi, color=color, alpha=0.15, lw=0,
                        label=f"{name}: 10-90 % of traces")
    for ax in (ax_raw, ax_zoom):
        ax.axhline(0.0, color="0.6", lw=0.8, label="$G_0$ = 0")
        ax.set_xlabel("redundant steps appended, $m$")
        ax.set_ylabel("return $G_0$ of the trace")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                  ncol=2 if ax is ax_zoom else 3)
    ax_raw.set_title("raw process rewards: the return grows with length")
    ax_zoom.set_title("Clip, Delta, Clip-Delta: bounded returns")

    write_figure(fig, args, "transforms_process_rewards")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
