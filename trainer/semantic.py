"""The semantic term: sampled k-node subsets of premises, the model's logits at their queries,
and the exact −log P(constraint) of each subset.

The constraint template is compiled once, for k nodes; every premise graph, whatever its size, is
seen through k-node subsets grounded onto it by the `SubsetSampler`. Observed atoms enter the
circuit as ±inf logits (0/1 evidence), asked atoms as the model's logit z = logit_yes − logit_no,
and atoms left unasked are quantified existentially by the mask (the answers must extend to a model).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

import neurosym as ns
from neurosym.causal import Question, SubsetSampler
from neurosym.causal.subsets import Asked, circuit_inputs, subsets_around
from neurosym.errors import DataError
from neurosym.resources import constraint_path
from trainer.config import SemanticConfig


class SemanticTerm:
    """The compiled template, its exact loss and the subset sampler, kept together for a run."""

    def __init__(self, circuit, config: SemanticConfig):
        if not circuit.predicted:
            raise DataError(
                f"{circuit.manifest['source']}: theory {circuit.name!r} has no predicted atoms: "
                "there is nothing to ask the model"
            )
        self.sampler = SubsetSampler.for_circuit(circuit)
        self.circuit = circuit
        self.config = config
        self.loss = ns.SemanticLoss(circuit, on_impossible="ignore")  # counted by the caller instead

    @classmethod
    def compile(cls, config: SemanticConfig, task: str) -> SemanticTerm:
        """Compile the task's template (or ``config.constraints``) over k nodes; the cache makes it once."""
        source = config.constraints or constraint_path(f"causal/{task}.ns")
        return cls(ns.compile(source, {"Node": config.k}), config)

    def to(self, device: torch.device) -> SemanticTerm:
        self.loss.to(device)
        return self

    def sample(self, rows: Sequence[Question], rng: random.Random, max_queries: int | None = None) -> list[Asked]:
        """``subsets_per_example`` subsets around each row's own query."""
        return subsets_around(self.sampler, rows, rng, self.config.subsets_per_example, max_queries)

    def __call__(self, z: torch.Tensor, asked: Sequence[Asked]) -> tuple[torch.Tensor, int]:
        """Mean −log P over the subsets, from ``z`` [sum of their query counts] in `asked_prompts` order,
        and the number of subsets left out because their evidence alone violates the constraint
        (their loss is +inf: it would make the mean inf)."""
        logits, mask = circuit_inputs(z, asked)
        nll = self.loss(logits=logits, mask=mask)  # an impossible row: inf, with gradient 0
        possible = torch.isfinite(nll)
        mean = nll[possible].mean() if bool(possible.any()) else z.sum() * 0.0
        return mean, int((~possible).sum())

    def pull(self, z: torch.Tensor, asked: Sequence[Asked]) -> float:
        """Which way the semantic term moves the answers at logits ``z``: the mean of −∂loss/∂z over
        the asked atoms; above 0 a gradient step on the term alone raises P(Yes), below 0 lowers it."""
        z = z.detach().float().requires_grad_(True)
        with torch.enable_grad():
            loss, _ = self(z, asked)
            (grad,) = torch.autograd.grad(loss, z, allow_unused=True)
        return 0.0 if grad is None or len(z) == 0 else float(-grad.mean())
