"""starc.bandit.from_frame: pandas, polars, pyarrow, interchange and mappings agree."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from starc.bandit import RewardTable, distance, from_frame
from starc.exceptions import ValidationError

ROWS = {"prompt": ["q2", "q2", "q1", "q2", "q1", "q3"],
        "response": ["b", "a", "a", "c", "z", "a"],
        "rm1": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "rm2": [0, 1, 0, 1, 0, 1],
        "note": ["x"] * 6}


def _check(table: RewardTable):
    assert table.prompt_ids.tolist() == ["q2", "q1", "q3"]
    assert table.response_ids.tolist() == [["b", "a", "c"], ["a", "z", None],
                                           ["a", None, None]]
    np.testing.assert_array_equal(table.mask, [[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    assert sorted(table.rewards) == ["rm1", "rm2"]
    np.testing.assert_array_equal(table.rewards["rm1"], [[1, 2, 4], [3, 5, 0], [6, 0, 0]])
    np.testing.assert_array_equal(table.rewards["rm2"], [[0, 1, 1], [0, 0, 0], [1, 0, 0]])
    assert table.rewards["rm1"].dtype == np.float64
    assert table.shape == (3, 3)


def test_mapping():
    _check(from_frame(ROWS))


@pytest.mark.filterwarnings("ignore:The Dataframe Interchange Protocol is deprecated")
def test_pandas():
    pd = pytest.importorskip("pandas")
    _check(from_frame(pd.DataFrame(ROWS)))
    # pandas' interchange object
    _check(from_frame(pd.DataFrame(ROWS).__dataframe__()))


def test_polars():
    pl = pytest.importorskip("polars")
    _check(from_frame(pl.DataFrame(ROWS)))


def test_pyarrow_and_arrow_streams():
    pa = pytest.importorskip("pyarrow")
    table = pa.table(ROWS)
    _check(from_frame(table))
    _check(from_frame(pa.Table.from_batches(table.to_batches(max_chunksize=2))))

    class Stream:  # any object speaking the Arrow PyCapsule protocol
        def __arrow_c_stream__(self, requested_schema=None):
            return table.__arrow_c_stream__(requested_schema)

    _check(from_frame(Stream()))


def test_integer_ids_and_selected_columns():
    t = from_frame({"p": [7, 7, 3], "r": [1, 0, 0], "s": [0.5, 1.5, 2.5]},
                   prompt="p", response="r", rewards="s")
    assert t.prompt_ids.tolist() == [7, 3]
    assert t.response_ids.tolist() == [[1, 0], [0, None]]
    d = distance(t.rewards["s"], 2 * t.rewards["s"], mask=t.mask)
    assert d == pytest.approx(0.0, abs=1e-15)


def test_large_table_is_vectorised():
    """1.6 million rows convert without a Python loop over rows (first-appearance order)."""
    rng = np.random.default_rng(0)
    n, m = 100_000, 16
    prompts = np.repeat(np.arange(n), m)
    rng.shuffle(prompts)
    order = np.argsort(prompts, kind="stable")
    responses = np.empty(n * m, dtype=np.int64)
    responses[order] = np.tile(np.arange(m), n)
    t = from_frame({"prompt": prompts, "response": responses, "s": responses * 1.0})
    assert t.mask.all() and t.mask.shape == (n, m)
    first = prompts[np.sort(np.unique(prompts, return_index=True)[1])]
    np.testing.assert_array_equal(t.prompt_ids, first)
    np.testing.assert_array_equal(t.rewards["s"], np.tile(np.arange(m), (n, 1)))


def test_pandas_and_polars_are_imported_only_when_given(tmp_path):
    code = ("import sys; import starc.bandit as b; "
            "b.from_frame({'prompt': [1], 'response': [1], 's': [1.0]}); "
            "print(sorted(m for m in ('pandas', 'polars') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_bad_input():
    with pytest.raises(ValidationError, match="prompt column 'question' is not in the frame"
                                              ".*'prompt'"):
        from_frame(ROWS, prompt="question")
    with pytest.raises(ValidationError, match="rewards column 'rm3' is not in the frame"):
        from_frame(ROWS, rewards=["rm3"])
    with pytest.raises(ValidationError, match="rewards column 'note' must be numeric"):
        from_frame(ROWS, rewards="note")
    dup = dict(ROWS, response=["b", "b", "a", "c", "z", "a"])
    with pytest.raises(ValidationError, match=r"duplicate \(prompt, response\) rows, e.g. "
                                              r"\('q2', 'b'\)"):
        from_frame(dup)
    with pytest.raises(ValidationError, match="NaN or infinite"):
        from_frame(dict(ROWS, rm1=[1.0, np.nan, 3, 4, 5, 6]))
    with pytest.raises(ValidationError, match="no numeric score column"):
        from_frame({"prompt": ["a"], "response": ["b"], "c": ["x"]})
    with pytest.raises(ValidationError, match="frame must be a pandas or polars"):
        from_frame([1, 2, 3])
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValidationError, match="missing identifiers"):
        from_frame(pd.DataFrame({"prompt": ["a", None], "response": ["x", "y"],
                                 "s": [1.0, 2.0]}))


# ----------------------------------------------------------------- API fuzz regressions


def test_reward_table_validates_its_fields():
    t = from_frame(ROWS)
    same = RewardTable(*(getattr(t, f) for f in ("rewards", "mask", "prompt_ids",
                                                  "response_ids")))
    assert same.shape == t.shape
    for k in t.rewards:
        np.testing.assert_array_equal(same.rewards[k], t.rewards[k])
    fields = {"rewards": t.rewards, "mask": t.mask, "prompt_ids": t.prompt_ids,
              "response_ids": t.response_ids}
    n, m = t.shape
    lists = RewardTable(**dict(fields, rewards={"s": np.zeros((n, m)).tolist()}))
    assert lists.rewards["s"].dtype == np.float64  # converted
    bad = [
        ("rewards", {}, "non-empty mapping"),
        ("rewards", None, "non-empty mapping"),
        ("rewards", {"s": None}, r"rewards\['s'\]"),
        ("rewards", {"s": np.full((n, m), np.nan)}, r"rewards\['s'\] contains"),
        ("rewards", {"s": np.zeros((n, m + 1))}, "must have mask's shape"),
        ("rewards", {1: np.zeros((n, m))}, "column names"),
        ("mask", t.mask.astype(int), "boolean ndarray"),
        ("mask", t.mask[0], "boolean ndarray"),
        ("mask", np.zeros((n, m), bool), "True entry in every row"),
        ("prompt_ids", t.prompt_ids[:-1], r"prompt_ids must be an ndarray of shape"),
        ("prompt_ids", None, "prompt_ids"),
        ("response_ids", t.response_ids[:, :2], "response_ids"),
    ]
    for name, value, message in bad:
        with pytest.raises(ValidationError, match=message):
            RewardTable(**dict(fields, **{name: value}))
