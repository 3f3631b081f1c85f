"""The examples in examples/, each run end to end at a tiny size, and their circuits at full size:
the grid example's models on the 4x4 grid are the 184 corner-to-corner simple paths, the Sudoku
example's models are the 4x4 Sudoku grids found by brute force."""

from __future__ import annotations

import importlib
import itertools
import json
import re

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
        "grid_paths",
        [
            "grid=3",
            "removed=3",
            "examples=60",
            "unlabelled=8",
            "unlabelled_pool=40",
            "seeds=[0]",
            "epochs=2",
            "eval_every=1",
        ],
        capsys,
    )
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| plain", "threshold"],
        ["| plain", "mpe"],
        ["| semantic", "threshold"],
        ["| semantic", "mpe"],
        ["| semantic+unlabelled", "threshold"],
        ["| semantic+unlabelled", "mpe"],
    ]
    for method in ("plain", "semantic", "semantic+unlabelled"):
        assert record["results"][method][0]["mpe"]["valid"] == 1.0  # MPE through the circuit is always a path


def test_grid_unlabelled_pool_holds_no_held_out_example():
    grid_paths = _example("grid_paths")
    graph = grid_paths.grid_graph(3)
    config = {"unlabelled_pool": 200, "removed": 3, "data_seed": 0}
    held_out = grid_paths.make_examples(graph, 200, 3, seed=1)  # the pool's own stream: every draw collides
    pool = grid_paths.unlabelled_pool(graph, config, held_out[:50])
    assert len(pool) == 150
    assert not {grid_paths.example_key(e) for e in pool} & {grid_paths.example_key(e) for e in held_out[:50]}
    assert all(e["label"] is None for e in pool)


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


def _brute_force_sudokus() -> set[tuple[int, ...]]:
    """The 4x4 grids, rows of digits 1-4 read left to right, whose rows, columns and 2x2 boxes each
    hold every digit: all 24**4 stacks of permuted rows, checked at once."""
    rows = numpy.array(list(itertools.permutations(range(1, 5))))
    grids = rows[numpy.indices((len(rows),) * 4).reshape(4, -1).T].reshape(-1, 4, 4)
    boxes = grids.reshape(-1, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(-1, 4, 4)
    whole = [
        (numpy.sort(units, axis=2) == [1, 2, 3, 4]).all((1, 2)) for units in (grids, grids.transpose(0, 2, 1), boxes)
    ]
    return {tuple(g) for g in grids[numpy.logical_and.reduce(whole)].reshape(-1, 16).tolist()}


def test_sudoku_circuit_models_are_the_288_grids():
    sudoku = _example("sudoku")
    grids = _brute_force_sudokus()
    assert set(sudoku.all_grids()) == grids and len(grids) == 288
    circuit = sudoku.sudoku_circuit()
    assert circuit.model_count() == len(grids)
    for grid in sorted(grids)[::7]:  # the count is equal, so the grids sampled must be models too
        atoms = [int(grid[cell] == d) for cell in range(16) for d in range(1, 5)]
        assert circuit.satisfied_by(atoms)
        atoms[:8] = atoms[4:8] + atoms[:4]  # two cells of a row swap digits: the column rule breaks
        assert not circuit.satisfied_by(atoms)


def test_sudoku_puzzles_have_their_solution_as_only_completion():
    sudoku = _example("sudoku")
    grids = sorted(_brute_force_sudokus())
    for example in sudoku.make_puzzles(grids[:50], grids, 40, [4, 9], seed=3):
        puzzle, solution = example["puzzle"], tuple(example["solution"])
        assert 4 <= sum(d > 0 for d in puzzle) <= 9 and solution in grids[:50]
        assert [g for g in grids if all(p in (0, d) for p, d in zip(puzzle, g))] == [solution]


def test_sudoku_example_solves_every_puzzle_through_the_circuit(capsys):
    rows, record = _run(
        "sudoku", ["puzzles=60", "labelled=[5]", "seeds=[0]", "steps=3", "eval_every=1", "hidden=8"], capsys
    )
    assert [row.split(" | ")[:3] for row in rows] == [
        ["| 5", "plain", "argmax"],
        ["| 5", "plain", "mpe"],
        ["| 5", "semantic", "argmax"],
        ["| 5", "semantic", "mpe"],
    ]
    for method in ("plain", "semantic"):
        # the givens as evidence leave one model, the solution, whatever the MLP believes
        assert record["results"]["5"][method][0]["mpe"] == {"whole_grid": 1.0, "per_cell": 1.0, "valid": 1.0}
        assert 0.0 <= record["results"]["5"][method][0]["argmax"]["per_cell"] <= 1.0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("givens=[3, 5]", "givens must be [low, high] with 4 <= low <= high <= 16"),
        ("labelled=[5000]", "labelled must list counts of at most the 900 training puzzles"),
        ("steps=ten", "'steps=ten': steps takes a value of type int, like 400"),
        ("seeds=[0", "'seeds=[0': the value is not YAML"),
        ("epochs=3", "unknown config key 'epochs'"),
    ],
)
def test_sudoku_example_rejects_bad_config(override, message):
    with pytest.raises(SystemExit, match=re.escape(message)):
        _example("sudoku").main([override])
