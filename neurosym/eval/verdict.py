"""The collapse verdict: is the model answering the question, or one word whatever it is asked?

A model is **collapsed** on a set of questions when either rule fires:

1. *one answer dominates a balanced set*: the labels' Yes-rate lies in [0.4, 0.6] and one answer
   (Yes or No) covers at least 95% of the predictions;
2. *no signal*: MCC < 0.05 and balanced accuracy < 0.55 (any label balance; MCC is 0 for a constant
   predictor, so an always-No model on an 80%-No set is caught here although its accuracy is 0.8).

A model is **inverted** when, with no answer dominating, its answers are mostly the opposite of the
truth: MCC ≤ −0.2 and balanced accuracy ≤ 0.4. It carries a signal, backwards, so it is not called
collapsed; both verdicts are *flagged* (the model cannot be used as it is).

The verdict is **undetermined** (not collapsed, with a note) when no rule fires but the set cannot
tell: it is empty, or its labels hold one class only (then a model that always gives that answer
and a model that reasons correctly score the same).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from neurosym.eval.metrics import BinaryMetrics, binary_metrics, premise_auc, roc_auc

DOMINANT_SHARE = 0.95  # rule 1: one answer covers at least this share of the predictions …
BALANCED_BAND = (0.4, 0.6)  # … on a set whose label Yes-rate lies in this band
MIN_MCC = 0.05  # rule 2: MCC below this …
MIN_BALANCED_ACCURACY = 0.55  # … together with balanced accuracy below this
INVERTED_MCC = -0.2  # inverted: MCC at most this …
INVERTED_BALANCED_ACCURACY = 0.4  # … and balanced accuracy at most this


@dataclass(frozen=True)
class Verdict:
    """``collapsed`` or ``inverted`` and why; ``notes`` say when the set cannot support a verdict."""

    collapsed: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inverted: bool = False

    @property
    def flagged(self) -> bool:
        """Collapsed or inverted: the answers cannot be used as they are."""
        return self.collapsed or self.inverted

    @property
    def status(self) -> str:
        """``collapsed``, ``inverted``, ``undetermined`` or ``ok``."""
        if self.flagged:
            return "collapsed" if self.collapsed else "inverted"
        return "undetermined" if self.notes else "ok"

    def to_dict(self) -> dict:
        return {
            "collapsed": self.collapsed,
            "inverted": self.inverted,
            "flagged": self.flagged,
            "status": self.status,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }


def flagged(entry: dict) -> bool:
    """Whether a verdict as stored (eval.json, a dev check) is flagged; entries written before the
    inverted verdict carry only ``collapsed``."""
    return bool(entry.get("flagged", entry["collapsed"]))


def collapse_verdict(metrics: BinaryMetrics) -> Verdict:
    """Apply the documented rules to one confusion matrix."""
    if metrics.n == 0:
        return Verdict(False, notes=["no questions: nothing to judge"])
    reasons = []
    yes_rate, label_rate = metrics.yes_rate, metrics.label_yes_rate
    dominant, share = ("Yes", yes_rate) if yes_rate >= 0.5 else ("No", 1 - yes_rate)
    if BALANCED_BAND[0] <= label_rate <= BALANCED_BAND[1] and share >= DOMINANT_SHARE:
        reasons.append(
            f"answers {dominant} to {share:.1%} of a balanced set (labels {label_rate:.1%} Yes; "
            f"threshold {DOMINANT_SHARE:.0%})"
        )
    ba = metrics.balanced_accuracy
    if not reasons and metrics.mcc <= INVERTED_MCC and ba <= INVERTED_BALANCED_ACCURACY:
        return Verdict(
            False,
            [
                f"inverted: MCC {_beside(metrics.mcc, INVERTED_MCC)} ≤ {INVERTED_MCC} and balanced accuracy "
                f"{_beside(ba, INVERTED_BALANCED_ACCURACY)} ≤ "
                f"{INVERTED_BALANCED_ACCURACY}: the answers are mostly the opposite of the truth"
            ],
            inverted=True,
        )
    if metrics.mcc < MIN_MCC and ba < MIN_BALANCED_ACCURACY:
        reasons.append(
            f"no signal: MCC {_beside(metrics.mcc, MIN_MCC)} < {MIN_MCC} and balanced accuracy "
            f"{_beside(ba, MIN_BALANCED_ACCURACY)} < {MIN_BALANCED_ACCURACY}"
        )
    notes = []
    if not reasons and metrics.label_yes in (0, metrics.n):
        only = "Yes" if metrics.label_yes else "No"
        notes.append(
            f"every label is {only}: a model that always answers {only} would score the same; "
            "judge collapse on a set with both answers"
        )
    return Verdict(bool(reasons), reasons, notes)


def answer_report(
    gold: Sequence[bool],
    answers: Sequence[bool],
    scores: Sequence[float] | None,
    premises: Sequence[Hashable] | None = None,
) -> dict:
    """One set of answers judged, as every level of eval.json and every dev check carries it: the
    metrics of `BinaryMetrics.to_dict`, ``roc_auc`` of ``scores`` and ``premise_auc`` of ``scores``
    grouped by ``premises`` (None without them), and the verdict."""
    metrics = binary_metrics(gold, answers)
    auc = None if scores is None else roc_auc(gold, scores)
    within = None if scores is None or premises is None else premise_auc(gold, scores, premises)
    return {**metrics.to_dict(), "roc_auc": auc, "premise_auc": within, **collapse_verdict(metrics).to_dict()}


def _beside(value: float, limit: float) -> str:
    """``value`` to 3 decimals, or to as many more as it takes not to print as ``limit`` itself."""
    for decimals in range(3, 10):
        shown = f"{value:.{decimals}f}"
        if float(shown) != limit:
            return shown
    return shown
