"""starc._rules: one statement of each rule, used alike by the numpy code and the kernels.

The numpy functions (``starc.regret``, ``starc.distances``) and the numba kernels
(``starc.batch``) are two implementations of the arithmetic; the rules they decide with
(zero, trivial reward, ties) and their tolerances live in ``starc._rules`` alone. These
tests check (1) that the compiled rule and the Python rule give the same bits on the same
numbers, boundaries included, (2) that both paths decide a tie and a trivial reward
exactly at the tolerance boundary the same way, and follow the tolerance when it changes,
and (3) that the public names are the rules module's constants and tables.
"""

from __future__ import annotations

import numpy as np
import pytest

import starc
from starc import _rules
from starc.batch import _kernels
from starc.batch import regrets as batch_regrets

# ----------------------------------------------------------------------------- same bits


def _bits(x):
    return np.asarray(x, dtype=np.float64).view(np.uint64)


def _boundary_floats(rng, n=200):
    """Positive floats with exact boundary cases: ``x``, its neighbours, and ``0``."""
    x = np.exp(rng.uniform(-40.0, 40.0, n))
    return np.concatenate([x, np.nextafter(x, 0.0), np.nextafter(x, np.inf), [0.0]])


def test_compiled_rules_give_the_same_bits_as_python():
    """Each rule compiled by numba (as the kernels use it) and called from Python gives
    the same floats and decisions on the same inputs, including the exact boundaries."""
    rng = np.random.default_rng(0)
    xs = _boundary_floats(rng)
    for x, y, z in zip(xs, rng.permutation(xs), rng.permutation(xs)):
        gamma = float(rng.uniform(0.0, 0.999))
        assert _kernels.is_zero(x, y, z) == _rules.is_zero(x, y, z)
        assert _kernels.is_zero(x * y, x, y) == _rules.is_zero(x * y, x, y)
        assert _bits(_kernels.trivial_tolerance(x, gamma, z)) == _bits(
            _rules.trivial_tolerance(x, gamma, z))
        assert _kernels.is_trivial(0.0, x, y) == _rules.is_trivial(0.0, x, y)
        assert np.array_equal(_bits(_kernels.tie_bounds(x, gamma, y, z)),
                              _bits(_rules.tie_bounds(x, gamma, y, z)))
        assert _bits(_kernels.tie_bound(x, y, z)) == _bits(_rules.tie_bound(x, y, z))
        assert _bits(_kernels.doubt_limit(x, z)) == _bits(_rules.doubt_limit(x, z))
        assert _kernels.in_doubt(x, y) == _rules.in_doubt(x, y)
        assert _bits(_kernels.regret_fraction(0.0, x + y, z)) == _bits(
            _rules.regret_fraction(0.0, x + y, z))
    for code in range(len(_rules.TIES)):
        assert _kernels.tie_sign(code) == _rules.tie_sign(code)


def test_zero_rule_holds_at_its_boundary_and_not_above():
    """``norm == ones_norm * noise`` is zero; the next float above is not (both paths)."""
    for rule in (_rules.is_zero, _kernels.is_zero):
        assert rule(6.0, 3.0, 2.0)
        assert not rule(np.nextafter(6.0, 7.0), 3.0, 2.0)
    norms = np.array([6.0, np.nextafter(6.0, 7.0), 0.0])
    assert _rules.is_zero(norms, 3.0, 2.0).tolist() == [True, False, True]


# ----------------------------------------------------------------------------- same decisions

_GAMMA = 0.5
_DELTA = 2.0 ** -40  # gap of the tied action: far below REGRET_RTOL * M (no doubt)


def _one_state_mdp():
    return starc.TabularMDP(np.ones((1, 3, 1)), _GAMMA)


