"""What every ``paper_figures`` script shares: its command line and how it writes a figure.

Not a figure itself. Every script runs as ``python paper_figures/<name>.py [--quick]
[--output DIR] ...`` and is also loaded by file path and called as ``main(argv)`` (by the
tests, by ``starc figures`` and, as a subprocess with ``--quick --output DIR``, by the
gallery of ``docs/conf.py``). Names starting with ``_`` are skipped by the gallery and by
``starc figures``, so this module is never run as a figure.

A script imports it after putting its own folder on ``sys.path`` (needed when it is
loaded by file path rather than run), which also selects matplotlib's Agg backend before
the script imports ``matplotlib.pyplot``::

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _figures import DEFAULT_OUTPUT, figure_parser, write_figure  # noqa: E402

Every file a script writes goes through :func:`starc._io.atomic_write` (tables, through
the re-exported ``atomic_write``) or :func:`save_figure` (figures): a temporary file in the
output folder renamed over the destination, so an interrupted script leaves the previous
outputs whole. ``--output`` is created and checked to be writable when the arguments are
parsed, before anything is computed.
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from starc._io import atomic_write, check_output_folder  # noqa: E402
from starc._io import save_figure as _save_atomically  # noqa: E402
from starc.exceptions import ValidationError  # noqa: E402

__all__ = ["DEFAULT_OUTPUT", "SCRIPT_OUTPUT", "atomic_write", "figure_parser",
           "output_folder", "save_figure", "write_figure"]

#: Default output folder of most scripts, relative to the working directory (the
#: repository root when run as documented).
DEFAULT_OUTPUT = os.path.join("paper_figures", "output")
#: ``paper_figures/output`` next to the scripts, wherever they are run from.
SCRIPT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output")


def output_folder(folder: str) -> str:
    """``--output``'s type: create ``folder`` and check that a file can be written in it.

    Raises :class:`argparse.ArgumentTypeError` (argparse's one-line error, exit status 2)
    when the folder cannot be created or written, so no script computes for nothing.
    """
    try:
        return check_output_folder(folder, "folder")
    except ValidationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def figure_parser(doc: str, quick_help: str, *, seed: int | None = None,
                  seed_help: str | None = "random seed", output: str = DEFAULT_OUTPUT,
                  output_help: str = "output folder") -> argparse.ArgumentParser:
    """The parser of a figure script: ``--quick``, ``--output`` and, if ``seed`` is given,
    ``--seed`` (an int defaulting to ``seed``). A help of ``None`` shows none.

    ``doc`` is the script's docstring; its first line describes the parser. A script
    with more options adds them to the returned parser before parsing. ``--output`` is
    created and checked by :func:`output_folder` while parsing.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--output", default=output, type=output_folder, help=output_help)
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed, help=seed_help)
    return parser


#: Resolution of ``--quick`` figures (the documentation gallery shows them).
QUICK_DPI = 120


def save_figure(fig, folder: str, filename: str, *, dpi: int) -> str:
    """Save ``fig`` as ``folder/filename`` (creating the folder) atomically, close it,
    return the path."""
    os.makedirs(folder, exist_ok=True)
    try:
        return _save_atomically(fig, os.path.join(folder, filename), dpi=dpi)
    finally:
        plt.close(fig)


def write_figure(fig, args: argparse.Namespace, name: str) -> str:
    """Save ``fig`` as ``args.output/<name>.png`` and print ``wrote <path>``.

    120 dpi with ``--quick`` (the docs gallery shows these), 150 dpi otherwise. Returns
    the path.
    """
    path = save_figure(fig, args.output, f"{name}.png", dpi=QUICK_DPI if args.quick else 150)
    print(f"wrote {path}")
    return path
