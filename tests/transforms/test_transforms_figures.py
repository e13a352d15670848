"""Every paper_figures/transforms_*.py script runs in --quick mode and writes its PNG."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

FIGURES = Path(__file__).resolve().parents[2] / "paper_figures"
SCRIPTS = sorted(FIGURES.glob("transforms_*.py"))


def test_all_figures_present():
    names = {p.stem for p in SCRIPTS}
    assert {"transforms_lsc_shape", "transforms_winrate_vs_kl", "transforms_p_all_good",
            "transforms_reference_quantile", "transforms_process_rewards"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_quick_run_writes_png(script, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(f"_figure_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__ and module.__doc__.strip()
    assert module.main(["--quick", "--output", str(tmp_path)]) == 0
    png = tmp_path / f"{script.stem}.png"
    assert png.is_file() and png.stat().st_size > 1000
    assert str(png) in capsys.readouterr().out
