"""Sphinx extension: API pages of starc's module-level constants.

A constant such as ``starc.VARIANTS`` is defined (with its ``#:`` comment) in a submodule,
``starc.distances``, and re-exported by ``starc``. Sphinx's ``autodata`` looks for the
``#:`` comment only in the module the page names, so without help the page shows the
docstring of the value's type (``tuple``, ``dict``) or nothing. :func:`process_docstring`
falls back to the comment in the module that defines the constant. Values are not put in
the signature line (``autodoc_default_options["no-value"]``) but in a ``:Value:`` field,
where a long value (``VARIANTS`` is a dict of 222 entries, ~37 KB of text) is replaced by
its size.
"""

from __future__ import annotations

import importlib
import sys

from sphinx.pycode import ModuleAnalyzer
from sphinx.util.inspect import object_description

#: Values whose text is longer than this many characters are not shown on the page.
MAX_VALUE_CHARS = 600


def _comment_in(modname: str, attr: str) -> list[str] | None:
    try:
        analyzer = ModuleAnalyzer.for_module(modname)
        analyzer.analyze()
    except Exception:  # noqa: BLE001 - no source: no comment
        return None
    comment = analyzer.attr_docs.get(("", attr))
    return list(comment) if comment and "".join(comment).strip() else None


def constant_comment(modname: str, attr: str) -> tuple[str, list[str]] | None:
    """``(module, lines)`` of the ``#:`` comment documenting ``modname.attr``: the comment
    in ``modname`` itself, else in the loaded module that defines the same object (the
    closest to ``modname`` first: ``starc.bandit.X`` prefers ``starc.bandit.*``; public
    modules before private ones such as ``starc._rules``, whose comments speak to
    maintainers)."""
    comment = _comment_in(modname, attr)
    if comment:
        return modname, comment
    try:
        obj = getattr(importlib.import_module(modname), attr)
    except (ImportError, AttributeError):
        return None
    top = modname.split(".")[0]
    candidates = [name for name, module in list(sys.modules.items())
                  if (name == top or name.startswith(top + ".")) and name != modname
                  and module is not None and attr in getattr(module, "__dict__", {})
                  and module.__dict__[attr] is obj]
    candidates.sort(key=lambda name: (not name.startswith(modname + "."),
                                      any(part.startswith("_") for part in name.split(".")),
                                      name.count("."), name))
    for name in candidates:
        comment = _comment_in(name, attr)
        if comment:
            return name, comment
    return None


def long_value(obj) -> str | None:
    """A short description replacing the value of ``obj`` when its text is too long."""
    try:
        text = object_description(obj)
    except ValueError:
        return None
    if len(text) <= MAX_VALUE_CHARS:
        return None
    try:
        size = f" of {len(obj)} entries"
    except TypeError:
        size = ""
    return f"a {type(obj).__name__}{size} ({len(text):,} characters; not shown)"


def value_line(obj) -> str:
    """The ``:Value:`` field shown under a constant: its text, or its size when long."""
    summary = long_value(obj)
    if summary is not None:
        return f":Value: {summary}"
    try:
        return f":Value: ``{object_description(obj)}``"
    except ValueError:
        return f":Value: a {type(obj).__name__}"


def _inherited_docstring(obj, lines: list[str]) -> bool:
    """Whether ``lines`` is only the docstring of ``obj``'s type (``tuple``, ``dict``...)."""
    text = " ".join(" ".join(lines).split())
    own = " ".join((type(obj).__doc__ or "").split())
    return not text or text == own


def process_docstring(app, what, name, obj, options, lines) -> None:
    """``autodoc-process-docstring``: a module-level constant gets the ``#:`` comment of the
    module that defines it (when its page names another module) and a ``:Value:`` field."""
    if what != "data":
        return
    modname, _, attr = name.rpartition(".")
    if _inherited_docstring(obj, lines):
        found = constant_comment(modname, attr) if modname else None
        lines[:] = list(found[1]) if found else []
    while lines and not lines[-1].strip():
        lines.pop()
    lines.extend(["", value_line(obj)])


def _no_values(app, config) -> None:
    # the value is added by process_docstring instead, shortened when long
    config.autodoc_default_options.setdefault("no-value", True)


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("config-inited", _no_values)
    app.connect("autodoc-process-docstring", process_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
