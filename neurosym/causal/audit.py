"""Soundness and collapse audit of the causal constraint templates.

For random DAGs and every k-node subset, the sampler grounds the template; the true answers
(networkx, on the full graph) with the subset's evidence must satisfy every constraint (sound),
while a collapsed model, always Yes or always No, should violate some (not empty). Assignments
are checked in batches with numpy on the ground formulas, constraint by constraint, which also
covers templates too large to compile (d-separation with k = 5); a compiled circuit checks the
same assignments with ``Circuit.satisfied_by``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np

from neurosym.causal.facts import GraphFacts
from neurosym.causal.generate import node_names
from neurosym.causal.sampler import SubsetSampler
from neurosym.errors import DataError
from neurosym.ground import formula as g

MODELS = ("truth", "always_yes", "always_no")


def random_dags(count: int, sizes: Sequence[int], seed: int) -> list[nx.DiGraph]:
    """``count`` DAGs of random sizes; each pair is an edge with a per-graph random density, so the
    set runs from edgeless to complete, connected or not. Nodes are stored in random order, not
    topological order, so subsets reach the template's elements in every orientation."""
    rng = random.Random(f"audit/{seed}")
    graphs = []
    for _ in range(count):
        names = node_names(rng.choice(list(sizes)), (1, 3), rng)  # a topological order
        density = rng.random()
        graph = nx.DiGraph()
        graph.add_nodes_from(rng.sample(names, len(names)))
        graph.add_edges_from((a, b) for i, a in enumerate(names) for b in names[i + 1 :] if rng.random() < density)
        graphs.append(graph)
    return graphs


def subset_assignments(
    sampler: SubsetSampler, graphs: Sequence[nx.DiGraph], facts: Sequence[GraphFacts] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For every graph and every k-node subset: the true assignment of all template variables
    (``[N, V]`` bool) and the index of the graph it came from (``[N]``). Pass ``facts`` (one per
    graph) to share networkx answers between templates."""
    facts = facts or [GraphFacts(graph) for graph in graphs]
    rows, owners = [], []
    for i, graph in enumerate(graphs):
        for nodes in itertools.combinations(graph.nodes, sampler.k):
            sample = sampler.ground(graph, nodes, facts=facts[i])
            row = np.zeros(len(sampler.variables), dtype=bool)
            row[list(sample.evidence)] = list(sample.evidence.values())
            row[[q.index for q in sample.queries]] = [q.label == "Yes" for q in sample.queries]
            rows.append(row)
            owners.append(i)
    return np.array(rows, dtype=bool).reshape(len(rows), len(sampler.variables)), np.array(owners, dtype=int)


def as_model(assignments: np.ndarray, predicted: Sequence[int], model: str) -> np.ndarray:
    """The assignments with the predicted variables answered by ``model`` (one of `MODELS`)."""
    if model == "truth":
        return assignments
    answered = assignments.copy()
    answered[:, list(predicted)] = model == "always_yes"
    return answered


@dataclass
class AuditReport:
    """Violations per constraint and model: (subsets violated, graphs with a violated subset)."""

    theory: str
    graphs: int
    graphs_with_edge: int
    subsets: dict[int, int] = field(default_factory=dict)  # k → number of k-node subsets checked
    violations: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)


def audit(
    theory_path: str | Path,
    graphs: Sequence[nx.DiGraph],
    ks: Sequence[int] = (3, 4, 5),
    domain: str = "Node",
    facts: Sequence[GraphFacts] | None = None,
) -> AuditReport:
    """Check every k-subset of every graph against each constraint of the theory, for each model.
    The ``"(all)"`` entry counts a subset once when any constraint fails."""
    from neurosym.ground.grounder import ground
    from neurosym.lang.parser import parse_file

    theory = parse_file(theory_path)
    report = AuditReport(str(theory_path), len(graphs), sum(g.number_of_edges() > 0 for g in graphs))
    failed: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = {}
    facts = facts or [GraphFacts(graph) for graph in graphs]
    for k in ks:
        grounded = ground(theory, {domain: k})
        observed = [i for i, kind in enumerate(grounded.kinds) if kind == "observed"]
        predicted = [i for i, kind in enumerate(grounded.kinds) if kind == "predicted"]
        truth, owners = subset_assignments(SubsetSampler(grounded.names, observed, str(theory_path)), graphs, facts)
        report.subsets[k] = len(truth)
        for model in MODELS:
            answered = as_model(truth, predicted, model)
            any_failed = np.zeros(len(answered), dtype=bool)
            for constraint in grounded.constraints:
                bad = ~np.logical_and.reduce(
                    [g.evaluate_batch(f, answered) for f in constraint.conjuncts]
                    or [np.ones(len(answered), dtype=bool)]
                )
                any_failed |= bad
                failed.setdefault(constraint.name, {}).setdefault(model, []).append((bad, owners))
            failed.setdefault("(all)", {}).setdefault(model, []).append((any_failed, owners))
    for name, by_model in failed.items():
        report.violations[name] = {
            model: (
                int(sum(bad.sum() for bad, _ in parts)),
                len(set().union(*(set(owners[bad].tolist()) for bad, owners in parts))),
            )
            for model, parts in by_model.items()
        }
    if not any(report.subsets.values()):
        raise DataError(f"no graph has as many nodes as k = {', '.join(map(str, ks))}; nothing was audited")
    return report
