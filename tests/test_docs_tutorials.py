"""The Python code blocks of the tutorials run as written (in order, one namespace per page).

A block may carry a ``:class:`` option (it only styles the HTML):

``not-run``
    shown, never run here (code for real checkpoints, a GPU, a cluster);
``requires-starc-bandit``
    run when :mod:`starc.bandit` is importable and has every ``bandit.NAME`` the block
    uses, skipped otherwise (the page's expected output is then not checked).

Pages in :data:`SHOWS_OUTPUT` also show what their code prints: each python block followed
directly by a ``.. code-block:: text`` block must print exactly that text, and each
``.. code-block:: console`` block's ``$ starc ...`` commands must print the lines after
them. Every code block of the documentation keeps its lines within 88 characters (program
output excepted).
"""

from __future__ import annotations

import importlib
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIALS = DOCS / "tutorials"
#: Tutorials whose code needs no cluster, download or long run, and a word their output has.
RUNNABLE = {"compare_learned_reward.rst": "distance", "llm_reward_models.rst": "distance",
            "compare_reward_models.rst": "distance", "sparse_gridworld.rst": "distance"}
#: Optional packages a runnable tutorial needs (it is skipped where they are missing).
REQUIRES = {"llm_reward_models.rst": ("torch", "transformers", "tokenizers"),
            "sparse_gridworld.rst": ("gymnasium", "minigrid")}
#: Pages (under docs/) that show what their code prints, and how many outputs they show.
SHOWS_OUTPUT = {"tutorials/compare_reward_models.rst": 3,
                "tutorials/compare_learned_reward.rst": 3, "index.rst": 1,
                "tutorials/sparse_gridworld.rst": 4}


def literal_blocks(text: str) -> list[tuple[str, str, set[str]]]:
    """Every ``.. code-block:: LANG`` of ``text`` in order, as (LANG, dedented body,
    classes of its ``:class:`` option)."""
    blocks: list[tuple[str, str, set[str]]] = []
    current: list[str] = []
    lang, classes, options = None, set(), False
    for line in text.splitlines() + ["<end>"]:
        m = re.match(r"\.\. code-block:: (\w+)\s*$", line.strip())
        if lang is not None and (m or not (line.strip() == "" or line.startswith("   "))):
            blocks.append((lang, textwrap.dedent("\n".join(current)).strip("\n"), classes))
            lang = None
        if m:
            lang, current, classes, options = m.group(1), [], set(), True
            continue
        if lang is not None:
            option = re.match(r"\s+:([\w-]+):\s*(.*)$", line)
            if options and option:
                if option.group(1) == "class":
                    classes.update(option.group(2).split())
                continue
            options = False
            current.append(line)
    return blocks


def plain_literal_blocks(text: str) -> list[str]:
    """The dedented body of every literal block introduced by a paragraph ending in ``::``."""
    lines = text.splitlines()
    blocks = []
    for k, line in enumerate(lines):
        if not line.rstrip().endswith("::") or line.lstrip().startswith(".."):
            continue
        indent = len(line) - len(line.lstrip())
        body, j = [], k + 1
        while j < len(lines) and (not lines[j].strip()
                                  or len(lines[j]) - len(lines[j].lstrip()) > indent):
            body.append(lines[j])
            j += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
    return blocks


def python_blocks(text: str) -> list[tuple[str, set[str]]]:
    """``(code, classes)`` of every ``.. code-block:: python`` of a page."""
    return [(body, classes) for lang, body, classes in literal_blocks(text)
            if lang == "python"]


def bandit_has(code: str) -> bool:
    try:
        bandit = importlib.import_module("starc.bandit")
    except ImportError:
        return False
    return all(hasattr(bandit, name) for name in re.findall(r"\bbandit\.(\w+)", code))


def console_commands(body: str) -> list[tuple[str, str]]:
    """``(command, output)`` pairs of a console block: ``$ `` lines and the lines after."""
    pairs: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line.rstrip())
    return [(command, "\n".join(out)) for command, out in pairs]


