"""Every documented constant has its own text on its API page, and long values are hidden.

Constants are defined with a ``#:`` comment in a submodule and re-exported (``starc.VARIANTS``
lives in ``starc.distances``); ``docs/_ext/starc_autodoc.py`` makes ``autodata`` find that
comment (Sphinx alone shows the ``tuple``/``dict`` docstring) and replaces a value longer
than ``MAX_VALUE_CHARS`` by its size (``VARIANTS`` would print ~37 KB).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest
from test_docs_api import documented_names

DOCS = Path(__file__).resolve().parent.parent / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

pytest.importorskip("sphinx")
from starc_autodoc import MAX_VALUE_CHARS, constant_comment, long_value


def documented_constants() -> list[tuple[str, str, object]]:
    out = []
    for full in sorted(documented_names()):
        module, _, attr = full.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except ImportError:
            continue
        if callable(obj) or inspect.ismodule(obj):
            continue
        out.append((module, attr, obj))
    return out


CONSTANTS = documented_constants()


def test_the_known_constants_are_found():
    names = {f"{m}.{a}" for m, a, _ in CONSTANTS}
    for name in ("starc.CANONICALIZATIONS", "starc.NORMS", "starc.VARIANTS",
                 "starc.bandit.NORMS", "starc.bandit.TIES", "starc.batch.CLOSED_FORM_VARIANTS",
                 "starc.transforms.TRANSFORM_KINDS", "starc.regret.TIE_RTOL"):
        assert name in names, name
    assert len(CONSTANTS) >= 30


@pytest.mark.parametrize("module,attr,obj", CONSTANTS,
                         ids=[f"{m}.{a}" for m, a, _ in CONSTANTS])
def test_every_documented_constant_has_its_own_comment(module, attr, obj):
    found = constant_comment(module, attr)
    assert found is not None, f"{module}.{attr} has no '#:' comment where it is defined"
    defining, lines = found
    text = " ".join(lines).strip()
    assert len(text) >= 15, text
    assert text != (type(obj).__doc__ or "").strip()
    assert importlib.import_module(defining).__dict__[attr] is obj


def test_long_values_are_summarised():
    import starc

    assert long_value(starc.CANONICALIZATIONS) is None
    summary = long_value(starc.VARIANTS)
    assert summary.startswith(f"a dict of {len(starc.VARIANTS)} entries")
    assert long_value(tuple(range(MAX_VALUE_CHARS))) is not None


PAGE = """Constants
=========

.. currentmodule:: starc

.. autodata:: VARIANTS

.. autodata:: CANONICALIZATIONS

.. currentmodule:: starc.bandit

.. autodata:: NORMS

.. currentmodule:: starc.batch

.. autodata:: CLOSED_FORM_VARIANTS
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    application = pytest.importorskip("sphinx.application")
    src = tmp_path_factory.mktemp("src")
    out = tmp_path_factory.mktemp("html")
    (src / "conf.py").write_text(
        "extensions = ['sphinx.ext.autodoc', 'starc_autodoc']\n"
        f"import sys; sys.path[:0] = [{str(DOCS / '_ext')!r}, {str(DOCS.parent)!r}]\n"
        "autodoc_typehints = 'none'\n")
    (src / "index.rst").write_text(PAGE)
    app = application.Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), "text",
                              status=None, warning=None, freshenv=True)
    app.build()
    return (out / "index.txt").read_text()


def test_built_page_shows_each_comment_and_hides_long_values(page):
    import starc

    flat = " ".join(page.split())
    assert "All 222 variants of the STARC paper" in flat
    assert 'Names accepted by "canonicalize()"' in flat
    assert 'Names accepted by "norm()" and "normalize()"' in flat
    assert "closed form" in flat
    for docstring in (tuple.__doc__, dict.__doc__):
        assert docstring.strip().splitlines()[0] not in page
    assert "VAL-2-2" not in page
    assert f"Value: a dict of {len(starc.VARIANTS)} entries" in flat
    assert f"Value: a tuple of {len(starc.batch.CLOSED_FORM_VARIANTS)} entries" in flat
    assert len(page) < 5_000
    # a short value is still shown, once, in the Value field (not in the signature)
    assert f'Value: "{starc.CANONICALIZATIONS!r}"' in flat
    assert flat.count("'minimal_potential'") == 1
