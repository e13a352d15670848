r"""Regret of optimising a proxy reward model, exactly and in the worst case.

Argmax regret
-------------
With true reward :math:`R_1` and proxy :math:`R_2` on prompts :math:`x` (weights
:math:`\mu`), the policy that answers each prompt with a proxy-best response
:math:`y_2^*(x)` has the normalised regret

.. math::

    \operatorname{Reg}(R_1, R_2) = \frac{\sum_x \mu(x)\,\big(\max_y R_1(x, y)
        - R_1(x, y_2^*(x))\big)}{\sum_x \mu(x)\,\big(\max_y R_1(x, y) - \min_y R_1(x, y)\big)}
    \in [0, 1],

and 0 when :math:`R_1` is trivial (constant on every prompt: the denominator is at most
:data:`~starc.norms.ZERO_RTOL` :math:`\sum_x \mu(x) \max_y |R_1(x, y)|`, its round-off).
The proxy's ties are decided against round-off, relative to its per-prompt scale: the
responses with :math:`R_2(x, y) \ge \max_{y'} R_2(x, y') - \epsilon \max_{y'}|R_2(x, y')|`,
:math:`\epsilon` = :data:`starc.regret.TIE_RTOL`, are all proxy-optimal. ``ties`` picks the
worst of them under :math:`R_1` (``"pessimistic"``, the default), the best
(``"optimistic"``), the first in index order (``"first"``) or the uniform mixture
(``"uniform"``).

Every regret here is invariant to positive scaling of either reward, so both are first
divided by a power of two near their largest magnitude (exact): scores anywhere from
:math:`5\times10^{-324}` to :math:`1.7\times10^{308}` give the regrets of the same rewards
at unit scale, without overflow.

Worst-case regret
-----------------
The quantity STARC metrics bound [1]_ (Def. 5, Thm. 1):

.. math::

    \operatorname{WCR}(R_1, R_2) = \max_{\pi, \pi' :\, J_2(\pi) \ge J_2(\pi')}
        \frac{J_1(\pi') - J_1(\pi)}{\max_\pi J_1 - \min_\pi J_1}.

Policies form a product of simplices and returns are linear, so this is a linear program;
its Lagrangian decomposes over prompts (derived; THEORY §10). For :math:`\lambda \ge 0`,

.. math::

    g(\lambda) = \sum_x \mu(x)\Big[\max_y \big(R_1 - \lambda R_2\big)(x, y)
        + \max_y \big(\lambda R_2 - R_1\big)(x, y)\Big],
    \qquad \operatorname{WCR} = \frac{\min_{\lambda \ge 0} g(\lambda)}{g(0)}

by LP duality (the primal is feasible with :math:`\pi = \pi'`). Each bracket is the width
:math:`U_x(\lambda) - L_x(\lambda)` of the lines :math:`\lambda \mapsto R_1(x, y) -
\lambda R_2(x, y)`: the upper envelope minus the lower one, convex and piecewise linear.
:func:`worst_case_regret` builds both envelopes of every prompt by gift wrapping (each
step follows the next line to overtake the current one; at most :math:`m - 1` steps, all
prompts at once), merges their breakpoints, sorts them
(:math:`O(nm\log(nm))`), and sweeps the summed slope from :math:`g'(0^+)` until it turns
non-negative: that breakpoint minimises :math:`g`, which is then evaluated directly. No LP
solver is involved; ``method="lp"`` solves the primal with HiGHS for cross-checking.

Before the sweep both rewards lose their per-prompt maxima and are scaled by a power of
two to :math:`\max|\cdot| \in [1, 2)` (exact; WCR is invariant to both), so a nearly
trivial proxy :math:`R_2 = f(x) + \varepsilon R'` is handled like :math:`R'` instead of
sending :math:`\lambda \to \infty`. The proxy's round-off ties (as in :func:`regret`) are merged
first: scores within the tie tolerance of the prompt's maximum are set to it. Hence
:math:`\operatorname{Reg} \le \operatorname{WCR}` holds exactly for every ``ties`` rule,
a trivial proxy gives :math:`\operatorname{WCR} = 1` (:math:`g` is constant), and a
trivial true reward gives 0.

Certified bound
---------------
For a STARC distance :math:`d = m(s_1 - s_2)` with :math:`s_i = c_i / n(c_i)` and any
per-prompt-offset canonicalization (derived, cf. [1]_, proof of Thm. 1): write
:math:`\delta(x, y) = \mu(x)(\pi'(y|x) - \pi(y|x))`. Offsets cancel in
:math:`\sum_y \delta(x, y)\,c(x, y)`, so for :math:`J_2(\pi) \ge J_2(\pi')`
(:math:`\langle \delta, s_2\rangle \le 0`)

.. math::

    J_1(\pi') - J_1(\pi) = n(c_1) \langle \delta, s_1 \rangle
      \le n(c_1) \langle \delta, s_1 - s_2 \rangle \le n(c_1)\, d\, K_m,
    \qquad K_m = \max_{\pi, \pi'} m^*(\delta),

:math:`m^*` the dual norm of the metric. The maximum of the convex :math:`m^*` is at
vertices, :math:`\delta(x) = \mu(x)(e_y - e_{y'})`; over the prompts with
:math:`\mu(x) > 0` and at least two responses ("active"):

============== =========================================================================
metric          :math:`K_m`
============== =========================================================================
l1              :math:`\max_x \mu(x)`
l2              :math:`\sqrt{2 \sum_x \mu(x)^2}`
linf            :math:`2 \sum_x \mu(x)`
weighted_l1     :math:`\max_x 1/\nu_{(1)}(x)`
weighted_l2     :math:`\sqrt{\sum_x \mu(x)\,(1/\nu_{(1)}(x) + 1/\nu_{(2)}(x))}`
weighted_linf   :math:`2 \sum_x \mu(x)`
============== =========================================================================

:math:`\nu_{(1)} \le \nu_{(2)}` are a prompt's two smallest response weights; the weighted
duals pair :math:`\delta/D` with :math:`e` under :math:`D` (Hölder in the measure
:math:`D`), so a valid response with :math:`\nu = 0` on an active prompt gives
:math:`K = \infty`: the weighted metric cannot see it. Hence
:math:`\operatorname{WCR} \le \min(1, U\, d)` with
:math:`U = n(c_1) K_m / \operatorname{range}(R_1)` (:func:`soundness_constant`,
:func:`regret_bound`).

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Def. 5, Thm. 1.
"""

