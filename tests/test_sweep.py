"""starc.sweep: protocols, determinism across chunks and executors, results, CLI, figure."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import starc
from starc.batch import CLOSED_FORM_VARIANTS, MINIMAL_L2_VARIANTS
from starc.sweep import PRESETS, Sweep, SweepResult, cli_main, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SOME = ["VAL-2-2", "EPIC-2-2", "DARD-2-2", "None-0-2", "VALPotential-1-inf",
        "MinimalPotential-2-weighted_inf", "MinimalL2-2-2"]


def small(**kw) -> Sweep:
    base = dict(n_mdps=4, pairs_per_mdp=2, n_steps=4, n_states=6, n_actions=2, seed=3)
    base.update(kw)
    return Sweep(**base)


def assert_identical(a: SweepResult, b: SweepResult):
    assert a.variants == b.variants
    np.testing.assert_array_equal(a.distances, b.distances)
    assert list(a.columns) == list(b.columns)
    for k in a.columns:
        np.testing.assert_array_equal(a.columns[k], b.columns[k])


# ----------------------------------------------------------------------------- declaration


def test_presets():
    paper = Sweep.preset("starc-paper")
    assert paper.n_rows == 49152 and paper.n_mdps * paper.pairs_per_mdp == 3072
    assert (paper.n_states, paper.n_actions, paper.gamma) == (32, 4, 0.95)
    assert paper.variants == CLOSED_FORM_VARIANTS and paper.regrets == ("exact",)
    assert len(Sweep.preset("starc-paper", with_lp_variants=True).variants) == 222
    assert Sweep.preset("quick", seed=5).seed == 5
    assert set(PRESETS) == {"starc-paper", "quick"}


@pytest.mark.parametrize("field, value, match", [
    ("n_mdps", 0, "n_mdps"), ("n_states", 2.5, "n_states"), ("gamma", 1.0, "gamma"),
    ("protocol", "mix", "protocol"), ("mdp_generator", "grid", "mdp_generator"),
    ("reward_generator", "uniform", "reward_generator"), ("variants", ["VAL-9-2"], "variant"),
    ("variants", ["VAL-2-2", "VAL-2-2"], "duplicate"), ("regrets", ["wcr"], "regrets"),
    ("ties", "random", "ties"), ("seed", -1, "seed"), ("mc_horizon", 0, "mc_horizon"),
    ("lp_solver", "glpk", "lp_solver")])
def test_sweep_validation(field, value, match):
    with pytest.raises(starc.ValidationError, match=match):
        small(**{field: value})


def test_preset_and_run_validation():
    with pytest.raises(starc.ValidationError, match="preset"):
        Sweep.preset("paper")
    with pytest.raises(starc.ValidationError, match="field"):
        Sweep.preset("quick", colour="red")
    with pytest.raises(starc.ValidationError, match="chunk_size"):
        small().run(chunk_size=0)
    with pytest.raises(starc.ValidationError, match="executor"):
        run_sweep(small(), executor=object())
    with pytest.raises(starc.ValidationError, match="sweep"):
        run_sweep(42)


# ----------------------------------------------------------------------------- numbers


def test_rows_match_numpy_path():
    """Every row of a sweep equals the public numpy functions on the same rewards."""
    from starc.sweep import _group_rewards, _make_mdp

    sw = small(variants=SOME + ["MinimalPotential-1-1"], n_mdps=2)
    res = sw.run()
    children = np.random.SeedSequence(sw.seed).spawn(sw.n_mdps)
    row = 0
    for m in range(sw.n_mdps):
        rng = np.random.default_rng(children[m].spawn(2)[0])
        mdp = _make_mdp(sw, rng)
        groups = _group_rewards(sw, mdp, rng)
        for p in range(sw.pairs_per_mdp):
            r1 = groups[p, 0]
            for i in range(1, sw.n_steps + 1):
                ri = groups[p, i]
                np.testing.assert_allclose(ri, r1 + (i / sw.n_steps) * (groups[p, -1] - r1),
                                           atol=1e-12)
                assert (res["mdp"][row], res["pair"][row], res["step"][row]) == (m, p, i)
                for name in SOME[:-1]:
                    ref = starc.starc_distance(r1, ri, mdp, variant=name)
                    assert abs(res[name][row] - ref) <= 1e-10 * max(1, ref), name
                ref = starc.starc_distance(r1, ri, mdp, canonicalization="minimal_l2")
                assert abs(res["MinimalL2-2-2"][row] - ref) <= 1e-10
                reg1 = starc.regret(r1, ri, mdp)
                reg2 = starc.regret(ri, r1, mdp)
                assert abs(res["regret1"][row] - reg1) <= 1e-10
                assert abs(res["regret2"][row] - reg2) <= 1e-10
                assert abs(res["regret"][row] - 0.5 * (reg1 + reg2)) <= 1e-10
                row += 1
    assert row == len(res)


def test_lp_variants_through_the_numpy_path():
    """lp_solver="highs": MinimalPotential-L1 rows equal starc_distance exactly as computed
    by the public functions; the default simplex reaches the same L1 optimum."""
    from starc.sweep import _group_rewards, _make_mdp

    names = [v for v in starc.VARIANTS if starc.VARIANTS[v].needs_lp]
    sw = small(variants=names, n_mdps=1, pairs_per_mdp=1, n_steps=3, lp_solver="highs")
    res = sw.run()
    rng = np.random.default_rng(np.random.SeedSequence(sw.seed).spawn(1)[0].spawn(2)[0])
    mdp = _make_mdp(sw, rng)
    groups = _group_rewards(sw, mdp, rng)
    for name in names:
        ref = starc.starc_distance(groups[0, 0], groups[0, 1:], mdp, variant=name)
        np.testing.assert_allclose(res[name], ref, atol=1e-9, err_msg=name)
    fast = Sweep(**{**sw.describe(), "variants": tuple(names), "lp_solver": "simplex"}).run()
    assert fast.distances.shape == res.distances.shape


@pytest.mark.parametrize("protocol", ["shaped", "redistributed"])
def test_equivalent_pairs_give_zero(protocol):
    """Equivalent pairs: distance 0 for every normalised STARC variant (VAL, minimal L2),
    and regret 0. With shaping alone, the canonicalizations that remove shaping (EPIC,
    DARD, VALPotential, MinimalPotential) give 0 too when normalised by a norm; the
    transition-weighted ones are only seminorms on their images, so a canonical that
    lives on near-impossible transitions may count as "zero" for one reward of the pair
    and not for the other (the oracle does the same).

    Gaussian rewards: the STARC generator makes a few percent of nearly trivial rewards
    (all their weight on transitions of probability ~1e-9), whose canonicals are 1e-8 to
    1e-12 of the reward scale; for those, round-off in the shaped copy gives distances
    of 1e-7 and more, in the numpy oracle as here. tests/test_zero_decisions.py checks
    them against the round-off bound.
    """
    variants = tuple(CLOSED_FORM_VARIANTS) + tuple(MINIMAL_L2_VARIANTS)
    res = small(protocol=protocol, variants=variants, n_states=8, n_mdps=3,
                reward_generator="gaussian").run()
    np.testing.assert_array_equal(res["regret"], 0.0)
    shaping_only = ("EPIC", "DARD", "VALPotential", "MinimalPotential")
    checked = 0
    for j, name in enumerate(res.variants):
        fam, normalization = name.split("-")[0], name.split("-")[1]
        if normalization == "0":
            continue  # unnormalised: positive scaling changes the distance
        d = res.distances[:, j]
        if fam in ("VAL", "MinimalL2"):
            assert np.abs(d).max() <= 1e-9, name
            checked += 1
        elif fam in shaping_only and protocol == "shaped" and normalization in ("1", "2", "inf"):
            assert np.abs(d).max() <= 1e-9, name
            checked += 1
        elif fam == "None" or (protocol == "redistributed" and normalization in ("1", "2")):
            assert d.max() > 1e-3, name
    assert checked == (72 if protocol == "redistributed" else 72 + 4 * 3 * 6 - 2 * 6)
    starc_rewards = small(protocol=protocol, variants=["VAL-2-2"], n_mdps=3).run()
    np.testing.assert_array_equal(starc_rewards["regret"], 0.0)


def test_independent_protocol_and_generators():
    def mdp_gen(rng):
        return starc.random_mdp(5, 2, gamma=0.9, seed=rng, kind="dirichlet")

    def reward_gen(mdp, rng):
        return rng.standard_normal(mdp.shape)

    res = small(protocol="independent", mdp_generator=mdp_gen, reward_generator=reward_gen,
                n_states=5, variants=["VAL-2-2"], gamma=0.9).run()
    assert len(res) == 4 * 2 * 4 and res["VAL-2-2"].min() > 0.05
    assert "mdp_gen" in res.config["mdp_generator"]
    with pytest.raises(starc.ValidationError, match="mdp_generator"):
        small(mdp_generator=lambda rng: starc.random_mdp(3, 2, seed=rng)).run()


def test_generator_gamma_must_match_the_sweeps():
    """config["gamma"] records what ran: an mdp_generator with another discount is refused."""
    def mdp_gen(rng):
        return starc.random_mdp(5, 2, gamma=0.5, seed=rng)

    with pytest.raises(starc.ValidationError, match=r"gamma=0\.5.*gamma=0\.95"):
        small(mdp_generator=mdp_gen, n_states=5, variants=["VAL-2-2"]).run()
    res = small(mdp_generator=mdp_gen, n_states=5, variants=["VAL-2-2"], gamma=0.5).run()
    assert res.config["gamma"] == 0.5


def test_quick_preset_reproduces_the_papers_ordering():
    """Mean correlation over normalised variants: VAL > DARD ~ EPIC > None.

    VAL beats EPIC and DARD for every seed tried (40); at this small size EPIC and DARD
    beat None for ~95% of seeds (the full preset: always), so the whole order is
    asserted for the default seed and VAL's lead for five seeds.
    """
    for seed in range(5):
        res = Sweep.preset("quick", seed=seed).run()
        summary = res.family_summary()
        val, epic, dard, none = (summary[f]["normalised"] for f in ("VAL", "EPIC", "DARD",
                                                                     "None"))
        assert val > max(epic, dard) + 0.1, seed
        if seed == 0:
            assert min(epic, dard) > none and abs(epic - dard) < 0.1
            corr = res.correlations()
            assert corr["VAL-2-2"] > max(corr["EPIC-2-2"], corr["DARD-2-2"])


def test_monte_carlo_columns():
    res = small(regrets=("exact", "mc"), variants=["VAL-2-2"]).run()
    for c in ("mc_regret", "mc_regret1", "mc_regret2", "mc_regret_raw"):
        assert np.isfinite(res[c]).all()
    np.testing.assert_array_equal(res["mc_regret1"], np.clip(res["mc_regret_raw1"], 0, 1))
    assert res["mc_regret"].min() >= 0.0 and res["mc_regret"].max() <= 1.0
    assert not np.array_equal(res["mc_regret"], res["regret"])
    assert np.median(np.abs(res["mc_regret"] - res["regret"])) < 0.1  # noise, not bias
    exact_only = small(regrets=("exact",), variants=["VAL-2-2"]).run()
    np.testing.assert_array_equal(exact_only["regret"], res["regret"])


# ----------------------------------------------------------------------------- determinism


def test_chunk_sizes_and_threads_are_bit_identical():
    sw = small(variants=SOME, regrets=("exact", "mc"))
    ref = sw.run()
    for size in (1, 3):
        assert_identical(ref, sw.run(chunk_size=size))
    with ThreadPoolExecutor(2) as pool:
        assert_identical(ref, sw.run(executor=pool, chunk_size=1, progress=True))


@pytest.mark.slow
def test_process_pool_is_bit_identical():
    sw = small(variants=SOME, regrets=("exact", "mc"))
    ref = sw.run(chunk_size=4)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        assert_identical(ref, sw.run(executor=pool, chunk_size=1))


@pytest.mark.slow
def test_dask_local_cluster_is_bit_identical():
    distributed = pytest.importorskip("distributed")
    sw = small(variants=SOME, regrets=("exact", "mc"))
    ref = sw.run()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        res = sw.run(executor=client.get_executor(), chunk_size=1)
    assert_identical(ref, res)


# ----------------------------------------------------------------------------- results


def test_result_io_and_statistics(tmp_path):
    res = small(variants=SOME).run()
    assert "SweepResult(n_rows=32" in repr(res) and len(res) == 32
    path = tmp_path / "r.npz"
    res.save(path)
    back = SweepResult.load(path)
    assert_identical(res, back)
    assert back.config == res.config
    csv = tmp_path / "r.csv"
    res.to_csv(csv)
    table = np.genfromtxt(csv, delimiter=",", names=True)
    assert table.shape == (32,)
    np.testing.assert_allclose(table["regret"], res["regret"], rtol=1e-15)
    np.testing.assert_allclose(table["VAL22"], res["VAL-2-2"], rtol=1e-15)
    from scipy.stats import spearmanr

    pear = res.correlations("pearson")
    spear = res.correlations("spearman")
    for j, v in enumerate(res.variants):
        np.testing.assert_allclose(pear[v], np.corrcoef(res.distances[:, j], res["regret"])[0, 1],
                                   atol=1e-12)
        np.testing.assert_allclose(spear[v], spearmanr(res.distances[:, j], res["regret"])[0],
                                   atol=1e-12)
    with pytest.raises(starc.ValidationError, match="regret"):
        res.correlations(regret="mc_regret")
    with pytest.raises(starc.ValidationError, match="method"):
        res.correlations("kendall")
    with pytest.raises(KeyError):
        res["nope"]
    with pytest.raises(starc.ValidationError, match="lacks"):
        np.savez(tmp_path / "bad.npz", x=np.zeros(2))
        SweepResult.load(tmp_path / "bad.npz")
    with pytest.raises(starc.ValidationError, match="path"):
        res.save(3)


def test_to_pandas(monkeypatch):
    res = small(variants=["VAL-2-2"]).run()
    if importlib.util.find_spec("pandas") is not None:
        df = res.to_pandas()
        assert df.shape == (32, len(res.columns) + 1)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(starc.MissingDependencyError, match="pip install pandas"):
        res.to_pandas()


def test_cli_main(tmp_path, capsys):
    out = tmp_path / "quick.csv"
    assert cli_main(["--preset", "quick", "--seed", "1", "--output", str(out),
                     "--chunk-size", "4"]) == 0
    text = capsys.readouterr().out
    assert "VAL" in text and "EPIC-2-2" in text and out.exists()
    assert cli_main(["--preset", "nope"]) == 2
    assert cli_main(["--workers", "0", "--preset", "quick", "--output",
                     str(tmp_path / "x")]) == 1


@pytest.mark.slow
def test_figure_script_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("starc_figure1",
                                                  ROOT / "paper_figures" / "starc_figure1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--output", str(tmp_path)]) == 0
    names = sorted(os.listdir(tmp_path))
    for expected in ("starc_figure1.png", "starc_figure1_table.csv", "starc_figure1_table.tex"):
        assert expected in names


def test_summary_table_without_regret_column_is_refused():
    from starc.sweep import summary_table

    res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2"], regrets=()).run()
    assert not res.regret_columns
    with pytest.raises(starc.ValidationError, match="no regret column.*regrets="):
        summary_table(res)
    with pytest.raises(starc.ValidationError, match="SweepResult"):
        summary_table({"regret": [0.0]})


def test_summary_table_labels_the_regret_it_shows():
    from starc.sweep import summary_table

    res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "EPIC-2-2"],
                       regrets=("mc",), mc_repeats=1, mc_horizon=20).run()
    head = summary_table(res).splitlines()[2]
    assert "MC unnorm." in head and "best (MC)" in head and "exact" not in head


def test_sweep_result_constructor_refuses_bad_fields():
    d = np.zeros((3, 1))
    cols = {"regret": np.zeros(3)}
    assert len(SweepResult(["VAL-2-2"], d, cols, {})) == 3
    for args in ((None, d, cols, {}), (3, d, cols, {}),
                 (["VAL-2-2"], [[1.0, 2.0], [3.0]], cols, {}),
                 (["VAL-2-2"], d.astype(complex), cols, {}), (["VAL-2-2"], "abc", cols, {}),
                 (["VAL-2-2"], d, None, {}), (["VAL-2-2"], d, {"x": ["a", "b", "c"]}, {}),
                 (["VAL-2-2"], d, cols, None), (["VAL-2-2"], d, cols, 3)):
        with pytest.raises(starc.ValidationError):
            SweepResult(*args)


@pytest.mark.parametrize("field", ["n_mdps", "pairs_per_mdp", "n_steps", "n_states"])
def test_sweep_sizes_beyond_memory_are_refused_at_construction(field):
    base = dict(n_mdps=2, pairs_per_mdp=1, n_steps=2, n_states=3, n_actions=2)
    with pytest.raises(starc.ValidationError, match="would need"):
        Sweep(**{**base, field: 2**40})
