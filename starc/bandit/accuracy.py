r"""Preference accuracy: how often a reward model agrees with labelled comparisons.

Pairwise accuracy (RewardBench style [1]_)
    Each labelled pair names a prompt :math:`x`, a chosen response :math:`y_c` and a
    rejected one :math:`y_r`; the model is right when :math:`R(x, y_c) > R(x, y_r)`.
    A tie counts 1/2 (the expected accuracy of breaking it by a coin flip):

    .. math::

        \operatorname{acc} = \frac1k \sum_{i=1}^k \Big(\mathbb 1[R(x_i, y_{c,i}) >
        R(x_i, y_{r,i})] + \tfrac12\,\mathbb 1[R(x_i, y_{c,i}) = R(x_i, y_{r,i})]\Big).

    With ``groups`` (e.g. RewardBench's subsets) the accuracy is reported per group and
    over all pairs.

One-to-many accuracy (RewardMATH style [2]_)
    Each prompt has one correct response among several; the prompt counts as right when
    the correct response scores strictly above *every* other valid response. A tie with
    the best wrong response counts as wrong: a model that cannot separate the correct
    answer from a wrong one has not identified it.

Two scores are tied when they differ by at most :data:`starc.regret.TIE_RTOL` times the
larger magnitude (round-off), the rule :func:`starc.bandit.regret` uses for the proxy's
ties.

References
----------
.. [1] Lambert et al. "RewardBench: Evaluating Reward Models for Language Modeling".
   2024 (pairwise accuracy over chosen/rejected pairs, per subset).
.. [2] Kim et al. "Evaluating Robustness of Reward Models for Mathematical Reasoning"
   (RewardMATH). 2024 (one correct solution against many rejected ones).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ValidationError
from ..regret import TIE_RTOL
from ._checks import as_bandit_reward, check_mask, reward_shape

__all__ = ["preference_accuracy", "one_to_many_accuracy"]


def _reward(reward, mask):
    shape = reward_shape(reward, "reward")
    mk = check_mask(mask, tuple(shape[-2:]))
    return as_bandit_reward(reward, mk, "reward"), mk, shape[-2], shape[-1]


def _index_array(x, name: str, shape: tuple, n_cols: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise ValidationError(f"{name} must be an integer array of shape {shape}: "
                              f"{err}") from None
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        elif arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)
        else:
            raise ValidationError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValidationError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr.astype(np.int64)


def _tied(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Equal up to round-off relative to the larger magnitude. A difference beyond float64
    (``1.7e308 - -1.7e308``) is ``inf``: not a tie, as it should be."""
    with np.errstate(over="ignore"):
        return np.abs(x - y) <= TIE_RTOL * np.maximum(np.abs(x), np.abs(y))


