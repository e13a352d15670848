r"""Reward distances on large sparse MDPs, without ever forming an ``(S, A, S)`` array (private).

A sparse MDP (THEORY §11, DESIGN §3) stores :math:`\tau` as a CSR matrix ``T`` of shape
``(S*A, S)`` (row ``s*A + a``) with a handful of successors per row. Everything below is
computed from ``(S, A)`` arrays, ``(S,)`` arrays and sparse matrices with the pattern of
``T`` or of the reward, in time and memory linear in :math:`SA + \mathrm{nnz}`. The
public functions of :mod:`starc.canonical`, :mod:`starc.norms` and :mod:`starc.distances`
call in here when ``mdp.is_sparse``.

Rewards
-------
A reward on a sparse MDP is ``(..., S, A)`` or ``(..., S)`` (constant in :math:`s'`), a
``scipy.sparse`` matrix of shape ``(S*A, S)`` (zero where nothing is stored, as
``R.toarray().reshape(S, A, S)`` would be), or a dense ``(S, A, S)`` array below
:data:`DENSE_REWARD_MAX_BYTES` (stored as the sparse matrix of its nonzeros). Every
reward is therefore held as

.. math::

    R(s, a, s') = x(s, a) + Z(s, a, s'), \qquad Z \text{ sparse,}

and its expectation is :math:`\bar R(s,a) = x(s,a)\sum_{s'}\tau(s'|s,a) +
\sum_{s'}\tau(s'|s,a) Z(s,a,s')`, a sum over the stored entries of ``T``.

VAL and value-dependent canonicals
----------------------------------
The VAL canonical [1]_ (Prop. 2) is the :math:`\pi`-advantage,

.. math::

    c_{\mathrm{VAL}}(R)(s, a, s') = Q^\pi(s, a) - V^\pi(s) =: u(s, a)
    \quad\text{for every } s',

so it is returned as the ``(S, A)`` array :math:`u`. :math:`V^\pi` solves
:math:`(I - \gamma P_\pi) V = r_\pi` with the sparse :math:`P_\pi = \Pi T`, solved by
starc's one sparse policy solver (:func:`starc._sparse_linalg.solve`: sparse LU, or for
large :math:`S` BiCGSTAB with a symmetric Gauss-Seidel preconditioner); one
factorisation serves every reward of a batch (an ``(S, K)`` right-hand side), and every solve is
accepted only when its residual certifies
:math:`\|V - \hat V\|_\infty \le \|r - (I - \gamma P_\pi)\hat V\|_\infty / (1 - \gamma)
\le 10^{-10}\max|r_\pi| / (1 - \gamma)` (THEORY §11).

Norms of an :math:`s'`-constant array. Over all :math:`(s, a, s')`,

.. math::

    \|c\|_p = S^{1/p}\,\|u\|_p, \qquad \|c\|_\infty = \|u\|_\infty ,

and with transition weights (rows of :math:`\tau` sum to one)
:math:`\|c\|_{\tau,p} = \big(\sum_{s,a} |u(s,a)|^p \sum_{s'}\tau(s'|s,a)\big)^{1/p} =
\|u\|_p` — the dense code's weight 1 per :math:`(s, a)` — and
:math:`\|c\|_{\tau,\infty} = \|u\|_\infty` (every row has a successor). The metric of two
VAL canonicals is the same norm of :math:`u_1 - u_2`.

Minimal :math:`L_2` canonical
-----------------------------
The closed form of :mod:`starc.canonical` stays sparse: with
:math:`w(s,a) = 1/\|\tau(\cdot|s,a)\|_2^2` and :math:`B = \gamma T - E`
(:math:`E[(s,a), s] = 1`), the potential solves the normal equations
:math:`B^\top W B\,\Phi = -B^\top W \bar R`, whose matrix
:math:`G = \gamma^2 T^\top W T - \gamma(M + M^\top) + \operatorname{diag}(\sum_a w)`
couples only states two transitions apart (sparse, symmetric positive definite), and

.. math::

    c(R)(s, a, s') = m(s, a)\,\frac{\tau(s'|s,a)}{\|\tau(\cdot|s,a)\|_2^2}, \qquad
    m = \bar R + \gamma T\Phi - \Phi,

lives on the support of ``T``: it is returned as a CSR ``(S*A, S)`` matrix. Its norms
are :math:`(\sum_{s,a} w_p(s,a) |m(s,a)|^p)^{1/p}` with the per-row factors of
:mod:`starc.distances` (e.g. :math:`1/\|\tau\|_2^2` for :math:`L_2`), sums over the
stored entries.

Canonicals that depend on :math:`s'`
------------------------------------
``"none"``, ``"val_potential"``, ``"epic"`` and ``"dard"`` are nonzero on the whole
product :math:`S \times A \times S`, but each has the form

.. math::

    c(s, a, s') = x(s, a) + y(s') + Z(s, a, s'), \qquad Z \text{ sparse:}

``none``: :math:`x = x_R, y = 0, Z = Z_R`; ``val_potential``
(:math:`R - V^\pi(s) + \gamma V^\pi(s')`): :math:`x = x_R - V^\pi, y = \gamma V^\pi`;
``epic`` [2]_ with :math:`f(s) = \sum_a D_A(a)\sum_{s'} D_S(s') R(s,a,s')`:
:math:`x = x_R - f - \gamma\,\mathbb E_{D_S} f`, :math:`y = \gamma f`; ``dard`` [3]_ with
:math:`g = \bar R D_A` and :math:`h(s,s') = \sum_a D_A(a) [T_a R_a T_a^\top](s, s')`:
the :math:`x_R` part of :math:`h` is :math:`\sum_a D_A(a) (T_a x_a)(s)` (rows of
:math:`T_a` sum to one), a function of :math:`s` that joins :math:`x`; the :math:`Z_R`
part :math:`H = \sum_a D_A(a) T_a Z_a T_a^\top` is a sparse :math:`S\times S` matrix
(states linked by successor, reward entry, predecessor) subtracted, times
:math:`\gamma`, from every action's row. Their norms over all :math:`S^2 A` entries have
closed forms in :math:`O(SA\log S + \mathrm{nnz})`. With :math:`\bar x, \bar y` the
means of :math:`x` over :math:`(s,a)` and of :math:`y` over :math:`s'`, and
:math:`b = x(s,a) + y(s')` on the stored entries of :math:`Z`,

.. math::

    \sum_{s,a,s'} c^2 = S\sum_{s,a}(x - \bar x)^2 + SA\sum_{s'}(y - \bar y)^2
        + S^2 A\,(\bar x + \bar y)^2 + \sum_{Z \ne 0} Z\,(2b + Z)

(centred sums: no cancellation between the first three terms);
:math:`\sum|x_i + y_j|` over all pairs follows from the sorted :math:`-y` and its prefix
sums (:math:`\sum_j |x_i - t_j| = x_i k - P_k + (P_S - P_k) - x_i (S - k)` with
:math:`k = \#\{t_j < x_i\}`), corrected by :math:`\sum_{Z\ne0}(|b + Z| - |b|)`; and the
maximum is the larger of the maximum over the stored entries and, per row, the largest
:math:`|x_i + y_j|` over the :math:`j` not stored (walk the sorted :math:`y` past the
stored columns: the first rank missing from a row's sorted ranks). Transition-weighted
norms need :math:`c` on the support of ``T`` only: sums over its stored entries.

The Pearson distance of EPIC and DARD under the uniform coverage of
:math:`S\times A\times S` is, after subtracting the mean
:math:`\bar x + \bar y + \sum Z / (S^2 A)` from :math:`x`,
:math:`\tfrac12\|c_1/\|c_1\|_2 - c_2/\|c_2\|_2\|_2`, the same closed form. A custom
coverage is a dense ``(S, A, S)`` array: refused. The canonical arrays themselves are
dense: :func:`starc.canonicalize` refuses them (use the distances, or densify a small MDP
with ``mdp.to_dense()``).

Limits of the closed forms. The correction :math:`\sum Z(2b + Z)` cancels against the
closed form when the stored entries carry most of :math:`\sum b^2` — a small MDP whose
reward fills most transitions — leaving round-off of order :math:`\epsilon\sum b^2`
that a square root turns into :math:`\sqrt\epsilon` on a distance near zero. Products
of at most :data:`EXPLICIT_MAX_ENTRIES` entries are therefore summed term by term (the
stored entries and their complement); on larger MDPs each row stores a vanishing fraction
of its :math:`S` columns and the closed form is accurate.

``"minimal"`` (cvxpy over all :math:`(s, a, s')`) and ``"minimal_potential"`` are
refused on sparse MDPs.

References
----------
.. [1] Skalse et al. "STARC". ICLR 2024, Def. 1, Prop. 2, Def. 3, Def. 4.
.. [2] Gleave et al. "Quantifying Differences in Reward Functions". ICLR 2021, Def. 4.1.
.. [3] Wulfe et al. "Dynamics-Aware Comparison of Learned Reward Functions". ICLR 2022.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _sparse_linalg
from ._extremes import scale_exponents, unscale_checked
from ._rules import DARD_MAX_NNZ, DENSE_REWARD_MAX_BYTES, EXPLICIT_MAX_ENTRIES, SPLU_MAX_STATES
from ._validation import as_float_array, check_distribution, check_policy, reward_form
from .exceptions import ConvergenceError, ValidationError
from .norms import ZERO_RTOL, check_norm_name, p_of

__all__: list[str] = []

#: Canonicalizations available on sparse MDPs.
SPARSE_CANONICALIZATIONS = ("none", "epic", "dard", "val", "val_potential", "minimal_l2")

#: Canonicals returned by :func:`canonicalize` on a sparse MDP (the others are dense).
_RETURNABLE = ("val", "minimal_l2")


def _sp():
    import scipy.sparse as sp

    return sp


def is_sparse_mdp(mdp) -> bool:
    """Whether ``mdp`` is a sparse MDP (``mdp.is_sparse``; False for anything else)."""
    return bool(getattr(mdp, "is_sparse", False))


# ----------------------------------------------------------------------- per-MDP memo


def _memo(mdp, key: str, build, *parts, maxsize: int | None = None):
    """``build()`` memoised on the MDP under ``"sparse_" + key`` (:meth:`TabularMDP.memo`)."""
    return mdp.memo("sparse_" + key, build, *parts, maxsize=maxsize)


def _shape(mdp) -> tuple[int, int]:
    return int(mdp.n_states), int(mdp.n_actions)


def row_sums(mdp) -> np.ndarray:
    """``sum_s' T[(s,a), s']`` as ``(S, A)`` (memoised on the MDP)."""
    n, m = _shape(mdp)
    return _memo(mdp, "rowsum",
                 lambda: np.asarray(mdp.transition.sum(axis=1)).reshape(n, m))


def t_rows(mdp) -> np.ndarray:
    """The row of every stored entry of ``T``."""
    t = mdp.transition
    return _memo(mdp, "rows", lambda: np.repeat(np.arange(t.shape[0]), np.diff(t.indptr)))


def _keys(mat) -> np.ndarray:
    """Row-major keys ``row * n_cols + col`` of the stored entries of a canonical CSR."""
    rows = np.repeat(np.arange(mat.shape[0], dtype=np.int64), np.diff(mat.indptr))
    return rows * mat.shape[1] + mat.indices.astype(np.int64)


def _t_keys(mdp) -> np.ndarray:
    return _memo(mdp, "keys", lambda: _keys(mdp.transition))


def _csr(mat):
    """A canonical float64 CSR copy (sorted indices, duplicates summed, zeros dropped)."""
    out = _sp().csr_matrix(mat, dtype=np.float64, copy=True)
    out.sum_duplicates()
    out.eliminate_zeros()
    out.sort_indices()
    return out


def on_support(mdp, z) -> np.ndarray:
    """The entries of sparse ``z (S*A, S)`` at the stored entries of ``T`` (0 where absent)."""
    out = np.zeros(mdp.transition.nnz)
    if z is None or z.nnz == 0:
        return out
    tk = _t_keys(mdp)
    zk = _keys(z)
    pos = np.searchsorted(tk, zk)
    pos_c = np.minimum(pos, tk.size - 1)
    hit = (pos < tk.size) & (tk[pos_c] == zk)
    out[pos_c[hit]] = z.data[hit]
    return out


# ----------------------------------------------------------------------- rewards


class SparseRewards(NamedTuple):
    """``K`` rewards ``R_k = x_k (s'-constant) + z_k (sparse)`` and their batch shape."""

    x: np.ndarray            # (K, S, A)
    z: list                  # K entries: CSR (S*A, S) or None
    batch: tuple

    def item(self, k: int) -> SparseRewards:
        return SparseRewards(self.x[k:k + 1], self.z[k:k + 1], ())


def _finite_sparse(mat, name: str):
    if mat.ndim != 2:
        raise ValidationError(f"{name} must be a 2-D sparse matrix of shape (S*A, S)")
    if mat.dtype.kind not in "biuf":
        raise ValidationError(f"{name} must hold real numbers, got dtype {mat.dtype}")
    out = _csr(mat)
    if not np.all(np.isfinite(out.data)):
        raise ValidationError(f"{name} has NaN or infinite entries; rewards must be finite")
    return out


def parse_rewards(reward, mdp, name: str = "reward") -> SparseRewards:
    """Read a reward (or a batch) on a sparse MDP as :class:`SparseRewards`.

    Accepts ``(..., S, A)``, ``(..., S)``, a ``scipy.sparse`` ``(S*A, S)`` matrix, a list
    of such matrices (a batch), or a dense ``(..., S, A, S)`` array of at most
    :data:`DENSE_REWARD_MAX_BYTES`.
    """
    sp = _sp()
    n, m = _shape(mdp)
    if sp.issparse(reward) or (isinstance(reward, (list, tuple)) and reward
                               and all(sp.issparse(r) for r in reward)):
        mats = [reward] if sp.issparse(reward) else list(reward)
        zs = []
        for k, mat in enumerate(mats):
            label = name if sp.issparse(reward) else f"{name}[{k}]"
            if mat.shape != (n * m, n):
                raise ValidationError(f"{label} is a sparse matrix of shape {mat.shape}; on "
                                      f"this MDP a sparse reward has shape (S*A, S) = "
                                      f"({n * m}, {n}) (row s*A + a)")
            zs.append(_finite_sparse(mat, label))
        batch = () if sp.issparse(reward) else (len(zs),)
        return SparseRewards(np.zeros((len(zs), n, m)), zs, batch)
    arr = as_float_array(reward, name, min_ndim=1)
    kind = reward_form(arr.shape, n, m, "auto", name)
    if kind == "transition":
        if arr.nbytes > DENSE_REWARD_MAX_BYTES:
            raise ValidationError(
                f"{name} is a dense (S, A, S) array of {arr.nbytes:,} bytes on a sparse MDP; "
                f"the limit is {DENSE_REWARD_MAX_BYTES:,} bytes: pass an (S, A) or (S,) reward, "
                "or a scipy.sparse (S*A, S) matrix on the transition's support")
        batch = arr.shape[:-3]
        flat = arr.reshape((-1, n * m, n))
        zs = [_csr(sp.csr_matrix(item)) for item in flat]
        return SparseRewards(np.zeros((flat.shape[0], n, m)), zs, batch)
    if kind == "state_action":
        batch = arr.shape[:-2]
        x = arr.reshape((-1, n, m))
    else:
        batch = arr.shape[:-1]
        x = np.repeat(arr.reshape((-1, n))[:, :, None], m, axis=2)
    return SparseRewards(np.ascontiguousarray(x), [None] * x.shape[0], batch)


def expected(rw: SparseRewards, mdp) -> np.ndarray:
    r""":math:`\bar R_k(s, a)` ``(K, S, A)``: sums over the stored entries of ``T``."""
    n, m = _shape(mdp)
    out = rw.x * row_sums(mdp)
    t = mdp.transition
    rows = t_rows(mdp)
    for k, z in enumerate(rw.z):
        if z is not None:
            out[k] += np.bincount(rows, t.data * on_support(mdp, z),
                                  minlength=n * m).reshape(n, m)
    return out


def magnitudes(rw: SparseRewards, mdp) -> tuple[np.ndarray, np.ndarray]:
    r"""``(max |R_k|, max_{s,a} E_tau |R_k|)`` per reward, each ``(K,)``."""
    n, m = _shape(mdp)
    big = np.abs(rw.x).max(axis=(1, 2), initial=0.0)
    mag = np.empty(len(rw.z))
    t = mdp.transition
    rows = t_rows(mdp)
    for k, z in enumerate(rw.z):
        if z is None:
            mag[k] = float((np.abs(rw.x[k]) * row_sums(mdp)).max(initial=0.0))
            continue
        big[k] = max(big[k], float(np.abs(z.data).max(initial=0.0)))
        vals = np.abs(rw.x[k].ravel()[rows] + on_support(mdp, z))
        mag[k] = float(np.bincount(rows, t.data * vals, minlength=n * m).max(initial=0.0))
    return big, mag


def rescaled(rw: SparseRewards, ex: np.ndarray | None) -> SparseRewards:
    """``R_k * 2**-ex_k`` (exact)."""
    if ex is None:
        return rw
    x = np.ldexp(rw.x, -ex[:, None, None])
    zs = []
    for k, z in enumerate(rw.z):
        if z is not None:
            z = z.copy()
            z.data = np.ldexp(z.data, -int(ex[k]))
        zs.append(z)
    return SparseRewards(x, zs, rw.batch)


# ----------------------------------------------------------------------- linear solves


def _policy_array(policy, mdp) -> np.ndarray:
    n, m = _shape(mdp)
    if isinstance(policy, str) and policy == "uniform":
        return _memo(mdp, "uniform", lambda: np.full((n, m), 1.0 / m))
    return check_policy(policy, n, m)


def action_matrix(mdp, actions: np.ndarray):
    r""":math:`P_\pi` of a deterministic policy: the rows ``s*A + actions[s]`` of ``T``."""
    return _sparse_linalg.policy_matrix(mdp, np.asarray(actions))


def q_from_values(rbar: np.ndarray, v: np.ndarray, mdp) -> np.ndarray:
    r""":math:`Q = \bar R + \gamma T V` for ``rbar (..., S, A)``, ``v (..., S)``."""
    return _sparse_linalg.q_from_values(mdp, rbar, v)


def evaluate(rbar: np.ndarray, mdp, pi: np.ndarray) -> np.ndarray:
    r""":math:`V^\pi` ``(K, S)`` of expected rewards ``(K, S, A)``: one solve, ``K`` columns."""
    r_pi = np.einsum("ksa,sa->ks", rbar, pi)
    return _sparse_linalg.evaluate_many(mdp, pi, r_pi, roundoff=True)[0]


# ----------------------------------------------------------------------- canonicals


class Factored(NamedTuple):
    """``u (K, S, A)`` times a per-row profile over ``s'``: ``"ones"`` (VAL) or ``"l2"``."""

    u: np.ndarray
    profile: str


class Outer(NamedTuple):
    """``c_k(s, a, s') = x_k(s, a) + y_k(s') + z_k(s, a, s')`` with ``z_k`` sparse or None."""

    x: np.ndarray   # (K, S, A)
    y: np.ndarray   # (K, S)
    z: list


class Canonical(NamedTuple):
    """A canonical (:class:`Factored` or :class:`Outer`), its per-entry round-off bound
    ``noise (K,)`` and the power-of-two exponents it was computed at (or None)."""

    value: object
    noise: np.ndarray
    exponent: np.ndarray | None


def check_method(method) -> str:
    """Refuse the canonicalizations that have no sparse form, saying why."""
    if callable(method):
        raise ValidationError("canonicalization callables take (S, A, S) arrays, which a sparse "
                              "MDP never forms; use a name from "
                              f"{list(SPARSE_CANONICALIZATIONS)}")
    if method in ("minimal", "minimal_potential"):
        raise ValidationError(
            f"the {method!r} canonicalization solves a convex program over all (s, a, s') "
            "(or every potential), which needs the dense (S, A, S) array; on a sparse MDP use "
            "'val' or 'minimal_l2' (the L2-minimal canonical, closed form and sparse), or "
            "densify a small MDP with mdp.to_dense()")
    if method not in SPARSE_CANONICALIZATIONS:
        raise ValidationError(f"unknown canonicalization {method!r}; on a sparse MDP choose "
                              f"from {list(SPARSE_CANONICALIZATIONS)}")
    return method


def _weights(mdp) -> np.ndarray:
    """``w(s, a) = 1 / ||tau(.|s,a)||_2^2`` ``(S*A,)``."""
    t = mdp.transition
    return _memo(mdp, "w", lambda: 1.0 / np.asarray(t.multiply(t).sum(axis=1)).ravel())


class _GramSolver:
    """Solves the minimal-L2 normal equations ``G Phi = rhs`` (sparse SPD ``G``)."""

    def __init__(self, mdp):
        sp = _sp()
        n, m = _shape(mdp)
        t = mdp.transition
        w = _weights(mdp)
        e = sp.csr_matrix((np.ones(n * m), (np.arange(n * m), np.repeat(np.arange(n), m))),
                          shape=(n * m, n))
        b = _csr(mdp.gamma * t - e)
        self.g = _csr(b.T @ sp.diags(w) @ b)
        if n <= SPLU_MAX_STATES:
            from scipy.sparse.linalg import splu

            self._lu = splu(self.g.tocsc(), permc_spec="MMD_AT_PLUS_A")
        else:
            self._lu = None
            self._diag = self.g.diagonal()

    def solve(self, rhs: np.ndarray) -> np.ndarray:  # rhs (S, K)
        if self._lu is not None:
            return self._lu.solve(np.asfortranarray(rhs))
        from scipy.sparse.linalg import LinearOperator, cg

        n = rhs.shape[0]
        pre = LinearOperator((n, n), matvec=lambda v: v / self._diag)
        cols = []
        for k in range(rhs.shape[1]):
            x, info = cg(self.g, rhs[:, k], rtol=1e-13, atol=0.0, M=pre, maxiter=100_000)
            if info != 0:
                raise ConvergenceError("minimal_l2 on a sparse MDP: the conjugate-gradient "
                                       "solve of the normal equations did not converge")
            cols.append(x)
        return np.column_stack(cols)


def minimal_l2_coefficients(rbar: np.ndarray, mdp, refinements: int = 2):
    r""":math:`m_{\Phi^*}` ``(K, S, A)`` and :math:`\Phi^*` ``(K, S)`` (normal equations,
    then ``refinements`` steps of iterative refinement on the residual, as dense)."""
    n, m = _shape(mdp)
    gram = _memo(mdp, "gram", lambda: _GramSolver(mdp))
    t = mdp.transition
    w = _weights(mdp).reshape(n, m)

    def step(resid):
        wr = w * resid  # (K, S, A)
        bty = mdp.gamma * (t.T @ wr.reshape(-1, n * m).T) - wr.sum(axis=-1).T  # (S, K)
        return np.ascontiguousarray(gram.solve(-bty).T)

    def shaped(phi):
        return q_from_values(rbar, phi, mdp) - phi[..., None]

    phi = step(rbar)
    mphi = shaped(phi)
    for _ in range(refinements):
        phi = phi + step(mphi)
        mphi = shaped(phi)
    return mphi, phi


def _max_abs(a: np.ndarray, axes) -> np.ndarray:
    return np.abs(a).max(axis=axes, initial=0.0)


def canonical(rw: SparseRewards, mdp, method: str, *, pi, state_dist, action_dist
              ) -> Canonical:
    """The canonical of each reward, in the units ``R * 2**-exponent`` (exact rescaling)."""
    big, mag = magnitudes(rw, mdp)
    ex = scale_exponents(big)
    if ex is not None:
        rw = rescaled(rw, ex)
        big, mag = magnitudes(rw, mdp)
    gamma = float(mdp.gamma)
    if method in ("val", "minimal_l2"):
        rbar = expected(rw, mdp)
        if method == "val":
            v = evaluate(rbar, mdp, pi)
            u = q_from_values(rbar, v, mdp) - v[..., None]
            value = Factored(u, "ones")
        else:
            u, v = minimal_l2_coefficients(rbar, mdp)
            value = Factored(u, "l2")
        return Canonical(value, ZERO_RTOL * np.maximum(mag, _max_abs(v, 1)), ex)
    k = rw.x.shape[0]
    n, m = _shape(mdp)
    if method == "none":
        return Canonical(Outer(rw.x, np.zeros((k, n)), rw.z), ZERO_RTOL * big, ex)
    if method == "val_potential":
        v = evaluate(expected(rw, mdp), mdp, pi)
        out = Outer(rw.x - v[:, :, None], gamma * v, rw.z)
        return Canonical(out, ZERO_RTOL * np.maximum(big, _max_abs(v, 1)), ex)
    if method == "epic":
        ds, da = state_dist, action_dist
        f = np.empty((k, n))
        for j in range(k):
            inner = rw.x[j] * float(ds.sum())
            if rw.z[j] is not None:
                inner = inner + (rw.z[j] @ ds).reshape(n, m)
            f[j] = inner @ da
        mean_f = f @ ds
        out = Outer(rw.x - f[:, :, None] - gamma * mean_f[:, None, None], gamma * f, rw.z)
        return Canonical(out, ZERO_RTOL * big, ex)
    # dard
    da = action_dist
    rbar = expected(rw, mdp)
    g = rbar @ da  # (K, S)
    t = mdp.transition
    kx = np.zeros((k, n))
    for a in range(m):
        if da[a] != 0.0:
            kx += da[a] * (t[a::m] @ rw.x[:, :, a].T).T
    zs = []
    for j in range(k):
        z = rw.z[j]
        if z is not None:
            h = _dard_h(z, mdp, da)
            if h.nnz:
                rep = h[np.repeat(np.arange(n), m)]
                z = _csr(z - gamma * rep)
        zs.append(z)
    out = Outer(rw.x - g[:, :, None] - gamma * kx[:, :, None], gamma * g, zs)
    return Canonical(out, ZERO_RTOL * big, ex)


def _dard_h(z, mdp, da):
    r""":math:`H = \sum_a D_A(a)\, T_a Z_a T_a^\top` (sparse ``(S, S)``)."""
    sp = _sp()
    n, m = _shape(mdp)
    t = mdp.transition
    h = sp.csr_matrix((n, n))
    for a in range(m):
        if da[a] == 0.0:
            continue
        ta, za = t[a::m], z[a::m]
        part = (ta @ za) @ ta.T
        h = h + da[a] * part
        if h.nnz * m > DARD_MAX_NNZ:
            raise ValidationError(
                f"the DARD canonical of this sparse (S*A, S) reward has more than "
                f"{DARD_MAX_NNZ:,} stored entries (reward entries spread over successors and "
                "predecessors); pass the reward as (S, A) (its DARD canonical stays a closed "
                "form) or use 'val'")
    return _csr(h)


# ----------------------------------------------------------------------- norms


def ones_norm(mdp, ord: str) -> float:
    """Norm of the all-ones ``(S, A, S)`` array."""
    n, m = _shape(mdp)
    p = p_of(ord)
    if p == np.inf:
        return 1.0
    count = float(n) * m * (1 if ord.startswith("weighted_") else n)
    return count ** (1.0 / p)


def profile_weights(mdp, profile: str, ord: str) -> np.ndarray:
    """Per-(s, a) factors of the norm of a :class:`Factored` canonical (the dense table)."""
    if profile not in ("ones", "l2"):
        raise ValidationError(f"profile {profile!r} belongs to the 'minimal' canonicalization, "
                              "which sparse MDPs do not offer; profiles here: 'ones', 'l2'")

    def build():
        n, m = _shape(mdp)
        t = mdp.transition
        p = p_of(ord)
        weighted = ord.startswith("weighted_")
        if profile == "ones":
            return np.full((n, m), 1.0 if (weighted or p == np.inf) else float(n))
        sq = np.asarray(t.multiply(t).sum(axis=1)).reshape(n, m)
        if p == np.inf:
            return np.asarray(t.max(axis=1).toarray()).reshape(n, m) / sq
        if p == 1.0:
            return np.ones((n, m)) if weighted else 1.0 / sq
        if weighted:
            return np.asarray(t.power(3).sum(axis=1)).reshape(n, m) / sq**2
        return 1.0 / sq
    return _memo(mdp, "profile_weights", build, profile, ord)


def _factored_norm(u: np.ndarray, profile: str, ord: str, mdp) -> np.ndarray:
    w = profile_weights(mdp, profile, ord)
    p = p_of(ord)
    if p == 2.0:
        return np.sqrt(np.einsum("...sa,...sa,sa->...", u, u, w))
    a = np.abs(u)
    if p == np.inf:
        return (a * w).max(axis=(-2, -1), initial=0.0)
    return np.einsum("...sa,sa->...", a, w)


def _outer_norm_one(x, y, z, ord: str, mdp) -> float:
    """Norm of one ``x (S, A) + y (S,) + z`` over all ``(s, a, s')`` or the support."""
    n, m = _shape(mdp)
    p = p_of(ord)
    xf = x.ravel()
    if ord.startswith("weighted_"):
        t = mdp.transition
        rows = t_rows(mdp)
        vals = np.abs(xf[rows] + y[t.indices] + on_support(mdp, z))
        if p == np.inf:
            return float(vals.max(initial=0.0))
        rowwise = np.bincount(rows, t.data * vals ** p, minlength=n * m)
        return float(rowwise.sum() ** (1.0 / p))
    if z is not None and z.nnz:
        zr = np.repeat(np.arange(n * m), np.diff(z.indptr))
        b = xf[zr] + y[z.indices]
        zd = z.data
    else:
        zr = b = zd = None
    if p == 2.0:
        if zd is not None and float(n) * n * m <= EXPLICIT_MAX_ENTRIES:
            # small product: the stored entries and their complement summed term by term
            # (no cancellation between the closed form and the stored entries' b^2)
            off = np.ones((n * m, n), dtype=bool)
            off[zr, z.indices] = False
            full = xf[:, None] + y[None, :]
            rest = full[off]
            stored = b + zd
            return float(np.sqrt(rest @ rest + stored @ stored))
        xm, ym = xf.mean(), y.mean()
        xc, yc = xf - xm, y - ym
        total = n * float(xc @ xc) + n * m * float(yc @ yc) + float(n) * n * m * (xm + ym) ** 2
        if zd is not None:
            total += float(zd @ (2.0 * b + zd))
        return float(np.sqrt(max(total, 0.0)))
    if p == 1.0:
        tt = np.sort(-y)
        pref = np.concatenate([[0.0], np.cumsum(tt)])
        kk = np.searchsorted(tt, xf)
        total = float((xf * kk - pref[kk] + (pref[-1] - pref[kk]) - xf * (n - kk)).sum())
        if zd is not None:
            total += float((np.abs(b + zd) - np.abs(b)).sum())
        return max(total, 0.0)
    # p = inf
    hi = np.full(n * m, -np.inf)
    lo = np.full(n * m, np.inf)
    order_desc = np.argsort(-y, kind="stable")
    order_asc = order_desc[::-1]
    if zd is None:
        hi = xf + y[order_desc[0]]
        lo = xf + y[order_asc[0]]
        best = max(float(hi.max()), float(-lo.min()))
        return best
    for order, out, pick in ((order_desc, hi, 0), (order_asc, lo, 1)):
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        rk = rank[z.indices]
        srt = np.lexsort((rk, zr))
        rows_s, rk_s = zr[srt], rk[srt]
        pos = np.arange(rk_s.size) - z.indptr[rows_s]
        mex = np.bincount(rows_s[rk_s == pos], minlength=n * m)
        ok = mex < n
        out[ok] = xf[ok] + y[order[mex[ok]]]
    stored = np.abs(b + zd).max(initial=0.0)
    off = max(float(np.max(hi, initial=-np.inf)), float(-np.min(lo, initial=np.inf)))
    return max(off, float(stored), 0.0)


def _outer_norm(c: Outer, ord: str, mdp) -> np.ndarray:
    return np.array([_outer_norm_one(c.x[k], c.y[k], c.z[k], ord, mdp)
                     for k in range(c.x.shape[0])])


def canonical_norm(c, ord: str, mdp) -> np.ndarray:
    """Norm ``(K,)`` of each canonical of a batch."""
    if isinstance(c, Factored):
        return _factored_norm(c.u, c.profile, ord, mdp)
    return _outer_norm(c, ord, mdp)


def _zsub(a, b, fa: float = 1.0, fb: float = 1.0):
    if a is None and b is None:
        return None
    if a is None:
        return -fb * b
    if b is None:
        return fa * a
    return fa * a - fb * b


def difference_norm(c1, i: int, fa: float, c2, j: int, fb: float, ord: str, mdp) -> float:
    """``n'(fa c1[i] - fb c2[j])`` for two canonicals of the same kind."""
    if isinstance(c1, Factored):
        return float(_factored_norm(fa * c1.u[i] - fb * c2.u[j], c1.profile, ord, mdp))
    return _outer_norm_one(fa * c1.x[i] - fb * c2.x[j], fa * c1.y[i] - fb * c2.y[j],
                           _zsub(c1.z[i], c2.z[j], fa, fb), ord, mdp)


# ----------------------------------------------------------------------- standardize


class Standardized(NamedTuple):
    """``value`` (:class:`Factored` or :class:`Outer`) divided by its norm per item
    (``scale`` 1/n, 0 for a zero canonical), or left unnormalised (``exponent`` then holds the
    power-of-two units of each item)."""

    value: object
    scale: np.ndarray
    exponent: np.ndarray | None


def standardize(rw: SparseRewards, mdp, method: str, normalization, *, pi, state_dist,
                action_dist) -> Standardized:
    canon = canonical(rw, mdp, method, pi=pi, state_dist=state_dist, action_dist=action_dist)
    k = canon.noise.shape[0]
    if normalization is None:
        ex = canon.exponent if canon.exponent is not None else np.zeros(k, dtype=np.int64)
        return Standardized(canon.value, np.ones(k), ex)
    n = canonical_norm(canon.value, normalization, mdp)
    zero = n <= ones_norm(mdp, normalization) * canon.noise
    scale = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, n))
    return Standardized(canon.value, scale, None)


