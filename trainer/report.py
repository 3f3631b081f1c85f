"""A run's final dev collapse report, read back from its metrics.jsonl and printed as a table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from neurosym.errors import RunFolderError
from neurosym.eval.verdict import flagged
from neurosym.runs import RunFolder

ROWS = [
    ("accuracy", "accuracy"),
    ("balanced accuracy", "balanced_accuracy"),
    ("MCC", "mcc"),
    ("ROC AUC", "roc_auc"),
    ("ROC AUC within premises", "premise_auc"),
    ("recall Yes", "recall_yes"),
    ("recall No", "recall_no"),
    ("predicted Yes-rate", "yes_rate"),
    ("label Yes-rate", "label_yes_rate"),
    ("constraint violations", "violation_rate"),
]


def final_dev(folder: Path) -> dict:
    """The dev report of the run's final model: that of the step its weights come from
    (``selected_step`` in ``final/neurosym.json``), else the last one."""
    run = RunFolder(folder)
    checks = run.dev_checks()
    return checks[_final_step(run, checks)]


def better_earlier_check(folder: Path) -> tuple[int, dict] | None:
    """(step, dev report) of the check ``eval.select: best`` would keep (the highest dev balanced
    accuracy, the earlier on a tie), when the final model's check is flagged and that one is not."""
    run = RunFolder(folder)
    checks = run.dev_checks()
    if not flagged(checks[_final_step(run, checks)]):
        return None
    step, report = max(checks.items(), key=lambda item: (item[1]["balanced_accuracy"], -item[0]))
    return None if flagged(report) else (step, report)


def _final_step(run: RunFolder, checks: dict[int, dict]) -> int:
    """The step of the final model's dev check: ``selected_step`` in ``final/neurosym.json``, else the last."""
    selected = run.read_manifest().get("selected_step")
    step = next(reversed(checks), None) if selected is None else selected
    if step not in checks:
        raise RunFolderError(
            f"{run.metrics} holds no dev evaluation" + (f" at step {selected}" if selected is not None else "")
        )
    return step


def print_reports(reports: dict[str, dict], console: Console, title: str = "final dev collapse report") -> None:
    """One column per run: the verdict, then the metrics; the reasons of each flagged run below."""
    table = Table(title=title)
    table.add_column("metric")
    for name in reports:
        table.add_column(name, justify="right")
    table.add_row("verdict", *(_verdict(r) for r in reports.values()))
    table.add_row("dev questions", *(str(r.get("n", "-")) for r in reports.values()))
    for label, key in ROWS:
        table.add_row(label, *("-" if r.get(key) is None else f"{r[key]:.3f}" for r in reports.values()))
    table.add_row("accuracy, 95% interval", *(_interval(r, "accuracy") for r in reports.values()))
    console.print(table)
    for name, r in reports.items():
        if flagged(r):
            console.print(f"[red]{name}[/]: {'; '.join(r['reasons'])}")


def _interval(report: dict, key: str) -> str:
    bounds = report.get("intervals", {}).get(key)
    return "-" if bounds is None else f"{bounds[0]:.3f}–{bounds[1]:.3f}"


def _verdict(report: dict) -> str:
    if flagged(report):
        return f"[red]{report['status']}[/]"
    return "[yellow]undetermined[/]" if report.get("status") == "undetermined" else "[green]not collapsed[/]"
