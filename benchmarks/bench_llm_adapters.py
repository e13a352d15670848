"""Speed of the LLM adapters (``starc.adapters.transformers``), ratios measured in one run.

Measures ``score_responses`` on a tiny GPT-2 reward model (2 layers, width 32, built from
a config: nothing is downloaded) over 2,000 (prompt, response) pairs of mixed lengths
(10-200 tokens, uniform), against the plain loop a user would write::

    for batch in chunks(texts, 16):                       # dataset order
        model(**tokenizer(batch, padding=True, return_tensors="pt"))

with the same batch size, under ``torch.inference_mode()`` for both. Target: throughput
of ``score_responses`` >= 1.5x the loop's (its length-sorted batches pad less). The two
must give the same scores (the loop pads on the right and the model knows its pad
token; the largest difference is printed). ``dpo_implicit_reward`` (two causal LMs) is
timed on the same pairs for reference, without a target.

The tokenizer is a word-level one, so a text of k words is exactly k tokens. torch runs
on one thread (``torch.set_num_threads(1)``) so that the timings are not at the mercy of
other jobs on a shared machine; each contender is timed in its own loop, rounds
alternate, and medians are compared.

Run ``python benchmarks/bench_llm_adapters.py [--quick]``; prints the table and writes
``benchmarks/results/bench_llm_adapters.json`` (atomically).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import timed, write_json  # noqa: E402

import numpy as np  # noqa: E402

N_WORDS = 500



def build(torch, transformers, seed=0):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "<unk>": 1}
    vocab.update({f"w{i}": i + 2 for i in range(N_WORDS)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>",
                                                     pad_token="<pad>")
    cfg = dict(vocab_size=len(vocab), n_layer=2, n_embd=32, n_head=2, n_positions=256,
               pad_token_id=0, bos_token_id=None, eos_token_id=None)
    torch.manual_seed(seed)
    rm = transformers.GPT2ForSequenceClassification(
        transformers.GPT2Config(num_labels=1, **cfg)).eval()
    policy = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg)).eval()
    reference = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg)).eval()
    return tokenizer, rm, policy, reference


def make_pairs(n_prompts, per_prompt, seed=0):
    """Prompts of 5 words; responses so that a pair has 10-200 tokens (uniform)."""
    rng = np.random.default_rng(seed)

    def words(k):
        return " ".join(f"w{i}" for i in rng.integers(0, N_WORDS, size=k))

    prompts = [words(5) for _ in range(n_prompts)]
    responses = [[words(int(rng.integers(5, 196))) for _ in range(per_prompt)]
                 for _ in range(n_prompts)]
    return prompts, responses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 pairs, one round")
    parser.add_argument("--output", default=os.path.join("benchmarks", "results",
                                                         "bench_llm_adapters.json"))
    args = parser.parse_args(argv)
    try:
        import torch
        import transformers
    except ImportError:
        print('torch / transformers not installed (pip install "starc[llm]"): skipping')
        return 0
    from starc.adapters.transformers import SEPARATOR, dpo_implicit_reward, score_responses

    torch.set_num_threads(1)
    n_prompts, per_prompt, rounds = (20, 10, 1) if args.quick else (200, 10, 3)
    batch_size = 16
    tokenizer, rm, policy, reference = build(torch, transformers)
    prompts, responses = make_pairs(n_prompts, per_prompt)
    texts = [p + SEPARATOR + r for p, group in zip(prompts, responses) for r in group]
    n_pairs = len(texts)
    lengths = [len(t.split()) for t in texts]

    def plain_loop():
        out = []
        with torch.inference_mode():
            for i in range(0, n_pairs, batch_size):
                enc = tokenizer(texts[i:i + batch_size], padding=True, return_tensors="pt")
                out.append(rm(**enc).logits[:, 0])
        return torch.cat(out).double().numpy()

    def ours():
        return score_responses(rm, tokenizer, prompts, responses, batch_size=batch_size)[0]

    def dpo():
        return dpo_implicit_reward(policy, reference, tokenizer, prompts, responses,
                                   beta=0.1, batch_size=batch_size)[0]

    plain_loop(), ours()  # warm-up
    t_loop, t_ours, t_dpo = [], [], []
    for _ in range(rounds):
        t, ref = timed(plain_loop)
        t_loop.append(t)
        t, got = timed(ours)
        t_ours.append(t)
        t, _ = timed(dpo)
        t_dpo.append(t)
    diff = float(np.max(np.abs(got.ravel() - ref)))
    loop_s, ours_s, dpo_s = (statistics.median(x) for x in (t_loop, t_ours, t_dpo))
    speedup = loop_s / ours_s
    print(f"{n_pairs} pairs, {min(lengths)}-{max(lengths)} tokens (mean "
          f"{np.mean(lengths):.0f}), batch size {batch_size}, torch on 1 thread, "
          f"median of {rounds} round(s)")
    print(f"  plain loop model(**tokenizer(batch, padding=True)): {loop_s:.3f} s "
          f"({n_pairs / loop_s:.0f} pairs/s)")
    print(f"  score_responses:                                   {ours_s:.3f} s "
          f"({n_pairs / ours_s:.0f} pairs/s)")
    print(f"  throughput ratio score_responses / plain loop: {speedup:.2f} (target >= 1.5); "
          f"largest score difference {diff:.1e}")
    print(f"  dpo_implicit_reward (policy + reference): {dpo_s:.3f} s "
          f"({n_pairs / dpo_s:.0f} pairs/s)")
    results = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg")
                    else None},
        "torch": torch.__version__, "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(), "quick": args.quick,
        "n_pairs": n_pairs, "batch_size": batch_size, "min_tokens": min(lengths),
        "max_tokens": max(lengths), "mean_tokens": float(np.mean(lengths)),
        "plain_loop_s": t_loop, "score_responses_s": t_ours, "dpo_implicit_reward_s": t_dpo,
        "throughput_ratio": speedup, "target_ratio": 1.5, "meets_target": speedup >= 1.5,
        "max_abs_score_difference": diff,
    }
    write_json(args.output, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
