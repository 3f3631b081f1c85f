"""Hidden predicates and relations: hidden atoms are quantified out of the circuit exactly, and
the route example (constraints/examples/route.ns) has exactly the simple paths as models, counted
against networkx on grids and random graphs."""

from __future__ import annotations

import importlib
import itertools
import random

import networkx as nx
import numpy
import pytest
import torch

import neurosym as ns
from neurosym.errors import GroundingError
from neurosym.ground.formula import evaluate_batch
from neurosym.ground.grounder import ground
from neurosym.lang.parser import parse_file
from neurosym.resources import constraint_path

ROUTE = constraint_path("examples/route.ns")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path / "cache"))


def _compile_route(graph: nx.Graph, anchors: list[int] | None = None):
    """The route circuit over ``graph`` (nodes n0, n1, ...), each edge given once as a link; by
    default every node an anchor (the most general case: any set of anchors that every cycle passes
    will do)."""
    return ns.compile(
        ROUTE,
        {
            "Node": graph.number_of_nodes(),
            "link": [(f"n{a}", f"n{b}") for a, b in graph.edges],
            "anchor": [(f"n{a}",) for a in (graph if anchors is None else anchors)],
        },
    )


def _route_count(circuit, source: int, target: int, present: set | None = None) -> int:
    """The models under the evidence (source, target, the edges present; all by default): with
    every `use` atom at 1/2, P(constraint) times 2^(use atoms)."""
    row = torch.full((len(circuit.variables),), 0.5, dtype=torch.float64)
    for i in circuit.observed:
        predicate, args = circuit.variables[i][:-1].split("(")
        nodes = tuple(int(n[1:]) for n in args.split(","))
        if predicate == "edge":
            row[i] = float(present is None or nodes in present)
        else:
            row[i] = float(nodes[0] == (source if predicate == "source" else target))
    return round(float(circuit.log_prob(row[None]).exp() * 2 ** len(circuit.predicted)))


def _connected_random_graph(rng: random.Random, size: int, extra_edges: int) -> nx.Graph:
    """A random spanning tree plus ``extra_edges`` random chords: connected, with cycles to avoid."""
    graph = nx.Graph()
    graph.add_nodes_from(range(size))
    for node in range(1, size):
        graph.add_edge(node, rng.randrange(node))
    while graph.number_of_edges() < size - 1 + extra_edges:
        graph.add_edge(*rng.sample(range(size), 2))
    return graph


def test_grid_routes_are_the_simple_paths_and_hidden_atoms_are_no_variables():
    grid = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 3))
    circuit = _compile_route(grid)
    assert _route_count(circuit, 0, 8) == len(list(nx.all_simple_paths(grid, 0, 8))) == 12
    assert not any(name.startswith(("go(", "reach(")) for name in circuit.variables)
    assert [circuit.variables[i] for i in circuit.predicted] == [f"use(n{a},n{b})" for a, b in sorted(grid.edges)]
    assert circuit.ground_theory.names == circuit.variables  # the stored sources ground to the same atoms


@pytest.mark.parametrize(
    "size, extra_edges, anchors",
    [(5, 3, "all"), (7, 4, "all"), (9, 4, "all"), (12, 5, "all"), (12, 7, "few"), (14, 8, "few"), (16, 6, "few")],
)
def test_routes_on_random_graphs_are_the_simple_paths(size, extra_edges, anchors):
    rng = random.Random(size * 100 + extra_edges)
    graph = _connected_random_graph(rng, size, extra_edges)
    few = importlib.import_module("examples.grid_paths.run").feedback_vertex_set(graph)
    assert nx.is_forest(graph.subgraph(set(graph) - set(few)))  # every cycle passes an anchor
    circuit = _compile_route(graph, None if anchors == "all" else few)
    for _ in range(6):
        source, target = rng.sample(range(size), 2)
        present = set(rng.sample(sorted(graph.edges), graph.number_of_edges() - rng.randrange(3)))
        kept = graph.edge_subgraph(present).copy()
        kept.add_nodes_from(graph)
        expected = len(list(nx.all_simple_paths(kept, source, target)))
        assert _route_count(circuit, source, target, present) == expected


def test_a_cycle_apart_from_the_route_breaks_the_reach_rules():
    graph = nx.Graph([(0, 1), (1, 2), (2, 3), (3, 4), (4, 2)])  # the route n0 - n1, a triangle beyond n1
    circuit = _compile_route(graph)
    assignment = [0] * len(circuit.variables)
    for name in ("source(n0)", "target(n1)", "use(n0,n1)", *(f"edge(n{a},n{b})" for a, b in sorted(graph.edges))):
        assignment[circuit.index(name)] = 1
    assert circuit.satisfied_by(assignment) and circuit.violated_constraints(assignment) == []
    for a, b in [(2, 3), (3, 4), (2, 4)]:
        assignment[circuit.index(f"use(n{a},n{b})")] = 1
    assert not circuit.satisfied_by(assignment)
    # each degree rule holds alone; the rules over hidden atoms cannot orient and order the triangle
    assert circuit.violated_constraints(assignment) == ["oriented", "passes", "step", "onward", "no_return"]


@pytest.mark.parametrize(
    "domains, fragments",
    [
        ({"Node": 3, "anchor": []}, ["relation 'link' needs its tuples at compile time", "route.ns:13:1"]),
        (
            {"Node": 3, "anchor": [], "link": [("n0", "n3")]},
            ["relation 'link': 'n3' in ('n0', 'n3') is not an element of domain 'Node'"],
        ),
        (
            {"Node": 3, "anchor": [], "link": ["n0:n1:n2"]},
            ["relation 'link' relates 2 element(s) (Node, Node); got 'n0:n1:n2'"],
        ),
    ],
)
def test_relations_given_at_compile_time_are_checked(domains, fragments):
    with pytest.raises(GroundingError) as caught:
        ns.compile(ROUTE, domains)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_projection_through_two_hidden_predicates_matches_brute_force(tmp_path):
    """The `k(x, _)` rows are three groups, quantified out first; `h` goes after, in the projected
    parts; the circuit's models are the visible parts of the ground formula's models."""
    path = tmp_path / "two_hidden.ns"
    path.write_text(
        "domain Node\n"
        "observed p(Node)\n"
        "predicted q(Node)\n"
        "hidden h(Node)\n"
        "hidden k(Node, Node)\n"
        "constraint link: forall x, y in Node: k(x, y) -> (h(x) <-> q(y))\n"
        "constraint some: forall x in Node: p(x) -> exists y in Node: k(x, y)\n"
        "constraint tie:  forall x in Node: h(x) -> not q(x)\n"
        "constraint none: exists x in Node: not p(x)\n"
    )
    theory = ground(parse_file(path), {"Node": 3})
    table = numpy.array(list(itertools.product([False, True], repeat=theory.var_count)))
    holds = numpy.logical_and.reduce([evaluate_batch(f, table) for c in theory.constraints for f in c.conjuncts])
    expected = {tuple(row[: len(theory.atoms)]) for row in table[holds].astype(int).tolist()}
    circuit = ns.compile(path, {"Node": 3})
    assert circuit.variables == theory.names and len(theory.hidden) == 12
    visible = itertools.product([0, 1], repeat=len(theory.atoms))
    assert {row for row in visible if circuit.satisfied_by(list(row))} == expected
    assert circuit.model_count() == len(expected) < 2 ** len(theory.atoms)
