"""Training and dev questions: read from files, or generated (balanced, seeded) when none is given,
and the deterministic batch order (a function of seed and step, so a resumed run sees the same data)."""
from __future__ import annotations

import numpy as np

from neurosym.causal import Question, generate, load_questions
from neurosym.errors import DataError
from trainer.config import DataConfig


def load_split(config: DataConfig, split: str) -> list[Question]:
    path = config.train if split == "train" else config.dev
    if path is not None:
        result = load_questions(path, task=config.task)
        questions = [q for q in result.questions if q.task == config.task]
        if not questions:
            raise DataError(f"{path}: no {config.task} questions ({len(result.rejects)} rejected rows)")
        return questions
    n = config.generate_train if split == "train" else config.generate_dev
    # dev draws from the training families with another seed; generate() keeps premises disjoint
    return generate(config.task, split, n, seed=config.seed + (0 if split == "train" else 7919))


def labelled(questions: list[Question]) -> list[Question]:
    return [q for q in questions if q.label is not None]


def batch_indices(n: int, batch_size: int, step: int, micro: int, grad_accum: int, seed: int) -> list[int]:
    """Rows of micro-batch ``micro`` of ``step``: epochs are seeded permutations of ``range(n)``."""
    start = (step * grad_accum + micro) * batch_size
    rows = []
    for position in range(start, start + batch_size):
        epoch, offset = divmod(position, n)
        rows.append(int(np.random.default_rng([seed, epoch]).permutation(n)[offset]))
    return rows
