"""The ``starc`` command line, called in-process through ``starc.cli.main``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import starc
from starc import cli


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
