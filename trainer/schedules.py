"""λ(t) schedules for the semantic term: how much the constraint weighs against cross-entropy.

``constant``, ``linear`` (the paper's 0.05 → 0.30 over the run), ``cosine`` (start → end on a half
cosine), ``warmup_hold`` (linear from 0 to ``end`` over ``warmup_steps``, then held) and
``adaptive``. The adaptive rule, applied at each dev evaluation:

- drift = the dev Yes-rate moved more than ``yes_rate_band`` away from the dev labels' Yes-rate
  (toward always-Yes or always-No), or the constraint-violation rate rose by more than
  ``violation_rise`` since the previous evaluation; with ``yes_drift: against_pull`` a Yes-rate
  drift counts only when the semantic term pulls the other way (a template whose queries are
  mostly No, d-separation's, pulls toward No, and more λ would push a No-drift further);
- on drift λ ← min(λ · up, max); when neither holds, λ ← max(λ · down, start).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trainer.config import LambdaConfig


def lr_factor(step: int, warmup: int, total: int, schedule: str, floor: float) -> float:
    """The learning rate at ``step`` over its peak: linear warm-up over ``warmup`` steps, then held
    (``constant``) or decayed (``linear``, ``cosine``) to ``floor`` at step ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    decay = 1 - progress if schedule == "linear" else 0.5 * (1 + math.cos(math.pi * progress))
    return floor + (1 - floor) * decay


@dataclass
class LambdaSchedule:
    config: LambdaConfig
    total_steps: int
    value: float = 0.0  # the adaptive schedule's current λ
    last_violation: float | None = None

    def __post_init__(self):
        self.value = self.config.start

    def __call__(self, step: int) -> float:
        c = self.config
        frac = min(max(step / max(self.total_steps - 1, 1), 0.0), 1.0)
        if c.schedule == "constant":
            return c.start
        if c.schedule == "linear":
            return c.start + (c.end - c.start) * frac
        if c.schedule == "cosine":
            return c.end + (c.start - c.end) * 0.5 * (1 + math.cos(math.pi * frac))
        if c.schedule == "warmup_hold":
            return c.end * min(1.0, step / c.warmup_steps) if c.warmup_steps else c.end
        return self.value

    def observe(
        self, yes_rate: float, label_yes_rate: float, violation_rate: float | None, pull: float | None = None
    ) -> None:
        """Feed the collapse monitor's dev figures to the adaptive schedule (others ignore them);
        ``pull`` is the semantic term's pull on P(Yes) at the dev beliefs (`SemanticTerm.pull`)."""
        if self.config.schedule != "adaptive":
            return
        c = self.config
        lean = yes_rate - label_yes_rate
        drift = abs(lean) > c.yes_rate_band
        if c.yes_drift == "against_pull" and pull is not None:
            drift &= pull * lean < 0
        if violation_rate is not None and self.last_violation is not None:
            drift |= violation_rate - self.last_violation > c.violation_rise
        if violation_rate is not None:
            self.last_violation = violation_rate
        self.value = min(self.value * c.up, c.max) if drift else max(self.value * c.down, c.start)

    def state_dict(self) -> dict:
        return {"value": self.value, "last_violation": self.last_violation}

    def load_state_dict(self, state: dict) -> None:
        self.value, self.last_violation = state["value"], state["last_violation"]
