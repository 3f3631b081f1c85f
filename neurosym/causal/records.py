"""One record type for a causal Yes/No question, whatever file format it came from."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx

from neurosym.causal.facts import GraphFacts
from neurosym.causal.text import Query, Task, parse_premise, parse_question, query_nodes, render_question
from neurosym.errors import DataError

Label = Literal["Yes", "No"]


def normalize_label(value) -> Label:
    """``"Yes"``/``"No"`` in any case and with surrounding blanks; anything else is a DataError."""
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return "Yes" if value.strip().lower() == "yes" else "No"
    raise DataError(f"label must be 'Yes' or 'No', got {value!r}")


def as_label(truth: bool) -> Label:
    return "Yes" if truth else "No"


@dataclass(frozen=True)
class Question:
    """A premise, a question about it and (when known) its label.

    ``graph``, ``query`` and ``truth`` (the graph's answer, from networkx) follow from the texts, so
    two questions are equal when their texts, label, split and family are."""

    task: Task
    premise: str
    question: str
    label: Label | None
    graph: nx.DiGraph = field(compare=False, repr=False)
    query: Query = field(compare=False)
    truth: bool = field(compare=False)
    split: str | None = None
    family: str | None = None

    @classmethod
    def parse(
        cls,
        premise: str,
        question: str,
        label=None,
        *,
        task: Task | None = None,
        split: str | None = None,
        family: str | None = None,
    ) -> Question:
        """Parse and check the texts; DataError names the offending sentence, node or label."""
        graph, _ = parse_premise(premise)
        found, query = parse_question(question)
        if task is not None and found != task:
            raise DataError(f"question {question!r} is a {found} question, but the row says task {task!r}")
        for node in query_nodes(query):
            if node not in graph:
                raise DataError(f"question {question.strip()!r} mentions {node!r}, which no premise sentence names")
        truth = GraphFacts(graph).answer(found, query)
        return cls(
            found,
            premise.strip(),
            question.strip(),
            None if label is None else normalize_label(label),
            nx.freeze(graph),
            query,
            truth,
            split,
            family,
        )

    @property
    def nodes(self) -> int:
        return self.graph.number_of_nodes()

    def premise_questions(self, count: int) -> list[str]:
        """Up to ``count`` question texts about this premise: this one first, then one per ordered
        pair of its nodes (d-separation given nothing): what a packed pass asks of one premise."""
        pairs = itertools.permutations(sorted(self.graph.nodes), 2)
        others = (
            render_question(self.task, (x, y) if self.task == "transitivity" else (x, y, frozenset())) for x, y in pairs
        )
        return list(dict.fromkeys([self.question, *others]))[:count]

    @property
    def truth_label(self) -> Label:
        return as_label(self.truth)

    @property
    def agrees(self) -> bool | None:
        """Whether the loaded label matches the graph; None when unlabeled."""
        return None if self.label is None else self.label == self.truth_label

    @property
    def text(self) -> str:
        """Premise and question in one string, as the pickled benchmark files key them."""
        return f"{self.premise} {self.question}"
