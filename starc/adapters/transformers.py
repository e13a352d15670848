r"""LLM reward models and DPO implicit rewards as ``(n_prompts, n_responses)`` arrays.

An RLHF reward model scores a response :math:`y` to a prompt :math:`x`. Over ``n``
prompts with a (possibly ragged) set of responses each, the scores form the array
:math:`R[x, y]` of shape ``(n, m)`` (``m`` the largest number of responses of a prompt)
with a boolean mask of the real entries: exactly the input of :mod:`starc.bandit`,
where STARC distances, regret and certified bounds are computed [3]_ (THEORY.md §10).
This module turns Hugging Face ``transformers`` models [5]_ into such arrays with no
glue code.

Reward models
-------------
A reward model is a sequence classifier with one output (the InstructGPT recipe [2]_):
a transformer reads the formatted conversation and a linear head maps one hidden state
to a score,

.. math::

    R(x, y) = w^\top h_{T}\big(\mathrm{format}(x, y)\big) \;[+\, b],

where :math:`h_T` is the hidden state of the last token for decoder models (GPT-2,
Llama, Mistral, Qwen, ... — the ``score`` head of ``*ForSequenceClassification``) or
the model's own pooled state for encoder classifiers (BERT, DeBERTa). A head with
several outputs (``num_labels > 1``) is read at one index, ``label=``.

:func:`score_responses` reproduces, for every pair, the output of the model on that
pair's text alone — the same number ``model(**tokenizer(text)).logits[0, label]`` gives
— while running many pairs per forward pass:

* *Formatting.* With a chat template (``tokenizer.chat_template``) a pair is the
  conversation ``[{"role": "user", "content": x}, {"role": "assistant", "content": y}]``
  rendered by ``tokenizer.apply_chat_template`` (the format chat reward models are
  trained on), tokenized without extra special tokens (the template writes them).
  Without a template the text is ``x + SEPARATOR + y`` (``SEPARATOR = "\n"``),
  tokenized with the tokenizer's special tokens. ``format=`` overrides both: a callable
  ``format(prompt, response)`` returning the text, or a ``(text, text_pair)`` tuple for
  encoder reward models trained on sentence pairs. :func:`format_pair` shows the text.
* *Padding.* Pairs are tokenized once, sorted by length (less padding), cut into
  batches, padded on the right by starc itself, and put back in order. The tokenizer's
  ``padding_side`` is not used: right padding leaves every real token's hidden state
  as it is without padding, up to the round-off of batched matrix products (causal
  attention never looks right; encoders mask the pads). For decoder models starc reads the score head at each row's last real token
  itself — the rightmost token that is not the model's ``pad_token_id``, the rule of
  the ``*ForSequenceClassification`` models — so a model or tokenizer without a pad
  token (GPT-2) works at any batch size, and neither object is modified. One pair of
  the first batch is checked against the model's own unpadded forward pass.
* *Length.* Pairs longer than ``max_length`` tokens (default: the model's context,
  ``n_positions`` / ``max_position_embeddings``, or the tokenizer's
  ``model_max_length``) are cut on the tokenizer's ``truncation_side`` with a warning
  that says how many; ``truncate=False`` refuses them instead.

DPO implicit rewards
--------------------
A policy :math:`\pi` trained by direct preference optimisation from a reference
:math:`\pi_{\text{ref}}` with temperature :math:`\beta` is the optimum of the
KL-regularised objective for the reward [1]_ (Eq. 5)

.. math::

    r(x, y) = \beta \log \frac{\pi(y \mid x)}{\pi_{\text{ref}}(y \mid x)}
              + \beta \log Z(x)
            = \beta \sum_{t \in y} \Big[\log \pi(y_t \mid x, y_{<t})
              - \log \pi_{\text{ref}}(y_t \mid x, y_{<t})\Big] + \beta \log Z(x).

:func:`dpo_implicit_reward` returns the first term: :math:`\beta` times the sum over
the *response* tokens of the log-probability difference, prompt tokens masked out. The
partition function :math:`Z(x)` is unknown, so the implicit reward is defined only up to
a per-prompt offset :math:`f(x) = \beta \log Z(x)` — which is exactly the equivalence
:mod:`starc.bandit` quotients out (a per-prompt offset never changes the order of
policies, and its canonicalizations remove it): distances and regrets computed from
these scores are those of the true implicit reward. The response tokens are the tokens
of the rendered conversation after the rendered prompt (the chat template with
``add_generation_prompt=True``; ``prompt + SEPARATOR`` without a template): the longest
common prefix of the two token sequences is the prompt, so a token merged across the
boundary counts as response, and the template's end-of-turn tokens count as response
tokens, as in DPO training [1]_ [4]_.

Data
----
:func:`from_dataset` reads a Hugging Face :class:`datasets.Dataset`, a pandas or polars
DataFrame or a pyarrow Table in the two common layouts — one row per (prompt, response),
or preference pairs (prompt, chosen, rejected) — into :class:`PromptResponses`, whose
``prompts`` and ``responses`` feed the scoring functions and whose ``pairs`` (``(k, 3)``
rows ``(prompt, chosen, rejected)`` of indices into the score array) feed
``starc.bandit.preference_accuracy``.

Models and tokenizers may be given as objects or as local paths (or names in the local
Hugging Face cache) for ``from_pretrained``, always with ``local_files_only=True``:
starc never downloads. transformers and torch are optional dependencies, imported only
when a function of this module runs; without them the functions raise
:class:`~starc.MissingDependencyError` with the install line
(``pip install "starc[llm]"``, which installs the CPU wheel ``torch==2.13.0``; on a GPU
machine install the CUDA torch wheel first, then pass ``device="cuda"``).

References
----------
.. [1] Rafailov, Sharma, Mitchell, Ermon, Manning, Finn. "Direct Preference
   Optimization: Your Language Model is Secretly a Reward Model". NeurIPS 2023, Eq. 5
   and Sec. 5 (the implicit reward and its per-prompt offset).
.. [2] Ouyang et al. "Training language models to follow instructions with human
   feedback". NeurIPS 2022, Sec. 3.5 (a reward model: the last token's hidden state
   through a linear head).
.. [3] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC: A General Framework for
   Quantifying Differences Between Reward Functions". ICLR 2024, Def. 3 (equivalent
   rewards differ by potential shaping and scaling; with one step, a per-prompt offset).
.. [4] Lambert et al. "RewardBench: Evaluating Reward Models for Language Modeling".
   arXiv 2403.13787 (2024), Sec. 3 (scoring sequence classifiers and DPO implicit
   rewards on chat-formatted pairs).
.. [5] Wolf et al. "Transformers: State-of-the-Art Natural Language Processing".
   EMNLP 2020: System Demonstrations.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from .._validation import check_positive_int, check_real
from ..exceptions import MissingDependencyError, StarcError, ValidationError

__all__ = ["score_responses", "dpo_implicit_reward", "format_pair", "from_dataset",
           "PromptResponses", "require_transformers", "SEPARATOR"]

#: What joins prompt and response when the tokenizer has no chat template.
SEPARATOR = "\n"

#: The line printed when transformers or torch is missing.
INSTALL_HINT = ('install them with `pip install "starc[llm]"` (transformers, tokenizers, '
                'safetensors, datasets and the CPU wheel torch==2.13.0)')

#: ``model_max_length`` values at or above this are the tokenizer's "no limit" sentinel.
_NO_LIMIT = 10**8


def require_transformers():
    """Import and return ``(torch, transformers)``, or raise :class:`~starc.MissingDependencyError`.

    Returns
    -------
    tuple of modules
        ``(torch, transformers)``.

    Raises
    ------
    MissingDependencyError
        When torch or transformers is not installed; the message gives the
        ``pip install`` line.

    References
    ----------
    .. [1] Wolf et al. 2020, "Transformers" (the ``transformers`` package).

    Examples
    --------
    >>> from starc.adapters.transformers import require_transformers
    >>> torch, transformers = require_transformers()
    >>> torch.__name__, transformers.__name__
    ('torch', 'transformers')
    """
    try:
        import torch
        import transformers
    except ImportError as err:
        raise MissingDependencyError(
            f"starc.adapters.transformers needs torch and transformers ({err}); "
            f"{INSTALL_HINT}") from None
    return torch, transformers


# ------------------------------------------------------------------ argument checks


def _string_list(value, name: str) -> list[str]:
    """A non-string sequence of strings as a list (numpy arrays, pandas/polars Series too)."""
    if not isinstance(value, (str, bytes, Sequence, np.ndarray)):
        for method in ("tolist", "to_list"):  # pandas / polars Series
            if callable(getattr(value, method, None)):
                value = getattr(value, method)()
                break
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValidationError(f"{name} must be a list of strings, got "
                              f"{type(value).__name__}")
    out = list(value)
    for i, item in enumerate(out):
        if isinstance(item, np.str_):
            out[i] = item = str(item)
        if not isinstance(item, str):
            raise ValidationError(f"{name}[{i}] must be a string, got {type(item).__name__}")
    return out


def _check_texts(prompts, responses) -> tuple[list[str], list[list[str]]]:
    """Validate ``prompts`` (n strings) and ``responses`` (n lists of >= 1 strings)."""
    prompts = _string_list(prompts, "prompts")
    if not prompts:
        raise ValidationError("prompts is empty; pass at least one prompt")
    if isinstance(responses, (str, bytes)) or not isinstance(responses, (Sequence, np.ndarray)):
        raise ValidationError(f"responses must be a list of n lists of strings (one list per "
                              f"prompt), got {type(responses).__name__}")
    if len(responses) != len(prompts):
        raise ValidationError(f"responses must hold one list per prompt: got {len(prompts)} "
                              f"prompts and {len(responses)} response lists")
    out = []
    for i, group in enumerate(responses):
        if isinstance(group, str):
            raise ValidationError(
                f"responses[{i}] is a string; responses must hold one *list* of responses "
                f"per prompt (for one response per prompt pass [[r] for r in responses])")
        group = _string_list(group, f"responses[{i}]")
        if not group:
            raise ValidationError(f"responses[{i}] is empty; every prompt needs at least "
                                  "one response")
        out.append(group)
    return prompts, out


def _device(torch, device):
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValidationError(f"device must name a torch device such as 'cpu' or 'cuda:0', "
                              f"got {device!r} ({err})") from None


def _one_line(err) -> str:
    return " ".join(str(err).split())[:500]


def _dtype(torch, dtype):
    if dtype is None or dtype == "auto" or isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        return getattr(torch, dtype)
    raise ValidationError(f"dtype must be a torch dtype, its name (e.g. 'bfloat16') or "
                          f"'auto', got {dtype!r}")


def _load(torch, transformers, model, name: str, auto: str, dtype, dev):
    """A model object as given, or ``Auto*.from_pretrained(path, local_files_only=True)``."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        try:
            loaded = getattr(transformers, auto).from_pretrained(
                path, local_files_only=True, dtype=_dtype(torch, dtype))
        except (StarcError, KeyboardInterrupt):
            raise
        except Exception as err:  # noqa: BLE001 - any loading failure is a bad path
            raise ValidationError(f"{name} {path!r} could not be loaded with "
                                  f"transformers.{auto}.from_pretrained(local_files_only="
                                  f"True): {_one_line(err)}") from None
        return loaded.to(dev)
    if not isinstance(model, torch.nn.Module):
        raise ValidationError(f"{name} must be a transformers model or a local path to one, "
                              f"got {type(model).__name__}")
    if dtype is not None:
        raise ValidationError(f"dtype applies when {name} is a path; convert a model object "
                              f"yourself ({name}.to(torch.bfloat16))")
    for p in model.parameters():
        if p.device != dev:
            raise ValidationError(f"{name} lives on {p.device} but device={str(dev)!r}; move "
                                  f"it with {name}.to({str(dev)!r}) or pass "
                                  f"device={str(p.device)!r}")
        break
    return model


