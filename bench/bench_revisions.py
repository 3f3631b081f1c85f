"""Semantic loss throughput of this working tree against an earlier revision, paired.

    .venv/bin/python bench/bench_revisions.py BEFORE [--threads N] [--circuits NAME ...] [--rounds R]

On a shared machine single runs move by ±15%, so a change is measured in turns: each round runs
the earlier revision (``git archive BEFORE``, unpacked into a temporary folder put first on
``PYTHONPATH``) and then this tree, each in a fresh process that times seven forward + backward
steps of batch 4,096 (random logits) after three warm-up steps and reports the median step. The
table gives both ranges and the ratio of the medians over the rounds. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH, WARMUP, TIMED = 4096, 3, 7


def time_steps(circuit_name: str, threads: int) -> float:
    """Median rows/s of one forward + backward step, in this process (whichever neurosym it imports)."""
    import torch
    from bench_semantic_loss import load

    import neurosym as ns

    torch.set_num_threads(threads)
    circuit = load(circuit_name)
    loss = ns.SemanticLoss(circuit, on_impossible="ignore")
    z = torch.randn(BATCH, len(circuit.variables))
    seconds = []
    for step in range(WARMUP + TIMED):
        x = z.detach().requires_grad_()
        start = time.perf_counter()
        loss(logits=x).sum().backward()
        if step >= WARMUP:
            seconds.append(time.perf_counter() - start)
    return BATCH / statistics.median(seconds)


def run_in(tree: Path, circuit_name: str, threads: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--time-in-process", circuit_name, "--threads", str(threads)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": f"{tree}:{ROOT / 'bench'}"},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", nargs="?", help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--circuits", nargs="*", default=["transitivity Node=6"], metavar="NAME")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--time-in-process", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_in_process:
        print(time_steps(args.time_in_process, args.threads))
        return
    if args.before is None:
        parser.error("name the earlier revision to compare with")
    with tempfile.TemporaryDirectory(prefix="neurosym-before-") as folder:
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        print(f"{args.threads} threads, batch {BATCH}, median of {TIMED} steps per process; before = {args.before}")
        print("| circuit | rounds | before, rows/s | now, rows/s | now / before |\n|---|---:|---|---|---:|")
        for name in args.circuits:
            before, now = [], []
            for _ in range(args.rounds):
                before.append(run_in(Path(folder), name, args.threads))
                now.append(run_in(ROOT, name, args.threads))
            spread = lambda xs: f"{min(xs):,.0f}–{max(xs):,.0f}"  # noqa: E731
            print(
                f"| {name} | {args.rounds} | {spread(before)} | {spread(now)} | "
                f"{statistics.median(now) / statistics.median(before):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
