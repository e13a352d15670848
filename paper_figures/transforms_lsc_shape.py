"""The shape of the log-sigmoid-centred (LSC) reward transform.

Reproduces the idea of Fig. 2 of Wang et al. 2024 ("Transforming and Combining Rewards
for Aligning Large Language Models", arXiv 2402.00742): the LSC utility
``u = log sigmoid(r - r_ref)`` is linear far below the reference reward and saturates
above it, so improving a bad response pays while pushing an already-good one further
does not. Left: ``u(r)`` for three references against the raw reward ``r - r_ref``.
Right: the marginal utility ``du/dr = sigmoid(-(r - r_ref))``.

Run ``python paper_figures/transforms_lsc_shape.py [--quick] [--output DIR]``; the PNG is
written to ``DIR/transforms_lsc_shape.png``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import figure_parser, write_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import expit  # noqa: E402

from starc.transforms import lsc  # noqa: E402


def main(argv=None) -> int:
    args = figure_parser(__doc__, "coarse grid (for CI)").parse_args(argv)

    r = np.linspace(-6.0, 6.0, 121 if args.quick else 1201)
    refs = (-2.0, 0.0, 2.0)
    fig, (ax_u, ax_d) = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for ref, color in zip(refs, ("C0", "C1", "C2")):
        ax_u.plot(r, lsc(r, ref), color=color, label=rf"LSC, $r_{{ref}} = {ref:g}$")
        ax_u.plot(r, r - ref, color=color, ls=":", lw=1)
        ax_d.plot(r, expit(-(r - ref)), color=color, label=rf"$r_{{ref}} = {ref:g}$")
    ax_u.set_ylim(-8, 2)
    ax_u.axhline(0.0, color="0.6", lw=0.8)
    ax_u.set_xlabel("reward $r$")
    ax_u.set_ylabel(r"utility $u = \log\sigma(r - r_{ref})$")
    ax_u.set_title("LSC (solid) vs raw $r - r_{ref}$ (dotted)")
    ax_u.legend(fontsize=8, loc="lower right")
    ax_d.set_xlabel("reward $r$")
    ax_d.set_ylabel(r"$du/dr = \sigma(-(r - r_{ref}))$")
    ax_d.set_title("marginal utility: improve the bad, not the good")
    ax_d.legend(fontsize=8)

    write_figure(fig, args, "transforms_lsc_shape")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
