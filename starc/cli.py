"""The ``starc`` command line.

Subcommands
-----------
``starc info``
    Versions of starc and its dependencies, and numba's threading layer.
``starc demo``
    The main job on a built-in default: a grid world with its true reward, a
    potential-shaped copy and a misspecified one; prints their distances and regrets.
``starc compare R1.npy R2.npy --mdp mdp.npz [--variants ...] [--json]``
    Distances between two rewards saved as ``.npy`` on an MDP saved by
    :func:`starc.save_mdp`, with the exact regret, the worst-case regret and the
    certified bound.
``starc sweep ...``
    The experiment runner (:func:`starc.sweep.cli_main`).
``starc bandit compare FILE --true COL --proxy COL [--prompt COL --response COL]``
    Two reward models' scores in a long table (CSV, Parquet, JSON Lines): STARC and
    Pearson distances, rank correlations, accuracy, regret, worst-case regret and the
    certified bound with bootstrap intervals; ``--plot`` writes the over-optimisation
    curves (:mod:`starc.bandit._cli`).
``starc figures [NAME ...| --all] [--quick]``
    Run the scripts of ``paper_figures/`` (needs a source checkout).
``starc bandit score --model DIR --data FILE --output FILE [--dpo-reference DIR --beta B]``
    Score (prompt, response) pairs with a local transformers reward model, or a DPO
    policy's implicit reward, into a long table (``starc.adapters._transformers_cli``).

Every subcommand is a function ``_cmd_NAME(args) -> int``; :func:`main` parses
``argv`` and returns the exit status, so tests call ``main([...])`` in-process. Errors
from bad input print one line to stderr and return a non-zero status, never a traceback.
A command that writes a file (``sweep``, ``demo``, ``figures``) checks its ``--output``
before computing and writes atomically (:mod:`starc._io`); input files are read header
first, so an oversized, truncated or pickled file is such a one-line error too.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .exceptions import StarcError

__all__ = ["main"]

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
    from .demo import run_demo

    return run_demo(output=args.output, seed=args.seed, show_json=args.json)


DEFAULT_VARIANTS = ("VAL-2-2", "VAL-1-1", "VAL-inf-inf", "EPIC-2-2", "DARD-2-2")


def _load_reward(path: str, mdp):
    """Read a reward from a ``.npy`` (or the ``reward`` key of an ``.npz``) without unpickling.

    The array header is checked before any data is read (:func:`starc._io.load_arrays`):
    a header claiming more memory than the machine has, object data and a truncated file
    are one-line errors, not a ``MemoryError`` or a misleading "pickled" message.
    """
    from ._io import load_arrays
    from .exceptions import ValidationError
    from .mdp import broadcast_reward

    data = load_arrays(path, "reward file")
    if isinstance(data, dict):
        if "reward" not in data:
            raise ValidationError(f"reward file {path!r} is an .npz without a 'reward' key")
        data = data["reward"]
    return broadcast_reward(data, mdp, name=f"reward in {path!r}")


def _cmd_compare(args: argparse.Namespace) -> int:
    import json

    from .distances import resolve_variant, starc_distance
    from .envs import load_mdp
    from .regret import regret, regret_bound, worst_case_regret

    mdp = load_mdp(args.mdp)
    r1 = _load_reward(args.r1, mdp)
    r2 = _load_reward(args.r2, mdp)
    for name, r in (("R1", r1), ("R2", r2)):
        if r.ndim != 3:
            from .exceptions import ValidationError

            raise ValidationError(f"{name} must be one reward (S, A, S), got shape {r.shape}")
    variants = list(args.variants or DEFAULT_VARIANTS)
    rows = []
    for name in variants:
        v = resolve_variant(name)
        d = starc_distance(r1, r2, mdp, variant=name)
        row = {"variant": name, "distance": d}
        if v.canonicalization != "dard" and v.normalization is not None \
                and v.canonicalization in ("val", "minimal_l2", "minimal"):
            row["certified_regret_bound"] = regret_bound(r1, d, mdp, **v.kwargs())
        rows.append(row)
    summary = {"regret": regret(r1, r2, mdp), "worst_case_regret": worst_case_regret(r1, r2, mdp)}
    if args.json:
        print(json.dumps({"distances": rows, **summary}, indent=2))
        return 0
    print(f"MDP {args.mdp}: {mdp.n_states} states, {mdp.n_actions} actions, gamma {mdp.gamma}")
    print(f"{'variant':<24}{'distance':>12}{'regret bound':>16}")
    for row in rows:
        bound = row.get("certified_regret_bound")
        bound_s = f"{bound:>16.6f}" if bound is not None else f"{'-':>16}"
        print(f"{row['variant']:<24}{row['distance']:>12.6f}{bound_s}")
    print(f"regret of optimising R2 (exact, pessimistic ties): {summary['regret']:.6f}")
    print(f"worst-case regret (exact, parametric):             "
          f"{summary['worst_case_regret']:.6f}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    try:
        from .sweep import cli_main
    except ImportError as err:  # pragma: no cover - the sweep module ships with starc
        print(f"starc: error: the sweep runner is unavailable: {err}", file=sys.stderr)
        return 1
    return int(cli_main(list(args.sweep_args)))


def _figures_dir():
    from pathlib import Path

    here = Path(__file__).resolve().parent.parent / "paper_figures"
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
        from ._io import check_output_folder

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

    p = sub.add_parser("compare", help="distances, regret and bound between two saved rewards")
    p.add_argument("r1", help="true reward, .npy of shape (S, A, S), (S, A) or (S,)")
    p.add_argument("r2", help="proxy reward, same forms")
    p.add_argument("--mdp", required=True, help="MDP saved by starc.save_mdp (.npz)")
    p.add_argument("--variants", nargs="+", metavar="NAME",
                   help=f"paper variant names (default: {' '.join(DEFAULT_VARIANTS)})")
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
    from .adapters._transformers_cli import add_score_parser
    from .bandit._cli import add_compare_parser

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
