"""The ``starc`` subcommands demo, compare and figures, called in-process through main()."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import starc
from starc.cli import main
from starc.demo import demo_environment, demo_table


@pytest.fixture
def saved(tmp_path):
    mdp, rewards, _ = demo_environment()
    starc.save_mdp(tmp_path / "mdp.npz", mdp)
    np.save(tmp_path / "r1.npy", rewards["true"])
    np.save(tmp_path / "r2.npy", rewards["misspecified"])
    np.save(tmp_path / "shaped.npy", rewards["shaped"])
    return tmp_path, mdp, rewards


def test_demo_writes_table_and_figure(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "misspecified" in text and "VAL-2-2" in text
    assert out.exists() and out.stat().st_size > 10_000


def test_demo_numbers(capsys, tmp_path):
    mdp, rewards, _ = demo_environment()
    rows = {row["reward"]: row for row in demo_table(mdp, rewards)}
    for key in ("VAL-2-2", "minimal_l2-2-2", "EPIC", "DARD", "regret", "worst_case_regret"):
        assert rows["shaped"][key] == pytest.approx(0.0, abs=1e-9), key
    assert rows["misspecified"]["regret"] > 0.5
    assert rows["misspecified"]["VAL-2-2"] > 0.5
    assert rows["misspecified"]["bound(VAL-2-2)"] >= rows["misspecified"]["worst_case_regret"]
    assert main(["demo", "--json", "--output", str(tmp_path / "d.png")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [row["reward"] for row in data] == ["true", "shaped", "misspecified"]


def test_compare_matches_the_api(saved, capsys):
    path, mdp, rewards = saved
    rc = main(["compare", str(path / "r1.npy"), str(path / "r2.npy"), "--mdp",
               str(path / "mdp.npz"), "--json", "--variants", "VAL-2-2", "EPIC-2-2",
               "DARD-1-inf"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {row["variant"]: row for row in data["distances"]}
    r1, r2 = rewards["true"], rewards["misspecified"]
    for name in ("VAL-2-2", "EPIC-2-2", "DARD-1-inf"):
        assert by_name[name]["distance"] == starc.starc_distance(r1, r2, mdp, variant=name)
    assert data["regret"] == starc.regret(r1, r2, mdp)
    assert data["worst_case_regret"] == starc.worst_case_regret(r1, r2, mdp)
    d = by_name["VAL-2-2"]["distance"]
    assert by_name["VAL-2-2"]["certified_regret_bound"] == starc.regret_bound(r1, d, mdp)


def test_compare_table(saved, capsys):
    path, _, _ = saved
    assert main(["compare", str(path / "r1.npy"), str(path / "shaped.npy"), "--mdp",
                 str(path / "mdp.npz")]) == 0
    out = capsys.readouterr().out
    assert "VAL-2-2" in out and "worst-case regret" in out
    # the number is the default (parametric) method's, so the label must not say LP
    assert "worst-case regret (exact, parametric)" in out and "(LP)" not in out


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("starc: error:")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_compare_bad_files(saved, capsys):
    path, _, _ = saved
    mdp = str(path / "mdp.npz")
    assert main(["compare", str(path / "missing.npy"), str(path / "r2.npy"), "--mdp", mdp]) == 1
    assert "does not exist" in _one_line_error(capsys)

    np.save(path / "wrong.npy", np.zeros((3, 3)))
    assert main(["compare", str(path / "wrong.npy"), str(path / "r2.npy"), "--mdp", mdp]) == 1
    assert "shape (3, 3)" in _one_line_error(capsys)

    np.save(path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert main(["compare", str(path / "pickled.npy"), str(path / "r2.npy"), "--mdp",
                 mdp]) == 1
    assert "pickled" in _one_line_error(capsys)

    with open(path / "raw.pkl", "wb") as fh:
        pickle.dump({"transition": 1}, fh)
    assert main(["compare", str(path / "r1.npy"), str(path / "r2.npy"), "--mdp",
                 str(path / "raw.pkl")]) == 1
    assert "raw.pkl" in _one_line_error(capsys)

    assert main(["compare", str(path / "r1.npy"), str(path / "r2.npy"), "--mdp",
                 str(path / "r1.npy")]) == 1
    assert "not an .npz" in _one_line_error(capsys)

    assert main(["compare", str(path / "r1.npy"), str(path / "r2.npy"), "--mdp", mdp,
                 "--variants", "VAL-9-9"]) == 1
    assert "unknown variant" in _one_line_error(capsys)


def test_figures_list_and_unknown(capsys):
    assert main(["figures", "--list"]) == 0
    assert "regret_vs_distance" in capsys.readouterr().out
    assert main(["figures", "no_such_figure"]) == 1
    assert "unknown figure" in _one_line_error(capsys)


def test_figures_runs_a_script(tmp_path, capsys):
    assert main(["figures", "regret_vs_distance", "--quick", "--output", str(tmp_path)]) == 0
    assert (tmp_path / "regret_vs_distance.png").exists()


def test_sweep_is_dispatched_to_the_sweep_runner(tmp_path, capsys):
    assert main(["sweep", "--help"]) == 0
    assert "--preset" in capsys.readouterr().out


@pytest.mark.parametrize("mdp_ok, rewards", [(False, None), (True, None), (True, {}),
                                             (True, {"shaped": np.zeros(3)}), (True, 3)])
def test_demo_table_refuses_bad_arguments(mdp_ok, rewards):
    mdp, good, _ = demo_environment()
    with pytest.raises(starc.ValidationError):
        demo_table(mdp if mdp_ok else None, rewards if mdp_ok else good)
