"""``starc bandit compare``, called in-process through starc.cli.main([...])."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from starc import bandit
from starc.cli import main

pd = pytest.importorskip("pandas")


def long_table(seed: int = 0, n_prompts: int = 40) -> pd.DataFrame:
    """A ragged long table (2-6 responses per prompt) with a gold and a noisy, offset proxy;
    rows are shuffled so the reader must group them."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_prompts):
        m = int(rng.integers(2, 7))
        gold = rng.standard_normal(m)
        for j in range(m):
            rows.append({"prompt_id": p, "response_id": j, "prompt": f"prompt {p}",
                         "response": f"answer {j}", "gold": gold[j],
                         "rm": gold[j] + 0.8 * rng.standard_t(3) + 3.0 * (p % 4)})
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


@pytest.fixture
def scores(tmp_path):
    frame = long_table()
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    return path, frame


def arrays(frame):
    t = bandit.from_frame(frame, prompt="prompt_id", response="response_id",
                          rewards=["gold", "rm"])
    return t.rewards["gold"], t.rewards["rm"], (None if t.mask.all() else t.mask)


def run_json(capsys, *argv) -> dict:
    assert main(["bandit", "compare", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_numbers_match_the_api(scores, capsys):
    path, frame = scores
    out = run_json(capsys, path, "--true", "gold", "--proxy", "rm", "--prompt", "prompt_id",
                   "--response", "response_id", "--n-boot", "50", "--seed", "3")
    r1, r2, mask = arrays(frame)
    assert mask is not None and out["prompts"] == 40 and out["responses"] == len(frame)
    rows = {row["metric"]: row for row in out["metrics"]}
    for canon, p in (("mean", "l2"), ("median", "l1"), ("midrange", "linf")):
        kw = dict(canonicalization=canon, normalization=p, metric=p)
        row = rows[f"STARC distance {canon}-{p}-{p}"]
        d = bandit.distance(r1, r2, mask=mask, **kw)
        assert row["value"] == d
        assert row["regret_bound"] == bandit.regret_bound(r1, d, mask=mask, **kw)
        boot = bandit.bootstrap("distance", r1, r2, n_boot=50, seed=3, mask=mask, **kw)
        assert (row["low"], row["high"]) == (boot.low, boot.high)
    assert rows["Pearson distance"]["value"] == bandit.pearson_distance(r1, r2, mask=mask)
    for method in ("spearman", "kendall"):
        row = rows[f"{method.capitalize()} correlation"]
        assert row["value"] == bandit.rank_correlation(r1, r2, method=method, mask=mask)
        boot = bandit.bootstrap(method, r1, r2, n_boot=50, seed=3, mask=mask)
        assert (row["low"], row["high"]) == (boot.low, boot.high)
    assert rows["regret (proxy argmax)"]["value"] == bandit.regret(r1, r2, mask=mask)
    assert rows["worst-case regret"]["value"] == bandit.worst_case_regret(r1, r2, mask=mask)
    assert rows["worst-case regret"]["value"] <= rows["STARC distance mean-l2-l2"][
        "regret_bound"] + 1e-12
    for row in out["metrics"]:
        assert row["low"] <= row["value"] <= row["high"] or row["metric"].startswith("STARC")


def test_pairwise_accuracy_by_hand(scores, capsys):
    path, frame = scores
    out = run_json(capsys, path, "--true", "gold", "--proxy", "rm", "--prompt", "prompt_id",
                   "--response", "response_id", "--n-boot", "0")
    right = total = 0.0
    for _, group in frame.groupby("prompt_id"):
        g, r = group["gold"].to_numpy(), group["rm"].to_numpy()
        for a in range(len(g)):
            for b in range(len(g)):
                if g[a] > g[b]:
                    total += 1
                    right += 1.0 if r[a] > r[b] else 0.5 if r[a] == r[b] else 0.0
    acc = next(row for row in out["metrics"] if row["metric"] == "pairwise accuracy")
    assert acc["value"] == pytest.approx(right / total, rel=1e-12)
    assert "low" not in acc


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".tsv", ".csv.gz"])
def test_formats_give_the_same_numbers(scores, tmp_path, capsys, suffix):
    path, frame = scores
    other = tmp_path / f"scores{suffix}"
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
        frame.to_parquet(other)
    elif suffix == ".jsonl":   # json.dumps writes floats exactly (pandas' to_json rounds)
        other.write_text("".join(json.dumps(row) + "\n"
                                 for row in frame.to_dict(orient="records")))
    elif suffix == ".tsv":
        frame.to_csv(other, sep="\t", index=False)
    else:
        frame.to_csv(other, index=False)
    args = ("--true", "gold", "--proxy", "rm", "--prompt", "prompt_id", "--response",
            "response_id", "--n-boot", "0")
    a = run_json(capsys, path, *args)["metrics"]
    b = run_json(capsys, other, *args)["metrics"]
    for x, y in zip(a, b):
        assert x["value"] == pytest.approx(y["value"], rel=1e-12, abs=1e-15)


