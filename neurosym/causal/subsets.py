"""Sampled subsets asked together: which subsets, the prompts that ask their queries, and the
circuit inputs the model's answers make.

An asked subset is a premise and one `SubsetSample` grounded on its graph. Its queries are asked
in order, subset after subset (`asked_prompts`), and a flat tensor of per-query values in that
order is spread back over the circuit's variables by `circuit_inputs`. The trainer's semantic term,
its collapse monitor and `neurosym eval`'s consistency check all go through these functions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from neurosym.causal.records import Question
from neurosym.causal.sampler import SubsetSample, SubsetSampler
from neurosym.errors import DataError

if TYPE_CHECKING:
    import torch

Asked = tuple[str, SubsetSample]  # a premise and one subset grounded on its graph


def subsets_around(
    sampler: SubsetSampler,
    questions: Sequence[Question],
    rng: random.Random,
    per_question: int = 1,
    max_queries: int | None = None,
) -> list[Asked]:
    """``per_question`` subsets around each question's own query, in order."""
    return [
        (q.premise, sampler.sample(q, rng, max_queries=max_queries)) for q in questions for _ in range(per_question)
    ]


def sample_subsets(
    sampler: SubsetSampler, questions: Sequence[Question], count: int, rng: random.Random
) -> list[Asked]:
    """``count`` questions drawn without replacement (all of them when fewer), one subset around each."""
    picked = rng.sample(list(questions), min(count, len(questions)))
    return subsets_around(sampler, picked, rng)


def asked_prompts(asked: Sequence[Asked]) -> tuple[list[str], list[str]]:
    """(premises, questions) of every query of every subset, in order."""
    premises = [premise for premise, sample in asked for _ in sample.queries]
    questions = [query.text for _, sample in asked for query in sample.queries]
    return premises, questions


def circuit_inputs(
    values: torch.Tensor, asked: Sequence[Asked], logits: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs [subsets, V] and mask [subsets, V] aligned with the circuit's variables, from ``values``
    [all queries] in `asked_prompts` order: logits (evidence as ±inf) or probabilities (evidence as 0/1)."""
    import torch

    rows, masks, offset = [], [], 0
    for _, sample in asked:
        part = values[offset : offset + len(sample.queries)]
        rows.append(sample.logits(part) if logits else sample.probabilities(part))
        masks.append(sample.mask(device=values.device))
        offset += len(sample.queries)
    if offset != len(values):
        raise DataError(f"{len(values)} values for {offset} asked queries")
    return torch.stack(rows), torch.stack(masks)
