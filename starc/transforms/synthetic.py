r"""Synthetic multi-property scenarios for comparing aggregations at equal KL.

A controlled stand-in for the helpful-and-harmless experiments of Wang et al. [1]_: one
prompt, a discrete set of responses with base-policy probabilities :math:`\pi_0`, and two
properties. Each response has *true* Bradley-Terry rewards :math:`z_1, z_2`, which
define what "good" means,

.. math::

    p(\text{all good} \mid y) = \prod_{k=1}^2 \sigma\big(z_k(y) - z_k^{\mathrm{ref}}\big),
    \qquad z_k^{\mathrm{ref}} = \text{the } q\text{-quantile of } z_k \text{ under } \pi_0,

and *reward-model scores* :math:`r_1, r_2`, which is all the aligner sees (with
references :math:`r_k^{\mathrm{ref}}`, the :math:`q`-quantiles of the scores). An
aggregation turns the scores into a utility; its KL tilts
:math:`\pi \propto \pi_0 e^{u/\gamma}` are compared on the true
:math:`P_\pi(\text{all good})` at equal :math:`\mathrm{KL}(\pi \| \pi_0)`
(:func:`~starc.transforms.compare_at_equal_kl`).

Scenarios (``kind``):

``"iid"``
    :math:`z_1, z_2 \sim \mathcal N(0, 1)` independent and :math:`r = z`: the negative
    control, where the raw sum and the LSC sum should tie.
``"scale"``
    As ``"iid"``, but the second reward model reports on ``scale`` (3) times the scale of
    the truth, :math:`r_2 = 3 z_2`: the raw sum is dominated by it.
``"refusal"``
    A fraction ``refusal_rate`` (10 %) of the responses are refusals: perfectly harmless
    (:math:`z_2 \sim \mathcal N(6, 0.5^2)`) and unhelpful
    (:math:`z_1 \sim \mathcal N(-3, 0.5^2)`), so their raw sum is high while they are
    almost never good on both properties; :math:`r = z`.

Two ways to build the response set (``sampling``):

``"quadrature"`` (default)
    The population limit: the responses are the nodes of a tensor Gauss-Hermite rule
    (``n_nodes`` per axis, one rule per mixture component) and :math:`\pi_0` their
    weights; the references are the exact population quantiles. Deterministic, and
    converged to :math:`10^{-3}` or better at the default 40 nodes for KL up to 6 (30
    and 60 nodes agree with it to that accuracy). Equal-mass samples would
    under-represent the tails that a tilt at KL 4 concentrates on: for a Gaussian
    utility, about 2.8 standard deviations above the mean.
``"sample"``
    ``n_responses`` i.i.d. draws with :math:`\pi_0` uniform over them and sample
    quantiles as references: a finite response set, as in best-of-:math:`n`
    experiments, whose results fluctuate with ``seed``.

References
----------
.. [1] Wang et al. "Transforming and Combining Rewards for Aligning Large Language
   Models". ICML 2024, arXiv 2402.00742, Sec. 4-5 (aggregation; helpful and harmless).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._validation import check_choice, check_memory, check_positive_int, check_real, check_seed
from ..exceptions import ValidationError
from .aggregation import aggregate, lsc_aggregate, p_all_good
from .lsc import reference_reward, transform
from .policies import compare_at_equal_kl

__all__ = ["AggregationScenario", "aggregation_scenario", "aggregation_utilities",
           "compare_aggregations", "SCENARIOS", "SCENARIO_SAMPLINGS", "UTILITY_PIPELINES"]

#: Names accepted by ``kind`` in :func:`aggregation_scenario`.
SCENARIOS = ("iid", "scale", "refusal")

#: Names accepted by ``sampling`` in :func:`aggregation_scenario`: how the response set
#: of a scenario is built (quadrature nodes or i.i.d. draws).
SCENARIO_SAMPLINGS = ("quadrature", "sample")

#: Names accepted by ``methods`` in :func:`aggregation_utilities`: each a pipeline from
#: multi-property scores to one utility (a transform, then a combination rule).
UTILITY_PIPELINES = ("raw_sum", "lsc_sum", "zscore_sum", "sigmoid_sum", "min", "softmin")


@dataclasses.dataclass(frozen=True, eq=False)
class AggregationScenario:
    r"""A synthetic two-property response set (see :func:`aggregation_scenario`).

    Attributes
    ----------
    kind : str
        The scenario name.
    rewards : ndarray of shape (2, n)
        Reward-model scores :math:`r_k(y)`, what the aligner optimises.
    true_rewards : ndarray of shape (2, n)
        Calibrated Bradley-Terry rewards :math:`z_k(y)` that define "good".
    logp0 : ndarray of shape (n,)
        Base-policy log-probabilities (quadrature weights, or uniform over samples).
    r_ref : ndarray of shape (2, 1)
        ``q``-quantiles of the scores (the references the aligner uses).
    true_ref : ndarray of shape (2, 1)
        ``q``-quantiles of the true rewards.
    target : ndarray of shape (n,)
        :math:`p(\text{all good} \mid y)` under the true rewards.
    q : float
        The reference quantile.
    """

    kind: str
    rewards: np.ndarray
    true_rewards: np.ndarray
    logp0: np.ndarray
    r_ref: np.ndarray
    true_ref: np.ndarray
    target: np.ndarray
    q: float

    def __post_init__(self):
        from .._validation import as_float_array

        if not isinstance(self.kind, str):
            raise ValidationError(f"kind must be a str, got {self.kind!r}")
        rewards = as_float_array(self.rewards, "rewards", ndim=2)
        n = rewards.shape[1]
        fields = {"rewards": rewards,
                  "true_rewards": as_float_array(self.true_rewards, "true_rewards", ndim=2),
                  "logp0": as_float_array(self.logp0, "logp0", ndim=1,
                                          allow_nonfinite=True),
                  "r_ref": as_float_array(self.r_ref, "r_ref", ndim=2),
                  "true_ref": as_float_array(self.true_ref, "true_ref", ndim=2),
                  "target": as_float_array(self.target, "target", ndim=1)}
        shapes = {"true_rewards": rewards.shape, "logp0": (n,), "target": (n,),
                  "r_ref": (rewards.shape[0], 1), "true_ref": (rewards.shape[0], 1)}
        for name, shape in shapes.items():
            if fields[name].shape != shape:
                raise ValidationError(f"{name} must have shape {shape} (rewards has shape "
                                      f"{rewards.shape}), got {fields[name].shape}")
        if np.any(np.isnan(fields["logp0"]) | (fields["logp0"] == np.inf)):
            raise ValidationError("logp0 must hold log-probabilities: finite or -inf")
        fields["q"] = check_real(self.q, "q", low=0.0, high=1.0, low_open=True,
                                 high_open=True)
        for name, value in fields.items():
            object.__setattr__(self, name, value)


def _mixture_quantile(q: float, rho: float, mu: float, sd: float) -> float:
    """q-quantile of (1 - rho) N(0, 1) + rho N(mu, sd^2), by Brent's method."""
    from scipy.optimize import brentq
    from scipy.special import ndtr, ndtri

    if rho == 0.0:
        return float(ndtri(q))
    return float(brentq(lambda x: (1 - rho) * ndtr(x) + rho * ndtr((x - mu) / sd) - q,
                        -60.0, 60.0, xtol=1e-14, rtol=1e-15))


