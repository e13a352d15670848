"""TabularMDP: validation, immutability, helpers; reward broadcasting and expectations."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import starc
from starc import TabularMDP, ValidationError
from starc.mdp import as_mdp, check_reward_memory, reward_nbytes
from strategies import mdps, reward_arrays

# ------------------------------------------------------------------------ construction


def test_defaults_and_attributes(toy_mdp):
    assert toy_mdp.n_states == 2 and toy_mdp.n_actions == 2
    assert toy_mdp.shape == (2, 2, 2)
    assert toy_mdp.gamma == 0.9 and isinstance(toy_mdp.gamma, float)
    np.testing.assert_array_equal(toy_mdp.initial, [0.5, 0.5])
    assert toy_mdp.transition.dtype == np.float64 and toy_mdp.transition.flags.c_contiguous
    assert toy_mdp.initial.dtype == np.float64
    assert repr(toy_mdp) == "TabularMDP(n_states=2, n_actions=2, gamma=0.9)"


def test_accepts_lists_ints_and_fortran_order():
    t = [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]  # python ints
    mdp = TabularMDP(t, gamma=0, initial=[1, 0])
    assert mdp.transition.dtype == np.float64 and mdp.gamma == 0.0
    f = np.asfortranarray(np.full((3, 2, 3), 1 / 3))
    assert TabularMDP(f, 0.5).transition.flags.c_contiguous


def test_rows_sum_to_one_within_1e_10():
    t = np.full((2, 1, 2), 0.5)
    t[0, 0, 0] += 5e-11
    TabularMDP(t, 0.5)  # accepted
    t[0, 0, 0] += 1e-9
    with pytest.raises(ValidationError, match=r"transition must sum to 1 .* index \(0, 0\)"):
        TabularMDP(t, 0.5)


def test_inputs_are_copied():
    t = np.full((2, 1, 2), 0.5)
    mu = np.array([0.5, 0.5])
    mdp = TabularMDP(t, 0.5, mu)
    t[0, 0, :] = [1.0, 0.0]
    mu[:] = [1.0, 0.0]
    np.testing.assert_array_equal(mdp.transition, np.full((2, 1, 2), 0.5))
    np.testing.assert_array_equal(mdp.initial, [0.5, 0.5])
    assert t.flags.writeable  # the caller's array is untouched and still writable


@pytest.mark.parametrize("transition, pattern", [
    (np.full((2, 2), 0.5), r"transition must have 3 dimension"),
    (np.full((2, 2, 3), 1 / 3), r"transition must have shape \(S, A, S\)"),
    (np.zeros((0, 2, 0)), r"transition must have at least one state and one action"),
    (np.array([[[1.2, -0.2]], [[0.5, 0.5]]]), r"transition has a negative entry -0.2 at index "
                                               r"\(0, 0, 1\)"),
    (np.array([[[0.6, 0.6]], [[0.5, 0.5]]]), r"transition must sum to 1 .* index \(0, 0\) "
                                              r"sums to 1.2"),
    (np.array([[[np.nan, 1.0]], [[0.5, 0.5]]]), r"transition contains 1 NaN or infinite"),
    (np.array([[[np.inf, 0.0]], [[0.5, 0.5]]]), r"transition contains 1 NaN or infinite"),
    (np.array([[[0.5, 0.5]], [[0.5, None]]], dtype=object), r"transition has dtype object"),
    (np.full((2, 1, 2), 0.5 + 0j), r"transition must be real-valued"),
    ("uniform", r"transition must be a numeric array"),
])
def test_bad_transitions(transition, pattern):
    with pytest.raises(ValidationError, match=pattern):
        TabularMDP(transition, 0.9)


@pytest.mark.parametrize("gamma", [1.0, -0.5, 2, float("nan"), float("inf"), True, "0.9", None])
def test_bad_gamma(gamma):
    with pytest.raises(ValidationError, match=r"\bgamma\b"):
        TabularMDP(np.full((2, 1, 2), 0.5), gamma)


@pytest.mark.parametrize("initial, pattern", [
    ([0.5, 0.5, 0.0], r"initial must have length 2, got shape \(3,\)"),
    ([[0.5, 0.5]], r"initial must have 1 dimension"),
    ([1.5, -0.5], r"initial has a negative entry -0.5"),
    ([0.3, 0.3], r"initial must sum to 1"),
    ([np.nan, 1.0], r"initial contains 1 NaN"),
    ("uniform", r"initial must be a numeric array"),
])
def test_bad_initial(initial, pattern):
    with pytest.raises(ValidationError, match=pattern):
        TabularMDP(np.full((2, 1, 2), 0.5), 0.9, initial)


# ------------------------------------------------------------------------ immutability


def test_attributes_cannot_be_set_or_deleted(toy_mdp):
    for name, value in [("gamma", 0.5), ("transition", np.zeros((2, 2, 2))),
                        ("initial", np.array([1.0, 0.0])), ("n_states", 3), ("_gamma", 0.1),
                        ("new_attribute", 1)]:
        with pytest.raises(AttributeError, match="immutable"):
            setattr(toy_mdp, name, value)
    with pytest.raises(AttributeError, match="immutable"):
        del toy_mdp.gamma
    assert toy_mdp.gamma == 0.9


def test_arrays_are_read_only(toy_mdp):
    assert not toy_mdp.transition.flags.writeable
    assert not toy_mdp.initial.flags.writeable
    assert not toy_mdp.support.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        toy_mdp.transition[0, 0, 0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        toy_mdp.initial[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        toy_mdp.transition[...] *= 2
    with pytest.raises(ValueError, match="read-only"):
        toy_mdp.support[0, 0, 1] = True
    np.testing.assert_array_equal(toy_mdp.transition.sum(-1), 1.0)
    # and they cannot be made writable again through the public attributes
    for arr in (toy_mdp.transition, toy_mdp.initial, toy_mdp.support):
        with pytest.raises(ValueError, match="WRITEABLE"):
            arr.flags.writeable = True


def test_hashable_identity_equality(toy_mdp):
    other = TabularMDP(toy_mdp.transition, toy_mdp.gamma)
    assert toy_mdp == toy_mdp and toy_mdp != other
    assert len({toy_mdp, other, toy_mdp}) == 2


def test_pickle_and_copy_round_trip(small_mdp):
    for clone in (pickle.loads(pickle.dumps(small_mdp)), copy.deepcopy(small_mdp),
                  copy.copy(small_mdp)):
        assert isinstance(clone, TabularMDP)
        np.testing.assert_array_equal(clone.transition, small_mdp.transition)
        np.testing.assert_array_equal(clone.initial, small_mdp.initial)
        assert clone.gamma == small_mdp.gamma
        assert not clone.transition.flags.writeable


def test_with_gamma_and_initial(small_mdp):
    m2 = small_mdp.with_gamma(0.5)
    assert m2.gamma == 0.5 and small_mdp.gamma == 0.8
    np.testing.assert_array_equal(m2.transition, small_mdp.transition)
    np.testing.assert_array_equal(m2.initial, small_mdp.initial)
    mu = np.eye(6)[2]
    m3 = small_mdp.with_initial(mu)
    np.testing.assert_array_equal(m3.initial, mu)
    assert m3.gamma == 0.8
    with pytest.raises(ValidationError, match=r"\bgamma\b"):
        small_mdp.with_gamma(1.0)
    with pytest.raises(ValidationError, match=r"\binitial\b"):
        small_mdp.with_initial(np.ones(6))


def test_support(garnet_mdp):
    s = garnet_mdp.support
    assert s.dtype == bool and s.shape == garnet_mdp.shape
    np.testing.assert_array_equal(s, np.asarray(garnet_mdp.transition) > 0)
    np.testing.assert_array_equal(s.sum(-1), 2)
    assert garnet_mdp.support is s  # cached


# ---------------------------------------------------------------------- reward helpers


def test_broadcast_reward_forms(small_mdp):
    rng = np.random.default_rng(0)
    n, m = 6, 3
    full = rng.standard_normal((n, m, n))
    out = starc.broadcast_reward(full, small_mdp)
    np.testing.assert_array_equal(out, full)
    sa = rng.standard_normal((n, m))
    out = starc.broadcast_reward(sa, small_mdp)
    assert out.shape == (n, m, n)
    np.testing.assert_array_equal(out, np.repeat(sa[:, :, None], n, axis=2))
    s = rng.standard_normal(n)
    out = starc.broadcast_reward(s, small_mdp)
    # a state reward is paid on the *current* state
    np.testing.assert_array_equal(out, np.broadcast_to(s[:, None, None], (n, m, n)))
    batch = rng.standard_normal((2, 4, n))
    out = starc.broadcast_reward(batch, small_mdp)
    assert out.shape == (2, 4, n, m, n)
    np.testing.assert_array_equal(out[1, 3, 5], np.full((m, n), batch[1, 3, 5]))
    out[0, 0, 0, 0, 0] = 99.0  # a writable copy, not a read-only broadcast view
    assert batch[0, 0, 0] != 99.0


def test_broadcast_reward_form_disambiguates():
    mdp = TabularMDP(np.full((3, 3, 3), 1 / 3), 0.5)
    r = np.arange(27.0).reshape(3, 3, 3)
    # auto reads (3, 3, 3) as a transition reward ...
    np.testing.assert_array_equal(starc.broadcast_reward(r, mdp), r)
    # ... and form="state" reads it as a (3, 3) batch of state rewards
    out = starc.broadcast_reward(r, mdp, form="state")
    assert out.shape == (3, 3, 3, 3, 3)
    np.testing.assert_array_equal(out[1, 2, :, 0, 0], r[1, 2])
    with pytest.raises(ValidationError, match=r"unknown reward form 'sa'"):
        starc.broadcast_reward(r, mdp, form="sa")
    with pytest.raises(ValidationError, match=r"^R2 has shape \(3, 3, 2\)"):
        starc.broadcast_reward(np.zeros((3, 3, 2)), mdp, form="transition", name="R2")


@given(mdp=mdps(max_states=5), data=st.data())
def test_expected_reward_matches_einsum(mdp, data):
    r = data.draw(reward_arrays(mdp, batch=data.draw(st.sampled_from([(), (3,), (2, 2)]))))
    ref = np.einsum("...sat,sat->...sa", r, mdp.transition)
    out = starc.expected_reward(r, mdp)
    assert out.shape == r.shape[:-1]
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-13 * np.abs(r).max())


def test_expected_reward_lower_forms(small_mdp):
    rng = np.random.default_rng(1)
    sa = rng.standard_normal((6, 3))
    # (S, A) rewards do not depend on s', so the expectation is the reward itself
    np.testing.assert_allclose(starc.expected_reward(sa, small_mdp), sa, rtol=1e-14)
    s = rng.standard_normal(6)
    np.testing.assert_allclose(starc.expected_reward(s, small_mdp),
                               np.repeat(s[:, None], 3, axis=1), rtol=1e-14)


def test_expected_reward_ignores_impossible_transitions(garnet_mdp):
    r = np.where(garnet_mdp.support, 0.0, 1e6)  # huge reward only where tau = 0
    np.testing.assert_array_equal(starc.expected_reward(r, garnet_mdp), 0.0)


def test_reward_nbytes_and_memory_check(small_mdp, monkeypatch):
    assert reward_nbytes(small_mdp) == 6 * 3 * 6 * 8
    assert reward_nbytes(small_mdp, (4, 5)) == 20 * 6 * 3 * 6 * 8
    check_reward_memory(small_mdp, (4,), "rewards")
    monkeypatch.setattr(starc._validation, "available_memory_bytes", lambda: 1000)
    with pytest.raises(ValidationError, match=r"rewards would need 3,456 bytes"):
        check_reward_memory(small_mdp, (4,), "rewards")


# ------------------------------------------------------------------ as_mdp and memo


def test_as_mdp_returns_the_mdp_and_names_the_argument(toy_mdp):
    assert as_mdp(toy_mdp) is toy_mdp
    with pytest.raises(ValidationError, match=r"env must be a starc.TabularMDP, got ndarray"):
        as_mdp(np.zeros((2, 2, 2)), "env")
    with pytest.raises(ValidationError, match=r"^mdp must be a starc.TabularMDP, got list; "
                                              r"build one with starc.TabularMDP"):
        as_mdp([[[1.0]]])


def test_validation_does_not_import_mdp():
    """``starc._validation`` is a leaf (no ``_validation <-> mdp`` cycle): none of its
    imports, top-level or inside a function, names a starc module but the two leaves
    ``exceptions`` and ``_rules`` (which imports only ``exceptions``)."""
    import ast
    import pathlib

    import starc._validation

    tree = ast.parse(pathlib.Path(starc._validation.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert ".mdp" not in imported and "starc.mdp" not in imported
    assert {m for m in imported if m.startswith((".", "starc"))} == {".exceptions", "._rules"}


def test_memo_computes_once_per_named_key_and_parts(toy_mdp):
    mdp = toy_mdp.with_gamma(0.5)  # a fresh MDP: nothing memoised yet
    calls = []

    def compute(tag):
        def f():
            calls.append(tag)
            return np.arange(3.0) * len(calls)
        return f

    first = mdp.memo("test_quantity", compute("a"), "x", 1)
    again = mdp.memo("test_quantity", compute("b"), "x", 1)
    assert again is first and calls == ["a"]
    other = mdp.memo("test_quantity", compute("c"), "x", 2)  # other parts: computed
    assert calls == ["a", "c"] and not np.array_equal(other, first)
    named = mdp.memo("another_quantity", compute("d"), "x", 1)  # another name: computed
    assert calls == ["a", "c", "d"] and named is not first
    assert mdp.memo_size("test_quantity") == 2 and mdp.memo_size("another_quantity") == 1
    assert mdp.memo_size("never_used") == 0
    # memoised on the object: another MDP with the same arrays computes its own
    twin = TabularMDP(mdp.transition, mdp.gamma, mdp.initial)
    twin.memo("test_quantity", compute("e"), "x", 1)
    assert calls[-1] == "e"


def test_memoised_arrays_are_read_only(toy_mdp):
    mdp = toy_mdp.with_gamma(0.5)
    arr = mdp.memo("test_array", lambda: np.ones(3))
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[0] = 2.0
    with pytest.raises(ValueError):  # a read-only view cannot be made writeable again
        arr.flags.writeable = True
    pair = mdp.memo("test_pair", lambda: (np.ones(2), (np.zeros(2), "solver")))
    assert not pair[0].flags.writeable and not pair[1][0].flags.writeable
    assert not mdp.support.flags.writeable


def test_memo_maxsize_drops_the_oldest(toy_mdp):
    mdp = toy_mdp.with_gamma(0.5)
    for i in range(5):
        mdp.memo("bounded", lambda i=i: float(i), i, maxsize=3)
    assert mdp.memo_size("bounded") == 3
    calls = []
    assert mdp.memo("bounded", lambda: calls.append(1) or -1.0, 4, maxsize=3) == 4.0
    assert mdp.memo("bounded", lambda: calls.append(1) or -1.0, 0, maxsize=3) == -1.0
    assert calls == [1]


def test_memo_clear(toy_mdp):
    mdp = toy_mdp.with_gamma(0.5)
    mdp.memo("a", lambda: 1.0)
    mdp.memo("b", lambda: 2.0)
    mdp.memo_clear("a")
    assert (mdp.memo_size("a"), mdp.memo_size("b")) == (0, 1)
    assert mdp.memo("a", lambda: 3.0) == 3.0
    mdp.memo_clear()
    assert (mdp.memo_size("a"), mdp.memo_size("b")) == (0, 0)


@pytest.mark.parametrize("call, pattern", [
    (lambda m: m.memo(("ones_norm", "l2"), lambda: 1.0), "key must be a non-empty str"),
    (lambda m: m.memo("", lambda: 1.0), "key must be a non-empty str"),
    (lambda m: m.memo("k", lambda: 1.0, [1, 2]), "parts of memo key 'k' must be hashable"),
    (lambda m: m.memo("k", lambda: 1.0, maxsize=0), "maxsize must be a positive int"),
    (lambda m: m.memo("k", 1.0), "compute must be a callable"),
    (lambda m: m.memo_size(3), "key must be a non-empty str"),
    (lambda m: m.memo_clear(3), "key must be a non-empty str"),
])
def test_memo_validates_its_key(toy_mdp, call, pattern):
    with pytest.raises(ValidationError, match=pattern):
        call(toy_mdp)


def test_solvers_memoise_under_named_keys(small_mdp):
    """The LU factors of a policy are memoised once under the name ``policy_lu``."""
    mdp = small_mdp.with_gamma(small_mdp.gamma)
    reward = np.random.default_rng(0).standard_normal(mdp.shape)
    v1 = starc.policy_evaluation(reward, mdp)
    assert mdp.memo_size("policy_lu") == 1
    v2 = starc.policy_evaluation(reward, mdp)
    assert mdp.memo_size("policy_lu") == 1
    np.testing.assert_array_equal(v1, v2)


@given(mdp=mdps(max_states=5), data=st.data())
def test_expectation_is_the_sum_over_next_states(mdp, data):
    r = data.draw(reward_arrays(mdp))
    batch = np.stack([r, 2.0 * r])
    expected = np.array([[[sum(mdp.transition[s, a, t] * x[s, a, t]
                               for t in range(mdp.n_states))
                           for a in range(mdp.n_actions)] for s in range(mdp.n_states)]
                         for x in batch])
    np.testing.assert_allclose(mdp.expectation(batch), expected, rtol=1e-12,
                               atol=1e-12 * (1.0 + np.abs(r).max()))
    np.testing.assert_array_equal(mdp.expectation(r), starc.expected_reward(r, mdp))


def test_expectation_checks_the_shape(toy_mdp):
    with pytest.raises(ValidationError, match=r"x must be an ndarray of shape \(\.\.\., 2, 2, 2\)"):
        toy_mdp.expectation(np.ones((2, 2)))
    with pytest.raises(ValidationError, match="x must be an ndarray"):
        toy_mdp.expectation([[[1.0, 0.0]] * 2] * 2)


# ------------------------------------------------------------------ sparse MDPs (issue 18)

def _sparse(mdp):
    import scipy.sparse as sp

    s, a = mdp.n_states, mdp.n_actions
    return sp.csr_array(np.asarray(mdp.transition).reshape(s * a, s))


def _bad_sparse(kind):
    import scipy.sparse as sp

    t = np.zeros((3, 2, 3))
    t[:, 0, 0] = 1.0
    t[:, 1, :] = 1.0 / 3.0
    flat = t.reshape(6, 3)
    if kind == "negative":
        flat = flat.copy()
        flat[1, 0], flat[1, 1] = -0.5, 0.5 + 1.0 / 3.0
        return sp.csr_array(flat), "negative entry -0.5 at .*(0, 1, 0)"
    if kind == "row_sum":
        flat = flat.copy()
        flat[4, 2] = 0.5
        return sp.csr_array(flat), r"row of \(state, action\) = \(2, 0\) \(row 4\) sums to 1.5"
    if kind == "empty_row":
        flat = flat.copy()
        flat[5] = 0.0
        return sp.csr_array(flat), r"\(2, 1\) \(row 5\) sums to 0.0"
    if kind == "shape":
        return sp.csr_array(np.ones((5, 3)) / 3), "rows are not a multiple"
    if kind == "one_dim":
        return sp.coo_array(np.ones(3) / 3), r"\(S\*A, S\)"
    if kind == "index":
        m = sp.csr_array(flat)
        m.indices[0] = 7  # out of range [0, 3)
        return m, "index"
    if kind == "nan":
        flat = flat.copy()
        flat[0, 0] = np.nan
        return sp.csr_array(flat), "NaN or infinite"
    if kind == "inf":
        flat = flat.copy()
        flat[0, 1] = np.inf
        return sp.csr_array(flat), "NaN or infinite"
    if kind == "complex":
        return sp.csr_array(flat.astype(complex)), "real-valued"
    if kind == "large":
        flat = flat.copy()
        flat[0, 0], flat[0, 1] = 2.0, -1.0
        return sp.csr_array(flat), "negative|must lie in"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["negative", "row_sum", "empty_row", "shape", "one_dim",
                                  "index", "nan", "inf", "complex", "large"])
def test_sparse_transition_rejects_bad_input(kind):
    bad, pattern = _bad_sparse(kind)
    with pytest.raises(ValidationError, match="transition") as err:
        TabularMDP(bad, 0.9)
    assert err.match(pattern)


def test_sparse_transition_is_canonical_read_only_and_not_aliased():
    import scipy.sparse as sp

    # duplicates (summed), an explicit zero (dropped), unsorted indices, int input
    rows = np.array([0, 0, 0, 1, 1])
    cols = np.array([1, 0, 1, 0, 1])
    vals = np.array([1, 2, 1, 0, 4])
    raw = sp.coo_array((vals, (rows, cols)), shape=(2, 2)).tocsr()
    raw = sp.csr_array(raw / np.array([[4.0], [4.0]]))
    mdp = TabularMDP(raw, 0.5)
    t = mdp.transition
    assert mdp.is_sparse and isinstance(t, sp.csr_array) and t.dtype == np.float64
    assert t.has_canonical_format and mdp.nnz == 3
    np.testing.assert_array_equal(t.toarray(), [[0.5, 0.5], [0.0, 1.0]])
    assert (mdp.n_states, mdp.n_actions, mdp.shape) == (2, 1, (2, 1, 2))
    for arr in (t.data, t.indices, t.indptr):
        assert not arr.flags.writeable
    raw.data[:] = 0.0  # the MDP owns its arrays
    np.testing.assert_array_equal(mdp.transition.toarray(), [[0.5, 0.5], [0.0, 1.0]])
    assert repr(mdp) == "TabularMDP(n_states=2, n_actions=1, gamma=0.5, sparse, nnz=3)"


@given(mdps())
def test_to_sparse_to_dense_round_trip(mdp):
    sparse = mdp.to_sparse()
    assert sparse.is_sparse and not mdp.is_sparse and sparse.to_sparse() is sparse
    assert sparse.shape == mdp.shape and sparse.gamma == mdp.gamma
    assert sparse.nnz == mdp.nnz == np.count_nonzero(mdp.transition)
    np.testing.assert_array_equal(sparse.initial, mdp.initial)
    back = sparse.to_dense()
    np.testing.assert_array_equal(back.transition, mdp.transition)
    assert mdp.to_dense() is mdp
    # pickling keeps the sparse storage
    again = pickle.loads(pickle.dumps(sparse))
    assert again.is_sparse and (again.transition != sparse.transition).nnz == 0
    assert sparse.with_gamma(0.5).is_sparse and sparse.with_initial(mdp.initial).is_sparse


def test_to_dense_refuses_beyond_its_budget_with_the_size():
    import scipy.sparse as sp

    mdp = TabularMDP(sp.csr_array(np.full((4, 2), 0.5)), 0.9)  # S = 2, A = 2
    with pytest.raises(ValidationError, match=r"to_dense would need 64 bytes"):
        mdp.to_dense(max_bytes=63)
    assert mdp.to_dense(max_bytes=64).shape == (2, 2, 2)


def test_sparse_mdp_refuses_dense_only_helpers(toy_mdp):
    sparse = toy_mdp.to_sparse()
    with pytest.raises(ValidationError, match="sparsity pattern"):
        sparse.support
    with pytest.raises(ValidationError, match="expected_reward"):
        sparse.expectation(np.zeros((2, 2, 2)))
    with pytest.raises(ValidationError, match="expected_reward"):
        starc.broadcast_reward(np.zeros((2, 2)), sparse)
    with pytest.raises(ValidationError, match="to_sparse"):
        starc.expected_reward(_sparse(toy_mdp), toy_mdp)


@given(mdps(), st.data())
def test_expected_reward_sparse_matches_dense(mdp, data):
    import scipy.sparse as sp

    sparse = mdp.to_sparse()
    s, a = mdp.n_states, mdp.n_actions
    for form in ("transition", "state_action", "state"):
        r = data.draw(reward_arrays(mdp, form=form))
        np.testing.assert_allclose(starc.expected_reward(r, sparse),
                                   starc.expected_reward(r, mdp), rtol=1e-13, atol=1e-300)
    r = data.draw(reward_arrays(mdp))
    rs = sp.csr_array(r.reshape(s * a, s))
    np.testing.assert_allclose(starc.expected_reward(rs, sparse), starc.expected_reward(r, mdp),
                               rtol=1e-12, atol=1e-12 * float(np.abs(r).max(initial=1.0)))


def test_sparse_reward_off_the_support_is_ignored():
    import scipy.sparse as sp

    t = np.array([[1.0, 0.0], [0.0, 1.0]])  # S = 2, A = 1, deterministic
    mdp = TabularMDP(sp.csr_array(t), 0.5)
    r = sp.csr_array(np.array([[3.0, 100.0], [-7.0, 2.0]]))  # 100 and -7 off the support
    np.testing.assert_array_equal(starc.expected_reward(r, mdp), [[3.0], [2.0]])


def test_sparse_reward_bad_input(toy_mdp, monkeypatch):
    import scipy.sparse as sp

    sparse = toy_mdp.to_sparse()
    with pytest.raises(ValidationError, match=r"shape \(S\*A, S\) = \(4, 2\)"):
        starc.expected_reward(sp.csr_array(np.ones((2, 4))), sparse)
    nan = sp.csr_array(np.array([[np.nan, 0], [0, 1.0], [1.0, 0], [0, 0]]))
    with pytest.raises(ValidationError, match="NaN"):
        starc.expected_reward(nan, sparse)
    with pytest.raises(ValidationError, match="NaN"):
        starc.expected_reward(np.array([np.nan, 1.0]), sparse)
    monkeypatch.setattr(starc.mdp, "DENSE_REWARD_MAX_BYTES", 63)
    with pytest.raises(ValidationError, match=r"64 bytes.*sparse \(S\*A, S\)"):
        starc.expected_reward(np.zeros((2, 2, 2)), sparse)


def test_dense_only_functions_refuse_sparse_mdps(toy_mdp):
    from starc.mdp import as_dense_mdp
    from starc.sampled import tabular_samplers

    sparse = toy_mdp.to_sparse()
    assert as_dense_mdp(toy_mdp, "f") is toy_mdp
    with pytest.raises(ValidationError, match=r"f does not support sparse MDPs.*to_dense"):
        as_dense_mdp(sparse, "f")
    calls = [
        (lambda: starc.random_reward(sparse, seed=0), "random_reward .*standard_normal"),
        (lambda: starc.random_potential_shaping(np.zeros((2, 2)), sparse, seed=0),
         "random_potential_shaping .*expected reward"),
        (lambda: starc.s_prime_redistribution(np.zeros((2, 2)), sparse, seed=0),
         "s_prime_redistribution"),
        (lambda: tabular_samplers(sparse), "tabular_samplers .*CSR"),
    ]
    for call, pattern in calls:
        with pytest.raises(ValidationError, match=pattern):
            call()


def test_environment_on_a_sparse_mdp_keeps_its_reward():
    sparse = starc.chain(4).mdp.to_sparse()
    env = starc.TabularEnvironment(sparse, np.arange(8.0).reshape(4, 2))
    assert env.reward.shape == (4, 2) and not env.reward.flags.writeable
    with pytest.raises(ValidationError, match="batch"):
        starc.TabularEnvironment(sparse, np.zeros((3, 4, 2)))
    with pytest.raises(ValidationError, match="NaN"):
        starc.TabularEnvironment(sparse, np.full((4, 2), np.nan))
