"""Masked rows of the semantic loss: what the truth costs, and what exact masking costs in time.

    .venv/bin/python bench/bench_masking.py [--truth] [--steps 150] [--batch 8] [--threads 1]

For each causal template, subsets of generated premises are drawn with the trainer's sampler (at
most ``asked`` subset queries each, the rest of the template's atoms unasked).

* ``--truth``: the loss of the true answers at logits ±30, existential (what `SemanticLoss` computes)
  against the fair coin the mask used to mean (every unasked atom at ½), mean and max in nats.
* otherwise: milliseconds per step of ``--batch`` subsets (forward and backward on random logits),
  the fair coin's single pass against the existential loss with its patterns new (the first time
  through the steps) and cached (the same steps again). Not a test.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

import neurosym as ns
from neurosym.causal import Question, SubsetSampler
from neurosym.causal.generate import generate
from neurosym.resources import constraint_path

TEMPLATES = [
    ("transitivity", 3, 2),
    ("transitivity", 3, None),
    ("transitivity", 4, 2),
    ("transitivity", 4, 8),
    ("dseparation", 3, 8),
    ("dseparation", 4, 8),
]
SMALL = {
    "transitivity": [("A causes B.", "Does A cause B?"), ("A causes B. C causes B.", "Does A cause C?")],
    "dseparation": [
        ("A causes B.", "Are A and B d-separated?"),
        ("A causes B. C causes B.", "Are A and C d-separated given {B}?"),
    ],
}


def fair_coin_loss(circuit, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The old meaning of a mask: every masked-out variable at probability ½, no mask."""
    return -circuit.log_prob(torch.sigmoid(logits).masked_fill(~mask, 0.5))


def subsets(circuit, questions, asked, seed: int, logits_of):
    """(logits, mask) of one sampled subset per question; ``logits_of(sample)`` gives the asked atoms'."""
    sampler, rng = SubsetSampler.for_circuit(circuit), random.Random(seed)
    rows, masks = [], []
    for question in questions:
        sample = sampler.sample(question, rng, max_queries=asked)
        rows.append(sample.logits(logits_of(sample)))
        masks.append(sample.mask())
    return torch.stack(rows), torch.stack(masks)


def truth_costs(task: str, k: int, asked) -> str:
    circuit = ns.compile(constraint_path(f"causal/{task}.ns"), {"Node": k})
    questions = generate(task, "train", 60, seed=3) + generate(task, "eval", 30, seed=3)
    questions += [Question.parse(premise, question) for premise, question in SMALL[task]]
    truth = lambda s: torch.tensor([30.0 if q.label == "Yes" else -30.0 for q in s.queries], dtype=torch.float64)  # noqa: E731
    logits, mask = subsets(circuit, questions, asked, 0, truth)
    old, new = fair_coin_loss(circuit, logits, mask), ns.SemanticLoss(circuit)(logits=logits, mask=mask)
    return f"| {task} k = {k} | {asked or 'all'} | {old.mean():.3f}, {old.max():.3f} | {new.max():.1e} |"


def step_times(task: str, k: int, asked, steps: int, batch: int) -> str:
    circuit = ns.compile(constraint_path(f"causal/{task}.ns"), {"Node": k})
    questions = generate(task, "train", steps * batch, seed=5)
    g = torch.Generator().manual_seed(0)
    noise = lambda s: torch.randn(len(s.queries), generator=g)  # noqa: E731
    batches = [subsets(circuit, questions[i * batch : (i + 1) * batch], asked, i, noise) for i in range(steps)]
    loss = ns.SemanticLoss(circuit, on_impossible="ignore")

    def per_step(compute) -> float:
        start = time.perf_counter()
        for logits, mask in batches:
            z = logits.clone().requires_grad_()
            values = compute(z, mask)
            values[torch.isfinite(values)].sum().backward()
        return (time.perf_counter() - start) / steps * 1000

    old = per_step(lambda z, m: fair_coin_loss(circuit, z, m))
    new = per_step(lambda z, m: loss(logits=z, mask=m))
    cached = per_step(lambda z, m: loss(logits=z, mask=m))
    return f"| {task} k = {k} | {asked or 'all'} | {old:.1f} ms/step | {new:.1f} ms/step | {cached:.1f} ms/step |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", action="store_true", help="the loss of the true answers instead of timings")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (small passes stall with more on a busy machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.truth:
        print("| template | asked per subset | ½/½ loss of the truth: mean, max (nats) | existential: max |")
        print("| --- | --- | --- | --- |")
        for task, k, asked in TEMPLATES:
            print(truth_costs(task, k, asked), flush=True)
    else:
        print("| template | asked | ½/½ (one pass) | existential, patterns new | existential, patterns cached |")
        print("| --- | --- | --- | --- | --- |")
        for task, k, asked in TEMPLATES:
            print(step_times(task, k, asked, args.steps, args.batch), flush=True)


if __name__ == "__main__":
    main()
