"""Semantic loss throughput: forward + backward rows/s, neurosym against the alternatives.

    .venv/bin/python bench/bench_semantic_loss.py [--quick] [--device cpu|cuda] [--threads N]

For each circuit and batch size, one cell times ``−log P(constraint)`` and its gradient with
respect to a ``[batch, V]`` tensor of logits, repeated until ``--min-time`` has passed:

* neurosym — `ns.SemanticLoss` (layered tensor circuit counted in probability space, rows that
  would underflow again in log space; hand-written top-down backward);
* PySDD loop — one `WmcManager.propagate()` per row (its literal derivatives are the gradient);
* brute force — log-sum-exp over every satisfying assignment (circuits with ≤ 20 variables);
* KLay — ``klaycircuits``' torch module (log semiring) under ``torch.vmap`` over the rows, and,
  for reference, the same module called on the whole batch.

A cell whose estimated time (from the previous batch size) exceeds ``--cell-limit`` seconds is
skipped ("—"), and one still running after twice that is stopped ("> N s"). Peak memory of neurosym at the largest batch is measured in a fresh process:
``ru_maxrss`` growth on CPU, ``torch.cuda.max_memory_allocated`` on GPU. Not a test.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import signal
import time

import numpy as np
import torch
import torch.nn.functional as F

CIRCUITS = {
    "transitivity Node=4": ("causal/transitivity.ns", {"Node": 4}),
    "transitivity Node=5": ("causal/transitivity.ns", {"Node": 5}),
    "transitivity Node=6": ("causal/transitivity.ns", {"Node": 6}),
    "dseparation Node=4": ("causal/dseparation.ns", {"Node": 4}),
    "exactly_one n=10": ("examples/exactly_one.ns", {"Class": 10}),
    "exactly_one n=100": ("examples/exactly_one.ns", {"Class": 100}),
}
BATCHES = [1, 16, 256, 4096, 65536]
QUICK_BATCHES = [1, 64, 4096]
BRUTE_FORCE_MAX_VARS = 20


def load(name: str):
    import neurosym as ns
    from neurosym.resources import constraint_path

    path, domains = CIRCUITS[name]
    return ns.compile(constraint_path(path), domains)


# -- the contenders: each returns a function batch_logits -> None (forward + backward) --------
def neurosym_step(circuit, device):
    import neurosym as ns

    loss = ns.SemanticLoss(circuit, on_impossible="ignore").to(device)

    def step(z):
        z = z.detach().requires_grad_()
        loss(logits=z).sum().backward()

    return step


def pysdd_step(circuit, device):
    wmc = circuit.root.wmc(log_mode=True)
    literals = [(circuit.manager.literal(i), circuit.manager.literal(-i)) for i in range(1, len(circuit.variables) + 1)]

    def step(z):
        pos, neg = F.logsigmoid(z).double().cpu().numpy(), F.logsigmoid(-z).double().cpu().numpy()
        for row in range(len(z)):
            for (p, n), wp, wn in zip(literals, pos[row], neg[row]):
                wmc.set_literal_weight(p, wp)
                wmc.set_literal_weight(n, wn)
            wmc.propagate()
            for p, n in literals:
                wmc.literal_derivative(p), wmc.literal_derivative(n)

    return step


def brute_force_step(circuit, device):
    v = len(circuit.variables)
    if v > BRUTE_FORCE_MAX_VARS:
        return None
    table = np.array(list(itertools.product([0, 1], repeat=v)), dtype=bool)
    models = torch.tensor(table[[circuit.satisfied_by(row) for row in table]], dtype=torch.float32, device=device)

    def step(z):
        z = z.detach().requires_grad_()
        pos, neg = F.logsigmoid(z), F.logsigmoid(-z)
        (-torch.logsumexp((pos - neg) @ models.T + neg.sum(1, keepdim=True), 1)).sum().backward()

    return step


def klay_modules(circuit, device):
    import klay

    k = klay.Circuit()
    k.add_sdd(circuit.root)
    return k.to_torch_module(semiring="log", compile=False).to(device)


def klay_vmap_step(circuit, device):
    module = klay_modules(circuit, device)
    one_row = torch.vmap(lambda pos, neg: module(pos, neg))

    def step(z):
        z = z.detach().requires_grad_()
        (-one_row(F.logsigmoid(z), F.logsigmoid(-z))).sum().backward()

    return step


def klay_batched_step(circuit, device):
    module = klay_modules(circuit, device)

    def step(z):
        z = z.detach().requires_grad_()
        (-module(F.logsigmoid(z), F.logsigmoid(-z))).sum().backward()

    return step


def agreement(circuit, device) -> float:
    """Largest |log P| difference between KLay and neurosym on random logits (a sanity check)."""
    import neurosym as ns

    z = torch.randn(64, len(circuit.variables), generator=torch.Generator().manual_seed(0)).to(device)
    ours = ns.SemanticLoss(circuit).to(device)(logits=z)
    with torch.no_grad():
        theirs = klay_modules(circuit, device)(F.logsigmoid(z), F.logsigmoid(-z))
    return float((ours.detach() + theirs.reshape(ours.shape)).abs().max())


CONTENDERS = {
    "neurosym": neurosym_step,
    "PySDD loop": pysdd_step,
    "brute force": brute_force_step,
    "KLay (vmap)": klay_vmap_step,
    "KLay (batched)": klay_batched_step,
}


class CellTimeout(Exception):
    pass


def _interrupt(signum, frame):
    raise CellTimeout


def time_cell(step, z, min_time: float, limit: float) -> float:
    """Rows per second of ``step(z)`` after one warm-up call; `CellTimeout` past ``limit`` seconds."""
    sync = torch.cuda.synchronize if z.is_cuda else (lambda: None)
    signal.signal(signal.SIGALRM, _interrupt)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        step(z)
        sync()
        reps, start = 0, time.perf_counter()
        while reps == 0 or time.perf_counter() - start < min_time:
            step(z)
            reps += 1
        sync()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return reps * len(z) / (time.perf_counter() - start)


def peak_memory(name: str, batch: int, device: str, threads: int, out) -> None:
    """Peak memory of one fwd+bwd step above what the process held before it (Linux, or CUDA)."""
    torch.set_num_threads(threads)
    circuit = load(name)
    step = neurosym_step(circuit, device)
    z = torch.randn(batch, len(circuit.variables), device=device)
    step(z[:2])
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step(z)
        out.put((torch.cuda.max_memory_allocated() - before) / 2**20)
    else:
        with open("/proc/self/clear_refs", "w") as f:  # resets the peak RSS (VmHWM) to the current RSS
            f.write("5")
        before = _status_kib("VmRSS")
        step(z)
        out.put((_status_kib("VmHWM") - before) / 1024)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def measure_peak(name, batch, device, threads) -> float | None:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=peak_memory, args=(name, batch, device, threads, out))
    proc.start()
    proc.join()
    return out.get() if proc.exitcode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batch sizes and circuits, shorter cells")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--circuits", nargs="*", default=None, choices=list(CIRCUITS), metavar="NAME")
    parser.add_argument("--batches", nargs="*", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=list(CONTENDERS), choices=list(CONTENDERS), metavar="CONTENDER")
    parser.add_argument("--min-time", type=float, default=None, help="seconds of repeats per cell")
    parser.add_argument("--cell-limit", type=float, default=None, help="skip cells estimated to take longer")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batches = args.batches or (QUICK_BATCHES if args.quick else BATCHES)
    names = args.circuits or (["transitivity Node=6", "exactly_one n=10"] if args.quick else list(CIRCUITS))
    min_time = args.min_time or (0.3 if args.quick else 1.0)
    cell_limit = args.cell_limit or (5.0 if args.quick else 20.0)

    print(
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; rows/s of forward + backward"
    )
    print("| circuit | V | SDD size | batch | " + " | ".join(args.only) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(args.only))
    for name in names:
        circuit = load(name)
        v = len(circuit.variables)
        steps = {}
        for who in args.only:
            try:
                steps[who] = CONTENDERS[who](circuit, args.device)
            except Exception as error:  # a contender that cannot run is reported, not fatal
                steps[who] = None
                print(f"  ({who} unavailable on {name}: {type(error).__name__}: {error})")
        if steps.get("KLay (batched)") is not None and steps.get("neurosym") is not None:
            print(f"  (KLay and neurosym differ by at most {agreement(circuit, args.device):.2e} in log P on 64 rows)")
        last_rate = {}
        for batch in batches:
            z = torch.randn(batch, v, generator=torch.Generator().manual_seed(batch)).to(args.device)
            cells = []
            for who in args.only:
                step, rate = steps[who], last_rate.get(who)
                if step is None or (rate is not None and batch / rate > cell_limit):
                    cells.append("—")
                    continue
                try:
                    last_rate[who] = time_cell(step, z, min_time, 2 * cell_limit)
                    cells.append(f"{last_rate[who]:,.0f}")
                except CellTimeout:
                    steps[who] = None
                    cells.append(f"> {2 * cell_limit:.0f} s")
                except Exception as error:
                    steps[who] = None
                    cells.append("failed")
                    print(f"  ({who} failed on {name} at batch {batch}: {type(error).__name__}: {error})")
            print(f"| {name} | {v} | {circuit.size():,} | {batch:,} | " + " | ".join(cells) + " |", flush=True)
    largest = max(batches)
    for name in names:
        peak = measure_peak(name, largest, args.device, args.threads)
        shown = f"{peak:,.0f} MiB" if peak is not None else "failed"
        print(f"peak memory, neurosym fwd+bwd, {name}, batch {largest:,}: {shown}")


if __name__ == "__main__":
    main()
