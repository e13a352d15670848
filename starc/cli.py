"""The ``starc`` command line.

Subcommands
-----------
``starc info``
    Versions of starc and its dependencies, and numba's threading layer.
``starc demo``
    The main job on a built-in default: a grid world with its true reward, a
    potential-shaped copy and a misspecified one; prints their distances and regrets.

Every subcommand is a function ``_cmd_NAME(args) -> int``; :func:`main` parses
``argv`` and returns the exit status, so tests call ``main([...])`` in-process. Errors
from bad input print one line to stderr and return a non-zero status, never a traceback.
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
                   help="where to write the figure (default: starc_demo.png)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``starc`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
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
