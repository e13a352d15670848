r"""The result of a sweep: columns, correlations with regret, and files.

A :class:`SweepResult` holds one row per compared pair: the distances of every variant
(an ``(n_rows, V)`` array) and named columns of the same length (ids, regrets, flags;
see :mod:`starc.sweep.execution`). Its statistics are the paper's [1]_: the correlation
of each variant's distance :math:`d` with a regret column :math:`g`, pooled over all
rows,

.. math::

    \rho = \frac{\sum (d - \bar d)(g - \bar g)}
                {\sqrt{\sum (d - \bar d)^2 \sum (g - \bar g)^2}},

on the values (Pearson, as the paper) or their ranks (Spearman), and its mean over the
normalised variants of each canonicalization family (:data:`FAMILIES`, the bars of the
paper's Figure 1), which :func:`summary_table` prints beside the published values.

Files: :meth:`SweepResult.to_csv` (every column, one row per pair) and
:meth:`SweepResult.save` / :meth:`SweepResult.load` (``.npz`` of plain arrays, never
unpickled), all written atomically (:mod:`starc._io`); :meth:`SweepResult.to_pandas` for
a data frame.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Sec. 4.1 and Fig. 1.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from .._io import atomic_write, load_npz, save_npz
from .._validation import as_float_array, check_choice
from ..exceptions import MissingDependencyError, ValidationError

__all__ = ["SweepResult", "summary_table", "FAMILIES"]

#: Canonicalization families in the paper's order (Figure 1), plus the minimal L2 one.
FAMILIES = ("None", "EPIC", "DARD", "MinimalPotential", "VALPotential", "VAL", "MinimalL2")


def _family(variant: str) -> str:
    return variant.split("-", 1)[0]


def _normalization(variant: str) -> str:
    # names are "{family}-{normalization}-{metric}"; normalizations may contain "_"
    return variant.split("-")[1]


def _rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank)."""
    from scipy.stats import rankdata

    return rankdata(x, method="average")