def _load_tokenizer(transformers, tokenizer, model_arg, name: str):
    if tokenizer is None:
        if isinstance(model_arg, (str, os.PathLike)):
            tokenizer = model_arg
        else:
            raise ValidationError(f"tokenizer is required when {name} is a model object; "
                                  "pass the model's tokenizer (or a path to it)")
    if isinstance(tokenizer, (str, os.PathLike)):
        path = os.fspath(tokenizer)
        try:
            return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        except Exception as err:  # noqa: BLE001 - any loading failure is a bad path
            raise ValidationError(f"tokenizer {path!r} could not be loaded with "
                                  "AutoTokenizer.from_pretrained(local_files_only=True): "
                                  f"{_one_line(err)}") from None
    if not callable(tokenizer):
        raise ValidationError(f"tokenizer must be a transformers tokenizer or a path to one, "
                              f"got {type(tokenizer).__name__}")
    return tokenizer


# ------------------------------------------------------------------ formatting


def _has_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def _render(tokenizer, prompt: str, response: str | None):
    """The chat-template text of the conversation (``response=None``: the prompt part)."""
    messages = [{"role": "user", "content": prompt}]
    if response is not None:
        messages.append({"role": "assistant", "content": response})
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=response is None)
    except Exception as err:  # noqa: BLE001 - template errors are jinja's or the tokenizer's
        raise ValidationError(f"the tokenizer's chat template failed on a (user, assistant) "
                              f"conversation: {_one_line(err)}; pass format= to format pairs "
                              "yourself") from None
    if not isinstance(text, str):
        raise ValidationError("tokenizer.apply_chat_template(tokenize=False) did not return a "
                              f"string (got {type(text).__name__}); pass format=")
    return text


