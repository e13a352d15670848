"""The Python code blocks of the tutorials run as written (in order, one namespace per page)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"
#: Tutorials whose code needs no cluster, download or long run.
RUNNABLE = ["compare_learned_reward.rst"]


def python_blocks(text: str) -> list[str]:
    blocks, current, inside = [], [], False
    for line in text.splitlines():
        if re.match(r"\.\. code-block:: python", line.strip()):
            inside, current = True, []
            continue
        if inside:
            if line.strip() == "" or line.startswith("   "):
                current.append(line)
                continue
            blocks.append(textwrap.dedent("\n".join(current)))
            inside = False
    if inside:
        blocks.append(textwrap.dedent("\n".join(current)))
    return blocks


@pytest.mark.parametrize("page", RUNNABLE)
def test_tutorial_code_runs(page, capsys):
    namespace: dict = {}
    blocks = python_blocks((TUTORIALS / page).read_text())
    assert blocks, f"no python code in {page}"
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)  # noqa: S102 - our own docs
    out = capsys.readouterr().out
    assert "distance" in out
