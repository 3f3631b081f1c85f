"""The collapse monitor: every N steps, dev metrics that accuracy alone cannot fake.

Balanced accuracy, per-class recall, Yes-rate (against the labels' Yes-rate), MCC, and the
constraint-violation rate of the model's 0/1 answers on sampled k-node subsets of dev premises.
"""
from __future__ import annotations

import random

import torch

from neurosym.eval import binary_metrics, collapse_verdict
from trainer.config import EvalConfig


class CollapseMonitor:
    def __init__(self, head, dev_rows, circuit, sampler, config: EvalConfig, seed: int):
        self.head, self.rows, self.circuit, self.config = head, dev_rows, circuit, config
        rng = random.Random(f"{seed}/monitor")
        picked = rng.sample(dev_rows, min(config.subsets, len(dev_rows)))
        self.samples = [(q.premise, sampler.sample(q, rng)) for q in picked]  # fixed across evaluations

    def evaluate(self) -> dict:
        p = self.head.predict([q.premise for q in self.rows], [q.question for q in self.rows], self.config.batch_size)
        gold = [q.label == "Yes" for q in self.rows]
        pred = (p > 0.5).tolist()
        metrics = binary_metrics(gold, pred)
        verdict = collapse_verdict(metrics)
        report = {k: metrics.to_dict()[k] for k in ("accuracy", "balanced_accuracy", "mcc", "yes_rate", "label_yes_rate",
                                                    "recall_yes", "recall_no")}
        report["violation_rate"] = self.violation_rate()
        report["collapsed"] = verdict.collapsed
        report["reasons"] = verdict.reasons
        return report

    def violation_rate(self) -> float | None:
        """Share of sampled subsets where the model's 0/1 answers (with the evidence) satisfy no model."""
        if not self.samples:
            return None
        premises = [premise for premise, s in self.samples for _ in s.queries]
        questions = [a.text for _, s in self.samples for a in s.queries]
        answers = (self.head.predict(premises, questions, self.config.batch_size) > 0.5).float()
        rows, masks, offset = [], [], 0
        for _, sample in self.samples:
            n = len(sample.queries)
            rows.append(sample.probabilities(answers[offset: offset + n]))
            masks.append(sample.mask())
            offset += n
        with torch.no_grad():
            log_p = self.circuit.log_prob(torch.stack(rows).double(), mask=torch.stack(masks))
        return float((log_p == float("-inf")).float().mean())