def format_pair(tokenizer, prompt: str, response: str, *, format: Callable | None = None):
    r"""The text a (prompt, response) pair is scored as.

    With ``format`` the result of ``format(prompt, response)``; otherwise, when the
    tokenizer has a chat template, the conversation (user turn ``prompt``, assistant
    turn ``response``) rendered by ``tokenizer.apply_chat_template(..., tokenize=False)``;
    otherwise ``prompt + SEPARATOR + response`` with ``SEPARATOR = "\n"``.

    .. math::

        \mathrm{format}(x, y) = \begin{cases} \mathrm{template}(\text{user}: x,
        \ \text{assistant}: y) & \text{chat template} \\ x \,\Vert\, \texttt{"\\n"}
        \,\Vert\, y & \text{otherwise} \end{cases}

    Parameters
    ----------
    tokenizer : transformers tokenizer
        Its ``chat_template`` decides the format.
    prompt, response : str
        The user turn and the assistant turn.
    format : callable, optional
        ``format(prompt, response) -> str`` or ``-> (text, text_pair)``.

    Returns
    -------
    str or tuple of str
        The text (or text pair) passed to the tokenizer.

    Raises
    ------
    ValidationError
        When an argument is not a string, the template fails, or ``format`` returns
        something else than a string or a pair of strings.

    References
    ----------
    .. [1] Lambert et al. 2024, "RewardBench", Sec. 3 (chat-formatted scoring).

    Examples
    --------
    >>> from starc.adapters.transformers import format_pair
    >>> class NoTemplate:
    ...     chat_template = None
    >>> format_pair(NoTemplate(), "What is 2+2?", "4")
    'What is 2+2?\n4'
    >>> format_pair(NoTemplate(), "Q", "A", format=lambda p, r: f"Human: {p} Assistant: {r}")
    'Human: Q Assistant: A'
    """
    for name, value in (("prompt", prompt), ("response", response)):
        if not isinstance(value, str):
            raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if format is not None:
        if not callable(format):
            raise ValidationError(f"format must be a callable format(prompt, response), got "
                                  f"{type(format).__name__}")
        out = format(prompt, response)
        if isinstance(out, str):
            return out
        if (isinstance(out, tuple) and len(out) == 2
                and all(isinstance(s, str) for s in out)):
            return out
        raise ValidationError(f"format(prompt, response) must return a string or a (text, "
                              f"text_pair) tuple of strings, got {type(out).__name__}")
    if _has_template(tokenizer):
        return _render(tokenizer, prompt, response)
    return prompt + SEPARATOR + response


def _tokenize(tokenizer, texts, add_special_tokens: bool):
    """Token ids (and the other per-token model inputs) of each text, unpadded."""
    if texts and isinstance(texts[0], tuple):
        if not all(isinstance(t, tuple) for t in texts):
            raise ValidationError("format must return strings for every pair or (text, "
                                  "text_pair) tuples for every pair, not a mix")
        args = ([t[0] for t in texts], [t[1] for t in texts])
    else:
        if not all(isinstance(t, str) for t in texts):
            raise ValidationError("format must return strings for every pair or (text, "
                                  "text_pair) tuples for every pair, not a mix")
        args = (list(texts),)
    try:
        enc = tokenizer(*args, add_special_tokens=add_special_tokens, padding=False,
                        truncation=False)
    except Exception as err:  # noqa: BLE001 - the tokenizer's own error
        raise ValidationError(f"tokenizer failed on the formatted pairs: {_one_line(err)}") \
            from None
    ids = [list(map(int, row)) for row in enc["input_ids"]]
    extras = {}
    for key in ("token_type_ids",):
        if key in enc:
            extras[key] = [list(map(int, row)) for row in enc[key]]
    return ids, extras


# ------------------------------------------------------------------ model plumbing


def _config_limit(model) -> int | None:
    config = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, numbers.Integral) and value > 0:
            return int(value)
    return None


def _length_limit(tokenizer, models, max_length) -> tuple[int | None, int | None]:
    """``(limit, model_limit)``: the tokens kept per pair and the models' own context."""
    caps = [c for c in (_config_limit(m) for m in models) if c is not None]
    model_limit = min(caps) if caps else None
    if max_length is not None:
        max_length = check_positive_int(max_length, "max_length", minimum=2)
        if model_limit is not None and max_length > model_limit:
            raise ValidationError(f"max_length={max_length} exceeds the model's context of "
                                  f"{model_limit} tokens")
        return max_length, model_limit
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, numbers.Integral) and 0 < tok_limit < _NO_LIMIT:
        caps.append(int(tok_limit))
    return (min(caps) if caps else None), model_limit


def _truncation_plan(lengths: np.ndarray, limit, truncate: bool, what: str):
    """Indices of the pairs longer than ``limit``; warn, or refuse when ``truncate=False``."""
    if limit is None:
        return np.zeros(0, dtype=np.int64)
    long = np.flatnonzero(lengths > limit)
    if long.size:
        if not truncate:
            raise ValidationError(
                f"{long.size} of {lengths.size} {what} are longer than max_length={limit} "
                f"tokens (the longest has {int(lengths.max())}; the first is pair "
                f"{int(long[0])} in flat order); raise max_length or pass truncate=True")
        warnings.warn(f"{long.size} of {lengths.size} {what} were longer than {limit} tokens "
                      f"and were truncated (the longest had {int(lengths.max())} tokens)",
                      UserWarning, stacklevel=3)
    return long


