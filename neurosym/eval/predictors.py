"""What gets evaluated: anything that gives P(Yes) for (premise, question) pairs.

`HeadPredictor` wraps a model's two-row answer head. The reference predictors (always Yes, always
No, a seeded coin, the networkx oracle) need no model: they calibrate the metrics and the verdict
(`neurosym eval baseline:always-no` shows what collapse looks like on a file).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from neurosym.causal import Question
from neurosym.errors import DataError

BASELINE_PREFIX = "baseline:"


class Predictor(Protocol):
    """P(Yes) in [0, 1] for each (premise, question) pair; 0/1 answers are P(Yes) > 0.5."""

    name: str

    def predict(self, premises: Sequence[str], questions: Sequence[str]) -> list[float]: ...


class HeadPredictor:
    """A `neurosym.model.YesNoHead`, run in eval mode and batches."""

    def __init__(self, head, batch_size: int = 16, name: str = "model"):
        if batch_size < 1:
            raise DataError(f"--batch-size must be at least 1, got {batch_size}")
        self.head, self.batch_size, self.name = head, batch_size, name

    def predict(self, premises: Sequence[str], questions: Sequence[str]) -> list[float]:
        p_yes = self.head.predict(list(premises), list(questions), self.batch_size)
        broken = (~p_yes.isfinite()).nonzero().flatten().tolist()
        if broken:  # a NaN would silently count as "No" and pass for collapse
            raise DataError(
                f"model {self.name!r} gave a non-finite P(Yes) for {len(broken)} of {len(p_yes)} questions "
                f"(first: {questions[broken[0]]!r} after {premises[broken[0]][:80]!r})",
                hint="its weights may hold NaN; check the run's metrics.jsonl for non-finite losses",
            )
        return p_yes.tolist()


class ConstantPredictor:
    """Always the same answer: the two collapsed models."""

    def __init__(self, yes: bool):
        self.yes = yes
        self.name = f"{BASELINE_PREFIX}always-{'yes' if yes else 'no'}"

    def predict(self, premises: Sequence[str], questions: Sequence[str]) -> list[float]:
        return [1.0 if self.yes else 0.0] * len(questions)


class CoinPredictor:
    """A fair coin, seeded: the same call order gives the same answers on any machine."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(f"coin/{seed}")
        self.name = f"{BASELINE_PREFIX}random"

    def predict(self, premises: Sequence[str], questions: Sequence[str]) -> list[float]:
        return [self.rng.random() for _ in questions]


class OraclePredictor:
    """The true answer from the premise graph (networkx): every question right."""

    name = f"{BASELINE_PREFIX}oracle"

    def predict(self, premises: Sequence[str], questions: Sequence[str]) -> list[float]:
        return [float(Question.parse(p, q).truth) for p, q in zip(premises, questions)]


BASELINES = {
    "always-yes": lambda seed: ConstantPredictor(True),
    "always-no": lambda seed: ConstantPredictor(False),
    "random": CoinPredictor,
    "oracle": lambda seed: OraclePredictor(),
}


def baseline(name: str, seed: int = 0) -> Predictor:
    """A reference predictor by name (``always-yes``, ``always-no``, ``random``, ``oracle``)."""
    if name not in BASELINES:
        raise DataError(f"unknown baseline {name!r}; choose from: {', '.join(BASELINES)}")
    return BASELINES[name](seed)
