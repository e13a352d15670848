"""The Python code blocks of the tutorials run as written (in order, one namespace per page).

A block may carry a ``:class:`` option (it only styles the HTML):

``not-run``
    shown, never run here (code for real checkpoints, a GPU, a cluster);
``requires-starc-bandit``
    run when :mod:`starc.bandit` is importable and has every ``bandit.NAME`` the block
    uses, skipped otherwise (the page's expected output is then not checked).
"""

from __future__ import annotations

import importlib
import re
import textwrap
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"
#: Tutorials whose code needs no cluster, download or long run, and a word their output has.
RUNNABLE = {"compare_learned_reward.rst": "distance", "llm_reward_models.rst": "distance"}


def python_blocks(text: str) -> list[tuple[str, set[str]]]:
    """``(code, classes)`` of every ``.. code-block:: python`` of a page."""
    blocks, current, classes, inside, options = [], [], set(), False, False
    for line in text.splitlines():
        if re.match(r"\.\. code-block:: python\s*$", line.strip()):
            if inside:  # a block right after a block
                blocks.append((textwrap.dedent("\n".join(current)), classes))
            inside, options, current, classes = True, True, [], set()
            continue
        if inside:
            option = re.match(r"\s+:([\w-]+):\s*(.*)$", line)
            if options and option:
                if option.group(1) == "class":
                    classes.update(option.group(2).split())
                continue
            options = False
            if line.strip() == "" or line.startswith("   "):
                current.append(line)
                continue
            blocks.append((textwrap.dedent("\n".join(current)), classes))
            inside = False
    if inside:
        blocks.append((textwrap.dedent("\n".join(current)), classes))
    return blocks


def bandit_has(code: str) -> bool:
    try:
        bandit = importlib.import_module("starc.bandit")
    except ImportError:
        return False
    return all(hasattr(bandit, name) for name in re.findall(r"\bbandit\.(\w+)", code))


@pytest.mark.parametrize("page", sorted(RUNNABLE))
def test_tutorial_code_runs(page, capsys):
    namespace: dict = {}
    blocks = python_blocks((TUTORIALS / page).read_text())
    assert blocks, f"no python code in {page}"
    skipped = 0
    for block, classes in blocks:
        if "not-run" in classes:
            continue
        if "requires-starc-bandit" in classes and not bandit_has(block):
            skipped += 1
            continue
        exec(compile(block, page, "exec"), namespace)  # noqa: S102 - our own docs
    out = capsys.readouterr().out
    if skipped:
        pytest.skip(f"{skipped} block(s) of {page} need starc.bandit names that are missing; "
                    "the others ran")
    assert RUNNABLE[page] in out


def test_block_options_are_parsed():
    text = ("Intro\n\n.. code-block:: python\n   :class: requires-starc-bandit\n\n"
            "   x = 1\n   print(x)\n\nText\n\n.. code-block:: python\n\n   y = 2\n\n"
            ".. code-block:: python\n   :class: not-run\n\n   z = 3\n")
    assert python_blocks(text) == [("\nx = 1\nprint(x)\n", {"requires-starc-bandit"}),
                                   ("\ny = 2\n", set()), ("\nz = 3", {"not-run"})]