def _cut(seq: list[int], limit: int, side: str) -> list[int]:
    return seq[len(seq) - limit:] if side == "left" else seq[:limit]


def _batches(lengths: np.ndarray, batch_size: int):
    """Batches of flat pair indices, longest first (sorted by length: less padding)."""
    order = np.argsort(-lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, order.size, batch_size)]


def _pad(torch, rows, fill: int, dev):
    """Right-padded ``(b, L)`` long tensor of ``rows`` and its attention mask."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), fill, dtype=np.int64)
    att = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        att[i, :len(r)] = 1
    return torch.from_numpy(ids).to(dev), torch.from_numpy(att).to(dev)


@contextlib.contextmanager
def _progress(total: int, enabled: bool, desc: str):
    """Context giving a ``tick()`` to call once per batch.

    With ``enabled`` it advances a tqdm bar of ``total`` batches, closed on leaving the
    context (also on an error); otherwise ``tick`` does nothing. One piece for every
    batched loop of this module (scoring, DPO rewards).
    """
    if not enabled:
        yield lambda: None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="batch")
    try:
        yield lambda: bar.update(1)
    finally:
        bar.close()


class _EvalMode:
    """Put modules in ``eval()`` for the duration; restore their training flags after."""

    def __init__(self, *modules):
        self.modules = [m for m in modules if m is not None]
        self.flags = []

    def __enter__(self):
        self.flags = [m.training for m in self.modules]
        for m in self.modules:
            m.eval()
        return self

    def __exit__(self, *exc):
        for m, flag in zip(self.modules, self.flags):
            if flag:
                m.train(True)
        return False


def _head(torch, model):
    """``"last_token"`` for decoder score heads, ``"model"`` for encoder classifiers."""
    config = getattr(model, "config", None)
    score = getattr(model, "score", None)
    base = getattr(model, "base_model", None)
    if (isinstance(score, torch.nn.Linear) and base is not None and base is not model
            and not getattr(config, "is_encoder_decoder", False)):
        return "last_token"
    name = type(model).__name__
    if name.endswith("ForSequenceClassification") or hasattr(model, "classifier"):
        return "model"
    hint = (" (a language model: load the reward model with "
            "AutoModelForSequenceClassification, or use dpo_implicit_reward for a DPO "
            "policy)" if hasattr(model, "lm_head") or name.endswith("ForCausalLM") else "")
    raise ValidationError(f"model ({name}) has no score head{hint}; score_responses needs a "
                          "sequence classifier (a *ForSequenceClassification model)")


def _label_index(model, label) -> int:
    config = getattr(model, "config", None)
    n_labels = int(getattr(config, "num_labels", 1) or 1)
    if label is None:
        if n_labels == 1:
            return 0
        names = getattr(config, "id2label", None) or {}
        raise ValidationError(f"model has {n_labels} outputs per pair (labels "
                              f"{dict(names)}); pass label= the index (or name) of the output "
                              "that is the reward")
    if isinstance(label, str):
        label2id = getattr(config, "label2id", None) or {}
        if label not in label2id:
            raise ValidationError(f"label {label!r} is not one of the model's labels "
                                  f"{list(label2id)}")
        return int(label2id[label])
    if isinstance(label, bool) or not isinstance(label, numbers.Integral):
        raise ValidationError(f"label must be an int or a label name, got {label!r}")
    if not 0 <= int(label) < n_labels:
        raise ValidationError(f"label must lie in [0, {n_labels}) for a model with "
                              f"{n_labels} outputs, got {label}")
    return int(label)


def _forward_scores(torch, model, kind, rows, extras, fill, dev):
    """``(b, num_labels)`` float64 scores of a right-padded batch (see module docs)."""
    ids, att = _pad(torch, rows, fill, dev)
    kw = {k: _pad(torch, v, 0, dev)[0] for k, v in extras.items()}
    if kind == "last_token":
        out = model.base_model(input_ids=ids, attention_mask=att, **kw)
        hidden = out[0] if isinstance(out, tuple) else out.last_hidden_state
        positions = torch.arange(ids.shape[1], device=dev)
        real = att.bool()
        pad_id = getattr(model.config, "pad_token_id", None)
        if pad_id is not None:  # the models' rule: rightmost token that is not pad_token_id
            real = real & (ids != int(pad_id))
        last = (positions[None, :] * real).argmax(dim=-1)
        pooled = hidden[torch.arange(ids.shape[0], device=dev), last]
        logits = model.score(pooled)
    else:
        try:
            out = model(input_ids=ids, attention_mask=att, **kw)
        except ValueError as err:
            raise ValidationError(f"model could not score a padded batch: {_one_line(err)}; "
                                  "set model.config.pad_token_id, or use batch_size=1") from None
        logits = out[0] if isinstance(out, tuple) else out.logits
    if logits.ndim != 2 or logits.shape[0] != len(rows):
        raise ValidationError(f"model returned logits of shape {tuple(logits.shape)} for a "
                              f"batch of {len(rows)} pairs; expected ({len(rows)}, "
                              "num_labels): is it a sequence classifier?")
    return logits.detach().to(device="cpu", dtype=torch.float64).numpy()


def _reference_scores(torch, model, row, extras_row, dev):
    """The model's own output on one unpadded sequence (the definition of its score)."""
    ids = torch.tensor([row], dtype=torch.long, device=dev)
    kw = {k: torch.tensor([v], dtype=torch.long, device=dev) for k, v in extras_row.items()}
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)
    logits = out[0] if isinstance(out, tuple) else out.logits
    return logits.detach().to(device="cpu", dtype=torch.float64).numpy()[0]


def _fill_id(tokenizer, model) -> int:
    for value in (getattr(getattr(model, "config", None), "pad_token_id", None),
                  getattr(tokenizer, "pad_token_id", None),
                  getattr(tokenizer, "eos_token_id", None)):
        if isinstance(value, numbers.Integral) and value >= 0:
            return int(value)
    return 0


def _unflatten(values: np.ndarray, counts: list[int]):
    n, m = len(counts), max(counts)
    scores = np.zeros((n, m))
    mask = np.zeros((n, m), dtype=bool)
    start = 0
    for i, c in enumerate(counts):
        scores[i, :c] = values[start:start + c]
        mask[i, :c] = True
        start += c
    return scores, mask


