"""Doctest collection for ``pytest --doctest-modules starc``.

The examples of the torch, gymnasium, minigrid and transformers adapters need those optional
packages; where they are not installed, the modules' doctests are not collected (the
code itself never imports them at import time).
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("torch.py")
if importlib.util.find_spec("gymnasium") is None:
    collect_ignore.append("gymnasium.py")
if importlib.util.find_spec("minigrid") is None:
    collect_ignore.append("minigrid.py")
if any(importlib.util.find_spec(name) is None
       for name in ("torch", "transformers", "tokenizers", "pandas")):
    collect_ignore.append("transformers.py")
