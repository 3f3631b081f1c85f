"""``eval.json`` as people read it: the console (rich) and ``eval.md``, verdict first.

Both are drawn from the same rows (`metric_rows`), so the terminal and the Markdown never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from neurosym.causal.cases import CASES
from neurosym.causal.records import as_label
from neurosym.eval.verdict import flagged

COLUMNS = (
    "n",
    "accuracy",
    "balanced acc.",
    "MCC",
    "ROC AUC",
    "within premises",
    "Yes-rate (labels)",
    "recall Yes",
    "recall No",
    "verdict",
)


def _num(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(entry: dict, key: str) -> str:
    bounds = entry["intervals"].get(key)
    return "" if bounds is None else f" [{bounds[0]:.2f}, {bounds[1]:.2f}]"


def metric_row(name: str, entry: dict, intervals: bool = True) -> list[str]:
    """One line of a metrics table: name, then `COLUMNS` (Wilson intervals in brackets)."""
    shown = _interval if intervals else lambda entry, key: ""
    return [
        name,
        str(entry["n"]),
        _num(entry["accuracy"]) + shown(entry, "accuracy"),
        _num(entry["balanced_accuracy"]),
        _num(entry["mcc"]),
        _num(entry["roc_auc"]),
        _num(entry["premise_auc"]),
        f"{_num(entry['yes_rate'], 2)} ({_num(entry['label_yes_rate'], 2)})",
        _num(entry["recall_yes"]) + shown(entry, "recall_yes"),
        _num(entry["recall_no"]) + shown(entry, "recall_no"),
        entry["status"],
    ]


def metric_rows(result: dict, intervals: bool = True) -> list[tuple[str, list[list[str]]]]:
    """(title, rows) for the overall, per-file, per-family and per-size tables."""
    return [
        ("overall", [metric_row("all files", result["overall"], intervals)]),
        ("per file", [metric_row(Path(name).name, e, intervals) for name, e in result["per_file"].items()]),
        ("per split/family", [metric_row(name, e, intervals) for name, e in result["per_family"].items()]),
        ("per graph size (nodes)", [metric_row(size, e, intervals) for size, e in result["per_size"].items()]),
    ]


def case_rows(result: dict, intervals: bool = True) -> tuple[str, list[str], list[list[str]]]:
    """(title, header, rows) for the accuracy per answer case (`neurosym.causal.cases`)."""
    shown = (lambda e: f" [{e['interval'][0]:.2f}, {e['interval'][1]:.2f}]") if intervals else (lambda e: "")
    rows = [
        [
            task,
            case,
            as_label(CASES[task][case]),
            str(e["n"]),
            _num(e["accuracy"]) + shown(e),
            _num(e["mean_p_yes"]),
        ]
        for task, cases in result["per_case"].items()
        for case, e in cases.items()
    ]
    return (
        "per answer case (what in the graph decides the answer)",
        ["task", "case", "true answer", "n", "accuracy", "mean P(Yes)"],
        rows,
    )


def verdict_lines(result: dict) -> list[str]:
    """The overall verdict and its reasons, then each file's verdict with its first reason."""
    overall = result["overall"]
    lines = [f"VERDICT: {overall['status'].upper()} — {result['model']}"]
    lines += [f"  - {reason}" for reason in overall["reasons"] + overall["notes"]]
    if len(result["per_file"]) > 1:
        for name, entry in result["per_file"].items():
            why = (entry["reasons"] + entry["notes"])[:1]
            lines.append(f"  {Path(name).name}: {entry['status']}" + (f" — {why[0]}" if why else ""))
    return lines


