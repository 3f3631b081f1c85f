"""Binary metrics that a collapsed model cannot pass: the confusion matrix and what follows from it.

"Yes" is the positive class. Degenerate cases have fixed, documented values rather than NaN (JSON
has no NaN):

* a rate whose denominator is zero (recall of a class absent from the labels, precision of a class
  never predicted, anything on an empty set) is ``None``;
* F1 is ``None`` when its precision or recall is, and 0 when both are 0;
* balanced accuracy is the mean recall over the classes *present* in the labels (so on a one-class
  set it is that class's recall), ``None`` on an empty set;
* MCC is 0 whenever it is undefined (a row or column of the confusion matrix is empty, which
  includes every constant predictor and every one-class label set).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from neurosym.errors import DataError

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion (95% by default); None when ``n`` is 0.

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or n successes,
    which is exactly where a collapsed model puts its per-class recalls.
    """
    if n == 0:
        return None
    if not 0 <= successes <= n:
        raise DataError(f"successes must lie in [0, {n}], got {successes}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class BinaryMetrics:
    """The confusion matrix of Yes/No answers (Yes positive) and every metric derived from it."""

    tp: int  # gold Yes, predicted Yes
    fn: int  # gold Yes, predicted No
    fp: int  # gold No, predicted Yes
    tn: int  # gold No, predicted No

    @property
    def n(self) -> int:
        return self.tp + self.fn + self.fp + self.tn

    @property
    def label_yes(self) -> int:
        return self.tp + self.fn

    @property
    def label_no(self) -> int:
        return self.fp + self.tn

    @property
    def pred_yes(self) -> int:
        return self.tp + self.fp

    @property
    def pred_no(self) -> int:
        return self.fn + self.tn

    @property
    def accuracy(self) -> float | None:
        return _ratio(self.tp + self.tn, self.n)

    @property
    def recall_yes(self) -> float | None:
        return _ratio(self.tp, self.label_yes)

    @property
    def recall_no(self) -> float | None:
        return _ratio(self.tn, self.label_no)

    @property
    def precision_yes(self) -> float | None:
        return _ratio(self.tp, self.pred_yes)

    @property
    def precision_no(self) -> float | None:
        return _ratio(self.tn, self.pred_no)

    @property
    def f1_yes(self) -> float | None:
        return _f1(self.precision_yes, self.recall_yes)

    @property
    def f1_no(self) -> float | None:
        return _f1(self.precision_no, self.recall_no)

    @property
    def balanced_accuracy(self) -> float | None:
        """Mean recall over the classes present in the labels."""
        recalls = [r for r in (self.recall_yes, self.recall_no) if r is not None]
        return sum(recalls) / len(recalls) if recalls else None

    @property
    def mcc(self) -> float:
        """Matthews correlation coefficient; 0 when undefined."""
        product = self.pred_yes * self.pred_no * self.label_yes * self.label_no
        if product == 0:
            return 0.0
        return (self.tp * self.tn - self.fp * self.fn) / math.sqrt(product)

    @property
    def yes_rate(self) -> float | None:
        """Share of the answers that are Yes: compare with `label_yes_rate`."""
        return _ratio(self.pred_yes, self.n)

    @property
    def label_yes_rate(self) -> float | None:
        return _ratio(self.label_yes, self.n)

    def intervals(self) -> dict[str, list[float] | None]:
        """Wilson 95% intervals of the metrics that are single proportions."""
        pairs = {"accuracy": (self.tp + self.tn, self.n), "yes_rate": (self.pred_yes, self.n),
                 "recall_yes": (self.tp, self.label_yes), "recall_no": (self.tn, self.label_no),
                 "precision_yes": (self.tp, self.pred_yes), "precision_no": (self.tn, self.pred_no)}
        return {name: _listed(wilson_interval(k, n)) for name, (k, n) in pairs.items()}

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "mcc": self.mcc,
            "yes_rate": self.yes_rate,
            "label_yes_rate": self.label_yes_rate,
            "recall_yes": self.recall_yes,
            "recall_no": self.recall_no,
            "precision_yes": self.precision_yes,
            "precision_no": self.precision_no,
            "f1_yes": self.f1_yes,
            "f1_no": self.f1_no,
            "confusion": {"tp": self.tp, "fn": self.fn, "fp": self.fp, "tn": self.tn},
            "intervals": self.intervals(),
        }


def _listed(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else list(interval)


def binary_metrics(gold: Sequence[bool], pred: Sequence[bool]) -> BinaryMetrics:
    """Count the confusion matrix of ``pred`` against ``gold`` (True = Yes)."""
    if len(gold) != len(pred):
        raise DataError(f"{len(gold)} gold labels but {len(pred)} predictions")
    tp = sum(1 for g, p in zip(gold, pred) if g and p)
    fn = sum(1 for g, p in zip(gold, pred) if g and not p)
    fp = sum(1 for g, p in zip(gold, pred) if not g and p)
    return BinaryMetrics(tp, fn, fp, len(gold) - tp - fn - fp)
