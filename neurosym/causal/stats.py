"""Figures about a loaded question file: balance, graph sizes, answer cases, rejects, label/graph
disagreements."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from neurosym.causal.cases import answer_case
from neurosym.causal.facts import GraphFacts
from neurosym.causal.io import LoadResult, Reject
from neurosym.causal.records import Question


@dataclass
class GroupStats:
    """Label balance and graph sizes of a group of questions (a file, a family)."""

    rows: int = 0
    labels: Counter = field(default_factory=Counter)  # "Yes" / "No" / "unlabeled"
    sizes: Counter = field(default_factory=Counter)  # nodes per premise graph → rows

    def add(self, question: Question) -> None:
        self.rows += 1
        self.labels[question.label or "unlabeled"] += 1
        self.sizes[question.nodes] += 1

    @property
    def yes_share(self) -> float | None:
        labelled = self.labels["Yes"] + self.labels["No"]
        return self.labels["Yes"] / labelled if labelled else None

    def size_range(self) -> str:
        if not self.sizes:
            return "–"
        low, high = min(self.sizes), max(self.sizes)
        mean = sum(size * count for size, count in self.sizes.items()) / self.rows
        return f"{low}–{high} (x̄ {mean:.1f})" if low != high else str(low)


@dataclass
class FileStats:
    path: str
    format: str
    total: GroupStats
    families: dict[str, GroupStats]  # by (task, family) label, e.g. "transitivity/chain"
    cases: Counter  # (task, answer case of the graph) → rows
    rejects: list[Reject]
    disagreements: list[tuple[int, Question]]
    skipped: int


def summarize(result: LoadResult) -> FileStats:
    total, families, cases = GroupStats(), {}, Counter()
    for question in result.questions:
        total.add(question)
        families.setdefault(f"{question.task}/{question.family or '–'}", GroupStats()).add(question)
        cases[question.task, answer_case(GraphFacts(question.graph), question.task, question.query)] += 1
    return FileStats(
        str(result.path),
        result.format,
        total,
        dict(sorted(families.items())),
        cases,
        result.rejects,
        result.disagreements(),
        result.skipped,
    )
