"""The trainer's commands, added to the `neurosym` command line through the entry point
``neurosym.commands: trainer = trainer.cli:register`` (pyproject.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from neurosym.terminal import console, friendly


def register(app: typer.Typer) -> None:
    """Add train, demo and report to ``app``."""
    for command in (train, demo, report):
        app.command()(command)


@friendly
def train(
    config: Annotated[Path, typer.Argument(help="A training config (YAML), e.g. experiments/tiny.yaml.")],
    set_: Annotated[
        list[str], typer.Option("--set", help="Override a config key: --set optim.lr=1e-4 (repeatable).")
    ] = [],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run folder's last checkpoint.")] = False,
):
    """Fine-tune a causal LM with cross-entropy + λ(t) · exact semantic loss.

    Writes the run folder (config, metrics, checkpoints, final model, plots); prints the dev report.
    """
    from trainer.config import load_config

    cfg = load_config(config, set_)  # before the heavy imports, so a config error comes at once
    from accelerate import PartialState

    from trainer.recipe import train as run_training
    from trainer.report import better_earlier_check, final_dev, print_reports

    folder = run_training(cfg, resume=resume)
    if PartialState().is_main_process:  # under `accelerate launch` / torchrun, one report
        print_reports({str(folder): final_dev(folder)}, console)
        better = better_earlier_check(folder)
        if better is not None:
            step, report = better
            console.print(
                f"hint: the dev check of step {step} was not collapsed (balanced accuracy "
                f"{report['balanced_accuracy']:.3f}); --set eval.select=best keeps the weights "
                "of the best dev check (docs/trainer.md)",
                highlight=False,
            )
        console.print(f"run folder: {folder}")


@friendly
def demo(
    quick: Annotated[
        bool, typer.Option("--quick", help="Use the tiny random model (a minute) instead of Gemma 3 270M.")
    ] = False,
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Where the two runs go.")] = Path("runs/demo"),
):
    """The end-to-end demo: plain fine-tuning against the semantic loss, side by side.

    Compiles the rules, generates data, fine-tunes with λ = 0 and with the semantic loss (same data
    and seed) and prints the two runs' collapse reports side by side."""
    from trainer.demo import run_demo

    run_demo(output_dir, quick=quick, console=console)


@friendly
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders, each evaluated (RUN/eval/eval.json).")],
    output_dir: Annotated[Path, typer.Option(help="Where report.md, report.json and the plots go.")] = Path("report"),
):
    """Several evaluated runs side by side, mean ± sd over seeds, with every run's verdict.

    Runs are grouped by their config minus the seed (a key an older run's config lacks takes today's
    default); the figures also per split and graph size."""
    from neurosym.eval.report import print_report, write_report
    from trainer.config import TrainConfig

    result, written = write_report(runs, output_dir, TrainConfig().model_dump())
    print_report(result, console)
    console.print(f"wrote {', '.join(p.name for p in written)} to {output_dir}")
