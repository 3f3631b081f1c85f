"""4x4 Sudoku completion with and without the semantic loss of the Sudoku rules.

Each example is a puzzle: a 4x4 grid (digits 1-4, 2x2 boxes) with cells hidden so that exactly one
grid completes it. An MLP maps the givens to the 64 atoms value(cell, digit); the training,
validation and test puzzles come from disjoint sets of grids, so it cannot just recall the 288
grids. Some training puzzles keep their solutions (cross-entropy); the semantic loss of
constraints/examples/sudoku.ns, with each training puzzle's givens as evidence, says the completion
should be a Sudoku grid. One compiled circuit serves every puzzle.

    python -m examples.sudoku.run [key=value ...]     # from the repository root; overrides of config.yaml
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

import neurosym as ns
from examples.common import CpuClock, best_of, descend, load_config, print_table, seeded_mlp, split_60_20_20
from neurosym.resources import constraint_path

SIZE, BOX = 4, 2
CELLS = SIZE * SIZE
DIGITS = range(1, SIZE + 1)
UNITS = {
    **{f"row{r}": [SIZE * r + c for c in range(SIZE)] for r in range(SIZE)},
    **{f"col{c}": [SIZE * r + c for r in range(SIZE)] for c in range(SIZE)},
    **{
        f"box{b}": [SIZE * (b // BOX * BOX + r) + b % BOX * BOX + c for r in range(BOX) for c in range(BOX)]
        for b in range(SIZE)
    },
}


def cell_name(cell: int) -> str:
    return f"r{cell // SIZE}c{cell % SIZE}"


def atom_names() -> list[str]:
    """value(r0c0,d1) .. value(r3c3,d4), cell by cell: the order of the MLP's outputs."""
    return [f"value({cell_name(cell)},d{d})" for cell in range(CELLS) for d in DIGITS]


def sudoku_circuit() -> ns.Circuit:
    return ns.compile(
        constraint_path("examples/sudoku.ns"),
        {
            "Cell": [cell_name(cell) for cell in range(CELLS)],
            "Unit": list(UNITS),
            "Digit": [f"d{d}" for d in DIGITS],
            "member": [(cell_name(cell), unit) for unit, cells in UNITS.items() for cell in cells],
        },
    )


def is_sudoku(grid: Sequence[int]) -> bool:
    return all(sorted(grid[cell] for cell in cells) == list(DIGITS) for cells in UNITS.values())


def all_grids() -> list[tuple[int, ...]]:
    """Every 4x4 Sudoku grid, filled cell by cell, each digit checked against the filled cells of its units."""
    grids, partial = [], [()]
    while partial:
        grid = partial.pop()
        if len(grid) == CELLS:
            grids.append(grid)
            continue
        seen = {grid[other] for cells in UNITS.values() if len(grid) in cells for other in cells if other < len(grid)}
        partial += [(*grid, d) for d in DIGITS if d not in seen]
    return sorted(grids)


def agrees(puzzle: Sequence[int], grid: Sequence[int]) -> bool:
    """Does the grid keep the puzzle's givens (0 = blank)?"""
    return all(given in (0, d) for given, d in zip(puzzle, grid))