from __future__ import annotations

import numpy as np

from .._extremes import finite_result, scale_exponent, scaled_by_max_abs, unscale
from ..exceptions import SolverError, ValidationError
from ..norms import ZERO_RTOL
from ..regret import TIE_RTOL
from ._checks import (Setting, as_bandit_reward, check_name, check_pair_shapes, max_abs,
                      reward_shape, rows_max, rows_min, setting)
from .distances import options, unit_canonical
from .norms import negligible, norm_unit, ones_norm

__all__ = ["TIES", "regret", "worst_case_regret", "regret_bound", "soundness_constant"]

#: Tie rules of :func:`regret`.
TIES = ("pessimistic", "optimistic", "first", "uniform")

#: Methods of :func:`worst_case_regret`.
WCR_METHODS = ("parametric", "lp")


# ----------------------------------------------------------------- shared pieces


def _near_unit(x: np.ndarray) -> np.ndarray:
    r"""``x``, with each array whose ``max|x|`` is outside :math:`2^{\pm 256}` divided by a
    power of two near it (exact; the regrets do not depend on the scale of either reward),
    so that no range, difference or ratio over- or underflows. Arrays of ordinary size are
    used as they are (no extra pass; cf. :func:`starc._extremes.far_exponent`)."""
    big = max_abs(x)
    far = (big > 2.0**256) | (big < 2.0**-256)
    if not np.any(far):
        return x
    k = np.where(far, scale_exponent(big), 0)
    return np.ldexp(x, -k[..., None, None])


