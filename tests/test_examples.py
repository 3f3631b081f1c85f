"""The examples in examples/, each run end to end at a tiny size, and the grid example's circuit
at the paper's size: its models on the 4x4 grid are the 184 corner-to-corner simple paths."""

from __future__ import annotations

import importlib
import json

import networkx as nx
import numpy
import pytest
import torch


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path / "cache"))


def _example(name: str):
    return importlib.import_module(f"examples.{name}.run")


def _run(name: str, overrides: list[str], capsys) -> tuple[list[str], dict]:
    """The example's table rows and its JSON record."""
    _example(name).main(overrides)
    lines = capsys.readouterr().out.splitlines()
    return [line for line in lines if line.startswith("| ") and "---" not in line][1:], json.loads(lines[-1])


def test_grid_example_decodes_valid_paths_through_the_circuit(capsys):
    rows, record = _run(
        "grid_paths", ["grid=3", "removed=3", "examples=60", "seeds=[0]", "epochs=2", "eval_every=1"], capsys
    )
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| plain", "threshold"],
        ["| plain", "mpe"],
        ["| semantic", "threshold"],
        ["| semantic", "mpe"],
    ]
    for method in ("plain", "semantic"):
        assert record["results"][method][0]["mpe"]["valid"] == 1.0  # MPE through the circuit is always a path


def test_grid_example_labels_are_shortest_paths():
    grid_paths = _example("grid_paths")
    graph = grid_paths.grid_graph(4)
    for example in grid_paths.make_examples(graph, 20, 8, seed=1):
        edges = [e for e, on in zip(graph.edges, example["label"]) if on]
        kept = graph.edge_subgraph([e for e, gone in zip(graph.edges, example["gone"]) if not gone])
        assert len(edges) == nx.shortest_path_length(kept, example["source"], example["target"])
        assert grid_paths.is_simple_path(torch.tensor(example["label"]), example, list(graph.edges))


@pytest.mark.slow
def test_grid_route_circuit_counts_the_184_corner_paths():
    grid_paths = _example("grid_paths")
    graph = grid_paths.grid_graph(4)
    circuit = grid_paths.route_circuit(graph)
    row = torch.full((len(circuit.variables),), 0.5, dtype=torch.float64)
    for i in circuit.observed:
        name = circuit.variables[i]
        row[i] = float(name.startswith("edge(") or name in ("source(n0)", "target(n15)"))
    count = round(float(circuit.log_prob(row[None]).exp() * 2 ** len(circuit.predicted)))
    assert count == len(list(nx.all_simple_paths(graph, 0, 15))) == 184


def test_digits_example_runs_and_labels_every_class_first(capsys):
    digits = _example("digits")
    labels = numpy.repeat(numpy.arange(10), 5)
    assert sorted(labels[digits.labelled_subset(labels, 10, seed=0)]) == list(range(10))
    rows, record = _run("digits", ["labelled=[10]", "seeds=[0, 1]", "epochs=3", "ramp_epochs=2"], capsys)
    assert [row.split(" | ")[0] for row in rows] == ["| 10"]
    assert all(0.0 <= a <= 1.0 for runs in record["results"]["10"].values() for a in runs)
