"""The ``starc`` subcommands demo, compare and figures, called in-process through main()
(the demo's own functions are tested in tests/test_demo.py)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import starc
from starc.cli import main
from starc.demo import demo_environment


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


# ------------------------------------------------- compare: reward files, --example, notes


def _json_compare(capsys, r1, r2, mdp, *variants):
    argv = ["compare", str(r1), str(r2), "--mdp", str(mdp), "--json"]
    assert main(argv + (["--variants", *variants] if variants else [])) == 0, \
        capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_compare_example_writes_inputs_the_printed_command_reads(tmp_path, capsys):
    folder = tmp_path / "new" / "example"
    assert main(["compare", "--example", str(folder)]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == ["mdp.npz", "proxy_reward.csv",
                                                        "true_reward.csv"]
    command = [line.strip() for line in out.splitlines()
               if line.strip().startswith("starc compare ")]
    assert len(command) == 1
    argv = command[0].split()[1:]
    assert main(argv + ["--json", "--variants", "VAL-2-2"]) == 0
    data = json.loads(capsys.readouterr().out)
    mdp, rewards, _ = demo_environment()
    r1, r2 = rewards["true"], rewards["misspecified"]
    # the CSV round trip is exact, so the numbers are the API's on the in-memory rewards
    assert data["distances"][0]["distance"] == starc.starc_distance(r1, r2, mdp,
                                                                   variant="VAL-2-2")
    assert data["regret"] == starc.regret(r1, r2, mdp)
    assert data["worst_case_regret"] == starc.worst_case_regret(r1, r2, mdp)


def test_compare_example_refuses_a_file_and_extra_inputs(saved, capsys):
    path, _, _ = saved
    assert main(["compare", "--example", str(path / "r1.npy")]) == 1
    assert "is a file" in _one_line_error(capsys)
    assert main(["compare", str(path / "r1.npy"), "--example", str(path / "ex")]) == 1
    assert "only writes" in _one_line_error(capsys)
    assert main(["compare", str(path / "r1.npy"), str(path / "r2.npy")]) == 1
    assert "--mdp" in _one_line_error(capsys)
    assert main(["compare"]) == 1
    assert "--example" in _one_line_error(capsys)


def test_compare_reads_csv_npy_and_npz_alike(saved, capsys):
    from starc._reward_files import read_reward, write_reward_csv

    path, mdp, rewards = saved
    r1 = rewards["true"]
    write_reward_csv(path / "r1.csv", r1)
    np.testing.assert_array_equal(read_reward(path / "r1.csv", mdp), r1)
    np.savez(path / "keyed.npz", reward=r1, other=np.zeros(3))
    np.savez(path / "single.npz", r1)
    mdp_file = path / "mdp.npz"
    reference = _json_compare(capsys, path / "r1.npy", path / "r2.npy", mdp_file)
    for name in ("r1.csv", "keyed.npz", "single.npz"):
        assert _json_compare(capsys, path / name, path / "r2.npy", mdp_file) == reference, name
    # a CSV in any row order, with comments and blank lines, and an upper-case header
    lines = (path / "r1.csv").read_text().splitlines()
    shuffled = [lines[0].upper(), "# a comment", ""] + lines[1:][::-1]
    (path / "shuffled.csv").write_text("\n".join(shuffled) + "\n")
    np.testing.assert_array_equal(read_reward(path / "shuffled.csv", mdp), r1)
    # an (S, A) reward in an .npz broadcasts like an .npy one
    np.savez(path / "sa.npz", reward=np.arange(mdp.n_states * mdp.n_actions, dtype=float)
             .reshape(mdp.n_states, mdp.n_actions))
    assert read_reward(path / "sa.npz", mdp).shape == (mdp.n_states, mdp.n_actions,
                                                        mdp.n_states)


def test_compare_refuses_bad_reward_files(saved, capsys):
    path, mdp, _ = saved
    S, A = mdp.n_states, mdp.n_actions
    mdp_file = str(path / "mdp.npz")
    rows = [f"{s},{a},{t},1.5" for s in range(S) for a in range(A) for t in range(S)]
    header = "state,action,next_state,reward"
    cases = {
        "header.csv": (["s,a,t,r"] + rows, "header must be"),
        "missing.csv": ([header] + rows[:-1], f"{S * A * S - 1:,} of the {S * A * S:,} rows"),
        "twice.csv": ([header] + rows + rows[:1], "appears twice"),
        "range.csv": ([header, f"{S},0,0,1.0"] + rows, f"state {S} is outside"),
        "action.csv": ([header, "0,x,0,1.0"] + rows, "action 'x' is not an integer"),
        "number.csv": ([header, "0,0,0,abc"] + rows[1:], "reward 'abc' is not a number"),
        "nan.csv": ([header, "0,0,0,nan"] + rows[1:], "is not finite"),
        "columns.csv": ([header, "0,0,0"] + rows, "expected 4 columns"),
        "empty.csv": ([], "is empty"),
    }
    for name, (lines, message) in cases.items():
        (path / name).write_text("\n".join(lines) + "\n")
        assert main(["compare", str(path / name), str(path / "r2.npy"), "--mdp",
                     mdp_file]) == 1, name
        err = _one_line_error(capsys)
        assert message in err and name in err, (name, err)
    (path / "latin1.csv").write_bytes(b"state,action,next_state,reward\n0,0,0,\xff\n")
    assert main(["compare", str(path / "latin1.csv"), str(path / "r2.npy"), "--mdp",
                 mdp_file]) == 1
    assert "not a UTF-8 text file" in _one_line_error(capsys)
    np.savez(path / "two.npz", a=np.zeros(3), b=np.zeros(3))
    assert main(["compare", str(path / "two.npz"), str(path / "r2.npy"), "--mdp",
                 mdp_file]) == 1
    assert "key 'reward'" in _one_line_error(capsys)
    np.save(path / "batch.npy", np.zeros((2, S, A, S)))
    assert main(["compare", str(path / "batch.npy"), str(path / "r2.npy"), "--mdp",
                 mdp_file]) == 1
    assert "batch of rewards" in _one_line_error(capsys)
    np.save(path / "text.npy", np.array(["a", "b"]))
    assert main(["compare", str(path / "text.npy"), str(path / "r2.npy"), "--mdp",
                 mdp_file]) == 1
    assert "not real numbers" in _one_line_error(capsys)
    (path / "folder.csv").mkdir()
    assert main(["compare", str(path / "folder.csv"), str(path / "r2.npy"), "--mdp",
                 mdp_file]) == 1
    assert "is a folder" in _one_line_error(capsys)


def test_compare_variant_names_are_case_insensitive(saved, capsys):
    path, _, _ = saved
    files = (path / "r1.npy", path / "r2.npy", path / "mdp.npz")
    upper = _json_compare(capsys, *files, "VAL-2-2", "EPIC-weighted_1-inf", "None-0-2")
    lower = _json_compare(capsys, *files, "val-2-2", "epic-WEIGHTED_1-INF", "NONE-0-2")
    assert lower == upper
    assert [row["variant"] for row in lower["distances"]] == ["VAL-2-2",
                                                             "EPIC-weighted_1-inf",
                                                             "None-0-2"]


def test_compare_bound_for_every_variant_but_dard_and_minimal(saved, capsys):
    path, mdp, rewards = saved
    names = ("VAL-2-2", "EPIC-2-2", "MinimalPotential-1-1", "VALPotential-inf-inf",
             "None-0-2", "DARD-2-2")
    data = _json_compare(capsys, path / "r1.npy", path / "r2.npy", path / "mdp.npz", *names)
    r1 = rewards["true"]
    for row in data["distances"]:
        bound = row["certified_regret_bound"]
        if row["variant"].startswith(("DARD", "MinimalPotential")):
            assert bound is None
            continue
        kwargs = starc.resolve_variant(row["variant"]).kwargs()
        assert bound == starc.regret_bound(r1, row["distance"], mdp, **kwargs)
        # STARC Thm. 1: the bound holds
        assert data["worst_case_regret"] <= bound + 1e-12 <= 1 + 1e-12


def test_compare_explains_dash_and_vacuous_bound(saved, capsys):
    path, _, _ = saved
    mdp_file = str(path / "mdp.npz")
    assert main(["compare", str(path / "r1.npy"), str(path / "r2.npy"), "--mdp", mdp_file,
                 "--variants", "VAL-2-2", "DARD-2-2"]) == 0
    out = capsys.readouterr().out
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines()
             if line[:4] in ("VAL-", "DARD")}
    assert table["DARD-2-2"][-1] == "-" and table["VAL-2-2"][-1] == "1.000000"
    assert "-  no certified bound" in out and "DARD" in out.split("regret bound:")[-1]
    assert "1  a vacuous bound" in out
    # a shaped copy: distance 0, bound 0; no DARD row: neither note
    assert main(["compare", str(path / "r1.npy"), str(path / "shaped.npy"), "--mdp",
                 mdp_file, "--variants", "VAL-2-2"]) == 0
    out = capsys.readouterr().out
    assert "vacuous" not in out and "no certified bound" not in out


def test_compare_help_documents_the_reward_formats(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compare", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for needle in (".npy", ".npz", ".csv", "state,action,next_state,reward", "--example",
                   "case-insensitive", "vacuous"):
        assert needle in text, needle

