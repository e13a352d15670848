"""Every public name has a page in the API reference (docs/api/*.rst autosummary lists)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import starc

DOCS_API = Path(__file__).resolve().parent.parent / "docs" / "api"

#: Public namespaces and the module path under which their names are documented.
NAMESPACES = ["starc", "starc.transforms", "starc.preferences", "starc.sweep", "starc.batch",
              "starc.adapters", "starc.adapters.transformers", "starc.sampled", "starc.bandit",
              "starc.plotting"]


def documented_names() -> set[str]:
    """Fully qualified names listed in autosummary blocks, resolved via currentmodule."""
    names = set()
    for page in DOCS_API.glob("*.rst"):
        module = None
        in_block = False
        for line in page.read_text().splitlines():
            m = re.match(r"\.\. (?:currentmodule|module):: (\S+)", line.strip())
            if m:
                module = m.group(1)
                continue
            if line.strip().startswith(".. autosummary::"):
                in_block = True
                continue
            if in_block:
                stripped = line.strip()
                if not stripped or stripped.startswith(":"):
                    continue
                if not line.startswith("   "):
                    in_block = False
                    continue
                names.add(f"{module}.{stripped}" if module and "." not in stripped
                          else stripped)
    return names


def public_names(namespace: str) -> list[str]:
    try:
        module = importlib.import_module(namespace)
    except ImportError:
        pytest.skip(f"{namespace} is not available")
    return [f"{namespace}.{n}" for n in getattr(module, "__all__", []) if n != "__version__"]


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_public_name_has_an_api_page(namespace):
    documented = documented_names()
    missing = [n for n in public_names(namespace) if n not in documented]
    assert not missing, f"public names without an API page in docs/api/: {missing}"


def test_top_level_all_is_importable():
    for name in starc.__all__:
        assert hasattr(starc, name), name
