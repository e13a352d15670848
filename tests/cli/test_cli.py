"""The ``starc`` command line, called in-process through ``starc.cli.main``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import starc
from starc import cli
from starc.sweep import cli_main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"starc {starc.__version__}"


def test_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"starc {starc.__version__}"
    assert lines[1].startswith("python 3.")
    assert any(line.split() == ["numpy", np.__version__] for line in lines)
    for name in ("scipy", "networkx", "numba", "cvxpy", "matplotlib", "tqdm"):
        assert any(line.split()[0] == name for line in lines), name
    assert "numba threading layer:" in out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: starc")
    assert "info" in out


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_library_errors_become_one_line_and_status_1(capsys, monkeypatch):
    def broken(args):
        raise starc.ValidationError("gamma must lie in [0, 1), got 1.0")

    monkeypatch.setattr(cli, "_cmd_info", broken)
    assert cli.main(["info"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "starc: error: gamma must lie in [0, 1), got 1.0\n"
    assert "Traceback" not in captured.err


def test_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "starc", "--version"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"starc {starc.__version__}"


def test_sweep_cli_main_runs_a_preset_and_returns_statuses(tmp_path, capsys):
    """``starc.sweep.cli_main`` (the parser in ``starc.cli``): 0 and the file on success,
    2 for bad arguments, 1 for a library error."""
    out = tmp_path / "quick.csv"
    assert cli_main(["--preset", "quick", "--seed", "1", "--output", str(out),
                     "--chunk-size", "4"]) == 0
    text = capsys.readouterr().out
    assert "VAL" in text and "EPIC-2-2" in text and out.exists()
    assert cli_main(["--preset", "nope"]) == 2
    assert cli_main(["--workers", "0", "--preset", "quick", "--output",
                     str(tmp_path / "x")]) == 1
    assert cli.main(["sweep", "--preset", "nope"]) == 2
