"""Constrained prediction: answer a question jointly with its neighbours, under the constraints.

For each question a k-node subset around it is sampled (`SubsetSampler.sample`, which always asks
the question's own atom when the template has one), every query of the subset is asked, and the
circuit's most probable satisfying assignment given the evidence (``circuit.mpe``; unknown atoms
left free by the mask) answers the question. A question the template cannot hold (a conditioning
set larger than the template's, or more query nodes than k) keeps the model's own answer, as does
one whose evidence no assignment satisfies (impossible for a sound theory and a real premise).
The model's probabilities are clipped to [1e-6, 1 − 1e-6] first: a saturated P(Yes) of exactly 0
or 1 would otherwise make every assignment that overrules it impossible.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from neurosym.causal import Question, SubsetSampler
from neurosym.causal.text import parse_question

CLIP = 1e-6  # P(Yes) is kept in [CLIP, 1 − CLIP]: a saturated answer can still be overruled


@dataclass(frozen=True)
class ConstrainedAnswers:
    answers: list[bool]
    joint: int  # questions answered by the MPE (the rest kept the model's own answer)
    prompts: int


def constrained_answers(
    predictor, questions: Sequence[Question], own: Sequence[bool], circuit, seed: int = 0
) -> ConstrainedAnswers:
    """MPE answers for ``questions`` (``own`` are the model's plain answers, kept where the template
    has no atom for the question)."""
    import torch

    sampler = SubsetSampler.for_circuit(circuit)
    rng = random.Random(f"{seed}/constrained")
    samples, focus = [], []
    for question in questions:
        sample = sampler.sample(question, rng)
        position = next(
            (i for i, asked in enumerate(sample.queries) if parse_question(asked.text)[1] == question.query), None
        )
        if position is not None:
            samples.append((question.premise, sample))
            focus.append(sample.queries[position].index)
        else:
            focus.append(None)
    premises = [premise for premise, sample in samples for _ in sample.queries]
    texts = [asked.text for _, sample in samples for asked in sample.queries]
    p_yes = predictor.predict(premises, texts) if texts else []
    answers, joint = list(own), 0
    if samples:
        rows, offset = [], 0
        for _, sample in samples:
            clipped = [min(max(p, CLIP), 1 - CLIP) for p in p_yes[offset : offset + len(sample.queries)]]
            rows.append(sample.probabilities(clipped))
            offset += len(sample.queries)
        masks = torch.stack([sample.mask() for _, sample in samples])
        assignment, log_p = circuit.mpe(torch.stack(rows).double(), mask=masks)
        row = iter(range(len(samples)))
        for i, index in enumerate(focus):
            if index is not None and bool(torch.isfinite(log_p[j := next(row)])):
                answers[i] = bool(assignment[j, index])
                joint += 1
    return ConstrainedAnswers(answers, joint, len(texts))
