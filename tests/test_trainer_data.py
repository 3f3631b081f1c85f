"""The training batch order: seeded epochs over single rows or over the questions of each premise."""

from __future__ import annotations

import numpy as np
import pytest

from neurosym.causal import generate
from neurosym.resources import resource_dir
from trainer.config import load_config
from trainer.data import TrainingData, batch_indices, premise_groups


def _epoch(groups, batch_size, seed, epoch=0):
    n = sum(len(g) for g in groups)
    steps = range(epoch * n // batch_size, (epoch + 1) * n // batch_size)
    return [row for step in steps for row in batch_indices(groups, batch_size, step, 0, 1, seed)]


def test_single_rows_are_a_seeded_permutation_per_epoch():
    groups = [[i] for i in range(12)]
    assert _epoch(groups, 4, seed=3) == list(np.random.default_rng([3, 0]).permutation(12))
    assert _epoch(groups, 4, seed=3, epoch=1) == list(np.random.default_rng([3, 1]).permutation(12))
    assert _epoch(groups, 4, seed=3) != _epoch(groups, 4, seed=4)


@pytest.mark.parametrize("seed", range(5))
def test_grouped_rows_cover_each_epoch_once_with_each_group_in_a_run(seed):
    groups = [[0, 5, 9], [1], [2, 3], [4, 6, 7, 8], [10, 11]]
    order = _epoch(groups, 3, seed)
    assert sorted(order) == list(range(12))
    for group in groups:
        start = order.index(group[0])
        assert order[start : start + len(group)] == group


def test_micro_batches_of_a_step_split_its_rows():
    groups = [[i] for i in range(40)]
    whole = batch_indices(groups, 8, 2, 0, 1, seed=1)
    halves = batch_indices(groups, 4, 2, 0, 2, seed=1) + batch_indices(groups, 4, 2, 1, 2, seed=1)
    assert whole == halves


def test_training_data_asked_per_premise_groups_by_premise():
    config = load_config(
        resource_dir("experiments") / "tiny.yaml",
        ["data.generate_train=60", "data.questions_per_premise=3", "data.batch_by_premise=true"],
    )
    data = TrainingData.load(config.data)
    groups = premise_groups(data.supervised, config.data.batch_by_premise)
    assert sum(len(g) for g in groups) == 60 and max(len(g) for g in groups) > 2
    for group in groups:
        assert len({data.supervised[i].premise for i in group}) == 1
    assert premise_groups(data.supervised, False) == [[i] for i in range(60)]


def test_generated_unlabelled_premises_join_the_semantic_term_without_labels():
    config = load_config(resource_dir("experiments") / "tiny.yaml", ["data.generate_train=40"])
    plain = TrainingData.load(config.data)
    assert plain.unlabeled == []
    config.data.generate_unlabeled = 30
    data = TrainingData.load(config.data)
    assert data.supervised == plain.supervised and data.dev == plain.dev
    assert len(data.unlabeled) == 30 and all(q.label is None for q in data.unlabeled)
    assert all(q.split == "train" and q.task == config.data.task for q in data.unlabeled)
    labelled = {q.premise for q in data.supervised} | {q.premise for q in data.dev}
    assert not any(q.premise in labelled for q in data.unlabeled)  # the labelled seed would repeat them all


def test_balanced_cases_change_the_training_questions_and_leave_the_dev_set():
    overrides = ["data.task=dseparation", "data.generate_train=40", "data.questions_per_premise=3"]
    plain = TrainingData.load(load_config(resource_dir("experiments") / "tiny.yaml", overrides).data)
    config = load_config(resource_dir("experiments") / "tiny.yaml", [*overrides, "data.balance_cases=true"])
    balanced = TrainingData.load(config.data)
    assert balanced.supervised == generate("dseparation", "train", 40, seed=0, per_graph=3, balance_cases=True)
    assert balanced.supervised != plain.supervised and balanced.dev == plain.dev
