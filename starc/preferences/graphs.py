r"""Preference graphs: the induced Bayesian network of a preference dataset.

Qiu et al. [1]_ model reward generalisation in RLHF on a graph whose nodes are responses
and whose edges say how well the reward of one response can be inferred from another's.
They call it the *induced Bayesian network* (IBN) of the dataset (their Sec. 4). Two kinds
of edge share the graph:

* **human-preference (HP) edges** -- one per labelled comparison :math:`(y_A, y_B)`. The
  label is a noisy observation of the reward difference, so the edge carries the variance
  of what one comparison says about :math:`r(y_A) - r(y_B)`;
* **inductive-bias (IB) edges** -- semantic similarity or a shared prefix makes two rewards
  correlated before any label is seen; such an edge carries the variance of the reward
  difference under the prior.

Every edge :math:`e` carries a variance :math:`w_e > 0` in the attribute ``"variance"``;
its reciprocal :math:`c_e = 1/w_e` is the *conductance* used by the effective-resistance
distance (:mod:`starc.preferences.inference_distance`).

HP edge variance
----------------
Under the Bradley-Terry model with inverse temperature :math:`\beta` a preference label
is :math:`\delta = \mathbb 1[y_A \succ y_B]` with
:math:`P(\delta = 1) = \sigma(\beta\Delta)`, :math:`\Delta = r(y_A) - r(y_B)`. Two
per-comparison variances are offered (``model=``):

.. math::

    w_{\text{logistic}} = \frac{\pi^2}{3\beta^2}, \qquad
    w_{\text{fisher}}(\Delta) = \frac{1}{\beta^2\, s(1-s)},\quad s = \sigma(\beta\Delta).

``"logistic"`` is the variance of the logistic label noise in the latent-utility form of
Bradley-Terry (a Logistic variable of scale :math:`1/\beta`); ``"fisher"`` is the inverse
Fisher information of one Bernoulli label about :math:`\Delta` (:math:`4/\beta^2` at
:math:`\Delta = 0`), i.e. the asymptotic variance of the maximum-likelihood estimate.
Both are our derivations (THEORY.md section 7). A secondary summary of [1]_ states the
paper's label model as :math:`\delta \sim \mathrm{Logistic}(\beta\Delta, 1/\beta)`, whose
variance is the ``"logistic"`` value; the primary text was not available to confirm
the exact convention.

References
----------
.. [1] Qiu, Zeng, Ji, Yan, Wang, Zhou, Han, Dai, Pan, Yang. "Reward Generalization in RLHF:
   A Topological Perspective". arXiv 2402.10184 (ACL Findings 2025), Sec. 4 (induced
   Bayesian networks).
.. [2] Bradley, Terry. "Rank analysis of incomplete block designs I". Biometrika 39, 1952.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .._extremes import far_exponent
from .._validation import as_float_array, check_choice, check_real
from ..exceptions import ValidationError
from ._checks import (DEFAULT_WEIGHT, check_graph, check_variance_value, check_variances,
                      check_weight_name, edge_arrays)

__all__ = ["hp_edge_variance", "preference_graph", "merge_parallel_edges", "graph_laplacian"]

HP_MODELS = ("logistic", "fisher")
MERGE_METHODS = ("resistance", "path")


def hp_edge_variance(beta=1.0, *, model="logistic", margin=0.0):
    r"""Variance of one human-preference comparison about a reward difference.

    Parameters
    ----------
    beta : float
        Inverse temperature :math:`\beta > 0` of the Bradley-Terry model.
    model : {"logistic", "fisher"}
        ``"logistic"``: the variance of logistic label noise, independent of the margin;
        ``"fisher"``: the inverse Fisher information of one label at reward margin
        ``margin``.
    margin : float or array_like of shape (K,)
        Reward difference :math:`\Delta` across the comparison (used by ``"fisher"``).

    Returns
    -------
    float or ndarray of shape (K,)
        The variance :math:`w > 0`; an array when ``margin`` is an array.

    Raises
    ------
    ValidationError
        ``beta <= 0``, an unknown ``model``, a non-finite margin, or a margin so large
        that the Fisher variance overflows.

    Notes
    -----
    .. math::

        w_{\text{logistic}} = \frac{\pi^2}{3\beta^2}, \qquad
        w_{\text{fisher}} = \frac{1}{\beta^2 \sigma(\beta\Delta)\,(1 - \sigma(\beta\Delta))}.

    The Fisher form grows like :math:`e^{\beta|\Delta|}/\beta^2`: a lopsided comparison
    says little about the size of the gap. Both formulas are derivations for the HP edges
    of [1]_; see the module docstring for what could and could not be checked.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4 (HP edges of the induced Bayesian network).
    .. [2] Bradley, Terry. Biometrika 39, 1952.

    Examples
    --------
    >>> from starc.preferences import hp_edge_variance
    >>> round(hp_edge_variance(1.0), 6)           # pi^2 / 3
    3.289868
    >>> hp_edge_variance(2.0, model="fisher")     # 4 / beta^2 at zero margin
    1.0
    """
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    check_choice(model, "model", HP_MODELS)
    if model == "logistic":
        try:
            value = (math.pi / beta) ** 2 / 3.0      # no intermediate beta^2
        except OverflowError:
            value = math.inf
        if not (math.isfinite(value) and value > 0.0):
            raise ValidationError(
                f"beta={beta!r} makes the logistic HP-edge variance pi^2 / (3 beta^2) "
                f"{'overflow' if beta < 1 else 'underflow to 0'}: it is outside the float64 "
                "range; use a beta between about 1e-154 and 1e154")
        if np.ndim(margin) == 0:
            check_real(margin, "margin")
            return value
        m = as_float_array(margin, "margin", ndim=1)
        return np.full(m.shape, value)
    scalar = np.ndim(margin) == 0
    m = (np.asarray(check_real(margin, "margin")) if scalar
         else as_float_array(margin, "margin", ndim=1))
    z = -beta * np.abs(m)
    # 1 / (beta^2 s(1 - s)) = e^{|x|} ((1 + e^{-|x|}) / beta)^2: no intermediate beta^2
    with np.errstate(over="ignore", under="ignore"):
        var = np.exp(-z) * ((1.0 + np.exp(z)) / beta) ** 2
    if np.any(var == 0.0):
        raise ValidationError(f"beta={beta!r} makes the Fisher HP-edge variance underflow to "
                              "0; use a beta below about 1e154")
    if not np.all(np.isfinite(var)) and beta < 1.0 and np.all(np.isfinite(np.exp(-z))):
        raise ValidationError(f"beta={beta!r} makes the Fisher HP-edge variance 4 / beta^2 "
                              "overflow; use a beta above about 1e-154")
    if not np.all(np.isfinite(var)):
        raise ValidationError(
            f"margin too large for the Fisher variance at beta={beta}: beta*|margin| up to "
            f"{float(np.max(-z)):.3g} makes one comparison carry no information (variance "
            "overflows); clip the margins or use model='logistic'")
    return float(var) if scalar else var


def _as_pair_list(items, name: str, *, allow_triples: bool = False) -> list[tuple]:
    if isinstance(items, np.ndarray):
        if items.ndim != 2 or items.shape[1] not in ((2, 3) if allow_triples else (2,)):
            want = "(K, 2) or (K, 3)" if allow_triples else "(K, 2)"
            raise ValidationError(f"{name} must have shape {want}, got {items.shape}")
        return [tuple(row.tolist()) for row in items]
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ValidationError(f"{name} must be a sequence of (u, v) pairs, got {items!r}")
    out = []
    for k, item in enumerate(items):
        try:
            t = tuple(item)
        except TypeError:
            raise ValidationError(f"{name}[{k}] = {item!r} is not a (u, v) pair") from None
        if len(t) == 2 or (allow_triples and len(t) == 3):
            out.append(t)
        else:
            want = "(u, v) or (u, v, variance)" if allow_triples else "(u, v)"
            raise ValidationError(f"{name}[{k}] = {item!r} must be a {want} tuple")
    return out


def preference_graph(comparisons=(), *, nodes=None, beta=1.0, hp_model="logistic",
                     margins=None, hp_variances=None, ib_edges=(), ib_variance=1.0):
    r"""Build the induced Bayesian network of a preference dataset.

    Parameters
    ----------
    comparisons : sequence of (u, v) pairs or array_like of shape (n, 2)
        One human-preference (HP) comparison per row between responses ``u`` and ``v``
        (any hashable labels; the order of the pair does not matter for variances).
        Repeated comparisons give parallel edges.
    nodes : iterable, optional
        Extra nodes to include even if no edge touches them (isolated responses).
    beta : float
        Bradley-Terry inverse temperature used by :func:`hp_edge_variance`.
    hp_model : {"logistic", "fisher"}
        Which HP variance to use (see :func:`hp_edge_variance`).
    margins : array_like of shape (n,), optional
        Reward margins :math:`\Delta` of the comparisons for ``hp_model="fisher"``.
    hp_variances : float or array_like of shape (n,), optional
        Explicit HP variances; overrides ``beta``, ``hp_model`` and ``margins``.
    ib_edges : sequence of (u, v) or (u, v, variance), or array_like of shape (m, 2)
        Inductive-bias (IB) edges. A third entry gives the edge's own variance.
    ib_variance : float or array_like of shape (m,)
        Variance of IB edges given as pairs.

    Returns
    -------
    networkx.MultiGraph
        Nodes are the responses. Every edge has the attributes ``variance`` (float > 0)
        and ``kind`` (``"hp"`` or ``"ib"``); graph attribute ``"beta"``.

    Raises
    ------
    ValidationError
        Malformed pairs, a response compared with itself, or a variance that is not
        finite and > 0 (the message names the argument and the offending entry).

    Notes
    -----
    An edge with variance :math:`w_e` is a Gaussian observation (HP) or prior link (IB)
    of the reward difference across it,

    .. math::

        r(v) - r(u) \mid \text{edge } e \sim \mathcal N(\cdot,\, w_e),
        \qquad w_e^{\text{HP}} = \frac{\pi^2}{3\beta^2}\ \text{or}\
        \frac{1}{\beta^2 s(1-s)},

    which is the structure of the induced Bayesian network of [1]_ (Sec. 4) with our
    Gaussian reading of its edges. Distances on the result are computed by
    :func:`~starc.preferences.inference_distance`.

    References
    ----------
    .. [1] Qiu et al., arXiv 2402.10184, Sec. 4 (induced Bayesian network; HP and IB
       edges).

    Examples
    --------
    >>> from starc.preferences import preference_graph
    >>> G = preference_graph([("a", "b"), ("b", "c")], ib_edges=[("a", "c", 0.5)])
    >>> sorted(G.nodes())
    ['a', 'b', 'c']
    >>> [(u, v, d["kind"], round(d["variance"], 3)) for u, v, d in G.edges(data=True)]
    [('a', 'b', 'hp', 3.29), ('a', 'c', 'ib', 0.5), ('b', 'c', 'hp', 3.29)]
    """
    import networkx as nx

    pairs = _as_pair_list(comparisons, "comparisons")
    ib = _as_pair_list(ib_edges, "ib_edges", allow_triples=True)
    n = len(pairs)
    for k, (u, v) in enumerate(pairs):
        if u == v:
            raise ValidationError(f"comparisons[{k}] compares node {u!r} with itself; a "
                                  "comparison needs two different responses")
    if hp_variances is not None:
        hp = check_variances(hp_variances, "hp_variances", size=n)
    else:
        check_choice(hp_model, "hp_model", HP_MODELS)
        if margins is None:
            hp = np.full(n, hp_edge_variance(beta, model=hp_model))
        else:
            m = as_float_array(margins, "margins", ndim=1)
            if m.shape[0] != n:
                raise ValidationError(f"margins must have one entry per comparison ({n}), "
                                      f"got {m.shape[0]}")
            hp = np.asarray(hp_edge_variance(beta, model=hp_model, margin=m), dtype=float)
            hp = np.broadcast_to(hp, (n,))
    n_pairs_ib = sum(1 for e in ib if len(e) == 2)
    if np.ndim(ib_variance) == 0:
        ibv_default = np.full(n_pairs_ib, check_variance_value(ib_variance, "ib_variance"))
    else:
        ibv_default = check_variances(ib_variance, "ib_variance", size=n_pairs_ib)
    G = nx.MultiGraph(beta=float(beta) if hp_variances is None else None)
    if nodes is not None:
        if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Iterable):
            raise ValidationError(f"nodes must be an iterable of node labels, got {nodes!r}")
        G.add_nodes_from(nodes)
    for (u, v), w in zip(pairs, hp):
        G.add_edge(u, v, variance=float(w), kind="hp")
    j = 0
    for k, e in enumerate(ib):
        if e[0] == e[1]:
            raise ValidationError(f"ib_edges[{k}] joins node {e[0]!r} to itself")
        if len(e) == 3:
            w = check_variance_value(e[2], f"ib_edges[{k}] variance")
        else:
            w = float(ibv_default[j])
            j += 1
        G.add_edge(e[0], e[1], variance=w, kind="ib")
    return G


def merge_parallel_edges(G, *, method="resistance", weight=DEFAULT_WEIGHT):
    r"""Collapse parallel edges (and drop self-loops) into a simple undirected graph.

    Parameters
    ----------
    G : networkx.Graph or MultiGraph (directed graphs are read as undirected)
        Edges carry variances in the attribute ``weight`` (missing means 1).
    method : {"resistance", "path"}
        ``"resistance"``: parallel edges are independent observations and combine as
        parallel conductances; ``"path"``: keep the smallest variance (the best single
        edge), which is what a shortest path uses.
    weight : str
        Edge attribute holding the variance.

    Returns
    -------
    networkx.Graph
        Same nodes; one edge per adjacent pair with attributes ``weight`` (the merged
        variance) and ``multiplicity`` (how many edges were merged).

    Raises
    ------
    ValidationError
        ``G`` is not a networkx graph, ``method`` is unknown, or an edge variance is
        not finite and > 0.

    Notes
    -----
    For edges :math:`e_1, \dots, e_k` between the same two nodes,

    .. math::

        w_{\text{resistance}} = \Big(\sum_{i=1}^k w_{e_i}^{-1}\Big)^{-1}, \qquad
        w_{\text{path}} = \min_i w_{e_i}.

    The first is the posterior variance of the reward difference after :math:`k`
    independent Gaussian observations, the rule for resistors in parallel [1]_.

    References
    ----------
    .. [1] Doyle, Snell. *Random Walks and Electric Networks*. MAA, 1984, Sec. 1.3.

    Examples
    --------
    >>> import networkx as nx
    >>> from starc.preferences import merge_parallel_edges
    >>> G = nx.MultiGraph()
    >>> G.add_edge(0, 1, variance=2.0); G.add_edge(0, 1, variance=2.0)
    0
    1
    >>> H = merge_parallel_edges(G)
    >>> H[0][1]["variance"], H[0][1]["multiplicity"]
    (1.0, 2)
    >>> merge_parallel_edges(G, method="path")[0][1]["variance"]
    2.0
    """
    import networkx as nx

    check_graph(G)
    weight = check_weight_name(weight)
    check_choice(method, "method", MERGE_METHODS)
    nodes, _, us, vs, ws = edge_arrays(G, weight)
    # conductances 1 / w of variances / 2^k: no 1 / w overflows (k = 0 near 1)
    k = far_exponent(ws.max()) if method == "resistance" and ws.size else 0
    ws = np.ldexp(ws, -k)
    H = nx.Graph()
    H.add_nodes_from(G.nodes(data=True))
    acc: dict[tuple[int, int], list[float]] = {}
    for a, b, w in zip(us.tolist(), vs.tolist(), ws.tolist()):
        key = (a, b) if a < b else (b, a)
        slot = acc.get(key)
        if slot is None:
            acc[key] = [1.0 / w if method == "resistance" else w, 1]
        else:
            slot[0] = slot[0] + 1.0 / w if method == "resistance" else min(slot[0], w)
            slot[1] += 1
    for (a, b), (val, mult) in acc.items():
        var = float(np.ldexp(1.0 / val, k)) if method == "resistance" else val
        if var == 0.0:
            raise ValidationError(
                f"G: the parallel edges between {nodes[a]!r} and {nodes[b]!r} merge to a "
                "variance below the float64 range (it underflows to 0); multiply the "
                "variances by a constant first")
        H.add_edge(nodes[a], nodes[b], **{weight: var, "multiplicity": mult})
    return H


def graph_laplacian(G, *, nodelist=None, weight=DEFAULT_WEIGHT):
    r"""Weighted Laplacian of a preference graph, with conductances ``1 / variance``.

    Parameters
    ----------
    G : networkx graph
        Edges carry variances in the attribute ``weight`` (missing means 1); direction is
        ignored, parallel edges add their conductances, self-loops are dropped.
    nodelist : sequence, optional
        Row/column order; all nodes of ``G`` in iteration order by default.
    weight : str
        Edge attribute holding the variance.

    Returns
    -------
    scipy.sparse.csr_array of shape (N, N)
        :math:`L = D - A` with :math:`A_{uv} = \sum_{e: u \sim v} 1/w_e` and
        :math:`D = \operatorname{diag}(A \mathbf 1)`. Symmetric, positive semidefinite,
        rows sum to 0.

    Raises
    ------
    ValidationError
        ``G`` is not a networkx graph, ``nodelist`` is not a permutation of its nodes,
        or an edge variance is not finite and > 0.

    Notes
    -----
    .. math::

        x^\top L x = \sum_{e = \{u, v\}} \frac{(x_u - x_v)^2}{w_e}

    is the negative log-density (up to constants and a factor 2) of the Gaussian
    reward model whose edges are independent observations of reward differences; its
    pseudo-inverse gives the effective resistance [1]_.

    References
    ----------
    .. [1] Klein, Randić. "Resistance distance". J. Math. Chem. 12, 1993.

    Examples
    --------
    >>> from starc.preferences import graph_laplacian, preference_graph
    >>> G = preference_graph([(0, 1), (1, 2)], hp_variances=[1.0, 0.5])
    >>> graph_laplacian(G).toarray()
    array([[ 1., -1.,  0.],
           [-1.,  3., -2.],
           [ 0., -2.,  2.]])
    """
    check_graph(G)
    weight = check_weight_name(weight)
    nodes, index, us, vs, ws = edge_arrays(G, weight)
    n = len(nodes)
    if nodelist is not None:
        order = list(nodelist)
        if len(order) != n or len(set(order)) != n:
            raise ValidationError(f"nodelist must list each of the {n} nodes of G exactly "
                                  f"once, got {len(order)} entries")
        try:
            perm = np.array([index[v] for v in order], dtype=np.int64)
        except (KeyError, TypeError) as err:
            raise ValidationError(f"nodelist contains {err.args[0]!r}, which is not a node "
                                  "of G") from None
        inv = np.empty(n, np.int64)
        inv[perm] = np.arange(n)
        us, vs = inv[us], inv[vs]
    with np.errstate(over="ignore", divide="ignore"):
        conductance = 1.0 / ws
    if not np.all(np.isfinite(conductance)):
        i = int(np.flatnonzero(~np.isfinite(conductance))[0])
        raise ValidationError(
            f"G: an edge variance of {float(ws[i])!r} has a conductance 1 / variance beyond "
            "the float64 range, so the Laplacian is not representable; multiply the "
            "variances by a constant first (inference distances scale with them)")
    return laplacian_from_edges(n, us, vs, conductance)


def laplacian_from_edges(n: int, us: np.ndarray, vs: np.ndarray, conductance: np.ndarray):
    """Sparse Laplacian from integer edge arrays (duplicates add up). Private helper."""
    import scipy.sparse as sp

    A = sp.coo_array((np.concatenate([conductance, conductance]),
                      (np.concatenate([us, vs]), np.concatenate([vs, us]))),
                     shape=(n, n)).tocsr()
    A.sum_duplicates()
    deg = np.asarray(A.sum(axis=1)).ravel()
    L = sp.diags_array(deg, format="csr") - A
    L.sort_indices()
    return L.tocsr()