def _pair(r_true, r_proxy, mask, prompt_weights, response_weights=None):
    """Validated rewards, each brought near unit scale when far from it (:func:`_near_unit`)."""
    s1, s2 = reward_shape(r_true, "r_true"), reward_shape(r_proxy, "r_proxy")
    check_pair_shapes(s1, s2, "r_true", "r_proxy")
    st = setting(s1, mask, prompt_weights, response_weights)
    return (_near_unit(as_bandit_reward(r_true, st.mask, "r_true")),
            _near_unit(as_bandit_reward(r_proxy, st.mask, "r_proxy")), st)


def true_range(a: np.ndarray, st: Setting):
    r"""``(range, trivial, amax, amin)``: :math:`\sum_x \mu(\max - \min)` and its zero test."""
    amax, amin = rows_max(a, st.mask), rows_min(a, st.mask)
    span = (amax - amin) @ st.mu
    scale = np.maximum(amax, -amin) @ st.mu
    return span, span <= ZERO_RTOL * scale, amax, amin


def proxy_ties(b: np.ndarray, st: Setting) -> tuple[np.ndarray, np.ndarray]:
    """``(tied, bmax)``: the proxy-optimal responses of each prompt, up to round-off."""
    bmax, bmin = rows_max(b, st.mask), rows_min(b, st.mask)
    tol = TIE_RTOL * np.maximum(bmax, -bmin)
    tied = b >= (bmax - tol)[..., None]
    if st.mask is not None:
        tied &= st.mask
    return tied, bmax


# ----------------------------------------------------------------- argmax regret


def regret(r_true, r_proxy, *, prompt_weights=None, mask=None, ties="pessimistic"):
    r"""Normalised regret of answering every prompt with a proxy-best response.

    .. math::

        \operatorname{Reg} = \frac{\sum_x \mu(x)\,(\max_y R_1(x, y) - R_1(x, y_2^*(x)))}
                                  {\sum_x \mu(x)\,(\max_y R_1(x, y) - \min_y R_1(x, y))},

    :math:`y_2^*(x)` a maximiser of :math:`R_2(x, \cdot)` chosen among the proxy's ties
    (decided against round-off, relative to the prompt's :math:`\max_y |R_2|`) by
    ``ties``. 0 when :math:`R_1` is constant on every prompt (up to round-off).

    Parameters
    ----------
    r_true, r_proxy : array_like of shape (..., n, m)
        True and proxy scores; batch axes broadcast.
    prompt_weights : array_like of shape (n,), optional
        :math:`\mu` (default uniform).
    mask : array_like of bool, shape (n, m), optional
        True at real responses; other entries are never read.
    ties : {"pessimistic", "optimistic", "first", "uniform"}, default "pessimistic"
        Which proxy-optimal response is played: the worst under :math:`R_1`, the best, the
        first in index order, or a uniform mixture of them.

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 1]``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 (the regret of the experiments).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import regret
    >>> r_true = np.array([[0.0, 1.0, 2.0], [0.0, 4.0, 1.0]])
    >>> r_proxy = np.array([[0.0, 5.0, 5.0], [0.0, 3.0, 1.0]])
    >>> regret(r_true, r_proxy)                     # prompt 0: ties 1 and 2, worst is 1
    0.16666666666666666
    >>> regret(r_true, r_proxy, ties="optimistic")
    0.0
    """
    ties = check_name(ties, "ties", TIES)
    a, b, st = _pair(r_true, r_proxy, mask, prompt_weights)
    a, b = np.broadcast_arrays(a, b)
    span, trivial, amax, _ = true_range(a, st)
    tied, _ = proxy_ties(b, st)
    if ties == "pessimistic":
        chosen = np.where(tied, a, np.inf).min(axis=-1)
    elif ties == "optimistic":
        chosen = np.where(tied, a, -np.inf).max(axis=-1)
    elif ties == "first":
        chosen = np.take_along_axis(a, np.argmax(tied, axis=-1)[..., None], axis=-1)[..., 0]
    else:
        chosen = np.where(tied, a, 0.0).sum(axis=-1) / tied.sum(axis=-1)
    loss = np.maximum(amax - chosen, 0.0) @ st.mu
    out = np.where(trivial, 0.0, np.clip(loss / np.where(trivial, 1.0, span), 0.0, 1.0))
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------------- worst-case regret


