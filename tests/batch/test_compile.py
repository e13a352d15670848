"""Compiling the group kernels side by side on a cold cache (``starc.batch._compile``).

The child compiles for the argument types of the real calls (compared without
compiling), the switches turn it off, and end to end a fresh cache gives the same
numbers with the distance kernel loaded from what the child wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import starc
from starc import _rules
from starc.batch import _compile, core
from starc.batch import _kernels as K


def _real_calls():
    mdps = [starc.random_mdp(5, 3, seed=s) for s in range(2)]
    batch = core.as_batch(mdps)
    prep = core.prepare(batch)
    rewards = np.stack([starc.random_reward(m, seed=1, size=(3,)) for m in mdps])
    need = np.zeros((_rules.N_FAMILIES, _rules.N_NORMALIZATIONS), dtype=bool)
    need[_rules.F_EPIC, 1] = True
    _, _, calls = core.group_calls(prep, rewards, np.arange(2, dtype=np.int64), need,
                                   do_regret=True)
    return calls


def test_the_child_compiles_the_types_of_the_real_calls():
    real = {k.__name__: _compile._signature(a) for k, a in _real_calls()}
    tiny = {k.__name__: _compile._signature(a) for k, a in _compile.tiny_calls()}
    assert set(real) == set(tiny) == {"distance_groups", "regret_groups"}
    assert real == tiny


def test_switches_turn_it_off(monkeypatch):
    import numba

    kernels = [K.distance_groups, K.regret_groups]
    monkeypatch.setattr(_compile, "_cached_on_disk", lambda kernel: False)
    monkeypatch.setattr(K.distance_groups, "overloads", {})
    monkeypatch.setattr(K.regret_groups, "overloads", {})
    if numba.get_num_threads() >= 2:
        assert _compile._wanted(kernels)
    monkeypatch.setenv("STARC_COMPILE_SIDE_BY_SIDE", "0")
    assert not _compile._wanted(kernels)
    monkeypatch.delenv("STARC_COMPILE_SIDE_BY_SIDE")
    assert not _compile._wanted(kernels[:1])  # one kernel: nothing to share
    monkeypatch.setattr(_compile, "_cached_on_disk", lambda kernel: True)
    assert not _compile._wanted(kernels)


def test_nothing_pending_is_a_no_op():
    _compile.finish_side_by_side(_compile.tiny_calls())  # no child: returns at once
    assert _compile._pending == []


SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import starc
    from starc.batch import compare_groups, _compile
    from starc.batch import _kernels as K
    mdps = [starc.random_mdp(4, 2, seed=s) for s in range(2)]
    R = np.stack([starc.random_reward(m, seed=3, size=(2, 3)) for m in mdps])
    out = compare_groups(R, mdps, ["EPIC-2-2", "VAL-1-1"])
    print(json.dumps({"distances": out["distances"].tolist(),
                      "regret1": out["regret1"].tolist(),
                      "distance_hits": sum(K.distance_groups.stats.cache_hits.values()),
                      "regret_misses": sum(K.regret_groups.stats.cache_misses.values())}))
""")


@pytest.mark.slow
def test_a_cold_cache_compiles_side_by_side_with_the_same_numbers(tmp_path):
    from starc.batch import compare_groups

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), NUMBA_NUM_THREADS="2",
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(starc.__file__)),
                                           os.environ.get("PYTHONPATH", "")]))
    env.pop("STARC_COMPILE_SIDE_BY_SIDE", None)
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    got = json.loads(run.stdout.strip().splitlines()[-1])
    # the distance kernel came from the cache the child wrote; the regret kernel was
    # compiled in the process itself
    assert got["distance_hits"] >= 1 and got["regret_misses"] >= 1
    mdps = [starc.random_mdp(4, 2, seed=s) for s in range(2)]
    R = np.stack([starc.random_reward(m, seed=3, size=(2, 3)) for m in mdps])
    here = compare_groups(R, mdps, ["EPIC-2-2", "VAL-1-1"])
    assert np.array_equal(np.array(got["distances"]), here["distances"])
    assert np.array_equal(np.array(got["regret1"]), here["regret1"])


CACHE_PROBE = textwrap.dedent("""
    import json
    from starc.batch import _compile
    from starc.batch import _kernels as K
    before = _compile._cached_on_disk(K.regret_groups)
    _compile.compile_kernels(["regret_groups"])
    print(json.dumps([before, _compile._cached_on_disk(K.regret_groups),
                      _compile._cached_on_disk(K.distance_groups)]))
""")


def test_the_cache_probe_sees_what_numba_wrote(tmp_path):
    """On an empty cache nothing is cached; once a kernel is compiled its index is found
    (and only its own: the other kernel still reads as not cached)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(starc.__file__)),
                                           os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-c", CACHE_PROBE], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [False, True, False]
