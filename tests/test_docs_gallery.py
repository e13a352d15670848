"""The documentation gallery: every paper_figures/ script has a title and a caption, and the
page docs/conf.py writes shows them (docs/_ext/starc_gallery.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import starc_gallery  # noqa: E402

SCRIPTS = sorted((ROOT / "paper_figures").glob("[!_]*.py"))


def test_there_are_figure_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_figure_script_has_a_title_and_a_caption(script):
    title, caption = starc_gallery.script_title_caption(script)
    assert 10 <= len(title) <= 100, title
    assert title[0].isupper() and not title.endswith(".")
    assert len(caption.split()) >= 10, caption
    assert caption.endswith((".", ")")), caption


def test_missing_docstring_or_caption_is_refused(tmp_path):
    bare = tmp_path / "bare.py"
    bare.write_text("x = 1\n")
    with pytest.raises(ValueError, match="no module docstring"):
        starc_gallery.script_title_caption(bare)
    title_only = tmp_path / "title_only.py"
    title_only.write_text('"""A title only."""\n')
    with pytest.raises(ValueError, match="no caption"):
        starc_gallery.script_title_caption(title_only)


def test_title_and_caption_are_the_docstring_s(tmp_path):
    script = tmp_path / "fig.py"
    script.write_text('"""Regret against distance.\n\nOne point per pair,\nwith the bound:\n\n'
                      '* a list\n"""\nx = 1\n')
    assert starc_gallery.script_title_caption(script) == (
        "Regret against distance", "One point per pair, with the bound.")
    script.write_text('"""Which metric wins? Rank metrics do.\n\nA study of\nproxies.\n"""\n')
    assert starc_gallery.script_title_caption(script) == (
        "Which metric wins?", "Rank metrics do. A study of proxies.")


def test_gallery_page_has_titles_captions_and_alt_text(tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    for script in SCRIPTS:
        (figures / f"{script.stem}.png").write_bytes(b"png")
    index = tmp_path / "index.rst"
    assert starc_gallery.write_gallery(SCRIPTS, figures, index) == str(index)
    text = index.read_text()
    for script in SCRIPTS:
        title, caption = starc_gallery.script_title_caption(script)
        assert f"{title}\n{'-' * len(title)}\n" in text
        assert f".. figure:: figures/{script.stem}.png\n   :alt: {title}\n" in text
        assert f"\n   {caption}\n" in text
        assert script.stem.replace("_", " ") not in text.replace(title, "")


def test_gallery_skips_scripts_without_a_figure(tmp_path):
    text = starc_gallery.gallery_rst(SCRIPTS, tmp_path)
    assert ".. figure::" not in text and text.startswith("Gallery\n=======\n")


def test_conf_py_writes_the_gallery_with_the_generator():
    conf = (ROOT / "docs" / "conf.py").read_text()
    assert "from starc_gallery import write_gallery" in conf
    assert "write_gallery(scripts, out, docs / \"gallery\" / \"index.rst\")" in conf


def test_quick_figures_are_sharp_enough_for_the_docs():
    sys.path.insert(0, str(ROOT / "paper_figures"))
    try:
        import _figures
    finally:
        sys.path.remove(str(ROOT / "paper_figures"))
    assert _figures.QUICK_DPI >= 120
