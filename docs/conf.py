"""Sphinx configuration for the starc documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
# local extensions (docs/_ext): starc_autodoc documents the module-level constants
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

import starc
from starc_gallery import write_gallery

project = "starc"
author = "starc developers"
copyright = "2026, starc developers"
version = release = starc.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # a bundled copy of MathJax 3, copied into _static/mathjax/: the equations render
    # without a network connection (sphinx.ext.mathjax alone loads MathJax from a CDN)
    "sphinx-mathjax-offline",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "starc_autodoc",
]

autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

intersphinx_mapping = {}

templates_path = ["_templates"]
# "_name.rst" files are fragments for ``.. include::`` (not documents of their own)
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/_*.rst"]

html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = "starc"
# long display equations scroll sideways instead of being clipped
html_css_files = ["starc.css"]
# the gallery is one page of figures: no empty left sidebar
html_sidebars = {"gallery/index": []}
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
}


# -- Gallery: run every paper_figures/ script in --quick mode during the build ------------
#
# The figures are generated, never committed: docs/gallery/figures/ and
# docs/gallery/index.rst are written here (both gitignored); the entries' titles and
# captions come from the scripts' docstrings (docs/_ext/starc_gallery.py). Set
# STARC_DOCS_FIGURES=0 to skip the scripts (pages that show a figure then warn about the missing image).


def _build_gallery() -> None:
    import subprocess
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    docs = Path(__file__).resolve().parent
    scripts = sorted((docs.parent / "paper_figures").glob("[!_]*.py"))
    out = docs / "gallery" / "figures"
    out.mkdir(parents=True, exist_ok=True)
    failures = []
    if os.environ.get("STARC_DOCS_FIGURES", "1") != "0":
        def run(script):
            proc = subprocess.run([sys.executable, str(script), "--quick", "--output", str(out)],
                                  capture_output=True, text=True, timeout=900, check=False,
                                  env={**os.environ, "MPLBACKEND": "Agg"})
            return script, proc

        with ThreadPoolExecutor(max_workers=2) as pool:
            for script, proc in pool.map(run, scripts):
                if proc.returncode != 0:
                    failures.append(f"{script.name}: {proc.stderr.strip()[-2000:]}")
        # the landing page shows ``starc demo``'s figure
        demo = subprocess.run([sys.executable, "-m", "starc", "demo", "--output",
                               str(out / "starc_demo.png")], capture_output=True, text=True,
                              timeout=900, check=False,
                              env={**os.environ, "MPLBACKEND": "Agg"})
        if demo.returncode != 0:
            failures.append(f"starc demo: {demo.stderr.strip()[-2000:]}")
    if failures:
        raise RuntimeError("paper_figures scripts failed during the docs build:\n"
                           + "\n".join(failures))
    write_gallery(scripts, out, docs / "gallery" / "index.rst")


_build_gallery()