def _tie_pair():
    """True reward: action a = 1 is best. Proxy: b = 0 is best, a trails it by DELTA, c is
    bad. With the proxy's a tied to b, an optimistic proxy policy takes a (regret 0);
    otherwise b (regret 1)."""
    true = np.array([0.0, 1.0, 0.0]).reshape(1, 3, 1)
    proxy = np.array([1.0, 1.0 - _DELTA, 0.0]).reshape(1, 3, 1)
    return true, proxy


def _boundary_tie_rtol():
    """A TIE_RTOL at which the proxy's tie floor ``TIE_RTOL * (M + max|V*|)`` equals the
    gap DELTA exactly (M = 1, max|V*| = 1/(1 - gamma) = 2)."""
    size = 1.0 + 1.0 / (1.0 - _GAMMA)
    t = _DELTA / size
    for _ in range(8):
        if t * size == _DELTA:
            return t
        t = np.nextafter(t, np.inf if t * size < _DELTA else 0.0)
    pytest.skip("no float TIE_RTOL puts the floor exactly on the gap")  # pragma: no cover


def _both_regrets(true, proxy, mdp, ties):
    numpy_path = starc.regret(true, proxy, mdp, ties=ties)
    kernel_path = float(batch_regrets(true[None, None], proxy[None, None], mdp,
                                      ties=ties)[0, 0])
    return numpy_path, kernel_path


def test_a_tie_exactly_at_the_tolerance_is_decided_alike(monkeypatch):
    """starc.regret and starc.batch.regrets count an action whose gap equals the tie
    floor exactly as tied (regret 0 with optimistic ties), and one float of tolerance
    less as not tied (regret 1): the same rule, the same tolerance, the same boundary."""
    mdp = _one_state_mdp()
    true, proxy = _tie_pair()
    assert _both_regrets(true, proxy, mdp, "optimistic") == (1.0, 1.0)  # default: no tie
    t = _boundary_tie_rtol()
    monkeypatch.setattr(_rules, "TIE_RTOL", t)
    assert _both_regrets(true, proxy, mdp, "optimistic") == (0.0, 0.0)
    assert _both_regrets(true, proxy, mdp, "pessimistic") == (1.0, 1.0)
    monkeypatch.setattr(_rules, "TIE_RTOL", float(np.nextafter(t, 0.0)))
    assert _both_regrets(true, proxy, mdp, "optimistic") == (1.0, 1.0)


def test_a_trivial_reward_exactly_at_the_tolerance_is_decided_alike(monkeypatch):
    """A true reward whose value range equals ``REGRET_RTOL * M / (1 - gamma)`` exactly is
    trivial on both paths (regret 0); one float of tolerance less, it is not (regret 1)."""
    mdp = _one_state_mdp()
    true = np.array([1.0, 0.0, 0.0]).reshape(1, 3, 1)  # range 1/(1 - gamma), M = 1
    proxy = np.array([0.0, 1.0, 0.0]).reshape(1, 3, 1)
    assert _both_regrets(true, proxy, mdp, "pessimistic") == (1.0, 1.0)
    monkeypatch.setattr(_rules, "REGRET_RTOL", 1.0)  # tolerance = range exactly
    assert _both_regrets(true, proxy, mdp, "pessimistic") == (0.0, 0.0)
    monkeypatch.setattr(_rules, "REGRET_RTOL", float(np.nextafter(1.0, 0.0)))
    assert _both_regrets(true, proxy, mdp, "pessimistic") == (1.0, 1.0)


def test_zero_rule_decides_a_canonical_alike_on_both_paths():
    """A reward that is pure potential shaping has a zero canonical under both paths:
    every normalized distance to it is the distance to 0."""
    mdp = starc.random_mdp(4, 2, seed=3)
    r = starc.random_reward(mdp, seed=4)
    shaped = starc.potential_shaping(np.zeros_like(r), np.arange(4.0), mdp.gamma)
    numpy_d = starc.starc_distance(r, shaped, mdp, variant="VAL-2-2")
    kernel_d = starc.batch.variant_distances(r[None, None], shaped[None, None], mdp,
                                             ["VAL-2-2"])[0, 0, 0]
    assert numpy_d == pytest.approx(1.0, abs=1e-12)  # ||C(R)/||C(R)|| - 0|| = 1
    assert kernel_d == pytest.approx(numpy_d, abs=1e-12)