def preference_accuracy(reward, pairs, *, groups=None, mask=None):
    r"""Fraction of labelled (chosen, rejected) pairs the reward model orders correctly.

    .. math::

        \operatorname{acc} = \frac1k \sum_i \Big(\mathbb 1[R(x_i, c_i) > R(x_i, r_i)]
            + \tfrac12\, \mathbb 1[R(x_i, c_i) = R(x_i, r_i)]\Big),

    ties decided against round-off (see :mod:`starc.bandit.accuracy`).

    Parameters
    ----------
    reward : array_like of shape (..., n, m)
    pairs : array_like of int, shape (k, 3)
        Rows ``(prompt index, chosen response index, rejected response index)`` into
        ``reward``'s last two axes; both responses must be valid and different.
    groups : array_like of shape (k,), optional
        A label per pair (e.g. a benchmark subset); then per-group accuracies are returned.
        The label ``"all"`` is reserved.
    mask : array_like of bool, shape (n, m), optional
        True at real responses.

    Returns
    -------
    float or ndarray of shape (...), or dict
        In ``[0, 1]``. With ``groups``: a dict mapping each label (in order of first
        appearance) and ``"all"`` to its accuracy.

    References
    ----------
    .. [1] Lambert et al. 2024 ("RewardBench").

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import preference_accuracy
    >>> reward = np.array([[1.0, 0.0, 2.0], [3.0, 3.0, 0.0]])
    >>> pairs = [[0, 0, 1], [0, 0, 2], [1, 0, 1], [1, 0, 2]]
    >>> preference_accuracy(reward, pairs)                 # 1 + 0 + 1/2 + 1
    0.625
    >>> preference_accuracy(reward, pairs, groups=["chat", "chat", "code", "code"])
    {'chat': 0.5, 'code': 0.75, 'all': 0.625}
    """
    r, mk, n, m = _reward(reward, mask)
    try:
        arr = np.asarray(pairs)
    except (TypeError, ValueError) as err:  # ragged nested sequences
        raise ValidationError(f"pairs must be an integer array of shape (k, 3): {err}"
                              ) from None
    if arr.ndim != 2 or arr.shape[1:] != (3,) or arr.shape[0] < 1:
        raise ValidationError(f"pairs must have shape (k, 3) with k >= 1 (rows: prompt, "
                              f"chosen, rejected), got {arr.shape}")
    p = _index_array(arr, "pairs", arr.shape)
    x, c, j = p[:, 0], p[:, 1], p[:, 2]
    if np.any((x < 0) | (x >= n)):
        raise ValidationError(f"pairs has prompt indices outside [0, {n})")
    if np.any((c < 0) | (c >= m) | (j < 0) | (j >= m)):
        raise ValidationError(f"pairs has response indices outside [0, {m})")
    if np.any(c == j):
        raise ValidationError("pairs has rows whose chosen and rejected responses are the "
                              "same")
    if mk is not None and not np.all(mk[x, c] & mk[x, j]):
        i = int(np.flatnonzero(~(mk[x, c] & mk[x, j]))[0])
        raise ValidationError(f"pairs row {i} points at a response where mask is False")
    rc, rr = r[..., x, c], r[..., x, j]
    score = np.where(_tied(rc, rr), 0.5, (rc > rr).astype(np.float64))
    if groups is None:
        out = score.mean(axis=-1)
        return float(out) if out.ndim == 0 else out
    labels = np.asarray(groups, dtype=object)
    if labels.shape != (p.shape[0],):
        raise ValidationError(f"groups must have shape ({p.shape[0]},) (one label per pair), "
                              f"got {labels.shape}")
    try:
        seen = list(dict.fromkeys(labels.tolist()))
    except TypeError as err:  # unhashable labels (lists, arrays)
        raise ValidationError(f"groups must hold one hashable label (a str or number) per "
                              f"pair: {err}") from None
    if "all" in seen:
        raise ValidationError("groups may not use the label 'all' (it names the overall "
                              "accuracy)")
    result = {}
    for g in seen + ["all"]:
        sel = np.ones(labels.size, bool) if g == "all" else labels == g
        v = score[..., sel].mean(axis=-1)
        result[g] = float(v) if v.ndim == 0 else v
    return result


def one_to_many_accuracy(reward, correct, *, mask=None):
    r"""Fraction of prompts whose correct response beats every other valid response.

    .. math::

        \operatorname{acc} = \frac1n \sum_x \mathbb 1\big[R(x, y^*_x) >
            \max_{y \ne y^*_x} R(x, y)\big],

    a tie (decided against round-off) counting as wrong.

    Parameters
    ----------
    reward : array_like of shape (..., n, m)
    correct : array_like of int, shape (n,)
        Index of each prompt's correct response (a valid entry).
    mask : array_like of bool, shape (n, m), optional
        True at real responses; every prompt needs at least two.

    Returns
    -------
    float or ndarray of shape (...)
        In ``[0, 1]``.

    References
    ----------
    .. [1] Kim et al. 2024 ("RewardMATH").

    Examples
    --------
    >>> import numpy as np
    >>> from starc.bandit import one_to_many_accuracy
    >>> reward = np.array([[2.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 5.0, 1.0]])
    >>> one_to_many_accuracy(reward, [0, 0, 2])          # right, tie, wrong
    0.3333333333333333
    """
    r, mk, n, m = _reward(reward, mask)
    y = _index_array(correct, "correct", (n,))
    if np.any((y < 0) | (y >= m)):
        raise ValidationError(f"correct has response indices outside [0, {m})")
    valid = np.ones((n, m), bool) if mk is None else mk
    if np.any(valid.sum(axis=1) < 2):
        raise ValidationError("one_to_many_accuracy needs at least two valid responses per "
                              "prompt (mask)")
    rows = np.arange(n)
    if not np.all(valid[rows, y]):
        i = int(np.flatnonzero(~valid[rows, y])[0])
        raise ValidationError(f"correct[{i}] points at a response where mask is False")
    others = valid.copy()
    others[rows, y] = False
    best_other = np.where(others, r, -np.inf).max(axis=-1)
    good = r[..., rows, y]
    right = (good > best_other) & ~_tied(good, best_other)
    out = right.mean(axis=-1)
    return float(out) if out.ndim == 0 else out
