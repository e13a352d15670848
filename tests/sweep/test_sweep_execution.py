"""starc.sweep execution: results are bit-identical to a saved reference (issue 17).

The reference ``tests/data/sweep_reference.npz`` was computed at commit d651672 (before
the batch/sweep reshape of issue 17) and holds, for each configuration of
:data:`REFERENCE_SWEEPS`, every column of the result (the id and regret columns and one
distance column per variant) verbatim, and for the full ``"quick"`` preset (1,024 rows x
216 variants, 1.1 MB even compressed) a SHA-256 digest of every column. A change of the
batch kernels or of the sweep that moves any number by one bit fails here.

Regenerate it only deliberately (when a change of the numbers is intended and explained
in the commit), from the repository root::

    PYTHONPATH=$PWD python tests/sweep/test_sweep_execution.py --regenerate
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from starc.sweep import Sweep

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "sweep_reference.npz"

#: Configurations stored verbatim: several MDPs and base pairs, every registry variant
#: (closed form and MinimalPotential-L1 linear programs), exact and Monte-Carlo regrets,
#: two pair protocols and two tie rules.
REFERENCE_SWEEPS = {
    "quick_small_mc": dict(preset="quick", n_mdps=4, pairs_per_mdp=2, n_steps=8,
                           with_lp_variants=True, regrets=("exact", "mc"), seed=17),
    "redistributed_optimistic": dict(preset="quick", n_mdps=3, pairs_per_mdp=2, n_steps=4,
                                     n_states=8, protocol="redistributed",
                                     with_lp_variants=True, regrets=("exact", "mc"),
                                     ties="optimistic", seed=5),
}
#: Configurations stored as one digest per column: the full quick preset.
DIGEST_SWEEPS = {"quick": dict(preset="quick")}


def _run(config: dict):
    cfg = dict(config)
    return Sweep.preset(cfg.pop("preset"), **cfg).run()


def _columns(result) -> dict[str, np.ndarray]:
    """Every column of a result, in order: ids and regrets, then one per variant."""
    out = {name: np.asarray(col) for name, col in result.columns.items()}
    for j, name in enumerate(result.variants):
        out[name] = np.ascontiguousarray(result.distances[:, j])
    return out


def _digest(arr: np.ndarray) -> str:
    """SHA-256 of dtype, shape and bytes (every NaN written as the same NaN)."""
    arr = np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        arr = np.where(np.isnan(arr), np.nan, arr)
    h = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def _bits(arr: np.ndarray) -> np.ndarray:
    """The bit patterns of ``arr`` (NaNs canonical): equal iff bit-identical."""
    arr = np.ascontiguousarray(arr)
    if arr.dtype.kind != "f":
        return arr
    arr = np.where(np.isnan(arr), np.nan, arr)
    return arr.view(np.dtype(f"u{arr.dtype.itemsize}"))


def _regenerate() -> None:  # pragma: no cover - run by hand, see the module docstring
    from starc._io import atomic_write

    arrays: dict[str, np.ndarray] = {}
    for key, config in REFERENCE_SWEEPS.items():
        res = _run(config)
        arrays[f"{key}__config"] = np.array(json.dumps(config))
        arrays[f"{key}__columns"] = np.array(list(res.columns), dtype=str)
        arrays[f"{key}__variants"] = np.array(res.variants, dtype=str)
        arrays[f"{key}__distances"] = res.distances
        for i, col in enumerate(res.columns.values()):
            arrays[f"{key}__col{i}"] = col
    for key, config in DIGEST_SWEEPS.items():
        cols = _columns(_run(config))
        arrays[f"{key}__config"] = np.array(json.dumps(config))
        arrays[f"{key}__names"] = np.array(list(cols), dtype=str)
        arrays[f"{key}__digests"] = np.array([_digest(c) for c in cols.values()], dtype=str)
    REFERENCE.parent.mkdir(exist_ok=True)
    with atomic_write(REFERENCE, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def _saved_columns(reference: dict, key: str) -> dict[str, np.ndarray]:
    """The saved columns of configuration ``key``, ordered as :func:`_columns`."""
    out = {str(name): reference[f"{key}__col{i}"]
           for i, name in enumerate(reference[f"{key}__columns"])}
    dist = reference[f"{key}__distances"]
    for j, name in enumerate(reference[f"{key}__variants"]):
        out[str(name)] = np.ascontiguousarray(dist[:, j])
    return out


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("key", sorted(REFERENCE_SWEEPS))
def test_sweep_matches_saved_reference_bit_for_bit(reference, key):
    """Every column (names, dtypes, values, NaN positions, signed zeros) as saved."""
    config = REFERENCE_SWEEPS[key]
    assert json.loads(str(reference[f"{key}__config"])) == json.loads(json.dumps(config))
    cols = _columns(_run(config))
    saved = _saved_columns(reference, key)
    assert list(cols) == list(saved)
    for name, want in saved.items():
        got = cols[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        if want.dtype.kind == "f":
            assert np.array_equal(np.isnan(got), np.isnan(want)), f"{name!r}: NaN positions"
        assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), (
            f"column {name!r} of {key!r} differs in "
            f"{int(np.sum(_bits(got) != _bits(want)))} of {len(want)} rows")
        assert np.array_equal(_bits(got), _bits(want)), f"column {name!r}: signed zeros differ"


@pytest.mark.parametrize("key", sorted(DIGEST_SWEEPS))
def test_quick_preset_matches_saved_digests(reference, key):
    """The full quick preset: every column's SHA-256 as saved."""
    config = DIGEST_SWEEPS[key]
    assert json.loads(str(reference[f"{key}__config"])) == config
    cols = _columns(_run(config))
    names = [str(n) for n in reference[f"{key}__names"]]
    assert list(cols) == names
    digests = [str(d) for d in reference[f"{key}__digests"]]
    changed = [name for name, d in zip(names, digests) if _digest(cols[name]) != d]
    assert not changed, f"{len(changed)} columns of the {key!r} preset changed: {changed[:8]}"


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit("usage: python tests/sweep/test_sweep_execution.py --regenerate")
    _regenerate()
