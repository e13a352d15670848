"""The top-level namespace: explicit re-exports, and no heavy imports at ``import starc``."""

from __future__ import annotations

import json
import pathlib
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
    # names listed under ``.. currentmodule:: starc`` (sections for submodule-only names,
    # e.g. ``starc.envs.maze``, set their own currentmodule and are not top-level exports)
    listed, module = set(), "starc"
    for line in page.read_text().splitlines():
        directive = re.match(r"^\.\. currentmodule:: (\S+)$", line)
        if directive:
            module = directive.group(1)
        elif module == "starc" and re.match(r"^   [A-Za-z_]\w*$", line):
            listed.add(line.strip())
    core = {name for name in starc.__all__
            if getattr(getattr(starc, name), "__module__", None) in CORE_MODULES}
    assert listed == core


def test_every_advertised_subpackage_imports():
    """``dir(starc)`` lists only what exists: each lazily loaded name imports."""
    for name in starc._SUBPACKAGES:
        module = getattr(starc, name)
        assert module.__name__ == f"starc.{name}"
        assert name in dir(starc)


def test_the_package_ships_no_pytest_file():
    import pathlib

    root = pathlib.Path(starc.__file__).resolve().parent
    assert sorted(str(p.relative_to(root)) for p in root.rglob("conftest.py")) == []


def _registries(modules):
    """``{name: {module: value}}`` for the upper-case tuples of strings of ``modules``."""
    import importlib

    out = {}
    for mod_name in modules:
        mod = importlib.import_module(mod_name)
        for name, value in vars(mod).items():
            if (name.isupper() and isinstance(value, tuple) and value
                    and all(isinstance(v, str) for v in value)):
                out.setdefault(name, {})[mod_name] = value
    return out


def _stem(name):
    """A registry name without the words that only say 'these are names'."""
    for suffix in ("_METHODS", "_KINDS", "_NAMES"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name[:-1] if name.endswith("S") else name


@pytest.mark.parametrize("package", ["starc.transforms", "starc.preferences"])
def test_registry_names_have_one_meaning(package):
    """One name, one meaning: a registry name holds the same tuple wherever it is defined
    in the transforms and preferences subpackages, and no two registries of one namespace
    differ only by a plural or a ``_METHODS``/``_KINDS`` suffix (``AGGREGATIONS`` beside
    ``AGGREGATION_METHODS`` with other contents was one)."""
    import importlib
    import pkgutil

    pkg = importlib.import_module(package)
    others = ["starc.transforms", "starc.preferences"]
    modules = [f"{p}.{m.name}" for p in others
               for m in pkgutil.iter_modules(importlib.import_module(p).__path__)]
    for name, where in _registries(modules).items():
        assert len(set(where.values())) == 1, (name, where)
    exported = [n for n in pkg.__all__ if n.isupper()]
    stems = {}
    for name in exported:
        stems.setdefault(_stem(name), []).append(name)
    assert {s: n for s, n in stems.items() if len(n) > 1} == {}


#: Every module and subpackage of starc is held to the rule below (issue 17).
NO_PRIVATE_IMPORTS = tuple(sorted(
    p.name for p in pathlib.Path(starc.__file__).resolve().parent.iterdir()
    if p.suffix == ".py" or (p / "__init__.py").exists()))


def _private_imports(path, package):
    """``from`` imports in ``path`` (in ``package``) of another module's private name, or of
    a private module that belongs to a package the importer is not inside."""
    import ast

    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[:len(package) - node.level + 1]
            source = base + (node.module.split(".") if node.module else [])
        elif (node.module or "").split(".")[0] == "starc":
            source = node.module.split(".")
        else:
            continue
        for i, part in enumerate(source):
            owner = source[:i]
            if part.startswith("_") and not part.startswith("__") \
                    and package[:len(owner)] != owner:
                bad.append(f"{path.name}:{node.lineno} private module {'.'.join(source)}")
        for alias in node.names:
            private = alias.name.startswith("_") and not alias.name.startswith("__")
            if private and node.module is not None:
                bad.append(f"{path.name}:{node.lineno} private name {alias.name} from "
                           f"{'.'.join(source)}")
            elif private and package[:len(source)] != source:
                bad.append(f"{path.name}:{node.lineno} private module {alias.name} of "
                           f"{'.'.join(source)}")
    return bad


@pytest.mark.parametrize("part", NO_PRIVATE_IMPORTS)
def test_no_private_imports_across_modules(part):
    """Modules use each other through public names only: no ``from .x import _y``, and no
    other package's private ``_module`` (a package's own private modules are fine)."""
    import pathlib

    root = pathlib.Path(starc.__file__).resolve().parent
    files = [root / part] if part.endswith(".py") else sorted((root / part).rglob("*.py"))
    bad = []
    for path in files:
        rel = path.relative_to(root.parent).with_suffix("").parts
        package = list(rel[:-1])          # for __init__.py: the package itself
        bad += _private_imports(path, package)
    assert bad == []
