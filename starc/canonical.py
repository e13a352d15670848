r"""Canonicalization: one representative per class of equivalent rewards.

Rewards that differ by potential shaping and :math:`S'`-redistribution (see
:mod:`starc.shaping`) have the same :math:`Q`-advantages and order policies the same
way. A *canonicalization function* [1]_ (Def. 1; the paper spells it
*canonicalisation*) maps each reward to a representative of its class:
:math:`c: \mathbb R^{S \times A \times S} \to \mathbb R^{S \times A \times S}` is

1. linear,
2. :math:`c(R)` and :math:`R` differ only by potential shaping and :math:`S'`-redistribution,
3. :math:`c(R_1) = c(R_2)` iff :math:`R_1` and :math:`R_2` differ only by those.

So :math:`\ker c = N` (the equivalence subspace of :mod:`starc.shaping`),
:math:`c \circ c = c`, :math:`\operatorname{rank} c = |S|(|A| - 1)`, and
:math:`J_{c(R)}(\pi) - J_{c(R)}(\pi') = J_R(\pi) - J_R(\pi')` for all policies.

Methods
-------
``"none"``
    The identity (a baseline, not a canonicalization function).
``"epic"`` [2]_
    .. math::
        C_{\mathrm{EPIC}}(R)(s,a,s') = R(s,a,s') + \mathbb E\big[\gamma R(s',A,S')
        - R(s,A,S') - \gamma R(S,A,S')\big],

    with :math:`S, S' \sim D_S` and :math:`A \sim D_A` independent (uniform by
    default). It removes potential shaping but not :math:`S'`-redistribution, so it is
    *not* a canonicalization function in the sense of Def. 1; it is idempotent.
``"dard"`` [3]_
    .. math::
        C_{\mathrm{DARD}}(R)(s,a,s') = R(s,a,s') + \mathbb E\big[\gamma R(s',A,S'')
        - R(s,A,S') - \gamma R(S',A,S'')\big],

    with :math:`A \sim D_A`, :math:`S' \sim \tau(\cdot|s,A)`,
    :math:`S'' \sim \tau(\cdot|s',A)`. The last term is
    :math:`h(s,s') = \sum_a D_A(a)\,[T_a R_a T_a^\top](s,s')` with
    :math:`T_a = \tau(\cdot|\cdot,a)` and :math:`R_a = R(\cdot,a,\cdot)`: computed per action
    in :math:`O(A S^3)` time and :math:`O(S^2)` extra memory. Removes potential shaping,
    not :math:`S'`-redistribution; not idempotent.
``"val"`` [1]_ (Prop. 2)
    Value-adjusted levelling for a fixed policy :math:`\pi` (uniform by default):

    .. math::
        c_{\mathrm{VAL}}(R)(s,a,s') = \mathbb E_{S' \sim \tau(s,a)}\big[R(s,a,S')
        - V^\pi(s) + \gamma V^\pi(S')\big] = Q^\pi(s,a) - V^\pi(s),

    the :math:`\pi`-advantage, constant in :math:`s'`. A canonicalization function.
``"val_potential"``
    The paper's ablation :math:`R(s,a,s') - V^\pi(s) + \gamma V^\pi(s')` (no expectation
    over :math:`s'`): removes potential shaping only — **not** a canonicalization
    function.
``"minimal_l2"``
    The minimal canonicalization for the :math:`L_2` norm [1]_ (Def. 4):
    :math:`c(R) = \arg\min_{R' \in R + N} \|R'\|_2`, the orthogonal projection onto
    :math:`N^\perp`. Closed form (derived): with
    :math:`\bar R(s,a) = \sum_{s'} \tau(s'|s,a) R(s,a,s')` and
    :math:`m_\Phi(s,a) = \bar R(s,a) + \gamma \sum_{s'} \tau(s'|s,a)\Phi(s') - \Phi(s)`,

    .. math::
        \Phi^* = \arg\min_\Phi \sum_{s,a} \frac{m_\Phi(s,a)^2}{\|\tau(\cdot|s,a)\|_2^2},
        \qquad
        c(R)(s,a,s') = m_{\Phi^*}(s,a)\,\frac{\tau(s'|s,a)}{\|\tau(\cdot|s,a)\|_2^2}.

    The weighted least-squares system is symmetric positive definite for
    :math:`\gamma < 1`; its Cholesky factor is cached per MDP. The result is zero on
    impossible transitions.
``"minimal"`` with ``norm=``
    The minimal canonicalization for any norm of :mod:`starc.norms`. For every
    :math:`(s,a)` the best :math:`S'`-redistribution of :math:`y = R_\Phi(s,a,\cdot)`
    subject to :math:`\tau \cdot y = m_\Phi(s,a)` is known in closed form (Hölder), which
    reduces the problem to the potential alone (derived):

    ==============  ==========================================  ===========================
    norm            objective over :math:`\Phi`                 returned :math:`c(R)(s,a,\cdot)`
    ==============  ==========================================  ===========================
    l1              :math:`\sum |m_\Phi| / \max_{s'}\tau`       :math:`m / \tau_{\max}` on the most likely successor (lowest index on ties), 0 elsewhere
    l2              :math:`\sum m_\Phi^2 / \|\tau\|_2^2`        :math:`m\,\tau / \|\tau\|_2^2` (unique)
    linf            :math:`\max |m_\Phi|`                       :math:`m` on every :math:`s'`
    weighted_l1     :math:`\sum |m_\Phi|`                       :math:`m` on every :math:`s'`
    weighted_l2     :math:`\sum m_\Phi^2`                       :math:`m` on every :math:`s'`
    weighted_linf   :math:`\max |m_\Phi|`                       :math:`m` on every :math:`s'`
    ==============  ==========================================  ===========================

    The potential problem is an LP (l1, linf: cvxpy with HiGHS) or a QP (l2: Clarabel).
    When the minimiser is not unique — always off the support for the weighted norms,
    and possibly in :math:`\Phi` for the LPs — the table's representative of the
    solver's :math:`\Phi` is returned. ``"minimal"`` with ``norm="l2"`` solves with
    cvxpy and agrees with ``"minimal_l2"``.
``"minimal_potential"`` with ``norm=``
    The paper's MinimalPotential: :math:`\arg\min_\Phi n(R + \gamma\Phi(s') - \Phi(s))`,
    over potentials only (removes shaping, not :math:`S'`-redistribution). The
    unweighted :math:`L_2` case has a closed form (derived): the normal matrix is
    :math:`A[S(1+\gamma^2) I - 2\gamma \mathbf 1 \mathbf 1^\top]`, inverted by
    Sherman–Morrison. The :math:`L_1` and :math:`L_\infty` norms (plain and
    transition-weighted) solve the dual of a compact LP with HiGHS (|S| or |S| + 1 rows,
    a few milliseconds per reward at 32 states), its optimum certified by the duality
    gap; the weighted :math:`L_2` norm solves a QP with cvxpy and Clarabel. When the
    minimising potential is not unique, the solver's vertex is returned.

Every method accepts leading batch axes: ``(..., S, A, S)`` in, the same shape out.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Def. 1, Prop. 2,
   Def. 4.
.. [2] Gleave, Dennis, Legg, Russell, Leike. "Quantifying Differences in Reward
   Functions". ICLR 2021, Def. 4.1.
.. [3] Wulfe, Balakrishna, Ellis, Mercat, McAllister, Gaidon. "Dynamics-Aware
   Comparison of Learned Reward Functions". ICLR 2022, Def. 1.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ._validation import as_float_array, check_choice, check_distribution, check_policy
from ._solvers import solve_cvxpy
from .exceptions import SolverError, ValidationError
from .mdp import TabularMDP, as_mdp, broadcast_reward
from ._extremes import in_window, max_abs, rescale, scale_exponents, unscale_checked
from .norms import SOLVER_ZERO_RTOL, ZERO_RTOL, array_norm, check_norm_name, ones_norm, p_of
from .solve import evaluate_expected, q_from_values
from . import _rules

__all__ = ["CANONICALIZATIONS", "canonicalize"]

#: Names accepted by :func:`canonicalize`.
CANONICALIZATIONS = ("none", "epic", "dard", "val", "val_potential", "minimal_l2", "minimal",
                     "minimal_potential")

#: Methods that are canonicalization functions in the sense of [STARC] Def. 1.
STARC_CANONICALIZATIONS = ("val", "minimal_l2", "minimal")


class Factored(NamedTuple):
    r"""A canonical reward stored as ``u[..., s, a] * profile[s, a, s']``.

    VAL and the minimal canonicalizations are, for every :math:`(s, a)`, a multiple of
    one fixed vector over :math:`s'` (ones, :math:`\tau/\|\tau\|^2` or a unit vector), so
    norms and distances can be computed on the ``(S, A)`` coefficients alone.
    ``profile`` is a key of :func:`profile_array`.

    Parameters
    ----------
    u : ndarray of shape (..., S, A)
        The coefficients :math:`u(s, a)`.
    profile : {"ones", "l2", "l1"}
        The vector over :math:`s'`: ones, :math:`\tau(\cdot|s,a)/\|\tau(\cdot|s,a)\|_2^2`,
        or :math:`e_j/\tau_{\max}` on the most likely successor :math:`j`.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Prop. 2 (VAL) and Def. 4 (minimal
       canonicalizations).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import TabularMDP
    >>> from starc.canonical import Factored
    >>> mdp = TabularMDP(np.full((2, 1, 2), 0.5), gamma=0.9)
    >>> f = Factored(np.array([[1.0], [-2.0]]), "ones")
    >>> f.expand(mdp).shape, float(f.norm("l1", mdp)), float(f.norm("weighted_l1", mdp))
    ((2, 1, 2), 6.0, 3.0)
    """

    u: np.ndarray
    profile: str

    def expand(self, mdp: TabularMDP) -> np.ndarray:
        """The full ``(..., S, A, S)`` array ``u[..., s, a] * profile[s, a, s']``."""
        if getattr(mdp, "is_sparse", False):
            raise ValidationError("Factored.expand builds the dense (S, A, S) array, which a "
                                  "sparse MDP never forms; use Factored.norm / weights, or "
                                  "starc.canonicalize (an (S, A) array or a CSR matrix)")
        if self.profile == "ones":
            return np.ascontiguousarray(np.broadcast_to(self.u[..., None],
                                                        self.u.shape + (mdp.n_states,)))
        return self.u[..., None] * profile_array(mdp, self.profile)

    def weights(self, ord: str, mdp: TabularMDP) -> np.ndarray:
        r"""Per-``(s, a)`` factors ``w (S, A)`` of the norm ``ord`` of this profile.

        ``n(u * profile) = (sum_{s,a} w |u|^p)^(1/p)`` for finite ``p`` and
        ``max_{s,a} w |u|`` for ``p = inf``; see :func:`profile_weights`.
        """
        return profile_weights(mdp, self.profile, ord)

    def norm(self, ord: str, mdp: TabularMDP) -> np.ndarray:
        """The norm ``ord`` (a canonical name of :data:`starc.norms.NORMS`) of each
        canonical of the batch, ``(...)``, from the coefficients alone."""
        w = self.weights(ord, mdp)
        p = p_of(ord)
        if p == 2.0:  # one pass: sum_sa u^2 w
            return np.sqrt(np.einsum("...sa,...sa,sa->...", self.u, self.u, w))
        a = np.abs(self.u)
        if p == np.inf:
            return (a * w).max(axis=(-2, -1), initial=0.0)
        return np.einsum("...sa,sa->...", a, w)


class Canonical(NamedTuple):
    r"""A canonical reward and the round-off it may carry.

    ``value`` is the canonical (a full ``(..., S, A, S)`` array or :class:`Factored`);
    ``noise`` ``(...)`` bounds the round-off of each of its entries: the relative accuracy
    of the method (:data:`starc.norms.ZERO_RTOL` for closed forms,
    :data:`starc.norms.SOLVER_ZERO_RTOL` for optimisers) times the magnitude of the numbers
    it combined — the reward (through :math:`\max_{s,a} \mathbb E_\tau|R|` when only
    :math:`\bar R` enters), and the values or potentials computed from it. A canonical
    whose norm is at most ``n(1) * noise`` is zero up to round-off ([1]_, Def. 3).

    Rewards with magnitudes outside the safe window of :data:`starc.norms.SAFE_EXPONENT`
    (beyond about :math:`10^{\pm 77}`) are canonicalized after an exact power-of-two
    rescaling; ``exponent`` then records it (see :func:`canonical_parts`).

    The steps that follow canonicalization are its methods: :meth:`norm`, the zero test
    :meth:`is_zero` and the normalization :meth:`standardize`,
    :math:`s(R) = c(R)/n(c(R))` (and 0 for a canonical that is zero up to round-off).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 1 (canonicalization) and Def. 3 (the
       normalization :math:`s(R)`, with :math:`s(R) = c(R)` when :math:`n(c(R)) = 0`).

    Examples
    --------
    A pure potential-shaping reward has a VAL canonical that is zero up to round-off:

    >>> import numpy as np
    >>> from starc import random_mdp
    >>> from starc.canonical import canonical_parts, resolve_options
    >>> mdp = random_mdp(4, 2, seed=0)
    >>> phi = np.arange(4.0)
    >>> shaping = np.broadcast_to(mdp.gamma * phi[None, None, :] - phi[:, None, None], mdp.shape)
    >>> R = np.stack([np.random.default_rng(1).standard_normal(mdp.shape), shaping])
    >>> method, pi, ds, da, nrm = resolve_options(mdp, "val", "uniform", None, None, None)
    >>> canon = canonical_parts(R, mdp, method, pi=pi, state_dist=ds, action_dist=da, norm=nrm)
    >>> canon.is_zero("l2", mdp).tolist()
    [False, True]
    >>> s = canon.standardize("l2", mdp)
    >>> [round(float(x), 12) for x in s.norm("l2", mdp)]
    [1.0, 0.0]
    """

    value: np.ndarray | Factored
    noise: np.ndarray
    #: ``None``, or per-reward exponents ``(...)``: then ``value`` and ``noise`` belong to
    #: the rewards multiplied by ``2**-exponent`` (:func:`starc.norms.scale_exponents`),
    #: and the canonical of the reward itself is ``value * 2**exponent``.
    exponent: np.ndarray | None = None

    def norm(self, ord: str, mdp: TabularMDP) -> np.ndarray:
        """The norm ``ord`` (a canonical name of :data:`starc.norms.NORMS`) of each
        canonical, ``(...)``, in the units of ``value`` (see ``exponent``)."""
        if isinstance(self.value, Factored):
            return self.value.norm(ord, mdp)
        return array_norm(self.value, ord, mdp)

    def is_zero(self, ord: str, mdp: TabularMDP, norm: np.ndarray | None = None
                ) -> np.ndarray:
        r"""Whether each canonical is zero up to round-off, ``(...)`` bool.

        .. math::

            n(c(R)) \le n(\mathbf 1)\, \epsilon,

        :math:`\epsilon` = ``noise`` and :math:`n(\mathbf 1)` from
        :func:`starc.norms.ones_norm`. ``norm`` is :meth:`norm` when already computed.
        """
        n = self.norm(ord, mdp) if norm is None else norm
        return _rules.is_zero(n, ones_norm(ord, mdp.shape), self.noise)

    def standardize(self, ord: str, mdp: TabularMDP) -> np.ndarray | Factored:
        r"""The normalized canonical :math:`c(R)/n(c(R))`, zero where :meth:`is_zero`.

        The STARC standardization (Skalse et al. 2024, Def. 3: :math:`s(R) = c(R)` when
        :math:`n(c(R)) = 0`). It does not depend on the scale of ``value``, so a
        rescaled canonical (``exponent`` set) needs no unscaling. Returns a
        :class:`Factored` for a factored ``value``, else a full array.
        """
        c = self.value
        n = self.norm(ord, mdp)
        zero = self.is_zero(ord, mdp, n)
        any_zero = bool(zero.any())
        safe = np.where(zero, 1.0, n) if any_zero else n
        if isinstance(c, Factored):
            u = c.u / safe[..., None, None]
            if any_zero:
                u[zero] = 0.0
            return Factored(u, c.profile)
        out = c / safe[..., None, None, None]
        if any_zero:
            out[zero] = 0.0
        return out


# --------------------------------------------------------------------------- checks


def check_method(method) -> str | Callable:
    """Validate a canonicalization name (or accept a callable)."""
    if callable(method):
        return method
    return check_choice(method, "canonicalization", CANONICALIZATIONS)


def _uniform(mdp: TabularMDP, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only uniform distribution over the last axis of ``shape``, cached on ``mdp``."""
    return mdp.memo("uniform", lambda: np.full(shape, 1.0 / shape[-1]), shape)


# --------------------------------------------------------------------------- profiles


def profile_array(mdp: TabularMDP, profile: str) -> np.ndarray:
    """The ``(S, A, S)`` per-row shape vector of a factored canonical (cached on ``mdp``)."""
    if getattr(mdp, "is_sparse", False):
        raise ValidationError("profile_array is a dense (S, A, S) array; on a sparse MDP use "
                              "profile_weights (per-(s, a) factors)")
    return mdp.memo("profile", lambda: _profile_array_uncached(mdp, profile), profile)


def _profile_array_uncached(mdp: TabularMDP, profile: str) -> np.ndarray:
    t = mdp.transition
    if profile == "ones":
        out = np.ones(mdp.shape)
    elif profile == "l2":
        out = t / np.einsum("sat,sat->sa", t, t)[..., None]
    elif profile == "l1":
        out = np.zeros(mdp.shape)
        j = np.argmax(t, axis=-1)
        s_idx, a_idx = np.indices(j.shape)
        out[s_idx, a_idx, j] = 1.0 / t[s_idx, a_idx, j]
    else:  # pragma: no cover - internal
        raise ValueError(profile)
    return out


def profile_weights(mdp: TabularMDP, profile: str, ord: str) -> np.ndarray:
    r"""Per-(s, a) factor ``w`` with ``n(u * profile) = (sum w |u|^p)^(1/p)`` or ``max(w |u|)``.

    Closed forms per profile (:math:`\tau = \tau(\cdot|s,a)`, rows summing to 1), so no
    ``(S, A, S)`` temporary is allocated; memoised on ``mdp`` (read-only):

    ========== ============ ====================== ======================
    profile    vector       :math:`L_p` factor     weighted factor
    ========== ============ ====================== ======================
    ones       1            :math:`S` (max: 1)     1
    l2         tau/|tau|^2  sum tau^p/|tau|^2p     sum tau^(p+1)/|tau|^2p
    l1         e_j/tau_max  tau_max^-p             tau_max^(1-p)
    ========== ============ ====================== ======================

    Parameters
    ----------
    mdp : TabularMDP
    profile : {"ones", "l2", "l1"}
        A profile of :class:`Factored`.
    ord : str
        A canonical name of :data:`starc.norms.NORMS`.

    Returns
    -------
    ndarray of shape (S, A)
        Read-only.
    """
    if getattr(mdp, "is_sparse", False):  # the same table, sums over stored entries
        from . import _sparse_distances
        return _sparse_distances.profile_weights(mdp, profile, ord)
    return mdp.memo("profile_weights", lambda: _profile_weights_uncached(mdp, profile, ord),
                    profile, ord)


def _profile_weights_uncached(mdp: TabularMDP, profile: str, ord: str) -> np.ndarray:
    t = mdp.transition
    p = p_of(ord)
    weighted = ord.startswith("weighted_")
    shape = mdp.shape[:2]
    if profile == "ones":
        w = np.full(shape, 1.0 if (weighted or p == np.inf) else float(mdp.n_states))
    elif profile == "l2":
        sq = np.einsum("sat,sat->sa", t, t)
        if p == np.inf:
            w = t.max(axis=-1) / sq  # the max of tau lies on the support
        elif p == 1.0:
            w = (np.ones(shape) if weighted else 1.0 / sq)
        else:
            w = (np.einsum("sat,sat,sat->sa", t, t, t) / sq**2 if weighted else 1.0 / sq)
    elif profile == "l1":
        tmax = t.max(axis=-1)
        if p == np.inf:
            w = 1.0 / tmax
        else:
            w = tmax ** (1.0 - p) if weighted else tmax ** (-p)
    else:  # pragma: no cover - internal
        raise ValueError(profile)
    return w


# --------------------------------------------------------------------------- methods


def _epic(r: np.ndarray, gamma: float, ds: np.ndarray, da: np.ndarray) -> np.ndarray:
    # f(s) = E_{A, S'} R(s, A, S') as two BLAS products: blocked sums, whose round-off
    # grows far slower with S * A than einsum's sequential one
    f = (r @ ds) @ da
    mean_f = f @ ds
    return (r + gamma * f[..., None, None, :] - f[..., :, None, None]
            - gamma * mean_f[..., None, None, None])


def _dard(r: np.ndarray, mdp: TabularMDP, da: np.ndarray) -> np.ndarray:
    t, gamma = mdp.transition, mdp.gamma
    rbar = mdp.expectation(r)
    g = rbar @ da  # (..., S): E_{A, S'~tau(s,A)} R(s, A, S')
    h = np.zeros(r.shape[:-3] + (mdp.n_states, mdp.n_states))
    for a in range(mdp.n_actions):
        if da[a] == 0.0:
            continue
        ta = t[:, a, :]  # (S, S): s -> distribution over u
        ra = r[..., :, a, :]  # (..., S, S): u -> v
        h += da[a] * ((ta @ ra) @ ta.T)
    return (r + gamma * g[..., None, None, :] - g[..., :, None, None]
            - gamma * h[..., :, None, :])


def val_advantage(rbar: np.ndarray, mdp: TabularMDP, pi: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The VAL canonical in factored form, ``A^pi(s, a) = Q^pi(s, a) - V^pi(s)``, and ``V^pi``."""
    v = evaluate_expected(rbar, mdp, pi)
    return q_from_values(rbar, v, mdp) - v[..., None], v


def _minimal_l2_factor(mdp: TabularMDP):
    """Cholesky factor of the weighted least-squares normal matrix for minimal_l2."""
    return mdp.memo("minimal_l2_cho", lambda: _minimal_l2_factor_uncached(mdp))


def _minimal_l2_factor_uncached(mdp: TabularMDP):
    n, m = mdp.n_states, mdp.n_actions
    t = mdp.transition
    gamma = mdp.gamma
    w = 1.0 / np.einsum("sat,sat->sa", t, t)  # (S, A), 1 / ||tau(s,a)||^2
    tf = t.reshape(n * m, n)
    # G = B^T W B with (B phi)(s,a) = gamma (T phi)(s,a) - phi(s)
    mix = np.einsum("sa,sau->su", w, t)  # M[s, u] = sum_a w(s,a) tau(u|s,a)
    g = gamma * gamma * (tf.T @ (w.reshape(-1, 1) * tf))
    g -= gamma * (mix + mix.T)
    g[np.diag_indices(n)] += w.sum(axis=1)
    from scipy.linalg import cho_factor

    cho = cho_factor(g, lower=False, check_finite=False)
    return cho, w


def minimal_l2_coefficients(rbar: np.ndarray, mdp: TabularMDP, refinements: int = 2
                            ) -> tuple[np.ndarray, np.ndarray]:
    r"""The coefficients :math:`m_{\Phi^*}(s, a)` of the minimal :math:`L_2` canonical, and :math:`\Phi^*`.

    Solves the normal equations :math:`B^\top W B \Phi = -B^\top W \bar R` by Cholesky,
    then applies ``refinements`` steps of iterative refinement on the residual
    :math:`m_\Phi`: when :math:`\bar R` is dominated by shaping (large :math:`\Phi`, small
    canonical), each step shrinks the error from the condition number squared times the
    size of :math:`\bar R` towards that of the (small) canonical.
    """
    from scipy.linalg import cho_solve

    n, m = mdp.n_states, mdp.n_actions
    cho, w = _minimal_l2_factor(mdp)
    tf = mdp.transition.reshape(n * m, n)
    batch = rbar.shape[:-2]

    def potential_step(resid):
        wr = w * resid  # (..., S, A)
        # B^T y = gamma T_f^T y_f - sum_a y(s, a)
        bty = mdp.gamma * (wr.reshape(-1, n * m) @ tf) - wr.sum(axis=-1).reshape(-1, n)
        return cho_solve(cho, -bty.T, check_finite=False).T.reshape(batch + (n,))

    phi = potential_step(rbar)
    mphi = shape_potential_expected(rbar, phi, mdp)
    for _ in range(refinements):
        phi = phi + potential_step(mphi)
        mphi = shape_potential_expected(rbar, phi, mdp)
    return mphi, phi


def shape_potential_expected(rbar: np.ndarray, phi: np.ndarray, mdp: TabularMDP) -> np.ndarray:
    r""":math:`m_\Phi(s,a) = \bar R(s,a) + \gamma (T\Phi)(s,a) - \Phi(s)`."""
    n, m = mdp.n_states, mdp.n_actions
    tphi = (phi.reshape(-1, n) @ mdp.transition.reshape(n * m, n).T).reshape(rbar.shape)
    return rbar + mdp.gamma * tphi - phi[..., :, None]


_MINIMAL_PROFILE = {"l1": "l1", "l2": "l2", "linf": "ones", "weighted_l1": "ones",
                    "weighted_l2": "ones", "weighted_linf": "ones"}


def _minimal_problem(mdp: TabularMDP, norm: str):
    """A cvxpy problem over the potential, parametrised by rbar (compiled once per MDP)."""
    return mdp.memo("minimal_cvxpy", lambda: _minimal_problem_uncached(mdp, norm), norm)


def _minimal_problem_uncached(mdp: TabularMDP, norm: str):
    import cvxpy as cp

    n, m = mdp.n_states, mdp.n_actions
    t = mdp.transition
    tf = t.reshape(n * m, n)
    rbar = cp.Parameter(n * m)
    phi = cp.Variable(n)
    expand_rows = np.repeat(np.eye(n), m, axis=0)  # (S*A, S): phi(s) for row (s, a)
    with np.errstate(invalid="ignore"):  # cvxpy's bound propagation meets inf - inf
        mphi = rbar + mdp.gamma * (tf @ phi) - expand_rows @ phi
        if norm == "l1":
            objective = cp.norm1(cp.multiply(1.0 / t.max(axis=-1).ravel(), mphi))
        elif norm == "l2":
            objective = cp.sum_squares(cp.multiply(1.0 / np.sqrt((t * t).sum(-1)).ravel(),
                                                   mphi))
        elif norm == "weighted_l1":
            objective = cp.norm1(mphi)
        elif norm == "weighted_l2":
            objective = cp.sum_squares(mphi)
        else:  # linf, weighted_linf
            objective = cp.norm_inf(mphi)
        problem = cp.Problem(cp.Minimize(objective))
    solver = cp.CLARABEL if norm.endswith("l2") else cp.HIGHS
    return problem, rbar, phi, solver


def minimal_coefficients(rbar: np.ndarray, mdp: TabularMDP, norm: str
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients of the minimal canonical for ``norm`` (one LP/QP per reward), and the potentials."""
    problem, param, phi, solver = _minimal_problem(mdp, norm)
    n = mdp.n_states
    flat = rbar.reshape(-1, n * mdp.n_actions)
    phis = np.empty((flat.shape[0], n))
    for k in range(flat.shape[0]):
        # The minimiser is positively homogeneous in rbar: solve for rbar / max|rbar| (the
        # solvers' tolerances are absolute, HiGHS reads 1e20 as infinite) and scale back.
        scale = float(np.max(np.abs(flat[k]), initial=0.0))
        if scale == 0.0:  # the zero reward is its own canonical
            phis[k] = 0.0
            continue
        param.value = flat[k] / scale
        solve_cvxpy(problem, solver, f"minimal canonicalization ({norm})")
        phis[k] = scale * phi.value
    phis = phis.reshape(rbar.shape[:-2] + (n,))
    return shape_potential_expected(rbar, phis, mdp), phis


def minimal_potential_l2(r: np.ndarray, gamma: float, refinements: int = 1) -> np.ndarray:
    r"""Closed-form :math:`\arg\min_\Phi \|R + \gamma\Phi(s') - \Phi(s)\|_2` applied to ``r``.

    Normal equations :math:`A[S(1+\gamma^2) I - 2\gamma\mathbf 1\mathbf 1^\top]\Phi =
    -D^\top R` with :math:`(D^\top R)(x) = \gamma\sum_{s,a} R(s,a,x) - \sum_{a,s'} R(x,a,s')`,
    solved by Sherman–Morrison. The matrix has condition number
    :math:`(1+\gamma)^2/(1-\gamma)^2`, so the solve loses up to that factor against the
    round-off of :math:`R`; ``refinements`` steps of iterative refinement (solving again
    for the residual canonical) bring the result back to round-off (a shaped reward at
    :math:`\gamma = 0.999` went from ~1000 units of round-off to ~1).
    """
    phi = _minimal_potential_l2_step(r, gamma)
    c = r + gamma * phi[..., None, None, :] - phi[..., :, None, None]
    for _ in range(refinements):
        phi = phi + _minimal_potential_l2_step(c, gamma)
        c = r + gamma * phi[..., None, None, :] - phi[..., :, None, None]
    return c


def _minimal_potential_l2_step(r: np.ndarray, gamma: float) -> np.ndarray:
    """The potential ``(..., S)`` of :func:`minimal_potential_l2`, by Sherman–Morrison."""
    n, m = r.shape[-3], r.shape[-2]
    rhs = r.sum(axis=(-2, -1)) - gamma * r.sum(axis=(-3, -2))  # -(D^T R), (..., S)
    alpha = m * n * (1.0 + gamma * gamma)
    beta = 2.0 * gamma * m
    # (alpha I - beta 11^T)^{-1} = (I + beta / (alpha - beta n) 11^T) / alpha
    return (rhs + beta / (alpha - beta * n) * rhs.sum(axis=-1, keepdims=True)) / alpha


def _minimal_potential_cvxpy(r: np.ndarray, mdp: TabularMDP, norm: str) -> np.ndarray:
    """argmin over potentials of ``norm(R + gamma phi(s') - phi(s))`` by cvxpy, per reward."""
    import cvxpy as cp

    n, m = mdp.n_states, mdp.n_actions

    def build():
        import scipy.sparse as sp

        size = n * m * n
        s_idx, a_idx, t_idx = np.unravel_index(np.arange(size), mdp.shape)
        rows = np.concatenate([np.arange(size), np.arange(size)])
        cols = np.concatenate([t_idx, s_idx])
        vals = np.concatenate([np.full(size, mdp.gamma), np.full(size, -1.0)])
        d = sp.csr_matrix((vals, (rows, cols)), shape=(size, n))  # sums duplicates
        param = cp.Parameter(size)
        phi = cp.Variable(n)
        x = param + d @ phi
        w = mdp.transition.ravel()
        if norm == "l1":
            obj = cp.norm1(x)
        elif norm == "l2":
            obj = cp.sum_squares(x)
        elif norm == "linf":
            obj = cp.norm_inf(x)
        elif norm == "weighted_l1":
            obj = cp.norm1(cp.multiply(w, x))
        elif norm == "weighted_l2":
            obj = cp.sum_squares(cp.multiply(np.sqrt(w), x))
        else:
            support = np.flatnonzero(w > 0)
            obj = cp.norm_inf(x[support])
        with np.errstate(invalid="ignore"):  # cvxpy's bound propagation meets inf - inf
            problem = cp.Problem(cp.Minimize(obj))
        solver = cp.CLARABEL if norm.endswith("l2") else cp.HIGHS
        return problem, param, phi, solver

    problem, param, phi, solver = mdp.memo("minimal_potential_cvxpy", build, norm)
    flat = r.reshape(-1, n * m * n)
    phis = np.empty((flat.shape[0], n))
    for k in range(flat.shape[0]):
        # positively homogeneous: solve for R / max|R| and scale the potential back
        scale = float(np.max(np.abs(flat[k]), initial=0.0))
        if scale == 0.0:
            phis[k] = 0.0
            continue
        param.value = flat[k] / scale
        solve_cvxpy(problem, solver, f"minimal_potential canonicalization ({norm})")
        phis[k] = scale * phi.value
    phis = phis.reshape(r.shape[:-3] + (n,))
    return r + mdp.gamma * phis[..., None, None, :] - phis[..., :, None, None]


# --------------------------------------------------------------------------- minimal_potential LPs

#: Norms whose ``"minimal_potential"`` problem :func:`_minimal_potential_lp` solves as a
#: compact linear program (HiGHS dual simplex); the other non-L2 norms use cvxpy.
_LP_NORMS = ("l1", "weighted_l1", "linf", "weighted_linf")

#: Largest accepted duality gap of a ``minimal_potential`` LP, relative to the size
#: :math:`n(R) + n(D\Phi)` of the terms of its objective.
_LP_GAP_RTOL = _rules.LP_GAP_RTOL


class _PotentialLP(NamedTuple):
    """Constant data of the dual LP of ``"minimal_potential"`` for one (MDP, norm).

    The columns are the dual variables: one per transition ``(s, a, s')`` kept (L1
    family), or two per state pair ``(s, s')`` kept (the ``p`` block, then the ``q``
    block; L-infinity family). ``select`` holds their flat indices into ``S*A*S`` (L1) or
    ``S*S`` (L-infinity); the constraint matrix is ``matrix`` (scipy CSC), also as
    HiGHS's column-wise arrays ``start``, ``index``, ``value``.
    """

    select: np.ndarray
    matrix: object
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    rhs: np.ndarray


def _potential_lp_data(mdp: TabularMDP, norm: str) -> _PotentialLP:
    r"""Build (once per MDP and norm, cached on ``mdp``) the constant part of the LP.

    :math:`D^\top` has the entries :math:`\gamma` at row :math:`s'` and :math:`-1` at row
    :math:`s` of the column of :math:`(s, a, s')` (summed to :math:`\gamma - 1` when
    :math:`s = s'`; zeros dropped when :math:`\gamma = 0`).
    """
    return mdp.memo("minimal_potential_lp", lambda: _potential_lp_data_uncached(mdp, norm),
                    norm)


def _potential_lp_data_uncached(mdp: TabularMDP, norm: str) -> _PotentialLP:
    import scipy.sparse as sp

    n, m = mdp.n_states, mdp.n_actions
    t, gamma = mdp.transition, mdp.gamma
    if norm in ("l1", "weighted_l1"):
        size = n * m * n
        if norm == "l1":
            select = np.arange(size)
            bound = np.ones(size)
        else:  # columns of impossible transitions have bounds [0, 0]: leave them out
            w = t.ravel()
            select = np.flatnonzero(w > 0)
            bound = w[select]
        s_idx, _, t_idx = np.unravel_index(select, mdp.shape)
        n_rows, lower, upper, rhs = n, -bound, bound, np.zeros(n)
        k = select.size
        rows = np.concatenate([t_idx, s_idx])
        cols = np.concatenate([np.arange(k), np.arange(k)])
        vals = np.concatenate([np.full(k, gamma), np.full(k, -1.0)])
    else:  # linf, weighted_linf: columns p(s, s'), q(s, s') >= 0 and a row sum(p + q) = 1
        if norm == "linf":
            select = np.arange(n * n)
        else:
            select = np.flatnonzero(mdp.support.any(axis=1).ravel())
        s_idx, t_idx = np.divmod(select, n)
        p = select.size
        k = 2 * p
        n_rows = n + 1
        lower, upper = np.zeros(k), np.full(k, np.inf)
        rhs = np.zeros(n_rows)
        rhs[n] = 1.0
        col = np.arange(k)
        rows = np.concatenate([np.tile(t_idx, 2), np.tile(s_idx, 2), np.full(k, n)])
        sign = np.repeat([1.0, -1.0], p)
        cols = np.concatenate([col, col, col])
        vals = np.concatenate([gamma * sign, -sign, np.ones(k)])
    a = sp.csc_matrix((vals, (rows, cols)), shape=(n_rows, k))  # sums duplicates (s = s')
    a.eliminate_zeros()
    a.sort_indices()
    # the arrays are made read-only by TabularMDP.memo
    return _PotentialLP(select, a, a.indptr.astype(np.int32), a.indices.astype(np.int32),
                        a.data.astype(np.float64), lower, upper, rhs)


def _highs_solver():
    r"""A quiet ``highspy.Highs`` for the ``minimal_potential`` LPs.

    Options: :data:`starc._solvers.HIGHS_TIGHT_OPTIONS` (``small_matrix_value=1e-12``, so
    an entry :math:`\gamma - 1` of a discount close to 1 is kept; primal and dual
    feasibility tolerances :data:`starc._rules.LP_FEASIBILITY_TOL` = 1e-10), the simplex
    solver and no presolve (the LPs are small and already reduced).
    """
    import highspy

    from ._solvers import HIGHS_TIGHT_OPTIONS, silence_highs_banner

    silence_highs_banner()
    h = highspy.Highs()
    options = {"output_flag": False, **HIGHS_TIGHT_OPTIONS, "solver": "simplex",
               "presolve": "off"}
    for name, value in options.items():
        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            raise SolverError(f"minimal_potential canonicalization: HiGHS rejected the "
                              f"option {name}={value!r}")
    return h


def _minimal_potential_lp(r: np.ndarray, mdp: TabularMDP, norm: str) -> np.ndarray:
    r"""MinimalPotential canonical for an :math:`L_1` or :math:`L_\infty` norm, by a compact LP.

    Computes :math:`R + D\Phi^*` with :math:`(D\Phi)(s,a,s') = \gamma\Phi(s') - \Phi(s)`
    and :math:`\Phi^* \in \arg\min_\Phi n(R + D\Phi)`, one linear program per reward,
    solved by the HiGHS dual simplex as the *dual* of that problem, which has only
    :math:`|S|` (or :math:`|S| + 1`) equality rows. With :math:`w = 1` (``"l1"``) or
    :math:`w = \tau` (``"weighted_l1"``; transitions with :math:`\tau = 0` drop out),

    .. math::

        \min_\Phi \sum_e w_e |R_e + (D\Phi)_e|
        = \max_y \big\{\langle R, y\rangle : D^\top y = 0,\; |y_e| \le w_e\big\},
        \qquad (D^\top y)(x) = \gamma \sum_{s,a} y(s,a,x) - \sum_{a,s'} y(x,a,s').

    For ``"linf"`` (all transitions) and ``"weighted_linf"`` (the support), only the
    largest and smallest reward over the actions matter, since :math:`D\Phi` does not
    depend on :math:`a`: with :math:`R^+(s,s') = \max_a R(s,a,s')` and
    :math:`R^-(s,s') = \min_a R(s,a,s')` over the pairs :math:`(s, s')` with an action
    kept, and :math:`D_2` the pair version of :math:`D`,

    .. math::

        \min_{\Phi, t} \{t : \pm(R^\pm + D_2\Phi) \le t\}
        = \max_{p, q \ge 0} \big\{\langle R^+, p\rangle - \langle R^-, q\rangle :
        D_2^\top (p - q) = 0,\; \textstyle\sum (p + q) = 1\big\}.

    :math:`\Phi^*` is read off the multipliers of the :math:`D^\top` rows (the simplex
    multipliers of the optimal basis). Costs are divided by their largest magnitude
    before the solve (HiGHS's tolerances are absolute), transition probabilities enter
    only as bounds (never as matrix entries that HiGHS could drop), and every solve starts
    cold, so the result depends on the reward alone.

    The result is checked: the primal objective :math:`n(R + D\Phi^*)` computed here must
    equal the dual objective :math:`\langle R, y\rangle` of the solver's :math:`y`
    (clipped to its bounds) to :data:`_LP_GAP_RTOL` times :math:`n(R) + n(D\Phi^*)`.

    Parameters
    ----------
    r : ndarray of shape (..., S, A, S)
        Validated rewards.
    mdp : TabularMDP
    norm : {"l1", "weighted_l1", "linf", "weighted_linf"}

    Returns
    -------
    ndarray of shape (..., S, A, S)
        The canonical rewards :math:`R + D\Phi^*`. When the minimiser is not unique, the
        solver's vertex: a :math:`\Phi^*` at which :math:`|S|` transitions (pairs for the
        :math:`L_\infty` norms: :math:`|S| + 1` active constraints) are tight.

    Raises
    ------
    ValidationError
        For a norm without an LP here or a reward of the wrong shape.
    SolverError
        When HiGHS does not report an optimal solution, or the duality gap is too large.
    """
    if norm not in _LP_NORMS:
        raise ValidationError(f"norm must be one of {_LP_NORMS} for the minimal_potential LP, "
                              f"got {norm!r}")
    if r.ndim < 3 or r.shape[-3:] != mdp.shape:
        raise ValidationError(f"reward must have shape (..., {mdp.n_states}, {mdp.n_actions}, "
                              f"{mdp.n_states}), got {r.shape}")
    import highspy

    n, m = mdp.n_states, mdp.n_actions
    gamma = mdp.gamma
    data = _potential_lp_data(mdp, norm)
    # Centre first: R' = R + D Phi_2 with the closed-form L2 potential Phi_2 has the same
    # minimisers up to Phi_2, but is free of the bulk of any shaping in R, so the LP's
    # costs (and HiGHS's absolute tolerances) are on the scale of the canonical.
    centred = minimal_potential_l2(np.asarray(r, dtype=np.float64), gamma)
    flat = centred.reshape(-1, n, m, n)
    count = flat.shape[0]
    if norm in ("l1", "weighted_l1"):
        costs = -flat.reshape(count, n * m * n)[:, data.select]
    else:
        if norm == "weighted_linf":
            kept = np.broadcast_to(mdp.support, flat.shape)
            r_max = np.where(kept, flat, -np.inf).max(axis=2)
            r_min = np.where(kept, flat, np.inf).min(axis=2)
        else:
            r_max, r_min = flat.max(axis=2), flat.min(axis=2)
        costs = np.concatenate([-r_max.reshape(count, n * n)[:, data.select],
                                r_min.reshape(count, n * n)[:, data.select]], axis=1)
    scales = np.abs(costs).max(axis=1, initial=0.0)

    n_cols, n_rows = data.lower.size, data.rhs.size
    h = _highs_solver()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = np.zeros(n_cols)
    lp.col_lower_, lp.col_upper_ = data.lower, data.upper
    lp.row_lower_, lp.row_upper_ = data.rhs, data.rhs
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_cols, n_rows
    lp.a_matrix_.start_, lp.a_matrix_.index_ = data.start, data.index
    lp.a_matrix_.value_ = data.value
    what = f"minimal_potential canonicalization ({norm})"

    phis = np.zeros((count, n))
    for k in range(count):
        if scales[k] == 0.0:  # nothing to minimise: Phi = 0 attains n(R + D Phi) = 0
            continue
        unit = costs[k] / scales[k]
        lp.col_cost_ = unit
        # passing the model again resets HiGHS completely (clearSolver alone keeps some
        # state): every solve starts cold, so the vertex depends on this reward alone
        try:
            passed = h.passModel(lp)
            run_status = h.run() if passed != highspy.HighsStatus.kError else None
            status = h.getModelStatus()
        except Exception as err:  # noqa: BLE001 - every solver failure is a SolverError
            raise SolverError(f"{what}: HiGHS failed ({type(err).__name__}: {err})") from None
        if passed == highspy.HighsStatus.kError:
            raise SolverError(f"{what}: HiGHS rejected the linear program")
        if run_status == highspy.HighsStatus.kError or status != highspy.HighsModelStatus.kOptimal:
            raise SolverError(f"{what}: HiGHS ended with status "
                              f"{h.modelStatusToString(status)!r}, not 'Optimal'")
        solution = h.getSolution()
        y = np.clip(np.asarray(solution.col_value, dtype=np.float64), data.lower, data.upper)
        multipliers = np.asarray(solution.row_dual, dtype=np.float64)
        phis[k] = scales[k] * multipliers[:n]
        # check: the primal objective (computed here) against the dual objective of the
        # solver's y; a residual rho = A y - b of the rows adds (to first order) <rho, pi>
        shaping = gamma * phis[k][None, None, :] - phis[k][:, None, None]
        primal = float(array_norm(flat[k] + shaping, norm, mdp))
        dual = -scales[k] * float(unit @ y)
        rho = data.matrix @ y - data.rhs
        infeasibility = scales[k] * float(np.abs(rho) @ np.abs(multipliers))
        gap = abs(primal - dual) + infeasibility
        size = float(array_norm(flat[k], norm, mdp) + array_norm(shaping, norm, mdp))
        if not gap <= _LP_GAP_RTOL * size:
            raise SolverError(f"{what}: the LP solution fails its optimality check: primal "
                              f"objective {primal!r}, dual objective {dual!r}, row "
                              f"infeasibility term {infeasibility:.3g} (gap {gap:.3g}, "
                              f"allowed {_LP_GAP_RTOL * size:.3g})")
    phis = phis.reshape(r.shape[:-3] + (n,))
    return centred + gamma * phis[..., None, None, :] - phis[..., :, None, None]


# --------------------------------------------------------------------------- dispatch


#: Elements of ``|R|`` formed at a time by :func:`expected_magnitude` (bounds the memory).
_MAGNITUDE_BLOCK = 2**16


def expected_magnitude(r: np.ndarray, t: np.ndarray) -> np.ndarray:
    r""":math:`\max_{s,a} \mathbb E_{S' \sim \tau(s,a)} |R(s, a, S')|` of each reward ``(...)``.

    The size of the terms summed into :math:`\bar R`, hence of its round-off (larger than
    :math:`\max|\bar R|` when :math:`S'`-redistribution cancels in the expectation).
    Formed in blocks of states, so no ``|R|`` temporary of the input's size is allocated.
    """
    n, m = t.shape[0], t.shape[1]
    flat = r.reshape((-1, n, m, n))
    per_state = m * n
    if flat.size <= _MAGNITUDE_BLOCK:
        out = np.einsum("ksat,sat->ksa", np.abs(flat), t).max(axis=(1, 2), initial=0.0)
        return out.reshape(r.shape[:-3])
    out = np.zeros(flat.shape[0])
    rewards = max(1, _MAGNITUDE_BLOCK // (n * per_state))
    states = max(1, _MAGNITUDE_BLOCK // per_state)
    for k0 in range(0, flat.shape[0], rewards):
        k1 = min(flat.shape[0], k0 + rewards)
        for s0 in range(0, n, states):
            s1 = min(n, s0 + states)
            part = np.einsum("ksat,sat->ksa", np.abs(flat[k0:k1, s0:s1]), t[s0:s1])
            np.maximum(out[k0:k1], part.max(axis=(1, 2)), out=out[k0:k1])
    return out.reshape(r.shape[:-3])


def shaping_magnitude(r: np.ndarray, c: np.ndarray, gamma) -> np.ndarray:
    r""":math:`\max_s |\Phi(s)|` of a canonical ``c = R + \gamma\Phi(s') - \Phi(s)`` ``(...)``.

    The diagonal transitions give :math:`c(s, a, s) - R(s, a, s) = (\gamma - 1)\Phi(s)`,
    so the potential of any shaping-only canonicalization is read off ``c`` and ``R``
    (used where a solver returns the canonical alone). ``gamma`` is a float or an array
    broadcasting against the batch shape.
    """
    diag = np.diagonal(c[..., :, 0, :] - r[..., :, 0, :], axis1=-2, axis2=-1)
    return max_abs(diag, 1) / (1.0 - gamma)


def shaping_noise(r: np.ndarray, c: np.ndarray, gamma, rtol: float) -> np.ndarray:
    """Round-off bound ``(...)`` of a shaping-only canonical ``c`` of ``r``: ``rtol`` times
    the larger of ``max |R|`` and the potential's ``max |Phi|`` (:func:`shaping_magnitude`)."""
    return rtol * np.maximum(max_abs(r, 3), shaping_magnitude(r, c, gamma))


def _minimal_potential(r: np.ndarray, mdp: TabularMDP, norm: str) -> np.ndarray:
    """MinimalPotential canonical: the L2 closed form, or a solver."""
    if norm == "l2":
        return minimal_potential_l2(r, mdp.gamma)
    if norm in _LP_NORMS:
        return _minimal_potential_lp(r, mdp, norm)
    return _minimal_potential_cvxpy(r, mdp, norm)


def canonical_parts(r: np.ndarray, mdp: TabularMDP, method: str, *, pi: np.ndarray,
                    state_dist: np.ndarray, action_dist: np.ndarray,
                    norm: str | None, rescaled: bool = False) -> Canonical:
    """Canonicalize validated ``r (..., S, A, S)``: a full array, or Factored when possible.

    Returns the canonical with its round-off bound (:class:`Canonical`). Every method is
    positively homogeneous, so a reward whose largest magnitude leaves the safe window
    (:data:`starc.norms.SAFE_EXPONENT`) is canonicalized after multiplying it by
    :math:`2^{-e}` (exact), which keeps values, potentials, norms and round-off bounds
    away from overflow and from subnormal numbers. With ``rescaled=True`` the result is
    left in those units and :attr:`Canonical.exponent` holds ``e`` (scale-invariant
    callers — normalization, Pearson distances, equivalence — need nothing else);
    otherwise it is multiplied back by :math:`2^{e}`, raising
    :class:`~starc.exceptions.ValidationError` when the canonical exceeds the float64
    range.
    """
    canon = _canonical_parts(r, mdp, method, pi=pi, state_dist=state_dist,
                             action_dist=action_dist, norm=norm)
    if rescaled or canon.exponent is None:
        return canon
    ex = canon.exponent
    value = canon.value
    what = f"the {method} canonical reward"
    if isinstance(value, Factored):
        value = Factored(unscale_checked(value.u, ex, what, axes=2), value.profile)
    else:
        value = unscale_checked(value, ex, what, axes=3)
    with np.errstate(over="ignore"):
        noise = np.ldexp(canon.noise, ex)
    return Canonical(value, noise)


def _canonical_parts(r: np.ndarray, mdp: TabularMDP, method: str, *, pi: np.ndarray,
                     state_dist: np.ndarray, action_dist: np.ndarray,
                     norm: str | None) -> Canonical:
    """:func:`canonical_parts` in rescaled units (``Canonical.exponent`` set when rescaled)."""
    t, gamma = mdp.transition, mdp.gamma
    if method in ("none", "epic", "dard", "val_potential", "minimal_potential"):
        big = max_abs(r, 3)
        # cvxpy's solvers have absolute tolerances: always solve at unit scale
        ex = scale_exponents(big, always=method == "minimal_potential" and norm != "l2")
        if ex is not None:
            r = rescale(r, ex)
            big = max_abs(r, 3)
        if method in ("none", "epic", "dard"):
            # combinations of R and of averages of R: round-off on the scale of max |R|
            if method == "none":
                c = r
            elif method == "epic":
                c = _epic(r, gamma, state_dist, action_dist)
            else:
                c = _dard(r, mdp, action_dist)
            return Canonical(c, ZERO_RTOL * big, ex)
        if method == "val_potential":
            v = evaluate_expected(mdp.expectation(r), mdp, pi)
            c = r - v[..., :, None, None] + gamma * v[..., None, None, :]
            return Canonical(c, ZERO_RTOL * np.maximum(big, max_abs(v, 1)), ex)
        c = _minimal_potential(r, mdp, norm)
        rtol = ZERO_RTOL if norm == "l2" else SOLVER_ZERO_RTOL
        return Canonical(c, shaping_noise(r, c, gamma, rtol), ex)
    # factored canonicals depend on R only through rbar
    rbar = mdp.expectation(r)
    magnitude = expected_magnitude(r, t)
    ex = None
    # magnitude <= max|R|: a small or zero one (tiny rewards, or rewards off the support
    # only) or a non-finite one (a sum that overflowed) asks for max|R| itself
    if method == "minimal" or not in_window(magnitude):
        ex = scale_exponents(max_abs(r, 3), always=method == "minimal")
        if ex is not None:
            r = rescale(r, ex)
            rbar = mdp.expectation(r)
            magnitude = expected_magnitude(r, t)
    if method == "val":
        u, v = val_advantage(rbar, mdp, pi)
        profile, rtol = "ones", ZERO_RTOL
    elif method == "minimal_l2":
        u, v = minimal_l2_coefficients(rbar, mdp)
        profile, rtol = "l2", ZERO_RTOL
    else:  # "minimal"
        u, v = minimal_coefficients(rbar, mdp, norm)
        profile, rtol = _MINIMAL_PROFILE[norm], SOLVER_ZERO_RTOL
    return Canonical(Factored(u, profile), rtol * np.maximum(magnitude, max_abs(v, 1)), ex)


def resolve_options(mdp: TabularMDP, method, policy, state_dist, action_dist, norm):
    """Validate the keyword options of :func:`canonicalize` once."""
    method = check_method(method)
    if isinstance(policy, str) and policy == "uniform":
        pi = _uniform(mdp, (mdp.n_states, mdp.n_actions))
    else:
        pi = check_policy(policy, mdp.n_states, mdp.n_actions)
    ds = (_uniform(mdp, (mdp.n_states,)) if state_dist is None
          else check_distribution(state_dist, mdp.n_states, "state_dist"))
    da = (_uniform(mdp, (mdp.n_actions,)) if action_dist is None
          else check_distribution(action_dist, mdp.n_actions, "action_dist"))
    if method in ("minimal", "minimal_potential"):
        norm = check_norm_name("l2" if norm is None else norm, "norm")
    elif norm is not None and not callable(method):
        raise ValidationError(f"norm= is used only by the 'minimal' and 'minimal_potential' "
                              f"canonicalizations, not by {method!r}")
    return method, pi, ds, da, norm


def canonicalize(reward, mdp: TabularMDP, method="val", *, policy="uniform", state_dist=None,
                 action_dist=None, norm=None) -> np.ndarray:
    r"""Canonicalize a reward (or a batch of rewards).

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
    mdp : TabularMDP
        A sparse MDP (``mdp.is_sparse``) returns ``(..., S, A)`` for ``"val"`` (the
        canonical is constant in s') and a CSR ``(S*A, S)`` matrix for ``"minimal_l2"``;
        see :doc:`/theory/sparse_distances`.
    method : str or callable, default "val"
        One of :data:`CANONICALIZATIONS` — ``"none"``, ``"epic"``, ``"dard"``, ``"val"``,
        ``"val_potential"``, ``"minimal_l2"``, ``"minimal"``, ``"minimal_potential"`` —
        or a callable ``f(reward (..., S, A, S), mdp) -> (..., S, A, S)``.
    policy : "uniform", int array (S,) or array (S, A), default "uniform"
        The fixed policy of ``"val"`` and ``"val_potential"``.
    state_dist : array_like of shape (S,), optional
        :math:`D_S` of ``"epic"``; uniform by default.
    action_dist : array_like of shape (A,), optional
        :math:`D_A` of ``"epic"`` and ``"dard"``; uniform by default.
    norm : str, optional
        The norm minimised by ``"minimal"`` and ``"minimal_potential"`` (default
        ``"l2"``): a name of :data:`starc.norms.NORMS`.

    Returns
    -------
    ndarray of shape (..., S, A, S)
        The canonical reward(s). See the module documentation for each formula.

    Raises
    ------
    ValidationError
        For unknown methods (the message lists the valid ones), bad shapes or options,
        or a canonical reward beyond the float64 range (rewards near
        :math:`1.8\times10^{308}`; rewards of any smaller size are canonicalized exactly
        to round-off, see "Numerical range and failure modes" in
        :doc:`/theory/distances`).
    SolverError
        When a cvxpy solve (``"minimal"``, non-L2 ``"minimal_potential"``) is not optimal.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 1, Prop. 2 (VAL), Def. 4 (minimal).
    .. [2] Gleave et al. 2021 ("EPIC"), Def. 4.1.
    .. [3] Wulfe et al. 2022 ("DARD"), Def. 1.

    Examples
    --------
    The VAL canonical of the two-state toy MDP is the uniform-policy advantage:

    >>> import numpy as np
    >>> from starc import TabularMDP, canonicalize
    >>> T = np.zeros((2, 2, 2)); T[0, 0, 0] = T[1, 0, 1] = T[0, 1, 1] = T[1, 1, 0] = 1
    >>> R = np.zeros((2, 2, 2)); R[0, 1, 1] = 1.0
    >>> canonicalize(R, TabularMDP(T, gamma=0.9), "val")[:, :, 0].round(12)
    array([[-0.275,  0.275],
           [-0.225,  0.225]])
    """
    as_mdp(mdp)
    if getattr(mdp, "is_sparse", False):  # THEORY §11: (..., S, A) or CSR, never (S, A, S)
        from . import _sparse_distances
        return _sparse_distances.canonicalize(reward, mdp, method, policy=policy,
                                              state_dist=state_dist, action_dist=action_dist,
                                              norm=norm)
    method, pi, ds, da, norm = resolve_options(mdp, method, policy, state_dist, action_dist,
                                               norm)
    r = broadcast_reward(reward, mdp)
    if callable(method):
        out = as_float_array(method(r, mdp), "canonicalization result")
        if out.shape != r.shape:
            raise ValidationError(f"the canonicalization callable returned shape {out.shape}, "
                                  f"expected {r.shape}")
        return out
    out = canonical_parts(r, mdp, method, pi=pi, state_dist=ds, action_dist=da,
                          norm=norm).value
    if isinstance(out, Factored):
        return out.expand(mdp)
    return out if out is not r else r.copy()
