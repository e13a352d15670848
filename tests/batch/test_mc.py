"""The Monte-Carlo estimator of starc.batch (mc_policy_returns, mc_regrets, authors_horizon;
kernels in starc/batch/_mc.py): exactness on deterministic MDPs, unbiasedness, seeding,
chunking, and its argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import starc
from starc import batch as B


def _deterministic_mdp(n=7, m=3, gamma=0.9, seed=0):
    rng = np.random.default_rng(seed)
    t = np.zeros((n, m, n))
    t[np.arange(n)[:, None], np.arange(m)[None, :], rng.integers(n, size=(n, m))] = 1.0
    return starc.TabularMDP(t, gamma)


def test_authors_horizon():
    assert B.authors_horizon(0.95) == 224
    assert B.authors_horizon(0.0) == 1
    with pytest.raises(starc.ValidationError, match="gamma"):
        B.authors_horizon(1.0)


def test_mc_returns_exact_on_deterministic_mdp():
    """Deterministic transitions: a rollout is the truncated return, so MC is exact."""
    mdp = _deterministic_mdp()
    r = starc.random_reward(mdp, seed=1, size=(1, 3))
    pis = np.stack([starc.optimal_policy(r[0, k], mdp) for k in range(3)])[None]
    est = B.mc_policy_returns(r, mdp, pis, seed=0)
    exact = [starc.policy_return(r[0, k], mdp, pis[0, k]) for k in range(3)]
    scale = np.abs(r).max() / (1 - mdp.gamma)
    np.testing.assert_allclose(est[0], exact, atol=2e-5 * scale)


def test_mc_regrets_match_exact_formula_on_deterministic_mdp():
    """The authors' ratio with exact returns is the exact regret with 'first' ties."""
    mdp = _deterministic_mdp(seed=3)
    r = starc.random_reward(mdp, seed=4, size=(1, 5))
    est = B.mc_regrets(r[:, :1], r, mdp, seed=1)
    np.testing.assert_allclose(est[..., 0], B.regrets(r[:, :1], r, mdp, ties="first"),
                               atol=1e-3)
    np.testing.assert_allclose(est[..., 1], B.regrets(r, np.repeat(r[:, :1], 5, 1), mdp,
                                                      ties="first"), atol=1e-3)


def test_mc_returns_unbiased_on_stochastic_mdp():
    mdp = starc.random_mdp(10, 2, seed=5)
    r = starc.random_reward(mdp, seed=6, size=(1, 2))
    pis = np.stack([starc.optimal_policy(r[0, k], mdp) for k in range(2)])[None]
    est = B.mc_policy_returns(r, mdp, pis, n_repeats=400, seed=7)
    exact = np.array([starc.policy_return(r[0, k], mdp, pis[0, k]) for k in range(2)])
    # standard error ~ 3 / sqrt(4000) per unit reward scale; allow 5 sigma
    assert np.all(np.abs(est[0] - exact) < 0.3)


