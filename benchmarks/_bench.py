"""What several ``benchmarks`` scripts share: timing helpers and writing the JSON results.

Not a benchmark itself (run the ``bench_*.py`` scripts). A script imports it after putting
its own folder on ``sys.path``, so that it also works when loaded by file path::

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _bench import median_time, timed, write_json  # noqa: E402

A script's ``--output`` uses :func:`output_file` as its argparse type, so an unwritable
destination is refused before anything is timed; :func:`write_json` writes atomically.
"""

from __future__ import annotations

import json
import os
import statistics
import time


def timed(fn):
    """``(seconds, result)`` of one call ``fn()``."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_time(fn, repeat: int = 3, warmup: int = 0) -> float:
    """Median wall-clock seconds of ``repeat`` calls ``fn()``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def output_file(path: str) -> str:
    """``--output``'s argparse type: create the folder of the JSON file ``path`` and check,
    before the benchmark runs, that the file can be written there (argparse's one-line
    error otherwise)."""
    import argparse

    from starc._io import check_writable
    from starc.exceptions import ValidationError

    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        check_writable(path, "--output")
    except (OSError, ValidationError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return path


def write_json(path: str, data, *, shown: str | None = None) -> None:
    """Write ``data`` to ``path`` as indented JSON (creating the folder; atomically, through
    :func:`starc._io.atomic_write`) and print ``wrote <shown>`` (``shown`` defaults to
    ``path``)."""
    from starc._io import atomic_write

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8") as fh:  # an interrupt keeps the old file
        json.dump(data, fh, indent=2)
    print(f"wrote {path if shown is None else shown}")
