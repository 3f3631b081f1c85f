"""Route circuits (constraints/examples/route.ns): compile time and size on grids and random graphs.

    .venv/bin/python bench/bench_route.py [--cap 600] [--markdown FILE]

Each graph is compiled with the default options and no cache, the anchors either every node or
the grid example's greedy feedback vertex set. That the models are the simple paths is tested
(tests/test_hidden_predicates.py, tests/test_examples.py); this measures the cost. The table is in
docs/compiler.md.
"""

from __future__ import annotations

import argparse
import random
import time

import networkx as nx

import neurosym as ns
from examples.grid_paths.run import feedback_vertex_set, grid_graph
from neurosym.compile.compiler import CompileOptions
from neurosym.resources import constraint_path


def random_connected_graph(size: int, edges: int, seed: int) -> nx.Graph:
    """A connected graph drawn uniformly among those with ``size`` nodes and ``edges`` edges."""
    rng = random.Random(seed)
    while not nx.is_connected(graph := nx.gnm_random_graph(size, edges, seed=rng.randrange(2**31))):
        pass
    return graph


GRAPHS = {
    "3x3 grid": lambda: grid_graph(3),
    "4x4 grid": lambda: grid_graph(4),
    "random, 12 nodes, 16 edges": lambda: random_connected_graph(12, 16, 0),
    "random, 14 nodes, 21 edges": lambda: random_connected_graph(14, 21, 0),
    "random, 16 nodes, 21 edges": lambda: random_connected_graph(16, 21, 0),
    "random, 16 nodes, 24 edges": lambda: random_connected_graph(16, 24, 0),
}


def measure(graph: nx.Graph, anchors: list[int], cap: float) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    circuit = ns.compile(
        constraint_path("examples/route.ns"),
        {
            "Node": graph.number_of_nodes(),
            "link": [(f"n{a}", f"n{b}") for a, b in graph.edges],
            "anchor": [(f"n{a}",) for a in anchors],
        },
        cache=False,
        options=CompileOptions(timeout=cap),
    )
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "size": circuit.size(),
        "variables": len(circuit.variables),
        "hidden": len(circuit.ground_theory.hidden),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=600.0, help="seconds per compilation")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    lines = [
        "| graph | anchors | variables (hidden) | wall s | CPU s | SDD size |",
        "|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for name, make in GRAPHS.items():
        graph = make()
        few = feedback_vertex_set(graph)
        for label, anchors in ((f"feedback vertex set ({len(few)})", few), (f"all {len(graph)}", list(graph))):
            try:
                r = measure(graph, anchors, args.cap)
                row = f"| {r['variables']} ({r['hidden']}) | {r['wall']:.1f} | {r['cpu']:.1f} | {r['size']:,} |"
            except ns.NeurosymError:
                row = f"| - | over {args.cap:g} s | - | - |"
            lines.append(f"| {name} | {label} {row}")
            print(lines[-1], flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
