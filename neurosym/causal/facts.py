"""Ground truth about one premise graph, from networkx.

Labels are graph facts, never taken on trust from a file: a directed path for transitivity and
``nx.is_d_separator`` for d-separation. Answers are cached per graph because the subset sampler
and the soundness audit ask the same facts of many subsets of one graph.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import networkx as nx

from neurosym.causal.text import Query, Task
from neurosym.errors import DataError


class GraphFacts:
    """Facts about a DAG, by the names the constraint files use for them."""

    def __init__(self, graph: nx.DiGraph):
        self.graph = graph
        self._descendants: dict[Hashable, set] = {}
        self._dsep: dict[tuple, bool] = {}

    def edge(self, x, y) -> bool:
        """``x causes y`` is a sentence of the premise."""
        return self.graph.has_edge(x, y)

    def adjacent(self, x, y) -> bool:
        """An edge links x and y, in either direction."""
        return self.graph.has_edge(x, y) or self.graph.has_edge(y, x)

    def causes(self, x, y) -> bool:
        """A directed path x → … → y exists and x ≠ y (the transitivity label)."""
        if x not in self._descendants:
            self._descendants[x] = nx.descendants(self.graph, x)
        return y in self._descendants[x]

    descendant = causes  # `descendant(x, y)`: y is a descendant of x, the same fact as evidence

    def parents(self, x, given: frozenset) -> bool:
        """``given`` is exactly the parent set of x."""
        return set(self.graph.predecessors(x)) == given

    def dsep(self, x, y, given: frozenset) -> bool:
        """x and y are d-separated given ``given`` (the d-separation label)."""
        if x == y or x in given or y in given:
            raise DataError(
                f"d-separation of {x!r} and {y!r} given {set(given) or '{}'} is not a question: "
                "the two nodes must differ and lie outside the conditioning set"
            )
        key = (frozenset((x, y)), given)
        if key not in self._dsep:
            self._dsep[key] = nx.is_d_separator(self.graph, {x}, {y}, set(given))
        return self._dsep[key]

    def answer(self, task: Task, query: Query) -> bool:
        """The true answer to a question of ``task`` about ``query``."""
        return ANSWERS[task](self, *query)

    def fact(self, predicate: str) -> Callable[..., bool]:
        """The fact named ``predicate`` (``edge``, ``causes``, ``dsep``, …)."""
        if predicate not in PREDICATES:
            raise DataError(f"no graph fact is named {predicate!r}; known: {', '.join(sorted(PREDICATES))}")
        return getattr(self, predicate)


ANSWERS: dict[str, Callable[..., bool]] = {"transitivity": GraphFacts.causes, "dseparation": GraphFacts.dsep}
PREDICATES = frozenset({"edge", "adjacent", "causes", "descendant", "parents", "dsep"})


def skeleton_path(graph: nx.DiGraph, x: Hashable, y: Hashable) -> list:
    """A shortest x–y path with edge directions ignored ([] when there is none), ties broken by the
    order of the premise's sentences. networkx's ``to_undirected(as_view=True)`` lists neighbours
    in the order of a set of node names, which Python's per-process string hash seed decides: the
    tie would be broken differently in every process, and a run or an evaluation not repeat."""
    skeleton = graph.to_undirected()  # a copy, its neighbours in insertion order
    return nx.shortest_path(skeleton, x, y) if nx.has_path(skeleton, x, y) else []
