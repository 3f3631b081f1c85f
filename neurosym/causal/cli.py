"""`neurosym data`: generate causal question files, summarize them, audit the causal templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from neurosym.causal.audit import MODELS, random_dags
from neurosym.causal.audit import audit as run_audit
from neurosym.causal.cases import CASES, case_order
from neurosym.causal.generate import generate as generate_questions
from neurosym.causal.io import LoadResult, load_questions, write_questions
from neurosym.causal.records import as_label
from neurosym.causal.stats import FileStats, GroupStats, summarize
from neurosym.errors import NeurosymError
from neurosym.resources import constraint_path
from neurosym.terminal import console, errors, friendly

data_app = typer.Typer(
    help="Causal question data: generate files, show their statistics, audit the templates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@data_app.command()
@friendly
def generate(
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (neurosym JSON lines).")],
    task: Annotated[str, typer.Option(help="transitivity or dseparation.")] = "transitivity",
    split: Annotated[str, typer.Option(help="train, dev or eval.")] = "train",
    n: Annotated[int, typer.Option("--n", help="Number of questions.")] = 50000,
    seed: Annotated[int, typer.Option(help="Seed; the same command writes the same file.")] = 0,
    family: Annotated[
        Optional[list[str]], typer.Option(help="Family to draw from (repeatable); default: all families of the split.")
    ] = None,
    yes_fraction: Annotated[float, typer.Option(help="Share of Yes labels (exact).")] = 0.5,
    natural: Annotated[bool, typer.Option("--natural", help="Keep the natural label distribution.")] = False,
    per_size: Annotated[
        bool, typer.Option("--per-size", help="Share N evenly over every family's graph sizes too, each size balanced.")
    ] = False,
    per_graph: Annotated[int, typer.Option(help="Most questions of each label about one premise graph.")] = 1,
    balance_cases: Annotated[
        bool, typer.Option("--balance-cases", help="Ask each label's answer cases about equally often.")
    ] = False,
):
    """Write N questions of a split (balanced labels; no premise shared between splits)."""
    yes_share = None if natural else yes_fraction
    questions = generate_questions(task, split, n, seed, family, yes_share, per_size, per_graph, balance_cases)
    write_questions(output, questions, seed)
    written = LoadResult(output, "neurosym", questions, list(range(1, len(questions) + 1)))
    _print_stats([summarize(written)], show=0)


@data_app.command()
@friendly
def stats(
    files: Annotated[list[Path], typer.Argument(help="Question files in any supported format.")],
    task: Annotated[Optional[str], typer.Option(help="Keep only this task's questions.")] = None,
    show: Annotated[int, typer.Option(help="Rejects and disagreements listed per file.")] = 5,
):
    """Rows, label balance, graph sizes, rejected rows and labels the graph contradicts."""
    summaries, failed = [], False
    for file in files:
        try:
            summaries.append(summarize(load_questions(file, task)))
        except NeurosymError as error:
            errors.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
            failed = True
    if summaries:  # no empty table when no file could be read
        _print_stats(summaries, show)
    if failed:
        raise typer.Exit(1)


@data_app.command()
@friendly
def audit(
    task: Annotated[
        str, typer.Option(help="transitivity or dseparation (picks the shipped template).")
    ] = "transitivity",
    theory: Annotated[Optional[Path], typer.Option(help="Constraint file to audit instead of the shipped one.")] = None,
    graphs: Annotated[int, typer.Option(help="Random DAGs to draw.")] = 1000,
    nodes: Annotated[tuple[int, int], typer.Option(help="Smallest and largest graph size.")] = (3, 7),
    k: Annotated[Optional[list[int]], typer.Option("--k", help="Template size (repeatable); default 3, 4, 5.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random DAGs.")] = 0,
):
    """Check a template on every k-node subset of random DAGs: truth, always-Yes, always-No."""
    path = theory or constraint_path(f"causal/{task}.ns")
    report = run_audit(path, random_dags(graphs, range(nodes[0], nodes[1] + 1), seed), k or (3, 4, 5))
    subsets = ", ".join(f"k={size}: {count:,}" for size, count in report.subsets.items())
    console.print(
        f"{escape(report.theory)}: {report.graphs:,} DAGs of {nodes[0]}–{nodes[1]} nodes "
        f"({report.graphs_with_edge:,} with an edge); subsets {subsets}"
    )
    table = Table("constraint", *(m.replace("_", " ") for m in MODELS), title="subsets violated (graphs)")
    for name, by_model in report.violations.items():
        table.add_row(name, *(f"{by_model[m][0]:,} ({by_model[m][1]:,})" for m in MODELS))
    console.print(table)
    if report.violations["(all)"]["truth"][0]:
        errors.print("[bold red]unsound:[/] the true answers violate the theory on some subsets")
        raise typer.Exit(1)


def _print_stats(summaries: list[FileStats], show: int) -> None:
    files = Table(
        "file", "format", "rows", "Yes/No", "Yes %", "nodes", "rejected", "label≠graph", "other task", title="questions"
    )
    for s in summaries:
        files.add_row(
            escape(Path(s.path).name),
            s.format,
            *_group_cells(s.total),
            str(len(s.rejects)),
            str(len(s.disagreements)),
            str(s.skipped),
        )
    console.print(files)
    families = Table("file", "task/family", "rows", "Yes/No", "Yes %", "nodes", title="by family")
    for s in summaries:
        for name, group in s.families.items():
            if not name.endswith("/–"):
                families.add_row(escape(Path(s.path).name), name, *_group_cells(group))
    if families.row_count:
        console.print(families)
    cases = Table("file", "task", "case", "answer", "rows", "share", title="by answer case")
    for s in summaries:
        for task, case in sorted(s.cases, key=case_order):
            rows = s.cases[task, case]
            truth = as_label(CASES[task][case])
            cases.add_row(escape(Path(s.path).name), task, case, truth, str(rows), f"{rows / s.total.rows:.1%}")
    if cases.row_count:
        console.print(cases)
    for s in summaries:
        for reject in s.rejects[:show]:
            console.print(f"[yellow]rejected[/] {escape(str(reject))}", highlight=False, soft_wrap=True)
        for row, q in s.disagreements[:show]:
            console.print(
                f"[red]label≠graph[/] {escape(s.path)}:{row}: {escape(q.question)} labelled {q.label}, "
                f"the premise says {q.truth_label}",
                highlight=False,
                soft_wrap=True,
            )


def _group_cells(group: GroupStats) -> list[str]:
    """rows, Yes/No counts (and unlabeled ones), Yes share, graph sizes."""
    share, labels = group.yes_share, group.labels
    counts = f"{labels['Yes']:,}/{labels['No']:,}" + (f" +{labels['unlabeled']:,}?" if labels["unlabeled"] else "")
    return [f"{group.rows:,}", counts, "–" if share is None else f"{100 * share:.1f}", group.size_range()]
