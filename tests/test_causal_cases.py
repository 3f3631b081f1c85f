"""Answer cases (`neurosym.causal.cases`): each case on a graph drawn by hand, and the d-separation
cases against every simple path of random small DAGs."""

import itertools
import random

import networkx as nx
import pytest

from neurosym.causal import CASES, GraphFacts, answer_case

# A → B → C ← D, C → G, and E → F apart; for transitivity also H ← B → I (a fork).
GRAPH = nx.DiGraph([("A", "B"), ("B", "C"), ("D", "C"), ("C", "G"), ("E", "F"), ("B", "H"), ("B", "I")])
HAND = [
    ("transitivity", ("A", "B"), "forward-1"),
    ("transitivity", ("A", "C"), "forward-2"),
    ("transitivity", ("A", "G"), "forward-3+"),
    ("transitivity", ("B", "A"), "backward-1"),
    ("transitivity", ("C", "A"), "backward-2"),
    ("transitivity", ("G", "A"), "backward-3+"),
    ("transitivity", ("H", "I"), "linked"),
    ("transitivity", ("A", "D"), "linked"),
    ("transitivity", ("A", "E"), "unlinked"),
    ("dseparation", ("A", "B", frozenset()), "adjacent"),
    ("dseparation", ("A", "B", frozenset({"C"})), "adjacent"),
    ("dseparation", ("A", "C", frozenset()), "open-path"),
    ("dseparation", ("H", "I", frozenset()), "open-path"),  # a common cause
    ("dseparation", ("A", "D", frozenset({"C"})), "open-collider"),
    ("dseparation", ("A", "D", frozenset({"G"})), "open-collider"),  # a descendant of the collider
    ("dseparation", ("A", "C", frozenset({"B"})), "blocked-given"),
    ("dseparation", ("A", "D", frozenset({"B"})), "blocked-given"),  # the collider would block it too
    ("dseparation", ("A", "D", frozenset()), "blocked-collider"),
    ("dseparation", ("H", "D", frozenset({"I"})), "blocked-collider"),
    ("dseparation", ("A", "E", frozenset()), "unlinked"),
]


@pytest.mark.parametrize("task, query, case", HAND, ids=[f"{t}-{'-'.join(map(str, q[:2]))}-{c}" for t, q, c in HAND])
def test_each_case_on_a_graph_drawn_by_hand(task, query, case):
    assert answer_case(GraphFacts(GRAPH), task, query) == case


def test_the_hand_drawn_questions_cover_every_case():
    assert {(task, case) for task, _, case in HAND} == {(task, case) for task in CASES for case in CASES[task]}


def _paths(graph: nx.DiGraph, x, y, given: frozenset) -> list[tuple[bool, bool, bool]]:
    """(open, has a collider, has a non-collider in ``given``) of every simple x–y path."""
    found = []
    for path in nx.all_simple_paths(graph.to_undirected(), x, y):
        colliders = [graph.has_edge(a, b) and graph.has_edge(c, b) for a, b, c in zip(path, path[1:], path[2:])]
        middle = path[1:-1]
        given_noncollider = any(node in given and not collider for node, collider in zip(middle, colliders))
        closed_collider = any(
            collider and not ({node} | nx.descendants(graph, node)) & given for node, collider in zip(middle, colliders)
        )
        found.append((not given_noncollider and not closed_collider, any(colliders), given_noncollider))
    return found


def _expected(graph: nx.DiGraph, x, y, given: frozenset) -> str:
    """The d-separation case read off the paths, as the module's docstring defines it."""
    paths = _paths(graph, x, y, given)
    if not paths:
        return "unlinked"
    if graph.has_edge(x, y) or graph.has_edge(y, x):
        return "adjacent"
    opened = [p for p in paths if p[0]]
    if opened:
        return "open-path" if any(not collider for _, collider, _ in opened) else "open-collider"
    return "blocked-given" if all(given_noncollider for _, _, given_noncollider in paths) else "blocked-collider"


def _random_dag(rng: random.Random, most_nodes: int, edge_chance: float) -> nx.DiGraph:
    """3 to ``most_nodes`` nodes 0, 1, …, each forward pair an edge with ``edge_chance``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(rng.randint(3, most_nodes)))
    graph.add_edges_from((a, b) for a, b in itertools.combinations(list(graph), 2) if rng.random() < edge_chance)
    return graph


def test_dseparation_cases_agree_with_every_simple_path_of_random_dags():
    rng = random.Random(7)
    seen = set()
    for _ in range(150):
        graph = _random_dag(rng, 7, 0.4)
        nodes = list(graph)
        facts = GraphFacts(graph)
        for x, y in itertools.permutations(nodes, 2):
            others = [n for n in nodes if n not in (x, y)]
            given = frozenset(rng.sample(others, rng.randint(0, min(3, len(others)))))
            case = answer_case(facts, "dseparation", (x, y, given))
            assert case == _expected(graph, x, y, given), (sorted(graph.edges), x, y, set(given))
            assert facts.dsep(x, y, given) == CASES["dseparation"][case]
            seen.add(case)
    assert seen == set(CASES["dseparation"])


def test_transitivity_cases_count_the_hops_of_the_shortest_directed_path():
    rng = random.Random(11)
    for _ in range(100):
        graph = _random_dag(rng, 8, 0.3)
        nodes = list(graph)
        facts = GraphFacts(graph)
        for x, y in itertools.permutations(nodes, 2):
            case = answer_case(facts, "transitivity", (x, y))
            forward = [len(p) - 1 for p in nx.all_simple_paths(graph, x, y)]
            backward = [len(p) - 1 for p in nx.all_simple_paths(graph, y, x)]
            hops, direction = (min(forward), "forward") if forward else (min(backward or [0]), "backward")
            if hops:
                assert case == f"{direction}-{hops if hops < 3 else '3+'}"
            else:
                assert case == ("linked" if nx.has_path(graph.to_undirected(), x, y) else "unlinked")
            assert facts.causes(x, y) == CASES["transitivity"][case]
