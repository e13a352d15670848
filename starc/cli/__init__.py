"""The ``starc`` command line.

Subcommands
-----------
``starc info``
    Versions of starc and its dependencies, and numba's threading layer.
``starc demo``
    The main job on a built-in default: a grid world with its true reward, a
    potential-shaped copy and a misspecified one; prints their distances and regrets.
``starc compare R1 R2 --mdp mdp.npz [--variants ...] [--json]``
    Distances between two rewards (``.npy``, ``.npz`` or CSV with one row per
    ``(s, a, s')``: :mod:`starc._reward_files`) on an MDP saved by
    :func:`starc.save_mdp`, with the exact regret, the worst-case regret and the
    certified bound. ``starc compare --example DIR`` writes example inputs.
``starc sweep [--preset NAME] [--mc] [--with-lp-variants] [--workers N] [--output FILE]``
    The experiment runner over :mod:`starc.sweep` (:func:`sweep_main`, which parses
    its own options).
``starc bandit compare FILE --true COL --proxy COL [--prompt COL --response COL]``
    Two reward models' scores in a long table (CSV, Parquet, JSON Lines): STARC and
    Pearson distances, rank correlations, accuracy, regret, worst-case regret and the
    certified bound with bootstrap intervals; ``--plot`` writes the over-optimisation
    curves (``starc/cli/_bandit.py``).
``starc figures [NAME ...| --all] [--quick]``
    Run the scripts of ``paper_figures/`` (needs a source checkout).
``starc bandit score --model DIR --data FILE --output FILE [--dpo-reference DIR --beta B]``
    Score (prompt, response) pairs with a local transformers reward model, or a DPO
    policy's implicit reward, into a long table (``starc/cli/_score.py``).

Every subcommand is a function ``_cmd_NAME(args) -> int``; :func:`main` parses
``argv`` and returns the exit status, so tests call ``main([...])`` in-process. Errors
from bad input print one line to stderr and return a non-zero status, never a traceback.
A command that writes a file (``sweep``, ``demo``, ``figures``, ``compare --example``)
checks its output folder before computing and writes atomically (:mod:`starc._io`);
binary input files are read header first, so an oversized, truncated or pickled file is
such a one-line error too, and a CSV reward's layout is checked row by row.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..exceptions import StarcError

__all__ = ["main", "sweep_main"]

_INFO_PACKAGES = ("numpy", "scipy", "networkx", "numba", "cvxpy", "matplotlib", "tqdm",
                  "quantecon", "torch", "gymnasium", "dask", "distributed")


def _cmd_info(args: argparse.Namespace) -> int:
    import platform

    print(f"starc {__version__}")
    print(f"python {platform.python_version()} ({platform.platform()})")
    for name in _INFO_PACKAGES:
        try:
            mod = importlib.import_module(name)
            version = getattr(mod, "__version__", "unknown")
        except Exception:  # noqa: BLE001 - any import failure means "not installed"
            version = "not installed"
        print(f"{name:<12} {version}")
    try:
        import numba

        layer = numba.config.THREADING_LAYER
        print(f"numba threading layer: {layer} (configured), threads: {numba.config.NUMBA_NUM_THREADS}")
    except Exception:  # noqa: BLE001
        print("numba threading layer: unavailable")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return run_demo(output=args.output, seed=args.seed, show_json=args.json)


DEFAULT_VARIANTS = ("VAL-2-2", "VAL-1-1", "VAL-inf-inf", "EPIC-2-2", "DARD-2-2")


def _load_reward(path: str, mdp):
    """Read one reward ``(S, A, S)`` from a ``.npy``, ``.npz`` or ``.csv`` file
    (:func:`starc._reward_files.read_reward`: binary files through
    :func:`starc._io.load_arrays`, headers first, never unpickled)."""
    from .._reward_files import read_reward

    return read_reward(path, mdp)


def _variant_name(name: str) -> str:
    """The paper name of variant ``name``, matched case-insensitively (``val-2-2``)."""
    from ..distances import VARIANTS, resolve_variant

    if name in VARIANTS:
        return name
    key = {key.lower(): key for key in VARIANTS}.get(name.lower())
    if key is None:
        resolve_variant(name)  # raises the ValidationError listing the names
    return key


_NOT_APPLICABLE = ("-  no certified bound: the bound of STARC Thm. 1 needs a canonicalization "
                   "that differs from the reward by potential shaping, which DARD's does "
                   "not; for MinimalPotential variants starc does not compute it "
                   "(starc.regret_bound has no minimal-norm option)")
_VACUOUS = ("1  a vacuous bound: U(R1) * distance >= 1, and the normalised regret is at most "
            "1 anyway, so the distance is too large to certify anything")


def _write_example(folder: str) -> int:
    from .._io import check_output_folder
    from .._reward_files import write_reward_csv
    from ..demo import demo_environment
    from ..envs import save_mdp

    folder = check_output_folder(folder, "--example")
    mdp, rewards, _ = demo_environment()
    paths = {"mdp": os.path.join(folder, "mdp.npz"),
             "true": os.path.join(folder, "true_reward.csv"),
             "proxy": os.path.join(folder, "proxy_reward.csv")}
    save_mdp(paths["mdp"], mdp)
    write_reward_csv(paths["true"], rewards["true"])
    write_reward_csv(paths["proxy"], rewards["misspecified"])
    print(f"wrote {paths['mdp']} (a {mdp.n_states}-state grid world, {mdp.n_actions} "
          f"actions, gamma {mdp.gamma}),")
    print(f"      {paths['true']} and {paths['proxy']} (rewards, one CSV row per (s, a, s'))")
    print("compare them with:")
    print(f"  starc compare {paths['true']} {paths['proxy']} --mdp {paths['mdp']}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import json

    from ..distances import resolve_variant, starc_distance
    from ..envs import load_mdp
    from ..exceptions import ValidationError
    from ..regret import regret, regret_bound, worst_case_regret

    if args.example is not None:
        if args.r1 is not None or args.mdp is not None:
            raise ValidationError("--example DIR only writes example inputs; run compare "
                                  "on them afterwards (the command is printed)")
        return _write_example(args.example)
    if args.r1 is None or args.r2 is None or args.mdp is None:
        raise ValidationError("compare needs two reward files and --mdp FILE (or "
                              "--example DIR to write example inputs)")
    variants = [_variant_name(name) for name in (args.variants or DEFAULT_VARIANTS)]
    mdp = load_mdp(args.mdp)
    r1 = _load_reward(args.r1, mdp)
    r2 = _load_reward(args.r2, mdp)
    rows = []
    for name in variants:
        v = resolve_variant(name)
        d = starc_distance(r1, r2, mdp, variant=name)
        row = {"variant": name, "distance": d, "certified_regret_bound": None}
        if v.canonicalization != "dard" and "minimal_norm" not in v.kwargs():
            row["certified_regret_bound"] = regret_bound(r1, d, mdp, **v.kwargs())
        rows.append(row)
    summary = {"regret": regret(r1, r2, mdp), "worst_case_regret": worst_case_regret(r1, r2, mdp)}
    if args.json:
        print(json.dumps({"distances": rows, **summary}, indent=2))
        return 0
    print(f"MDP {args.mdp}: {mdp.n_states} states, {mdp.n_actions} actions, gamma {mdp.gamma}")
    print(f"{'variant':<24}{'distance':>12}{'regret bound':>16}")
    notes = []
    for row in rows:
        bound = row["certified_regret_bound"]
        bound_s = f"{bound:>16.6f}" if bound is not None else f"{'-':>16}"
        if bound is None and _NOT_APPLICABLE not in notes:
            notes.append(_NOT_APPLICABLE)
        if bound is not None and bound >= 1.0 and _VACUOUS not in notes:
            notes.append(_VACUOUS)
        print(f"{row['variant']:<24}{row['distance']:>12.6f}{bound_s}")
    print(f"regret of optimising R2 (exact, pessimistic ties): {summary['regret']:.6f}")
    print(f"worst-case regret (exact, parametric):             "
          f"{summary['worst_case_regret']:.6f}")
    if notes:
        print("regret bound:")
        for note in notes:
            print(f"  {note}")
    return 0


def _sweep_parser() -> argparse.ArgumentParser:
    """The options of ``starc sweep`` (parsed by :func:`sweep_main`)."""
    from ..sweep import PRESETS

    parser = argparse.ArgumentParser(
        prog="starc sweep",
        description="Correlation of reward distances with regret over random MDPs "
                    "(the STARC paper's Figure 1 experiment).")
    parser.add_argument("--preset", default="starc-paper", choices=sorted(PRESETS),
                        help="which sweep (default: starc-paper, 49,152 rows)")
    parser.add_argument("--with-lp-variants", action="store_true",
                        help="add the MinimalPotential-L1 variants (one LP per reward)")
    parser.add_argument("--mc", action="store_true",
                        help="also estimate regret the authors' way (Monte Carlo)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (default 1: this process, numba threads)")
    parser.add_argument("--chunk-size", type=int, default=None, help="MDPs per chunk")
    parser.add_argument("--output", default=None,
                        help="result file: .csv for CSV, anything else .npz "
                             "(default starc-sweep-PRESET.npz); checked to be writable "
                             "before the sweep runs, and written atomically")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    return parser


def sweep_main(argv: Sequence[str] | None = None) -> int:
    """``starc sweep``: run a preset sweep, print correlations, write ``.npz`` or CSV.

    Parses its own options (``starc sweep --help``), builds the preset's
    :class:`starc.sweep.Sweep`, runs it (in ``--workers`` spawned processes when more
    than one), prints :func:`starc.sweep.summary_table` and writes the result.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after ``sweep`` (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status (0 on success, 1 on an error, 2 on bad arguments). An
        ``--output`` whose folder does not exist or cannot be written is an error found
        before the sweep runs, so no computation is lost to it.

    Examples
    --------
    >>> from starc.cli import sweep_main
    >>> sweep_main(["--preset", "no-such-preset"])  # argparse explains on stderr
    2

    :func:`starc.sweep.cli_main` runs a preset.
    """
    from .._io import check_writable, npz_path
    from .._validation import check_positive_int
    from ..sweep import Sweep, summary_table

    try:
        args = _sweep_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on bad arguments and --help
        return int(exc.code or 0)
    try:
        regrets = ("exact", "mc") if args.mc else ("exact",)
        sweep = Sweep.preset(args.preset, with_lp_variants=args.with_lp_variants,
                             seed=args.seed, regrets=regrets)
        workers = check_positive_int(args.workers, "--workers")
        # refuse an unwritable --output now, not after hours of computing
        out = args.output or f"starc-sweep-{args.preset}.npz"
        as_csv = str(out).lower().endswith(".csv")
        out = os.fspath(out) if as_csv else npz_path(out, "--output")
        check_writable(out, "--output")
        print(f"starc sweep: preset {args.preset}, {sweep.n_rows:,} rows, "
              f"{len(sweep.variants)} variants, regrets {list(sweep.regrets)}, "
              f"seed {sweep.seed}, workers {workers}", flush=True)
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                result = sweep.run(executor=pool, chunk_size=args.chunk_size,
                                   progress=args.progress)
        else:
            result = sweep.run(chunk_size=args.chunk_size, progress=args.progress)
        print(f"done in {result.elapsed:.1f} s\n")
        print(summary_table(result))
        if as_csv:
            result.to_csv(out)
        else:
            result.save(out)
        print(f"\nwrote {out}")
        return 0
    except (StarcError, OSError) as err:
        print(f"starc sweep: error: {err}", file=sys.stderr)
        return 1


def _cmd_sweep(args: argparse.Namespace) -> int:
    return sweep_main(list(args.sweep_args))


def _figures_dir():
    from pathlib import Path

    here = Path(__file__).resolve().parents[2] / "paper_figures"
    return here if here.is_dir() else None


def _cmd_figures(args: argparse.Namespace) -> int:
    import importlib.util

    folder = _figures_dir()
    if folder is None:
        print("starc: error: paper_figures/ not found; 'starc figures' runs from a source "
              "checkout (git clone ...; pip install -e .)", file=sys.stderr)
        return 1
    available = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
    if args.list or (not args.names and not args.all):
        print("available figures:\n  " + "\n  ".join(available))
        return 0
    names = available if args.all else args.names
    unknown = [n for n in names if n not in available]
    if unknown:
        print(f"starc: error: unknown figure(s) {unknown}; available: {available}",
              file=sys.stderr)
        return 1
    if args.output:  # refuse an unwritable folder before running any script
        from .._io import check_output_folder

        check_output_folder(args.output, "--output")
    status = 0
    for name in names:
        spec = importlib.util.spec_from_file_location(f"paper_figures.{name}",
                                                      folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        argv = (["--quick"] if args.quick else []) + (["--output", args.output]
                                                       if args.output else [])
        rc = int(module.main(argv))
        print(f"{name}: {'ok' if rc == 0 else f'failed ({rc})'}")
        status = status or rc
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``starc`` command."""
    parser = argparse.ArgumentParser(
        prog="starc",
        description="Exact reward-function distances (STARC, EPIC, DARD) and regret for "
                    "tabular MDPs.")
    parser.add_argument("--version", action="version", version=f"starc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="print versions and the numba threading layer")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("demo", help="run the main job on a built-in grid world")
    p.add_argument("--output", default="starc_demo.png",
                   help="where to write the figure (default: starc_demo.png); the format "
                        "follows the extension (.png when there is none); a folder gets "
                        "starc_demo.png inside it")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "compare", help="distances, regret and bound between two saved rewards",
        description="Distances, exact regret, worst-case regret and certified regret bound "
                    "between a true and a proxy reward on a saved MDP. Start with "
                    "'starc compare --example DIR', which writes an MDP and two rewards "
                    "and prints the command that compares them.",
        epilog="A reward file is .npy (shape (S, A, S), (S, A) or (S,)), .npz (that array "
               "under the key 'reward', or its only array) or .csv: a header "
               "'state,action,next_state,reward' and one row per (s, a, s') -- all S*A*S of "
               "them, each once, indices from 0. In the table, a bound '-' means none "
               "applies (DARD) or is not computed (MinimalPotential), a bound of 1 is vacuous (regret is at most 1 anyway).")
    p.add_argument("r1", nargs="?", help="true reward: .npy, .npz or .csv (see below)")
    p.add_argument("r2", nargs="?", help="proxy reward, same formats")
    p.add_argument("--mdp", help="MDP saved by starc.save_mdp (.npz)")
    p.add_argument("--example", metavar="DIR",
                   help="write example inputs into DIR (created if missing): mdp.npz, "
                        "true_reward.csv, proxy_reward.csv; prints the compare command")
    p.add_argument("--variants", nargs="+", metavar="NAME",
                   help="paper variant names, case-insensitive (default: "
                        f"{' '.join(DEFAULT_VARIANTS)})")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("sweep", help="run an experiment sweep (see 'starc sweep --help')",
                       add_help=False)
    p.add_argument("sweep_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("figures", help="run the paper_figures/ scripts")
    p.add_argument("names", nargs="*", metavar="NAME", help="figure scripts to run")
    p.add_argument("--all", action="store_true", help="run every script")
    p.add_argument("--list", action="store_true", help="list the scripts")
    p.add_argument("--quick", action="store_true", help="small, fast versions (CI)")
    p.add_argument("--output", help="output folder, created if missing and checked to be "
                                    "writable before any script runs (default: each "
                                    "script's own)")
    p.set_defaults(func=_cmd_figures)

    p = sub.add_parser("bandit", help="reward models on prompts x responses (starc.bandit)")
    bandit = p.add_subparsers(dest="bandit_command", metavar="BANDIT_COMMAND")
    from ._bandit import add_compare_parser
    from ._score import add_score_parser

    add_compare_parser(bandit)
    add_score_parser(bandit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``starc`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sweep":  # the sweep runner parses its own options
        try:
            return _cmd_sweep(argparse.Namespace(sweep_args=argv[1:]))
        except (StarcError, OSError) as err:
            print(f"starc: error: {err}", file=sys.stderr)
            return 1
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except (StarcError, OSError) as err:
        print(f"starc: error: {err}", file=sys.stderr)
        return 1
