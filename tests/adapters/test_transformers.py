"""starc.adapters.transformers: reward models and DPO implicit rewards as (n, m) arrays.

Everything is offline: the tokenizers are trained here on a few sentences with the
``tokenizers`` library, the models are built from tiny configs (2 layers, width 32)
with fixed seeds. The reference for every score is the model run by hand on one pair's
text alone (no padding, batch of one).
"""

from __future__ import annotations

import copy
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from starc.adapters.transformers import (SEPARATOR, PromptResponses,  # noqa: E402
                                         dpo_implicit_reward, format_pair, from_dataset,
                                         score_responses)
from starc.cli import main  # noqa: E402
from starc.exceptions import MissingDependencyError, StarcError, ValidationError  # noqa: E402

CORPUS = [
    "the cat sat on the mat and looked at the dog",
    "a dog ran in the park with a red ball",
    "what is two plus two? two plus two is four.",
    "the answer is four, not five or three",
    "please write a short poem about the sea and the sky",
    "the sea is blue and the sky is grey today",
    "user assistant system hello thanks sure here is",
]
WORDS = " ".join(CORPUS).replace("?", " ").replace(",", " ").replace(".", " ").split()
TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
            "{% if add_generation_prompt %}<s>assistant: {% endif %}")


def make_tokenizer(*, template=False, padding_side="right", pad=False, post=False):
    """A byte-level BPE tokenizer trained on CORPUS, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400,
                                  special_tokens=["<pad>", "<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    if post:  # BERT-style: <s> A </s> [B </s>]
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> $B </s>",
            special_tokens=[("<s>", 2), ("</s>", 3)])
    kw = dict(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
              padding_side=padding_side)
    if pad:
        kw["pad_token"] = "<pad>"
    out = transformers.PreTrainedTokenizerFast(**kw)
    if template:
        out.chat_template = TEMPLATE
    return out


def gpt2_config(**kw):
    return transformers.GPT2Config(vocab_size=400, n_layer=2, n_embd=32, n_head=2,
                                   n_positions=512, bos_token_id=2, eos_token_id=3, **kw)


def llama_config(**kw):
    return transformers.LlamaConfig(vocab_size=400, hidden_size=32, intermediate_size=64,
                                    num_hidden_layers=2, num_attention_heads=2,
                                    num_key_value_heads=2, max_position_embeddings=512,
                                    pad_token_id=0, bos_token_id=2, eos_token_id=3, **kw)


def seeded(cls, config, seed):
    torch.manual_seed(seed)
    return cls(config).eval()


@pytest.fixture(scope="module")
def gpt2_tok():
    return make_tokenizer()                       # GPT-2 style: no pad token, no template


@pytest.fixture(scope="module")
def llama_tok():
    return make_tokenizer(template=True, padding_side="left", pad=True)


@pytest.fixture(scope="module")
def gpt2_rm():
    return seeded(transformers.GPT2ForSequenceClassification, gpt2_config(num_labels=1), 0)


@pytest.fixture(scope="module")
def llama_rm():
    return seeded(transformers.LlamaForSequenceClassification, llama_config(num_labels=1), 1)


@pytest.fixture(scope="module")
def bert_rm():
    cfg = transformers.BertConfig(vocab_size=400, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=64,
                                  max_position_embeddings=512, num_labels=1, pad_token_id=0,
                                  initializer_range=0.5)
    return seeded(transformers.BertForSequenceClassification, cfg, 2)


@pytest.fixture(scope="module")
def data():
    """12 prompts with 1-5 responses of 1-60 words each (ragged, mixed lengths)."""
    rng = np.random.default_rng(0)
    prompts, responses = [], []
    for i in range(12):
        prompts.append(" ".join(rng.choice(WORDS, size=rng.integers(2, 12))) + "?")
        responses.append([" ".join(rng.choice(WORDS, size=rng.integers(1, 60)))
                          for _ in range(rng.integers(1, 6))])
    return prompts, responses


def by_hand(model, tokenizer, prompts, responses, *, label=0, special=None, fmt=None):
    """The model on one pair's text at a time: no batching, no padding."""
    special = (fmt is not None or not tokenizer.chat_template) if special is None else special
    out = []
    with torch.no_grad():
        for p, group in zip(prompts, responses):
            row = []
            for r in group:
                text = format_pair(tokenizer, p, r, format=fmt)
                args = text if isinstance(text, tuple) else (text,)
                enc = tokenizer(*args, add_special_tokens=special, return_tensors="pt")
                row.append(float(model(**enc).logits[0, label]))
            out.append(row)
    return out


