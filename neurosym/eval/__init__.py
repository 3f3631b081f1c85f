"""Evaluation that collapse cannot fool: balanced metrics with intervals, a documented collapse
verdict, constraint consistency, context sensitivity, and side-by-side reports of runs.

    metrics = binary_metrics(gold, pred)        # lists of bools, True = Yes
    verdict = collapse_verdict(metrics)         # .collapsed, .reasons
"""
from neurosym.eval.metrics import BinaryMetrics, binary_metrics, wilson_interval
from neurosym.eval.verdict import Verdict, collapse_verdict

__all__ = ["BinaryMetrics", "Verdict", "binary_metrics", "collapse_verdict", "wilson_interval"]