def _prepare(a: np.ndarray, b: np.ndarray, st: Setting):
    """Offset-free, unit-scale copies of one (true, proxy) pair, on the active prompts.

    Returns ``(a, b, valid, mu)`` restricted to prompts with mu > 0 and >= 2 responses
    (0 on padding), the proxy's round-off ties merged into its maximum.
    """
    tied, bmax = proxy_ties(b, st)
    keep = (st.mu > 0) & (st.counts >= 2)
    amax = rows_max(a, st.mask)
    a = a - amax[:, None]
    b = np.where(tied, 0.0, b - bmax[:, None])
    if st.mask is not None:
        np.copyto(a, 0.0, where=~st.mask)
        np.copyto(b, 0.0, where=~st.mask)
    valid = st.valid
    if not keep.all():
        a, b, valid = a[keep], b[keep], valid[keep]
    mu = st.mu[keep]
    # to max|.| in [1, 2) by powers of two: exact, and no overflow of 1 / max for
    # differences that are subnormal (2**-k is not a float64 below k = -1022)
    ka, kb = int(scale_exponent(max_abs(a))), int(scale_exponent(max_abs(b)))
    a = a * np.ldexp(1.0, -ka) if ka > -1022 else np.ldexp(a, -ka)
    b = b * np.ldexp(1.0, -kb) if kb > -1022 else np.ldexp(b, -kb)
    return a, b, valid, mu


def _upper_breaks(a: np.ndarray, b: np.ndarray):
    r"""Breakpoints of :math:`U(\lambda) = \max_y (a_y - \lambda b_y)` on :math:`\lambda > 0`.

    Padding must hold ``a = -inf, b = +inf`` (never selected). Gift wrapping, all rows at
    once: start from the maximiser of ``a`` (ties: the least ``b``, the steepest line),
    and repeatedly move to the line of smaller ``b`` that overtakes the current one first
    (ties: the least ``b``, skipping lines through the same point). Returns
    ``(b0, rows, lams, drops)``: the slope :math:`-b_0` of each row at :math:`0^+`, and for
    each breakpoint its row, its :math:`\lambda` and the slope increase
    :math:`b_{\text{cur}} - b_{\text{next}} > 0`.
    """
    n = a.shape[0]
    rows = np.arange(n)
    top = a.max(axis=1)
    cur = np.argmin(np.where(a == top[:, None], b, np.inf), axis=1)
    b0 = b[rows, cur]
    acur, bcur, lcur = top, b0.copy(), np.zeros(n)
    out_rows, out_lams, out_drops = [], [], []
    live = rows[(b < bcur[:, None]).any(axis=1)]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while live.size:
            aa, bb = a[live], b[live]
            ac, bc = acur[live], bcur[live]
            db = bc[:, None] - bb
            lam = (ac[:, None] - aa) / db
            lam = np.where(db > 0, lam, np.inf)  # only lines of smaller b overtake
            lmin = np.maximum(lam.min(axis=1), lcur[live])  # round-off: never go back
            nxt = np.argmin(np.where(lam <= lmin[:, None], bb, np.inf), axis=1)
            k = np.arange(live.size)
            bn = bb[k, nxt]
            out_rows.append(live)
            out_lams.append(lmin)
            out_drops.append(bc - bn)
            acur[live], bcur[live], lcur[live] = aa[k, nxt], bn, lmin
            live = live[(bb < bn[:, None]).any(axis=1)]
    if out_rows:
        return (b0, np.concatenate(out_rows), np.concatenate(out_lams),
                np.concatenate(out_drops))
    empty = np.zeros(0)
    return b0, empty.astype(np.int64), empty, empty


