"""Schematic of chain-based vs tree-based preference datasets and their networks.

Illustrates the two dataset topologies compared by Qiu et al. 2024 ("Reward
Generalization in RLHF: A Topological Perspective", arXiv 2402.10184, Sec. 4 and
Algorithm 1), drawn from the generators ``starc.preferences.chain_dataset`` and
``tree_dataset``. Left: chain data -- every comparison (red) is between two responses
generated independently for its prompt; responses are linked to each other only through
their semantic clusters (colours). Right: tree data -- the responses of one prompt are the
leaves of a prefix tree (grey; thicker edges carry more variance), comparisons are
between leaves, and shared prefixes tie all of a prompt's responses together for free.

Run ``python paper_figures/topology_schematic.py [--quick] [--output DIR]``; the PNG is
written to ``DIR/topology_schematic.png``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import figure_parser, write_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from starc.preferences import chain_dataset, tree_dataset  # noqa: E402

N_CLUSTERS = 4


def draw_chain(ax, seed):
    ds = chain_dataset(6, n_clusters=N_CLUSTERS, seed=seed)
    colors = plt.get_cmap("tab10")(ds.clusters % 10)
    for k, (a, b) in enumerate(ds.comparisons):
        x = 1.6 * k
        ax.text(x, 1.25, f"prompt {k + 1}", ha="center", va="bottom", fontsize=8)
        ax.plot([x, x - 0.4], [1.2, 0.4], color="0.75", lw=1)
        ax.plot([x, x + 0.4], [1.2, 0.4], color="0.75", lw=1)
        ax.plot([x - 0.4, x + 0.4], [0.4, 0.4], color="C3", lw=2.5)
        ax.scatter([x - 0.4, x + 0.4], [0.4, 0.4], s=140, c=[colors[a], colors[b]],
                   edgecolors="k", zorder=3)
    # semantic-cluster links between responses of the same cluster
    for c in range(N_CLUSTERS):
        members = np.flatnonzero(ds.clusters == c)
        xs = [1.6 * (m // 2) + (0.4 if m % 2 else -0.4) for m in members]
        for x0, x1 in zip(xs[:-1], xs[1:]):
            ax.add_patch(FancyArrowPatch((x0, 0.4), (x1, 0.4), arrowstyle="-",
                                         connectionstyle="arc3,rad=0.35", ls=":",
                                         color=plt.get_cmap("tab10")(c % 10), lw=1.2))
    ax.set_title("chain-based data: independent response pairs", fontsize=10)
    ax.set_xlim(-1.0, 1.6 * 5 + 1.0)
    ax.set_ylim(-1.5, 1.6)
    ax.axis("off")


def tree_layout(G, root, leaves):
    """Layered layout: depth from the root on y, leaves spread in DFS order on x."""
    depth = nx.single_source_shortest_path_length(G, root)
    order = [v for v in nx.dfs_preorder_nodes(G, root) if v in leaves]
    x = {v: float(i) for i, v in enumerate(order)}
    for v in sorted(depth, key=depth.get, reverse=True):
        if v not in x:
            kids = [u for u in G[v] if depth[u] == depth[v] + 1]
            x[v] = float(np.mean([x[u] for u in kids]))
    D = max(depth.values())
    return {v: (x[v], 1.2 - 1.6 * depth[v] / D) for v in depth}


def draw_tree(ax, seed):
    ds = tree_dataset(4, branching=2, n_prompts=1, n_clusters=N_CLUSTERS, seed=seed)
    keep = ds.edge_kinds == "ib-prefix"
    G = nx.Graph()
    for a, b, w in zip(ds.edges_u[keep], ds.edges_v[keep], ds.variances[keep]):
        G.add_edge(int(a), int(b), variance=float(w))
    leaves = set(ds.responses.tolist())
    D = ds.tree["depth"]
    dist = {v: nx.single_source_shortest_path_length(G, v) for v in leaves}
    root = next(v for v in G if v not in leaves
                and all(dist[leaf].get(v) == D for leaf in leaves))
    pos = tree_layout(G, root, leaves)
    wmax = max(d["variance"] for _, _, d in G.edges(data=True))
    for a, b, d in G.edges(data=True):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.plot([x0, x1], [y0, y1], color="0.6", lw=0.8 + 3.0 * d["variance"] / wmax)
    inner = [v for v in G if v not in leaves]
    ax.scatter([pos[v][0] for v in inner], [pos[v][1] for v in inner], s=30, c="0.6",
               zorder=3)
    ax.text(pos[root][0], pos[root][1] + 0.08, "prompt", ha="center", va="bottom",
            fontsize=8)
    colors = plt.get_cmap("tab10")(ds.clusters % 10)
    ax.scatter([pos[v][0] for v in ds.responses], [pos[v][1] for v in ds.responses], s=140,
               c=colors, edgecolors="k", zorder=4)
    for a, b in ds.comparisons:
        (x0, y0), (x1, y1) = sorted([pos[int(a)], pos[int(b)]])
        ax.add_patch(FancyArrowPatch((x0, y0 - 0.05), (x1, y1 - 0.05), arrowstyle="-",
                                     connectionstyle="arc3,rad=0.25", color="C3", lw=2.0))
    ax.set_title("tree-based data: comparisons between leaves of a prefix tree",
                 fontsize=10)
    ax.set_ylim(-1.5, 1.6)
    ax.axis("off")


def main(argv=None) -> int:
    args = figure_parser(__doc__, "low resolution (for CI)", seed=3).parse_args(argv)

    fig, (ax_c, ax_t) = plt.subplots(1, 2, figsize=(12, 3.8), constrained_layout=True)
    draw_chain(ax_c, args.seed)
    draw_tree(ax_t, args.seed)
    handles = [plt.Line2D([], [], color="C3", lw=2, label="human comparison (HP edge)"),
               plt.Line2D([], [], color="0.6", lw=2, label="shared prefix (IB edge)"),
               plt.Line2D([], [], color="0.3", ls=":", label="same semantic cluster"),
               plt.Line2D([], [], marker="o", ls="", mfc="w", mec="k", ms=9,
                          label="response (colour = cluster)")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    write_figure(fig, args, "topology_schematic")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
