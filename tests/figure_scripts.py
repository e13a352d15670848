"""Helpers of the tests that run the ``paper_figures`` scripts (importable as ``figure_scripts``).

A script is loaded from its file and called as ``main(argv)``, as ``starc figures`` does
(the docs gallery runs the same scripts as subprocesses with the same arguments).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

#: The folder of the figure scripts.
FIGURES = Path(__file__).resolve().parents[1] / "paper_figures"


def load_script(script: Path):
    """Import ``script`` as a module (not run as ``__main__``); it must have a docstring."""
    spec = importlib.util.spec_from_file_location(f"_figure_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__doc__ and module.__doc__.strip(), f"{script.name} has no docstring"
    return module


def run_quick(script: Path, output: Path, capsys, max_seconds: float | None = None,
              figures: list | None = None) -> Path:
    """Run ``script`` with ``--quick --output output``; check it wrote and printed its PNG.

    The PNG is ``output/<script stem>.png``; with ``max_seconds`` the run must also take
    less than that. With ``figures`` (a list), the figures the script saves are appended
    to it. Returns the PNG's path.
    """
    module = load_script(script)
    if figures is not None:
        _record_saved_figures(module, figures)
    start = time.perf_counter()
    assert module.main(["--quick", "--output", str(output)]) == 0
    elapsed = time.perf_counter() - start
    assert max_seconds is None or elapsed < max_seconds, (script.name, elapsed)
    png = output / f"{script.stem}.png"
    assert png.is_file() and png.stat().st_size > 1000, png
    assert str(png) in capsys.readouterr().out
    return png


def unlabelled_data_artists(fig) -> list:
    """The lines and scatter collections with data in ``fig`` that no legend names.

    An artist counts as named when its label does not start with ``_`` and appears among
    the texts of a legend of the figure or of any of its axes (panels may share one).
    """
    from matplotlib.collections import PathCollection

    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    texts = {t.get_text() for leg in legends for t in leg.get_texts()}
    missing = []
    for ax in fig.axes:
        artists = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 0]
        artists += [c for c in ax.collections
                    if isinstance(c, PathCollection) and len(c.get_offsets()) > 0]
        for artist in artists:
            label = artist.get_label()
            if label.startswith("_") or label not in texts:
                missing.append((ax.get_title(), label))
    return missing


def _record_saved_figures(module, figures: list) -> None:
    """Wrap ``module``'s ``save_figure`` / ``write_figure`` to append each figure to
    ``figures`` (a freshly loaded module, so nothing outside it changes)."""
    for name in ("save_figure", "write_figure"):
        original = getattr(module, name, None)
        if original is None:
            continue

        def wrapped(fig, *args, _original=original, **kwargs):
            figures.append(fig)
            return _original(fig, *args, **kwargs)

        setattr(module, name, wrapped)


def capture_figures(module, monkeypatch, argv) -> list:
    """Run ``module.main(argv)`` and return the figures it saved.

    Wraps the module's ``save_figure`` / ``write_figure`` (whichever it imported) to record
    each figure; a closed figure keeps its axes and artists, so it can still be inspected.
    """
    figures = []
    for name in ("save_figure", "write_figure"):
        original = getattr(module, name, None)
        if original is None:
            continue

        def wrapped(fig, *args, _original=original, **kwargs):
            figures.append(fig)
            return _original(fig, *args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)
    assert module.main(argv) == 0
    return figures


def points_under_legends(fig) -> list:
    """The data points (of scatter collections and marker lines) that an axes' legend covers.

    Returns ``(axes title, artist label, (x, y))`` for every covered point; the figure is
    drawn first so the legends have their final place.
    """
    import numpy as np
    from matplotlib.collections import PathCollection

    fig.canvas.draw()
    covered = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent()
        for artist in ax.collections:
            if not isinstance(artist, PathCollection) or len(artist.get_offsets()) == 0:
                continue
            xy = artist.get_offset_transform().transform(np.asarray(artist.get_offsets()))
            for (x, y), data in zip(xy, np.asarray(artist.get_offsets())):
                if box.contains(x, y):
                    covered.append((ax.get_title(), artist.get_label(), tuple(data)))
        for line in ax.get_lines():
            if line.get_marker() in (None, "None", "", " ") or len(line.get_xdata()) == 0:
                continue
            xy = line.get_transform().transform(line.get_xydata())
            for (x, y), data in zip(xy, line.get_xydata()):
                if box.contains(x, y):
                    covered.append((ax.get_title(), line.get_label(), tuple(data)))
    return covered