def _pair_factors(s1: Standardized, i: int, s2: Standardized, j: int):
    """Factors of items ``i``, ``j`` and the exponent of the result (None: normalised)."""
    if s1.exponent is None:
        return float(s1.scale[i]), float(s2.scale[j]), None
    e1, e2 = int(s1.exponent[i]), int(s2.exponent[j])
    big = max(e1, e2)
    return float(np.ldexp(1.0, e1 - big)), float(np.ldexp(1.0, e2 - big)), big


def pair_distance(s1: Standardized, i: int, s2: Standardized, j: int, metric: str,
                  mdp) -> float:
    fa, fb, big = _pair_factors(s1, i, s2, j)
    d = difference_norm(s1.value, i, fa, s2.value, j, fb, metric, mdp)
    if big is None:
        return d
    return float(unscale_checked(np.asarray(d), np.asarray(big, dtype=np.int64),
                                 "the unnormalised distance"))


# ----------------------------------------------------------------------- options


def uniform_states(mdp) -> np.ndarray:
    """The uniform ``(S,)`` distribution (cached per MDP)."""
    return _memo(mdp, "ds", lambda: np.full(mdp.n_states, 1.0 / mdp.n_states))


def uniform_actions(mdp) -> np.ndarray:
    """The uniform ``(A,)`` distribution (cached per MDP)."""
    return _memo(mdp, "da", lambda: np.full(mdp.n_actions, 1.0 / mdp.n_actions))


