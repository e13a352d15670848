r"""Over-optimisation curves: what optimising a proxy reward model does to the true reward.

A reward model :math:`R_2` (the *proxy*) is optimised in place of the true reward
:math:`R_1` over the prompts :math:`x` (weights :math:`\mu(x)`) and, for each prompt, a
finite set of candidate responses :math:`y` drawn by a reference policy :math:`\nu(y \mid x)`
(the contextual bandit of the module :mod:`starc.bandit`). Two families of optimised
policies interpolate between :math:`\nu` and the proxy's argmax, and both are computed
*exactly* on the discrete response sets [1]_ [2]_ [3]_:

* **best-of-n**: draw :math:`n` responses i.i.d. from :math:`\nu(\cdot \mid x)`, keep the one
  the proxy scores highest (ties broken uniformly at random). With
  :math:`F_x(v) = \nu(R_2(x, Y) \le v \mid x)` and :math:`F_x^-(v) = \nu(R_2(x, Y) < v \mid x)`
  the kept response has the distribution

  .. math::

      \pi_n(y \mid x) = \frac{\nu(y \mid x)}{F_x(v) - F_x^-(v)}
      \big(F_x(v)^n - F_x^-(v)^n\big), \qquad v = R_2(x, y),

  (:func:`starc.transforms.best_of_n_policy`), whose exact KL divergence from :math:`\nu`
  is at most the classical :math:`\log n - (n - 1)/n` [4]_;
* **KL-regularised optimisation**: the optimum of
  :math:`\max_\pi \mathbb E_\pi[R_2] - \beta\, \mathrm{KL}(\pi \,\|\, \nu)` with one temperature
  :math:`\beta` shared by all prompts,

  .. math::

      \pi_\beta(y \mid x) = \frac{\nu(y \mid x)\, e^{R_2(x, y)/\beta}}
      {\sum_{y'} \nu(y' \mid x)\, e^{R_2(x, y')/\beta}},

  (the tilt of :mod:`starc.transforms.policies`): :math:`\beta \to \infty` gives :math:`\nu`,
  :math:`\beta \to 0` the proxy's argmax (:math:`\nu` restricted to the proxy's best
  responses). Requested KL values are reached by :func:`starc.transforms.kl_sweep`, which
  finds the :math:`\beta` whose :math:`\sum_x \mu(x) \mathrm{KL}(\pi_\beta(\cdot \mid x)
  \,\|\, \nu(\cdot \mid x))` equals each of them.

Each policy is scored by its *gain* in true reward over the reference policy, and by the
same gain normalised by the largest possible one,

.. math::

    G(\pi) = \sum_x \mu(x) \sum_y \big(\pi(y \mid x) - \nu(y \mid x)\big) R_1(x, y),
    \qquad
    \bar G(\pi) = \frac{G(\pi)}{\sum_x \mu(x) \big(\max_{y:\,\nu(y|x) > 0} R_1(x, y)
    - \sum_y \nu(y \mid x) R_1(x, y)\big)},

(:math:`\bar G = 1` is the best any policy on the reference policy's support achieves,
:math:`\bar G < 0` a policy worse than not optimising at all), and the same two numbers
for the proxy. Plotted against :math:`\mathrm{KL}(\pi \,\|\, \nu)` they are the
over-optimisation curves of Gao et al. [1]_: the proxy's gain keeps rising while the true
gain peaks and falls when the proxy is a poor stand-in for the true reward. When the proxy
equals the true reward both gains rise monotonically with :math:`n` and with
:math:`1/\beta`.

References
----------
.. [1] Gao, Schulman and Hilton. "Scaling Laws for Reward Model Overoptimization".
   ICML 2023, arXiv 2210.10760 (gold reward against KL for best-of-n and RL).
.. [2] Skalse et al. "STARC: A General Framework For Quantifying Differences Between
   Reward Functions". ICLR 2024, arXiv 2309.15257, Sec. 2 (regret of optimising a proxy).
.. [3] Wang et al. "Transforming and Combining Rewards for Aligning Large Language
   Models". ICML 2024, arXiv 2402.00742, Sec. 2 (the KL-regularised optimum).
.. [4] Beirami et al. "Theoretical guarantees on the best-of-n alignment policy".
   arXiv 2401.01879, 2024 (the exact best-of-n distribution; the KL formula is a bound).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import as_float_array, as_log_probs, check_choice
from ._checks import as_bandit_reward, check_pair_shapes, reward_shape, setting
from ..exceptions import MissingDependencyError, ValidationError
from .._extremes import finite_result, scaled_by_max_abs, unscale
from ..transforms.policies import (best_of_n_kl, best_of_n_policy, exponential_tilt,
                                   kl_divergence, kl_sweep)

__all__ = ["overoptimization", "plot_overoptimization", "OVEROPTIMIZATION_COLUMNS"]

#: The columns of the table returned by :func:`overoptimization`, in order.
OVEROPTIMIZATION_COLUMNS = ("method", "n", "beta", "kl", "kl_bound", "true_gain",
                            "true_gain_normalized", "proxy_gain", "proxy_gain_normalized")

#: Default numbers of draws of best-of-n.
DEFAULT_N = (1, 2, 4, 8, 16, 32, 64, 128)
#: Number of KL values of the default KL grid (from 0 to 95% of the largest reachable KL,
#: quadratically spaced).
DEFAULT_KL_POINTS = 20

_REL_ZERO = 1e-12


# -- argument checks (private; the shared ones are in starc.bandit._checks) -----------------------------------------------------------

def _check_inputs(r_true, r_proxy, mask, prompt_weights, response_weights):
    """Rewards (padding 0), the valid mask, mu and log nu (-inf off the mask and at nu = 0)."""
    for name, r in (("r_true", r_true), ("r_proxy", r_proxy)):
        if len(reward_shape(r, name)) != 2:
            raise ValidationError(f"{name} must have shape (n_prompts, n_responses) (one "
                                  f"reward model), got shape {np.shape(r)}")
    check_pair_shapes(np.shape(r_true), np.shape(r_proxy), "r_true", "r_proxy")
    st = setting(np.shape(r_true), mask, prompt_weights, response_weights)
    rt = as_bandit_reward(r_true, st.mask, "r_true")   # padding is never read: 0 from here
    rp = as_bandit_reward(r_proxy, st.mask, "r_proxy")
    with np.errstate(divide="ignore"):
        lw = np.log(st.nu_full)
    return rt, rp, st.valid, st.mu, as_log_probs(lw, "response_weights")


def _check_ns(n) -> np.ndarray:
    values = np.atleast_1d(np.asarray(DEFAULT_N if n is None else n, dtype=object))
    if values.ndim != 1:
        raise ValidationError(f"n must be an integer or a 1-D sequence of integers, got {n!r}")
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValidationError(f"n must hold integers >= 1 (numbers of draws of "
                                  f"best-of-n), got {v!r}")
        out.append(int(v))
    return np.asarray(out, dtype=np.int64)


def _check_betas(betas) -> np.ndarray:
    b = np.atleast_1d(as_float_array(betas, "betas", allow_nonfinite=True))
    if b.ndim != 1:
        raise ValidationError(f"betas must be a 1-D array of temperatures, got shape {b.shape}")
    if np.any(np.isnan(b)) or np.any(b < 0):
        raise ValidationError("betas must be temperatures in [0, inf] (0: the proxy's argmax, "
                              f"inf: the reference policy), got {b.tolist()!r}")
    return b


# -- the table ---------------------------------------------------------------------------

def _expectation(pi: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per-prompt E_pi[r]; entries with pi = 0 (padding) contribute nothing."""
    return np.einsum("...ij,ij->...i", pi, r)


