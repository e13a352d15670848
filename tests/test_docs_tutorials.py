"""The Python code blocks of the tutorials run as written (in order, one namespace per page)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"
#: Tutorials whose code needs no cluster, download or long run.
RUNNABLE = ["compare_learned_reward.rst", "compare_reward_models.rst"]
#: Tutorials that show what their code prints: each python block followed directly by a
#: ``.. code-block:: text`` block must print exactly that text.
SHOWS_OUTPUT = ["compare_reward_models.rst"]


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


def literal_blocks(text: str) -> list[tuple[str, str]]:
    """Every ``.. code-block:: LANG`` of ``text`` in order, as (LANG, dedented body)."""
    blocks, current, lang = [], [], None
    for line in text.splitlines() + ["<end>"]:
        m = re.match(r"\.\. code-block:: (\w+)", line.strip())
        if lang is not None and not (line.strip() == "" or line.startswith("   ")):
            blocks.append((lang, textwrap.dedent("\n".join(current)).strip("\n")))
            lang = None
        if m:
            lang, current = m.group(1), []
        elif lang is not None:
            current.append(line)
    return blocks


@pytest.mark.parametrize("page", SHOWS_OUTPUT)
def test_tutorial_shows_what_its_code_prints(page, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)   # files the tutorial writes land here
    blocks = literal_blocks((TUTORIALS / page).read_text())
    namespace: dict = {}
    checked = 0
    for k, (lang, body) in enumerate(blocks):
        if lang != "python":
            continue
        exec(compile(body, page, "exec"), namespace)  # noqa: S102 - our own docs
        printed = "\n".join(line.rstrip() for line in capsys.readouterr().out.splitlines())
        if k + 1 < len(blocks) and blocks[k + 1][0] == "text":
            shown = "\n".join(line.rstrip() for line in blocks[k + 1][1].splitlines())
            assert printed.strip("\n") == shown, f"{page}: block {k} prints\n{printed}"
            checked += 1
        else:
            assert printed == "", f"{page}: block {k} prints output the page does not show"
    assert checked >= 3


@pytest.mark.parametrize("page", RUNNABLE)
def test_tutorial_code_runs(page, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)   # files the tutorial writes land here
    namespace: dict = {}
    blocks = python_blocks((TUTORIALS / page).read_text())
    assert blocks, f"no python code in {page}"
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)  # noqa: S102 - our own docs
    out = capsys.readouterr().out
    assert "distance" in out