def resolve(mdp, method, policy, state_dist, action_dist):
    """Validated ``(method, pi, ds, da)`` on a sparse MDP."""
    n, m = _shape(mdp)
    method = check_method(method)
    pi = _policy_array(policy, mdp)
    ds = (uniform_states(mdp) if state_dist is None
          else check_distribution(state_dist, n, "state_dist"))
    da = (uniform_actions(mdp) if action_dist is None
          else check_distribution(action_dist, m, "action_dist"))
    return method, pi, ds, da


def _out(values: np.ndarray, batch: tuple):
    out = np.asarray(values, dtype=np.float64).reshape(batch)
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------------------- public entry points


def canonicalize(reward, mdp, method, *, policy, state_dist, action_dist, norm):
    """:func:`starc.canonicalize` on a sparse MDP: ``(..., S, A)`` for VAL, CSR for minimal_l2."""
    method, pi, ds, da = resolve(mdp, method, policy, state_dist, action_dist)
    if norm is not None:
        raise ValidationError(f"norm= is used only by the 'minimal' and 'minimal_potential' "
                              f"canonicalizations, not by {method!r}")
    if method not in _RETURNABLE:
        raise ValidationError(
            f"the {method!r} canonical of a sparse MDP is nonzero on all S x A x S "
            f"transitions ({mdp.n_states}^2 x {mdp.n_actions} entries), so it is not "
            "returned as an array; its norms and distances are computed in closed form by "
            "starc_distance(..., canonicalization=...) and pairwise_distances, or densify a "
            "small MDP with mdp.to_dense()")
    rw = parse_rewards(reward, mdp)
    canon = canonical(rw, mdp, method, pi=pi, state_dist=ds, action_dist=da)
    u = canon.value.u
    if canon.exponent is not None:
        u = unscale_checked(u, canon.exponent, f"the {method} canonical reward", axes=2)
    if method == "val":
        n, m = _shape(mdp)
        return u.reshape(rw.batch + (n, m))
    mats = [_l2_matrix(mdp, u[k]) for k in range(u.shape[0])]
    return mats[0] if rw.batch == () else mats


