"""``starc bandit score``: score a dataset with a reward model (or a DPO policy) into a file.

::

    starc bandit score --model DIR --data FILE --output scores.parquet
    starc bandit score --model POLICY_DIR --dpo-reference REF_DIR --beta 0.1 \\
        --data FILE --output scores.parquet --append

``--data`` is a CSV, Parquet, JSON or JSON-lines file (by suffix) in one of the layouts of
:func:`starc.adapters.transformers.from_dataset`: a ``prompt`` column and either a
``response`` column or ``chosen`` and ``rejected`` columns (names set with ``--prompt``,
``--response``, ``--chosen``, ``--rejected``). The output (CSV or Parquet by suffix) is a
long table with one row per (prompt, response): ``prompt_id``, ``response_id`` (the row
and column of the ``(n, m)`` score array), ``prompt``, ``response`` and one float column
named by ``--name`` (default ``score``, or ``dpo_reward`` with ``--dpo-reference``).
``--append`` adds the column to an existing output of the same data, so that one file
holds several models' scores for ``starc bandit compare FILE --true COL --proxy COL
--prompt prompt_id --response response_id``. Files are written atomically. Nothing in
this module is public API beyond the command.
"""

from __future__ import annotations

import argparse
import os

from .._io import atomic_write, check_writable
from ..exceptions import MissingDependencyError, StarcError, ValidationError

__all__ = ["add_score_parser", "run_score"]

_READERS = (".csv", ".parquet", ".json", ".jsonl")
_WRITERS = (".csv", ".parquet")
_KEYS = ["prompt_id", "response_id", "prompt", "response"]


