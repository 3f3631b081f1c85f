"""Throughput of training steps and evaluation, packed and unpacked, beside the machine's limit.

Rows: a λ = 0 step (the batch's gold questions), a semantic-loss step (the gold questions and the
queries of their sampled subsets), and evaluation of dev questions that share premises
(``--per-premise`` questions each). Each runs unpacked (one left-padded prompt per question, as
before shared-prefix packing) and packed (`YesNoHead.pack`: one sequence per premise). A training
step is forward, backward and the optimizer step. The limit row is a dense forward + backward of
the packed semantic step's token count as one unmasked batch with the two-row head: what this
machine does with that many tokens when nothing is wasted. Variants alternate step by step, so a
busy machine slows them alike; figures are medians.

    .venv/bin/python bench/bench_throughput.py --model gemma3-270m --steps 3

``tiny`` uses experiments/tiny.yaml, any other model experiments/strong.yaml (batch 8, 8 subset
queries per question) with ``model.name`` replaced; ``--set key=value`` overrides either. On a GPU
(``--device cuda``) the MFU column is the dense-equivalent FLOPs (6 × non-embedding parameters ×
tokens) over ``--peak-tflops``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import time
from collections.abc import Callable

import torch

from neurosym.causal import Question
from neurosym.causal.text import render_question
from neurosym.model import YesNoHead, length_batches
from neurosym.resources import resource_dir
from trainer.config import load_config
from trainer.data import TrainingData, batch_indices, premise_groups
from trainer.recipe import build_head, losses, micro_batch_prompts
from trainer.semantic import SemanticTerm


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(head: YesNoHead, optimizer, term: SemanticTerm, rows: list[Question], asked, packed: bool) -> int:
    """One optimizer step; returns the real (non-padding) tokens the model read."""
    premises, questions = micro_batch_prompts(rows, asked)
    if packed:
        batch = head.pack(premises, questions)
        logits, tokens = head(batch), batch.tokens
    else:
        encoded = head.encode(premises, questions)
        logits, tokens = head(encoded["input_ids"], encoded["attention_mask"]), int(encoded["attention_mask"].sum())
    ce, sl, _ = losses(logits, rows, term, asked)
    (ce + 0.3 * sl if sl is not None else ce).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return tokens


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
    """``per_premise`` questions about each of ``premises`` dev premises: its own, then others on its nodes."""
    out_p, out_q = [], []
    for q in dev[:premises]:
        others = (
            render_question(q.task, (x, y) if q.task == "transitivity" else (x, y, frozenset()))
            for x, y in itertools.permutations(sorted(q.graph.nodes), 2)
        )
        texts = list(dict.fromkeys([q.question, *others]))[:per_premise]
        out_p += [q.premise] * len(texts)
        out_q += texts
    return out_p, out_q


def timed(device: torch.device, run: Callable[..., int], *args) -> tuple[float, int]:
    """(seconds, tokens) of ``run(*args)``, the device drained before and after."""
    _sync(device)
    start = time.perf_counter()
    tokens = run(*args)
    _sync(device)
    return time.perf_counter() - start, tokens


def bench(args) -> list[dict]:
    config_file = "tiny.yaml" if args.model == "tiny" else "strong.yaml"
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

    samples: dict[str, list[tuple[float, int]]] = {}
    questions: dict[str, int] = {}

    def record(name: str, asked_questions: int, run: Callable[..., int], *run_args) -> tuple[float, int]:
        samples.setdefault(name, []).append(timed(device, run, *run_args))
        questions[name] = asked_questions
        if args.verbose:
            print(f"  step {step} {name}: {samples[name][-1][0]:.3f} s, {samples[name][-1][1]} tokens", flush=True)
        return samples[name][-1]

    for step in range(args.steps + 1):  # step 0 warms up
        rows = [
            data.supervised[i]
            for i in batch_indices(
                premise_groups(data.supervised, config.data.batch_by_premise), batch, step, 0, 1, config.seed
            )
        ]
        asked = term.sample(rows, random.Random(step), config.semantic.max_queries)
        for packed in (False, True):
            mode = "packed" if packed else "unpacked"
            head.train()
            record(f"λ=0 step, {mode}", batch, train_step, head, optimizer, term, rows, [], packed)
            _, semantic_tokens = record(
                f"semantic step, {mode}", batch, train_step, head, optimizer, term, rows, asked, packed
            )
            head.eval()
            if packed:
                record(f"eval, {mode}", len(eval_q), predict_packed, head, eval_p, eval_q, args.eval_batch, eval_tokens)
            else:
                record(f"eval, {mode}", len(eval_q), predict_unpacked, head, eval_p, eval_q, args.eval_batch)
        head.train()
        width = -(-semantic_tokens // batch)  # the packed semantic step's tokens as `batch` equal rows
        record("limit: dense fwd+bwd", batch, dense_step, head, optimizer, batch, width)
    params = sum(p.numel() for n, p in head.model.named_parameters() if "embed_tokens" not in n)
    results = []
    for name, runs in samples.items():
        seconds = statistics.median(s for s, _ in runs[1:])
        tokens = statistics.median(t for _, t in runs[1:])
        mfu = 6 * params * tokens / seconds / (args.peak_tflops * 1e12) if args.peak_tflops else None
        results.append(
            {
                "variant": name,
                "s": seconds,
                "tokens": tokens,
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
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--eval-premises", type=int, default=16)
    parser.add_argument("--per-premise", type=int, default=6, help="questions per premise in the evaluation rows")
    parser.add_argument("--eval-batch", type=int, default=16, help="predict's batch_size (unpacked: prompts a batch)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's bf16 peak, for the MFU column")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
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
    print(f"{'variant':<26}{'s':>8}{'tokens':>8}{'tokens/s':>10}{'questions':>10}{'questions/s':>13}{'MFU':>7}")
    for r in bench(args):
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        print(
            f"{r['variant']:<26}{r['s']:>8.3f}{r['tokens']:>8.0f}{r['tokens_per_s']:>10.0f}{r['questions']:>10}"
            f"{r['questions_per_s']:>13.2f}{mfu:>7}"
        )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