def _nanmean(values) -> float:
    """Mean of the finite values; nan (without a warning) when there are none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    yc = y - y.mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    if den == 0.0 or not math.isfinite(den):
        return float("nan")
    return float(np.clip(float(xc @ yc) / den, -1.0, 1.0))


class SweepResult:
    r"""Columnar results of a sweep: one row per compared pair.

    Parameters
    ----------
    variants : sequence of str
        Names of the distance columns.
    distances : ndarray of shape (n_rows, V)
    columns : dict of str to ndarray of shape (n_rows,)
        ``mdp``, ``pair``, ``step``; the exact regrets ``regret1``
        (:math:`\mathrm{Reg}(R_1, R_i)`, true :math:`R_1`), ``regret2``
        (:math:`\mathrm{Reg}(R_i, R_1)`) and their mean ``regret``; ``trivial1`` and
        ``trivial2``, whether the true reward of each direction is trivial (every policy
        has the same return, so the regret is 0 by convention); and for the Monte-Carlo
        estimate ``mc_regret_raw1``, ``mc_regret_raw2``, ``mc_regret_raw`` (the authors'
        ratio verbatim, heavy-tailed) and ``mc_regret1``, ``mc_regret2``, ``mc_regret``
        (the same clipped to ``[0, 1]``, the range of a normalised regret; starc's
        robustification, not in the authors' code).
    config : dict
        :meth:`Sweep.describe` of the sweep.
    elapsed : float
        Wall-clock seconds of the run.

    Examples
    --------
    >>> from starc.sweep import Sweep
    >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "None-0-2"]).run()
    >>> sorted(res.correlations())
    ['None-0-2', 'VAL-2-2']
    >>> res["regret"].shape
    (128,)
    """

    def __init__(self, variants, distances, columns, config, elapsed=float("nan")):
        if isinstance(variants, (str, bytes)) or not isinstance(variants, (Sequence, np.ndarray)):
            raise ValidationError(f"variants must be a sequence of variant names, "
                                  f"got {type(variants).__name__}")
        if not all(isinstance(v, (str, np.str_)) for v in variants):
            raise ValidationError(f"variants must be a sequence of str, got {list(variants)!r}")
        self.variants = tuple(str(v) for v in variants)
        # NaN marks a distance that was not computed; it is kept (correlations skip it)
        self.distances = as_float_array(distances, "distances", ndim=2, allow_nonfinite=True)
        if self.distances.shape[1] != len(self.variants):
            raise ValidationError(f"distances must have shape (n_rows, {len(self.variants)}), "
                                  f"got {self.distances.shape}")
        if not isinstance(columns, Mapping):
            raise ValidationError(f"columns must be a dict of str to arrays, "
                                  f"got {type(columns).__name__}")
        self.columns = {}
        for k, v in columns.items():
            try:
                arr = np.asarray(v)
            except (TypeError, ValueError) as err:
                raise ValidationError(f"column {k!r} must be a numeric array: {err}") from None
            if arr.dtype.kind not in "biuf":
                raise ValidationError(f"column {k!r} must be a numeric array, "
                                      f"got dtype {arr.dtype}")
            if arr.shape != (self.distances.shape[0],):
                raise ValidationError(f"column {k!r} must have shape "
                                      f"({self.distances.shape[0]},), got {arr.shape}")
            self.columns[str(k)] = arr
        if not isinstance(config, Mapping):
            raise ValidationError(f"config must be a dict (Sweep.describe()), "
                                  f"got {type(config).__name__}")
        self.config = dict(config)
        if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float, np.integer,
                                                                  np.floating)):
            raise ValidationError(f"elapsed must be a number of seconds, got {elapsed!r}")
        self.elapsed = float(elapsed)  # nan: unknown

    def __len__(self) -> int:
        return self.distances.shape[0]

    def __repr__(self) -> str:
        regrets = [c for c in self.columns if "regret" in c]
        return (f"SweepResult(n_rows={len(self)}, n_variants={len(self.variants)}, "
                f"regrets={regrets})")

    def __getitem__(self, name: str) -> np.ndarray:
        """A column by name: a variant's distances, a regret, ``mdp``, ``pair`` or ``step``."""
        if name in self.columns:
            return self.columns[name]
        if name in self.variants:
            return self.distances[:, self.variants.index(name)]
        raise KeyError(f"no column {name!r}; columns are {list(self.columns)} and the "
                       f"variants {list(self.variants[:3])}...")

    @property
    def regret_columns(self) -> list[str]:
        """Names of the regret columns present."""
        return [c for c in self.columns if "regret" in c]

    def correlations(self, method: str = "pearson", regret: str = "regret") -> dict[str, float]:
        r"""Correlation of every variant's distance with a regret column, pooled over rows.

        .. math::

            \rho = \frac{\sum (d - \bar d)(g - \bar g)}
                        {\sqrt{\sum (d - \bar d)^2 \sum (g - \bar g)^2}},

        on the values (Pearson, as the paper) or on their ranks (Spearman).

        Parameters
        ----------
        method : {"pearson", "spearman"}
        regret : str, default "regret"
            A regret column (``"mc_regret"`` for the Monte-Carlo estimate).

        Returns
        -------
        dict of str to float
            In the order of :attr:`variants`; ``nan`` for a constant column.

        References
        ----------
        .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 and Fig. 1.

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2"]).run()
        >>> 0.0 < res.correlations("spearman")["VAL-2-2"] <= 1.0
        True
        """
        check_choice(method, "method", ("pearson", "spearman"))
        if regret not in self.columns or "regret" not in regret:
            raise ValidationError(f"unknown regret column {regret!r}; this result has "
                                  f"{self.regret_columns}")
        y = np.asarray(self.columns[regret], dtype=np.float64)
        if method == "spearman":
            y = _rankdata(y)
        out = {}
        for j, name in enumerate(self.variants):
            x = self.distances[:, j]
            if method == "spearman":
                x = _rankdata(x)
            out[name] = _pearson(x, y)
        return out

    def family_summary(self, method: str = "pearson", regret: str = "regret") -> dict:
        r"""Per canonicalization family: mean correlation over normalised and unnormalised
        variants, and the best variant.

        Parameters
        ----------
        method : {"pearson", "spearman"}
        regret : str, default "regret"

        Returns
        -------
        dict of str to dict
            ``{family: {"normalised": mean, "unnormalised": mean, "best": name,
            "best_value": value, "n": count}}`` for the families present.

        References
        ----------
        .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1: the mean over normalised variants
           (VAL 0.797, EPIC 0.615, DARD 0.612, None 0.346 with Monte-Carlo regret).

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "VAL-0-2"]).run()
        >>> sorted(res.family_summary()["VAL"])
        ['best', 'best_value', 'n', 'normalised', 'unnormalised']
        """
        corr = self.correlations(method, regret)
        out = {}
        for fam in FAMILIES:
            names = [v for v in self.variants if _family(v) == fam]
            if not names:
                continue
            norm_vals = [corr[v] for v in names if _normalization(v) != "0"]
            raw_vals = [corr[v] for v in names if _normalization(v) == "0"]
            best = max(names, key=lambda v: -np.inf if np.isnan(corr[v]) else corr[v])
            out[fam] = {"normalised": _nanmean(norm_vals), "unnormalised": _nanmean(raw_vals),
                        "best": best, "best_value": corr[best], "n": len(names)}
        return out

    def to_csv(self, path) -> None:
        """Write every column (ids, regrets, then one column per variant) as CSV.

        The file is written atomically (a temporary file in the same folder, renamed
        over ``path``): an interrupted write leaves the previous file whole, never a
        shorter table that still parses.

        Parameters
        ----------
        path : str or os.PathLike

        Raises
        ------
        ValidationError
            When ``path``'s folder does not exist or cannot be written, or ``path`` is a
            folder.

        Examples
        --------
        >>> import os, tempfile
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=1, variants=["VAL-2-2"]).run()
        >>> path = os.path.join(tempfile.mkdtemp(), "sweep.csv")
        >>> res.to_csv(path)
        >>> open(path).readline().strip()
        'mdp,pair,step,regret1,regret2,regret,trivial1,trivial2,VAL-2-2'
        """
        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(f"path must be a str or os.PathLike, got "
                                  f"{type(path).__name__}")
        names = list(self.columns) + list(self.variants)
        data = np.column_stack([self.columns[c].astype(np.float64) for c in self.columns]
                               + [self.distances])
        int_cols = [i for i, c in enumerate(self.columns)
                    if self.columns[c].dtype.kind in "biu"]
        with atomic_write(path, "w", encoding="utf-8") as fh:
            fh.write(",".join(names) + "\n")
            fmt = ["%d" if i in int_cols else "%.17g" for i in range(len(names))]
            np.savetxt(fh, data, delimiter=",", fmt=fmt)

    def save(self, path) -> None:
        """Save to ``.npz`` (plain arrays only; :meth:`load` never unpickles).

        The file is written atomically (a temporary file in the same folder, renamed
        over the destination): an interrupted save leaves the previous file whole.

        Parameters
        ----------
        path : str or os.PathLike
            ``.npz`` is appended when missing (as :func:`numpy.savez` does).

        Raises
        ------
        ValidationError
            When the folder does not exist or cannot be written, or the path is a folder.

        Examples
        --------
        >>> import os, tempfile
        >>> from starc.sweep import Sweep, SweepResult
        >>> res = Sweep.preset("quick", n_mdps=1, variants=["VAL-2-2"]).run()
        >>> path = os.path.join(tempfile.mkdtemp(), "sweep.npz")
        >>> res.save(path)
        >>> back = SweepResult.load(path)
        >>> bool((back.distances == res.distances).all()), back.variants
        (True, ('VAL-2-2',))
        """
        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(f"path must be a str or os.PathLike, got "
                                  f"{type(path).__name__}")
        arrays = {"distances": self.distances,
                  "variants": np.array(self.variants, dtype=str),
                  "column_names": np.array(list(self.columns), dtype=str),
                  "config_json": np.array(json.dumps(self.config)),
                  "elapsed": np.float64(self.elapsed)}
        for k, v in self.columns.items():
            arrays[f"col_{k}"] = v
        save_npz(path, arrays)

    @classmethod
    def load(cls, path) -> "SweepResult":
        """Load a result written by :meth:`save` (``allow_pickle=False``).

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        SweepResult

        Raises
        ------
        ValidationError
            When the file is missing, truncated, not an ``.npz``, lacks a key, or holds
            metadata that is not what :meth:`save` writes (``config_json`` not a JSON
            object, names that are not strings, a ``distances`` or column array of the
            wrong type or shape); the message names the file and the key.

        Examples
        --------
        See :meth:`save`.
        """
        data = load_npz(path, "path")
        label = f"path {os.fspath(path)!r}"
        missing = [k for k in ("distances", "variants", "column_names", "config_json")
                   if k not in data]
        if missing:
            raise ValidationError(f"{label} is not a saved SweepResult: it lacks {missing}")
        bad = f"{label} is not a valid saved SweepResult:"

        def names_of(key):
            arr = data[key]
            if arr.dtype.kind != "U" or arr.ndim != 1:
                raise ValidationError(f"{bad} {key!r} must be a 1-d array of strings, got "
                                      f"dtype {arr.dtype} and shape {arr.shape}")
            return [str(v) for v in arr]

        def numeric(key, ndim):
            arr = data[key]
            if arr.dtype.kind not in "biuf" or arr.ndim != ndim:
                raise ValidationError(f"{bad} {key!r} must be a {ndim}-d numeric array, got "
                                      f"dtype {arr.dtype} and shape {arr.shape}")
            return arr

        names = names_of("column_names")
        variants = names_of("variants")
        absent = [c for c in names if f"col_{c}" not in data]
        if absent:
            raise ValidationError(f"{label} lacks the columns {absent}")
        columns = {c: numeric(f"col_{c}", 1) for c in names}
        distances = numeric("distances", 2)
        raw = data["config_json"]
        if raw.dtype.kind != "U" or raw.ndim != 0:
            raise ValidationError(f"{bad} 'config_json' must be one string, got dtype "
                                  f"{raw.dtype} and shape {raw.shape}")
        try:
            config = json.loads(str(raw))
        except (ValueError, RecursionError) as err:  # json.JSONDecodeError is a ValueError
            raise ValidationError(f"{bad} 'config_json' is not valid JSON ({err})") from None
        if not isinstance(config, dict):
            raise ValidationError(f"{bad} 'config_json' must hold a JSON object, got a "
                                  f"{type(config).__name__}")
        elapsed = float(numeric("elapsed", 0)) if "elapsed" in data else float("nan")
        try:
            return cls(variants, distances, columns, config, elapsed)
        except ValidationError as err:
            raise ValidationError(f"{bad} {err}") from None

    def to_pandas(self):
        """A pandas DataFrame with every column (needs pandas).

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        MissingDependencyError
            When pandas is not installed (``pip install pandas``).

        Examples
        --------
        >>> from starc.sweep import Sweep
        >>> res = Sweep.preset("quick", n_mdps=1, variants=["VAL-2-2"]).run()
        >>> try:
        ...     df = res.to_pandas()
        ... except ImportError:
        ...     df = None
        >>> df is None or df.shape == (64, 9)
        True
        """
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependencyError("SweepResult.to_pandas() needs pandas: "
                                         "pip install pandas") from None
        data = {c: v for c, v in self.columns.items()}
        for j, name in enumerate(self.variants):
            data[name] = self.distances[:, j]
        return pd.DataFrame(data)


