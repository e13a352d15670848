"""The built documentation needs no network: MathJax and every stylesheet ship with it.

A small Sphinx project is built with the settings of ``docs/conf.py`` (its extensions,
theme, static files and stylesheets; the gallery step is left out) and one page holding
inline and display math. Its HTML must load no script and no stylesheet from another
host, must load the bundled MathJax from ``_static/``, and the long display equations
must scroll inside their block (``docs/_static/starc.css``) rather than be clipped.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"

PAGE = r"""Offline math
============

Inline math :math:`d(R_1, R_2) = m(s(R_1), s(R_2))` and a long display equation:

.. math::

   C_{\mathrm{VAL}}(R)(s, a, s') = R(s, a, s') + \gamma V^{\pi}(s') - V^{\pi}(s)
   - \mathbb{E}_{S' \sim \tau(s, a)}\left[R(s, a, S') + \gamma V^{\pi}(S') - V^{\pi}(s)
   \right] + \sum_{a'} \pi(a' \mid s) \mathbb{E}\left[R(s, a', S')\right]
"""


def _conf_without_gallery() -> str:
    """``docs/conf.py`` with its module-level gallery call removed (no figure scripts)."""
    source = (DOCS / "conf.py").read_text()
    tree = ast.parse(source)
    tree.body = [node for node in tree.body
                 if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                         and getattr(node.value.func, "id", "") == "_build_gallery")]
    return ast.unparse(tree)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    sphinx = pytest.importorskip("sphinx.application")
    src = tmp_path_factory.mktemp("src")
    out = tmp_path_factory.mktemp("html")
    conf = _conf_without_gallery().replace(
        'os.path.abspath("..")', repr(str(DOCS.parent)))
    (src / "conf.py").write_text(conf)
    shutil.copytree(DOCS / "_static", src / "_static")
    shutil.copytree(DOCS / "_ext", src / "_ext")
    (src / "_templates").mkdir()
    (src / "index.rst").write_text(PAGE)
    app = sphinx.Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), "html",
                        status=None, warning=None, freshenv=True)
    app.build()
    return out


def _html_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*.html") if "_static" not in p.parts]


def test_conf_bundles_mathjax():
    text = (DOCS / "conf.py").read_text()
    assert '"sphinx-mathjax-offline"' in text


def test_no_remote_script_or_stylesheet(built):
    pages = _html_files(built)
    assert pages
    for page in pages:
        html = page.read_text()
        scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
        links = re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"[^>]*>", html)
        remote = [u for u in scripts + links if re.match(r"(https?:)?//", u)]
        assert not remote, f"{page.name} loads {remote}"


def test_mathjax_loaded_from_static(built):
    html = (built / "index.html").read_text()
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
    mathjax = [s for s in scripts if "mathjax" in s.lower()]
    assert mathjax, scripts
    for src in mathjax:
        target = built / src.split("?")[0]
        assert target.is_file(), f"{src} is not in the build"
        assert target.stat().st_size > 100_000  # the real MathJax bundle, not a stub
    # the CHTML output's fonts ship too
    assert list((built / "_static" / "mathjax").rglob("*.woff"))
    # the math is on the page for MathJax to typeset
    assert r"\(d(R_1, R_2) = m(s(R_1), s(R_2))\)" in html


def test_long_display_math_scrolls(built):
    html = (built / "index.html").read_text()
    assert "_static/starc.css" in html
    css = (built / "_static" / "starc.css").read_text()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", css)
    scrolling = {sel.strip() for block, body in rules for sel in block.split(",")
                 if "overflow-x: auto" in body}
    assert "div.math" in scrolling
    assert 'mjx-container[display="true"]' in scrolling
