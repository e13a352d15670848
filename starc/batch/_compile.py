r"""Compiling the group kernels side by side on a cold numba cache (private).

The first call of :func:`starc.batch.compare_groups` in a fresh environment compiles
:func:`~starc.batch._kernels.distance_groups` (about 12 s on one core),
:func:`~starc.batch._kernels.prepare_range` (4 s) and
:func:`~starc.batch._kernels.regret_groups` (8 s); numba compiles under one
process-wide lock, so threads cannot share that work. This module hands the distance
kernel to a child Python process, which compiles it for the same
argument types (:func:`compile_kernels`, from a tiny problem built by the same
:func:`starc.batch.core.group_calls`) and writes it to the on-disk cache, while this
process compiles the MDP-preparation and regret kernels; this process then loads the
distance kernel from the cache. :func:`start_side_by_side` (called by
:func:`~starc.batch.compare_groups` before it prepares the MDPs) starts the child,
:func:`finish_side_by_side` (in :func:`~starc.batch.core.run_groups`) compiles the rest
and waits for it. Only when both kernels are needed, neither is compiled here nor cached
on disk, and numba may use two or more threads; ``STARC_COMPILE_SIDE_BY_SIDE=0`` turns
it off.
Any failure of the child is silent: this process then compiles the kernel itself, as it
would have. The results do not depend on it (the same compiled code either way).
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import threading

import numpy as np

__all__: list[str] = []

#: Seconds to wait for the child before compiling here instead.
CHILD_TIMEOUT = 300.0

_CHILD = ("import sys; from starc.batch._compile import compile_kernels; "
          "compile_kernels(sys.argv[1:])")


def _cached_on_disk(kernel) -> bool:
    """Whether numba's on-disk cache holds an index for ``kernel`` (True when unknown).

    Reads only the dispatcher's public ``py_func`` and ``stats.cache_path`` (the folder
    of its cache files); numba names a function's index
    ``<module file stem>.<qualified name>-<first line>.py<version>.nbi``.
    """
    try:
        folder = kernel.stats.cache_path
        func = kernel.py_func
    except AttributeError:  # pragma: no cover - no cache or another numba: do nothing
        return True
    stem = os.path.splitext(os.path.basename(func.__code__.co_filename))[0]
    name = f"{stem}.{func.__qualname__}-*.nbi".replace("<", "").replace(">", "")
    return bool(glob.glob(os.path.join(glob.escape(folder), name)))


def _signature(args) -> tuple:
    """numba argument types of ``kernel(lo, hi, *args)``."""
    from numba import typeof, types

    return (types.int64, types.int64) + tuple(typeof(a) for a in args)


def _wanted(kernels) -> bool:
    import numba

    if os.environ.get("STARC_COMPILE_SIDE_BY_SIDE", "1") == "0":
        return False
    if len(kernels) < 2 or numba.get_num_threads() < 2:
        return False
    return all(not k.overloads and not _cached_on_disk(k) for k in kernels)


#: The child started by :func:`start_side_by_side` and the kernel it compiles, until
#: :func:`finish_side_by_side` has waited for it.
_pending: list = []
_lock = threading.Lock()


def start_side_by_side(kernels) -> None:
    """Start a child process compiling ``kernels[0]`` into the on-disk cache when every
    kernel of ``kernels`` will be needed and none is compiled or cached (module notes);
    :func:`finish_side_by_side` compiles the others here meanwhile."""
    with _lock:
        if _pending or not _wanted(kernels):
            return
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in (env.get("PYTHONPATH"),)
                                                      if p])
        try:
            child = subprocess.Popen([sys.executable, "-c", _CHILD, kernels[0].__name__],
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:  # pragma: no cover - no way to start a process: compile here
            return
        _pending.append((child, kernels[0]))


def finish_side_by_side(calls) -> None:
    """Compile the kernels of ``calls`` (``(kernel, args)`` pairs of
    :func:`starc.batch.core.group_calls`) other than the child's, then wait for the
    child; nothing when no child was started."""
    with _lock:
        if not _pending:
            return
        child, offloaded = _pending[0]
        try:
            for kernel, args in calls:
                if kernel is not offloaded and not kernel.overloads:
                    kernel.compile(_signature(args))
            child.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:  # pragma: no cover - compiled here instead
            child.kill()
            child.wait()
        except BaseException:
            child.kill()
            child.wait()
            raise
        finally:
            _pending.clear()


def tiny_calls() -> list:
    """The ``(kernel, args)`` calls of :func:`starc.batch.core.group_calls` for a tiny
    problem (one MDP of 2 states and 2 actions, one pair, every distance and the
    regrets): the argument *types* of every real call, for compiling."""
    from .. import _rules
    from . import core

    n, m = 2, 2
    t = np.full((1, n, m, n), 1.0 / n)
    prep = core.prepared_arrays(t, np.full(1, 0.5), np.full((1, n), 1.0 / n),
                                np.full((1, n, m), 1.0 / m))
    need = np.ones((_rules.N_FAMILIES, _rules.N_NORMALIZATIONS), dtype=np.bool_)
    _, _, calls = core.group_calls(prep, np.zeros((1, 2, n, m, n)), np.zeros(1, np.int64),
                                   need, do_regret=True)
    return calls


def compile_kernels(names) -> None:
    """Compile the group kernels named ``names`` for the argument types of
    :func:`tiny_calls` into numba's on-disk cache (the child's work; also usable to warm
    a cache ahead, e.g. when building a container image)."""
    for kernel, args in tiny_calls():
        if kernel.__name__ in names:
            kernel.compile(_signature(args))
