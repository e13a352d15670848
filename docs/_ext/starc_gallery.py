"""The documentation gallery: one entry per ``paper_figures/`` script.

Each script's module docstring supplies its entry: the first line is the title (also the
image's alt text), the next paragraph the caption. :func:`gallery_rst` writes the page
from the scripts and the figures they drew; :func:`write_gallery` writes it atomically.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

__all__ = ["gallery_rst", "script_title_caption", "write_gallery"]

INTRO = [
    "Gallery",
    "=======",
    "",
    "Every figure of ``paper_figures/``, regenerated in ``--quick`` mode (small sizes) by",
    "each documentation build. Run a script without ``--quick`` for the full figure, e.g.",
    "``python paper_figures/regret_vs_distance.py``.",
    "",
]


def script_title_caption(script: Path) -> tuple[str, str]:
    """``(title, caption)`` of a figure script: the first line of its module docstring
    (without a final full stop) and the paragraph after it (lines joined by spaces; a
    colon that introduced a list becomes a full stop). When the first line holds several
    sentences, the first one is the title and the others open the caption.

    Raises ``ValueError`` when the docstring is missing or has no caption paragraph.
    """
    doc = ast.get_docstring(ast.parse(Path(script).read_text(encoding="utf-8")))
    if not doc:
        raise ValueError(f"{script}: no module docstring (gallery title and caption)")
    paragraphs = [p.strip() for p in doc.split("\n\n") if p.strip()]
    title = paragraphs[0]
    if "\n" in title:
        raise ValueError(f"{script}: the docstring's first paragraph (the gallery title) "
                         "must be one line")
    if len(paragraphs) < 2:
        raise ValueError(f"{script}: the docstring has no caption paragraph after its title")
    caption = " ".join(line.strip() for line in paragraphs[1].splitlines())
    # a first line of several sentences (a question and its answer): the first is the
    # title, the others open the caption
    sentences = re.split(r"(?<=[.?!])\s+(?=[A-Z])", title, maxsplit=1)
    if len(sentences) == 2:
        title, caption = sentences[0], f"{sentences[1]} {caption}"
    # a title is no sentence; a caption that introduces a list (cut off here) ends it
    title = title.rstrip(".")
    if caption.endswith(":"):
        caption = caption[:-1] + "."
    return title, caption


def gallery_rst(scripts, figures: Path) -> str:
    """The gallery page: a section per script whose figure ``figures/<stem>.png`` exists,
    with the docstring's title, the figure (alt text = title) and its caption."""
    lines = list(INTRO)
    for script in sorted(Path(s) for s in scripts):
        png = Path(figures) / f"{script.stem}.png"
        if not png.exists():
            continue
        title, caption = script_title_caption(script)
        lines += [title, "-" * len(title), "",
                  f".. figure:: figures/{png.name}",
                  f"   :alt: {title}",
                  "   :width: 90%",
                  "",
                  f"   {caption}",
                  "",
                  f"   Script: ``paper_figures/{script.name}``.",
                  ""]
    return "\n".join(lines) + "\n"


def write_gallery(scripts, figures: Path, index: Path) -> str:
    """Write :func:`gallery_rst` to ``index`` atomically; return the path."""
    from starc._io import write_text

    return write_text(index, gallery_rst(scripts, figures))
