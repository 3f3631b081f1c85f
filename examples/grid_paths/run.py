"""Grid shortest paths with and without the semantic loss (Xu et al. 2018, section 5.2).

Each example is the grid with some edges removed, a source and a target; the label is a shortest
path (networkx). An MLP predicts the path's edges from the removed edges, source and target; the
semantic loss of constraints/examples/route.ns, with the example's graph, source and target as
evidence, says its edges should form a simple path. One compiled circuit serves every example.
The semantic loss needs no label, so the third method also asks it of unlabelled graphs (random
removed edges, source and target, no path given) beside each batch of labelled ones.

    python -m examples.grid_paths.run [key=value ...]     # from the repository root; overrides of config.yaml
"""

from __future__ import annotations

import json
import random
import sys
from itertools import pairwise
from pathlib import Path

import networkx as nx
import torch

import neurosym as ns
from examples.common import CpuClock, best_of, descend, load_config, print_table, seeded_mlp, split_60_20_20
from neurosym.resources import constraint_path


def grid_graph(size: int) -> nx.Graph:
    """The grid with nodes 0 .. size² - 1, row by row."""
    return nx.convert_node_labels_to_integers(nx.grid_2d_graph(size, size), ordering="sorted")


def feedback_vertex_set(graph: nx.Graph) -> list[int]:
    """Nodes that every cycle passes (greedy: take the best-connected node of the 2-core until none is
    left); the route file's anchors, and the fewer the faster it compiles."""
    rest, chosen = graph.copy(), []
    while (core := nx.k_core(rest, 2)).number_of_nodes():
        node = max(core.nodes, key=lambda v: (core.degree(v), -v))
        chosen.append(node)
        rest.remove_node(node)
    return chosen


def route_circuit(graph: nx.Graph) -> ns.Circuit:
    return ns.compile(
        constraint_path("examples/route.ns"),
        {
            "Node": graph.number_of_nodes(),
            "link": [(f"n{a}", f"n{b}") for a, b in graph.edges],
            "anchor": [(f"n{a}",) for a in feedback_vertex_set(graph)],
        },
    )


def make_examples(graph: nx.Graph, count: int, removed: int, seed: int) -> list[dict]:
    """Random examples: ``removed`` edges gone, a source and a target the rest connects, a shortest path."""
    rng = random.Random(seed)
    edges, out = list(graph.edges), []
    while len(out) < count:
        gone = set(rng.sample(edges, removed))
        kept = graph.edge_subgraph([e for e in edges if e not in gone])
        source, target = rng.sample(list(graph.nodes), 2)
        if source in kept and target in kept and nx.has_path(kept, source, target):
            path = nx.shortest_path(kept, source, target)
            on_path = {frozenset(step) for step in pairwise(path)}
            out.append(
                {
                    "gone": [e in gone for e in edges],
                    "source": source,
                    "target": target,
                    "label": [frozenset(e) in on_path for e in edges],
                }
            )
    return out


class Encoding:
    """Examples as tensors: the MLP's input, the labels, and the circuit's evidence row."""

    def __init__(self, graph: nx.Graph, circuit: ns.Circuit):
        self.nodes, self.edges, self.circuit = graph.number_of_nodes(), list(graph.edges), circuit
        self.use = torch.tensor([circuit.index(f"use(n{a},n{b})") for a, b in self.edges])

    def inputs(self, examples: list[dict]) -> torch.Tensor:
        eye = torch.eye(self.nodes)
        return torch.stack(
            [
                torch.cat([eye[e["source"]], eye[e["target"]], torch.tensor(e["gone"], dtype=torch.float)])
                for e in examples
            ]
        )

    def labels(self, examples: list[dict]) -> torch.Tensor:
        return torch.tensor([e["label"] for e in examples], dtype=torch.float)

    def evidence_logits(self, examples: list[dict]) -> torch.Tensor:
        """±inf logits for the observed atoms (the predicted ones are filled in per batch)."""
        rows = torch.zeros(len(examples), len(self.circuit.variables))
        for i, e in enumerate(examples):
            gone = {f"edge(n{a},n{b})" for (a, b), g in zip(self.edges, e["gone"]) if g}
            for j in self.circuit.observed:
                name = self.circuit.variables[j]
                holds = (
                    name not in gone
                    if name.startswith("edge(")
                    else name == f"source(n{e['source']})" or name == f"target(n{e['target']})"
                )
                rows[i, j] = float("inf") if holds else float("-inf")
        return rows

    def full_logits(self, evidence: torch.Tensor, edge_logits: torch.Tensor) -> torch.Tensor:
        return evidence.index_copy(1, self.use, edge_logits)


