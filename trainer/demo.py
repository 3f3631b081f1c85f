"""The README's main job: λ = 0 against the exact semantic loss, same data, same seed, side by side.

On the embedded Gemma 3 270M (or, with ``--quick``, the tiny random Gemma 3) it compiles the
transitivity template, generates a small balanced dataset, fine-tunes twice, and prints both
runs' final dev collapse reports.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

import neurosym as ns
from neurosym.resources import constraint_path, resource_dir
from trainer.config import load_config
from trainer.recipe import train

ROWS = [("accuracy", "accuracy"), ("balanced accuracy", "balanced_accuracy"), ("MCC", "mcc"),
        ("recall Yes", "recall_yes"), ("recall No", "recall_no"), ("predicted Yes-rate", "yes_rate"),
        ("label Yes-rate", "label_yes_rate"), ("constraint violations", "violation_rate")]


def run_demo(output_dir: Path, quick: bool, console: Console) -> dict:
    config_file = resource_dir("experiments") / ("tiny.yaml" if quick else "demo_gemma.yaml")
    start = time.perf_counter()
    circuit = ns.compile(constraint_path("causal/transitivity.ns"), {"Node": 3})
    console.print(f"compiled {circuit!r}: {len(circuit.predicted)} questions per 3-node subset, "
                  f"{circuit.model_count():,} models")
    reports = {}
    for name, overrides in [("baseline (λ = 0)", ["semantic.enabled=false"]), ("semantic loss", [])]:
        folder = output_dir / ("baseline" if "λ" in name else "semantic")
        config = load_config(config_file, [*overrides, f"output_dir={folder}"])
        console.print(f"[bold]training {name}[/] → {folder}")
        train(config)
        reports[name] = _final_dev(folder)
    _print_side_by_side(reports, console)
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s; run folders under {output_dir}")
    return reports


def _final_dev(folder: Path) -> dict:
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
    return next(r["dev"] for r in reversed(records) if "dev" in r)


def _print_side_by_side(reports: dict, console: Console) -> None:
    table = Table(title="final dev collapse report")
    table.add_column("metric")
    for name in reports:
        table.add_column(name, justify="right")
    table.add_row("verdict", *("[red]collapsed[/]" if r["collapsed"] else "[green]not collapsed[/]" for r in reports.values()))
    for label, key in ROWS:
        table.add_row(label, *("-" if r.get(key) is None else f"{r[key]:.3f}" for r in reports.values()))
    console.print(table)
    for name, r in reports.items():
        if r["collapsed"]:
            console.print(f"{name}: {'; '.join(r['reasons'])}")
