r"""How the chain-versus-tree gap in mean inference distance grows with the dataset size.

Qiu et al. [1]_ (Thm. 4.5) state that with a polynomial structural function and limited
data, tree-structured preference data reduce the mean inference distance by up to a
factor :math:`\Theta(\log n / \log\log n)` against chain data, :math:`n` being the number
of comparisons. :func:`topology_gap_curve` measures that factor on the simulated datasets
of :mod:`starc.preferences.datasets`.

Mechanism (THEORY.md section 7, reconstruction supported by this simulation): chain data
over :math:`M \approx 2n/\ln n` clusters form a random cluster graph at its connectivity
threshold, whose mean number of hops is about

.. math::

    \frac{\ln M}{\ln(2n/M)} \approx \frac{\ln n}{\ln\ln n},

and every hop costs an HP variance, whereas each prompt's prefix tree is a hub that
joins its leaves' clusters, so a tree dataset needs :math:`O(1)` hops. The growth is
slow (:math:`\ln n/\ln\ln n` goes from 3.6 to 4.6 between :math:`n = 10^3` and
:math:`6.5 \cdot 10^4`), so it shows only on a logarithmic axis spanning two decades or
more.

The gap is a property of the **path** inference distance. The exact Gaussian posterior
variance (effective resistance) averages over all the parallel routes of the random
cluster graph, stays bounded and does *not* grow like :math:`\ln n / \ln\ln n`; the curve
reports it beside the path values so the difference can be seen.

References
----------
.. [1] Qiu et al. "Reward Generalization in RLHF: A Topological Perspective". arXiv
   2402.10184, Thm. 4.5 (tree vs chain, :math:`\Theta(\log n / \log\log n)`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validation import (as_float_array, check_choice, check_positive_int, check_real,
                           check_seed)
from ..exceptions import ValidationError
from .datasets import chain_dataset, tree_dataset
from .inference_distance import PAIR_SAMPLINGS

__all__ = ["TopologyGapCurve", "topology_gap_curve"]


@dataclass(frozen=True)
class TopologyGapCurve:
    r"""Chain vs tree mean inference distances over dataset sizes.

    Attributes
    ----------
    ns : ndarray of int, shape (K,)
        Numbers of comparisons.
    chain_path, tree_path : ndarray of shape (K,)
        Mean path inference distance between responses (largest connected component).
    ratio : ndarray of shape (K,)
        ``chain_path / tree_path``.
    reference : ndarray of shape (K,)
        :math:`\ln n / \ln\ln n`.
    fit_slope, fit_intercept, fit_r2 : float
        Least squares ``ratio ≈ fit_intercept + fit_slope * reference`` and its
        coefficient of determination.
    chain_resistance, tree_resistance, resistance_ratio : ndarray of shape (K,)
        The same for the effective resistance (NaN when not computed).
    connected_fraction_chain, connected_fraction_tree : ndarray of shape (K,)
        Share of responses in the largest connected component.

    Notes
    -----
    .. math::

        \text{ratio}(n) = \frac{\bar d_{\text{chain}}(n)}{\bar d_{\text{tree}}(n)}
        \approx a + b \frac{\ln n}{\ln\ln n}.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Thm. 4.5.

    Examples
    --------
    >>> from starc.preferences import topology_gap_curve
    >>> curve = topology_gap_curve([1024, 4096], n_samples=400, resistance=False, seed=0)
    >>> bool(curve.ratio[1] > curve.ratio[0] > 1)
    True
    """

    ns: np.ndarray
    chain_path: np.ndarray
    tree_path: np.ndarray
    ratio: np.ndarray
    reference: np.ndarray
    fit_slope: float
    fit_intercept: float
    fit_r2: float
    chain_resistance: np.ndarray
    tree_resistance: np.ndarray
    resistance_ratio: np.ndarray
    connected_fraction_chain: np.ndarray
    connected_fraction_tree: np.ndarray

    def __post_init__(self):
        try:
            ns = np.asarray(self.ns)
        except (TypeError, ValueError) as err:
            raise ValidationError(f"ns must be a 1-D integer array: {err}") from None
        if ns.dtype.kind not in "iu" or ns.ndim != 1 or ns.size == 0:
            raise ValidationError(f"ns must be a non-empty 1-D integer array, got dtype "
                                  f"{ns.dtype} and shape {ns.shape}")
        K = ns.shape[0]
        fields = {"ns": ns}
        # NaN marks what was not computed: the resistance (resistance=False) and the
        # coefficient of determination of a one-point fit
        for name, nan_ok in (("chain_path", False), ("tree_path", False), ("ratio", False),
                             ("reference", False), ("chain_resistance", True),
                             ("tree_resistance", True), ("resistance_ratio", True),
                             ("connected_fraction_chain", False),
                             ("connected_fraction_tree", False)):
            arr = as_float_array(getattr(self, name), name, ndim=1, allow_nonfinite=True)
            if arr.shape != (K,):
                raise ValidationError(f"{name} must have shape ({K},) like ns, got {arr.shape}")
            bad = np.isinf(arr) | (np.isnan(arr) if not nan_ok else False)
            if np.any(bad):
                raise ValidationError(f"{name} must be finite{' or NaN' if nan_ok else ''}")
            fields[name] = arr
        for name in ("connected_fraction_chain", "connected_fraction_tree"):
            if np.any((fields[name] < 0) | (fields[name] > 1)):
                raise ValidationError(f"{name} must lie in [0, 1]")
        fields["fit_slope"] = check_real(self.fit_slope, "fit_slope")
        fields["fit_intercept"] = check_real(self.fit_intercept, "fit_intercept")
        r2 = self.fit_r2
        fields["fit_r2"] = r2 if isinstance(r2, float) and math.isnan(r2) else \
            check_real(r2, "fit_r2")
        for name, value in fields.items():
            object.__setattr__(self, name, value)


def _largest_component_responses(oracle, responses):
    labels = oracle.component_labels[responses]
    big = np.bincount(labels).argmax()
    keep = responses[labels == big]
    return keep, keep.shape[0] / responses.shape[0]


def topology_gap_curve(ns, *, n_samples=2000, sampling="pairs", resistance=True,
                       n_resistance_pairs=64, n_repeats=1, seed=None, chain_kwargs=None,
                       tree_kwargs=None, **dataset_kwargs):
    r"""Mean inference distance of chain and tree datasets for several dataset sizes.

    Parameters
    ----------
    ns : array_like of int, shape (K,)
        Numbers of comparisons :math:`n \ge 16`.
    n_samples : int
        Sampled pairs (or sources, see ``sampling``) per mean path distance.
    sampling : {"pairs", "sources"}
        Estimator of :func:`~starc.preferences.mean_inference_distance`.
    resistance : bool
        Also estimate the mean effective resistance (sampled pairs; the expensive part).
    n_resistance_pairs : int
        Sampled pairs per mean resistance.
    n_repeats : int
        Independent datasets per size; the means are averaged over repeats.
    seed : int | numpy.random.Generator | None
        Root of a :class:`numpy.random.SeedSequence` spawned per (size, repeat, dataset),
        so every size gets independent randomness.
    chain_kwargs, tree_kwargs : dict, optional
        Extra arguments for :func:`~starc.preferences.chain_dataset` /
        :func:`~starc.preferences.tree_dataset` only.
    **dataset_kwargs
        Arguments shared by both generators (``n_clusters``, ``complexity``,
        ``intensity``, ``alpha``, ``beta``, ``hp_model``, ``within_variance``).

    Returns
    -------
    TopologyGapCurve

    Raises
    ------
    ValidationError
        ``ns`` is not a 1-D array of ints >= 16, a count is not a positive int, or a
        dataset argument is invalid.

    Notes
    -----
    Means are taken over pairs of *responses* in the largest connected component of each
    network (latent cluster and prefix nodes are left out):

    .. math::

        \bar d(n) = \operatorname*{mean}_{u \ne v \in \text{responses}} d(u, v),
        \qquad \text{ratio} = \bar d_{\text{chain}} / \bar d_{\text{tree}}
        \approx a + b\,\frac{\ln n}{\ln\ln n}.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Thm. 4.5.

    Examples
    --------
    >>> from starc.preferences import topology_gap_curve
    >>> c = topology_gap_curve([256, 1024], n_samples=200, n_resistance_pairs=8, seed=1)
    >>> c.ratio.shape, c.resistance_ratio.shape
    ((2,), (2,))
    >>> bool(c.chain_path[1] > c.chain_path[0]), bool(c.chain_resistance[1] < c.chain_path[1])
    (True, True)
    """
    ns_arr = np.atleast_1d(np.asarray(ns))
    if ns_arr.ndim != 1 or ns_arr.dtype.kind not in "iu" or ns_arr.size == 0:
        raise ValidationError(f"ns must be a non-empty 1-D array of ints, got {ns!r}")
    if np.any(ns_arr < 16):
        raise ValidationError(f"every n in ns must be >= 16, got {ns_arr.min()}")
    n_samples = check_positive_int(n_samples, "n_samples")
    n_resistance_pairs = check_positive_int(n_resistance_pairs, "n_resistance_pairs")
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    if not isinstance(resistance, (bool, np.bool_)):
        raise ValidationError(f"resistance must be True or False, got {resistance!r}")
    for name, kw in (("chain_kwargs", chain_kwargs), ("tree_kwargs", tree_kwargs)):
        if kw is not None and not isinstance(kw, dict):
            raise ValidationError(f"{name} must be a dict of keyword arguments, got {kw!r}")
    check_choice(sampling, "sampling", PAIR_SAMPLINGS)
    if isinstance(seed, np.random.Generator):
        root = np.random.SeedSequence(int(seed.integers(2 ** 63)))
    elif isinstance(seed, np.random.SeedSequence):
        root = seed
    else:
        check_seed(seed)
        root = np.random.SeedSequence(seed)
    children = root.spawn(ns_arr.shape[0])
    K = ns_arr.shape[0]
    out = {key: np.zeros(K) for key in ("cp", "tp", "cr", "tr", "cf", "tf")}
    for i, n in enumerate(ns_arr.tolist()):
        reps = children[i].spawn(n_repeats)
        for rep in reps:
            s_chain, s_tree, s_m1, s_m2, s_m3, s_m4 = rep.spawn(6)
            chain = chain_dataset(n, seed=np.random.default_rng(s_chain), **dataset_kwargs,
                                  **(chain_kwargs or {}))
            tree = tree_dataset(n, seed=np.random.default_rng(s_tree), **dataset_kwargs,
                                **(tree_kwargs or {}))
            for ds, tag, sp, sr in ((chain, "c", s_m1, s_m2), (tree, "t", s_m3, s_m4)):
                oracle = ds.oracle()
                nodes, frac = _largest_component_responses(oracle, ds.responses)
                out[tag + "p"][i] += oracle.mean("path", nodes=nodes, n_samples=n_samples,
                                                 sampling=sampling,
                                                 seed=np.random.default_rng(sp))
                out[tag + "f"][i] += frac
                if resistance:
                    out[tag + "r"][i] += oracle.mean("resistance", nodes=nodes,
                                                     n_samples=n_resistance_pairs,
                                                     seed=np.random.default_rng(sr))
    for key in out:
        out[key] /= n_repeats
    if resistance:
        res_ratio = out["cr"] / out["tr"]
    else:
        out["cr"][:] = np.nan
        out["tr"][:] = np.nan
        res_ratio = np.full(K, np.nan)
    ratio = out["cp"] / out["tp"]
    ref = np.log(ns_arr) / np.log(np.log(ns_arr))
    if K >= 2 and np.ptp(ref) > 0:
        A = np.column_stack([np.ones(K), ref])
        coef, *_ = np.linalg.lstsq(A, ratio, rcond=None)
        resid = ratio - A @ coef
        ss = float(np.sum((ratio - ratio.mean()) ** 2))
        r2 = 1.0 - float(resid @ resid) / ss if ss > 0 else 1.0
        intercept, slope = float(coef[0]), float(coef[1])
    else:
        intercept, slope, r2 = 0.0, float(ratio[0] / ref[0]), math.nan
    return TopologyGapCurve(ns=ns_arr.astype(np.int64), chain_path=out["cp"],
                            tree_path=out["tp"], ratio=ratio, reference=ref,
                            fit_slope=slope, fit_intercept=intercept, fit_r2=r2,
                            chain_resistance=out["cr"], tree_resistance=out["tr"],
                            resistance_ratio=res_ratio,
                            connected_fraction_chain=out["cf"],
                            connected_fraction_tree=out["tf"])
