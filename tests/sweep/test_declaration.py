"""starc.sweep.declaration: Sweep's fields and presets, the pair protocols, the draw."""

from __future__ import annotations

import numpy as np
import pytest

import starc
from starc.batch import CLOSED_FORM_VARIANTS, MINIMAL_L2_VARIANTS
from starc.sweep import PRESETS, Sweep, run_sweep

from sweep_cases import small


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


@pytest.mark.parametrize("field", ["n_mdps", "pairs_per_mdp", "n_steps", "n_states"])
def test_sweep_sizes_beyond_memory_are_refused_at_construction(field):
    base = dict(n_mdps=2, pairs_per_mdp=1, n_steps=2, n_states=3, n_actions=2)
    with pytest.raises(starc.ValidationError, match="would need"):
        Sweep(**{**base, field: 2**40})


# ------------------------------------------------------------------- protocols


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


# ----------------------------------------------------------------------------- the draw


@pytest.mark.parametrize("protocol", ["interpolate", "independent"])
def test_draw_follows_the_documented_seed_tree(protocol):
    """MDP m: generator on SeedSequence(seed).spawn(M)[m].spawn(2)[0] draws the MDP, then
    each pair's rewards in order; the Monte-Carlo node is .spawn(2)[1]."""
    sw = small(protocol=protocol, n_mdps=3, pairs_per_mdp=2, n_steps=3, seed=11)
    children = np.random.SeedSequence(sw.seed).spawn(sw.n_mdps)
    for m in range(sw.n_mdps):
        mdp, rewards, mc_seed = sw.draw(m)
        ss_draw, ss_mc = children[m].spawn(2)
        rng = np.random.default_rng(ss_draw)
        ref = starc.random_mdp(sw.n_states, sw.n_actions, gamma=sw.gamma, seed=rng,
                               kind="starc")
        np.testing.assert_array_equal(mdp.transition, ref.transition)
        assert mdp.gamma == sw.gamma
        assert rewards.shape == (2, 4) + mdp.shape
        for p in range(sw.pairs_per_mdp):
            r1 = starc.random_reward(ref, seed=rng, kind="starc")
            np.testing.assert_array_equal(rewards[p, 0], r1)
            if protocol == "interpolate":
                r2 = starc.random_reward(ref, seed=rng, kind="starc")
                for i in range(1, 4):
                    np.testing.assert_array_equal(rewards[p, i], r1 + (i / 3) * (r2 - r1))
            else:
                for i in range(1, 4):
                    np.testing.assert_array_equal(rewards[p, i],
                                                  starc.random_reward(ref, seed=rng,
                                                                      kind="starc"))
        assert (mc_seed.entropy, mc_seed.spawn_key) == (ss_mc.entropy, ss_mc.spawn_key)
        # drawing again gives the same inputs: the draw has no state
        again = sw.draw(m)
        np.testing.assert_array_equal(again[1], rewards)


@pytest.mark.parametrize("m", [-1, 3, 1.0, True, "0", None])
def test_draw_refuses_what_is_not_an_mdp_of_the_sweep(m):
    with pytest.raises(starc.ValidationError, match=r"m must be an int in \[0, 3\)"):
        small(n_mdps=3).draw(m)