def add_score_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``score`` to the ``starc bandit`` subcommands; return its parser."""
    p = subparsers.add_parser(
        "score", help="score (prompt, response) pairs with a reward model or a DPO policy",
        description="Score every (prompt, response) pair of a data file with a local "
                    "transformers reward model (or the implicit reward of a DPO policy) "
                    "and write a long table for 'starc bandit compare'.")
    p.add_argument("--model", required=True, metavar="DIR",
                   help="reward model directory (AutoModelForSequenceClassification), or the "
                        "DPO policy with --dpo-reference (AutoModelForCausalLM); local only")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="prompts and responses: .csv, .parquet, .json or .jsonl")
    p.add_argument("--output", "-o", required=True, metavar="FILE",
                   help="where to write the scores (.csv or .parquet)")
    p.add_argument("--tokenizer", metavar="DIR", help="tokenizer directory (default: --model)")
    p.add_argument("--dpo-reference", metavar="DIR",
                   help="the DPO reference model: score the implicit reward of --model")
    p.add_argument("--beta", type=float, help="the DPO temperature (with --dpo-reference)")
    p.add_argument("--prompt", default="prompt", metavar="COL",
                   help="prompt column (default: prompt)")
    p.add_argument("--response", metavar="COL",
                   help="response column, one row per (prompt, response) (default: "
                        "'response', or chosen/rejected when those columns exist)")
    p.add_argument("--chosen", metavar="COL", help="chosen column of preference pairs")
    p.add_argument("--rejected", metavar="COL", help="rejected column of preference pairs")
    p.add_argument("--name", metavar="COL",
                   help="name of the score column (default: score, or dpo_reward)")
    p.add_argument("--append", action="store_true",
                   help="add the column to an existing --output of the same data")
    p.add_argument("--batch-size", type=int, default=16, metavar="N",
                   help="pairs per forward pass (default: 16)")
    p.add_argument("--max-length", type=int, metavar="N",
                   help="tokens kept per pair (default: the model's context)")
    p.add_argument("--no-truncate", action="store_true",
                   help="refuse pairs longer than --max-length instead of truncating them")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu), e.g. cuda")
    p.add_argument("--dtype", help="load the model(s) in this dtype, e.g. bfloat16")
    p.add_argument("--label", help="output index (or label name) of a multi-logit head")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.set_defaults(func=run_score)
    return p


def _pandas():
    try:
        import pandas
    except ImportError as err:
        raise MissingDependencyError(f"starc bandit score needs pandas ({err}); install it with "
                                     '`pip install "starc[llm]"`') from None
    return pandas


def _suffix(path: str, allowed, what: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in allowed:
        raise ValidationError(f"{what} {path!r} must end in one of {', '.join(allowed)}")
    return suffix


def _read_table(pd, path: str, text_columns=None):
    suffix = _suffix(path, _READERS, "the data file")
    if not os.path.exists(path):
        raise ValidationError(f"the data file {path!r} does not exist")
    try:
        if suffix == ".csv":  # keep "NA", "null" ... as text: they are valid responses
            return pd.read_csv(path, keep_default_na=False, dtype=text_columns)
        if suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=suffix == ".jsonl", dtype=False)
    except (StarcError, OSError):
        raise
    except Exception as err:  # noqa: BLE001 - parser errors of pandas / pyarrow
        msg = " ".join(str(err).split())[:300]
        raise ValidationError(f"could not read {path!r}: {type(err).__name__}: {msg}") from None


def _write_atomic(frame, path: str) -> None:
    """Write ``frame`` (CSV or Parquet by suffix) atomically (:func:`starc._io.atomic_write`)."""
    suffix = _suffix(path, _WRITERS, "--output")
    with atomic_write(path, "wb") as fh:
        if suffix == ".csv":
            frame.to_csv(fh, index=False)
        else:
            frame.to_parquet(fh, index=False)


def _label(value):
    if value is None:
        return None
    return int(value) if value.lstrip("-").isdigit() else value


def run_score(args: argparse.Namespace) -> int:
    """Run ``starc bandit score``; return the exit status (errors raise :class:`StarcError`)."""
    from ..adapters.transformers import dpo_implicit_reward, from_dataset, score_responses

    pd = _pandas()
    dpo = args.dpo_reference is not None
    if dpo and args.beta is None:
        raise ValidationError("--dpo-reference needs --beta (the DPO temperature)")
    if not dpo and args.beta is not None:
        raise ValidationError("--beta applies only with --dpo-reference")
    name = args.name or ("dpo_reward" if dpo else "score")
    if name in _KEYS:
        raise ValidationError(f"--name {name!r} clashes with the key columns {_KEYS}")
    _suffix(args.output, _WRITERS, "--output")
    check_writable(args.output, "--output")  # before scoring
    existing = None
    if args.append:
        if not os.path.exists(args.output):
            raise ValidationError(f"--append: {args.output!r} does not exist yet (run without "
                                  "--append first)")
        existing = _read_table(pd, args.output, {"prompt": str, "response": str})
        missing = [c for c in _KEYS if c not in existing.columns]
        if missing:
            raise ValidationError(f"--append: {args.output!r} lacks the columns {missing}")
        if name in existing.columns:
            raise ValidationError(f"--append: {args.output!r} already has a column {name!r}; "
                                  "pick another --name")
    elif os.path.exists(args.output):
        raise ValidationError(f"{args.output!r} exists; pass --append to add a column to it, "
                              "or remove it")

    table = _read_table(pd, args.data, str)   # a CSV answer "4" stays the text "4"
    data = from_dataset(table, prompt=args.prompt, responses=args.response,
                        chosen=args.chosen, rejected=args.rejected)
    common = dict(batch_size=args.batch_size, max_length=args.max_length, device=args.device,
                  progress=args.progress, truncate=not args.no_truncate, dtype=args.dtype)
    tokenizer = args.tokenizer if args.tokenizer is not None else args.model
    try:
        if dpo:
            scores, mask = dpo_implicit_reward(args.model, args.dpo_reference, tokenizer,
                                               data.prompts, data.responses, beta=args.beta,
                                               **common)
        else:
            scores, mask = score_responses(args.model, tokenizer, data.prompts,
                                           data.responses, label=_label(args.label), **common)
    except (StarcError, OSError):
        raise
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        msg = " ".join(str(err).split())[:300]
        raise StarcError(f"scoring failed: {type(err).__name__}: {msg}") from None

    rows = [(i, j, p, r, float(scores[i, j]))
            for i, (p, group) in enumerate(zip(data.prompts, data.responses))
            for j, r in enumerate(group)]
    frame = pd.DataFrame(rows, columns=_KEYS + [name])
    if existing is not None:
        keys = existing[_KEYS].reset_index(drop=True)
        same = (len(keys) == len(frame)
                and (keys["prompt_id"].astype("int64").to_numpy()
                     == frame["prompt_id"].to_numpy()).all()
                and (keys["response_id"].astype("int64").to_numpy()
                     == frame["response_id"].to_numpy()).all()
                and (keys["prompt"].astype(str).to_numpy() == frame["prompt"].to_numpy()).all()
                and (keys["response"].astype(str).to_numpy()
                     == frame["response"].to_numpy()).all())
        if not same:
            raise ValidationError(f"--append: {args.output!r} holds other (prompt, response) "
                                  f"rows than {args.data!r}; score the same data")
        frame = existing.reset_index(drop=True).assign(**{name: frame[name].to_numpy()})
    _write_atomic(frame, args.output)
    print(f"wrote {len(frame)} scores ({name}) for {len(data.prompts)} prompts to "
          f"{args.output}")
    return 0