def is_simple_path(chosen: torch.Tensor, example: dict, graph_edges: list) -> bool:
    """Do the chosen edges, all present, form one simple path from the source to the target?"""
    picked = [e for e, c, g in zip(graph_edges, chosen.tolist(), example["gone"]) if c and not g]
    if len(picked) != int(chosen.sum()) or not picked:
        return False
    route = nx.Graph(picked)
    ends = {example["source"], example["target"]}
    return (
        ends <= set(route)
        and nx.is_connected(route)
        and route.number_of_edges() == route.number_of_nodes() - 1
        and all(route.degree(v) == (1 if v in ends else 2) for v in route)
    )


def scores(chosen: torch.Tensor, labels: torch.Tensor, examples: list[dict], graph_edges: list) -> dict:
    return {
        "coherent": float((chosen == labels).all(1).float().mean()),
        "per_edge": float((chosen == labels).float().mean()),
        "valid": sum(is_simple_path(c, e, graph_edges) for c, e in zip(chosen, examples)) / len(examples),
    }


def example_key(example: dict) -> tuple:
    """What makes two examples the same question: the removed edges, the source and the target."""
    return tuple(example["gone"]), example["source"], example["target"]


def unlabelled_pool(graph: nx.Graph, config: dict, held_out: list[dict]) -> list[dict]:
    """Examples drawn like the data but from another seed, without their labels, none of them a
    validation or test example."""
    unseen = {example_key(e) for e in held_out}
    drawn = make_examples(graph, config["unlabelled_pool"], config["removed"], config["data_seed"] + 1)
    return [{**e, "label": None} for e in drawn if example_key(e) not in unseen]


def train(config: dict, encoding: Encoding, splits: dict, seed: int, method: str) -> dict:
    x, y, evidence, _ = splits["train"]
    model, optimizer = seeded_mlp(config, x.shape[1], y.shape[1], seed)
    semantic_loss = ns.SemanticLoss(encoding.circuit)

    def epoch() -> None:
        model.train()
        for batch in torch.randperm(len(x)).split(config["batch"]):
            logits = model(x[batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[batch])
            if method != "plain":
                beliefs, shown = logits, evidence[batch]
                if method == "semantic+unlabelled":
                    pool_x, pool_evidence = splits["unlabelled"]
                    drawn = torch.randint(len(pool_x), (config["unlabelled"],))
                    beliefs = torch.cat([beliefs, model(pool_x[drawn])])
                    shown = torch.cat([shown, pool_evidence[drawn]])
                full = encoding.full_logits(shown, beliefs)
                loss = loss + config["semantic_weight"] * semantic_loss(logits=full).mean()
            descend(optimizer, loss)

    def validation_coherent() -> float:
        return evaluate(model, encoding, splits["validation"])["threshold"]["coherent"]

    best_of(model, epoch, config["epochs"], config["eval_every"], validation_coherent)
    return evaluate(model, encoding, splits["test"])


@torch.no_grad()
def evaluate(model, encoding: Encoding, split) -> dict:
    x, y, evidence, examples = split
    model.eval()
    logits = model(x)
    assignment, _ = encoding.circuit.mpe(logits=encoding.full_logits(evidence, logits))
    decoded = {"threshold": logits > 0, "mpe": assignment[:, encoding.use].bool()}
    return {name: scores(chosen.float(), y, examples, encoding.edges) for name, chosen in decoded.items()}


def main(argv: list[str]) -> None:
    config = load_config(Path(__file__).with_name("config.yaml"), argv)
    torch.set_num_threads(1)  # small models: more threads only contend for the shared cores
    clock = CpuClock()
    graph = grid_graph(config["grid"])
    circuit = route_circuit(graph)
    encoding = Encoding(graph, circuit)
    examples = make_examples(graph, config["examples"], config["removed"], config["data_seed"])
    parts = split_60_20_20(examples)
    splits = {
        name: (encoding.inputs(p), encoding.labels(p), encoding.evidence_logits(p), p) for name, p in parts.items()
    }
    methods = ["plain", "semantic"]
    pool = unlabelled_pool(graph, config, [*parts["validation"], *parts["test"]]) if config["unlabelled"] else []
    if pool:
        splits["unlabelled"] = (encoding.inputs(pool), encoding.evidence_logits(pool))
        methods.append("semantic+unlabelled")
    results = {
        method: [train(config, encoding, splits, seed, method) for seed in config["seeds"]] for method in methods
    }
    print(
        f"grid {config['grid']}x{config['grid']}, {len(examples)} examples, seeds {config['seeds']}, "
        f"{len(pool)} unlabelled graphs ({config['unlabelled']} per batch), circuit {circuit.size()} nodes; "
        "test split, mean ± 95 % interval over seeds (%)"
    )
    print_table(
        ["method", "decoding"],
        {(method, decoding): [r[decoding] for r in runs] for method, runs in results.items() for decoding in runs[0]},
        {"coherent": "coherent", "per_edge": "per edge", "valid": "valid path"},
    )
    print(f"CPU minutes: {clock.minutes():.1f}")
    print(json.dumps({"config": config, "results": results}))


if __name__ == "__main__":
    main(sys.argv[1:])
