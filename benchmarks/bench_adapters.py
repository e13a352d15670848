"""Speed of the learned-reward adapters, with ratios measured in one run.

Measures:

1. ``starc.adapters.torch.tabulate`` of an imitation-style reward MLP (the architecture
   of imitation's ``BasicRewardNet``: flatten, concatenate, hidden sizes (32, 32)) on
   S = 256, A = 8 (524,288 transitions), target <= 2 s on CPU, for two input sets:
   imitation's defaults (state, action) and all inputs (state, action, next state, done).
   The floor is the model's own forward pass over the same inputs, built beforehand,
   in cache-sized batches of 2048 transitions (what any tabulation must at least
   spend); the ratio tabulate / floor is printed.
2. ``starc.adapters.tabulate_callable`` of a vectorized numpy reward on the same MDP.
3. ``starc.sampled.sampled_epic_distance`` at its default sizes on a numpy reward.

Run ``python benchmarks/bench_adapters.py [--quick]``; prints the times and writes
``benchmarks/results/bench_adapters.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import median_time, output_file, write_json  # noqa: E402

import numpy as np  # noqa: E402

import starc  # noqa: E402


def imitation_style_net(torch, n_states, n_actions, use_next_state, use_done):
    """An MLP with the forward of imitation's BasicRewardNet (one-hot discrete inputs)."""

    class BasicRewardMLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            width = n_states + n_actions + (n_states if use_next_state else 0) + int(use_done)
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(width, 32), torch.nn.ReLU(),
                torch.nn.Linear(32, 32), torch.nn.ReLU(),
                torch.nn.Linear(32, 1))

        def forward(self, state, action, next_state, done):
            inputs = [torch.flatten(state, 1), torch.flatten(action, 1)]
            if use_next_state:
                inputs.append(torch.flatten(next_state, 1))
            if use_done:
                inputs.append(torch.reshape(done, [-1, 1]))
            return self.mlp(torch.cat(inputs, dim=1)).squeeze(1)

    return BasicRewardMLP()


def bench_torch(n_states, n_actions, repeat):
    try:
        import torch
    except ImportError:
        print("torch not installed: skipping the torch tabulation benchmark")
        return None
    from starc.adapters.torch import tabulate

    torch.manual_seed(0)
    mdp = starc.random_mdp(n_states, n_actions, seed=0)
    out = {"n_states": n_states, "n_actions": n_actions,
           "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    for label, use_next in (("state_action", False), ("all_inputs", True)):
        net = imitation_style_net(torch, n_states, n_actions, use_next, use_next)
        # Floor: the forward pass alone, on inputs prepared outside the timed region,
        # in cache-sized batches of 2048 transitions (as tabulate uses by default).
        eye_s, eye_a = torch.eye(n_states), torch.eye(n_actions)
        k = torch.arange(n_states * n_actions * n_states)
        chunks = []
        for start in range(0, k.numel(), 2048):
            kk = k[start:start + 2048]
            s = kk // (n_actions * n_states)
            a = (kk // n_states) % n_actions
            s2 = kk % n_states
            chunks.append((eye_s[s], eye_a[a], eye_s[s2], torch.zeros(kk.numel())))
        entry = {}
        for threads in (None, 1):
            def floor():
                old = torch.get_num_threads()
                if threads is not None:
                    torch.set_num_threads(threads)
                try:
                    with torch.inference_mode():
                        for c in chunks:
                            net(*c)
                finally:
                    torch.set_num_threads(old)

            t_tab = median_time(lambda: tabulate(net, mdp, num_threads=threads), repeat,
                                warmup=1)
            t_floor = median_time(floor, repeat, warmup=1)
            key = "default_threads" if threads is None else "one_thread"
            entry[key] = {"tabulate_s": t_tab, "forward_floor_s": t_floor,
                          "ratio_to_floor": t_tab / t_floor, "target_s": 2.0,
                          "meets_target": t_tab <= 2.0}
            print(f"torch tabulate S={n_states} A={n_actions} ({label}, "
                  f"{'default' if threads is None else 1} thread(s)): {t_tab:.3f} s "
                  f"(target <= 2 s); forward-pass floor {t_floor:.3f} s; "
                  f"ratio {t_tab / t_floor:.2f}")
        out[label] = entry
    return out


def bench_callable(n_states, n_actions, repeat):
    from starc.adapters import tabulate_callable

    mdp = starc.random_mdp(n_states, n_actions, seed=0)
    w = np.random.default_rng(0).standard_normal((n_states, n_actions))

    def fn(s, a, s2):
        return w[s, a] + np.sin(s2)

    t = median_time(lambda: tabulate_callable(fn, mdp), repeat, warmup=1)
    print(f"numpy tabulate_callable S={n_states} A={n_actions}: {t:.3f} s")
    return {"tabulate_callable_s": t}


def bench_sampled(repeat):
    from starc.sampled import sampled_epic_distance, tabular_samplers

    mdp = starc.random_mdp(32, 4, seed=0)
    r1 = starc.random_reward(mdp, seed=1)
    r2 = starc.random_reward(mdp, seed=2)
    smp = tabular_samplers(mdp)

    def run():
        return sampled_epic_distance(lambda s, a, x: r1[s, a, x], lambda s, a, x: r2[s, a, x],
                                     smp.coverage, gamma=mdp.gamma,
                                     state_sampler=smp.state_sampler,
                                     action_sampler=smp.action_sampler, seed=0)

    t = median_time(run, repeat, warmup=1)
    print(f"sampled_epic_distance (n_samples=4096, n_mean_samples=4096, 200 bootstrap): "
          f"{t:.3f} s")
    return {"sampled_epic_distance_default_s": t}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--output", type=output_file,
                        default=os.path.join("benchmarks", "results",
                                             "bench_adapters.json"))
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else 5
    results = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg")
                    else None},
        "numpy": np.__version__,
        "torch_tabulate": bench_torch(256, 8, repeat),
        "callable_tabulate": bench_callable(256, 8, repeat),
        "sampled": bench_sampled(repeat),
    }
    write_json(args.output, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