def _gauss_hermite_2d(n_nodes: int):
    """Nodes (2, n^2) and weights (n^2,) of the tensor Gauss-Hermite rule for N(0, I_2)."""
    from numpy.polynomial.hermite_e import hermegauss

    x, w = hermegauss(n_nodes)
    w = w / np.sqrt(2.0 * np.pi)
    a, b = np.meshgrid(x, x, indexing="ij")
    wa, wb = np.meshgrid(w, w, indexing="ij")
    return np.stack([a.ravel(), b.ravel()]), (wa * wb).ravel()


#: Refusal component: (mean, sd) of helpfulness and harmlessness.
_REFUSAL = ((-3.0, 0.5), (6.0, 0.5))


def aggregation_scenario(kind: str = "iid", *, sampling: str = "quadrature",
                         n_nodes: int = 40, n_responses: int = 20000, q: float = 0.85,
                         scale: float = 3.0, refusal_rate: float = 0.1,
                         seed=None) -> AggregationScenario:
    r"""Build a synthetic two-property response set.

    .. math::

        z(y) \sim (1 - \rho)\, \mathcal N(0, I_2) + \rho\,
        \mathcal N\big((-3, 6), \operatorname{diag}(0.5^2, 0.5^2)\big), \qquad
        r(y) = \operatorname{diag}(1, c)\, z(y),

    with :math:`\rho` the refusal rate (0 unless ``kind="refusal"``) and :math:`c` the
    scale (1 unless ``kind="scale"``).

    Parameters
    ----------
    kind : {"iid", "scale", "refusal"}
        The scenario.
    sampling : {"quadrature", "sample"}
        Population limit by Gauss-Hermite quadrature, or i.i.d. samples.
    n_nodes : int
        ``"quadrature"`` only: nodes per axis (>= 4); ``n_nodes**2`` responses per
        mixture component.
    n_responses : int
        ``"sample"`` only: number of sampled responses (>= 10); the largest reachable
        KL is then :math:`\log n`.
    q : float
        Reference quantile in (0, 1).
    scale : float
        ``"scale"`` only: scale factor (> 0) of the second reward model.
    refusal_rate : float
        ``"refusal"`` only: fraction of refusals, in (0, 1).
    seed : int, numpy.random.Generator or None
        ``"sample"`` only: randomness.

    Returns
    -------
    AggregationScenario

    Raises
    ------
    ValidationError
        For an unknown ``kind`` or ``sampling``, or out-of-range parameters.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 4-5.
    .. [2] Golub and Welsch. "Calculation of Gauss quadrature rules". Math. Comp. 23,
       1969 (Gauss-Hermite nodes and weights).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import aggregation_scenario
    >>> sc = aggregation_scenario("scale", n_nodes=20)
    >>> sc.rewards.shape, sc.logp0.shape
    ((2, 400), (400,))
    >>> bool(np.isclose(np.exp(sc.logp0).sum(), 1.0))
    True
    >>> sc.r_ref.ravel().round(4)   # 3 x the 85th percentile of N(0, 1) for the second
    array([1.0364, 3.1093])
    """
    kind = check_choice(kind, "scenario kind", SCENARIOS)
    sampling = check_choice(sampling, "sampling", SCENARIO_SAMPLINGS)
    q = check_real(q, "q", low=0.0, high=1.0, low_open=True, high_open=True)
    scale = check_real(scale, "scale", low=0.0, low_open=True)
    refusal_rate = check_real(refusal_rate, "refusal_rate", low=0.0, high=1.0,
                              low_open=True, high_open=True)
    rho = refusal_rate if kind == "refusal" else 0.0
    c = scale if kind == "scale" else 1.0
    (mu1, sd1), (mu2, sd2) = _REFUSAL
    if sampling == "quadrature":
        n_nodes = check_positive_int(n_nodes, "n_nodes", minimum=4)
        check_memory((n_nodes, n_nodes), "an n_nodes x n_nodes quadrature grid", copies=8)
        nodes, weights = _gauss_hermite_2d(n_nodes)
        if rho > 0:
            refusals = np.array([[mu1], [mu2]]) + np.array([[sd1], [sd2]]) * nodes
            z = np.concatenate([nodes, refusals], axis=1)
            p0 = np.concatenate([(1 - rho) * weights, rho * weights])
        else:
            z, p0 = nodes, weights
        true_ref = np.array([[_mixture_quantile(q, rho, mu1, sd1)],
                             [_mixture_quantile(q, rho, mu2, sd2)]])
        logp0 = np.log(p0 / p0.sum())
        r = z.copy()
        r[1] *= c
        r_ref = true_ref * np.array([[1.0], [c]])
    else:
        n = check_positive_int(n_responses, "n_responses", minimum=10)
        check_memory((2, n), "n_responses sampled responses", copies=8)
        rng = check_seed(seed)
        z = rng.standard_normal((2, n))
        if rho > 0:
            refuse = rng.random(n) < rho
            n_ref = int(refuse.sum())
            z[0, refuse] = mu1 + sd1 * rng.standard_normal(n_ref)
            z[1, refuse] = mu2 + sd2 * rng.standard_normal(n_ref)
        r = z.copy()
        r[1] *= c
        r_ref = reference_reward(r, q, keepdims=True)
        true_ref = reference_reward(z, q, keepdims=True)
        logp0 = np.full(n, -np.log(n))
    target = p_all_good(z, true_ref)
    for a in (z, r, r_ref, true_ref, target, logp0):
        a.flags.writeable = False
    return AggregationScenario(kind=kind, rewards=r, true_rewards=z, logp0=logp0,
                               r_ref=r_ref, true_ref=true_ref, target=target, q=q)