def _check_finite(values: np.ndarray, counts: list[int], what: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        starts = np.cumsum([0] + counts[:-1])
        k = int(bad[0])
        i = int(np.searchsorted(starts, k, side="right") - 1)
        raise ValidationError(f"{what} returned {bad.size} NaN or infinite value(s); the first "
                              f"for prompt {i}, response {k - int(starts[i])}")


# ------------------------------------------------------------------ public functions


def score_responses(model, tokenizer, prompts, responses, *, batch_size: int = 16,
                    max_length: int | None = None, device="cpu", progress: bool = False,
                    format: Callable | None = None, label=None, truncate: bool = True,
                    dtype=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Score every (prompt, response) pair with a reward model: an ``(n, m)`` array + mask.

    .. math::

        R[i, j] = \mathrm{model}\big(\mathrm{format}(x_i, y_{ij})\big)_{\text{label}},
        \qquad \text{mask}[i, j] = j < |y_i|,

    the output the model gives for each pair's text alone, computed in length-sorted,
    right-padded batches (see the module documentation).

    Parameters
    ----------
    model : transformers model, str or os.PathLike
        A sequence classifier (``AutoModelForSequenceClassification``: a decoder with a
        ``score`` head, or an encoder classifier), or a local path / cached name loaded
        with ``from_pretrained(local_files_only=True)``.
    tokenizer : transformers tokenizer, str, os.PathLike or None
        The model's tokenizer, or a path to it; None loads it from ``model``'s path.
        Never modified.
    prompts : sequence of str, length n
        The prompts :math:`x_i`.
    responses : sequence of n sequences of str
        ``responses[i]`` the responses to ``prompts[i]`` (ragged allowed, at least one
        each).
    batch_size : int, default 16
        Pairs per forward pass.
    max_length : int, optional
        Tokens kept per pair; by default the model's context (or the tokenizer's
        ``model_max_length``).
    device : str or torch.device, default "cpu"
        Where the inputs go (a model object must already live there; a path is loaded
        there), e.g. ``"cuda"``.
    progress : bool, default False
        Show a tqdm progress bar over the batches.
    format : callable, optional
        ``format(prompt, response) -> str`` (or ``-> (text, text_pair)``); overrides
        the chat template / separator rule of :func:`format_pair`. The text is
        tokenized with the tokenizer's special tokens.
    label : int or str, optional
        Which output of a multi-logit head is the reward (index or label name); required
        when the model has more than one output.
    truncate : bool, default True
        Cut pairs longer than ``max_length`` (with a warning giving how many) on the
        tokenizer's ``truncation_side``; False raises instead.
    dtype : torch.dtype or str, optional
        The dtype to load a model given as a path in (e.g. ``"bfloat16"``).

    Returns
    -------
    scores : ndarray of shape (n, m), float64
        ``m`` the largest number of responses of a prompt; 0.0 where ``mask`` is False.
    mask : ndarray of shape (n, m), bool
        True on the real (prompt, response) entries.

    Raises
    ------
    MissingDependencyError
        When torch or transformers is not installed.
    ValidationError
        On empty or ragged-mismatched inputs (the message names the argument), a model
        without a score head (e.g. a causal LM), a multi-logit head without ``label``,
        pairs longer than ``max_length`` with ``truncate=False``, a model on another
        device, NaN scores, or a path that cannot be loaded locally.

    StarcError
        When the first batch's score differs from the model's own forward pass on the
        same text alone: a decoder whose ``score`` head is not applied to the last
        hidden state (starc refuses rather than misread it).

    Warns
    -----
    UserWarning
        When pairs were truncated (how many of how many).

    See Also
    --------
    dpo_implicit_reward : the implicit reward of a DPO policy.
    from_dataset : prompts and responses from a dataset.

    References
    ----------
    .. [1] Ouyang et al. 2022, Sec. 3.5 (reward model: last token, linear head).
    .. [2] Lambert et al. 2024, "RewardBench", Sec. 3.

    Examples
    --------
    >>> import torch
    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> from transformers import (GPT2Config, GPT2ForSequenceClassification,
    ...                           PreTrainedTokenizerFast)
    >>> from starc.adapters.transformers import score_responses
    >>> words = "<unk> what is two plus yes no four five it".split()
    >>> tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, "<unk>"))
    >>> tok.pre_tokenizer = pre_tokenizers.Whitespace()
    >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")
    >>> _ = torch.manual_seed(0)
    >>> model = GPT2ForSequenceClassification(GPT2Config(
    ...     vocab_size=len(words), n_layer=2, n_embd=32, n_head=2, num_labels=1))
    >>> scores, mask = score_responses(model, tokenizer, ["what is two plus two"],
    ...                                [["four", "it is four", "five"]])
    >>> scores.shape, mask.all()
    ((1, 3), np.True_)
    """
    torch, transformers = require_transformers()
    prompts, responses = _check_texts(prompts, responses)
    batch_size = check_positive_int(batch_size, "batch_size")
    dev = _device(torch, device)
    model_arg = model
    model = _load(torch, transformers, model, "model", "AutoModelForSequenceClassification",
                  dtype, dev)
    tokenizer = _load_tokenizer(transformers, tokenizer, model_arg, "model")
    kind = _head(torch, model)
    index = _label_index(model, label)
    limit, _ = _length_limit(tokenizer, [model], max_length)

    counts = [len(g) for g in responses]
    texts = [format_pair(tokenizer, p, r, format=format)
             for p, group in zip(prompts, responses) for r in group]
    special = format is not None or not _has_template(tokenizer)
    ids, extras = _tokenize(tokenizer, texts, add_special_tokens=special)
    lengths = np.array([len(r) for r in ids], dtype=np.int64)
    if lengths.min() == 0:
        raise ValidationError(f"pair {int(np.argmin(lengths))} (flat order) tokenizes to no "
                              "tokens; nothing to score")
    side = getattr(tokenizer, "truncation_side", "right")
    for k in _truncation_plan(lengths, limit, truncate, "pairs"):
        ids[k] = _cut(ids[k], limit, side)
        for v in extras.values():
            v[k] = _cut(v[k], limit, side)
        lengths[k] = limit
    fill = _fill_id(tokenizer, model)

    values = np.empty(len(ids))
    with _progress(-(-len(ids) // batch_size), progress, "scoring") as tick, \
            _EvalMode(model), torch.inference_mode():
        for b, idx in enumerate(_batches(lengths, batch_size)):
            rows = [ids[k] for k in idx]
            ex = {key: [v[k] for k in idx] for key, v in extras.items()}
            logits = _forward_scores(torch, model, kind, rows, ex, fill, dev)
            if index >= logits.shape[1]:
                raise ValidationError(f"label {index} is out of range for a model with "
                                      f"{logits.shape[1]} outputs")
            values[idx] = logits[:, index]
            if b == 0 and kind == "last_token":
                _self_check(torch, model, rows[-1], {k: v[-1] for k, v in ex.items()},
                            logits[-1], dev)
            tick()
    _check_finite(values, counts, "model")
    return _unflatten(values, counts)


def _self_check(torch, model, row, extras_row, batched, dev) -> None:
    """Compare one batched row with the model's own unpadded forward pass."""
    ref = _reference_scores(torch, model, row, extras_row, dev)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    tol = max(1e-4, 64 * torch.finfo(dtype).eps)
    if ref.shape != batched.shape or not np.allclose(batched, ref, rtol=tol, atol=tol):
        raise StarcError(f"the batched score {batched.tolist()} differs from the model's own "
                         f"forward pass {ref.tolist()} on the same text: this model's score "
                         "head is not the last-token head starc reads; please report it")