# the STARC paper's Figure 1 values (Monte-Carlo regret): headline variants, family means
_HEADLINE = ("VAL-2-2", "EPIC-2-2", "DARD-2-2", "VAL-1-1")
_PAPER_MC = {"VAL-2-2": 0.856, "EPIC-2-2": 0.778, "DARD-2-2": 0.782, "VAL-1-1": 0.873}
_PAPER_FAMILY = {"VAL": 0.797, "EPIC": 0.615, "DARD": 0.612, "None": 0.346}


def summary_table(result: SweepResult, method: str = "pearson") -> str:
    """A plain-text table: mean correlation per family and the headline variants.

    Parameters
    ----------
    result : SweepResult
    method : {"pearson", "spearman"}

    Returns
    -------
    str
        Families in the paper's order with the mean correlation over normalised and
        unnormalised variants per regret column, the paper's values, and the headline
        variants VAL-2-2, EPIC-2-2, DARD-2-2, VAL-1-1.

    Raises
    ------
    ValidationError
        When ``result`` has no regret column (a sweep run with ``regrets=()``) or
        ``method`` is unknown.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 4.1 and Fig. 1.

    Examples
    --------
    >>> from starc.sweep import Sweep, summary_table
    >>> res = Sweep.preset("quick", n_mdps=2, variants=["VAL-2-2", "EPIC-2-2"]).run()
    >>> print(summary_table(res).splitlines()[0])
    mean pearson correlation with regret over the variants of each family
    """
    if not isinstance(result, SweepResult):
        raise ValidationError(f"result must be a SweepResult, got {type(result).__name__}")
    labels = {"regret": "exact", "mc_regret": "MC", "mc_regret_raw": "MC raw"}
    regrets = [r for r in labels if r in result.columns]
    if not regrets:
        raise ValidationError(
            "result has no regret column to correlate with (it was run with regrets=(), "
            f"columns {sorted(result.columns)}); run the sweep with regrets=('exact',) or "
            "('exact', 'mc')")
    sums = {r: result.family_summary(method, r) for r in regrets}
    first = labels[regrets[0]]
    head = (f"{'family':<17}{'n':>4}" + "".join(f"{labels[r] + ' norm.':>14}" for r in regrets)
            + f"{first + ' unnorm.':>15}{'paper (MC)':>12}   best ({first})")
    lines = [f"mean {method} correlation with regret over the variants of each family", "",
             head, "-" * len(head)]
    for fam in FAMILIES:
        if fam not in sums[regrets[0]]:
            continue
        row = f"{fam:<17}{sums[regrets[0]][fam]['n']:>4}"
        row += "".join(f"{sums[r][fam]['normalised']:>14.3f}" for r in regrets)
        row += f"{sums[regrets[0]][fam]['unnormalised']:>15.3f}"
        paper = _PAPER_FAMILY.get(fam)
        row += f"{paper:>12.3f}" if paper is not None else f"{'':>12}"
        best = sums[regrets[0]][fam]
        row += f"   {best['best']} ({best['best_value']:.3f})"
        lines.append(row)
    corr = {r: result.correlations(method, r) for r in regrets}
    shown = [v for v in _HEADLINE if v in result.variants]
    if shown:
        lines += ["", f"{'variant':<17}{'':>4}" + "".join(f"{labels[r]:>14}" for r in regrets)
                  + f"{'':>15}{'paper (MC)':>12}"]
        for v in shown:
            lines.append(f"{v:<17}{'':>4}" + "".join(f"{corr[r][v]:>14.3f}" for r in regrets)
                         + f"{'':>15}{_PAPER_MC[v]:>12.3f}")
    return "\n".join(lines)
