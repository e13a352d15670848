r"""``starc bandit compare``: compare two reward models' scores stored in a long table.

::

    starc bandit compare FILE --true COL --proxy COL [--prompt COL] [--response COL]
                         [--n-boot N] [--seed S] [--confidence C] [--plot PATH] [--json]

``FILE`` is a long table -- one row per (prompt, response) with one column per reward
model -- in CSV/TSV (optionally compressed), Parquet or JSON Lines, read with pandas
(Parquet with pyarrow: ``pip install 'starc[bandit]'``) and turned into padded
``(n_prompts, n_responses)`` arrays by :func:`starc.bandit.from_frame`. The command prints,
for the reward in ``--true`` against the proxy in ``--proxy``:

* the STARC distances of the three matching :math:`L_p` variants (mean/L2, median/L1,
  midrange/L\ :sub:`inf`), each with its certified bound on the worst-case regret
  (:func:`starc.bandit.regret_bound`);
* the Pearson distance and the per-prompt Spearman and Kendall rank correlations;
* the pairwise accuracy of the proxy on every within-prompt pair the true reward orders;
* the regret of the proxy's argmax and the exact worst-case regret;

each with a percentile bootstrap interval over prompts (:func:`starc.bandit.bootstrap`;
``--n-boot 0`` skips them), and with ``--plot PATH`` writes the over-optimisation curves of
:func:`starc.bandit.plot_overoptimization`. Prompts and responses get uniform weights.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from .._io import check_writable, figure_path, save_figure
from ..exceptions import MissingDependencyError, ValidationError

__all__ = ["add_compare_parser", "run_compare", "read_long_table"]

#: The STARC variants printed (canonicalization, normalization = metric).
VARIANTS = (("mean", "l2"), ("median", "l1"), ("midrange", "linf"))

_COMPRESSION = (".gz", ".bz2", ".xz", ".zst", ".zip")
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet",
            ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


def read_long_table(path: str):
    """Read a long table from CSV/TSV (optionally compressed), Parquet or JSON Lines."""
    name = os.path.basename(path).lower()
    stem, ext = os.path.splitext(name)
    if ext in _COMPRESSION:
        ext = os.path.splitext(stem)[1]
    kind = _FORMATS.get(ext)
    if kind is None:
        raise ValidationError(f"cannot tell the format of {path!r} from its suffix; use one of "
                              f"{sorted(_FORMATS)} (optionally + {', '.join(_COMPRESSION)})")
    if not os.path.isfile(path):
        raise ValidationError(f"file {path!r} does not exist")
    try:
        import pandas as pd
    except ImportError as err:
        raise MissingDependencyError("starc bandit compare reads tables with pandas: pip "
                                     "install 'starc[bandit]'") from err
    try:
        if kind in ("csv", "tsv"):
            return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
        # precise_float: every float parsed exactly as written (not the fast approximation)
        if kind == "jsonl":
            return pd.read_json(path, lines=True, precise_float=True)
        if kind == "json":
            return pd.read_json(path, precise_float=True)
        return pd.read_parquet(path)
    except ImportError as err:
        raise MissingDependencyError(f"reading {kind} needs an engine pandas lacks ({err}); "
                                     "pip install 'starc[bandit]'") from err
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValidationError(f"could not read {path!r} as {kind}: {reason}") from None
    except Exception as err:  # noqa: BLE001 - e.g. pyarrow.ArrowInvalid: report, no traceback
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValidationError(f"could not read {path!r} as {kind}: {reason}") from None


def add_compare_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``compare`` to the ``starc bandit`` subcommands; return its parser."""
    p = subparsers.add_parser(
        "compare", help="distances, correlations and regret between two reward models' scores",
        description="Compare a proxy reward model with a true one from a long table of "
                    "scores (one row per prompt and response).")
    p.add_argument("file", help="CSV/TSV, Parquet or JSON Lines table")
    p.add_argument("--true", required=True, metavar="COL", dest="true_col",
                   help="column of the true (reference) reward")
    p.add_argument("--proxy", required=True, metavar="COL", dest="proxy_col",
                   help="column of the proxy reward model")
    p.add_argument("--prompt", default="prompt", metavar="COL",
                   help="prompt identifier column (default: prompt)")
    p.add_argument("--response", default="response", metavar="COL",
                   help="response identifier column (default: response)")
    p.add_argument("--n-boot", type=int, default=200, metavar="N",
                   help="bootstrap replicates over prompts for the intervals; 0 skips them "
                        "(default: 200). Each replicate recomputes every statistic; the "
                        "worst-case regret dominates (about 1 s per replicate at 100,000 "
                        "prompts x 16 responses)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="confidence level of the intervals (default: 0.95)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument("--plot", metavar="PATH",
                   help="write the over-optimisation curves (best-of-n and KL-regularised) "
                        "to PATH (.png, .pdf, .svg, ...)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_compare)
    return p


def _pairwise_accuracy(r_true, r_proxy, *, prompt_weights=None, mask=None, **_):
    """Accuracy of the proxy on every within-prompt pair that the true reward orders."""
    from ..bandit.accuracy import preference_accuracy

    m = r_true.shape[-1]
    i, j = np.triu_indices(m, k=1)
    valid = np.ones(r_true.shape, bool) if mask is None else np.asarray(mask, bool)
    both = valid[:, i] & valid[:, j]
    diff = r_true[:, i] - r_true[:, j]
    scale = np.maximum(np.abs(r_true[:, i]), np.abs(r_true[:, j]))
    ordered = both & (np.abs(diff) > 1e-12 * scale)
    x, k = np.nonzero(ordered)
    if x.size == 0:
        raise ValidationError("the true reward orders no pair of responses (it is constant "
                              "on every prompt): pairwise accuracy is undefined")
    first_wins = diff[x, k] > 0
    chosen = np.where(first_wins, i[k], j[k])
    rejected = np.where(first_wins, j[k], i[k])
    pairs = np.stack([x, chosen, rejected], axis=1)
    return float(preference_accuracy(r_proxy, pairs, mask=mask))


def _rows(r1, r2, mask, args) -> list[dict]:
    from ..bandit import (bootstrap, distance, pearson_distance, rank_correlation, regret,
                   regret_bound, worst_case_regret)

    kw = {"mask": mask}
    rows: list[dict] = []

    def add(name, fn, stat, bound=None, fn_opts=None, **opts):
        row = {"metric": name}
        try:
            row["value"] = float(fn(r1, r2, **kw, **opts, **(fn_opts or {})))
        except ValidationError as err:  # e.g. no prompt with two distinct scores
            row.update(value=None, note=str(err))
            rows.append(row)
            return row
        if args.n_boot > 0:
            res = bootstrap(stat, r1, r2, n_boot=args.n_boot, seed=args.seed,
                            confidence=args.confidence, **kw, **opts)
            row.update(low=float(res.low), high=float(res.high))
        if bound is not None:
            row["regret_bound"] = float(bound(row["value"]))
        rows.append(row)
        return row

    for canon, p in VARIANTS:
        opts = {"canonicalization": canon, "normalization": p, "metric": p}
        add(f"STARC distance {canon}-{p}-{p}", distance, "distance",
            bound=lambda d, o=opts: regret_bound(r1, d, **kw, **o), **opts)
    add("Pearson distance", pearson_distance, "pearson_distance")
    add("Spearman correlation", rank_correlation, "spearman", fn_opts={"method": "spearman"})
    add("Kendall correlation", rank_correlation, "kendall", fn_opts={"method": "kendall"})
    add("pairwise accuracy", _pairwise_accuracy, _pairwise_accuracy)
    add("regret (proxy argmax)", regret, "regret")
    add("worst-case regret", worst_case_regret, "worst_case_regret")
    return rows


def run_compare(args: argparse.Namespace) -> int:
    """Run ``starc bandit compare``; print the table (or JSON); return the exit status."""
    import json

    from ..bandit.frames import from_frame

    if args.n_boot < 0:
        raise ValidationError(f"--n-boot must be >= 0, got {args.n_boot}")
    if not 0.0 < args.confidence < 1.0:
        raise ValidationError(f"--confidence must be in (0, 1), got {args.confidence}")
    if args.plot is not None:
        figure_path(args.plot, "--plot")  # a known format, and writable: before the work
        check_writable(args.plot, "--plot")
    frame = read_long_table(args.file)
    columns = list(dict.fromkeys([args.true_col, args.proxy_col]))
    table = from_frame(frame, prompt=args.prompt, response=args.response, rewards=columns)
    r1, r2 = table.rewards[args.true_col], table.rewards[args.proxy_col]
    mask = None if table.mask.all() else table.mask
    rows = _rows(r1, r2, mask, args)
    counts = table.mask.sum(axis=1)
    info = {"file": args.file, "true": args.true_col, "proxy": args.proxy_col,
            "prompts": int(r1.shape[0]), "responses": int(counts.sum()),
            "responses_per_prompt": [int(counts.min()), int(counts.max())],
            "n_boot": args.n_boot, "confidence": args.confidence, "seed": args.seed}
    if args.plot is not None:
        import matplotlib.pyplot as plt

        from ..bandit.overoptimization import overoptimization, plot_overoptimization

        curves = overoptimization(r1, r2, mask=mask)
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        plot_overoptimization(curves, ax=ax)
        ax.set_title(f"optimising {args.proxy_col!r}, scored by {args.true_col!r}",
                     fontsize="medium")
        fig.tight_layout()
        try:
            save_figure(fig, args.plot, dpi=120)
        finally:
            plt.close(fig)
        info["plot"] = args.plot
    if args.json:
        print(json.dumps({**info, "metrics": rows}, indent=2))
        return 0
    lo, hi = info["responses_per_prompt"]
    print(f"{args.file}: {info['prompts']} prompts, {info['responses']} responses "
          f"({lo}-{hi} per prompt); true {args.true_col!r}, proxy {args.proxy_col!r}")
    ci = f"{round(100 * args.confidence)}% CI" if args.n_boot > 0 else ""
    print(f"{'metric':<36}{'value':>10}  {ci:<20}{'regret bound':>12}")
    for row in rows:
        if row["value"] is None:
            print(f"{row['metric']:<36}{'undefined':>10}  ({row['note']})")
            continue
        interval = f"[{row['low']:.4f}, {row['high']:.4f}]" if "low" in row else ""
        bound = f"{row['regret_bound']:>12.4f}" if "regret_bound" in row else ""
        print(f"{row['metric']:<36}{row['value']:>10.4f}  {interval:<20}{bound}".rstrip())
    if args.n_boot > 0:
        print(f"intervals: percentile bootstrap over prompts, {args.n_boot} replicates, "
              f"seed {args.seed}")
    if args.plot is not None:
        print(f"wrote {args.plot}")
    return 0
