"""The public surface of starc.preferences: exports, docstrings, docs pages, light imports."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import starc.preferences as pref

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("graphs", "inference_distance", "datasets", "structural", "scaling", "general")
FUNCTIONS = [n for n in pref.__all__ if inspect.isfunction(getattr(pref, n))]
CLASSES = [n for n in pref.__all__ if inspect.isclass(getattr(pref, n))]


def test_all_names_exist_are_unique_and_cover_the_modules():
    assert len(set(pref.__all__)) == len(pref.__all__)
    for name in pref.__all__:
        assert hasattr(pref, name), name
    for mod in MODULES:
        m = importlib.import_module(f"starc.preferences.{mod}")
        assert set(m.__all__) <= set(pref.__all__), mod
        assert m.__doc__ and "References" in m.__doc__, mod


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_docstrings_are_numpydoc(name):
    doc = inspect.getdoc(getattr(pref, name))
    for section in ("Parameters", "Returns", "Raises", "Notes", "References", "Examples",
                    ".. math::", ">>>"):
        assert section in doc, f"{name} lacks {section}"


@pytest.mark.parametrize("name", CLASSES)
def test_class_docstrings(name):
    doc = inspect.getdoc(getattr(pref, name))
    for section in ("Attributes", "References", "Examples", ".. math::", ">>>"):
        assert section in doc, f"{name} lacks {section}"


def test_issue_names_are_public():
    for name in ("inference_distance", "mean_inference_distance", "chain_dataset",
                 "tree_dataset", "structural_function", "topology_gap_curve",
                 "maximal_lottery"):
        assert name in pref.__all__


def test_api_page_lists_every_name():
    page = (ROOT / "docs" / "api" / "preferences.rst").read_text()
    assert ".. currentmodule:: starc.preferences" in page
    listed = set(re.findall(r"^   (\w+)\s*$", page, flags=re.M))
    assert set(pref.__all__) == listed


def test_theory_page_states_the_path_vs_resistance_caveat():
    page = (ROOT / "docs" / "theory" / "preferences.rst").read_text()
    assert ".. math::" in page
    text = " ".join(page.replace("*", "").split()).lower()
    assert "the θ(log n/log log n) gain is a statement about the path inference distance" \
        in text.replace(":math:`\\theta(\\log n/\\log\\log n)`", "θ(log n/log log n)")
    assert "effective resistance -- behaves differently" in text


def test_imports_stay_light():
    code = ("import sys, starc; a = 'networkx' in sys.modules; "
            "import starc.preferences; "
            "b = [m for m in ('matplotlib', 'numba', 'cvxpy', 'torch') if m in sys.modules]; "
            "print(a, ','.join(b))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
