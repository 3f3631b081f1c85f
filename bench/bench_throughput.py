"""Throughput of training steps and evaluation, packed and unpacked, beside the machine's limit.

Rows: a λ = 0 step (the batch's gold questions), a semantic-loss step (the gold questions and the
queries of their sampled subsets), and evaluation of dev questions that share premises
(``--per-premise`` questions each). Each runs unpacked (one left-padded prompt per question, as
before shared-prefix packing) and packed (`YesNoHead.pack`: one sequence per premise); with
``--max-tokens N`` the training steps also run packed in length-sorted passes of at most N padded
tokens (`optim.max_tokens`). A packed training step is the trainer's (`train_micro_batch`) and
the optimizer step; "padded" counts the tokens the model reads, padding included. The limit row
is a dense forward + backward of the packed semantic step's token count as one unmasked batch with
the two-row head, no mask and no padding: a reference for that many tokens, not a bound (passes
within a token budget can run faster per token). Variants alternate step by step, so a busy
machine slows them alike; figures are medians.

    .venv/bin/python bench/bench_throughput.py --model gemma3-270m --steps 3

``tiny`` uses experiments/tiny.yaml, any other model experiments/strong.yaml (batch 8, 8 subset
queries per question) with ``model.name`` replaced, unless ``--config`` names another preset;
``--set key=value`` overrides it. On a GPU (``--device cuda``) the MFU column is the
dense-equivalent FLOPs (6 × non-embedding parameters × tokens) over ``--peak-tflops``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable

import torch

from neurosym.causal import Question
from neurosym.model import YesNoHead, length_batches
from neurosym.resources import resource_dir
from trainer.config import load_config
from trainer.data import TrainingData, batch_indices, premise_groups
from trainer.recipe import build_head, losses, make_accelerator, micro_batch_prompts, train_micro_batch
from trainer.semantic import SemanticTerm


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def unpacked_step(head: YesNoHead, optimizer, term: SemanticTerm, rows: list[Question], asked) -> int:
    """One optimizer step as before packing (a left-padded prompt per question); returns the real tokens."""
    premises, questions = micro_batch_prompts(rows, asked)
    encoded = head.encode(premises, questions)
    ce, sl, _ = losses(head(encoded["input_ids"], encoded["attention_mask"]), rows, term, asked)
    (ce + 0.3 * sl if sl is not None else ce).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return int(encoded["attention_mask"].sum())


def packed_step(head: YesNoHead, optimizer, accelerator, term, rows, asked, max_tokens: int | None, tokens: int) -> int:
    """One optimizer step as the trainer takes it (`train_micro_batch`): packed, in passes of at most
    ``max_tokens`` padded tokens (one pass when None); ``tokens`` is counted outside the clock."""
    train_micro_batch(accelerator, head, head, term, rows, asked, 0.3, max_tokens, 1)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return tokens


def packed_tokens(head: YesNoHead, rows: list[Question], asked, max_tokens: int | None) -> tuple[int, int]:
    """(real, padded) tokens of the passes `train_micro_batch` sends for ``rows`` and ``asked``."""
    premises, questions = micro_batch_prompts(rows, asked)
    if max_tokens is None:
        batches = [head.pack(premises, questions)]
    else:
        batches = [batch for _, batch in head.pack_batches(premises, questions, max_tokens, whole_premises=True)]
    return sum(b.tokens for b in batches), sum(b.input_ids.numel() for b in batches)


def predict_unpacked(head: YesNoHead, premises: list[str], questions: list[str], batch_size: int) -> int:
    """Evaluation as before packing: length-sorted batches of separate left-padded prompts."""
    tokens = 0
    with torch.no_grad():
        for picked in length_batches(premises, questions, batch_size):
            batch = head.encode([premises[i] for i in picked], [questions[i] for i in picked])
            head.p_yes(batch["input_ids"], batch["attention_mask"])
            tokens += int(batch["attention_mask"].sum())
    return tokens


def predict_packed(head: YesNoHead, premises: list[str], questions: list[str], batch_size: int, tokens: int) -> int:
    """`YesNoHead.predict` (packed); ``tokens`` is its packs' token count, counted outside the clock."""
    head.predict(premises, questions, batch_size)
    return tokens


def dense_step(head: YesNoHead, optimizer, rows: int, width: int) -> int:
    """Forward + backward + optimizer step of [rows, width] random tokens, causal mask, no padding."""
    ids = torch.randint(10, len(head.tokenizer), (rows, width), device=head.device)
    lm = head.model.get_base_model() if hasattr(head.model, "get_base_model") else head.model
    hidden = lm.base_model(input_ids=ids, use_cache=False)[0][:, -1]
    rows_w = lm.get_output_embeddings().weight[list(head.answer.ids)]
    (hidden.float() @ rows_w.float().T).sum().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return rows * width


def shared_premise_questions(dev: list[Question], premises: int, per_premise: int) -> tuple[list[str], list[str]]:
    """``per_premise`` questions about each of ``premises`` dev premises (`Question.premise_questions`)."""
    pairs = [(q.premise, text) for q in dev[:premises] for text in q.premise_questions(per_premise)]
    return [p for p, _ in pairs], [t for _, t in pairs]


