"""Continuous analogue of Table 1 of the STARC paper, on gymnasium's Pendulum.

Skalse et al. 2024 (ICLR, Sec. 4.2 and Table 1) compare a ground-truth reward in a
continuous control task (MuJoCo Reacher) with a potential-shaped copy, a variant with a
second peak, a random reward and the negated reward. A potential-shaped reward induces
the same policy order as the ground truth, so every distance built on a
canonicalization that removes shaping (EPIC, DARD, VAL) must give 0 for it; the paper
reports 0.897 (VAL) because of defects of its estimator and code (see
``docs/theory/learned_rewards.rst``).

This script repeats the comparison on Pendulum-v1 (no MuJoCo: the dynamics are
gymnasium's, vectorized in numpy by :func:`starc.adapters.gymnasium.pendulum_task`),
with the sample-based estimators of :mod:`starc.sampled`, which evaluate both rewards
on common random numbers:

* ground truth: Pendulum's reward ``-(theta^2 + 0.1 theta_dot^2 + 0.001 u^2)``;
* potential-shaped: ``R + gamma Phi(s') - Phi(s)`` with a large potential
  ``Phi = 50 cos(theta) + 5 theta_dot``;
* second peak: ``R`` plus a bump at the horizontal position ``theta = pi/2``;
* random: a fixed random smooth function of ``(s, a, s')`` (random Fourier features);
* negated: ``-R``.

For each it prints and writes the EPIC, DARD and VAL (L2, L2; Monte-Carlo values of the
uniform-torque policy) estimates with bootstrap standard errors, plus VAL computed the
way the paper's code did it in spirit — each reward's canonical estimated from its own,
independent samples — to show where a large "shaped" distance comes from.

Run ``python paper_figures/continuous_table1.py [--quick] [--output DIR]``; writes
``DIR/continuous_table1.csv`` and ``DIR/continuous_table1.png``.
"""

from __future__ import annotations

import csv
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _figures import QUICK_DPI, atomic_write, figure_parser, save_figure  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from starc.adapters.gymnasium import pendulum_task  # noqa: E402
from starc.plotting import grouped_bars  # noqa: E402
from starc.sampled import (sampled_dard_distance, sampled_epic_distance,  # noqa: E402
                           sampled_val_distance)

GAMMA = 0.95
#: Rollout length of the Monte-Carlo values: gamma**H ~ 1e-12, so the truncated tails of
#: the potential (|Phi| <= 90) leave nothing above round-off.
HORIZON = 540
VARIANTS = ("potential_shaped", "second_peak", "random", "negated")
METHODS = ("EPIC", "DARD", "VAL", "VAL, independent samples (paper-style)")


def angle_normalize(theta):
    """Wrap angles to [-pi, pi)."""
    return ((theta + np.pi) % (2.0 * np.pi)) - np.pi


def potential(states):
    """A large shaping potential: |Phi| up to 90 against rewards of size <= 16."""
    return 50.0 * np.cos(states[:, 0]) + 5.0 * states[:, 1]


def make_rewards(task, seed: int = 0) -> dict:
    """The ground truth and the four variants as ``reward(s, a, s') -> (n,)`` functions."""
    gt = task.reward
    gamma = task.gamma

    def shaped(s, a, s2):
        return gt(s, a, s2) + gamma * potential(s2) - potential(s)

    def second_peak(s, a, s2):
        dth = angle_normalize(s[:, 0] - np.pi / 2.0)
        bump = np.exp(-0.5 * (dth / 0.4) ** 2 - 0.5 * (s[:, 1] / 1.5) ** 2)
        return gt(s, a, s2) + 6.0 * bump

    rng = np.random.default_rng(seed)
    n_feat = 32
    omega = rng.normal(0.0, 1.5, size=(7, n_feat))
    phase = rng.uniform(0.0, 2.0 * np.pi, n_feat)
    weight = rng.normal(0.0, 1.0, n_feat)

    def random(s, a, s2):
        z = np.column_stack([np.cos(s[:, 0]), np.sin(s[:, 0]), s[:, 1] / 8.0, a[:, 0] / 2.0,
                             np.cos(s2[:, 0]), np.sin(s2[:, 0]), s2[:, 1] / 8.0])
        return np.cos(z @ omega + phase) @ weight

    def negated(s, a, s2):
        return -gt(s, a, s2)

    return {"ground_truth": gt, "potential_shaped": shaped, "second_peak": second_peak,
            "random": random, "negated": negated}


def uniform_policy(task):
    """The fixed policy of VAL: a uniformly random torque, whatever the state."""
    def policy(states, rng):
        return task.action_sampler(len(states), rng)
    return policy