def _width(a: np.ndarray, b: np.ndarray, valid: np.ndarray, mu: np.ndarray, lam: float):
    r""":math:`g(\lambda) = \sum_x \mu(x)\,(\max_y - \min_y)(a - \lambda b)`."""
    v = a - lam * b
    if valid.all():
        return float((v.max(axis=1) - v.min(axis=1)) @ mu)
    return float((np.where(valid, v, -np.inf).max(axis=1)
                  - np.where(valid, v, np.inf).min(axis=1)) @ mu)


def _wcr_parametric(a, b, valid, mu) -> float:
    g0 = _width(a, b, valid, mu, 0.0)
    if not np.any(b != 0):  # trivial proxy: g is constant
        return 1.0
    pad = ~valid
    bu, ru, lu, du = _upper_breaks(np.where(pad, -np.inf, a), np.where(pad, np.inf, b))
    # the lower envelope is minus the upper envelope of (-a, -b)
    bl, rl, ll, dl = _upper_breaks(np.where(pad, -np.inf, -a), np.where(pad, np.inf, -b))
    slope0 = float(mu @ (-bu - bl))
    if slope0 >= 0:
        return 1.0
    lams = np.concatenate([lu, ll])
    drops = np.concatenate([du * mu[ru], dl * mu[rl]])
    order = np.argsort(lams, kind="stable")
    lams, drops = lams[order], drops[order]
    slopes = slope0 + np.cumsum(drops)
    k = int(np.argmax(slopes >= 0)) if np.any(slopes >= 0) else lams.size - 1
    # g is convex: its minimum is at lams[k]; the neighbours guard the sign decision
    cand = {float(lams[j]) for j in (k - 1, k, k + 1) if 0 <= j < lams.size}
    best = min(_width(a, b, valid, mu, lam) for lam in cand)
    return float(min(1.0, max(0.0, best / g0)))


def _wcr_lp(a, b, valid, mu) -> float:
    import warnings

    from scipy.optimize import OptimizeWarning, linprog
    from scipy.sparse import coo_matrix, hstack

    from .._solvers import HIGHS_TIGHT_OPTIONS

    g0 = _width(a, b, valid, mu, 0.0)
    rows, cols = np.nonzero(valid)
    w = mu[rows]
    av, bv = a[rows, cols], b[rows, cols]
    nv, n = rows.size, a.shape[0]
    c = np.concatenate([w * av, -w * av])  # minimise J1(pi) - J1(pi')
    a_ub = np.concatenate([-w * bv, w * bv])[None, :]  # J2(pi') - J2(pi) <= 0
    simplex = coo_matrix((np.ones(nv), (rows, np.arange(nv))), shape=(n, nv))
    zero = coo_matrix((n, nv))
    a_eq = hstack([hstack([simplex, zero]).T, hstack([zero, simplex]).T]).T.tocsr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)  # HiGHS options passed verbatim
        res = linprog(c, A_ub=a_ub, b_ub=[0.0], A_eq=a_eq, b_eq=np.ones(2 * n),
                      bounds=(0, None), method="highs-ds",
                      options=HIGHS_TIGHT_OPTIONS)
    if res.status != 0:
        raise SolverError(f"worst_case_regret(method='lp'): linprog failed: {res.message}")
    return float(min(1.0, max(0.0, -res.fun / g0)))


