"""Training-step time with and without the semantic term, on the same prompts.

Both variants send the same prompts through the model (a batch's gold questions, then the queries
of its sampled k-node subsets) and take an optimizer step; only the loss differs: cross-entropy
alone, or cross-entropy + λ · semantic loss. The difference is the semantic term's own cost
(circuit inputs, the circuit's forward and backward). The two variants alternate step by step so
that a busy machine slows both alike; the figures are medians.

    .venv/bin/python bench/bench_train_step.py --model tiny --model gemma3-270m --steps 5

``tiny`` uses experiments/tiny.yaml, any other model experiments/demo_gemma.yaml (its prompts,
batch size and subset queries) with ``model.name`` replaced.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from neurosym.resources import resource_dir
from trainer.config import load_config
from trainer.data import TrainingData, batch_indices, premise_groups
from trainer.recipe import ask, build_head, losses
from trainer.semantic import SemanticTerm


def bench(model: str, steps: int, overrides: list[str]) -> dict:
    config_file = "tiny.yaml" if model == "tiny" else "demo_gemma.yaml"
    config = load_config(resource_dir("experiments") / config_file, [f"model.name={model}", *overrides])
    torch.manual_seed(config.seed)
    head = build_head(config.model, config.prompt, torch.device("cpu"))
    term = SemanticTerm.compile(config.semantic, config.data.task)
    rows = TrainingData.load(config.data).supervised
    optimizer = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=config.optim.lr)
    head.train()
    times: dict[str, list[float]] = {"ce": [], "ce+sl": []}
    prompts = []
    for step in range(steps + 1):  # step 0 warms up
        batch = [
            rows[i]
            for i in batch_indices(
                premise_groups(rows, config.data.batch_by_premise), config.optim.batch_size, step, 0, 1, config.seed
            )
        ]
        asked = term.sample(batch, random.Random(step), config.semantic.max_queries)
        for variant in times:
            start = time.perf_counter()
            ce, sl, _ = losses(ask(head, head, batch, asked), batch, term, asked)
            (ce + 0.3 * sl if variant == "ce+sl" else ce).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step:
                times[variant].append(time.perf_counter() - start)
        prompts.append(len(batch) + sum(len(s.queries) for _, s in asked))
    ce, both = statistics.median(times["ce"]), statistics.median(times["ce+sl"])
    return {
        "model": model,
        "batch": config.optim.batch_size,
        "prompts": statistics.median(prompts[1:]),
        "ce_s": ce,
        "ce_sl_s": both,
        "overhead": both / ce - 1,
        "examples_per_s_ce": config.optim.batch_size / ce,
        "examples_per_s_ce_sl": config.optim.batch_size / both,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="tiny, gemma3-270m or a model folder (repeatable)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, {args.steps} timed steps per variant (medians)")
    print(
        f"{'model':<14}{'batch':>6}{'prompts':>9}{'CE s/step':>11}{'CE+SL s/step':>14}{'SL adds':>9}"
        f"{'ex/s CE':>9}{'ex/s CE+SL':>12}"
    )
    for model in args.model or ["tiny"]:
        r = bench(model, args.steps, args.overrides)
        print(
            f"{r['model']:<14}{r['batch']:>6}{r['prompts']:>9.0f}{r['ce_s']:>11.3f}{r['ce_sl_s']:>14.3f}"
            f"{r['overhead']:>9.1%}{r['examples_per_s_ce']:>9.2f}{r['examples_per_s_ce_sl']:>12.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
