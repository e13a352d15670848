"""Helpers of the tests that run the ``paper_figures`` scripts (importable as ``figure_scripts``).

A script is loaded from its file and called as ``main(argv)``, as ``starc figures`` does
(the docs gallery runs the same scripts as subprocesses with the same arguments).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

#: The folder of the figure scripts.
FIGURES = Path(__file__).resolve().parents[1] / "paper_figures"


def load_script(script: Path):
    """Import ``script`` as a module (not run as ``__main__``); it must have a docstring."""
    spec = importlib.util.spec_from_file_location(f"_figure_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__ and module.__doc__.strip(), f"{script.name} has no docstring"
    return module


def run_quick(script: Path, output: Path, capsys, max_seconds: float | None = None) -> Path:
    """Run ``script`` with ``--quick --output output``; check it wrote and printed its PNG.

    The PNG is ``output/<script stem>.png``; with ``max_seconds`` the run must also take
    less than that. Returns the PNG's path.
    """
    module = load_script(script)
    start = time.perf_counter()
    assert module.main(["--quick", "--output", str(output)]) == 0
    elapsed = time.perf_counter() - start
    assert max_seconds is None or elapsed < max_seconds, (script.name, elapsed)
    png = output / f"{script.stem}.png"
    assert png.is_file() and png.stat().st_size > 1000, png
    assert str(png) in capsys.readouterr().out
    return png