def _l2_matrix(mdp, coef: np.ndarray):
    r""":math:`m(s,a)\,\tau(s'|s,a)/\|\tau(\cdot|s,a)\|_2^2` as a CSR ``(S*A, S)`` matrix."""
    t = mdp.transition.copy()
    t.data = t.data * (coef.ravel() * _weights(mdp))[t_rows(mdp)]
    return t


def _reward_pair(r1, r2, mdp):
    """``(a, b, batch)``: the two parsed rewards and their broadcast batch shape."""
    a = parse_rewards(r1, mdp, "r1")
    b = parse_rewards(r2, mdp, "r2")
    try:
        batch = np.broadcast_shapes(a.batch, b.batch)
    except ValueError:
        raise ValidationError(f"r1 with batch shape {a.batch} and r2 with batch shape "
                              f"{b.batch} do not broadcast") from None
    return a, b, batch


def starc_distance(r1, r2, mdp, *, method, normalization, metric, policy, state_dist,
                   action_dist):
    """:func:`starc.starc_distance` on a sparse MDP (options already name-checked)."""
    method, pi, ds, da = resolve(mdp, method, policy, state_dist, action_dist)
    a, b, batch = _reward_pair(r1, r2, mdp)
    opts = {"pi": pi, "state_dist": ds, "action_dist": da}
    s1 = standardize(a, mdp, method, normalization, **opts)
    s2 = standardize(b, mdp, method, normalization, **opts)
    ia = np.broadcast_to(np.arange(a.x.shape[0]).reshape(a.batch), batch).ravel()
    ib = np.broadcast_to(np.arange(b.x.shape[0]).reshape(b.batch), batch).ravel()
    d = [pair_distance(s1, int(i), s2, int(j), metric, mdp) for i, j in zip(ia, ib)]
    return _out(d, batch)