def test_table_and_plot(scores, tmp_path, capsys):
    path, frame = scores
    png = tmp_path / "curves.png"
    png.write_bytes(b"old")
    rc = main(["bandit", "compare", str(path), "--true", "gold", "--proxy", "rm", "--prompt",
               "prompt_id", "--response", "response_id", "--n-boot", "20", "--plot", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    for word in ("STARC distance mean-l2-l2", "Spearman correlation", "worst-case regret",
                 "95% CI", "regret bound", f"wrote {png}"):
        assert word in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "scores.csv"]  # no temp left


def test_failed_plot_write_keeps_the_old_file(scores, tmp_path, capsys, monkeypatch):
    import matplotlib.figure

    path, _ = scores
    png = tmp_path / "curves.png"
    png.write_bytes(b"old")

    def broken(self, fh, **kw):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    rc = main(["bandit", "compare", str(path), "--true", "gold", "--proxy", "rm", "--prompt",
               "prompt_id", "--response", "response_id", "--n-boot", "0", "--plot", str(png)])
    assert rc == 1
    assert "starc: error: disk full" in capsys.readouterr().err
    assert png.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "scores.csv"]


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("starc: error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("extra, match", [
    (["--proxy", "nope"], "'nope' is not in the frame"),
    (["--n-boot", "-1"], "--n-boot must be >= 0"),
    (["--confidence", "1.5"], r"--confidence must be in \(0, 1\)"),
    (["--plot", "/nonexistent/folder/x.png"], "--plot .* its folder .* does not exist"),
    (["--plot", "curves.xyz"], "--plot 'curves.xyz': unknown figure format 'xyz'"),
])
def test_bad_arguments(scores, capsys, extra, match, monkeypatch, tmp_path):
    import re

    path, _ = scores
    monkeypatch.chdir(tmp_path)
    argv = ["bandit", "compare", str(path), "--true", "gold", "--proxy", "rm",
            "--prompt", "prompt_id", "--response", "response_id", "--n-boot", "0"]
    for k in range(0, len(extra), 2):   # later options override
        argv += extra[k:k + 2]
    err = one_line_error(capsys, argv)
    assert re.search(match, err), err


def test_bad_files(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text('prompt,response,a,b\n"unclosed,1,2\n')
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "scores.xlsx").write_bytes(b"")
    base = ["--true", "a", "--proxy", "b"]
    assert "does not exist" in one_line_error(
        capsys, ["bandit", "compare", str(tmp_path / "missing.csv"), *base])
    assert "could not read" in one_line_error(
        capsys, ["bandit", "compare", str(tmp_path / "bad.csv"), *base])
    assert "could not read" in one_line_error(
        capsys, ["bandit", "compare", str(tmp_path / "bad.parquet"), *base])
    assert "cannot tell the format" in one_line_error(
        capsys, ["bandit", "compare", str(tmp_path / "scores.xlsx"), *base])


def test_duplicate_rows(tmp_path, capsys):
    frame = pd.DataFrame({"prompt": [0, 0, 1], "response": [0, 0, 0], "a": [1.0, 2.0, 3.0],
                          "b": [3.0, 1.0, 2.0]})
    frame.to_csv(tmp_path / "dup.csv", index=False)
    err = one_line_error(capsys, ["bandit", "compare", str(tmp_path / "dup.csv"), "--true",
                                  "a", "--proxy", "b"])
    assert "duplicate" in err.lower()


def test_csv_floats_are_read_exactly(scores, capsys):
    path, frame = scores
    out = run_json(capsys, path, "--true", "gold", "--proxy", "rm", "--prompt", "prompt_id",
                   "--response", "response_id", "--n-boot", "0")
    r1, r2, mask = arrays(frame)
    assert out["metrics"][0]["value"] == bandit.distance(r1, r2, mask=mask)


def test_undefined_rank_correlation_is_reported(tmp_path, capsys):
    # one response per prompt: the correlations and accuracy are undefined, the rest is not
    frame = pd.DataFrame({"prompt": [0, 1, 2], "response": [0, 0, 0],
                          "a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]})
    path = tmp_path / "one.csv"
    frame.to_csv(path, index=False)
    out = run_json(capsys, path, "--true", "a", "--proxy", "b", "--n-boot", "0")
    rows = {row["metric"]: row for row in out["metrics"]}
    assert rows["Spearman correlation"]["value"] is None
    assert rows["Spearman correlation"]["note"]
    assert rows["pairwise accuracy"]["value"] is None
    assert rows["regret (proxy argmax)"]["value"] == 0.0
    assert main(["bandit", "compare", str(path), "--true", "a", "--proxy", "b",
                 "--n-boot", "0"]) == 0
    assert "undefined" in capsys.readouterr().out


def test_help_lists_compare(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bandit", "compare", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--true" in text and "--plot" in text
