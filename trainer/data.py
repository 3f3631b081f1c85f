"""Training, unlabeled and dev questions, and the deterministic batch order.

Questions come from files, or are generated (balanced, seeded) when none is given. The batch
order is a function of (seed, step, micro-batch) alone, so a resumed run, or a run with another λ,
sees the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from neurosym.causal import Question, generate, load_questions
from neurosym.errors import DataError
from trainer.config import DataConfig


@dataclass(frozen=True)
class TrainingData:
    supervised: list[Question]  # labelled: cross-entropy and the semantic term
    unlabeled: list[Question]  # the semantic term alone
    dev: list[Question]  # labelled: the collapse monitor

    @classmethod
    def load(cls, config: DataConfig) -> TrainingData:
        train = _load_split(config, "train")
        supervised = [q for q in train if q.label is not None]
        if not supervised:
            raise DataError(f"{config.train}: no labelled {config.task} questions to train on")
        unlabeled = [q for q in train if q.label is None]
        if config.unlabeled is not None:
            unlabeled += _read(config.unlabeled, config.task)
        unlabeled += [replace(q, label=None) for q in _generate_unlabeled(config)]
        dev = [q for q in _load_split(config, "dev") if q.label is not None]
        if not dev:
            raise DataError(f"{config.dev}: no labelled {config.task} questions for the dev set")
        return cls(supervised, unlabeled, dev)


def _load_split(config: DataConfig, split: str) -> list[Question]:
    path = config.train if split == "train" else config.dev
    if path is not None:
        return _read(path, config.task)
    if split == "dev":  # the training families with another seed; generate() keeps premises disjoint
        return generate(config.task, split, config.generate_dev, seed=config.seed + 7919, families=config.families)
    return generate(
        config.task,
        split,
        config.generate_train,
        seed=config.seed,
        families=config.families,
        per_graph=config.questions_per_premise,
        balance_cases=config.balance_cases,
    )


def _generate_unlabeled(config: DataConfig) -> list[Question]:
    """``generate_unlabeled`` training-family questions, drawn with a seed of their own: the
    labelled questions' seed would repeat their premises."""
    if not config.generate_unlabeled:
        return []
    return generate(
        config.task, "train", config.generate_unlabeled, seed=config.seed + 104729, families=config.families
    )


def _read(path: str, task: str) -> list[Question]:
    result = load_questions(path, task=task)
    if not result.questions:
        raise DataError(
            f"{path}: no {task} questions ({len(result.rejects)} rejected rows, {result.skipped} of another task)"
        )
    return result.questions


def premise_groups(questions: list[Question], by_premise: bool) -> list[list[int]]:
    """The units the batch order shuffles: the rows about each premise (in first-seen order), or
    every row alone."""
    if not by_premise:
        return [[i] for i in range(len(questions))]
    groups: dict[str, list[int]] = {}
    for i, question in enumerate(questions):
        groups.setdefault(question.premise, []).append(i)
    return list(groups.values())


def batch_indices(
    groups: list[list[int]], batch_size: int, step: int, micro: int, micro_per_step: int, seed: int
) -> list[int]:
    """Rows of micro-batch ``micro`` of ``step``: each epoch lists the rows of a seeded permutation
    of ``groups``, so the rows of a group are read one after another."""
    n = sum(len(group) for group in groups)
    start = (step * micro_per_step + micro) * batch_size
    epochs: dict[int, list[int]] = {}
    rows = []
    for position in range(start, start + batch_size):
        epoch, offset = divmod(position, n)
        if epoch not in epochs:
            order = np.random.default_rng([seed, epoch]).permutation(len(groups))
            epochs[epoch] = [row for g in order for row in groups[g]]
        rows.append(epochs[epoch][offset])
    return rows