def check_rows(result: dict, intervals: bool = True) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for the consistency, sensitivity and constrained tables."""
    tables = []
    if result["consistency"]:
        tables.append(
            (
                "constraint consistency (sampled k-node subsets, 0/1 answers)",
                ["task", "k", "subsets", "violated", "violation rate", "most violated"],
                [
                    [
                        task,
                        str(c["k"]),
                        str(c["subsets"]),
                        str(c["violated"]),
                        _num(c["violation_rate"]),
                        c["worst_constraint"] or "-",
                    ]
                    for task, c in result["consistency"].items()
                ],
            )
        )
    if result["sensitivity"]:
        tables.append(
            (
                "context sensitivity (minimal premise edits that flip the truth)",
                ["task", "asked", "edited", "answer changed", "sensitivity", "right before and after"],
                [
                    [
                        task,
                        str(s["asked"]),
                        str(s["edited"]),
                        str(s["changed"]),
                        _num(s["sensitivity"]),
                        _num(s["both_correct_rate"]),
                    ]
                    for task, s in result["sensitivity"].items()
                ],
            )
        )
    if result["constrained"]:
        joint = result["constrained"]
        tables.append(
            (
                "constrained prediction (MPE of the circuit)",
                ["answered jointly", *COLUMNS],
                [[str(joint["answered_jointly"]), *metric_row("all files", joint["overall"], intervals)[1:]]],
            )
        )
    return tables


def print_result(result: dict, console: Console) -> None:
    """Verdict first, then the tables (intervals are in eval.md and eval.json)."""
    style = (
        "bold red"
        if flagged(result["overall"])
        else "bold green"
        if result["overall"]["status"] == "ok"
        else "bold yellow"
    )
    console.print(Panel("\n".join(escape(line) for line in verdict_lines(result)), style=style))
    for title, rows in metric_rows(result, intervals=False):
        console.print(rich_table(title, ["", *COLUMNS], rows))
    for title, header, rows in [case_rows(result, intervals=False), *check_rows(result, intervals=False)]:
        console.print(rich_table(title, header, rows))


def rich_table(title: str, header: Iterable[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    escape_cell = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(escape_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def eval_markdown(result: dict, plots: Iterable[str] = ()) -> str:
    """``eval.md``: verdict, metric tables, checks, timing, plots."""
    parts = [
        "# Evaluation of " + result["model"],
        "```\n" + "\n".join(verdict_lines(result)) + "\n```",
        "Collapse rules (docs/evaluation.md): one answer on ≥ 95% of a balanced set, or MCC < 0.05 with "
        "balanced accuracy < 0.55. Brackets are Wilson 95% intervals.",
    ]
    for title, rows in metric_rows(result):
        parts += [f"## {title}", markdown_table(["", *COLUMNS], rows)]
    for title, header, rows in [case_rows(result), *check_rows(result)]:
        parts += [f"## {title}", markdown_table(header, rows)]
    rejected = {name: e["rejected"] for name, e in result["per_file"].items() if e.get("rejected")}
    if rejected:
        parts += ["## rejected rows", "\n".join(f"- {name}: {count} rows" for name, count in rejected.items())]
    timing = result["timing"]
    parts.append(
        f"{timing['prompts']} prompts in {timing['seconds']:.1f} s ({_num(timing['prompts_per_s'], 1)} prompts/s)."
    )
    parts += [f"![{name}]({name})" for name in plots]
    return "\n\n".join(parts) + "\n"


def write_eval(result: dict, out: Path) -> list[Path]:
    """eval.json, predictions.jsonl (``result["predictions"]``), the PNG plots and eval.md in ``out``
    (each file written atomically)."""
    from neurosym.atomic import atomic_write_jsonl, atomic_write_text
    from neurosym.eval.plots import plot_eval
    from neurosym.runs import EVAL_RESULT_NAME

    summary = {key: value for key, value in result.items() if key != "predictions"}
    atomic_write_text(out / EVAL_RESULT_NAME, json.dumps(summary, indent=1) + "\n")
    atomic_write_jsonl(out / "predictions.jsonl", result["predictions"])
    plots = plot_eval(summary, out)
    atomic_write_text(out / "eval.md", eval_markdown(summary, [p.name for p in plots]))
    return [out / EVAL_RESULT_NAME, out / "predictions.jsonl", out / "eval.md", *plots]