def assert_matches(scores, mask, expected, atol):
    for i, row in enumerate(expected):
        assert mask[i].sum() == len(row) and mask[i, :len(row)].all()
        np.testing.assert_allclose(scores[i, :len(row)], row, rtol=0, atol=atol)
        assert np.all(scores[i, len(row):] == 0.0)


# ------------------------------------------------------------------ score_responses


@pytest.mark.parametrize("which", ["gpt2", "llama", "bert"])
def test_scores_equal_the_model_on_each_pair_alone(which, request, data):
    model = request.getfixturevalue(f"{which}_rm")
    tok = request.getfixturevalue("llama_tok" if which == "llama" else "gpt2_tok")
    if which == "bert":
        tok = make_tokenizer(post=True, pad=True)
    prompts, responses = data
    scores, mask = score_responses(model, tok, prompts, responses, batch_size=8)
    assert scores.shape == (12, 5) and scores.dtype == np.float64 and mask.dtype == bool
    assert_matches(scores, mask, by_hand(model, tok, prompts, responses), atol=1e-5)
    assert np.ptp(scores[mask]) > 1e-3          # the scores differ: not a constant head


def test_chat_template_format_is_the_conversation(llama_tok):
    assert format_pair(llama_tok, "hi there", "hello") == \
        "<s>user: hi there</s><s>assistant: hello</s>"
    gpt2 = make_tokenizer()
    assert format_pair(gpt2, "hi there", "hello") == "hi there" + SEPARATOR + "hello"


@pytest.mark.parametrize("which", ["gpt2", "llama"])
def test_batch_size_does_not_change_scores(which, request, data):
    model = request.getfixturevalue(f"{which}_rm")
    tok = request.getfixturevalue(f"{which}_tok")
    prompts, responses = data
    runs = [score_responses(model, tok, prompts, responses, batch_size=b) for b in (1, 3, 8)]
    for scores, mask in runs[1:]:
        np.testing.assert_array_equal(mask, runs[0][1])
        np.testing.assert_allclose(scores, runs[0][0], rtol=0, atol=1e-5)


def test_padding_side_does_not_change_scores(gpt2_rm, data):
    """GPT-2 has absolute positions: a naive left-padded batch scores shifted tokens."""
    prompts, responses = data
    left = make_tokenizer(padding_side="left", pad=True)
    right = make_tokenizer(padding_side="right", pad=True)
    s_left, _ = score_responses(gpt2_rm, left, prompts, responses, batch_size=8)
    s_right, _ = score_responses(gpt2_rm, right, prompts, responses, batch_size=8)
    np.testing.assert_allclose(s_left, s_right, rtol=0, atol=1e-5)
    # the hazard is real here: the same batch through model(**tokenizer(padding=True)) with
    # left padding (and pad_token_id set on a copy of the config) gives other numbers
    texts = [format_pair(left, prompts[0], r) for r in responses[0] + responses[1]]
    naive_model = copy.deepcopy(gpt2_rm)
    naive_model.config.pad_token_id = left.pad_token_id
    with torch.no_grad():
        naive = naive_model(**left(texts, padding=True, return_tensors="pt")).logits[:, 0]
    ours, _ = score_responses(gpt2_rm, left, [prompts[0]], [responses[0] + responses[1]])
    assert not np.allclose(naive.numpy(), ours[0], atol=1e-3)
    assert gpt2_rm.config.pad_token_id is None          # the user's model is untouched
    assert left.padding_side == "left"


def test_model_and_tokenizer_are_not_modified(gpt2_rm, data):
    tok = make_tokenizer()
    gpt2_rm.train()
    try:
        score_responses(gpt2_rm, tok, *data, batch_size=4)
        assert gpt2_rm.training                          # restored
    finally:
        gpt2_rm.eval()
    assert tok.pad_token is None and gpt2_rm.config.pad_token_id is None


def test_pad_token_id_in_config_follows_the_models_rule(data):
    """With config.pad_token_id set, the score is read at the last non-pad token."""
    tok = make_tokenizer(pad=True)
    model = seeded(transformers.GPT2ForSequenceClassification,
                   gpt2_config(num_labels=1, pad_token_id=tok.convert_tokens_to_ids("?")), 3)
    prompts, _ = data
    responses = [["the cat?", "sure here is the sea?"], ["a dog", "four?"]]
    scores, mask = score_responses(model, tok, prompts[:2], responses, batch_size=4)
    assert_matches(scores, mask, by_hand(model, tok, prompts[:2], responses), atol=1e-5)