def worst_case_regret(r_true, r_proxy, *, prompt_weights=None, mask=None,
                      method="parametric"):
    r"""Exact worst-case normalised regret of ordering policies by the proxy.

    .. math::

        \operatorname{WCR} = \max_{\pi, \pi' :\, J_2(\pi) \ge J_2(\pi')}
            \frac{J_1(\pi') - J_1(\pi)}{\max J_1 - \min J_1}
          = \frac{\min_{\lambda \ge 0} g(\lambda)}{g(0)}, \quad
        g(\lambda) = \sum_x \mu(x) \Big[\max_y (R_1 - \lambda R_2)
                     + \max_y (\lambda R_2 - R_1)\Big],

    :math:`g` convex and piecewise linear, minimised exactly at one of its breakpoints
    (see :mod:`starc.bandit.regret`). The proxy's round-off ties are merged as in
    :func:`regret`, so ``worst_case_regret >= regret`` for every tie rule.

    Parameters
    ----------
    r_true, r_proxy : array_like of shape (..., n, m)
        Batch axes broadcast (each pair is solved on its own).
    prompt_weights : array_like of shape (n,), optional
        :math:`\mu` (default uniform).
    mask : array_like of bool, shape (n, m), optional
        True at real responses; other entries are never read.
    method : {"parametric", "lp"}, default "parametric"
        The breakpoint sweep (:math:`O(nm \log(nm))`), or the primal LP over the product of
        simplices solved by HiGHS (scipy), for cross-checking.

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 1]``: 0 when :math:`R_1` is trivial, 1 when :math:`R_2` is trivial (and
        :math:`R_1` is not).

    Raises
    ------
    SolverError
        ``method="lp"`` and HiGHS did not reach an optimum.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 5 (soundness) and Thm. 1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import worst_case_regret
    >>> r_true = np.array([[0.0, 1.0, 2.0]])
    >>> r_proxy = np.array([[0.0, 2.0, 1.0]])
    >>> worst_case_regret(r_true, r_proxy)   # pi = (1/2, 1/2, 0) vs pi' = y2: 1.5 / 2
    0.75
    >>> worst_case_regret(r_true, np.zeros((1, 3))), worst_case_regret(r_true, 2 * r_true)
    (1.0, 0.0)
    """
    method = check_name(method, "method", WCR_METHODS)
    a, b, st = _pair(r_true, r_proxy, mask, prompt_weights)
    a, b = np.broadcast_arrays(a, b)
    batch = a.shape[:-2]
    _, trivial, _, _ = true_range(a, st)
    solve = _wcr_parametric if method == "parametric" else _wcr_lp
    out = np.zeros(batch)
    for idx in np.ndindex(*batch):
        if trivial[idx]:
            continue
        prepared = _prepare(a[idx], b[idx], st)
        out[idx] = solve(*prepared)
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------------- certified bound


def dual_constant(metric: str, st: Setting) -> float:
    r""":math:`K_m = \max_{\pi,\pi'} m^*(\mu(\pi' - \pi))` over the active prompts."""
    active = (st.mu > 0) & (st.counts >= 2)
    if not np.any(active):
        return 0.0
    mu = st.mu[active]
    if metric == "l1":
        return float(mu.max())
    if metric == "l2":
        return float(np.sqrt(2.0 * (mu * mu).sum()))
    if metric in ("linf", "weighted_linf"):
        if metric == "weighted_linf" and np.any((st.nu_full[active] <= 0) & st.valid[active]):
            return np.inf
        return float(2.0 * mu.sum())
    nu = np.where(st.valid[active], st.nu_full[active], np.inf)
    if np.any(nu <= 0):
        return np.inf  # a valid response the weighted metric cannot see
    two = np.sort(nu, axis=1)[:, :2]
    if metric == "weighted_l1":
        return float((1.0 / two[:, 0]).max())
    return float(np.sqrt(mu @ (1.0 / two[:, 0] + 1.0 / two[:, 1])))


