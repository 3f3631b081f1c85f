"""Compile-strategy comparison: time and SDD size per theory, domain size and strategy.

    .venv/bin/python bench/bench_compile.py [--cap 120] [--markdown FILE] [--json FILE]

The measured table is in docs/compiler.md.

Each configuration runs in its own process (memory is returned between runs) under a time cap;
"over cap" means the compiler's budget stopped it. The "naive" row is the baseline the issue
measured: balanced vtree over the natural variable order, dynamic minimization, source order.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time

STRATEGIES = {
    "naive (natural order, dynamic minimize, source order)": dict(
        order="natural", vtree="balanced", minimize="dynamic", conjoin="source"
    ),
    "grouped + depth order + final minimize (old default)": dict(
        order="grouped", vtree="balanced", minimize="final", conjoin="depth"
    ),
    "min-fill tree order + depth order": dict(order="min-fill", vtree="balanced", minimize="none", conjoin="depth"),
    "grouped blocks vtree + depth order": dict(order="grouped", vtree="blocks", minimize="none", conjoin="depth"),
    "auto + depth order + final minimize (default)": dict(order="auto", minimize="final", conjoin="depth"),
}
CASES = [
    ("causal/transitivity.ns", "Node", 5),
    ("causal/transitivity.ns", "Node", 6),
    ("causal/transitivity.ns", "Node", 7),
    ("causal/transitivity.ns", "Node", 8),
    ("causal/dseparation.ns", "Node", 4),
    ("examples/exactly_one.ns", "Class", 100),
]


def _run(path: str, domain: str, size: int, strategy: dict, cap: float, out) -> None:
    import neurosym as ns
    from neurosym.compile.compiler import CompileOptions
    from neurosym.resources import constraint_path

    start = time.perf_counter()
    try:
        circuit = ns.compile(
            constraint_path(path),
            {domain: size},
            cache=False,
            options=CompileOptions(**strategy, timeout=cap, max_size=20_000_000),
        )
        result = {
            "seconds": time.perf_counter() - start,
            "size": circuit.size(),
            "models": circuit.model_count(),
            "variables": len(circuit.variables),
        }
    except ns.NeurosymError:
        result = {"seconds": None}
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put(result)


def measure(path, domain, size, strategy, cap) -> dict:
    queue: mp.Queue = mp.Queue()
    proc = mp.get_context("fork").Process(target=_run, args=(path, domain, size, strategy, cap, queue))
    proc.start()
    proc.join(cap * 3 + 60)  # a single SDD operation cannot be interrupted; give it room, then stop it
    if proc.is_alive():
        proc.kill()
        return {"seconds": None}
    return queue.get() if not queue.empty() else {"seconds": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per configuration")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    rows = []
    header = "| theory | domain | strategy | variables | seconds | SDD size | model count | peak RSS MiB |"
    print(header)
    print("|" + "---|" * 8)
    for path, domain, size in CASES:
        for name, strategy in STRATEGIES.items():
            r = measure(path, domain, size, strategy, args.cap)
            row = {"theory": path, "domain": f"{domain}={size}", "strategy": name, **r}
            print(_row(row, args.cap), flush=True)
            rows.append(row)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join([header, "|" + "---|" * 8] + [_row(r, args.cap) for r in rows]) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def _row(r: dict, cap: float) -> str:
    if r["seconds"] is None:
        return f"| {r['theory']} | {r['domain']} | {r['strategy']} | - | over {cap:g} s cap | - | - | - |"
    return (
        f"| {r['theory']} | {r['domain']} | {r['strategy']} | {r['variables']} | {r['seconds']:.2f} | "
        f"{r['size']:,} | {r['models']:,} | {r['peak_mib']:.0f} |"
    )


if __name__ == "__main__":
    main()
