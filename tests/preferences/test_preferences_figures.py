"""paper_figures/topology_*.py run in --quick mode, write their PNG and print where."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

FIGURES = Path(__file__).resolve().parents[2] / "paper_figures"
SCRIPTS = sorted(FIGURES.glob("topology_*.py"))


def test_both_figures_present():
    assert {p.stem for p in SCRIPTS} >= {"topology_scaling", "topology_schematic"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_quick_run_writes_png(script, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(f"_figure_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__ and module.__doc__.strip()
    start = time.perf_counter()
    assert module.main(["--quick", "--output", str(tmp_path)]) == 0
    assert time.perf_counter() - start < 20.0
    png = tmp_path / f"{script.stem}.png"
    assert png.is_file() and png.stat().st_size > 1000
    assert str(png) in capsys.readouterr().out