def aggregation_utilities(rewards, r_ref, methods=("raw_sum", "lsc_sum"), *,
                          beta: float = 1.0) -> dict[str, np.ndarray]:
    r"""Utilities of several aggregations of multi-property rewards.

    .. math::

        \begin{aligned}
        \text{raw\_sum}: &\; \textstyle\sum_k r_k &
        \text{lsc\_sum}: &\; \textstyle\sum_k \log\sigma(r_k - r_k^{\mathrm{ref}}) &
        \text{zscore\_sum}: &\; \textstyle\sum_k (r_k - \bar r_k)/s_k \\
        \text{sigmoid\_sum}: &\; \textstyle\sum_k \sigma(r_k - r_k^{\mathrm{ref}}) &
        \text{min}: &\; \min_k (r_k - \bar r_k)/s_k &
        \text{softmin}: &\; \operatorname{softmin}_\beta\, (r_k - \bar r_k)/s_k
        \end{aligned}

    (z-scores per property over the responses, i.e. per prompt).

    Parameters
    ----------
    rewards : array_like of shape (K, n)
        Scores of ``K`` properties for ``n`` responses.
    r_ref : array_like of shape (K, 1)
        Per-property references (used by ``lsc_sum`` and ``sigmoid_sum``).
    methods : sequence of str
        Names from ``UTILITY_PIPELINES``.
    beta : float
        Temperature of ``softmin``.

    Returns
    -------
    dict of str to ndarray of shape (n,)

    Raises
    ------
    ValidationError
        For an unknown method name or invalid arrays.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 4-5 (LSC sum and its baselines).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.transforms import aggregation_utilities
    >>> R = np.array([[0.0, 2.0], [0.0, -1.0]])
    >>> aggregation_utilities(R, np.zeros((2, 1)))["raw_sum"]
    array([0., 1.])
    """
    from .._validation import as_float_array

    r = as_float_array(rewards, "rewards", ndim=2)
    if isinstance(methods, str):
        methods = (methods,)
    out = {}
    for name in methods:
        name = check_choice(name, "aggregation method", UTILITY_PIPELINES)
        if name == "raw_sum":
            out[name] = aggregate(r, "sum")        # no intermediate overflow
        elif name == "lsc_sum":
            out[name] = lsc_aggregate(r, r_ref)
        elif name == "sigmoid_sum":
            out[name] = _sigmoid_sum(r, r_ref)
        else:
            zs = transform(r, "zscore", axis=-1)
            if name == "zscore_sum":
                out[name] = zs.sum(axis=0)
            elif name == "min":
                out[name] = aggregate(zs, "min")
            else:
                out[name] = aggregate(zs, "softmin", beta=beta)
    if not out:
        raise ValidationError("methods must name at least one aggregation, e.g. "
                              "('raw_sum', 'lsc_sum')")
    return out