def overoptimization(r_true, r_proxy, *, n=None, kl=None, betas=None, prompt_weights=None,
                     response_weights=None, mask=None, as_frame: bool = False):
    r"""Exact over-optimisation curves of a proxy reward: best-of-n and KL-regularised.

    For each number of draws in ``n`` the best-of-:math:`n` policy of the proxy, and for
    each requested KL (or temperature) the KL-regularised optimum
    :math:`\pi_\beta \propto \nu\, e^{R_2/\beta}`, both computed exactly on the discrete
    response sets, with their exact KL from :math:`\nu` and their true and proxy gains

    .. math::

        G(\pi) = \sum_x \mu(x) \sum_y (\pi - \nu)(y \mid x)\, R_1(x, y), \qquad
        \bar G(\pi) = G(\pi) \Big/ \sum_x \mu(x) \big(\max_{\nu(y|x)>0} R_1(x, y)
        - \mathbb E_{\nu}[R_1(x, \cdot)]\big)

    (module docstring; Gao et al. 2023 for the curves).

    Parameters
    ----------
    r_true, r_proxy : array_like of shape (n_prompts, n_responses)
        True and proxy rewards. Entries where ``mask`` is False are never read.
    n : int or sequence of int, optional
        Numbers of draws of best-of-n, each >= 1 (default 1, 2, 4, ..., 128). An empty
        sequence skips best-of-n.
    kl : float or sequence of float, optional
        KL values (nats, :math:`\sum_x \mu(x) \mathrm{KL}(\pi_\beta \| \nu)`) at which to
        report the KL-regularised policy; each in :math:`[0, \mathrm{KL}_{\max})` with
        :math:`\mathrm{KL}_{\max} = -\sum_x \mu(x) \log \nu(\arg\max R_2(x, \cdot) \mid x)`.
        Each is reached to :math:`10^{-11}` relative (a root search per value). Give ``kl``
        or ``betas``, not both; with neither, 20 temperatures whose KL values spread from 0
        to about :math:`0.95\, \mathrm{KL}_{\max}`, quadratically (denser near 0), found
        by interpolation on a coarse sweep without a root search (faster; the ``kl``
        column holds each policy's exact KL; for a proxy near :math:`1.8\times10^{308}`,
        the small KL values whose temperature is beyond the float64 range are left out).
        An empty sequence skips the KL family.
    betas : float or sequence of float, optional
        Temperatures :math:`\beta \in [0, \infty]` of the KL-regularised policies instead:
        ``0`` is the proxy's argmax (ties share :math:`\nu`'s mass), ``inf`` is :math:`\nu`.
        An empty sequence skips the KL family.
    prompt_weights : array_like of shape (n_prompts,), optional
        :math:`\mu`: non-negative, summing to 1. Default uniform.
    response_weights : array_like of shape (n_prompts, n_responses), optional
        :math:`\nu`, the reference policy that best-of-n samples from and the KL is measured
        against: non-negative, each prompt's valid entries summing to 1. Default uniform over
        the valid responses.
    mask : array_like of bool, shape (n_prompts, n_responses), optional
        True marks a real response (ragged response sets); every prompt needs one.
    as_frame : bool
        Return a pandas DataFrame instead of a dict of numpy columns.

    Returns
    -------
    dict of str to ndarray, or pandas.DataFrame
        One row per policy, best-of-n rows first (in the order of ``n``), then the
        KL-regularised ones; the columns (:data:`OVEROPTIMIZATION_COLUMNS`):

        ``method``
            ``"best_of_n"`` or ``"kl_regularized"``.
        ``n``
            Number of draws (float; NaN on KL-regularised rows).
        ``beta``
            Temperature :math:`\beta` (``inf`` at KL 0, ``0`` for the argmax; NaN on
            best-of-n rows).
        ``kl``
            Exact :math:`\sum_x \mu(x) \mathrm{KL}(\pi(\cdot|x) \,\|\, \nu(\cdot|x))`.
        ``kl_bound``
            :math:`\log n - (n - 1)/n`, the best-of-n KL formula (an upper bound on ``kl``;
            NaN on KL-regularised rows).
        ``true_gain``, ``true_gain_normalized``
            :math:`G(\pi)` and :math:`\bar G(\pi)` for :math:`R_1` (:math:`\bar G = 0` when
            :math:`R_1` is constant on every prompt's support, where no policy can gain).
        ``proxy_gain``, ``proxy_gain_normalized``
            The same for :math:`R_2`.

    Raises
    ------
    ValidationError
        For rewards that are not 2-D or differ in shape, NaN/inf on valid entries, a bad
        mask or weights, ``n`` values < 1, both ``kl`` and ``betas``, negative or unreachable
        KL values, negative temperatures, a prescribed KL value whose temperature is beyond
        the float64 range, or an (unnormalized) gain beyond the float64 range
        (scores near :math:`1.8\times10^{308}`).
    MissingDependencyError
        For ``as_frame=True`` without pandas.

    See Also
    --------
    plot_overoptimization : The curves of this table.
    starc.transforms.best_of_n_policy, starc.transforms.kl_sweep : The policies.

    References
    ----------
    .. [1] Gao, Schulman and Hilton 2023, arXiv 2210.10760, Fig. 1 (gold reward against
       KL for best-of-n and RL).
    .. [2] Beirami et al. 2024, arXiv 2401.01879 (exact best-of-n; the KL bound).

    Examples
    --------
    Two prompts, three responses each; the proxy prefers the true reward's worst response
    on the first prompt (weight 1/4) and agrees with it on the second (weight 3/4):

    >>> import numpy as np
    >>> from starc.bandit import overoptimization
    >>> r_true = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    >>> r_proxy = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    >>> t = overoptimization(r_true, r_proxy, n=[1, 2], betas=[0.0],
    ...                      prompt_weights=[0.25, 0.75])
    >>> t["method"].tolist()
    ['best_of_n', 'best_of_n', 'kl_regularized']
    >>> t["true_gain"].round(4).tolist()    # best-of-2: -4/9 and +4/9 per prompt
    [0.0, 0.2222, 0.5]
    >>> t["proxy_gain_normalized"].round(4).tolist()
    [0.0, 0.4444, 1.0]
    >>> t["kl"].round(4).tolist()    # best-of-2 below log 2 - 1/2; the argmax: log 3
    [0.0, 0.1617, 1.0986]
    """
    rt, rp, _, mu, lp = _check_inputs(r_true, r_proxy, mask, prompt_weights,
                                          response_weights)
    ns = _check_ns(n)
    if kl is not None and betas is not None:
        raise ValidationError("give kl or betas, not both (KL values, or temperatures of the "
                              "KL-regularised policy)")
    if not isinstance(as_frame, (bool, np.bool_)):
        raise ValidationError(f"as_frame must be True or False, got {as_frame!r}")

    nu = np.exp(lp)
    support = nu > 0
    # the gains are linear in each reward: computed on R / 2**k (exact; 2**k a power of two
    # near max|R|, so no difference or sum overflows) and scaled back; the policies below
    # see the rewards as given
    rt_s, k_true = scaled_by_max_abs(rt)
    rp_s, k_proxy = scaled_by_max_abs(rp)
    base_true, base_proxy = _expectation(nu, rt_s), _expectation(nu, rp_s)

    def headroom(r: np.ndarray, base: np.ndarray) -> float:
        top = np.max(np.where(support, r, -np.inf), axis=1)
        room = float(mu @ (top - base))
        scale = float(np.max(np.abs(np.where(support, r, 0.0))))
        return room if room > _REL_ZERO * scale else 0.0

    room_true, room_proxy = headroom(rt_s, base_true), headroom(rp_s, base_proxy)

    rows: dict[str, list] = {c: [] for c in OVEROPTIMIZATION_COLUMNS}

    def add(method: str, draws: float, beta: float, pi: np.ndarray, kl_row: np.ndarray,
            bound: float) -> None:
        g_true = float(mu @ (_expectation(pi, rt_s) - base_true))  # in units of 2**k
        g_proxy = float(mu @ (_expectation(pi, rp_s) - base_proxy))
        rows["method"].append(method)
        rows["n"].append(draws)
        rows["beta"].append(beta)
        rows["kl"].append(max(float(mu @ kl_row), 0.0))
        rows["kl_bound"].append(bound)
        rows["true_gain"].append(float(finite_result(unscale(g_true, k_true.reshape(())),
                                                     "the true gain")))
        rows["true_gain_normalized"].append(g_true / room_true if room_true > 0 else 0.0)
        rows["proxy_gain"].append(float(finite_result(unscale(g_proxy, k_proxy.reshape(())),
                                                      "the proxy gain")))
        rows["proxy_gain_normalized"].append(g_proxy / room_proxy if room_proxy > 0 else 0.0)

    for draws in ns:
        pi = best_of_n_policy(lp, rp, int(draws))
        add("best_of_n", float(draws), np.nan, pi, kl_divergence(pi, nu),
            best_of_n_kl(int(draws)))

    # the KL-regularised policies see the proxy as R2 / 2**k too (exact): its differences
    # cannot overflow and the temperatures are found in its units, then scaled back
    two_k = np.ldexp(1.0, int(k_proxy.reshape(())))  # k in [-1074, 1023]: finite, > 0
    if betas is not None:
        temps = _check_betas(betas)
        with np.errstate(over="ignore", under="ignore"):
            temps_s = temps / two_k  # beta / 2**k: 0 stays 0 (argmax), inf stays inf (nu)
    else:
        if kl is None:
            # a spread of KL values, not prescribed ones: interpolate the temperatures on a
            # coarse exact sweep (no root finding); the table reports each policy's exact KL
            probe = kl_sweep(lp, rp_s, [0.0], weights=mu)
            grid = np.linspace(0.0, 1.0, DEFAULT_KL_POINTS) ** 2 * 0.95 * probe.kl_max
            grid = grid[:1] if probe.kl_max <= 0 else grid
            temps_s = kl_sweep(lp, rp_s, grid, weights=mu, n_points=48, refine=False).gamma
        else:
            grid = np.atleast_1d(as_float_array(kl, "kl"))
            temps_s = (kl_sweep(lp, rp_s, grid, weights=mu).gamma if grid.size
                       else np.empty(0))
        with np.errstate(over="ignore"):
            temps = temps_s * two_k
        beyond = np.isinf(temps) & np.isfinite(temps_s)
        if kl is None and np.any(beyond):  # a spread, not prescribed: leave those out
            temps, temps_s = temps[~beyond], temps_s[~beyond]
        elif np.any(beyond):
            raise ValidationError("a temperature beta reaching these KL values is beyond the "
                                  "float64 range (|value| > 1.8e308) for a proxy this large; "
                                  "rescale r_proxy first (e.g. divide it by a power of two)")
    for beta, beta_s in zip(temps, temps_s):
        with np.errstate(divide="ignore", over="ignore"):
            inv = np.float64(1.0) / np.float64(beta_s)  # 0 -> inf (argmax), inf -> 0 (nu)
        pi, kl_row = exponential_tilt(lp, rp_s, inv)
        add("kl_regularized", np.nan, float(beta), pi, kl_row, np.nan)

    table = {c: np.asarray(rows[c], dtype=np.float64) for c in OVEROPTIMIZATION_COLUMNS[1:]}
    table = {"method": np.asarray(rows["method"], dtype=str), **table}
    if as_frame:
        try:
            import pandas as pd
        except ImportError as err:
            raise MissingDependencyError("as_frame=True needs pandas: pip install "
                                         "'starc[bandit]'") from err
        return pd.DataFrame(table)
    return table


