"""What decides a question's answer: its *case*, from the premise graph alone.

An evaluation's accuracy per case says which rule a model has not learned, where accuracy per
family or size only says where it fails. The cases of each task partition its questions, and
each case has one true answer:

transitivity ("Does x cause y?")
    ``forward-1``, ``forward-2``, ``forward-3+`` (Yes): the shortest directed path x → … → y
    has 1, 2, or 3 or more edges; ``backward-1``, ``backward-2``, ``backward-3+`` (No): the
    path runs from y to x instead; ``linked`` (No): a path joins them once directions are
    ignored, but neither reaches the other; ``unlinked`` (No): no path joins them at all.

d-separation ("Are x and y d-separated given Z?")
    ``adjacent`` (No): a premise sentence links x and y; ``open-path`` (No): a path without a
    collider and without a node of Z joins them (a directed path or a common cause);
    ``open-collider`` (No): every open path passes a collider that Z, or a descendant in Z,
    opens; ``blocked-given`` (Yes): every path holds a non-collider in Z; ``blocked-collider``
    (Yes): some path holds no node of Z but a collider that stays closed; ``unlinked`` (Yes): no
    path joins them.
"""

from __future__ import annotations

from collections.abc import Hashable

import networkx as nx

from neurosym.causal.facts import GraphFacts
from neurosym.causal.text import Query, Task

CASES: dict[str, dict[str, bool]] = {  # task → case → its true answer, in the order tables list them
    "transitivity": {
        "forward-1": True,
        "forward-2": True,
        "forward-3+": True,
        "backward-1": False,
        "backward-2": False,
        "backward-3+": False,
        "linked": False,
        "unlinked": False,
    },
    "dseparation": {
        "adjacent": False,
        "open-path": False,
        "open-collider": False,
        "blocked-given": True,
        "blocked-collider": True,
        "unlinked": True,
    },
}


def case_order(key: tuple[str, str]) -> tuple[str, int]:
    """Sort key of a (task, case) pair: tasks by name, each task's cases in `CASES` order."""
    task, case = key
    return task, list(CASES[task]).index(case)


def answer_case(facts: GraphFacts, task: Task, query: Query) -> str:
    """The case of the question of ``task`` about ``query`` (one of ``CASES[task]``)."""
    graph = facts.graph
    if task == "transitivity":
        x, y = query
        for direction, source, target in (("forward", x, y), ("backward", y, x)):
            if facts.causes(source, target):
                hops = nx.shortest_path_length(graph, source, target)
                return f"{direction}-{hops}" if hops < 3 else f"{direction}-3+"
        return "linked" if nx.has_path(graph.to_undirected(as_view=True), x, y) else "unlinked"
    x, y, given = query
    if not nx.has_path(graph.to_undirected(as_view=True), x, y):
        return "unlinked"
    if facts.adjacent(x, y):
        return "adjacent"
    if not facts.dsep(x, y, given):
        return "open-path" if _common_ancestor_outside(graph, x, y, given) else "open-collider"
    return "blocked-collider" if _path_without_given_noncollider(graph, x, y, given) else "blocked-given"


def _common_ancestor_outside(graph: nx.DiGraph, x: Hashable, y: Hashable, given: frozenset) -> bool:
    """A node outside ``given`` that is x or an ancestor of x, and y or an ancestor of y, with the
    paths down to both avoiding ``given``: the collider-free open paths are exactly these."""
    kept = graph.subgraph(set(graph) - given)
    return bool(({x} | nx.ancestors(kept, x)) & ({y} | nx.ancestors(kept, y)))


def _path_without_given_noncollider(graph: nx.DiGraph, x: Hashable, y: Hashable, given: frozenset) -> bool:
    """Whether some x–y path passes each node of ``given`` on it as a collider. A search over
    (node, entered along its arrow): a walk of that kind shortens to a path of that kind, since a
    node of ``given`` met twice is a collider both times."""
    start = [(w, True) for w in graph.successors(x)] + [(w, False) for w in graph.predecessors(x)]
    seen, frontier = set(start), list(start)
    while frontier:
        node, entered_along = frontier.pop()
        if node == y:
            return True
        onward = [(w, True) for w in graph.successors(node)] + [(w, False) for w in graph.predecessors(node)]
        for step in onward:
            collider = entered_along and not step[1]  # in along an arrow, out against one: → node ←
            if (collider or node not in given) and step[0] != x and step not in seen:
                seen.add(step)
                frontier.append(step)
    return False