def dpo_implicit_reward(policy, reference, tokenizer, prompts, responses, *, beta,
                        batch_size: int = 16, max_length: int | None = None, device="cpu",
                        progress: bool = False, format: Callable | None = None,
                        truncate: bool = True, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    r"""The implicit reward of a DPO policy on every (prompt, response) pair.

    .. math::

        R[i, j] = \beta \sum_{t \in y_{ij}} \Big[\log \pi(y_{ij,t} \mid x_i, y_{ij,<t})
        - \log \pi_{\text{ref}}(y_{ij,t} \mid x_i, y_{ij,<t})\Big],

    the sum over the response tokens only (the prompt's are masked out). The DPO reward
    is :math:`\beta \log \pi/\pi_{\text{ref}} + \beta \log Z(x)` [1]_; the per-prompt
    offset :math:`\beta \log Z(x)` is unknown and left out, which changes nothing in
    :mod:`starc.bandit` (its distances and regrets are invariant to per-prompt offsets).

    Parameters
    ----------
    policy, reference : transformers causal LM, str or os.PathLike
        The DPO-trained policy and its reference (the SFT model), as objects or local
        paths loaded with ``AutoModelForCausalLM.from_pretrained(local_files_only=True)``.
        They must share ``tokenizer``. ``policy is reference`` gives zeros.
    tokenizer : transformers tokenizer, str, os.PathLike or None
        Shared tokenizer; None loads it from ``policy``'s path.
    prompts : sequence of str, length n
    responses : sequence of n sequences of str
        As in :func:`score_responses`.
    beta : float
        The DPO temperature, > 0.
    batch_size : int, default 16
        Pairs per forward pass (of each model).
    max_length, device, progress, truncate, dtype
        As in :func:`score_responses`; right truncation drops response tokens from the
        sum, left truncation drops prompt tokens.
    format : callable, optional
        ``format(prompt, response) -> str``; the prompt part is then
        ``format(prompt, "")`` and the response tokens are those after its tokens.

    Returns
    -------
    scores : ndarray of shape (n, m), float64
        The implicit rewards (0.0 where ``mask`` is False).
    mask : ndarray of shape (n, m), bool
        True on the real entries.

    Raises
    ------
    MissingDependencyError
        When torch or transformers is not installed.
    ValidationError
        On bad inputs (as :func:`score_responses`), ``beta <= 0``, models that are not
        language models (no ``(batch, length, vocab)`` logits) or whose vocabularies
        differ, or a pair whose response starts at the first token (no context to
        predict it from).

    See Also
    --------
    score_responses : scores of an explicit reward model.

    References
    ----------
    .. [1] Rafailov et al. 2023, "Direct Preference Optimization", Eq. 5 and Sec. 5.
    .. [2] Lambert et al. 2024, "RewardBench", Sec. 3 (DPO implicit rewards).

    Examples
    --------
    >>> import copy, torch
    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    >>> from starc.adapters.transformers import dpo_implicit_reward
    >>> words = "<unk> what is two plus yes no four five it".split()
    >>> tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, "<unk>"))
    >>> tok.pre_tokenizer = pre_tokenizers.Whitespace()
    >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")
    >>> _ = torch.manual_seed(0)
    >>> reference = GPT2LMHeadModel(GPT2Config(vocab_size=len(words), n_layer=2,
    ...                                        n_embd=32, n_head=2))
    >>> policy = copy.deepcopy(reference)
    >>> with torch.no_grad():
    ...     _ = policy.lm_head.weight.add_(0.1)
    >>> r, mask = dpo_implicit_reward(policy, reference, tokenizer, ["what is two plus two"],
    ...                               [["four", "five"]], beta=0.1)
    >>> r.shape
    (1, 2)
    >>> dpo_implicit_reward(reference, reference, tokenizer, ["what is two plus two"],
    ...                     [["four", "five"]], beta=0.1)[0]
    array([[0., 0.]])
    """
    torch, transformers = require_transformers()
    prompts, responses = _check_texts(prompts, responses)
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    batch_size = check_positive_int(batch_size, "batch_size")
    dev = _device(torch, device)
    same = policy is reference or (isinstance(policy, (str, os.PathLike))
                                   and isinstance(reference, (str, os.PathLike))
                                   and os.fspath(policy) == os.fspath(reference))
    policy_arg = policy
    policy = _load(torch, transformers, policy, "policy", "AutoModelForCausalLM", dtype, dev)
    reference = policy if same else _load(torch, transformers, reference, "reference",
                                          "AutoModelForCausalLM", dtype, dev)
    tokenizer = _load_tokenizer(transformers, tokenizer, policy_arg, "policy")
    for name, m in (("policy", policy), ("reference", reference)):
        if getattr(m, "score", None) is not None and not hasattr(m, "lm_head") \
                or type(m).__name__.endswith("ForSequenceClassification"):
            raise ValidationError(f"{name} ({type(m).__name__}) is a sequence classifier, not "
                                  "a language model; load it with AutoModelForCausalLM (use "
                                  "score_responses for reward models)")
    limit, _ = _length_limit(tokenizer, [policy, reference], max_length)

    counts = [len(g) for g in responses]
    full, starts = _dpo_tokens(tokenizer, prompts, responses, format)
    lengths = np.array([len(r) for r in full], dtype=np.int64)
    side = getattr(tokenizer, "truncation_side", "right")
    for k in _truncation_plan(lengths, limit, truncate, "pairs"):
        cut = int(lengths[k]) - limit
        full[k] = _cut(full[k], limit, side)
        if side == "left":
            starts[k] = max(1, starts[k] - cut)
        lengths[k] = limit
    bad = [k for k in range(len(full)) if starts[k] < 1]
    if bad:
        raise ValidationError(f"{len(bad)} pair(s) have no prompt tokens before the response "
                              f"(the first is pair {bad[0]} in flat order), so its first token "
                              "has no context; give a prompt or a tokenizer that adds a BOS "
                              "token")
    fill = _fill_id(tokenizer, policy)

    values = np.zeros(len(full))
    with _progress(-(-len(full) // batch_size), progress, "DPO rewards") as tick, \
            _EvalMode(policy, None if same else reference), torch.inference_mode():
        for idx in _batches(lengths, batch_size):
            rows = [full[k] for k in idx]
            st = [starts[k] for k in idx]
            if not same:
                lp = _response_logps(torch, policy, rows, st, fill, dev, "policy")
                lr = _response_logps(torch, reference, rows, st, fill, dev, "reference")
                values[idx] = beta * (lp - lr)
            tick()
    _check_finite(values, counts, "dpo_implicit_reward (policy or reference)")
    return _unflatten(values, counts)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _dpo_tokens(tokenizer, prompts, responses, format):
    """Token ids of each full conversation and the index of its first response token."""
    template = format is None and _has_template(tokenizer)
    fulls, heads = [], []
    for p, group in zip(prompts, responses):
        if format is not None:
            head = format_pair(tokenizer, p, "", format=format)
        elif template:
            head = _render(tokenizer, p, None)
        else:
            head = p + SEPARATOR
        for r in group:
            text = format_pair(tokenizer, p, r, format=format)
            if isinstance(text, tuple) or isinstance(head, tuple):
                raise ValidationError("dpo_implicit_reward needs format to return one string "
                                      "(a causal LM reads one text), not a text pair")
            fulls.append(text)
            heads.append(head)
    special = not template
    full_ids, _ = _tokenize(tokenizer, fulls, add_special_tokens=special)
    uniq = list(dict.fromkeys(heads))
    head_ids, _ = _tokenize(tokenizer, uniq, add_special_tokens=special)
    by_head = dict(zip(uniq, head_ids))
    starts = [_common_prefix(f, by_head[h]) for f, h in zip(full_ids, heads)]
    return full_ids, starts


def _response_logps(torch, model, rows, starts, fill, dev, name):
    """Sum over each row's response tokens of ``log p(token | earlier tokens)``, float64."""
    ids, att = _pad(torch, rows, fill, dev)
    out = model(input_ids=ids, attention_mask=att)
    logits = out[0] if isinstance(out, tuple) else out.logits
    if logits.ndim != 3 or logits.shape[:2] != ids.shape:
        raise ValidationError(f"{name} returned logits of shape {tuple(logits.shape)} for "
                              f"input ids of shape {tuple(ids.shape)}; a causal language "
                              "model returns (batch, length, vocab)")
    target = ids[:, 1:]
    if int(target.max()) >= logits.shape[-1]:
        raise ValidationError(f"{name} has a vocabulary of {logits.shape[-1]} tokens but the "
                              f"tokenizer produced id {int(target.max())}")
    # position t - 1 predicts token t; keep the response tokens (t >= start, not padding)
    positions = torch.arange(1, ids.shape[1], device=dev)[None, :]
    first = torch.tensor(starts, device=dev)[:, None]
    keep = (positions >= first) & att[:, 1:].bool()
    rows_k, cols_k = torch.nonzero(keep, as_tuple=True)
    picked = logits[rows_k, cols_k].to(torch.float64)          # (tokens, vocab), float64
    tok_lp = (picked.gather(-1, target[rows_k, cols_k][:, None])[:, 0]
              - torch.logsumexp(picked, dim=-1))
    sums = torch.zeros(len(rows), dtype=torch.float64, device=dev).index_add_(0, rows_k, tok_lp)
    return sums.cpu().numpy()


# ------------------------------------------------------------------ data


class PromptResponses(NamedTuple):
    """Prompts and their responses read from a dataset (see :func:`from_dataset`).

    Attributes
    ----------
    prompts : list of str, length n
        Distinct prompts in order of first appearance.
    responses : list of n lists of str
        Each prompt's distinct responses in order of first appearance: the ``j``-th is
        column ``j`` of the ``(n, m)`` score arrays.
    pairs : ndarray of shape (k, 3), int64, or None
        For preference data, one row ``(prompt index, chosen index, rejected index)``
        per dataset row; None for the one-row-per-response layout.
    """

    prompts: list
    responses: list
    pairs: np.ndarray | None


def _columns(ds):
    """``(column names, getter)`` of a datasets.Dataset, pandas/polars frame or arrow table."""
    mod = type(ds).__module__.split(".")[0]
    name = type(ds).__name__
    if mod == "datasets":
        if name in ("DatasetDict", "IterableDatasetDict"):
            raise ValidationError(f"ds is a {name}; pick a split, e.g. ds['train']")
        if name == "IterableDataset":
            raise ValidationError("ds is an IterableDataset; materialise the rows you need "
                                  "(e.g. Dataset.from_list(list(ds.take(1000))))")
        return list(ds.column_names), lambda c: list(ds[c])
    if mod == "pandas" and name == "DataFrame":
        return [str(c) for c in ds.columns], lambda c: ds[c].tolist()
    if mod == "polars" and name == "DataFrame":
        return list(ds.columns), lambda c: ds[c].to_list()
    if mod == "pyarrow" and name == "Table":
        return list(ds.column_names), lambda c: ds.column(c).to_pylist()
    raise ValidationError(f"ds must be a datasets.Dataset, a pandas or polars DataFrame or a "
                          f"pyarrow Table, got {type(ds).__module__}.{name}")


def _text_column(get, names, column, role: str, allow_lists: bool = False):
    if not isinstance(column, str):
        raise ValidationError(f"{role} must be a column name (str), got {column!r}")
    if column not in names:
        raise ValidationError(f"{role} column {column!r} is not in the data; its columns are "
                              f"{names}")
    values = get(column)
    for i, v in enumerate(values):
        if isinstance(v, str):
            continue
        if allow_lists and isinstance(v, (list, tuple, np.ndarray)) \
                and all(isinstance(s, str) for s in v):
            continue
        what = "missing (null)" if v is None or (isinstance(v, float) and v != v) \
            else f"a {type(v).__name__}"
        hint = ""
        if isinstance(v, (list, tuple)) and v and isinstance(v[0], dict):
            hint = (" (conversational format: keep the last turn's 'content', or pass "
                    "strings)")
        raise ValidationError(f"row {i} of column {column!r} ({role}) is {what}; every entry "
                              f"must be a string{hint}")
    return values


def from_dataset(ds, *, prompt: str = "prompt", responses: str | None = None,
                 chosen: str | None = None, rejected: str | None = None) -> PromptResponses:
    r"""Prompts and responses from a dataset, in either of the two common layouts.

    * One row per (prompt, response) — ``responses="response"`` names the response
      column (a cell may also hold a list of responses). Duplicate (prompt, response)
      rows are refused.
    * Preference pairs — ``chosen="chosen", rejected="rejected"``: each row adds both
      responses to its prompt's set (duplicates across rows are merged) and a row
      :math:`(i, j_{\text{chosen}}, j_{\text{rejected}})` to ``pairs``, so that

      .. math::

          \text{accuracy} = \frac{1}{k} \sum_{(i, c, r) \in \text{pairs}}
          \mathbb{1}\big[R[i, c] > R[i, r]\big]

      is the preference accuracy of a reward model's scores ``R``
      (``starc.bandit.preference_accuracy``).

    With neither given, the columns ``chosen`` and ``rejected`` select the pair layout
    and a ``response`` column the other.

    Parameters
    ----------
    ds : datasets.Dataset, pandas.DataFrame, polars.DataFrame or pyarrow.Table
        The rows (a ``DatasetDict`` is refused: pick a split).
    prompt : str, default "prompt"
        The prompt column.
    responses : str, optional
        The response column (one row per pair).
    chosen, rejected : str, optional
        The preferred and the dispreferred response columns.

    Returns
    -------
    PromptResponses
        ``(prompts, responses, pairs)``; prompts and each prompt's responses in order of
        first appearance. ``prompts`` and ``responses`` go to :func:`score_responses`
        and :func:`dpo_implicit_reward` as they are.

    Raises
    ------
    ValidationError
        On an unknown column (the message lists the columns), a non-string or missing
        entry, both layouts at once, only one of ``chosen`` / ``rejected``, duplicate
        (prompt, response) rows, or an empty dataset.

    References
    ----------
    .. [1] Rafailov et al. 2023, Sec. 4 (preference data :math:`(x, y_w, y_l)`).
    .. [2] Lambert et al. 2024, "RewardBench", Sec. 3 (prompt, chosen, rejected).

    Examples
    --------
    >>> import pandas as pd
    >>> from starc.adapters.transformers import from_dataset
    >>> df = pd.DataFrame({"prompt": ["2+2?", "2+2?", "capital of France?"],
    ...                    "chosen": ["4", "four", "Paris"],
    ...                    "rejected": ["5", "5", "Lyon"]})
    >>> data = from_dataset(df, chosen="chosen", rejected="rejected")
    >>> data.prompts
    ['2+2?', 'capital of France?']
    >>> data.responses
    [['4', '5', 'four'], ['Paris', 'Lyon']]
    >>> data.pairs.tolist()
    [[0, 0, 1], [0, 2, 1], [1, 0, 1]]
    """
    names, get = _columns(ds)
    if responses is None and chosen is None and rejected is None:
        if "chosen" in names and "rejected" in names:
            chosen, rejected = "chosen", "rejected"
        elif "response" in names:
            responses = "response"
        else:
            raise ValidationError(f"name the response columns: responses= (one row per "
                                  f"response) or chosen= and rejected= (preference pairs); "
                                  f"the columns are {names}")
    if responses is not None and (chosen is not None or rejected is not None):
        raise ValidationError("pass either responses= (one row per response) or chosen= and "
                              "rejected= (preference pairs), not both")
    if responses is None and (chosen is None or rejected is None):
        raise ValidationError("preference pairs need both chosen= and rejected= columns")
    prompts_col = _text_column(get, names, prompt, "prompt")
    if not prompts_col:
        raise ValidationError("ds has no rows")
    index: dict[str, int] = {}
    out_prompts: list[str] = []
    out_responses: list[list[str]] = []
    seen: list[dict[str, int]] = []

    def prompt_index(p):
        if p not in index:
            index[p] = len(out_prompts)
            out_prompts.append(p)
            out_responses.append([])
            seen.append({})
        return index[p]

    def add(i, r, row, duplicate_ok):
        if r in seen[i]:
            if not duplicate_ok:
                raise ValidationError(f"row {row} repeats the (prompt, response) pair of an "
                                      f"earlier row (prompt {out_prompts[i][:60]!r}); drop "
                                      "duplicate rows first")
            return seen[i][r]
        seen[i][r] = len(out_responses[i])
        out_responses[i].append(r)
        return seen[i][r]

    if responses is not None:
        col = _text_column(get, names, responses, "responses", allow_lists=True)
        for row, (p, r) in enumerate(zip(prompts_col, col)):
            i = prompt_index(p)
            for item in ([r] if isinstance(r, str) else list(r)):
                add(i, str(item), row, duplicate_ok=False)
        empty = [out_prompts[i] for i, g in enumerate(out_responses) if not g]
        if empty:
            raise ValidationError(f"{len(empty)} prompt(s) have no responses (empty lists), "
                                  f"e.g. {empty[0][:60]!r}")
        return PromptResponses(out_prompts, out_responses, None)
    col_c = _text_column(get, names, chosen, "chosen")
    col_r = _text_column(get, names, rejected, "rejected")
    pairs = np.empty((len(prompts_col), 3), dtype=np.int64)
    for row, (p, c, r) in enumerate(zip(prompts_col, col_c, col_r)):
        i = prompt_index(p)
        pairs[row] = (i, add(i, c, row, True), add(i, r, row, True))
    return PromptResponses(out_prompts, out_responses, pairs)