def pairwise_distances(rewards, mdp, *, method, normalization, metric, policy, state_dist,
                       action_dist) -> np.ndarray:
    """:func:`starc.pairwise_distances` on a sparse MDP: one solve with ``K`` columns."""
    method, pi, ds, da = resolve(mdp, method, policy, state_dist, action_dist)
    rw = parse_rewards(rewards, mdp, "rewards")
    if len(rw.batch) != 1:
        raise ValidationError(f"rewards must be a stack of K rewards ((K, S, A), (K, S) or a "
                              f"list of sparse (S*A, S) matrices), got batch shape {rw.batch}")
    k = rw.batch[0]
    if k == 0:
        return np.zeros((0, 0))
    s = standardize(rw, mdp, method, normalization, pi=pi, state_dist=ds, action_dist=da)
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = pair_distance(s, i, s, j, metric, mdp)
    return out


def is_equivalent(r1, r2, mdp, *, rtol: float) -> bool:
    """:func:`starc.is_equivalent` on a sparse MDP (VAL, weighted L2, as dense)."""
    a = parse_rewards(r1, mdp, "r1")
    b = parse_rewards(r2, mdp, "r2")
    if a.batch != () or b.batch != ():
        raise ValidationError("is_equivalent compares two single rewards; got batch shapes "
                              f"{a.batch} and {b.batch}")
    pi = _policy_array("uniform", mdp)
    both = SparseRewards(np.concatenate([a.x, b.x]), a.z + b.z, (2,))
    canon = canonical(both, mdp, "val", pi=pi, state_dist=None, action_dist=None)
    u = canon.value.u
    n = _factored_norm(u, "ones", "weighted_l2", mdp)
    ones = ones_norm(mdp, "weighted_l2")
    trivial = n <= ones * canon.noise
    if trivial[0] or trivial[1]:
        return bool(trivial[0] and trivial[1])
    d = float(_factored_norm(u[0] / n[0] - u[1] / n[1], "ones", "weighted_l2", mdp))
    return bool(d <= rtol + 2.0 * ones * float((canon.noise / n).sum()))