# ----------------------------------------------------------------------------- one home


def test_public_constants_are_the_rules_constants():
    """The documented public names re-export starc._rules (no second definition)."""
    import importlib

    # starc.regret, starc.norm... are also functions: the modules by name
    regret, norms, solve = (importlib.import_module(f"starc.{m}")
                            for m in ("regret", "norms", "solve"))
    assert regret.REGRET_RTOL is _rules.REGRET_RTOL
    assert regret.TIE_RTOL is _rules.TIE_RTOL
    assert regret.GAMMA_MAX is _rules.GAMMA_MAX
    assert regret.TIES is _rules.TIES
    assert norms.ZERO_RTOL is _rules.ZERO_RTOL
    assert norms.SOLVER_ZERO_RTOL is _rules.SOLVER_ZERO_RTOL
    assert norms.NORMS is _rules.NORMS
    assert solve.BELLMAN_RTOL is _rules.BELLMAN_RTOL
    assert _rules.tolerances() == (_rules.ZERO_RTOL, _rules.TIE_RTOL, _rules.REGRET_RTOL,
                                   _rules.BELLMAN_RTOL, _rules.IMPROVE_RTOL)


def test_codes_follow_the_name_tables():
    """Every integer code names its entry of the name tables; the variant registry and
    the batch layer are built from the same paper-name table."""
    assert [_rules.FAMILIES[c] for c in (_rules.F_NONE, _rules.F_EPIC, _rules.F_DARD,
                                         _rules.F_MINPOT, _rules.F_VALPOT, _rules.F_VAL,
                                         _rules.F_MINL2)] == list(_rules.FAMILIES)
    assert _rules.N_FAMILIES == len(_rules.FAMILIES) == _rules.F_LP
    assert [_rules.NORMS[c] for c in (_rules.NORM_L1, _rules.NORM_L2, _rules.NORM_LINF,
                                      _rules.NORM_WEIGHTED_L1, _rules.NORM_WEIGHTED_L2,
                                      _rules.NORM_WEIGHTED_LINF)] == list(_rules.NORMS)
    assert _rules.NORM_NONE == _rules.N_NORMS == len(_rules.NORMS)
    assert _rules.N_NORMALIZATIONS == _rules.N_NORMS + 1
    assert sorted(_rules.PAPER_NORMS.values()) == sorted(_rules.NORMS)
    assert [_rules.TIES[c] for c in (_rules.TIE_PESSIMISTIC, _rules.TIE_OPTIMISTIC,
                                     _rules.TIE_FIRST)] == list(_rules.TIES)
    for name, v in starc.VARIANTS.items():
        cname, nname, mname = name.split("-")
        assert _rules.PAPER_CANONICALIZATIONS[cname] == v.canonicalization
        assert v.metric == _rules.PAPER_NORMS[mname]
        assert v.normalization == (None if nname == _rules.PAPER_NO_NORMALIZATION
                                   else _rules.PAPER_NORMS[nname])


def test_gamma_above_the_limit_is_refused_alike():
    """GAMMA_MAX: both paths refuse a discount above it with the same rule."""
    gamma = float(np.nextafter(_rules.GAMMA_MAX, 1.0))
    mdp = starc.TabularMDP(np.ones((1, 2, 1)), gamma)
    r = np.array([1.0, 0.0]).reshape(1, 2, 1)
    with pytest.raises(starc.ValidationError, match="above"):
        starc.regret(r, r, mdp)
    with pytest.raises(starc.ValidationError, match="above"):
        batch_regrets(r[None, None], r[None, None], mdp)