@pytest.mark.parametrize("page", sorted(SHOWS_OUTPUT))
def test_tutorial_shows_what_its_code_prints(page, capsys, monkeypatch, tmp_path):
    for module in REQUIRES.get(Path(page).name, ()):
        pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)   # files the tutorial writes land here
    blocks = literal_blocks((DOCS / page).read_text())
    namespace: dict = {}
    checked = 0
    for k, (lang, body, classes) in enumerate(blocks):
        if lang == "console" and "not-run" not in classes:
            for command, shown in console_commands(body):
                argv = shlex.split(command)
                assert argv[0] == "starc", f"{page}: only starc commands are run: {command}"
                proc = subprocess.run([sys.executable, "-m", "starc", *argv[1:]],
                                      capture_output=True, text=True, cwd=tmp_path,
                                      env={"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg",
                                           "PATH": "/usr/bin:/bin"}, timeout=600, check=False)
                assert proc.returncode == 0, f"{page}: {command}\n{proc.stderr}"
                printed = "\n".join(line.rstrip() for line in proc.stdout.splitlines())
                assert printed.strip("\n") == shown.strip("\n"), \
                    f"{page}: {command} prints\n{printed}"
                checked += 1
            continue
        if lang != "python" or "not-run" in classes:
            continue
        exec(compile(body, page, "exec"), namespace)  # noqa: S102 - our own docs
        printed = "\n".join(line.rstrip() for line in capsys.readouterr().out.splitlines())
        if k + 1 < len(blocks) and blocks[k + 1][0] == "text":
            shown = "\n".join(line.rstrip() for line in blocks[k + 1][1].splitlines())
            assert printed.strip("\n") == shown, f"{page}: block {k} prints\n{printed}"
            checked += 1
        else:
            assert printed == "", f"{page}: block {k} prints output the page does not show"
    assert checked >= SHOWS_OUTPUT[page]


@pytest.mark.parametrize("page", sorted(RUNNABLE))
def test_tutorial_code_runs(page, capsys, monkeypatch, tmp_path):
    for module in REQUIRES.get(page, ()):
        pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)   # files the tutorial writes land here
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
    assert python_blocks(text) == [("x = 1\nprint(x)", {"requires-starc-bandit"}),
                                   ("y = 2", set()), ("z = 3", {"not-run"})]


def test_readme_example_is_the_landing_page_example():
    """The README's ten lines and their output are those of docs/index.rst (run above)."""
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Ten lines\n\n```python\n(.*?)```\n\nprints\n\n```text\n(.*?)```",
                     readme, re.DOTALL)
    assert code, "README.md has no '## Ten lines' python block followed by its output"
    blocks = literal_blocks((DOCS / "index.rst").read_text())
    python = [k for k, block in enumerate(blocks) if block[0] == "python"]
    assert len(python) == 1 and blocks[python[0] + 1][0] == "text"
    assert code.group(1).strip("\n") == blocks[python[0]][1]
    assert code.group(2).strip("\n") == blocks[python[0] + 1][1]


#: Longest line of a code block (what fits the page without scrolling).
MAX_CODE_LINE = 88


def test_code_blocks_fit_the_page():
    too_long = []
    for page in sorted(DOCS.rglob("*.rst")):
        if "generated" in page.parts or "gallery" in page.parts:
            continue
        text = page.read_text()
        blocks = literal_blocks(text) + [("literal", body, set())
                                         for body in plain_literal_blocks(text)]
        for lang, body, _ in blocks:
            if lang == "text":       # what a program prints, shown as it prints it
                continue
            for line in body.splitlines():
                if lang == "console" and not line.startswith("$ "):
                    continue         # output lines of a console session
                if len(line) > MAX_CODE_LINE:
                    too_long.append(f"{page.relative_to(DOCS)}: {line}")
    assert not too_long, "code lines over 88 characters:\n" + "\n".join(too_long)


def test_plain_literal_blocks_are_parsed():
    text = "Run it::\n\n    starc demo\n\n    starc sweep\n\nText.\n\n.. math::\n\n   x\n"
    assert plain_literal_blocks(text) == ["starc demo\n\nstarc sweep"]


def test_console_commands_are_parsed():
    body = "$ starc compare --example ex\nwrote ex\n  more\n$ starc demo\nok"
    assert console_commands(body) == [("starc compare --example ex", "wrote ex\n  more"),
                                      ("starc demo", "ok")]


def test_prose_has_no_dated_lines():
    """The pages describe the library, not the day they were written."""
    dated = re.compile(r"\b(20\d\d-[01]\d-[0-3]\d|today|this session|as of (19|20)\d\d)\b",
                       re.IGNORECASE)
    pages = [p for p in DOCS.rglob("*.rst")
             if "generated" not in p.parts and "gallery" not in p.parts]
    hits = [f"{page.relative_to(DOCS)}: {line.strip()}"
            for page in sorted(pages) + [ROOT / "README.md"]
            for line in page.read_text().splitlines() if dated.search(line)]
    assert not hits, "dated lines:\n" + "\n".join(hits)
