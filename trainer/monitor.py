"""The collapse monitor: every N steps, dev metrics that accuracy alone cannot fake.

Balanced accuracy, per-class recall, Yes-rate (against the labels' Yes-rate), MCC, ROC AUC (does
P(Yes) still rank the questions when the answers have collapsed?), the log loss (mean −log P(the
gold answer): it still tells checks apart once accuracy has saturated), and the constraint-violation
rate: the share of sampled k-node subsets of dev premises on which the model's 0/1 answers, with
the premise's evidence, satisfy no model of the constraint. The semantic term's pull on the same
subsets (which way it alone would move P(Yes)) steers the adaptive λ schedule.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from neurosym.causal import Question
from neurosym.causal.subsets import asked_prompts, sample_subsets
from neurosym.eval import answer_report
from neurosym.eval.consistency import consistency_report
from neurosym.model import YesNoHead
from trainer.config import EvalConfig
from trainer.semantic import SemanticTerm


class CollapseMonitor:
    def __init__(self, head: YesNoHead, dev: Sequence[Question], term: SemanticTerm, config: EvalConfig, seed: int):
        self.head, self.dev, self.term, self.config = head, list(dev), term, config
        rng = random.Random(f"{seed}/monitor")
        self.subsets = sample_subsets(term.sampler, self.dev, config.subsets, rng)  # the same at every evaluation

    def evaluate(self) -> dict:
        """The dev report: metrics, violation rate, and the collapse verdict with its reasons."""
        subset_premises, subset_questions = asked_prompts(self.subsets)
        premises = [q.premise for q in self.dev]
        p_yes = self.head.predict(
            premises + subset_premises, [q.question for q in self.dev] + subset_questions, self.config.batch_size
        )
        answers = p_yes > 0.5
        gold = [q.label == "Yes" for q in self.dev]
        dev_p = p_yes[: len(self.dev)].cpu().double()
        report = answer_report(gold, answers[: len(self.dev)].tolist(), dev_p.tolist(), premises)
        clamped = dev_p.clamp(1e-12, 1 - 1e-12)  # a certain wrong answer stays finite
        report["log_loss"] = F.binary_cross_entropy(clamped, torch.tensor(gold, dtype=torch.float64)).item()
        subset_p = p_yes[len(self.dev) :].to(self.head.device)
        consistency = consistency_report(
            self.term.circuit, self.subsets, answers[len(self.dev) :].tolist(), self.dev[0].task, self.term.sampler.k
        )
        report["violation_rate"] = consistency.violation_rate
        report["semantic_pull"] = self.term.pull(torch.logit(subset_p.double(), eps=1e-6), self.subsets)
        return report
