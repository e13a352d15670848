r"""The structural function of a semantic space: k-center clustering and its decay class.

Qiu et al. [1]_ summarise how much the inductive bias of a reward model generalises
within a region of the response space by a *structural function* :math:`F(M)`: split the
responses into :math:`M` clusters and measure the inference distance between two
responses of the same cluster along inductive-bias (IB) edges. The faster :math:`F`
decays, the more a single comparison per cluster tells about the whole cluster. They
distinguish three complexity classes (their Thm. 4.5, read via a secondary summary; see
:func:`~starc.preferences.complexity_function`),

.. math::

    F(M) \sim I M^{-\alpha} \ \text{(polynomial)}, \qquad
    I (\ln M)^{-\alpha} \ \text{(logarithmic)}, \qquad
    \text{slower (sub-logarithmic)},

with the chain-versus-tree gap of :math:`\Theta(\log n / \log\log n)` stated for the
polynomial class with limited data.

Estimation
----------
Responses are points :math:`x_i \in \mathbb R^d` (embeddings). The IB variance between two
responses is modelled as :math:`v(x, y) = s\,\lVert x - y \rVert^{p}` (``variance_scale``
:math:`s`, ``exponent`` :math:`p`). For each :math:`M` the responses are clustered by
greedy farthest-point *k-center* [2]_ (a 2-approximation of the smallest covering
radius; the clusterings for all :math:`M` are nested prefixes of one greedy order) and

.. math::

    \hat F(M) = \frac{1}{|\mathcal P_M|}\sum_{\{x, y\} \in \mathcal P_M} v(x, y),
    \qquad \mathcal P_M = \{\{x, y\}: x \ne y,\ c_M(x) = c_M(y)\}.

This operationalisation (embedding distance as IB variance, k-center as the partition)
is ours; the paper's estimator could not be checked against its primary text.
:func:`fit_structural_function` then fits the three classes by least squares on
:math:`\ln F` and reports the best.

References
----------
.. [1] Qiu et al. "Reward Generalization in RLHF: A Topological Perspective". arXiv
   2402.10184, Sec. 4 (structural function) and Thm. 4.5 (complexity classes).
.. [2] Gonzalez. "Clustering to minimize the maximum intercluster distance". Theor.
   Comput. Sci. 38, 1985.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._extremes import far_exponent
from .._validation import (as_float_array, check_choice, check_positive_int, check_real,
                           check_seed)
from ..exceptions import ValidationError
from .datasets import COMPLEXITY_CLASSES, COMPLEXITY_MIN_CLUSTERS, complexity_function

__all__ = ["k_center", "structural_function", "fit_structural_function", "StructuralFit"]


def _check_points(points):
    X = as_float_array(points, "points")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValidationError(f"points must have shape (N, d) (one embedding per row), got "
                              f"shape {X.shape}")
    if X.shape[0] < 1:
        raise ValidationError("points must contain at least one point")
    return np.ascontiguousarray(X)


def _greedy_order(X, m_max, rng, snapshots):
    """Farthest-point order; labels after ``m`` centres for each ``m`` in snapshots."""
    N = X.shape[0]
    first = int(rng.integers(N))
    centers = [first]
    dist = np.linalg.norm(X - X[first], axis=1)
    labels = np.zeros(N, np.int64)
    out = {}
    want = sorted(set(snapshots))
    wi = 0
    while wi < len(want) and want[wi] == 1:
        out[1] = (labels.copy(), float(dist.max()))
        wi += 1
    for m in range(1, m_max):
        nxt = int(np.argmax(dist))
        centers.append(nxt)
        d = np.linalg.norm(X - X[nxt], axis=1)
        closer = d < dist
        labels[closer] = m
        dist = np.where(closer, d, dist)
        while wi < len(want) and want[wi] == m + 1:
            out[m + 1] = (labels.copy(), float(dist.max()))
            wi += 1
    return np.array(centers, np.int64), out


def k_center(points, n_clusters, *, seed=None):
    r"""Greedy farthest-point k-center clustering (Gonzalez's 2-approximation).

    Parameters
    ----------
    points : array_like of shape (N, d)
        One embedding per row (a 1-D array is read as ``(N, 1)``).
    n_clusters : int
        :math:`1 \le M \le N`.
    seed : int | numpy.random.Generator | None
        Chooses the first centre.

    Returns
    -------
    centers : ndarray of int, shape (M,)
        Row indices of the centres, in the greedy order.
    labels : ndarray of int, shape (N,)
        Index into ``centers`` of each point's nearest centre.
    radius : float
        Covering radius :math:`\max_i \min_j \lVert x_i - x_{c_j} \rVert`.

    Raises
    ------
    ValidationError
        ``points`` is not a finite ``(N, d)`` array or ``n_clusters`` is not in
        ``1 .. N``.

    Notes
    -----
    Each step adds the point farthest from the current centres,

    .. math::

        c_{m+1} = \arg\max_i \min_{j \le m} \lVert x_i - x_{c_j} \rVert,

    which gives a radius at most twice the optimum [1]_. Ties go to the lowest index.

    References
    ----------
    .. [1] Gonzalez. Theor. Comput. Sci. 38, 1985.
    .. [2] Qiu et al., arXiv 2402.10184, Sec. 4 (clusters of the semantic space).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.preferences import k_center
    >>> X = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> centers, labels, radius = k_center(X, 2, seed=0)
    >>> bool(labels[0] == labels[1]), bool(labels[2] == labels[3]), round(radius, 3)
    (True, True, 0.2)
    """
    X = _check_points(points)
    M = check_positive_int(n_clusters, "n_clusters")
    if M > X.shape[0]:
        raise ValidationError(f"n_clusters={M} exceeds the number of points {X.shape[0]}")
    rng = check_seed(seed)
    k = far_exponent(np.abs(X).max())     # distances are exact under X -> X / 2^k
    centers, snaps = _greedy_order(np.ldexp(X, -k), M, rng, [M])
    labels, radius = snaps[M]
    with np.errstate(over="ignore"):
        radius = float(np.ldexp(radius, k))
    if not np.isfinite(radius):
        raise ValidationError("points: the covering radius exceeds the float64 range "
                              "(1.8e308); divide the points by a constant first")
    return centers, labels, radius


def structural_function(points, n_clusters, *, variance_scale=1.0, exponent=1.0,
                        max_pairs=1_000_000, seed=None):
    r"""Estimate the structural function :math:`F(M)` from response embeddings.

    Parameters
    ----------
    points : array_like of shape (N, d)
        Response embeddings.
    n_clusters : int or array_like of int, shape (K,)
        Values of :math:`M` (each in ``1 .. N``).
    variance_scale : float
        :math:`s > 0` in the IB variance :math:`v(x, y) = s \lVert x - y\rVert^p`.
    exponent : float
        :math:`p > 0`.
    max_pairs : int
        Within-cluster pairs are enumerated exactly when there are at most this many;
        otherwise this many are sampled uniformly (with ``seed``).
    seed : int | numpy.random.Generator | None
        First k-center centre and pair sampling.

    Returns
    -------
    float or ndarray of shape (K,)
        :math:`\hat F(M)`; ``0.0`` when every cluster is a singleton.

    Raises
    ------
    ValidationError
        ``points`` is not a finite ``(N, d)`` array, some ``n_clusters`` is outside
        ``1 .. N``, or ``variance_scale``, ``exponent`` or ``max_pairs`` is not positive.

    Notes
    -----
    .. math::

        \hat F(M) = \operatorname*{mean}_{x \ne y,\ c_M(x) = c_M(y)}
        s \lVert x - y \rVert^{p},

    with :math:`c_M` the greedy k-center partition of :func:`k_center` (nested in
    :math:`M`). Our estimator of the structural function of [1]_ (Sec. 4).

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4 and Thm. 4.5.
    .. [2] Gonzalez. Theor. Comput. Sci. 38, 1985.

    Examples
    --------
    Points spread evenly on a segment: finer clusters, smaller within-cluster variance.

    >>> import numpy as np
    >>> from starc.preferences import structural_function
    >>> X = np.linspace(0.0, 1.0, 401)[:, None]
    >>> F = structural_function(X, [4, 8, 16], seed=0)
    >>> bool(F[0] > F[1] > F[2] > 0)
    True
    """
    X = _check_points(points)
    scalar = np.ndim(n_clusters) == 0
    ms = np.atleast_1d(np.asarray(n_clusters))
    if ms.dtype.kind not in "iu" or ms.ndim != 1:
        raise ValidationError(f"n_clusters must be an int or a 1-D array of ints, got "
                              f"{n_clusters!r}")
    N = X.shape[0]
    if ms.size == 0 or ms.min() < 1 or ms.max() > N:
        raise ValidationError(f"every n_clusters must lie in 1..{N} (the number of points), "
                              f"got {ms.tolist()}")
    s = check_real(variance_scale, "variance_scale", low=0.0, low_open=True)
    p = check_real(exponent, "exponent", low=0.0, low_open=True)
    max_pairs = check_positive_int(max_pairs, "max_pairs")
    rng = check_seed(seed)
    # on X / 2^k (the same clusters), then times 2^(k p): homogeneous of degree p
    k = far_exponent(np.abs(X).max())
    X = np.ldexp(X, -k)
    _, snaps = _greedy_order(X, int(ms.max()), rng, ms.tolist())
    out = np.empty(ms.shape[0])
    for i, m in enumerate(ms.tolist()):
        labels, _ = snaps[m]
        out[i] = _within_mean(X, labels, s, p, max_pairs, rng)
    if k:
        whole = math.floor(k * p)
        with np.errstate(over="ignore", under="ignore"):
            out = np.ldexp(out * 2.0 ** (k * p - whole), whole)
    if not np.all(np.isfinite(out)):
        raise ValidationError("the structural function exceeds the float64 range (1.8e308) "
                              "for these points; divide them by a constant first")
    return float(out[0]) if scalar else out


def _within_mean(X, labels, s, p, max_pairs, rng):
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels)
    n_pairs = sizes * (sizes - 1) // 2
    total = int(n_pairs.sum())
    if total == 0:
        return 0.0
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if total <= max_pairs:
        acc = 0.0
        for c in np.flatnonzero(sizes > 1):
            members = X[order[starts[c]:starts[c] + sizes[c]]]
            diff = members[:, None, :] - members[None, :, :]
            d = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
            iu = np.triu_indices(members.shape[0], 1)
            acc += float(np.sum(d[iu] ** p))
        return s * acc / total
    c = rng.choice(n_pairs.shape[0], size=max_pairs, p=n_pairs / total)
    i = rng.integers(0, sizes[c])
    j = rng.integers(0, sizes[c] - 1)
    j = j + (j >= i)
    a = X[order[starts[c] + i]]
    b = X[order[starts[c] + j]]
    return s * float(np.mean(np.linalg.norm(a - b, axis=1) ** p))


#: ``ln`` of the largest float64.
_LOG_MAX = math.log(np.finfo(float).max)


def _feature(kind, M):
    if kind == "polynomial":
        return np.log(M)
    if kind == "logarithmic":
        return np.log(np.log(M))
    return np.log(np.log(np.log(M)))


@dataclass(frozen=True)
class StructuralFit:
    r"""Least-squares fits of a structural function to the three complexity classes.

    Attributes
    ----------
    best : str
        The class with the smallest residual sum of squares of :math:`\ln F`.
    intensity, alpha, rss : dict[str, float]
        :math:`I`, :math:`\alpha` and the residual sum of squares per class (classes
        whose domain excludes some :math:`M` are absent).
    n_clusters, values : ndarray of shape (K,)
        The data that were fitted (positive values only).

    Notes
    -----
    Each class is linear in a transformed :math:`M`,

    .. math::

        \ln F = \ln I - \alpha\, g(M), \qquad g \in \{\ln M,\ \ln\ln M,\
        \ln\ln\ln M\}.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Thm. 4.5 (complexity classes).

    Examples
    --------
    >>> import numpy as np
    >>> from starc.preferences import fit_structural_function
    >>> M = np.array([4, 8, 16, 32, 64])
    >>> fit = fit_structural_function(M, 3.0 * M ** -0.5)
    >>> fit.best, round(fit.alpha["polynomial"], 6), round(fit.intensity["polynomial"], 6)
    ('polynomial', 0.5, 3.0)
    >>> np.round(fit.predict([256]), 4)
    array([0.1875])
    """

    best: str
    intensity: dict
    alpha: dict
    rss: dict
    n_clusters: np.ndarray
    values: np.ndarray

    def __post_init__(self):
        if not isinstance(self.best, str) or self.best not in COMPLEXITY_CLASSES:
            raise ValidationError(f"best must be one of {COMPLEXITY_CLASSES}, got "
                                  f"{self.best!r}")
        for name in ("intensity", "alpha", "rss"):
            d = getattr(self, name)
            if not isinstance(d, dict) or self.best not in d or \
                    not set(d) <= set(COMPLEXITY_CLASSES):
                raise ValidationError(f"{name} must be a dict from complexity classes to "
                                      f"floats that includes best={self.best!r}, got {d!r}")
            object.__setattr__(self, name, {k: check_real(v, f"{name}[{k!r}]")
                                            for k, v in d.items()})
        M = as_float_array(self.n_clusters, "n_clusters", ndim=1)
        F = as_float_array(self.values, "values", ndim=1)
        if M.shape != F.shape:
            raise ValidationError(f"n_clusters and values must have the same length, got "
                                  f"{M.shape[0]} and {F.shape[0]}")
        object.__setattr__(self, "n_clusters", M)
        object.__setattr__(self, "values", F)

    def predict(self, n_clusters, kind=None):
        r"""Evaluate a fitted class at new :math:`M`.

        Parameters
        ----------
        n_clusters : int or array_like of shape (K,)
        kind : str, optional
            The class; :attr:`best` by default.

        Returns
        -------
        float or ndarray of shape (K,)

        Notes
        -----
        :math:`\hat F(M) = \hat I\, g(M)^{-\hat\alpha}` for the chosen class.

        References
        ----------
        .. [1] Qiu et al., arXiv 2402.10184, Thm. 4.5.

        Examples
        --------
        >>> import numpy as np
        >>> from starc.preferences import fit_structural_function
        >>> M = np.array([4, 8, 16, 32])
        >>> round(fit_structural_function(M, 1.0 / M).predict(64), 12)
        0.015625
        """
        kind = self.best if kind is None else check_choice(kind, "kind", tuple(self.alpha))
        a = self.alpha[kind]
        if a > 0:
            return complexity_function(n_clusters, kind, intensity=self.intensity[kind],
                                       alpha=a)
        scalar = np.ndim(n_clusters) == 0
        M = as_float_array(n_clusters, "n_clusters")
        F = self.intensity[kind] * np.exp(-a * _feature(kind, M))
        return float(F) if scalar else F


def fit_structural_function(n_clusters, values):
    r"""Fit :math:`F(M)` to the polynomial, logarithmic and sub-logarithmic classes.

    Parameters
    ----------
    n_clusters : array_like of shape (K,)
        Values of :math:`M \ge 1`.
    values : array_like of shape (K,)
        :math:`F(M)`; non-positive entries are left out of the fit.

    Returns
    -------
    StructuralFit

    Raises
    ------
    ValidationError
        Arrays of different lengths, ``n_clusters < 1``, or fewer than two distinct
        ``n_clusters`` with positive values.

    Notes
    -----
    For each class, ordinary least squares on

    .. math::

        \ln F(M) = \ln I - \alpha\, g(M),\qquad
        g(M) \in \{\ln M,\ \ln\ln M,\ \ln\ln\ln M\},

    using the points inside the class's domain (:math:`M \ge 1, 2, 3`); a class is fitted
    only when at least two points remain, and the best class has the smallest residual
    sum of squares among classes fitted on all points. The third form is our
    representative of [1]_'s "slower than logarithmic" class.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Thm. 4.5.

    Examples
    --------
    >>> import numpy as np
    >>> from starc.preferences import fit_structural_function
    >>> M = np.arange(3, 200)
    >>> fit_structural_function(M, 2.0 / np.log(M)).best
    'logarithmic'
    """
    M = as_float_array(n_clusters, "n_clusters", ndim=1)
    F = as_float_array(values, "values", ndim=1)
    if M.shape != F.shape:
        raise ValidationError(f"n_clusters and values must have the same length, got "
                              f"{M.shape[0]} and {F.shape[0]}")
    if np.any(M < 1):
        raise ValidationError("n_clusters must be >= 1")
    pos = F > 0
    M, F = M[pos], F[pos]
    if M.shape[0] < 2 or np.unique(M).shape[0] < 2:
        raise ValidationError("fit_structural_function needs at least two distinct "
                              "n_clusters with positive values")
    y = np.log(F)
    intensity, alpha, rss = {}, {}, {}
    complete = []
    for kind in COMPLEXITY_CLASSES:
        ok = M >= COMPLEXITY_MIN_CLUSTERS[kind]
        if kind == "logarithmic":
            ok &= M > 1
        if kind == "sublogarithmic":
            ok &= M > np.e
        if ok.sum() < 2 or np.unique(M[ok]).shape[0] < 2:
            continue
        g = _feature(kind, M[ok])
        A = np.column_stack([np.ones_like(g), -g])
        coef, *_ = np.linalg.lstsq(A, y[ok], rcond=None)
        resid = y[ok] - A @ coef
        if not np.all(np.isfinite(coef)) or coef[0] > _LOG_MAX:
            raise ValidationError(
                f"the {kind} fit has intensity exp({coef[0]:.4g}), beyond the float64 range "
                f"(exp({_LOG_MAX:.1f})); n_clusters and values are too extreme for this "
                "class — rescale the values or use n_clusters of a realistic size")
        intensity[kind] = float(np.exp(coef[0]))
        alpha[kind] = float(coef[1])
        rss[kind] = float(resid @ resid)
        if ok.all():
            complete.append(kind)
    pool = complete or list(rss)
    best = min(pool, key=lambda k: rss[k])
    return StructuralFit(best=best, intensity=intensity, alpha=alpha, rss=rss,
                         n_clusters=M, values=F)
