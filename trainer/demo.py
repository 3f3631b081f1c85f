"""The README's main job: λ = 0 against the exact semantic loss, same data, same seed, side by side.

On the embedded Gemma 3 270M (or, with ``--quick``, the tiny random Gemma 3) it compiles the
transitivity template, generates a small balanced dataset, asks the untuned model the dev
questions, fine-tunes twice, and prints the three dev collapse reports side by side.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from rich.console import Console

from neurosym.resources import resource_dir
from trainer.config import TrainConfig, load_config
from trainer.data import TrainingData
from trainer.monitor import CollapseMonitor
from trainer.recipe import build_head, train
from trainer.report import final_dev, print_reports
from trainer.semantic import SemanticTerm


def run_demo(output_dir: Path, quick: bool, console: Console) -> dict[str, dict]:
    config_file = resource_dir("experiments") / ("tiny.yaml" if quick else "demo_gemma.yaml")
    start = time.perf_counter()
    base = load_config(config_file)
    term = SemanticTerm.compile(base.semantic, base.data.task)
    circuit = term.circuit
    console.print(
        f"compiled {circuit.name} over {base.semantic.k} nodes: {len(circuit.variables)} atoms "
        f"({len(circuit.predicted)} questions per subset), {circuit.model_count():,} models, "
        f"SDD size {circuit.size():,}"
    )
    console.print(
        f"model {base.model.name}; {base.data.generate_train} generated training questions, "
        f"{base.data.generate_dev} dev; {base.optim.max_steps} steps per run"
    )
    reports = {"untuned": untuned_report(base, term)}
    for name, folder, overrides in [
        ("baseline (λ = 0)", "baseline", ["semantic.enabled=false"]),
        ("semantic loss", "semantic", []),
    ]:
        config = load_config(config_file, [*overrides, f"output_dir={output_dir / folder}", "overwrite=true"])
        console.print(f"[bold]training {name}[/] → {config.output_dir}")
        reports[name] = final_dev(train(config))
    print_reports(reports, console)
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s; run folders under {output_dir}")
    return reports


def untuned_report(config: TrainConfig, term: SemanticTerm) -> dict:
    """The dev report of the model before any training: the same dev questions and subsets the runs' monitor asks."""
    torch.manual_seed(config.seed)
    head = build_head(config.model, config.prompt, torch.device("cpu"))
    head.eval()
    dev = TrainingData.load(config.data).dev
    return CollapseMonitor(head, dev, term, config.eval, seed=config.seed).evaluate()