def test_path_input_and_dtype(tmp_path, llama_rm, llama_tok, data):
    llama_rm.save_pretrained(tmp_path / "rm")
    llama_tok.save_pretrained(tmp_path / "rm")
    prompts, responses = data
    expected, mask = score_responses(llama_rm, llama_tok, prompts, responses)
    got, mask2 = score_responses(str(tmp_path / "rm"), None, prompts, responses)
    np.testing.assert_array_equal(mask, mask2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    half, _ = score_responses(tmp_path / "rm", tmp_path / "rm", prompts, responses,
                              dtype="bfloat16")
    np.testing.assert_allclose(half[mask], expected[mask], atol=0.1)
    with pytest.raises(ValidationError, match="dtype applies when model is a path"):
        score_responses(llama_rm, llama_tok, prompts, responses, dtype="bfloat16")
    with pytest.raises(ValidationError, match="could not be loaded"):
        score_responses(str(tmp_path / "nothing-here"), llama_tok, prompts, responses)
    with pytest.raises(ValidationError, match="tokenizer is required"):
        score_responses(llama_rm, None, prompts, responses)


def test_ragged_responses_give_the_mask():
    tok = make_tokenizer()
    model = seeded(transformers.GPT2ForSequenceClassification, gpt2_config(num_labels=1), 4)
    prompts = ["the cat", "a dog", "the sea"]
    responses = [["sat"], ["ran", "in the park", "sat on the mat", "is blue"], ["is grey", "x"]]
    scores, mask = score_responses(model, tok, prompts, responses, batch_size=3)
    np.testing.assert_array_equal(mask, [[1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    assert_matches(scores, mask, by_hand(model, tok, prompts, responses), atol=1e-5)


def test_multi_logit_head_needs_a_label(data):
    tok = make_tokenizer()
    cfg = gpt2_config(num_labels=3, id2label={0: "bad", 1: "ok", 2: "good"},
                      label2id={"bad": 0, "ok": 1, "good": 2})
    model = seeded(transformers.GPT2ForSequenceClassification, cfg, 5)
    prompts, responses = data[0][:3], data[1][:3]
    with pytest.raises(ValidationError, match="3 outputs per pair.*label="):
        score_responses(model, tok, prompts, responses)
    by_index, mask = score_responses(model, tok, prompts, responses, label=2, batch_size=3)
    assert_matches(by_index, mask, by_hand(model, tok, prompts, responses, label=2), 1e-5)
    by_name, _ = score_responses(model, tok, prompts, responses, label="good", batch_size=3)
    np.testing.assert_array_equal(by_name, by_index)
    with pytest.raises(ValidationError, match=r"label must lie in \[0, 3\)"):
        score_responses(model, tok, prompts, responses, label=3)
    with pytest.raises(ValidationError, match="not one of the model's labels"):
        score_responses(model, tok, prompts, responses, label="great")


def test_format_callable_and_text_pairs(bert_rm, data):
    prompts, responses = data[0][:4], data[1][:4]
    tok = make_tokenizer(post=True, pad=True)

    def fmt(p, r):
        return f"question: {p} answer: {r}"

    scores, mask = score_responses(bert_rm, tok, prompts, responses, format=fmt, batch_size=3)
    assert_matches(scores, mask, by_hand(bert_rm, tok, prompts, responses, fmt=fmt), 1e-5)
    pairs, _ = score_responses(bert_rm, tok, prompts, responses, format=lambda p, r: (p, r))
    assert_matches(pairs, mask, by_hand(bert_rm, tok, prompts, responses,
                                        fmt=lambda p, r: (p, r)), 1e-5)
    with pytest.raises(ValidationError, match="must return a string"):
        score_responses(bert_rm, tok, prompts, responses, format=lambda p, r: 3)


def test_truncation_warns_with_the_count_or_refuses(gpt2_rm, data):
    tok = make_tokenizer()
    prompts, responses = data
    lengths = [len(tok(format_pair(tok, p, r))["input_ids"])
               for p, g in zip(prompts, responses) for r in g]
    n_long = sum(n > 24 for n in lengths)
    assert 0 < n_long < len(lengths)
    with pytest.warns(UserWarning, match=f"{n_long} of {len(lengths)} pairs were longer than "
                                         "24 tokens and were truncated"):
        scores, mask = score_responses(gpt2_rm, tok, prompts, responses, max_length=24)
    # a truncated pair scores as its first 24 tokens (right truncation) alone
    k = int(np.argmax(lengths))
    i = next(i for i in range(12) if k < sum(len(g) for g in responses[:i + 1]))
    j = k - sum(len(g) for g in responses[:i])
    ids = tok(format_pair(tok, prompts[i], responses[i][j]), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        ref = float(gpt2_rm(input_ids=ids[:, :24]).logits[0, 0])
    assert abs(scores[i, j] - ref) < 1e-5
    with pytest.raises(ValidationError, match=f"{n_long} of {len(lengths)} pairs are longer "
                                              "than max_length=24"):
        score_responses(gpt2_rm, tok, prompts, responses, max_length=24, truncate=False)
    with pytest.raises(ValidationError, match="exceeds the model's context of 512"):
        score_responses(gpt2_rm, tok, prompts, responses, max_length=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score_responses(gpt2_rm, tok, prompts[:1], responses[:1])   # no warning when short


@pytest.mark.parametrize("side", ["left", "right"])
def test_truncation_side_is_the_tokenizers(side, gpt2_rm, gpt2_lms, data):
    """Cut pairs score as their kept tokens alone; DPO sums the kept response tokens."""
    tok = make_tokenizer()
    tok.truncation_side = side
    prompts, responses = data[0][:4], data[1][:4]
    limit = 20
    with pytest.warns(UserWarning, match="truncated"):
        scores, mask = score_responses(gpt2_rm, tok, prompts, responses, max_length=limit)
    policy, reference = gpt2_lms
    with pytest.warns(UserWarning, match="truncated"):
        dpo, _ = dpo_implicit_reward(policy, reference, tok, prompts, responses, beta=1.0,
                                     max_length=limit)
    n_cut = 0
    for i, (p, group) in enumerate(zip(prompts, responses)):
        head_ids = tok(p + SEPARATOR)["input_ids"]
        head = len(head_ids)
        for j, r in enumerate(group):
            ids = tok(format_pair(tok, p, r))["input_ids"]
            assert ids[:head] == head_ids               # no BPE merge across the "\n"
            cut = max(0, len(ids) - limit)
            n_cut += cut > 0
            kept = ids[cut:] if side == "left" else ids[:limit]
            start = max(1, head - cut) if side == "left" else head   # first response token
            x = torch.tensor([kept])
            with torch.no_grad():
                assert abs(scores[i, j] - float(gpt2_rm(input_ids=x).logits[0, 0])) < 1e-5
                lp = [torch.log_softmax(m(input_ids=x).logits[0].double(), -1)
                      for m in (policy, reference)]
            expected = sum(float(lp[0][t - 1, kept[t]] - lp[1][t - 1, kept[t]])
                           for t in range(start, len(kept)))
            assert abs(dpo[i, j] - expected) < 1e-5
    assert n_cut > 0


def test_series_and_arrays_are_accepted(gpt2_rm, gpt2_tok, data):
    pd = pytest.importorskip("pandas")
    prompts, responses = data
    expected, _ = score_responses(gpt2_rm, gpt2_tok, prompts, responses)
    got, _ = score_responses(gpt2_rm, gpt2_tok, pd.Series(prompts),
                             [np.array(g) for g in responses])
    np.testing.assert_array_equal(got, expected)


def test_progress_bar(gpt2_rm, gpt2_tok, data, capsys):
    score_responses(gpt2_rm, gpt2_tok, *data, batch_size=8, progress=True)
    assert "scoring" in capsys.readouterr().err


def test_progress_bars_close_after_each_loop_and_on_error(gpt2_rm, gpt2_lms, gpt2_tok, data,
                                                          capsys, monkeypatch):
    """One progress context serves scoring and DPO rewards; it closes its bar also when
    a batch fails."""
    from tqdm.auto import tqdm

    import starc.adapters.transformers as tf

    policy, reference = gpt2_lms
    dpo_implicit_reward(policy, reference, gpt2_tok, *data, beta=1.0, batch_size=8,
                        progress=True)
    assert "DPO rewards" in capsys.readouterr().err
    assert len(getattr(tqdm, "_instances", ())) == 0
    calls = []
    forward = tf._forward_scores

    def fail_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ValidationError("batch 2 failed")
        return forward(*args, **kwargs)

    monkeypatch.setattr(tf, "_forward_scores", fail_second)
    with pytest.raises(ValidationError, match="batch 2 failed"):
        score_responses(gpt2_rm, gpt2_tok, *data, batch_size=4, progress=True)
    assert len(getattr(tqdm, "_instances", ())) == 0


def test_bad_input_raises_validation_error(gpt2_rm, gpt2_tok):
    cases = [
        (([], []), "prompts is empty"),
        ((["a", "b"], [["x"]]), "2 prompts and 1 response lists"),
        ((["a"], ["x"]), r"responses\[0\] is a string"),
        ((["a"], [[]]), r"responses\[0\] is empty"),
        (("a", [["x"]]), "prompts must be a list of strings"),
        ((["a", 3], [["x"], ["y"]]), r"prompts\[1\] must be a string"),
        ((["a"], [["x", None]]), r"responses\[0\]\[1\] must be a string"),
    ]
    for (prompts, responses), match in cases:
        with pytest.raises(ValidationError, match=match):
            score_responses(gpt2_rm, gpt2_tok, prompts, responses)
    with pytest.raises(ValidationError, match="batch_size"):
        score_responses(gpt2_rm, gpt2_tok, ["a"], [["b"]], batch_size=0)
    with pytest.raises(ValidationError, match="device"):
        score_responses(gpt2_rm, gpt2_tok, ["a"], [["b"]], device="not-a-device")
    with pytest.raises(ValidationError, match="lives on cpu"):
        score_responses(gpt2_rm, gpt2_tok, ["a"], [["b"]], device="cuda")


def test_a_model_without_a_score_head_is_refused(gpt2_tok):
    lm = seeded(transformers.GPT2LMHeadModel, gpt2_config(), 6)
    with pytest.raises(ValidationError, match="has no score head.*AutoModelForSequence"):
        score_responses(lm, gpt2_tok, ["a"], [["b"]])
    with pytest.raises(ValidationError, match="must be a transformers model"):
        score_responses(object(), gpt2_tok, ["a"], [["b"]])


# ------------------------------------------------------------------ DPO


@pytest.fixture(scope="module")
def gpt2_lms():
    return (seeded(transformers.GPT2LMHeadModel, gpt2_config(), 10),
            seeded(transformers.GPT2LMHeadModel, gpt2_config(), 11))


@pytest.fixture(scope="module")
def llama_lms():
    return (seeded(transformers.LlamaForCausalLM, llama_config(), 12),
            seeded(transformers.LlamaForCausalLM, llama_config(), 13))


def dpo_by_hand(policy, reference, tok, prompts, responses, beta):
    """beta * sum over response tokens of log pi - log pi_ref, one pair at a time.

    The response tokens are found from character offsets: those ending after the rendered
    prompt (a token merged across the boundary counts as response).
    """
    template = bool(tok.chat_template)
    out = []
    for p, group in zip(prompts, responses):
        if template:
            head = tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                           add_generation_prompt=True)
        else:
            head = p + SEPARATOR
        row = []
        for r in group:
            full = format_pair(tok, p, r)
            assert full.startswith(head)
            enc = tok(full, add_special_tokens=not template, return_offsets_mapping=True)
            ids = torch.tensor([enc["input_ids"]])
            resp = [t for t, (_, end) in enumerate(enc["offset_mapping"]) if end > len(head)]
            total = 0.0
            for model, sign in ((policy, 1.0), (reference, -1.0)):
                with torch.no_grad():
                    lp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
                total += sign * sum(float(lp[t - 1, ids[0, t]]) for t in resp)
            row.append(beta * total)
        out.append(row)
    return out


@pytest.mark.parametrize("which", ["gpt2", "llama"])
def test_dpo_reward_equals_the_sum_over_response_tokens(which, request, data):
    policy, reference = request.getfixturevalue(f"{which}_lms")
    tok = request.getfixturevalue(f"{which}_tok")
    prompts, responses = data[0][:6], data[1][:6]
    scores, mask = dpo_implicit_reward(policy, reference, tok, prompts, responses, beta=0.5,
                                       batch_size=4)
    expected = dpo_by_hand(policy, reference, tok, prompts, responses, 0.5)
    assert_matches(scores, mask, expected, atol=1e-5)
    assert np.ptp(scores[mask]) > 1e-2


def test_dpo_prompt_tokens_are_masked_out(gpt2_lms, gpt2_tok, data):
    """Chain rule: log p(prompt + response) - log p(prompt) is the response tokens' sum.

    The sequence log-likelihoods are torch's cross entropy of tokens 1..T-1 (summed),
    a second implementation; models and both computations run in float64, so they
    agree to round-off.
    """
    policy, reference = (copy.deepcopy(m).double() for m in gpt2_lms)

    def loglik(model, text):
        ids = gpt2_tok(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0]
            return -float(torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:],
                                                            reduction="sum"))

    prompts, responses = data[0][:4], data[1][:4]
    got, _ = dpo_implicit_reward(policy, reference, gpt2_tok, prompts, responses, beta=2.0)
    for i, (p, group) in enumerate(zip(prompts, responses)):
        head = p + SEPARATOR
        for j, r in enumerate(group):
            # no BPE merge across the "\n" boundary here: the prompt's tokens are a prefix
            full_ids = gpt2_tok(head + r)["input_ids"]
            head_ids = gpt2_tok(head)["input_ids"]
            assert full_ids[:len(head_ids)] == head_ids
            expected = 2.0 * ((loglik(policy, head + r) - loglik(policy, head))
                              - (loglik(reference, head + r) - loglik(reference, head)))
            assert abs(got[i, j] - expected) < 1e-9
    empty, _ = dpo_implicit_reward(policy, reference, gpt2_tok, prompts[:2], [[""], [""]],
                                   beta=1.0)
    np.testing.assert_array_equal(empty, [[0.0], [0.0]])     # no response token, no reward


def test_dpo_reward_is_zero_for_the_reference_and_linear_in_beta(gpt2_lms, gpt2_tok, data):
    policy, reference = gpt2_lms
    prompts, responses = data
    zero, mask = dpo_implicit_reward(reference, reference, gpt2_tok, prompts, responses,
                                     beta=0.3)
    assert np.all(zero == 0.0) and mask.sum() == sum(map(len, responses))
    clone, _ = dpo_implicit_reward(copy.deepcopy(reference), reference, gpt2_tok, prompts,
                                   responses, beta=0.3)
    np.testing.assert_allclose(clone, 0.0, atol=1e-9)
    one, _ = dpo_implicit_reward(policy, reference, gpt2_tok, prompts, responses, beta=1.0)
    for beta in (0.1, 2.5):
        got, _ = dpo_implicit_reward(policy, reference, gpt2_tok, prompts, responses,
                                     beta=beta)
        np.testing.assert_allclose(got, beta * one, rtol=1e-12, atol=0)
    swapped, _ = dpo_implicit_reward(reference, policy, gpt2_tok, prompts, responses,
                                     beta=1.0)
    np.testing.assert_allclose(swapped, -one, rtol=1e-12, atol=0)


@pytest.mark.parametrize("which", ["gpt2", "llama"])
def test_dpo_batch_size_does_not_change_rewards(which, request, data):
    policy, reference = request.getfixturevalue(f"{which}_lms")
    tok = request.getfixturevalue(f"{which}_tok")
    runs = [dpo_implicit_reward(policy, reference, tok, *data, beta=1.0, batch_size=b)[0]
            for b in (1, 3, 8)]
    for run in runs[1:]:
        np.testing.assert_allclose(run, runs[0], rtol=0, atol=1e-5)


def test_dpo_bad_input(gpt2_lms, gpt2_tok, gpt2_rm):
    policy, reference = gpt2_lms
    for beta in (0.0, -1.0, float("nan")):
        with pytest.raises(ValidationError, match="beta"):
            dpo_implicit_reward(policy, reference, gpt2_tok, ["a"], [["b"]], beta=beta)
    with pytest.raises(ValidationError, match="sequence classifier, not a language model"):
        dpo_implicit_reward(gpt2_rm, reference, gpt2_tok, ["a"], [["b"]], beta=1.0)
    with pytest.raises(ValidationError, match="prompts is empty"):
        dpo_implicit_reward(policy, reference, gpt2_tok, [], [], beta=1.0)
    with pytest.raises(ValidationError, match="no prompt tokens before the response"):
        dpo_implicit_reward(policy, reference, gpt2_tok, ["a"], [["b"]], beta=1.0,
                            format=lambda p, r: r)


def test_dpo_path_input(tmp_path, llama_lms, llama_tok, data):
    policy, reference = llama_lms
    for name, m in (("policy", policy), ("ref", reference)):
        m.save_pretrained(tmp_path / name)
    llama_tok.save_pretrained(tmp_path / "policy")
    prompts, responses = data[0][:3], data[1][:3]
    expected, _ = dpo_implicit_reward(policy, reference, llama_tok, prompts, responses,
                                      beta=0.2)
    got, _ = dpo_implicit_reward(str(tmp_path / "policy"), str(tmp_path / "ref"), None,
                                 prompts, responses, beta=0.2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


# ------------------------------------------------------------------ data


def long_rows():
    return {"prompt": ["p1", "p1", "p2", "p1"], "response": ["a", "b", "c", "NA"],
            "score": [1.0, 2.0, 3.0, 4.0]}


def pair_rows():
    return {"prompt": ["p1", "p2", "p1"], "chosen": ["a", "c", "b"],
            "rejected": ["b", "4", "NA"]}


def frames(rows):
    datasets = pytest.importorskip("datasets")
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")

    return {"datasets": datasets.Dataset.from_dict(rows), "pandas": pd.DataFrame(rows),
            "polars": pl.DataFrame(rows), "pyarrow": pa.table(rows)}


@pytest.mark.parametrize("kind", ["datasets", "pandas", "polars", "pyarrow"])
def test_from_dataset_both_layouts(kind):
    long = from_dataset(frames(long_rows())[kind], responses="response")
    assert isinstance(long, PromptResponses)
    assert long.prompts == ["p1", "p2"]
    assert long.responses == [["a", "b", "NA"], ["c"]] and long.pairs is None
    assert from_dataset(frames(long_rows())[kind]) == long          # "response" by default
    pairs = from_dataset(frames(pair_rows())[kind], chosen="chosen", rejected="rejected")
    assert pairs.prompts == ["p1", "p2"]
    assert pairs.responses == [["a", "b", "NA"], ["c", "4"]]
    np.testing.assert_array_equal(pairs.pairs, [[0, 0, 1], [1, 0, 1], [0, 1, 2]])
    assert pairs.pairs.dtype == np.int64
    again = from_dataset(frames(pair_rows())[kind])                  # chosen/rejected found
    np.testing.assert_array_equal(again.pairs, pairs.pairs)


def test_from_dataset_pairs_index_the_scores():
    """pairs index the (n, m) arrays: chosen scores read back the chosen column's text."""
    data = from_dataset(frames(pair_rows())["pandas"])
    for row, (i, c, r) in enumerate(data.pairs):
        assert data.prompts[i] == pair_rows()["prompt"][row]
        assert data.responses[i][c] == pair_rows()["chosen"][row]
        assert data.responses[i][r] == pair_rows()["rejected"][row]


def test_from_dataset_list_cells():
    import pandas as pd

    df = pd.DataFrame({"prompt": ["p1", "p2"], "completions": [["a", "b"], ["c"]]})
    out = from_dataset(df, responses="completions")
    assert out.responses == [["a", "b"], ["c"]]


def test_from_dataset_bad_input():
    import datasets
    import pandas as pd

    df = pd.DataFrame(long_rows())
    with pytest.raises(ValidationError, match="column 'answer' is not in the data"):
        from_dataset(df, responses="answer")
    with pytest.raises(ValidationError, match="not both"):
        from_dataset(df, responses="response", chosen="response")
    with pytest.raises(ValidationError, match="both chosen= and rejected="):
        from_dataset(pd.DataFrame(pair_rows()), chosen="chosen")
    dup = pd.DataFrame({"prompt": ["p", "p"], "response": ["a", "a"]})
    with pytest.raises(ValidationError, match="row 1 repeats"):
        from_dataset(dup)
    with pytest.raises(ValidationError, match="row 1 of column 'response'.*missing"):
        from_dataset(pd.DataFrame({"prompt": ["p", "q"], "response": ["a", None]}))
    with pytest.raises(ValidationError, match="pick a split"):
        from_dataset(datasets.DatasetDict({"train": datasets.Dataset.from_dict(long_rows())}))
    with pytest.raises(ValidationError, match="must be a datasets.Dataset"):
        from_dataset({"prompt": ["p"]})
    with pytest.raises(ValidationError, match="name the response columns"):
        from_dataset(pd.DataFrame({"prompt": ["p"], "text": ["a"]}))
    with pytest.raises(ValidationError, match="no rows"):
        from_dataset(pd.DataFrame({"prompt": [], "response": []}))


# ------------------------------------------------------------------ optional imports


def test_importing_the_module_imports_neither_torch_nor_transformers():
    code = ("import sys, starc.adapters, starc.adapters.transformers, starc.cli; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_transformers_gives_the_pip_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)   # makes the import fail
    for call in (lambda: score_responses(None, None, ["a"], [["b"]]),
                 lambda: dpo_implicit_reward(None, None, None, ["a"], [["b"]], beta=1.0)):
        with pytest.raises(MissingDependencyError, match=r'pip install "starc\[llm\]"') as err:
            call()
        assert "torch==2.13.0" in str(err.value) and isinstance(err.value, ImportError)


# ------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def saved(tmp_path_factory, gpt2_rm, gpt2_lms):
    root = tmp_path_factory.mktemp("models")
    tok = make_tokenizer()
    gpt2_rm.save_pretrained(root / "rm")
    tok.save_pretrained(root / "rm")
    for name, m in zip(("policy", "ref"), gpt2_lms):
        m.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    return root, tok


def test_cli_score_writes_the_long_table(saved, tmp_path, capsys):
    import pandas as pd

    root, tok = saved
    rows = pair_rows()
    pd.DataFrame(rows).to_csv(tmp_path / "data.csv", index=False)
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"scores.{suffix}"
        assert main(["bandit", "score", "--model", str(root / "rm"), "--data",
                     str(tmp_path / "data.csv"), "--output", str(out)]) == 0
        table = pd.read_csv(out, keep_default_na=False) if suffix == "csv" \
            else pd.read_parquet(out)
        assert list(table.columns) == ["prompt_id", "response_id", "prompt", "response",
                                       "score"]
        data = from_dataset(pd.DataFrame(rows))
        scores, mask = score_responses(str(root / "rm"), None, data.prompts, data.responses)
        assert len(table) == mask.sum()
        for rec in table.itertuples():
            assert data.prompts[rec.prompt_id] == rec.prompt
            assert data.responses[rec.prompt_id][rec.response_id] == rec.response
            assert abs(rec.score - scores[rec.prompt_id, rec.response_id]) < 1e-9
    # the DPO column goes into the same file
    assert main(["bandit", "score", "--model", str(root / "policy"), "--dpo-reference",
                 str(root / "ref"), "--beta", "0.1", "--data", str(tmp_path / "data.csv"),
                 "--output", str(tmp_path / "scores.parquet"), "--append"]) == 0
    table = pd.read_parquet(tmp_path / "scores.parquet")
    assert list(table.columns)[-2:] == ["score", "dpo_reward"]
    dpo, _ = dpo_implicit_reward(str(root / "policy"), str(root / "ref"), None, data.prompts,
                                 data.responses, beta=0.1)
    np.testing.assert_allclose(table["dpo_reward"], dpo[mask], atol=1e-9)
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "scores.csv",
                                                          "scores.parquet"]   # no temp files


@pytest.mark.parametrize("extra, message", [
    (["--dpo-reference", "REF"], "needs --beta"),
    (["--beta", "0.1"], "--beta applies only with --dpo-reference"),
    (["--output", "x.txt"], "must end in one of .csv, .parquet"),
    (["--output", "no/such/folder/out.csv"], "its folder"),
    (["--data", "missing.csv"], "does not exist"),
    (["--model", "no-such-model-dir"], "could not be loaded"),
    (["--response", "answer"], "column 'answer' is not in the data"),
])
def test_cli_errors_are_one_line(saved, tmp_path, capsys, monkeypatch, extra, message):
    import pandas as pd

    root, _ = saved
    monkeypatch.chdir(tmp_path)
    pd.DataFrame(long_rows()).to_csv("data.csv", index=False)
    args = {"--model": str(root / "rm"), "--data": "data.csv", "--output": "out.csv"}
    for k, v in zip(extra[::2], extra[1::2]):
        args[k] = v
    argv = ["bandit", "score"] + [x for kv in args.items() for x in kv]
    if len(extra) % 2:
        argv += extra[-1:]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


def test_cli_refuses_to_overwrite_and_checks_append(saved, tmp_path, capsys):
    import pandas as pd

    root, _ = saved
    pd.DataFrame(long_rows()).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame(pair_rows()).to_csv(tmp_path / "b.csv", index=False)
    out = str(tmp_path / "s.csv")
    base = ["bandit", "score", "--model", str(root / "rm"), "--output", out]
    assert main(base + ["--data", str(tmp_path / "a.csv")]) == 0
    assert main(base + ["--data", str(tmp_path / "a.csv")]) == 1
    assert "exists; pass --append" in capsys.readouterr().err
    assert main(base + ["--data", str(tmp_path / "a.csv"), "--append"]) == 1
    assert "already has a column 'score'" in capsys.readouterr().err
    assert main(base + ["--data", str(tmp_path / "b.csv"), "--append", "--name", "s2"]) == 1
    assert "other (prompt, response) rows" in capsys.readouterr().err


def test_self_check_catches_a_head_starc_does_not_understand(gpt2_tok):
    """A model whose forward is not score(last hidden state) is refused, not misread."""

    class Shifted(transformers.GPT2ForSequenceClassification):
        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            out.logits = out.logits + 1.0
            return out

    model = seeded(Shifted, gpt2_config(num_labels=1), 7)
    with pytest.raises(StarcError, match="differs from the model's own forward pass"):
        score_responses(model, gpt2_tok, ["the cat"], [["sat", "sat on the mat"]])
