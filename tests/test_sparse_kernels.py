"""starc._sparse_kernels: the Gauss-Seidel sweeps against scipy's triangular solver, the
diagonal search, and the outcomes of the compiled BiCGSTAB."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve_triangular

from starc import _sparse_kernels as kern
from strategies import evaluation_system


def _m_matrix(n: int = 300, gamma: float = 0.9, seed: int = 0) -> sp.csr_array:
    """``I - gamma P`` with four successors per row (sorted CSR, diagonal stored): the
    systems of sparse policy evaluation."""
    return evaluation_system(n, gamma, seed, successors=4)[0]


def _parts(m):
    indptr = m.indptr.astype(np.int64)
    indices = m.indices.astype(np.int64)
    diag = np.empty(m.shape[0], dtype=np.int64)
    kern.diagonal_positions(indptr, indices, diag)
    return indptr, indices, m.data.astype(np.float64), diag


def test_diagonal_positions_find_the_diagonal_or_minus_one():
    m = _m_matrix()
    indptr, indices, data, diag = _parts(m)
    assert np.all(indices[diag] == np.arange(m.shape[0]))
    np.testing.assert_array_equal(data[diag], m.diagonal())
    no_diag = sp.csr_array(np.array([[0.0, 1.0], [1.0, 2.0]]))
    out = np.empty(2, dtype=np.int64)
    kern.diagonal_positions(no_diag.indptr.astype(np.int64), no_diag.indices.astype(np.int64),
                            out)
    np.testing.assert_array_equal(out, [-1, 2])  # row 1 stores columns 0 and 1 at 1, 2


@pytest.mark.parametrize("seed", [0, 1])
def test_sweeps_solve_the_triangular_systems_as_scipy_does(seed):
    """``(D + L) z = v`` and ``(D + U) x = D z``, compared with
    ``scipy.sparse.linalg.spsolve_triangular`` (an independent implementation) to the
    round-off of a triangular solve of a diagonally dominant matrix."""
    m = _m_matrix(seed=seed)
    indptr, indices, data, diag = _parts(m)
    d = data[diag].copy()
    v = np.random.default_rng(seed + 7).standard_normal(m.shape[0])
    z = np.empty_like(v)
    kern.lower_sweep(indptr, indices, data, diag, v, z)
    lower = sp.csr_array(sp.tril(m, format="csr"))
    upper = sp.csr_array(sp.triu(m, format="csr"))
    z_ref = spsolve_triangular(lower, v, lower=True)
    np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-12 * np.abs(z_ref).max())
    x = z.copy()
    kern.scaled_upper_sweep(indptr, indices, data, diag, d, x)
    x_ref = spsolve_triangular(upper, d * z, lower=False)
    np.testing.assert_allclose(x, x_ref, rtol=1e-12, atol=1e-12 * np.abs(x_ref).max())


def _run(m, b, goal, floor2, maxiter, ord_one=False, stagnation=25):
    indptr, indices, data, diag = _parts(m)
    d = data[diag].copy()
    n = m.shape[0]
    x = np.zeros(n)
    state = np.array([0.0, np.inf, 0.0, 0.0])
    out = kern.bicgstab_sgs(indptr, indices, data, diag, d, b, x, goal, floor2, maxiter,
                            ord_one, stagnation, state, np.empty(n), np.empty((8, n)))
    return out, x, state


@pytest.mark.parametrize("ord_one", [False, True])
def test_bicgstab_reaches_its_goal_on_the_true_residual(ord_one):
    m = _m_matrix(seed=2)
    b = np.random.default_rng(3).standard_normal(m.shape[0])
    out, x, state = _run(m, b, 1e-10, 0.0, 500, ord_one)
    assert out == kern.REACHED and 0 < state[0] < 500
    assert np.linalg.norm(b - m @ x, 1 if ord_one else np.inf) <= 1e-10


def test_bicgstab_outcomes_small_and_exhausted():
    m = _m_matrix(seed=4)
    b = np.random.default_rng(5).standard_normal(m.shape[0])
    out, x, _ = _run(m, b, 0.0, 1e300, 500)      # any residual is below floor2
    assert out == kern.SMALL and np.all(x == 0.0)
    out, x, state = _run(m, b, 0.0, 0.0, 2)      # an unreachable goal, two iterations
    assert out == kern.EXHAUSTED and state[0] == 2
    assert np.linalg.norm(b - m @ x, np.inf) < np.linalg.norm(b, np.inf)
