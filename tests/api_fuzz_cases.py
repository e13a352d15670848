"""Valid calls of every public callable, for the API fuzz test (``test_api_fuzz.py``).

Each :class:`Case` is one small, valid call of a public function or class. The fuzz test
replaces one argument at a time by a bad or extreme value and checks the contract of
DESIGN.md §4: the call returns finite, documented values or raises a
:class:`starc.StarcError` subclass — never a raw numpy/scipy/cvxpy/numba exception and
never a silent NaN or infinity.

:data:`EXCLUDED` names the public callables that are not fuzzed, each with the reason
(exception classes, command-line entry points tested in ``test_cli*.py``, plotting).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

import starc

#: Modules whose ``__all__`` make up the public API that the fuzz test covers.
PUBLIC_MODULES = (
    "starc", "starc.batch", "starc.sweep", "starc.preferences", "starc.transforms",
    "starc.adapters", "starc.sampled", "starc.canonical", "starc.norms", "starc.distances",
    "starc.regret", "starc.solve", "starc.shaping", "starc.envs", "starc.mdp", "starc.demo",
    "starc.bandit", "starc.adapters.transformers", "starc.plotting",
)

#: Public callables the fuzz test leaves out, and why.
EXCLUDED = {
    "starc.exceptions.StarcError": "exception class",
    "starc.exceptions.ValidationError": "exception class",
    "starc.exceptions.SolverError": "exception class",
    "starc.exceptions.ConvergenceError": "exception class",
    "starc.exceptions.MissingDependencyError": "exception class",
    "starc.sweep.cli_main": "command line; bad arguments are tested in tests/cli/test_*.py",
    "starc.demo.run_demo": "writes a figure; its arguments are tested in tests/cli/test_*.py",
    "starc.adapters.minigrid.MiniGridModel":
        "the result type of from_minigrid (fuzzed there), not built by users",
    "starc._sparse_linalg.SolveCertificate":
        "frozen result record built by the solvers (starc.solve ... certificate=True); its "
        "values are checked in tests/test_sparse_linalg.py",
    "starc.adapters.transformers.require_transformers":
        "takes no argument; its error without transformers is tested in "
        "tests/adapters/test_transformers.py",
}


#: Public modules whose optional dependency is missing here, with the missing package
#: (filled by :func:`build_cases`; their callables are not fuzzed in this environment).
UNAVAILABLE: dict[str, str] = {}


@dataclasses.dataclass
class Case:
    """One valid call: ``function(*args, **kwargs)``.

    ``mutate`` names the arguments the fuzz test may replace (positional ones by index as
    ``"0"``, ``"1"``, ...; keywords by name); ``None`` means every argument.
    ``nonfinite`` lists dotted paths into the result that may legitimately be infinite
    (documented), e.g. ``"*"`` for the whole result.
    """

    function: Callable
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    mutate: tuple[str, ...] | None = None
    nonfinite: tuple[str, ...] = ()


def qualified_name(obj: Any) -> str:
    """``module.qualname`` of a public callable (its home, not the re-export)."""
    return f"{obj.__module__}.{obj.__qualname__}"


def public_callables() -> dict[str, Any]:
    """Every callable in the ``__all__`` of :data:`PUBLIC_MODULES`, keyed by home name."""
    found: dict[str, Any] = {}
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj) or not callable(obj):
                continue
            found.setdefault(qualified_name(obj), obj)
    return found


# ----------------------------------------------------------------------------------------
# Small valid inputs
# ----------------------------------------------------------------------------------------

def _fields_of(obj: Any) -> list:
    """The field values of a dataclass or named tuple, in order."""
    if hasattr(obj, "_fields"):
        return list(obj)
    return [getattr(obj, f.name) for f in dataclasses.fields(obj)]


def _small_mdp() -> starc.TabularMDP:
    rng = np.random.default_rng(3)
    t = rng.uniform(0.1, 1.0, size=(3, 2, 3))
    t /= t.sum(axis=-1, keepdims=True)
    return starc.TabularMDP(t, 0.9)


def build_cases() -> dict[str, Case]:
    """The valid call of every fuzzed public callable, keyed by :func:`qualified_name`."""
    from starc import batch, preferences, sampled, sweep, transforms
    from starc import adapters, demo, distances, envs, norms
    regret_module = importlib.import_module("starc.regret")  # starc.regret is the function

    mdp = _small_mdp()
    S, A = mdp.n_states, mdp.n_actions
    rng = np.random.default_rng(0)
    r1 = rng.normal(size=(S, A, S))
    r2 = rng.normal(size=(S, A, S))
    rsa = rng.normal(size=(S, A))
    policy = np.full((S, A), 1.0 / A)
    stack = np.stack([r1, r2, r1 + r2])
    mdps = batch.MDPBatch(np.stack([mdp.transition, mdp.transition]), np.array([0.9, 0.8]))
    br1 = rng.normal(size=(2, S, A, S))
    br2 = rng.normal(size=(2, S, A, S))
    G = preferences.preference_graph([(0, 1), (1, 2), (2, 3)])
    wins = np.array([[0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [2.0, 1.0, 0.0]])
    P = preferences.preference_matrix(wins)
    logp0 = np.log(np.full(5, 0.2))
    u = np.array([0.0, 1.0, -1.0, 0.5, 2.0])
    samples = rng.normal(size=(3, 8))
    ensemble = rng.normal(size=(3, 4))
    process = rng.normal(size=(2, 5))
    smp = sampled.tabular_samplers(mdp)
    f1, f2 = sampled.tabular_reward(r1), sampled.tabular_reward(r2)
    v1 = starc.policy_evaluation(r1, mdp)
    v2 = starc.policy_evaluation(r2, mdp)
    points = rng.normal(size=(12, 2))
    table = lambda s, a, x: r1[s, a, x]  # noqa: E731 - a tabular callable
    scenario = transforms.aggregation_scenario("iid", n_nodes=6, seed=0)
    gamma_of = mdp.gamma

    c = {}

    def add(fn, *args, mutate=None, nonfinite=(), **kwargs):
        c[qualified_name(fn)] = Case(fn, args, kwargs, mutate, nonfinite)

    # --- core: MDPs, environments, I/O -------------------------------------------------
    add(starc.TabularMDP, mdp.transition, 0.9)
    add(starc.as_mdp, mdp, "env")
    add(starc.broadcast_reward, rsa, mdp)
    add(starc.expected_reward, r1, mdp)
    add(importlib.import_module("starc.mdp").as_dense_mdp, mdp, "f", mutate=("0",))
    add(starc.TabularEnvironment, mdp, r1)
    add(starc.random_mdp, 4, 2, gamma=0.9, seed=0)
    add(starc.random_reward, mdp, seed=0)
    add(starc.gridworld, 3, 3, slip=0.1)
    add(envs.maze, 7, 7, seed=0, slip=0.1)
    add(envs.grid_transition, np.array([[True, True, False], [True, True, True]]), (1, 2),
        slip=0.1, start=(0, 0))
    add(starc.chain, 4, slip=0.1)
    add(envs.starc_size_threshold, 32, 0.1, 0.2, 0.3)
    # save_mdp/load_mdp write and read files: the fuzz test gives them a temporary path.
    add(starc.save_mdp, "{tmp}/m.npz", mdp, mutate=("1", "reward"), reward=r1)
    add(starc.load_mdp, "{tmp}/m.npz", mutate=("0",))
    # --- solve ----------------------------------------------------------------------------
    add(starc.policy_evaluation, r1, mdp, policy)
    add(starc.q_values, r1, mdp, policy)
    add(starc.optimal_policy, r1, mdp)
    add(starc.optimal_values, r1, mdp)
    add(starc.policy_return, r1, mdp, policy)
    add(starc.occupancy, mdp, policy)
    add(starc.state_occupancy, mdp, policy)
    add(starc.state_action_occupancy, mdp, policy)
    # --- shaping, canonicals, norms, distances --------------------------------------------
    add(starc.potential_shaping, r1, np.arange(S, dtype=float), 0.9)
    add(starc.random_potential_shaping, r1, mdp, seed=0)
    add(starc.s_prime_redistribution, r1, mdp, seed=0)
    add(starc.is_equivalent, r1, 2.0 * r1, mdp)
    add(starc.canonicalize, r1, mdp, "val")
    add(starc.norm, r1, "l2")
    add(starc.normalize, r1, "l2")
    add(starc.starc_distance, r1, r2, mdp)
    add(starc.epic_distance, r1, r2, mdp)
    add(starc.dard_distance, r1, r2, mdp)
    add(starc.pearson_distance, r1, r2)
    add(starc.pairwise_distances, stack, mdp)
    add(starc.resolve_variant, "VAL-2-2")
    add(norms.ones_norm, "weighted_l2", mdp.shape)
    add(distances.distance_options, mdp, "val", "l2", "l2", policy, None, None, None, None)
    add(starc.Variant, "x", "val", "l2", "l2", None, False)
    # --- regret ---------------------------------------------------------------------------
    add(starc.regret, r1, r2, mdp)
    add(starc.policy_value_range, r1, mdp)
    add(starc.worst_case_regret, r1, r2, mdp)
    wcr = starc.worst_case_regret(r1, r2, mdp, return_policies=True)
    add(starc.WorstCaseRegret, *_fields_of(wcr), mutate=())
    add(starc.regret_bound, r1, 0.3, mdp)
    add(starc.soundness_constant, r1, mdp)
    add(starc.occupancy_diameter, mdp)
    add(regret_module.check_regret_gamma, 0.9, "regret")
    add(starc.empirical_constants, np.array([0.1, 0.2, 0.4]), np.array([0.1, 0.3, 0.5]))
    # --- batch ----------------------------------------------------------------------------
    add(batch.MDPBatch, np.stack([mdp.transition]), np.array([0.9]))
    add(batch.expected_rewards, br1, mdps)
    add(batch.policy_evaluation, br1, mdps)
    add(batch.canonicalize, br1, mdps, "val")
    add(batch.norm, br1, mdps, "l2")
    add(batch.variant_distances, br1, br2, mdps, ("VAL-2-2", "EPIC-2-2"))
    add(batch.optimal_policies, br1, mdps)
    add(batch.value_ranges, br1, mdps)
    add(batch.regrets, br1, br2, mdps)
    add(batch.authors_horizon, 0.9)
    pols = np.zeros((2, S), dtype=np.int64)
    add(batch.mc_policy_returns, br1, mdps, pols, horizon=8, n_repeats=2, seed=0)
    add(batch.mc_regrets, br1, br2, mdps, horizon=8, n_repeats=2, seed=0)
    add(batch.compare_groups, np.stack([br1, br2], axis=1)[:, None], mdps, ("VAL-2-2", "EPIC-2-2"),
        regrets=("exact", "mc"), horizon=8, n_repeats=2, seed=0)
    # --- sweep ----------------------------------------------------------------------------
    add(sweep.Sweep, n_mdps=2, pairs_per_mdp=1, n_steps=2, n_states=3, n_actions=2)
    small = sweep.Sweep(n_mdps=2, pairs_per_mdp=1, n_steps=2, n_states=3, n_actions=2,
                        variants=("VAL-2-2",))
    add(sweep.run_sweep, small, mutate=("0", "chunk_size"))
    result = sweep.run_sweep(small)
    add(sweep.SweepResult, result.variants, result.distances, result.columns, result.config)
    add(sweep.summary_table, result)
    # --- preferences ----------------------------------------------------------------------
    add(preferences.hp_edge_variance, 1.0)
    add(preferences.preference_graph, [(0, 1), (1, 2)])
    add(preferences.merge_parallel_edges, G)
    add(preferences.graph_laplacian, G)
    add(preferences.InferenceDistanceOracle, G)
    add(preferences.inference_distance, G, 0, 3, nonfinite=("*",))
    add(preferences.inference_distances, G, [(0, 3), (1, 2)], nonfinite=("*",))
    add(preferences.inference_distance_matrix, G, nonfinite=("*",))
    add(preferences.mean_inference_distance, G, nonfinite=("*",))
    add(preferences.chain_dataset, 20, seed=0)
    add(preferences.tree_dataset, 20, seed=0)
    ds = preferences.chain_dataset(20, seed=0)
    add(preferences.PreferenceDataset, *_fields_of(ds))  # validates its fields
    add(preferences.semantic_clusters, 20, 4, seed=0)
    add(preferences.threshold_n_clusters, 100)
    add(preferences.complexity_function, np.array([1.0, 2.0, 4.0]))
    add(preferences.k_center, points, 3, seed=0)
    add(preferences.structural_function, points, 3, seed=0)
    ks = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    add(preferences.fit_structural_function, ks, ks ** -0.5)
    fit = preferences.fit_structural_function(ks, ks ** -0.5)
    add(preferences.StructuralFit, *_fields_of(fit))  # validates its fields
    add(preferences.topology_gap_curve, [50, 100], n_samples=50, n_resistance_pairs=4,
        seed=0, mutate=("0", "n_samples", "n_repeats", "seed"))
    curve = preferences.topology_gap_curve([50, 100], n_samples=50, n_resistance_pairs=4,
                                           seed=0)
    # validates its fields; NaN marks what was not computed (documented)
    add(preferences.TopologyGapCurve, *_fields_of(curve),
        nonfinite=("fit_r2", "chain_resistance", "tree_resistance", "resistance_ratio"))
    add(preferences.win_matrix, [(0, 1), (1, 2), (2, 0)])
    add(preferences.preference_matrix, wins)
    add(preferences.borda_scores, P)
    add(preferences.copeland_scores, P)
    add(preferences.condorcet_winner, P)
    add(preferences.smith_set, P)
    add(preferences.circular_triads, P)
    add(preferences.maximal_lottery, P)
    add(preferences.fit_bradley_terry, wins)
    btf = preferences.fit_bradley_terry(wins)
    add(preferences.BradleyTerryFit, *_fields_of(btf),
        mutate=())
    # --- transforms -----------------------------------------------------------------------
    add(transforms.lsc, u, 0.5)
    add(transforms.reference_reward, samples)
    add(transforms.transform, u, "minmax")
    add(transforms.aggregate, ensemble)
    add(transforms.lsc_aggregate, ensemble)
    add(transforms.p_all_good, ensemble)
    add(transforms.kl_tilted_policy, logp0, u, 1.0)
    add(transforms.exponential_tilt, logp0, u, 2.0)
    add(transforms.kl_divergence, np.full(5, 0.2), np.array([0.1, 0.2, 0.3, 0.2, 0.2]))
    add(transforms.best_of_n_policy, logp0, u, 4)
    add(transforms.best_of_n_kl, 4)
    add(transforms.win_probability, u, u[::-1].copy())
    add(transforms.win_rate, np.full(5, 0.2), np.full(5, 0.2), u)
    # gamma is documented as inf at KL 0 (the base policy, KLSweep.gamma)
    add(transforms.kl_sweep, logp0, u, np.array([0.1, 0.5]), nonfinite=("gamma",))
    sw = transforms.kl_sweep(logp0, u, np.array([0.1, 0.5]))
    add(transforms.KLSweep, *_fields_of(sw), nonfinite=("gamma",))  # validates its fields
    add(transforms.compare_at_equal_kl, logp0, {"a": u, "b": -u}, u, np.array([0.1, 0.5]))
    add(transforms.ensemble_reward, ensemble)
    add(transforms.standardize_members, ensemble)
    add(transforms.clip_process_rewards, process)
    add(transforms.delta_process_rewards, process)
    add(transforms.clip_delta_process_rewards, process)
    add(transforms.returns_to_go, process)
    add(transforms.transform_reward, r1, "minmax", mdp)
    # validates its fields; logp0 = -inf marks a response of probability 0 (as everywhere
    # in starc.transforms)
    add(transforms.AggregationScenario, *_fields_of(scenario), nonfinite=("logp0",))
    add(transforms.aggregation_scenario, "iid", n_nodes=6, seed=0)
    add(transforms.aggregation_utilities, scenario.rewards, scenario.r_ref)
    add(transforms.compare_aggregations, scenario, np.array([0.1, 0.5]), n_points=16)
    # --- adapters -------------------------------------------------------------------------
    add(adapters.tabulate_callable, table, mdp)
    add(adapters.pendulum_task)
    task = adapters.pendulum_task()
    add(adapters.ContinuousTask, *_fields_of(task),
        mutate=())
    # --- sampled --------------------------------------------------------------------------
    add(sampled.sampled_epic_distance, f1, f2, smp.coverage, gamma=gamma_of,
        n_samples=64, n_bootstrap=8, seed=0)
    add(sampled.sampled_dard_distance, f1, f2, smp.coverage, smp.transition,
        gamma=gamma_of, action_sampler=smp.action_sampler, n_samples=64, n_bootstrap=8,
        seed=0)
    add(sampled.sampled_val_distance, f1, f2, smp.coverage, smp.transition, gamma=gamma_of,
        value1=lambda s: v1[s], value2=lambda s: v2[s], n_samples=64, n_bootstrap=8, seed=0)
    add(sampled.tabular_samplers, mdp)
    add(sampled.tabular_reward, r1)
    add(sampled.SampledDistance, 0.5, 0.01, 10)
    add(sampled.TabularSamplers, smp.coverage, smp.state_sampler, smp.action_sampler,
        smp.transition, smp.policy, mutate=())
    # --- demo -----------------------------------------------------------------------------
    add(demo.demo_environment)
    env = demo.demo_environment()
    add(demo.demo_table, env[0], env[1])  # (mdp, rewards); the cells are not an argument
    add(demo.demo_output, "{tmp}/demo.png", mutate=("0",))
    # --- plotting (one Axes outside pyplot's registry; "ax" itself is not mutated) ---------
    from matplotlib.figure import Figure

    from starc import plotting

    ax = Figure().add_subplot()
    add(plotting.policy_map, np.array([0.5, 1.0]), np.array([1, 0]), [(0, 0), (0, 1)],
        walls=[(1, 0)], goal=(0, 1), highlight=(0, 0), highlight_label="x", title="t",
        cmap="viridis", ax=ax,
        mutate=("0", "1", "2", "walls", "goal", "highlight", "highlight_label", "title",
                "cmap"))
    add(plotting.grouped_bars, {"a": [0.0, 1.0], "b": [2.0, 0.5]}, ["x", "y"],
        errors={"a": [0.1, 0.1]}, zero_rtol=1e-9, width=0.8, hatches={"b": "//"},
        label_fontsize=8.0, tick_fontsize=8.0, ax=ax,
        mutate=("0", "1", "errors", "zero_rtol", "width", "hatches", "label_fontsize",
                "tick_fontsize"))
    add(plotting.regret_vs_distance, np.array([0.1, 0.2, 0.3]), np.array([0.05, 0.1, 0.2]),
        np.array([0.0, 0.05, 0.1]), np.array([0.5, 1.0, 1.0]), running_max=True,
        xlabel="d", ax=ax, mutate=("0", "1", "2", "3", "running_max", "xlabel"))
    # --- bandit ---------------------------------------------------------------------------
    from starc import bandit

    b1 = rng.normal(size=(4, 3))
    b2 = rng.normal(size=(4, 3))
    bmask = np.array([[True, True, True], [True, True, False], [True, True, True],
                      [True, True, True]])
    mu = np.array([0.1, 0.2, 0.3, 0.4])
    add(bandit.canonicalize, b1, method="mean", mask=bmask)
    add(bandit.norm, b1, "l2", mask=bmask, prompt_weights=mu)
    add(bandit.normalize, b1, "l2", mask=bmask)
    add(bandit.distance, b1, b2, mask=bmask, prompt_weights=mu)
    add(bandit.pearson_distance, b1, b2, mask=bmask)
    add(bandit.pairwise_distances, np.stack([b1, b2, b1 + b2]), mask=bmask)
    add(bandit.regret, b1, b2, mask=bmask, prompt_weights=mu)
    add(bandit.worst_case_regret, b1, b2, mask=bmask, prompt_weights=mu)
    add(bandit.regret_bound, b1, 0.3, mask=bmask)
    add(bandit.soundness_constant, b1, mask=bmask)
    add(bandit.rank_correlation, b1, b2, mask=bmask)
    pairs = np.array([[0, 0, 1], [1, 1, 0], [2, 2, 1]])
    add(bandit.preference_accuracy, b1, pairs, mask=bmask)
    add(bandit.one_to_many_accuracy, b1, np.array([0, 1, 2, 0]), mask=bmask)
    add(bandit.bootstrap, "distance", b1, b2, n_boot=8, seed=0, mask=bmask)
    boot = bandit.bootstrap("distance", b1, b2, n_boot=8, seed=0, mask=bmask)
    add(bandit.BootstrapResult, *_fields_of(boot))
    add(bandit.from_frame, {"prompt": [0, 0, 1], "response": [0, 1, 0],
                            "a": [1.0, 2.0, 3.0]})
    table = bandit.from_frame({"prompt": [0, 0, 1], "response": [0, 1, 0],
                               "a": [1.0, 2.0, 3.0]})
    add(bandit.RewardTable, *_fields_of(table))
    add(bandit.overoptimization, b1, b2, n=[1, 2, 4], betas=[0.5, 1.0], mask=bmask,
        nonfinite=("['n']", "['beta']", "['kl_bound']"))
    curves = bandit.overoptimization(b1, b2, n=[1, 2, 4], betas=[0.5, 1.0], mask=bmask)
    add(bandit.plot_overoptimization, curves)
    # --- optional: LLM adapters (tiny models built from configs) ---------------------------
    try:
        import torch
        import transformers
        from tokenizers import Tokenizer, models, pre_tokenizers

        from starc.adapters import transformers as llm

        words = ["<pad>", "<unk>", "hello", "world", "good", "bad", "answer", "question"]
        wl = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)},
                                        unk_token="<unk>"))
        wl.pre_tokenizer = pre_tokenizers.Whitespace()
        tok = transformers.PreTrainedTokenizerFast(tokenizer_object=wl, unk_token="<unk>",
                                                   pad_token="<pad>")
        config = dict(vocab_size=len(words), n_layer=1, n_embd=8, n_head=2, n_positions=64,
                      pad_token_id=0, bos_token_id=1, eos_token_id=1)
        torch.manual_seed(0)
        rm = transformers.GPT2ForSequenceClassification(
            transformers.GPT2Config(num_labels=1, **config)).eval()
        lm = transformers.GPT2LMHeadModel(transformers.GPT2Config(**config)).eval()
        prompts = ["hello world", "question"]
        responses = [["good answer", "bad answer"], ["good"]]
        add(llm.score_responses, rm, tok, prompts, responses, batch_size=2)
        add(llm.dpo_implicit_reward, lm, lm, tok, prompts, responses, beta=0.1)
        add(llm.format_pair, tok, "hello", "world")
        add(llm.from_dataset, {"prompt": ["a", "b"], "chosen": ["x", "y"],
                               "rejected": ["z", "w"]}, chosen="chosen", rejected="rejected")
        add(llm.PromptResponses, ["a"], [["x", "y"]], np.array([[0, 0, 1]]))
    except ImportError as err:
        UNAVAILABLE["starc.adapters.transformers"] = err.name or str(err)
    # --- optional: torch and gymnasium adapters -------------------------------------------
    try:
        import torch

        net = torch.nn.Linear(S + A + S, 1)

        class _RewardNet(torch.nn.Module):  # model(state, action, next_state, done)
            def __init__(self):
                super().__init__()
                self.linear = torch.nn.Linear(S + A + S, 1)

            def forward(self, s, a, s2, done):
                return self.linear(torch.cat([s, a, s2], dim=-1)).squeeze(-1)

        add(adapters.tabulate, _RewardNet(), mdp, signature="imitation")
        add(adapters.load_weights, net, "{tmp}/w.pt", mutate=("1",))
    except ImportError as err:
        UNAVAILABLE["starc.adapters.torch"] = err.name or str(err)
    try:
        import gymnasium

        toy = gymnasium.make("FrozenLake-v1", is_slippery=True).unwrapped
        add(adapters.from_toy_text, toy)
        add(adapters.terminal_states, toy)
    except ImportError as err:
        UNAVAILABLE["starc.adapters.gymnasium"] = err.name or str(err)
    try:
        import gymnasium
        import minigrid  # noqa: F401  (registers the levels)

        add(adapters.from_minigrid, gymnasium.make("MiniGrid-Empty-5x5-v0"), gamma=0.9,
            seed=0, max_states=100)
    except ImportError as err:
        UNAVAILABLE["starc.adapters.minigrid"] = err.name or str(err)
    return c