def test_mc_deterministic_given_seed_and_weights_by_initial():
    mdp = starc.random_mdp(8, 2, seed=8)
    r = starc.random_reward(mdp, seed=9, size=(2, 3))
    mdps = [mdp, mdp.with_initial(np.eye(8)[0])]
    pis = np.zeros((2, 8), dtype=np.int64)
    a = B.mc_policy_returns(r, mdps, pis, seed=11)
    b = B.mc_policy_returns(r, mdps, pis, seed=11)
    c = B.mc_policy_returns(r, mdps, pis, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    ss = np.random.SeedSequence(11)
    np.testing.assert_array_equal(B.mc_policy_returns(r, mdps, pis, seed=ss), a)


def test_mc_regret_noise_under_trivial_true_reward():
    """A shaped zero reward: exact regret 0, the authors' ratio is noise / noise."""
    mdp = starc.random_mdp(8, 2, seed=13)
    r = np.zeros((1, 2) + mdp.shape)
    r[0, 0] = starc.potential_shaping(np.zeros(mdp.shape), np.arange(8.0) * 3, mdp.gamma)
    r[0, 1] = starc.random_reward(mdp, seed=14)
    assert B.regrets(r[:, :1], r, mdp)[0, 1] == 0.0
    est = B.mc_regrets(r[:, :1], r, mdp, seed=2)
    assert np.isfinite(est).all() and est[0, 1, 0] != 0.0


@pytest.fixture(scope="module")
def small():
    mdps = [starc.random_mdp(4, 2, seed=i) for i in range(2)]
    return mdps, starc.random_reward(mdps[0], seed=1, size=(2, 3))


def test_bad_mc_arguments(small):
    mdps, r = small
    pis = np.zeros((2, 4), dtype=np.int64)
    with pytest.raises(starc.ValidationError, match="policies"):
        B.mc_policy_returns(r, mdps, pis.astype(float))
    with pytest.raises(starc.ValidationError, match="policies"):
        B.mc_policy_returns(r, mdps, np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(starc.ValidationError, match="policies"):
        B.mc_policy_returns(r, mdps, pis + 5)
    with pytest.raises(starc.ValidationError, match="horizon"):
        B.mc_policy_returns(r, mdps, pis, horizon=0)
    with pytest.raises(starc.ValidationError, match="n_repeats"):
        B.mc_regrets(r, r, mdps, n_repeats=-1)
    with pytest.raises(starc.ValidationError, match="seed"):
        B.mc_regrets(r, r, mdps, seed="x")


def test_authors_horizon_refuses_threshold_outside_unit_interval():
    for bad in (0.0, -1.0, 1.0, 2.0, float("nan"), float("inf")):
        with pytest.raises(starc.ValidationError, match="threshold"):
            B.authors_horizon(0.9, threshold=bad)
    # close to 1 the horizon is large but finite: a number, not an error
    assert B.authors_horizon(1 - 1e-7) == round(np.log(1e-5) / np.log1p(-1e-7))


def test_mc_refuses_absurd_horizons_and_work():
    mdp = starc.random_mdp(3, 2, gamma=1 - 1e-7, seed=0)
    r = starc.random_reward(mdp, seed=1, size=(1, 2))
    pis = np.zeros((1, 3), dtype=np.int64)
    # the authors' horizon at gamma = 1 - 1e-7 is 115 million steps per episode
    assert B.authors_horizon(mdp.gamma) == 115129249
    with pytest.raises(starc.ValidationError, match="horizon of 115,129,249 steps"):
        B.mc_policy_returns(r, mdp, pis, seed=0)
    with pytest.raises(starc.ValidationError, match="horizon"):
        B.mc_regrets(r[:, :1], r, mdp, seed=0)
    from starc.batch import _mc

    assert _mc.MAX_HORIZON == 10**7
    B.mc_policy_returns(r[:, :1], mdp, pis, horizon=_mc.MAX_HORIZON, n_repeats=1, seed=0)
    with pytest.raises(starc.ValidationError, match="horizon"):
        B.mc_policy_returns(r, mdp, pis, horizon=_mc.MAX_HORIZON + 1, seed=0)
    # a fine horizon with an absurd number of episodes: refused by the total work
    with pytest.raises(starc.ValidationError, match="steps"):
        B.mc_policy_returns(r, mdp, pis, horizon=10**6, n_repeats=10**7, seed=0)
    # an explicit, moderate horizon is accepted
    assert np.all(np.isfinite(B.mc_policy_returns(r, mdp, pis, horizon=50, seed=0)))


@pytest.mark.parametrize("chunk", [1, 7, 1000, 2**14])
def test_mc_chunking_does_not_change_the_stream(monkeypatch, chunk):
    from starc.batch import _mc

    mdps = [starc.random_mdp(5, 3, gamma=g, seed=i) for i, g in enumerate((0.9, 0.6))]
    batch = B.MDPBatch.from_mdps(mdps)
    r = np.stack([starc.random_reward(m, seed=10 + i, size=3) for i, m in enumerate(mdps)])
    pis = np.stack([[starc.optimal_policy(r[i, k], mdps[i]) for k in range(3)]
                    for i in range(2)])
    kw = dict(horizon=40, n_repeats=3)
    one_ret = B.mc_policy_returns(r, batch, pis, seed=4, **kw)
    one_reg = B.mc_regrets(r[:, :1], r, batch, seed=5, **kw)
    calls = []
    kernel = _mc.mc_chunk_kernel

    def counting(*args):
        calls.append(args[11] - args[10])
        return kernel(*args)

    monkeypatch.setattr(_mc, "CHUNK_STEPS", chunk)
    monkeypatch.setattr(_mc, "mc_chunk_kernel", counting)
    many_ret = B.mc_policy_returns(r, batch, pis, seed=4, **kw)
    many_reg = B.mc_regrets(r[:, :1], r, batch, seed=5, **kw)
    np.testing.assert_array_equal(many_ret, one_ret)
    np.testing.assert_array_equal(many_reg, one_reg)
    if chunk < 40 * 3 * 5:
        assert len(calls) > 2 and max(calls) == 1     # one episode per call
    # and the chunked stream is still the estimator: exact on a deterministic MDP
    det = _deterministic_mdp()
    rd = starc.random_reward(det, seed=3, size=(1, 2))
    pd = np.stack([starc.optimal_policy(rd[0, k], det) for k in range(2)])[None]
    est = B.mc_policy_returns(rd, det, pd, horizon=400, seed=0)
    exact = [starc.policy_return(rd[0, k], det, pd[0, k]) for k in range(2)]
    np.testing.assert_allclose(est[0], exact, rtol=1e-12, atol=1e-12)


def test_mc_long_estimate_stops_on_ctrl_c():
    import os
    import signal
    import subprocess
    import sys
    import time

    code = """
import numpy as np, starc
from starc.batch import mc_policy_returns
mdp = starc.random_mdp(4, 2, seed=0)
R = starc.random_reward(mdp, seed=1, size=(1, 1))
pi = np.zeros((1, 4), dtype=np.int64)
mc_policy_returns(R, mdp, pi, horizon=10, n_repeats=1, seed=0)   # compile / load the cache
print("ready", flush=True)
mc_policy_returns(R, mdp, pi, horizon=10**7, n_repeats=10**4, seed=0)   # hours of work
print("finished", flush=True)
"""
    root = os.path.dirname(os.path.dirname(starc.__file__))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)                       # well inside the long estimate
        assert proc.poll() is None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        waited = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "finished" not in out
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert waited < 15.0                      # a chunk is a fraction of a second