# -- the plot ----------------------------------------------------------------------------

def _as_table(table) -> dict[str, np.ndarray]:
    if hasattr(table, "columns") and hasattr(table, "__getitem__") \
            and not isinstance(table, dict):
        names = [str(c) for c in table.columns]
        cols = {c: np.asarray(table[c]) for c in names if c in OVEROPTIMIZATION_COLUMNS}
    elif isinstance(table, dict):
        cols = {c: np.asarray(v) for c, v in table.items()}
    else:
        raise ValidationError("plot_overoptimization needs the table of overoptimization() "
                              "(a dict or DataFrame) or the arrays r_true, r_proxy; got "
                              f"{type(table).__name__}")
    missing = [c for c in ("method", "n", "kl", "true_gain", "true_gain_normalized",
                           "proxy_gain", "proxy_gain_normalized") if c not in cols]
    if missing:
        raise ValidationError(f"the over-optimisation table lacks the column(s) {missing}; "
                              "pass the result of starc.bandit.overoptimization")
    return cols


def plot_overoptimization(table, r_proxy=None, *, ax=None, x: str = "kl",
                          normalized: bool = True, show_proxy: bool = True, **kwargs):
    r"""Plot over-optimisation curves: true (and proxy) gain against KL or best-of-n's n.

    Draws the rows of :func:`overoptimization`: the KL-regularised family as a line and
    best-of-n as markers, true gain :math:`G(\pi)` (or :math:`\bar G(\pi)`) solid and the
    proxy's gain dashed, against the exact :math:`\mathrm{KL}(\pi \,\|\, \nu)` (``x="kl"``,
    Gao et al. 2023, Fig. 1) or against :math:`n` on a log axis (``x="n"``, best-of-n only).

    Parameters
    ----------
    table : dict, pandas.DataFrame or array_like of shape (n_prompts, n_responses)
        The table of :func:`overoptimization`, or the true reward ``r_true`` (then
        ``r_proxy`` and the keyword arguments of :func:`overoptimization` follow).
    r_proxy : array_like of shape (n_prompts, n_responses), optional
        The proxy reward when ``table`` is ``r_true``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    x : {"kl", "n"}
        The horizontal axis.
    normalized : bool
        Plot :math:`\bar G` (gain as a fraction of the best possible) instead of :math:`G`.
    show_proxy : bool
        Also draw the proxy's own gain (dashed).
    **kwargs
        Passed to :func:`overoptimization` when it is called here.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValidationError
        For a table without the expected columns, an unknown ``x``, or (when the rewards are
        given) as :func:`overoptimization`.

    References
    ----------
    .. [1] Gao, Schulman and Hilton 2023, arXiv 2210.10760, Fig. 1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import overoptimization, plot_overoptimization
    >>> rng = np.random.default_rng(0)
    >>> r_true = rng.standard_normal((50, 8))
    >>> r_proxy = r_true + rng.standard_t(2, (50, 8))
    >>> ax = plot_overoptimization(overoptimization(r_true, r_proxy, n=[1, 2, 4, 8]))
    >>> ax.get_xlabel()
    'KL(π ‖ ν) [nats]'
    """
    x = check_choice(x, "x", ("kl", "n"))
    if r_proxy is not None:
        cols = _as_table(overoptimization(table, r_proxy, **kwargs))
    else:
        if kwargs:
            raise ValidationError(f"keyword arguments {sorted(kwargs)} are only used with "
                                  "r_true and r_proxy, not with a table")
        cols = _as_table(table)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.0))
    suffix = "_normalized" if normalized else ""
    method = cols["method"].astype(str)
    families = [("kl_regularized", "KL-regularised", "C0", "-"),
                ("best_of_n", "best-of-n", "C3", "o")]
    for key, label, colour, style in families:
        rows = method == key
        if not np.any(rows) or (x == "n" and key != "best_of_n"):
            continue
        xs = cols["kl"][rows] if x == "kl" else cols["n"][rows]
        order = np.argsort(xs, kind="stable")
        xs = xs[order]
        marker, line = ("o", "-") if style == "o" else (None, "-")
        ax.plot(xs, cols["true_gain" + suffix][rows][order], color=colour, marker=marker,
                linestyle=line, label=f"{label}: true reward")
        if show_proxy:
            ax.plot(xs, cols["proxy_gain" + suffix][rows][order], color=colour,
                    marker=marker, linestyle="--", alpha=0.6, markerfacecolor="none",
                    label=f"{label}: proxy")
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    if x == "n":
        ax.set_xscale("log", base=2)
        ax.set_xlabel("best-of-n: n")
    else:
        ax.set_xlabel("KL(π ‖ ν) [nats]")
    ax.set_ylabel("gain over ν, fraction of the best possible" if normalized
                  else "gain over ν in reward")
    if ax.get_legend_handles_labels()[0]:  # an empty table draws no curve to label
        ax.legend(fontsize="small")
    return ax