def naive_val_distance(r1, r2, task, n_samples, n_next, seed):
    """VAL (L2, L2) with each reward's canonical from its own independent samples.

    The same coverage states, but next states, rollouts and (here) Monte-Carlo noise
    drawn separately for each reward, as when each reward gets its own value estimate:
    the noise of the two canonicals no longer cancels, so even a shaped reward is far
    from the ground truth. No bootstrap: the spread over seeds is the error bar.
    """
    rng = np.random.default_rng(seed)
    s, a, _ = task.coverage(n_samples, rng)
    policy = uniform_policy(task)
    out = []
    for reward in (r1, r2):
        s_rep, a_rep = np.repeat(s, n_next, 0), np.repeat(a, n_next, 0)
        x = task.transition(s_rep, a_rep, rng)
        starts = np.concatenate([x, s_rep])
        g = np.zeros(len(starts))
        z, disc = starts, 1.0
        for _ in range(HORIZON):
            act = policy(z, rng)
            nxt = task.transition(z, act, rng)
            g += disc * reward(z, act, nxt)
            disc *= task.gamma
            z = nxt
        half = len(x)
        y = reward(s_rep, a_rep, x) + task.gamma * g[:half] - g[half:]
        c = y.reshape(n_samples, n_next).mean(1)
        out.append(c / np.sqrt(np.mean(c * c)))
    return float(np.sqrt(np.mean((out[0] - out[1]) ** 2)))


def run(n_samples: int, n_mean_samples: int, n_inner: int, n_next: int, seed: int = 0,
        naive_seeds: int = 3) -> list[dict]:
    """All rows of the table: one per (variant, method)."""
    task = pendulum_task(gamma=GAMMA)
    rewards = make_rewards(task, seed)
    gt = rewards["ground_truth"]
    policy = uniform_policy(task)
    rows = []
    for i, name in enumerate(VARIANTS):
        r2 = rewards[name]
        s = 1000 * seed + 10 * i
        results = {
            "EPIC": sampled_epic_distance(gt, r2, task.coverage, gamma=task.gamma,
                                          state_sampler=task.state_sampler,
                                          action_sampler=task.action_sampler,
                                          n_samples=n_samples, n_mean_samples=n_mean_samples,
                                          seed=s),
            "DARD": sampled_dard_distance(gt, r2, task.coverage, task.transition,
                                          gamma=task.gamma, action_sampler=task.action_sampler,
                                          n_samples=n_samples, n_inner_samples=n_inner,
                                          seed=s + 1),
            "VAL": sampled_val_distance(gt, r2, task.coverage, task.transition,
                                        gamma=task.gamma, policy=policy, n_samples=n_samples,
                                        n_next_samples=n_next, horizon=HORIZON, seed=s + 2),
        }
        for method, res in results.items():
            rows.append({"reward": name, "method": method, "estimate": res.estimate,
                         "stderr": res.stderr, "n_samples": res.n_samples})
        naive = [naive_val_distance(gt, r2, task, n_samples, 2, s + 3 + k)
                 for k in range(naive_seeds)]
        rows.append({"reward": name, "method": METHODS[3], "estimate": float(np.mean(naive)),
                     "stderr": float(np.std(naive, ddof=1) / np.sqrt(len(naive))),
                     "n_samples": n_samples})
    return rows


def plot(rows):
    """Table 1 drawn as bars: one group per variant, one bar per method (error bars of
    three standard errors); a distance that is 0 up to round-off is written as "0" over
    its (invisible) bar."""
    fig, ax = plt.subplots(figsize=(8, 4.6), constrained_layout=True)

    def column(method, key):
        return [next(r[key] for r in rows if r["reward"] == v and r["method"] == method)
                for v in VARIANTS]

    grouped_bars({m: column(m, "estimate") for m in METHODS},
                 [v.replace("_", "-") for v in VARIANTS],
                 errors={m: [3 * e for e in column(m, "stderr")] for m in METHODS},
                 zero_rtol=1e-6, hatches={METHODS[3]: "//"}, ax=ax)
    ax.set_xlabel("reward compared with the ground truth (Pendulum's own reward)")
    ax.set_ylabel("distance to the ground truth")
    ax.set_title("STARC Table 1, continuous analogue on Pendulum-v1\n"
                 "sampled distances (error bars: 3 bootstrap s.e.; \"0\": zero up to round-off)",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def main(argv=None) -> int:
    args = figure_parser(__doc__, "small samples (for CI, < 30 s)", seed=0,
                         seed_help=None).parse_args(argv)

    t0 = time.perf_counter()
    if args.quick:
        rows = run(n_samples=512, n_mean_samples=512, n_inner=8, n_next=8, seed=args.seed,
                   naive_seeds=2)
    else:
        rows = run(n_samples=4096, n_mean_samples=2048, n_inner=16, n_next=4, seed=args.seed)
    elapsed = time.perf_counter() - t0

    os.makedirs(args.output, exist_ok=True)
    csv_path = os.path.join(args.output, "continuous_table1.csv")
    with atomic_write(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["reward", "method", "estimate", "stderr",
                                               "n_samples"])
        writer.writeheader()
        writer.writerows(rows)
    png_path = save_figure(plot(rows), args.output, "continuous_table1.png",
                           dpi=QUICK_DPI if args.quick else 150)

    header = f"{'reward':<18}" + "".join(f"{m:>24}" for m in METHODS[:3]) + f"{'VAL indep.':>18}"
    print(header)
    for v in VARIANTS:
        cells = []
        for m in METHODS:
            r = next(r for r in rows if r["reward"] == v and r["method"] == m)
            cells.append(f"{r['estimate']:.4f} +- {r['stderr']:.4f}")
        print(f"{v:<18}" + "".join(f"{c:>24}" for c in cells[:3]) + f"{cells[3]:>18}")
    print(f"({elapsed:.1f} s)")
    print(f"wrote {csv_path}")
    print(f"wrote {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