def soundness_constant(r_true, *, canonicalization="mean", normalization="l2", metric="l2",
                       prompt_weights=None, response_weights=None, mask=None) -> float:
    r"""The factor :math:`U` with :math:`\operatorname{WCR}(R_1, R_2) \le U\,d(R_1, R_2)`.

    .. math::

        U(R_1) = \frac{n(c(R_1))\; K_m}{\sum_x \mu(x)\,(\max_y R_1 - \min_y R_1)},
        \qquad K_m = \max_{\pi, \pi'} m^*\big(\mu(\pi' - \pi)\big),

    :math:`m^*` the dual norm of the metric (the table in :mod:`starc.bandit.regret`),
    for every proxy :math:`R_2` and every canonicalization offered (each subtracts a
    per-prompt offset, which policy differences cannot see). The result is raised by a
    relative :data:`~starc.norms.ZERO_RTOL` to cover the round-off of its factors.

    Parameters
    ----------
    r_true : array_like of shape (n, m)
    canonicalization, normalization, metric, prompt_weights, response_weights, mask
        As in :func:`starc.bandit.distance`.

    Returns
    -------
    float
        0 when :math:`R_1` is trivial; ``inf`` when the bound cannot certify anything
        (a weighted metric with a valid response of weight 0 on a prompt of positive
        weight, or a canonical that is zero up to round-off while :math:`R_1` is not
        trivial).

    Raises
    ------
    ValidationError
        For bad names, shapes, weights or mask, NaN or inf at a valid entry, or (only with
        ``normalization=None``, where :math:`U = K_m / \operatorname{range}(R_1)` is not
        scale invariant) a constant beyond the float64 range (subnormal rewards).

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Def. 5, Thm. 1 and its proof.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import soundness_constant
    >>> r = np.array([[0.0, 1.0], [0.0, 3.0]])
    >>> round(soundness_constant(r, metric="linf", normalization="linf",
    ...                          canonicalization="midrange"), 9)      # 1.5 * 2 / 2
    1.5
    """
    method, normalization, metric = options(canonicalization, normalization, metric)
    shape = reward_shape(r_true, "r_true")
    if len(shape) != 2:
        raise ValidationError(f"r_true must be one reward of shape (n_prompts, n_responses), "
                              f"got {shape}")
    st = setting(shape, mask, prompt_weights, response_weights)
    # U is scale invariant except without normalization (U = K / range): work on
    # R / 2**e (exact) and scale that one back
    a, e = scaled_by_max_abs(as_bandit_reward(r_true, st.mask, "r_true"))
    span, trivial, _, _ = true_range(a, st)
    if trivial:
        return 0.0
    k = dual_constant(metric, st)
    if not np.isfinite(k):
        return np.inf
    if normalization is None:
        u_none = unscale(k / span * (1.0 + ZERO_RTOL), -e.reshape(()))
        return float(finite_result(u_none, "the soundness constant"))
    u, big, f = unit_canonical(a, method, st)  # u = c * f
    n_u = float(norm_unit(u, normalization, st))
    if negligible(n_u, ones_norm(normalization, st), float(big * f)):
        return np.inf
    return float(n_u * k / (span * f) * (1.0 + ZERO_RTOL))


def regret_bound(r_true, distance, *, canonicalization="mean", normalization="l2",
                 metric="l2", prompt_weights=None, response_weights=None, mask=None):
    r"""Certified upper bound on the worst-case regret of any proxy within ``distance``.

    .. math::

        \operatorname{WCR}(R_1, R_2) \le \min\big(1,\; U(R_1)\, d(R_1, R_2)\big),

    :math:`U` from :func:`soundness_constant` (1 where :math:`U = \infty`).

    Parameters
    ----------
    r_true : array_like of shape (n, m)
    distance : float or array_like
        A distance from :func:`starc.bandit.distance` with the same options.
    canonicalization, normalization, metric, prompt_weights, response_weights, mask
        As in :func:`starc.bandit.distance`.

    Returns
    -------
    float or ndarray
        In ``[0, 1]``.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Thm. 1 (soundness) and its proof.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import distance, regret_bound, worst_case_regret
    >>> rng = np.random.default_rng(0)
    >>> r1, r2 = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    >>> r2 = r1 + 0.1 * r2
    >>> bound = regret_bound(r1, distance(r1, r2))
    >>> bool(worst_case_regret(r1, r2) <= bound < 1)
    True
    """
    from .._validation import as_float_array

    d = as_float_array(distance, "distance")
    if np.any(d < 0):
        raise ValidationError("distance must be non-negative")
    u = soundness_constant(r_true, canonicalization=canonicalization,
                           normalization=normalization, metric=metric,
                           prompt_weights=prompt_weights, response_weights=response_weights,
                           mask=mask)
    out = np.ones_like(d) if not np.isfinite(u) else np.minimum(1.0, u * d)
    return float(out) if out.ndim == 0 else out
