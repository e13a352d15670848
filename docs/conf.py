"""Sphinx configuration for the starc documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import starc  # noqa: E402

project = "starc"
author = "starc developers"
copyright = "2026, starc developers"
version = release = starc.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
]

autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_xref_param_type = False

intersphinx_mapping = {}

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = "starc"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
}
