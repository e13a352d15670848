"""The top-level namespace: explicit re-exports, and no heavy imports at ``import starc``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import starc

HEAVY = ("scipy.linalg", "networkx", "numba", "cvxpy", "matplotlib", "torch", "dask",
         "pandas", "quantecon")


def test_import_starc_does_not_import_heavy_modules(tmp_path):
    code = ("import json, sys; import starc; "
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_core_functions_work_after_a_bare_import(tmp_path):
    """scipy.linalg is imported on first use, not at import time."""
    code = ("import json, sys; import starc; "
            "mdp, r = starc.chain(4, gamma=0.5); "
            "v = starc.optimal_values(r, mdp); "
            "print(json.dumps(['scipy.linalg' in sys.modules, [round(x, 12) for x in v]]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded, values = json.loads(proc.stdout)
    assert loaded is True
    # V*(s) = max(g^(3-s), 0.1 g^s) / (1 - g)
    assert values == pytest.approx([0.25, 0.5, 1.0, 2.0], abs=1e-12)


def test_all_is_explicit_and_importable():
    assert len(starc.__all__) == len(set(starc.__all__))
    for name in starc.__all__:
        assert getattr(starc, name) is not None, name
    assert isinstance(starc.__version__, str)


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        starc.nope  # noqa: B018


CORE_MODULES = ("starc.exceptions", "starc.mdp", "starc.envs", "starc.solve", "starc.shaping")


def test_api_page_lists_every_core_name():
    """docs/api/core.rst documents exactly the public names defined by the core modules."""
    import pathlib
    import re

    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "api" / "core.rst"
    if not page.exists():  # pragma: no cover - an installed package without the docs
        pytest.skip("docs/ not present")
    listed = set(re.findall(r"^   ([A-Za-z_]\w*)$", page.read_text(), flags=re.M))
    core = {name for name in starc.__all__
            if getattr(getattr(starc, name), "__module__", None) in CORE_MODULES}
    assert listed == core
