"""A training micro-batch split into packed passes by a token budget has the one-pass loss and gradient."""

from __future__ import annotations

import random

import networkx as nx
import pytest
import torch
from accelerate import Accelerator

from neurosym.resources import resource_dir
from trainer.config import load_config
from trainer.data import TrainingData
from trainer.recipe import build_head, micro_batch_prompts, train_micro_batch
from trainer.semantic import SemanticTerm


@pytest.fixture(scope="module")
def tiny_batch():
    config = load_config(resource_dir("experiments") / "tiny.yaml", ["data.generate_train=32", "data.generate_dev=4"])
    torch.manual_seed(0)
    head = build_head(config.model, config.prompt, torch.device("cpu"))
    term = SemanticTerm.compile(config.semantic, "transitivity")
    rows = TrainingData.load(config.data).supervised[:4]
    asked = term.sample(rows, random.Random(0))
    two_cycle = nx.DiGraph([("a", "b"), ("b", "a"), ("b", "c")])  # evidence with no model: an impossible subset
    asked.append(("a causes b. b causes a. b causes c.", term.sampler.ground(two_cycle, ["a", "b", "c"])))
    return head, term, rows, asked


def _step(head, term, rows, asked, max_tokens):
    head.zero_grad()
    ce, sl, impossible, prompts = train_micro_batch(
        Accelerator(cpu=True), head, head, term, rows, asked, 0.3, max_tokens, accum=2
    )
    grads = [p.grad.clone() for p in head.parameters() if p.requires_grad]
    return ce, sl, impossible, prompts, grads


def test_token_budget_passes_give_the_one_pass_loss_and_gradient(tiny_batch):
    head, term, rows, asked = tiny_batch
    premises, questions = micro_batch_prompts(rows, asked)
    assert len(head.pack_batches(premises, questions, 1, whole_premises=True)) == len(set(premises))  # one per premise
    ce, sl, impossible, prompts, grads = _step(head, term, rows, asked, None)
    split = _step(head, term, rows, asked, 1)
    assert (impossible, prompts) == (1, len(questions)) == split[2:4]
    assert split[0] == pytest.approx(ce, abs=1e-6) and split[1] == pytest.approx(sl, abs=1e-6)
    for one, passes in zip(grads, split[4]):
        assert torch.allclose(one, passes, atol=1e-6, rtol=1e-4)


def test_a_micro_batch_without_subsets_has_no_semantic_loss(tiny_batch):
    head, term, rows, _ = tiny_batch
    ce, sl, impossible, prompts, _ = _step(head, term, rows, [], 1)
    assert ce > 0 and sl is None and (impossible, prompts) == (0, len(rows))
