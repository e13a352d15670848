"""What several ``benchmarks`` scripts share: timing helpers and writing the JSON results.

Not a benchmark itself (run the ``bench_*.py`` scripts). A script imports it after putting
its own folder on ``sys.path``, so that it also works when loaded by file path::

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _bench import median_time, timed, write_json  # noqa: E402
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


def write_json(path: str, data, *, shown: str | None = None) -> None:
    """Write ``data`` to ``path`` as indented JSON (creating the folder) and print
    ``wrote <shown>`` (``shown`` defaults to ``path``)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    print(f"wrote {path if shown is None else shown}")
