"""P(Yes) for a batch of prompts: full-vocabulary logits versus the two-row answer head.

    .venv/bin/python bench/bench_answer_head.py [--model gemma3-270m] [--template chat|short]
                                                [--batch 16] [--repeats 3] [--backward]

Three ways to the same two logits, on the loaded model and on the tiny test model:

* full vocab, all positions: ``model(...).logits`` (what a plain training loop computes),
* full vocab, last position: ``model(..., logits_to_keep=1)`` (transformers' own shortcut),
* two-row head: ``answer_logits`` (last hidden state times two rows of ``lm_head.weight``).

``--template short`` uses "{premise} {question} Answer:" to get prompts of about 31 tokens, the
shape the issue timed; ``chat`` is the default Gemma chat prompt. ``--backward`` also times
forward + backward through LoRA adapters (r=8, all linear layers), as in training. Times are
the median of ``--repeats`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from neurosym.model import (  # noqa: E402
    DEFAULT_TEMPLATE,
    PromptTemplate,
    answer_logits,
    answer_tokens,
    apply_lora,
    encode_prompts,
    load_model,
    tiny_gemma3,
)

TEMPLATES = {
    "chat": DEFAULT_TEMPLATE,
    "short": PromptTemplate(text="{premise} {question}", style="plain", plain_suffix=" Answer:"),
}


def prompts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Chains of four nodes with 1–3 character names, asking whether the first causes the last."""
    rng = random.Random(seed)
    chars = string.ascii_letters + string.digits
    premises, questions = [], []
    for _ in range(n):
        names = ["".join(rng.choices(chars, k=rng.randint(1, 3))) for _ in range(4)]
        premises.append(" ".join(f"{a} causes {b}." for a, b in zip(names, names[1:])))
        questions.append(f"Does {names[0]} cause {names[-1]}?")
    return premises, questions


def _methods(model, ids):
    def full_all(batch):
        return model(**batch, use_cache=False).logits[:, -1, list(ids)]

    def full_last(batch):
        return model(**batch, use_cache=False, logits_to_keep=1).logits[:, -1, list(ids)]

    def head(batch):
        return answer_logits(model, batch["input_ids"], batch["attention_mask"], answer_ids=ids)

    return {"full vocab, all positions": full_all, "full vocab, last position": full_last, "two-row head": head}


def _time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(
    label: str, model, tokenizer, template: PromptTemplate, batch_size: int, repeats: int, backward: bool
) -> None:
    ids = answer_tokens(tokenizer, template).ids
    batch = dict(encode_prompts(tokenizer, *prompts(batch_size), template))
    print(f"\n{label}: batch {tuple(batch['input_ids'].shape)}, {torch.get_num_threads()} threads, {repeats} repeats")
    methods = _methods(model, ids)
    with torch.no_grad():
        reference = methods["full vocab, all positions"](batch)
        for name, fn in methods.items():
            gap = (fn(batch) - reference).abs().max().item()
            seconds = _time(lambda fn=fn: fn(batch), repeats)
            print(f"  forward   {name:<27} {seconds:8.3f} s   max |Δ logit| vs full {gap:.1e}")
    if backward:
        lora = apply_lora(model, r=8, alpha=16, dropout=0.0)
        lora.train()
        for name, fn in _methods(lora, ids).items():
            seconds = _time(lambda fn=fn: torch.log_softmax(fn(batch).float(), -1)[:, 0].sum().backward(), repeats)
            print(f"  fwd+bwd   {name:<27} {seconds:8.3f} s   (LoRA r=8, all linear)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma3-270m")
    parser.add_argument("--template", choices=sorted(TEMPLATES), default="short")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backward", action="store_true")
    args = parser.parse_args()
    template = TEMPLATES[args.template]

    start = time.perf_counter()
    model, tokenizer = load_model(args.model)
    print(f"load {args.model}: {time.perf_counter() - start:.1f} s")
    bench(args.model, model, tokenizer, template, args.batch, args.repeats, args.backward)
    tiny, tiny_tokenizer = tiny_gemma3()
    bench("tiny Gemma 3 (test model)", tiny, tiny_tokenizer, template, args.batch, args.repeats, args.backward)


if __name__ == "__main__":
    main()
