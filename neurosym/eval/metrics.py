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

`roc_auc` reads the scores (P(Yes)) instead of the answers: it tells a model whose threshold has
collapsed (it still ranks Yes questions above No questions, yet answers one word) from one whose
answers carry no information at all. It is ``None`` when one class is absent from the labels.
`premise_auc` is the same with the premise held fixed: it asks whether the model reads the
question, not just the premise. It is ``None`` when no premise has questions of both classes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import groupby

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
    """The confusion matrix of Yes/No answers (Yes positive) and every metric derived from it.

    The metrics of `rates` read as attributes too: ``metrics.accuracy``, ``metrics.mcc``, …
    """

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

    def proportions(self) -> dict[str, tuple[int, int]]:
        """(successes, trials) of every metric that is a single proportion."""
        label_no, said_yes, said_no = self.fp + self.tn, self.tp + self.fp, self.fn + self.tn
        return {
            "accuracy": (self.tp + self.tn, self.n),
            "yes_rate": (said_yes, self.n),
            "label_yes_rate": (self.label_yes, self.n),
            "recall_yes": (self.tp, self.label_yes),
            "recall_no": (self.tn, label_no),
            "precision_yes": (self.tp, said_yes),
            "precision_no": (self.tn, said_no),
        }

    def rates(self) -> dict[str, float | None]:
        """The proportions, balanced accuracy (mean recall over the classes present), F1 per class
        and MCC (0 when undefined)."""
        rates = {name: _ratio(*pair) for name, pair in self.proportions().items()}
        present = [r for r in (rates["recall_yes"], rates["recall_no"]) if r is not None]
        rates["balanced_accuracy"] = sum(present) / len(present) if present else None
        rates["f1_yes"] = _f1(rates["precision_yes"], rates["recall_yes"])
        rates["f1_no"] = _f1(rates["precision_no"], rates["recall_no"])
        product = (self.tp + self.fp) * (self.fn + self.tn) * self.label_yes * (self.fp + self.tn)
        rates["mcc"] = (self.tp * self.tn - self.fp * self.fn) / math.sqrt(product) if product else 0.0
        return rates

    def __getattr__(self, name: str) -> float | None:
        rates = {} if name.startswith("_") else self.rates()
        if name not in rates:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return rates[name]

    def to_dict(self) -> dict:
        order = (
            "accuracy",
            "balanced_accuracy",
            "mcc",
            "yes_rate",
            "label_yes_rate",
            "recall_yes",
            "recall_no",
            "precision_yes",
            "precision_no",
            "f1_yes",
            "f1_no",
        )
        rates = self.rates()
        intervals = {
            name: _listed(wilson_interval(*pair))
            for name, pair in self.proportions().items()
            if name != "label_yes_rate"
        }  # the labels' rate is a fact of the set, not an estimate
        return {
            "n": self.n,
            **{name: rates[name] for name in order},
            "confusion": {"tp": self.tp, "fn": self.fn, "fp": self.fp, "tn": self.tn},
            "intervals": intervals,
        }


def _listed(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else list(interval)


def roc_auc(gold: Sequence[bool], scores: Sequence[float]) -> float | None:
    """The area under the ROC curve of ``scores`` against ``gold`` (True = Yes): the chance that a
    Yes question scores above a No question, ties counting half (Mann–Whitney U over the product of
    the class sizes, from mid-ranks); None when a class is absent."""
    if len(gold) != len(scores):
        raise DataError(f"{len(gold)} gold labels but {len(scores)} scores")
    positives = sum(map(bool, gold))
    negatives = len(gold) - positives
    if not positives or not negatives:
        return None
    rank, rank_sum = 0, 0.0
    for _, tied in groupby(sorted(zip(scores, map(bool, gold))), key=lambda pair: pair[0]):
        tied = list(tied)  # one block of equal scores, each at the block's mid-rank
        rank_sum += (rank + (len(tied) + 1) / 2) * sum(g for _, g in tied)
        rank += len(tied)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def premise_auc(gold: Sequence[bool], scores: Sequence[float], premises: Sequence[Hashable]) -> float | None:
    """`roc_auc` within premises: over every (Yes, No) pair of questions about the same premise,
    the chance that the Yes question scores higher, ties counting half. A model whose P(Yes)
    depends on the premise alone scores 0.5, whatever its `roc_auc` across premises; None when
    no premise has questions of both classes."""
    if not len(gold) == len(scores) == len(premises):
        raise DataError(f"{len(gold)} gold labels, {len(scores)} scores and {len(premises)} premises")
    groups: dict[Hashable, list[tuple[bool, float]]] = defaultdict(list)
    for label, score, premise in zip(gold, scores, premises):
        groups[premise].append((bool(label), score))
    ranked = pairs = 0.0
    for members in groups.values():
        labels, group_scores = zip(*members)
        auc = roc_auc(labels, group_scores)
        if auc is not None:
            n = sum(labels) * (len(labels) - sum(labels))
            ranked, pairs = ranked + auc * n, pairs + n
    return ranked / pairs if pairs else None


def binary_metrics(gold: Sequence[bool], pred: Sequence[bool]) -> BinaryMetrics:
    """Count the confusion matrix of ``pred`` against ``gold`` (True = Yes)."""
    if len(gold) != len(pred):
        raise DataError(f"{len(gold)} gold labels but {len(pred)} predictions")
    tp = sum(1 for g, p in zip(gold, pred) if g and p)
    fn = sum(1 for g, p in zip(gold, pred) if g and not p)
    fp = sum(1 for g, p in zip(gold, pred) if not g and p)
    return BinaryMetrics(tp, fn, fp, len(gold) - tp - fn - fp)
