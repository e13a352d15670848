"""torch and gymnasium stay optional: never imported by ``import starc.adapters``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from starc.exceptions import MissingDependencyError


def test_importing_starc_and_the_adapters_imports_neither():
    code = ("import sys, starc, starc.adapters, starc.sampled, starc.adapters.torch, "
            "starc.adapters.gymnasium; "
            "print('torch' in sys.modules, 'gymnasium' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_torch_gives_the_pip_line(monkeypatch):
    from starc.adapters import load_weights, tabulate

    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MissingDependencyError, match=r"pip install torch==2\.13\.0") as err:
        tabulate(lambda *x: None, (2, 2))
    assert 'pip install "starc[torch]"' in str(err.value)
    assert isinstance(err.value, ImportError)
    with pytest.raises(MissingDependencyError, match="torch"):
        load_weights(object(), "model.pt")


def test_missing_gymnasium_gives_the_pip_line(monkeypatch):
    from starc.adapters import from_toy_text, terminal_states

    monkeypatch.setitem(sys.modules, "gymnasium", None)
    with pytest.raises(MissingDependencyError, match=r"pip install gymnasium"):
        from_toy_text(object())
    with pytest.raises(MissingDependencyError, match=r"starc\[gym\]"):
        terminal_states(object())
