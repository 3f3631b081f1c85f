"""What a mask means in the semantic loss: atoms not asked are quantified existentially, so the true
answers of a premise, given confidently, cost nothing on any subset the causal sampler draws."""

from __future__ import annotations

import math
import random

import pytest
import torch

import neurosym as ns
from neurosym.causal import Question, SubsetSampler
from neurosym.causal.generate import generate
from neurosym.resources import constraint_path

CONFIDENT = 30.0  # |logit|: P(wrong answer) ≈ 1e-13
# Premises smaller than every template (2 and 3 nodes), so some template elements stay unmapped.
SMALL_PREMISES = {
    "transitivity": [
        ("A causes B.", "Does A cause B?"),
        ("A causes B.", "Does B cause A?"),
        ("A causes B. C causes B.", "Does A cause C?"),
    ],
    "dseparation": [
        ("A causes B.", "Are A and B d-separated?"),
        ("A causes B. C causes B.", "Are A and C d-separated?"),
        ("A causes B. C causes B.", "Are A and C d-separated given {B}?"),
        ("A causes B. B causes C.", "Are A and C d-separated given {B}?"),
    ],
}


def questions(task: str, count: int) -> list[Question]:
    """Training-family premises (3–6 nodes, random flips), evaluation-shaped ones, and tiny ones."""
    drawn = generate(task, "train", count, seed=3) + generate(task, "eval", count // 2, seed=3)
    return drawn + [Question.parse(premise, question) for premise, question in SMALL_PREMISES[task]]


def confident_truth(circuit, sample) -> tuple[torch.Tensor, torch.Tensor]:
    """The circuit's logits (evidence ±inf, asked atoms ±CONFIDENT at their true answer) and mask."""
    return sample.logits(
        torch.tensor([CONFIDENT if q.label == "Yes" else -CONFIDENT for q in sample.queries], dtype=torch.float64)
    ), sample.mask()


@pytest.mark.parametrize(
    "task, k", [("transitivity", 3), ("transitivity", 4), ("transitivity", 5), ("dseparation", 3), ("dseparation", 4)]
)
def test_confident_true_answers_cost_nothing_on_every_subset(task, k):
    circuit = ns.compile(constraint_path(f"causal/{task}.ns"), {"Node": k}, cache=False)
    sampler, loss = SubsetSampler.for_circuit(circuit), ns.SemanticLoss(circuit, on_impossible="raise")
    rng = random.Random(f"{task}/{k}")
    rows, masks, unmapped = [], [], 0
    for question in questions(task, 60):
        for max_queries in (1, 2, 8, None):
            sample = sampler.sample(question, rng, max_queries=max_queries)
            logits, mask = confident_truth(circuit, sample)
            rows.append(logits)
            masks.append(mask)
            unmapped += len(sample.mapping) < k
    assert unmapped > 0, "some premises should be smaller than the template"
    unasked = (~torch.stack(masks)).any(1)
    assert unasked.any() and not unasked.all(), "the subsets should mix fully and partly asked ones"
    values = loss(logits=torch.stack(rows), mask=torch.stack(masks))
    assert values.max() < 1e-3, f"worst subset costs {values.max():.3g} nats"


def test_the_loss_is_the_sum_over_asked_answers_that_extend_to_a_model():
    """Brute force on transitivity k = 3: for random beliefs at the asked atoms of sampled subsets,
    −log Σ over the asked atoms' 0/1 answers that some completion of the unasked atoms makes a model
    (with the subset's evidence), of their probability; gradients by autograd through the sum."""
    circuit = ns.compile(constraint_path("causal/transitivity.ns"), {"Node": 3}, cache=False)
    sampler = SubsetSampler.for_circuit(circuit)
    rng, g = random.Random(0), torch.Generator().manual_seed(0)
    for question in questions("transitivity", 8):
        sample = sampler.sample(question, rng, max_queries=2)
        z = (torch.randn(len(sample.queries), generator=g, dtype=torch.float64) * 2).requires_grad_()
        mine = ns.SemanticLoss(circuit)(logits=sample.logits(z), mask=sample.mask())
        (grad,) = torch.autograd.grad(mine, z)
        z_ref = z.detach().clone().requires_grad_()
        expected = -torch.log(extendable_probability(circuit, sample, torch.sigmoid(z_ref)))
        (expected_grad,) = torch.autograd.grad(expected, z_ref)
        torch.testing.assert_close(mine, expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-12)


def extendable_probability(circuit, sample, p_asked: torch.Tensor) -> torch.Tensor:
    """Σ over 0/1 answers of the asked atoms that extend, with the evidence, to a model."""
    free = [
        i
        for i in range(len(circuit.variables))
        if i not in sample.evidence and i not in {q.index for q in sample.queries}
    ]
    total = p_asked.new_zeros(())
    for answers in range(2 ** len(sample.queries)):
        bits = [(answers >> j) & 1 for j in range(len(sample.queries))]
        known = dict(sample.evidence) | {q.index: b for q, b in zip(sample.queries, bits)}
        if any(
            circuit.satisfied_by(
                [known.get(i, (rest >> free.index(i)) & 1 if i in free else 0) for i in range(len(circuit.variables))]
            )
            for rest in range(2 ** len(free))
        ):
            weight = torch.stack([p if b else 1 - p for p, b in zip(p_asked, bits)]).prod()
            total = total + weight
    return total


def test_violation_checks_and_the_loss_agree_on_what_is_consistent():
    """0/1 answers violate the theory exactly when their loss is inf: the same meaning of 'not asked'."""
    circuit = ns.compile(constraint_path("causal/transitivity.ns"), {"Node": 4}, cache=False)
    from neurosym.eval.consistency import ConstraintChecker, known_values

    sampler, loss = SubsetSampler.for_circuit(circuit), ns.SemanticLoss(circuit, on_impossible="ignore")
    rng = random.Random(1)
    knowns, rows, masks = [], [], []
    for question in questions("transitivity", 30):
        sample = sampler.sample(question, rng, max_queries=3)
        answers = [rng.random() < 0.5 for _ in sample.queries]
        knowns.append(known_values(sample, answers))
        rows.append(sample.logits(torch.tensor([math.inf if a else -math.inf for a in answers])))
        masks.append(sample.mask())
    infinite = torch.isinf(loss(logits=torch.stack(rows), mask=torch.stack(masks))).tolist()
    verdicts = [check.violated for check in ConstraintChecker(circuit).check(knowns)]
    assert verdicts == infinite and any(verdicts) and not all(verdicts)
