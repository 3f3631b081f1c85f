"""Context sensitivity: does the answer follow the premise, or only the question's wording?

For a question we look for a *minimal edit* of its premise after which the true answer (networkx,
via `GraphFacts`) is the other one, the premise is still a DAG, and it still names every node the
question mentions. Candidates are tried in a fixed order, nearest to the question first, and the
first that flips the answer is the edit:

1. one sentence reversed or removed: the edges of a shortest skeleton path between the two query
   nodes first, then every other edge in sentence order;
2. one sentence added: between the two query nodes, then between a query node (the conditioning
   set included) and another node — a new collider or a new open path — then between any two
   non-adjacent nodes;
3. two, then three sentences removed: edges of the directed paths x → … → y for transitivity (a
   Yes with several paths), any edges for d-separation (open paths besides a direct link); and for
   transitivity one to three edges of the paths y → … → x removed with "x causes y" added (a No
   that a single added edge would make cyclic).

A question with no such edit among the first 3000 candidates is counted as unedited. The score
is the share of edited questions whose 0/1 answer changed: a collapsed model scores 0, the oracle 1.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import networkx as nx

from neurosym.causal import GraphFacts, Question, parse_premise, render_premise, skeleton_path
from neurosym.causal.records import as_label
from neurosym.causal.text import query_nodes

Edge = tuple[str, str]
MAX_CANDIDATES = 3000  # edits tried per question before it counts as unedited


@dataclass(frozen=True)
class Edit:
    """The sentences removed and added (``kind``: remove, reverse, add, cut, cut+add) and the
    question they make."""

    kind: str
    removed: tuple[Edge, ...]
    added: tuple[Edge, ...]
    question: Question


Candidate = tuple[str, tuple[Edge, ...], tuple[Edge, ...]]


def _candidates(graph: nx.DiGraph, query) -> Iterator[Candidate]:
    x, y = query[0], query[1]
    path = skeleton_path(graph, x, y)
    on_path = [(a, b) if graph.has_edge(a, b) else (b, a) for a, b in zip(path, path[1:])]
    for a, b in [*on_path, *graph.edges]:
        yield "reverse", ((a, b),), ((b, a),)
        yield "remove", ((a, b),), ()
    named = query_nodes(query)
    others = [v for v in graph.nodes if v not in named]
    for pair in itertools.chain(
        itertools.permutations(named[:2]),
        itertools.permutations(named, 2),
        itertools.product(named, others),
        itertools.product(others, named),
        itertools.permutations(others, 2),
    ):
        yield "add", (), (pair,)
    yield from _cuts(graph, query)


def _cuts(graph: nx.DiGraph, query) -> Iterator[Candidate]:
    """Two or three sentences removed (the edges of directed x → … → y paths for transitivity, any
    edges for d-separation); for transitivity also one to three edges of the paths y → … → x
    removed with "x causes y" added."""
    x, y = query[0], query[1]

    def path_edges(source, target):
        ahead, behind = nx.descendants(graph, source) | {source}, nx.ancestors(graph, target) | {target}
        return [(a, b) for a, b in graph.edges if a in ahead and b in behind]

    removable = list(graph.edges) if len(query) == 3 else path_edges(x, y)
    backwards = [] if len(query) == 3 or not nx.has_path(graph, y, x) else path_edges(y, x)
    for size in (1, 2, 3):
        if size > 1:
            for removed in itertools.combinations(removable, size):
                yield "cut", removed, ()
        for removed in itertools.combinations(backwards, size):
            yield "cut+add", removed, ((x, y),)


def _apply(edges: list[Edge], removed: tuple[Edge, ...], added: tuple[Edge, ...]) -> list[Edge] | None:
    """The premise's edges after the edit, a reversed sentence kept in its place; None when the
    edit does not apply (a removed sentence is absent, an added one links nodes already linked)."""
    if not set(removed) <= set(edges):
        return None
    kept = [e for e in edges if e not in removed]
    if any(e in kept or e[::-1] in kept for e in added):
        return None
    in_place = {e: e[::-1] for e in removed if e[::-1] in added}
    out = [in_place.get(e, e) for e in edges if e not in removed or e in in_place]
    return out + [e for e in added if e not in in_place.values()]


def minimal_edit(question: Question) -> Edit | None:
    """The first candidate edit (see the module docstring) that flips the true answer, or None."""
    graph, edges = parse_premise(question.premise)
    needed = set(query_nodes(question.query))
    seen = set()
    for kind, removed, added in itertools.islice(_candidates(graph, question.query), MAX_CANDIDATES):
        if (removed, added) in seen:
            continue
        seen.add((removed, added))
        changed = _apply(edges, removed, added)
        if not changed:
            continue
        edited = nx.DiGraph(changed)
        if not needed <= set(edited.nodes) or not nx.is_directed_acyclic_graph(edited):
            continue
        truth = GraphFacts(edited).answer(question.task, question.query)
        if truth != question.truth:
            flipped = Question.parse(
                render_premise(changed),
                question.question,
                as_label(truth),
                task=question.task,
                split=question.split,
                family=question.family,
            )
            return Edit(kind, removed, added, flipped)
    return None


@dataclass(frozen=True)
class SensitivityReport:
    """How often the answer changed when a minimal premise edit changed the truth."""

    asked: int  # questions sampled
    edited: int  # of those, with a minimal edit
    changed: int  # edited questions whose 0/1 answer changed
    both_correct: int  # edited questions answered right before and after the edit
    by_kind: dict[str, list[int]]  # kind → [edited, changed]

    @property
    def sensitivity(self) -> float | None:
        return self.changed / self.edited if self.edited else None

    def __add__(self, other: SensitivityReport) -> SensitivityReport:
        kinds = {
            kind: [a + b for a, b in zip(self.by_kind.get(kind, [0, 0]), other.by_kind.get(kind, [0, 0]))]
            for kind in {**self.by_kind, **other.by_kind}
        }
        return SensitivityReport(
            self.asked + other.asked,
            self.edited + other.edited,
            self.changed + other.changed,
            self.both_correct + other.both_correct,
            kinds,
        )

    def to_dict(self) -> dict:
        return {
            "asked": self.asked,
            "edited": self.edited,
            "changed": self.changed,
            "sensitivity": self.sensitivity,
            "both_correct": self.both_correct,
            "both_correct_rate": self.both_correct / self.edited if self.edited else None,
            "by_kind": {kind: {"edited": e, "changed": c} for kind, (e, c) in sorted(self.by_kind.items())},
        }


def context_sensitivity(predictor, questions: Sequence[Question], limit: int, seed: int = 0) -> SensitivityReport:
    """Edit up to ``limit`` sampled questions' premises and ask each question before and after."""
    rng = random.Random(f"{seed}/sensitivity")
    picked = rng.sample(list(questions), min(limit, len(questions)))
    pairs = [(q, edit) for q in picked if (edit := minimal_edit(q)) is not None]
    premises = [q.premise for q, _ in pairs] + [e.question.premise for _, e in pairs]
    texts = [q.question for q, _ in pairs] * 2
    answers = [p > 0.5 for p in predictor.predict(premises, texts)] if pairs else []
    before, after = answers[: len(pairs)], answers[len(pairs) :]
    kinds: Counter = Counter()
    changes: Counter = Counter()
    both = 0
    for (q, edit), old, new in zip(pairs, before, after):
        kinds[edit.kind] += 1
        changes[edit.kind] += old != new
        both += old == q.truth and new == edit.question.truth
    return SensitivityReport(
        len(picked), len(pairs), sum(changes.values()), both, {kind: [kinds[kind], changes[kind]] for kind in kinds}
    )
