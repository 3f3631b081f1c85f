"""The route example (constraints/examples/simple_path.ns): under graph evidence its models are
exactly the simple source-to-target paths that networkx enumerates, and the semantic loss and MPE
turn noisy edge beliefs into a route."""

from __future__ import annotations

import math
import random

import networkx as nx
import pytest
import torch

import neurosym as ns
from neurosym.resources import constraint_path
from neurosym.tensor import ImpossibleEvidenceError

SIMPLE_PATH = constraint_path("examples/simple_path.ns")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path / "cache"))


def _evidence(circuit, graph: nx.DiGraph, source: str, target: str, use_prob: float = 0.5) -> torch.Tensor:
    """One row: the graph, source and target as 0/1 evidence, every `use` atom at ``use_prob``."""
    row = torch.full((len(circuit.variables),), use_prob, dtype=torch.float64)
    for i in circuit.observed:
        name = circuit.variables[i]
        predicate, args = name[:-1].split("(")
        nodes = args.split(",")
        row[i] = float(
            graph.has_edge(*nodes) if predicate == "edge" else nodes[0] == (source if predicate == "source" else target)
        )
    return row


def _complete(size: int) -> nx.DiGraph:
    return nx.complete_graph([f"n{i}" for i in range(size)], create_using=nx.DiGraph)


def _random_graph(rng: random.Random, nodes: list[str], density: float) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((x, y) for x in nodes for y in nodes if x != y and rng.random() < density)
    return graph


@pytest.mark.parametrize("size", [3, 4, 5])
def test_models_under_graph_evidence_are_the_simple_paths(size):
    circuit = ns.compile(SIMPLE_PATH, {"Node": size})
    nodes = [f"n{i}" for i in range(size)]
    rng = random.Random(size)
    rows, expected = [], []
    for density in (0.0, 0.3, 0.6, 1.0):
        for _ in range(6):
            graph = _random_graph(rng, nodes, density)
            source, target = rng.sample(nodes, 2)
            rows.append(_evidence(circuit, graph, source, target))
            expected.append(sum(1 for _ in nx.all_simple_paths(graph, source, target)))
    # P(constraint | evidence) with every `use` atom at 1/2 is (number of routes) / 2^(use atoms)
    counts = circuit.log_prob(torch.stack(rows)).exp() * 2 ** len(circuit.predicted)
    assert counts.round().long().tolist() == expected
    assert max(expected) > 1 and min(expected) == 0


def test_a_source_that_is_also_the_target_is_impossible_evidence():
    circuit = ns.compile(SIMPLE_PATH, {"Node": 4})
    graph = _complete(4)
    rows = torch.stack([_evidence(circuit, graph, "n1", "n1"), _evidence(circuit, graph, "n1", "n2")])
    with pytest.raises(ImpossibleEvidenceError, match=r"first at index \(0,\)"):
        ns.SemanticLoss(circuit, on_impossible="raise")(rows)
    assert circuit.log_prob(rows)[0] == -math.inf and circuit.log_prob(rows)[1] > -math.inf


def test_semantic_loss_and_mpe_turn_noisy_beliefs_into_a_route():
    circuit = ns.compile(SIMPLE_PATH, {"Node": 5})
    graph = _complete(5)
    row = _evidence(circuit, graph, "n0", "n4", use_prob=0.1)
    route = [("n0", "n2"), ("n2", "n1"), ("n1", "n4")]
    believed = {**dict.fromkeys(route, 0.8), ("n3", "n0"): 0.6}  # the route, plus an edge into the source
    for (x, y), p in believed.items():
        row[circuit.index(f"use({x},{y})")] = p
    loss = ns.SemanticLoss(circuit)
    beliefs = row.clone().requires_grad_(True)
    loss(beliefs[None]).sum().backward()
    assert beliefs.grad[circuit.index("use(n3,n0)")] > 0  # descent lowers the belief in the bad edge
    assert beliefs.grad[circuit.index("use(n2,n1)")] < 0  # and raises the route's
    assignment, _ = circuit.mpe(row[None])
    chosen = {tuple(circuit.variables[i][4:-1].split(",")) for i in circuit.predicted if assignment[0, i]}
    assert chosen == set(route)


@pytest.mark.parametrize("cycle, rule", [(["n1", "n2"], "no_2cycles"), (["n1", "n2", "n3"], "no_3cycles")])
def test_a_route_with_a_cycle_apart_from_it_breaks_the_cycle_rule(cycle, rule):
    circuit = ns.compile(SIMPLE_PATH, {"Node": 5})
    graph = _complete(5)
    assignment = _evidence(circuit, graph, "n0", "n4", use_prob=0.0)
    assignment[circuit.index("use(n0,n4)")] = 1
    assert circuit.satisfied_by(assignment.int().tolist())
    for x, y in zip(cycle, cycle[1:] + cycle[:1]):
        assignment[circuit.index(f"use({x},{y})")] = 1
    assert circuit.violated_constraints(assignment.int().tolist()) == [rule]


def test_six_nodes_leave_room_for_a_four_cycle_as_the_file_says():
    circuit = ns.compile(SIMPLE_PATH, {"Node": 6})
    graph = _complete(6)
    count = circuit.log_prob(_evidence(circuit, graph, "n0", "n5")[None]).exp() * 2 ** len(circuit.predicted)
    paths = sum(1 for _ in nx.all_simple_paths(graph, "n0", "n5"))
    # the extra models: the direct route n0 -> n5 beside a directed 4-cycle on n1..n4 (3! of them)
    assert round(float(count)) == paths + math.factorial(3)
