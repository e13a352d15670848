"""The public surface of starc.transforms: exports, docstrings, docs page, light import."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import starc.transforms as tr

ROOT = Path(__file__).resolve().parents[2]
CALLABLES = [n for n in tr.__all__ if callable(getattr(tr, n))]


def test_all_names_exist_and_are_unique():
    assert len(set(tr.__all__)) == len(tr.__all__)
    for name in tr.__all__:
        assert hasattr(tr, name), name


def test_every_public_module_name_is_reexported():
    import importlib

    for mod in ("lsc", "aggregation", "policies", "ensembles", "process_rewards", "tabular",
                "synthetic"):
        m = importlib.import_module(f"starc.transforms.{mod}")
        assert set(m.__all__) <= set(tr.__all__), mod


@pytest.mark.parametrize("name", CALLABLES)
def test_numpydoc_sections(name):
    obj = getattr(tr, name)
    doc = inspect.getdoc(obj)
    assert doc, name
    if inspect.isclass(obj):
        assert "Attributes" in doc, name
        return
    for section in ("Parameters", "Returns", "Raises", "References", "Examples", ".. math::",
                    ">>>"):
        assert section in doc, f"{name} lacks {section}"


def test_api_page_lists_every_name():
    page = (ROOT / "docs" / "api" / "transforms.rst").read_text()
    autosummary = set(re.findall(r"^   (\w+)\s*$", page, flags=re.M))
    registries = set(re.findall(r"^``([A-Z_]+)``$", page, flags=re.M))
    assert set(tr.__all__) == autosummary | registries


def test_import_is_light():
    code = ("import sys, starc.transforms; "
            "bad = [m for m in ('matplotlib', 'torch', 'cvxpy') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