def _epic_dard_pearson(r1, r2, mdp, method, ds, da, coverage):
    if coverage is not None:
        raise ValidationError("coverage= is a dense (S, A, S) distribution; on a sparse MDP "
                              "the Pearson distance uses the uniform coverage of S x A x S "
                              "(closed form); leave coverage=None or densify a small MDP")
    a, b, batch = _reward_pair(r1, r2, mdp)
    pi = _policy_array("uniform", mdp)
    c1 = canonical(a, mdp, method, pi=pi, state_dist=ds, action_dist=da)
    c2 = canonical(b, mdp, method, pi=pi, state_dist=ds, action_dist=da)
    n, m = _shape(mdp)
    count = float(n) * n * m
    root = np.sqrt(count)

    def centred(c: Canonical):
        v = c.value
        mean = v.x.mean(axis=(1, 2)) + v.y.mean(axis=1)
        zsum = np.array([0.0 if z is None else float(z.sum()) for z in v.z])
        mean = mean + zsum / count
        out = Outer(v.x - mean[:, None, None], v.y, v.z)
        sd = _outer_norm(out, "l2", mdp)
        return out, sd, sd <= c.noise * root  # std <= noise: zero variance

    o1, n1, z1 = centred(c1)
    o2, n2, z2 = centred(c2)
    ia = np.broadcast_to(np.arange(a.x.shape[0]).reshape(a.batch), batch).ravel()
    ib = np.broadcast_to(np.arange(b.x.shape[0]).reshape(b.batch), batch).ravel()
    out = []
    for i, j in zip(ia, ib):
        if z1[i] and z2[j]:
            out.append(0.0)
        elif z1[i] or z2[j]:
            out.append(float(np.sqrt(0.5)))
        else:
            d = difference_norm(o1, i, 1.0 / n1[i], o2, j, 1.0 / n2[j], "l2", mdp)
            out.append(min(0.5 * d, 1.0))
    return _out(out, batch)


