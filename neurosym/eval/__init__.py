"""Evaluation that collapse cannot fool: balanced metrics with intervals, a documented collapse
verdict, constraint consistency, context sensitivity, and side-by-side reports of runs.

    metrics = binary_metrics(gold, pred)        # lists of bools, True = Yes
    verdict = collapse_verdict(metrics)         # .collapsed, .reasons
    auc = roc_auc(gold, p_yes)                  # does P(Yes) still rank the questions?
    within = premise_auc(gold, p_yes, premises) # ... with the premise held fixed?
"""

from neurosym.eval.metrics import BinaryMetrics, binary_metrics, premise_auc, roc_auc, wilson_interval
from neurosym.eval.verdict import Verdict, answer_report, collapse_verdict

__all__ = [
    "BinaryMetrics",
    "Verdict",
    "answer_report",
    "binary_metrics",
    "collapse_verdict",
    "premise_auc",
    "roc_auc",
    "wilson_interval",
]