def completions(puzzle: Sequence[int], grids: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    return [grid for grid in grids if agrees(puzzle, grid)]


def make_puzzles(solutions: list, every_grid: list, count: int, givens: list[int], seed: int | str) -> list[dict]:
    """``count`` puzzles from these solutions, each showing between givens[0] and givens[1] cells and
    completed by exactly one of all the grids."""
    rng, out = random.Random(seed), []
    while len(out) < count:
        solution = rng.choice(solutions)
        shown = set(rng.sample(range(CELLS), rng.randint(*givens)))
        puzzle = [d if cell in shown else 0 for cell, d in enumerate(solution)]
        if len(completions(puzzle, every_grid)) == 1:
            out.append({"puzzle": puzzle, "solution": list(solution)})
    return out


def tensors(puzzles: list[dict]) -> tuple[torch.Tensor, ...]:
    """The MLP's input (each cell one-hot over blank and the digits), the solution as 0/1 atoms, and
    the evidence: ±inf logits on the atoms of the given cells, 0 elsewhere."""
    givens = torch.tensor([p["puzzle"] for p in puzzles])
    solution = torch.nn.functional.one_hot(torch.tensor([p["solution"] for p in puzzles]) - 1, SIZE)
    shown = (givens > 0).unsqueeze(2).expand(-1, -1, SIZE)
    evidence = torch.where(solution.bool(), float("inf"), float("-inf")).where(shown, 0.0)
    inputs = torch.nn.functional.one_hot(givens, SIZE + 1).flatten(1).float()
    return inputs, solution.flatten(1).float(), evidence.flatten(1), givens


def with_evidence(evidence: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The MLP's logits with the given cells' atoms fixed by the puzzle."""
    return torch.where(evidence.isinf(), evidence, logits)


def scores(digits: torch.Tensor, split: tuple) -> dict:
    _, solution, _, givens = split
    right = digits == solution.view(-1, CELLS, SIZE).argmax(2) + 1
    valid = [is_sudoku(grid) and agrees(puzzle, grid) for grid, puzzle in zip(digits.tolist(), givens.tolist())]
    return {
        "whole_grid": float(right.all(1).float().mean()),
        "per_cell": float(right.float().mean()),
        "valid": sum(valid) / len(valid),
    }


@torch.no_grad()
def evaluate(model, circuit: ns.Circuit, split: tuple) -> dict:
    inputs, _, evidence, _ = split
    model.eval()
    logits = with_evidence(evidence, model(inputs))
    assignment, _ = circuit.mpe(logits=logits)
    decoded = {"argmax": logits, "mpe": assignment.float()}
    return {name: scores(atoms.view(-1, CELLS, SIZE).argmax(2) + 1, split) for name, atoms in decoded.items()}


def train(config: dict, circuit: ns.Circuit, splits: dict, labelled: int, seed: int, semantic: bool) -> dict:
    inputs, solution, evidence, _ = splits["train"]
    model, optimizer = seeded_mlp(config, inputs.shape[1], solution.shape[1], seed)
    semantic_loss = ns.SemanticLoss(circuit)

    def full_batch_step() -> None:
        model.train()
        logits = model(inputs)
        # the puzzles were drawn in random order, so the first ones are a random labelled subset
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:labelled], solution[:labelled])
        if semantic:
            loss = loss + config["semantic_weight"] * semantic_loss(logits=with_evidence(evidence, logits)).mean()
        descend(optimizer, loss)

    def validation_whole_grid() -> float:
        return evaluate(model, circuit, splits["validation"])["argmax"]["whole_grid"]

    best_of(model, full_batch_step, config["steps"], config["eval_every"], validation_whole_grid)
    return evaluate(model, circuit, splits["test"])


def main(argv: list[str]) -> None:
    config = load_config(Path(__file__).with_name("config.yaml"), argv)
    low, high = config["givens"] if len(config["givens"]) == 2 else (0, 0)
    if not 4 <= low <= high <= CELLS:
        raise SystemExit(f"givens must be [low, high] with 4 <= low <= high <= {CELLS}, got {config['givens']}")
    torch.set_num_threads(1)  # small models: more threads only contend for the shared cores
    clock = CpuClock()
    circuit = sudoku_circuit()
    # the MLP's outputs line up with the circuit's variables, so no reordering is needed
    assert circuit.variables == atom_names()
    every_grid = all_grids()
    grids = split_60_20_20(random.Random(config["data_seed"]).sample(every_grid, len(every_grid)))
    counts = split_60_20_20(range(config["puzzles"]))
    if not config["labelled"] or max(config["labelled"]) > len(counts["train"]):
        raise SystemExit(f"labelled must list counts of at most the {len(counts['train'])} training puzzles")
    splits = {
        name: tensors(
            make_puzzles(grids[name], every_grid, len(counts[name]), config["givens"], f"{config['data_seed']}-{name}")
        )
        for name in grids
    }
    results = {
        str(labelled): {
            method: [train(config, circuit, splits, labelled, seed, method == "semantic") for seed in config["seeds"]]
            for method in ("plain", "semantic")
        }
        for labelled in config["labelled"]
    }
    print(
        f"4x4 Sudoku: {config['puzzles']} puzzles showing {low}-{high} cells, grids split "
        f"{', '.join(f'{len(g)} {name}' for name, g in grids.items())}, seeds {config['seeds']}, "
        f"circuit {circuit.size()} nodes; test split, mean ± 95 % interval over seeds (%)"
    )
    print_table(
        ["labelled", "method", "decoding"],
        {
            (labelled, method, decoding): [r[decoding] for r in runs]
            for labelled, by_method in results.items()
            for method, runs in by_method.items()
            for decoding in runs[0]
        },
        {"whole_grid": "whole grid", "per_cell": "per cell", "valid": "valid grid"},
    )
    print(f"CPU minutes: {clock.minutes():.1f}")
    print(json.dumps({"config": config, "results": results}))


if __name__ == "__main__":
    main(sys.argv[1:])