def _sigmoid_sum(r: np.ndarray, r_ref) -> np.ndarray:
    from scipy.special import expit

    from .._validation import as_float_array

    ref = as_float_array(r_ref, "r_ref")
    with np.errstate(over="ignore"):      # r - r_ref beyond +-1.8e308: sigmoid 0 or 1
        return expit(r - ref).sum(axis=0)


def compare_aggregations(scenario: AggregationScenario, kl,
                         methods=("raw_sum", "lsc_sum"), *,
                         n_points: int = 128) -> dict[str, np.ndarray]:
    r"""True :math:`P(\text{all good})` of each aggregation's KL tilt, at equal KL.

    .. math::

        V_m(k) = \sum_y \pi_{m}(y)\, p(\text{all good} \mid y), \qquad
        \pi_m \propto \pi_0 e^{u_m/\gamma}, \quad \mathrm{KL}(\pi_m \| \pi_0) = k.

    Parameters
    ----------
    scenario : AggregationScenario
        From :func:`aggregation_scenario`.
    kl : array_like of shape (k,)
        KL values, each below the largest reachable KL (:math:`\log n` for ``n``
        sampled responses).
    methods : sequence of str
        Names from ``UTILITY_PIPELINES``.
    n_points : int
        Grid size of the sweep over :math:`\gamma`.

    Returns
    -------
    dict of str to ndarray of shape (k,)

    Raises
    ------
    ValidationError
        For a ``scenario`` of the wrong type, unknown methods, or unreachable KL.

    References
    ----------
    .. [1] Wang et al. 2024, arXiv 2402.00742, Sec. 5 (comparisons at equal KL).

    Examples
    --------
    >>> from starc.transforms import aggregation_scenario, compare_aggregations
    >>> sc = aggregation_scenario("refusal", n_nodes=20)
    >>> res = compare_aggregations(sc, [4.0])
    >>> bool(res["lsc_sum"][0] > res["raw_sum"][0] + 0.05)
    True
    """
    if not isinstance(scenario, AggregationScenario):
        raise ValidationError(f"scenario must be an AggregationScenario from "
                              f"aggregation_scenario(), got {type(scenario).__name__}")
    utilities = aggregation_utilities(scenario.rewards, scenario.r_ref, methods)
    return compare_at_equal_kl(scenario.logp0, utilities, scenario.target, kl,
                               n_points=n_points)