def epic_distance(r1, r2, mdp, *, state_dist, action_dist, coverage):
    """:func:`starc.epic_distance` on a sparse MDP (uniform coverage, closed form)."""
    _, _, ds, da = resolve(mdp, "epic", "uniform", state_dist, action_dist)
    return _epic_dard_pearson(r1, r2, mdp, "epic", ds, da, coverage)


def dard_distance(r1, r2, mdp, *, action_dist, coverage):
    """:func:`starc.dard_distance` on a sparse MDP (uniform coverage, closed form)."""
    _, _, ds, da = resolve(mdp, "dard", "uniform", None, action_dist)
    return _epic_dard_pearson(r1, r2, mdp, "dard", ds, da, coverage)


# ----------------------------------------------------------------------- norms of arrays


def _as_outer(x, mdp, name: str) -> tuple[Outer, tuple, str]:
    """An array on a sparse MDP as :class:`Outer` items: ``(..., S, A)`` (constant in s'),
    a sparse ``(S*A, S)`` matrix, or a small dense ``(..., S, A, S)`` array."""
    sp = _sp()
    n, m = _shape(mdp)
    if sp.issparse(x):
        rw = parse_rewards(x, mdp, name)
        return Outer(rw.x, np.zeros((1, n)), rw.z), (), "sparse"
    arr = as_float_array(x, name, min_ndim=2)
    if arr.ndim >= 3 and arr.shape[-3:] == (n, m, n):
        rw = parse_rewards(arr, mdp, name)
        return Outer(rw.x, np.zeros((rw.x.shape[0], n)), rw.z), rw.batch, "dense"
    if arr.shape[-2:] != (n, m):
        raise ValidationError(f"{name} on a sparse MDP must have shape (..., S, A) = (..., {n}, "
                              f"{m}) (an array constant in s', e.g. a VAL canonical), be a "
                              f"scipy.sparse ({n * m}, {n}) matrix, or a small dense (..., S, A, "
                              f"S) array; got {arr.shape}")
    flat = arr.reshape((-1, n, m))
    return (Outer(flat, np.zeros((flat.shape[0], n)), [None] * flat.shape[0]),
            arr.shape[:-2], "sa")


