r"""Chain- and tree-structured preference datasets on a clustered semantic space.

Qiu et al. [1]_ compare two ways of spending :math:`n` human comparisons:

* **chain-based** (the usual RLHF pipeline): every comparison is between two responses
  generated independently for a prompt, so two comparisons share no structure;
* **tree-based** (their Algorithm 1): for each prompt, responses are root-to-leaf paths of
  a prefix tree of depth :math:`D` and branching :math:`B`, and comparisons are between
  leaves. Responses that share a prefix have correlated rewards, which the induced
  Bayesian network records as inductive-bias (IB) edges at no labelling cost.

This module builds both as induced Bayesian networks on one simulated semantic space.

Semantic-space cluster model
----------------------------
Responses fall into :math:`M` semantic clusters, uniformly at random
(:func:`semantic_clusters`). Each cluster has a latent centre node; every response is
joined to its centre by an IB edge of variance :math:`F(M)/2`, so any two responses of
one cluster are at inference distance :math:`F(M)`, the *structural function*
(:func:`complexity_function`, estimated from data by
:func:`~starc.preferences.structural_function`). Human-preference (HP) edges have the
variance of :func:`~starc.preferences.hp_edge_variance`. By default
:math:`M = \operatorname{round}(2n / \ln n)` (:func:`threshold_n_clusters`): with
:math:`2n` responses the chain comparison graph between clusters then has mean degree
:math:`\ln n \approx \ln M`, the connectivity threshold of a random graph.

Tree model
----------
The :math:`n` comparisons are split evenly over :math:`T` prompts (default
:math:`T = \operatorname{round}(\sqrt{n/2})`). Prompt :math:`t` with :math:`m_t`
comparisons draws :math:`2m_t` distinct leaves of a full :math:`B`-ary tree of depth
:math:`D` (default: the smallest with :math:`B^D \ge 2 m_t`), keeps only their ancestors,
and pairs the leaves at random. The edge from a depth-:math:`(k-1)` prefix to a
depth-:math:`k` prefix carries the level variance :math:`v_k`, so two leaves whose lowest
common ancestor has depth :math:`l` are at path distance
:math:`2\sum_{k>l} v_k`. By default :math:`v_k = w_{\text{HP}}/(2D)`: the root-to-leaf
variance is half an HP variance, and two responses that share only the prompt are one
comparison apart. Leaves are placed in the semantic clusters exactly like chain
responses.

The cluster model, the defaults for :math:`M`, :math:`T`, :math:`D` and :math:`v_k` are
our reconstruction of the mechanism behind [1]_'s Thm. 4.5 (THEORY.md section 7, marked
(R)); the paper's own parametrisation could not be checked against its primary text.

References
----------
.. [1] Qiu et al. "Reward Generalization in RLHF: A Topological Perspective". arXiv
   2402.10184, Sec. 4, Algorithm 1 (tree-structured preference data) and Thm. 4.5.
.. [2] Erdős, Rényi. "On the evolution of random graphs". Publ. Math. Inst. Hung. Acad.
   Sci. 5, 1960 (connectivity threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._validation import (as_float_array, check_choice, check_memory, check_positive_int,
                           check_real, check_seed)
from ..exceptions import ValidationError
from ._checks import check_variances
from .graphs import HP_MODELS, hp_edge_variance

__all__ = ["PreferenceDataset", "threshold_n_clusters", "complexity_function",
           "semantic_clusters", "chain_dataset", "tree_dataset"]

#: The three complexity classes of the structural function, fastest decay first.
COMPLEXITY_CLASSES = ("polynomial", "logarithmic", "sublogarithmic")

#: Smallest cluster count :math:`M` in the domain of each class's structural function:
#: the least integer at which :math:`\ln M` (``"logarithmic"``) and :math:`\ln\ln M`
#: (``"sublogarithmic"``) are positive.
COMPLEXITY_MIN_CLUSTERS = {"polynomial": 1.0, "logarithmic": 2.0, "sublogarithmic": 3.0}

#: Edge kinds recorded in :attr:`PreferenceDataset.edge_kinds`.
EDGE_KINDS = ("hp", "ib-cluster", "ib-prefix")

#: Default number of prompts of a tree dataset (comparisons per prompt grow with n).
DEFAULT_N_PROMPTS = 16

#: Largest number of leaves a full tree may have (``branching ** depth``).
_MAX_LEAVES = 2 ** 62


@dataclass(frozen=True)
class PreferenceDataset:
    r"""A simulated preference dataset and its induced Bayesian network.

    Nodes are integers: responses ``0 .. R-1`` first, then the ``n_clusters`` latent
    cluster centres, then (tree datasets) the latent prefix nodes.

    Attributes
    ----------
    kind : {"chain", "tree"}
    n_nodes : int
    edges_u, edges_v : ndarray of int, shape (m,)
        Edge end points.
    variances : ndarray of shape (m,)
        Edge variances (> 0).
    edge_kinds : ndarray of str, shape (m,)
        ``"hp"`` (a comparison), ``"ib-cluster"`` (response to its cluster centre) or
        ``"ib-prefix"`` (tree edge between prefixes).
    responses : ndarray of int, shape (R,)
        Response nodes (the ones distances are averaged over).
    comparisons : ndarray of int, shape (n, 2)
        The compared response pairs.
    clusters : ndarray of int, shape (R,)
        Semantic cluster of each response.
    n_clusters : int
    within_variance : float
        :math:`F(M)`, the inference distance between two responses of one cluster.
    hp_variance : float
        Variance of one comparison.
    tree : dict
        Tree datasets: ``depth``, ``branching``, ``n_prompts``, ``level_variances``,
        ``prompt`` (the prompt of each response). Empty for chain datasets.

    Notes
    -----
    Edge variances of the network:

    .. math::

        w(y, \text{centre}_{c(y)}) = \frac{F(M)}{2}, \qquad
        w(y_A, y_B) = w_{\text{HP}}, \qquad
        w(\text{prefix}_{k-1}, \text{prefix}_k) = v_k ,

    so two responses of one cluster are :math:`F(M)` apart and two leaves with lowest
    common ancestor at depth :math:`l` are :math:`2 \sum_{k > l} v_k` apart.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4 and Algorithm 1.

    Examples
    --------
    >>> from starc.preferences import chain_dataset
    >>> ds = chain_dataset(100, seed=0)
    >>> ds.kind, ds.responses.shape, ds.comparisons.shape, ds.n_clusters
    ('chain', (200,), (100, 2), 43)
    """

    kind: str
    n_nodes: int
    edges_u: np.ndarray
    edges_v: np.ndarray
    variances: np.ndarray
    edge_kinds: np.ndarray
    responses: np.ndarray
    comparisons: np.ndarray
    clusters: np.ndarray
    n_clusters: int
    within_variance: float
    hp_variance: float
    tree: dict = field(default_factory=dict)

    def __post_init__(self):
        self._validate()
        for name in ("edges_u", "edges_v", "variances", "edge_kinds", "responses",
                     "comparisons", "clusters"):
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray):
                arr.setflags(write=False)

    def _validate(self) -> None:
        """Check the fields of a user-built dataset (ValidationError naming the field)."""
        check_choice(self.kind, "kind", ("chain", "tree"))
        n_nodes = check_positive_int(self.n_nodes, "n_nodes")
        fields = {}

        def ints(name, ndim, high):
            try:
                arr = np.asarray(getattr(self, name))
            except (TypeError, ValueError) as err:
                raise ValidationError(f"{name} must be an integer array: {err}") from None
            if arr.dtype.kind not in "iu" or arr.ndim != ndim:
                raise ValidationError(f"{name} must be a {ndim}-D integer array, got dtype "
                                      f"{arr.dtype} and shape {arr.shape}")
            if arr.size and (arr.min() < 0 or arr.max() >= high):
                raise ValidationError(f"{name} has entries outside [0, {high - 1}]")
            fields[name] = arr
            return arr

        u = ints("edges_u", 1, n_nodes)
        if ints("edges_v", 1, n_nodes).shape != u.shape:
            raise ValidationError("edges_u and edges_v must have the same length")
        fields["variances"] = check_variances(self.variances, "variances", size=u.shape[0])
        try:
            kinds = np.asarray(self.edge_kinds)
        except (TypeError, ValueError) as err:
            raise ValidationError(f"edge_kinds must be an array of str: {err}") from None
        if kinds.shape != u.shape or not np.isin(kinds, EDGE_KINDS).all():
            raise ValidationError(f"edge_kinds must hold one of {EDGE_KINDS} per edge")
        fields["edge_kinds"] = kinds
        responses = ints("responses", 1, n_nodes)
        comparisons = ints("comparisons", 2, n_nodes)
        if comparisons.shape[1:] != (2,):
            raise ValidationError(f"comparisons must have shape (n, 2), got "
                                  f"{comparisons.shape}")
        n_clusters = check_positive_int(self.n_clusters, "n_clusters")
        if ints("clusters", 1, n_clusters).shape != responses.shape:
            raise ValidationError("clusters must hold one cluster per response")
        for name, value in (("within_variance", self.within_variance),
                            ("hp_variance", self.hp_variance)):
            fields[name] = check_real(value, name, low=0.0, low_open=True)
        if not isinstance(self.tree, dict):
            raise ValidationError(f"tree must be a dict, got {type(self.tree).__name__}")
        fields["n_nodes"], fields["n_clusters"] = n_nodes, n_clusters
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @property
    def n_comparisons(self) -> int:
        """Number of HP comparisons."""
        return int(self.comparisons.shape[0])

    def oracle(self, *, solver="auto"):
        r"""An :class:`~starc.preferences.InferenceDistanceOracle` on this network.

        Parameters
        ----------
        solver : {"auto", "lu", "cg"}

        Returns
        -------
        InferenceDistanceOracle
            Built straight from the edge arrays (no networkx round trip).

        Notes
        -----
        Distances are :math:`d_{\text{path}}` and :math:`d_{\text{res}}` of
        :func:`~starc.preferences.inference_distance`.

        References
        ----------
        .. [1] Qiu et al., arXiv 2402.10184, Sec. 4.

        Examples
        --------
        >>> from starc.preferences import chain_dataset
        >>> ds = chain_dataset(50, seed=1)
        >>> u, v = ds.comparisons[0]
        >>> round(ds.oracle().distance(u, v), 4) <= round(ds.hp_variance, 4)
        True
        """
        from .inference_distance import InferenceDistanceOracle

        return InferenceDistanceOracle.from_edges(self.n_nodes, self.edges_u, self.edges_v,
                                                  self.variances, solver=solver)

    def to_networkx(self):
        r"""The induced Bayesian network as a :class:`networkx.MultiGraph`.

        Returns
        -------
        networkx.MultiGraph
            Node attribute ``role`` (``"response"``, ``"cluster"`` or ``"prefix"``);
            edge attributes ``variance`` and ``kind``.

        Notes
        -----
        Edge :math:`e` has variance :math:`w_e`, as in
        :func:`~starc.preferences.preference_graph`.

        References
        ----------
        .. [1] Qiu et al., arXiv 2402.10184, Sec. 4.

        Examples
        --------
        >>> from starc.preferences import chain_dataset
        >>> G = chain_dataset(10, n_clusters=3, seed=0).to_networkx()
        >>> G.number_of_nodes(), G.number_of_edges()
        (23, 30)
        """
        import networkx as nx

        G = nx.MultiGraph(kind=self.kind)
        R = self.responses.shape[0]
        G.add_nodes_from(range(R), role="response")
        G.add_nodes_from(range(R, R + self.n_clusters), role="cluster")
        G.add_nodes_from(range(R + self.n_clusters, self.n_nodes), role="prefix")
        G.add_edges_from(
            (int(a), int(b), {"variance": float(w), "kind": str(k)})
            for a, b, w, k in zip(self.edges_u, self.edges_v, self.variances,
                                  self.edge_kinds))
        return G


def threshold_n_clusters(n_comparisons):
    r"""Number of semantic clusters at the connectivity threshold of chain data.

    Parameters
    ----------
    n_comparisons : int
        Number of comparisons :math:`n \ge 2`.

    Returns
    -------
    int
        :math:`M = \max(2, \operatorname{round}(2n / \ln n))`.

    Raises
    ------
    ValidationError
        ``n_comparisons`` is not an integer >= 2.

    Notes
    -----
    :math:`2n` responses spread over :math:`M` clusters make a random comparison graph
    between clusters with mean degree :math:`2n/M = \ln n \approx \ln M`, the threshold
    above which an Erdős-Rényi graph is connected [2]_; its mean number of hops is then
    about :math:`\ln M / \ln(2n/M) \approx \ln n / \ln\ln n`. This is the mechanism
    THEORY.md section 7 reconstructs for [1]_'s Thm. 4.5 (marked (R)).

    .. math::

        M(n) = \frac{2n}{\ln n}.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Thm. 4.5.
    .. [2] Erdős, Rényi. Publ. Math. Inst. Hung. Acad. Sci. 5, 1960.

    Examples
    --------
    >>> from starc.preferences import threshold_n_clusters
    >>> threshold_n_clusters(1024), threshold_n_clusters(65536)
    (295, 11819)
    """
    n = check_positive_int(n_comparisons, "n_comparisons", minimum=2)
    return max(2, int(round(2.0 * n / math.log(n))))


def complexity_function(n_clusters, kind="polynomial", *, intensity=1.0, alpha=0.5):
    r"""Model structural functions :math:`F(M)` of the three complexity classes.

    Parameters
    ----------
    n_clusters : int or array_like of shape (K,)
        :math:`M \ge 1` (:math:`M \ge 2` for ``"logarithmic"``, :math:`M \ge 3` for
        ``"sublogarithmic"``).
    kind : {"polynomial", "logarithmic", "sublogarithmic"}
    intensity : float
        :math:`I > 0`.
    alpha : float
        Decay exponent :math:`\alpha > 0`.

    Returns
    -------
    float or ndarray of shape (K,)

    Raises
    ------
    ValidationError
        Unknown ``kind``, non-positive ``intensity`` or ``alpha``, or ``n_clusters``
        outside the class's domain.

    Notes
    -----
    .. math::

        F_{\text{poly}}(M) = I M^{-\alpha}, \quad
        F_{\text{log}}(M) = I (\ln M)^{-\alpha}, \quad
        F_{\text{sublog}}(M) = I (\ln\ln M)^{-\alpha}.

    The first two are the classes named by [1]_ (Thm. 4.5, via a secondary summary);
    the paper's third class is "slower than logarithmic", for which the
    :math:`(\ln\ln M)^{-\alpha}` form is our representative.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Thm. 4.5 (structural function and complexity
       classes).

    Examples
    --------
    >>> from starc.preferences import complexity_function
    >>> complexity_function(100, "polynomial", intensity=2.0, alpha=0.5)
    0.2
    >>> complexity_function([10, 100], "logarithmic").round(3)
    array([0.659, 0.466])
    """
    check_choice(kind, "kind", COMPLEXITY_CLASSES)
    intensity = check_real(intensity, "intensity", low=0.0, low_open=True)
    alpha = check_real(alpha, "alpha", low=0.0, low_open=True)
    M = as_float_array(n_clusters, "n_clusters")
    scalar = M.ndim == 0
    low = COMPLEXITY_MIN_CLUSTERS[kind]
    if np.any(M < low):
        raise ValidationError(f"n_clusters must be >= {low:g} for kind={kind!r}, got "
                              f"{float(np.min(M)):g}")
    if kind == "polynomial":
        F = intensity * M ** (-alpha)
    elif kind == "logarithmic":
        F = intensity * np.log(M) ** (-alpha)
    else:
        F = intensity * np.log(np.log(M)) ** (-alpha)
    return float(F) if scalar else F


def semantic_clusters(n_responses, n_clusters, *, seed=None):
    r"""Assign responses to semantic clusters uniformly at random.

    Parameters
    ----------
    n_responses : int
    n_clusters : int
    seed : int | numpy.random.Generator | None

    Returns
    -------
    ndarray of int, shape (n_responses,)
        Cluster index in ``0 .. n_clusters - 1`` of each response.

    Raises
    ------
    ValidationError
        Negative ``n_responses``, ``n_clusters < 1`` or a bad ``seed``.

    Notes
    -----
    Independent responses land in clusters i.i.d. uniform,

    .. math::

        \Pr(c(y) = j) = \frac1M, \qquad j = 0, \dots, M - 1,

    the random-allocation model behind the connectivity
    argument for chain data ([1]_, Thm. 4.5; reconstruction).

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4.

    Examples
    --------
    >>> from starc.preferences import semantic_clusters
    >>> semantic_clusters(6, 3, seed=0)
    array([2, 1, 1, 0, 0, 0])
    """
    n = check_positive_int(n_responses, "n_responses", minimum=0)
    M = check_positive_int(n_clusters, "n_clusters")
    check_memory((n,), "semantic_clusters")
    rng = check_seed(seed)
    return rng.integers(0, M, size=n)


def _cluster_setup(n_comparisons, n_clusters, within_variance, complexity, intensity, alpha,
                   beta, hp_model):
    n = check_positive_int(n_comparisons, "n_comparisons", minimum=2)
    # a dataset stores about 3n edges (end points, variance and a kind string each, about
    # 100 bytes with the temporaries): refuse before drawing anything
    check_memory((3 * n,), f"a preference dataset of {n} comparisons", itemsize=100)
    M = threshold_n_clusters(n) if n_clusters is None else \
        check_positive_int(n_clusters, "n_clusters")
    if within_variance is None:
        check_choice(complexity, "complexity", COMPLEXITY_CLASSES)
        F = complexity_function(max(M, COMPLEXITY_MIN_CLUSTERS[complexity]), complexity,
                                intensity=intensity, alpha=alpha)
    else:
        F = check_real(within_variance, "within_variance", low=0.0, low_open=True)
    check_choice(hp_model, "hp_model", HP_MODELS)
    hp = hp_edge_variance(beta, model=hp_model)
    return n, M, F, hp


def chain_dataset(n_comparisons, *, n_clusters=None, within_variance=None,
                  complexity="polynomial", intensity=1.0, alpha=0.5, beta=1.0,
                  hp_model="logistic", seed=None):
    r"""Chain-based preference data: ``n`` comparisons of independent response pairs.

    Parameters
    ----------
    n_comparisons : int
        Number of comparisons :math:`n \ge 2`; the dataset has :math:`2n` responses.
    n_clusters : int, optional
        Semantic clusters :math:`M`; :func:`threshold_n_clusters` by default.
    within_variance : float, optional
        :math:`F(M)`; by default :func:`complexity_function` of ``complexity``,
        ``intensity`` and ``alpha`` at :math:`M`.
    complexity : {"polynomial", "logarithmic", "sublogarithmic"}
    intensity, alpha : float
        :math:`I` and :math:`\alpha` of the structural function.
    beta : float
        Bradley-Terry inverse temperature of the HP edges.
    hp_model : {"logistic", "fisher"}
        HP variance (at zero margin for ``"fisher"``).
    seed : int | numpy.random.Generator | None

    Returns
    -------
    PreferenceDataset
        ``kind="chain"``; response ``2k`` is compared with response ``2k + 1``.

    Raises
    ------
    ValidationError
        ``n_comparisons < 2``, a bad cluster count, structural-function parameter,
        ``beta``, ``hp_model`` or ``seed``.

    Notes
    -----
    Responses :math:`y` land in clusters :math:`c(y) \sim \mathrm{Unif}\{1..M\}`; edges

    .. math::

        (y_{2k}, y_{2k+1}) : w_{\text{HP}}, \qquad
        (y, \text{centre}_{c(y)}) : F(M)/2 .

    A path between two responses alternates cluster hops of cost
    :math:`F(M) + w_{\text{HP}}` ([1]_, chain-based datasets; our reconstruction).

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4 (chain-based datasets), Thm. 4.5.

    Examples
    --------
    At the connectivity threshold a few responses may sit in small components (their
    distance to the rest is infinite), so average over the largest component:

    >>> import numpy as np
    >>> from starc.preferences import chain_dataset, mean_inference_distance
    >>> ds = chain_dataset(200, seed=0)
    >>> o = ds.oracle()
    >>> labels = o.component_labels[ds.responses]
    >>> lcc = ds.responses[labels == np.bincount(labels).argmax()]
    >>> lcc.shape
    (394,)
    >>> round(mean_inference_distance(o, nodes=lcc, n_samples=500, seed=0), 1)
    8.9
    """
    n, M, F, hp = _cluster_setup(n_comparisons, n_clusters, within_variance, complexity,
                                 intensity, alpha, beta, hp_model)
    rng = check_seed(seed)
    R = 2 * n
    clusters = rng.integers(0, M, size=R)
    resp = np.arange(R, dtype=np.int64)
    comp = resp.reshape(n, 2)
    u = np.concatenate([comp[:, 0], resp])
    v = np.concatenate([comp[:, 1], R + clusters])
    w = np.concatenate([np.full(n, hp), np.full(R, F / 2.0)])
    kinds = np.array(["hp"] * n + ["ib-cluster"] * R)
    return PreferenceDataset(kind="chain", n_nodes=R + M, edges_u=u, edges_v=v, variances=w,
                             edge_kinds=kinds, responses=resp, comparisons=comp.copy(),
                             clusters=clusters, n_clusters=M, within_variance=float(F),
                             hp_variance=float(hp))


def tree_dataset(n_comparisons, *, branching=2, depth=None, n_prompts=None,
                 level_variances=None, n_clusters=None, within_variance=None,
                 complexity="polynomial", intensity=1.0, alpha=0.5, beta=1.0,
                 hp_model="logistic", seed=None):
    r"""Tree-based preference data: comparisons between leaves of per-prompt prefix trees.

    Parameters
    ----------
    n_comparisons : int
        Number of comparisons :math:`n \ge 2`; the dataset has :math:`2n` responses.
    branching : int
        Branching factor :math:`B \ge 2` of the prefix trees.
    depth : int, optional
        Depth :math:`D`; by default the smallest with :math:`B^D \ge 2\max_t m_t`.
    n_prompts : int, optional
        Number of prompts :math:`T`; :math:`\operatorname{round}(\sqrt{n/2})` by default.
    level_variances : float or array_like of shape (D,), optional
        :math:`v_1, \dots, v_D`, the variance added by the segment at each depth;
        :math:`w_{\text{HP}}/(2D)` each by default.
    n_clusters, within_variance, complexity, intensity, alpha, beta, hp_model
        As for :func:`chain_dataset`.
    seed : int | numpy.random.Generator | None

    Returns
    -------
    PreferenceDataset
        ``kind="tree"``; ``tree`` holds ``depth``, ``branching``, ``n_prompts``,
        ``level_variances`` and ``prompt`` (per response).

    Raises
    ------
    ValidationError
        As :func:`chain_dataset`; also ``branching < 2``, more prompts than
        comparisons, a ``depth`` too small to hold a prompt's responses, or
        ``level_variances`` of the wrong length or not > 0.

    Notes
    -----
    Two leaves of one prompt whose lowest common ancestor has depth :math:`l` are at path
    distance

    .. math::

        d_{\text{tree}}(y, y') = 2 \sum_{k=l+1}^{D} v_k ,

    and every leaf also joins its semantic cluster as in :func:`chain_dataset`. Each
    tree therefore acts as a hub joining the :math:`2m_t` clusters of its leaves
    ([1]_, Algorithm 1; the hub reading is our reconstruction of the Thm. 4.5
    mechanism).

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Algorithm 1 (tree-structured preference data)
       and Thm. 4.5.

    Examples
    --------
    >>> from starc.preferences import tree_dataset
    >>> ds = tree_dataset(8, branching=2, n_prompts=1, seed=0)
    >>> ds.tree["depth"], ds.responses.shape, ds.comparisons.shape
    (4, (16,), (8, 2))
    >>> o = ds.oracle()
    >>> a, b = ds.comparisons[0]
    >>> bool(o.distance(a, b) <= 2 * sum(ds.tree["level_variances"]))
    True
    """
    n, M, F, hp = _cluster_setup(n_comparisons, n_clusters, within_variance, complexity,
                                 intensity, alpha, beta, hp_model)
    B = check_positive_int(branching, "branching", minimum=2)
    T = min(DEFAULT_N_PROMPTS, n) if n_prompts is None else \
        check_positive_int(n_prompts, "n_prompts")
    if T > n:
        raise ValidationError(f"n_prompts={T} exceeds n_comparisons={n}; every prompt needs "
                              "at least one comparison")
    rng = check_seed(seed)
    per = np.full(T, n // T, np.int64)
    per[: n % T] += 1
    need = 2 * int(per.max())
    if depth is None:
        D = 1
        while B ** D < need:
            D += 1
    else:
        D = check_positive_int(depth, "depth")
        if B ** D < need:
            raise ValidationError(
                f"depth={D} with branching={B} gives {B ** D} leaves per prompt, fewer than "
                f"the {need} responses a prompt needs; increase depth, branching or "
                "n_prompts")
    if B ** D > _MAX_LEAVES:
        raise ValidationError(f"branching ** depth = {B}**{D} is too large (at most 2**62 "
                              "leaves per tree)")
    if level_variances is None:
        height = D - np.arange(1, D + 1)            # levels above the leaves, D-1 .. 0
        lv = 0.5 * hp * (1.0 - 1.0 / B) * float(B) ** (-height.astype(float))
    else:
        lv = check_variances(level_variances, "level_variances", size=D)
    R = 2 * n
    clusters = rng.integers(0, M, size=R)
    prompt = np.repeat(np.arange(T), 2 * per)
    leaf = np.empty(R, np.int64)
    start = 0
    for t in range(T):
        k = int(2 * per[t])
        leaf[start:start + k] = rng.choice(B ** D, size=k, replace=False)
        start += k
    resp = np.arange(R, dtype=np.int64)
    comp = resp.reshape(n, 2)
    # prefix nodes: ancestors of the chosen leaves at depths 0 .. D-1, per prompt
    us, vs, ws = [comp[:, 0], resp], [comp[:, 1], R + clusters], \
        [np.full(n, hp), np.full(R, F / 2.0)]
    kinds = [np.full(n, "hp"), np.full(R, "ib-cluster")]
    next_id = R + M
    child_ids = resp
    child_keys = leaf
    for k in range(D, 0, -1):               # edge from depth k-1 (parent) to depth k
        parent_keys = child_keys // B
        key = np.stack([prompt, parent_keys], axis=1)
        uniq, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        parent_ids = next_id + np.arange(uniq.shape[0], dtype=np.int64)
        next_id += uniq.shape[0]
        # one edge per distinct child
        ckey = np.stack([prompt, child_keys], axis=1)
        _, first = np.unique(ckey, axis=0, return_index=True)
        us.append(child_ids[first])
        vs.append(parent_ids[inverse[first]])
        ws.append(np.full(first.shape[0], lv[k - 1]))
        kinds.append(np.full(first.shape[0], "ib-prefix"))
        child_ids = parent_ids[inverse]
        child_keys = parent_keys
    tree = {"depth": D, "branching": B, "n_prompts": T, "level_variances": lv,
            "prompt": prompt}
    return PreferenceDataset(kind="tree", n_nodes=int(next_id),
                             edges_u=np.concatenate(us).astype(np.int64),
                             edges_v=np.concatenate(vs).astype(np.int64),
                             variances=np.concatenate(ws).astype(np.float64),
                             edge_kinds=np.concatenate(kinds), responses=resp,
                             comparisons=comp.copy(), clusters=clusters, n_clusters=M,
                             within_variance=float(F), hp_variance=float(hp), tree=tree)
