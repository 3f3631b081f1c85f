"""The collapse monitor: every N steps, dev metrics that accuracy alone cannot fake.

Balanced accuracy, per-class recall, Yes-rate (against the labels' Yes-rate), MCC, ROC AUC (does
P(Yes) still rank the questions when the answers have collapsed?), and the constraint-violation
rate: the share of sampled k-node subsets of dev premises on which the model's 0/1 answers, with
the premise's evidence, satisfy no model of the constraint. The semantic term's pull on the same
subsets (which way it alone would move P(Yes)) steers the adaptive λ schedule.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from neurosym.causal import Question
from neurosym.eval import answer_report
from neurosym.model import YesNoHead
from trainer.config import EvalConfig
from trainer.semantic import SemanticTerm, prompts


class CollapseMonitor:
    def __init__(self, head: YesNoHead, dev: Sequence[Question], term: SemanticTerm, config: EvalConfig, seed: int):
        self.head, self.dev, self.term, self.config = head, list(dev), term, config
        rng = random.Random(f"{seed}/monitor")
        picked = rng.sample(self.dev, min(config.subsets, len(self.dev)))
        self.subsets = [(q.premise, term.sampler.sample(q, rng)) for q in picked]  # the same at every evaluation

    def evaluate(self) -> dict:
        """The dev report: metrics, violation rate, and the collapse verdict with its reasons."""
        subset_premises, subset_questions = prompts(self.subsets)
        premises = [q.premise for q in self.dev]
        p_yes = self.head.predict(premises + subset_premises, [q.question for q in self.dev] + subset_questions,
                                  self.config.batch_size)
        answers = p_yes > 0.5
        report = answer_report([q.label == "Yes" for q in self.dev], answers[: len(self.dev)].tolist(),
                               p_yes[: len(self.dev)].tolist(), premises)
        subset_p = p_yes[len(self.dev):].to(self.head.device)
        violated = self.term.violations(subset_p > 0.5, self.subsets)
        report["violation_rate"] = float(violated.float().mean())
        report["semantic_pull"] = self.term.pull(torch.logit(subset_p.double(), eps=1e-6), self.subsets)
        return report