def _array_norm(o: Outer, ord: str, mdp) -> np.ndarray:
    if all(z is None for z in o.z) and not np.any(o.y):
        return _factored_norm(o.x, "ones", ord, mdp)
    return _outer_norm(o, ord, mdp)


def _scaled_outer(o: Outer, ex):
    if ex is None:
        return o
    zs = []
    for k, z in enumerate(o.z):
        if z is not None:
            z = z.copy()
            z.data = np.ldexp(z.data, -int(ex[k]))
        zs.append(z)
    return Outer(np.ldexp(o.x, -ex[:, None, None]), o.y, zs)


def _outer_max(o: Outer) -> np.ndarray:
    return np.array([max(float(np.abs(o.x[k]).max(initial=0.0)),
                         0.0 if o.z[k] is None else float(np.abs(o.z[k].data).max(initial=0.0)))
                     for k in range(o.x.shape[0])])


def norm(x, ord, mdp):
    """:func:`starc.norm` on a sparse MDP."""
    ord = check_norm_name(ord)
    o, batch, _ = _as_outer(x, mdp, "x")
    ex = scale_exponents(_outer_max(o))
    n = _array_norm(_scaled_outer(o, ex), ord, mdp)
    if ex is not None:
        with np.errstate(over="ignore"):
            n = np.ldexp(n, ex)
    if not np.all(np.isfinite(n)):
        raise ValidationError(f"the {ord} norm of x exceeds the float64 range (about "
                              "1.8e308), so it cannot be returned; scale x down")
    return _out(n, batch)


def normalize(x, ord, mdp, reference=None):
    """:func:`starc.normalize` on a sparse MDP: the same form as ``x`` comes back."""
    ord = check_norm_name(ord)
    o, batch, kind = _as_outer(x, mdp, "x")
    big = _outer_max(o)
    if reference is None:
        ref = big
    else:
        r, rbatch, _ = _as_outer(reference, mdp, "reference")
        ref = _outer_max(r)
        if rbatch != batch and not (rbatch == () or ref.size == 1):
            raise ValidationError(f"reference with batch shape {rbatch} must broadcast to x's "
                                  f"batch shape {batch}")
        ref = np.broadcast_to(ref, big.shape)
    ex = scale_exponents(big)
    scaled = _scaled_outer(o, ex)
    if ex is not None:
        with np.errstate(over="ignore"):
            ref = np.ldexp(ref, -ex)
    n = _array_norm(scaled, ord, mdp)
    zero = n <= ZERO_RTOL * ones_norm(mdp, ord) * ref
    factor = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, n))
    if kind == "sa":
        return (scaled.x * factor[:, None, None]).reshape(np.shape(x))
    mats = [scaled.z[k] * factor[k] if scaled.z[k] is not None
            else _sp().csr_matrix(scaled.x[k].shape) for k in range(len(scaled.z))]
    if kind == "sparse":
        return mats[0]
    n_, m_ = _shape(mdp)
    return np.stack([mk.toarray() for mk in mats]).reshape(batch + (n_, m_, n_))


def refuse(what: str, instead: str):
    """The ValidationError of a public function that has no sparse path."""
    raise ValidationError(f"{what} does not support sparse MDPs (it would build dense "
                          f"(S, A, S) arrays); {instead}")