def timed(device: torch.device, run: Callable[..., int], *args) -> tuple[float, int]:
    """(seconds, tokens) of ``run(*args)``, the device drained before and after."""
    _sync(device)
    start = time.perf_counter()
    tokens = run(*args)
    _sync(device)
    return time.perf_counter() - start, tokens


def bench(args) -> list[dict]:
    config_file = args.config or ("tiny.yaml" if args.model == "tiny" else "strong.yaml")
    config = load_config(resource_dir("experiments") / config_file, [f"model.name={args.model}", *args.overrides])
    device = torch.device(args.device)
    torch.manual_seed(config.seed)
    head = build_head(config.model, config.prompt, device)
    term = SemanticTerm.compile(config.semantic, config.data.task).to(device)
    data = TrainingData.load(config.data)
    optimizer = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=config.optim.lr)
    eval_p, eval_q = shared_premise_questions(data.dev, args.eval_premises, args.per_premise)
    eval_tokens = head.pack(eval_p, eval_q).tokens
    batch = config.optim.batch_size

    accelerator = make_accelerator(config)
    samples: dict[str, list[tuple[float, int]]] = {}
    padded: dict[str, list[int]] = {}
    questions: dict[str, int] = {}

    def record(name: str, asked_questions: int, pads: int | None, run: Callable[..., int], *run_args):
        samples.setdefault(name, []).append(timed(device, run, *run_args))
        padded.setdefault(name, []).append(pads)
        questions[name] = asked_questions
        if args.verbose:
            print(f"  step {step} {name}: {samples[name][-1][0]:.3f} s, {samples[name][-1][1]} tokens", flush=True)

    modes = [("unpacked", None), ("packed", None)]
    if args.max_tokens:
        modes.append((f"packed, passes of ≤ {args.max_tokens}", args.max_tokens))
    for step in range(args.steps + 1):  # step 0 warms up
        rows = [
            data.supervised[i]
            for i in batch_indices(
                premise_groups(data.supervised, config.data.batch_by_premise), batch, step, 0, 1, config.seed
            )
        ]
        asked = term.sample(rows, random.Random(step), config.semantic.max_queries)
        for mode, max_tokens in modes:
            head.train()
            for name, step_asked in (("λ=0 step", []), ("semantic step", asked)):
                if mode == "unpacked":
                    pads = head.encode(*micro_batch_prompts(rows, step_asked))["input_ids"].numel()
                    record(f"{name}, {mode}", batch, pads, unpacked_step, head, optimizer, term, rows, step_asked)
                else:
                    real, pads = packed_tokens(head, rows, step_asked, max_tokens)
                    if name == "semantic step" and max_tokens is None:
                        limit_tokens = real  # the limit row reads as many tokens as the packed semantic step
                    run = (head, optimizer, accelerator, term, rows, step_asked, max_tokens, real)
                    record(f"{name}, {mode}", batch, pads, packed_step, *run)
            head.eval()
            if mode == "unpacked":
                record(f"eval, {mode}", len(eval_q), None, predict_unpacked, head, eval_p, eval_q, args.eval_batch)
            elif max_tokens is None:
                run = (head, eval_p, eval_q, args.eval_batch, eval_tokens)
                record(f"eval, {mode}", len(eval_q), None, predict_packed, *run)
        head.train()
        width = -(-limit_tokens // batch)
        record("limit: dense fwd+bwd", batch, batch * width, dense_step, head, optimizer, batch, width)
    params = sum(p.numel() for n, p in head.model.named_parameters() if "embed_tokens" not in n)
    results = []
    for name, runs in samples.items():
        seconds = statistics.median(s for s, _ in runs[1:])
        tokens = statistics.median(t for _, t in runs[1:])
        pads = padded[name][1:]
        mfu = 6 * params * tokens / seconds / (args.peak_tflops * 1e12) if args.peak_tflops else None
        results.append(
            {
                "variant": name,
                "s": seconds,
                "tokens": tokens,
                "padded": None if None in pads else statistics.median(pads),
                "tokens_per_s": tokens / seconds,
                "questions": questions[name],
                "questions_per_s": questions[name] / seconds,
                "mfu": mfu,
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny, gemma3-270m or a model folder")
    parser.add_argument("--config", default=None, help="a preset in experiments/ (default: tiny.yaml or strong.yaml)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--eval-premises", type=int, default=16)
    parser.add_argument("--per-premise", type=int, default=6, help="questions per premise in the evaluation rows")
    parser.add_argument("--eval-batch", type=int, default=16, help="predict's batch_size (unpacked: prompts a batch)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's bf16 peak, for the MFU column")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument(
        "--max-tokens", type=int, default=None, help="also time the packed steps in passes of at most this many tokens"
    )
    parser.add_argument("--verbose", action="store_true", help="print every timed sample as it is taken")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"{args.model} on {args.device}, torch threads {torch.get_num_threads()}, {args.steps} timed steps "
        f"(medians), load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    print(f"{'variant':<38}{'s':>8}{'tokens':>8}{'padded':>8}{'tokens/s':>10}{'questions/s':>13}{'MFU':>7}")
    for r in bench(args):
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        padded = f"{r['padded']:.0f}" if r["padded"] is not None else "-"
        print(
            f"{r['variant']:<38}{r['s']:>8.3f}{r['tokens']:>8.0f}{padded:>8}{r['tokens_per_s']:>10.0f}"
            f"{r['questions_per_s']:>13.2f}{mfu:>7}"
        )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
