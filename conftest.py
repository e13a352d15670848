"""Repository-level pytest configuration: doctest collection of the optional adapters.

``.ci/run`` runs the library's doctests with ``pytest --doctest-modules starc``. The
examples of the torch, gymnasium, minigrid and transformers adapters need those optional packages;
where they are not installed, those modules' doctests are not collected (the modules
themselves never import them at import time). This file sits at the repository root, not
in ``starc/`` (the package ships no pytest file) and not in ``tests/`` (pytest reads a
conftest only in the folders of the paths it collects and their parents, and ``starc/``
is not below ``tests/``). The test suite's own fixtures are in ``tests/conftest.py``.
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("starc/adapters/torch.py")
if importlib.util.find_spec("gymnasium") is None:
    collect_ignore.append("starc/adapters/gymnasium.py")
if importlib.util.find_spec("minigrid") is None:
    collect_ignore.append("starc/adapters/minigrid.py")
if any(importlib.util.find_spec(name) is None
       for name in ("torch", "transformers", "tokenizers", "pandas")):
    collect_ignore.append("starc/adapters/transformers.py")
