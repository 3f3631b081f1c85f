"""Experiment 1 — does plain fine-tuning collapse?

λ = 0 (cross-entropy on the gold answer alone) on balanced transitivity and d-separation data, in
the paper's setting (experiments/paper.yaml) and a stronger one (experiments/strong.yaml), each
with several seeds; the untuned model is evaluated beside them as the reference. Every run is
evaluated on the balanced evaluation splits (all families, `per_size` questions per graph size)
with its collapse verdict, and `neurosym report` puts the groups side by side in OUT/report.

    python experiments/collapse.py --size gpu --out results/gpu/collapse
    python experiments/collapse.py --size cpu --out results/cpu/collapse
"""

from __future__ import annotations

from pathlib import Path

from neurosym.causal import TASKS
from trainer.sweep import SweepRun, SweepSize, load_sizes, sweep_main

HERE = Path(__file__).resolve().parent
SETTINGS = ("paper", "strong")


def runs(size: SweepSize) -> list[SweepRun]:
    grid = [SweepRun(f"untuned-{task}", HERE / "paper.yaml", (f"data.task={task}",), train=False) for task in TASKS]
    for seed in range(size.seeds):  # seeds outermost: a sweep cut short still has every setting once
        for setting in SETTINGS:
            for task in TASKS:
                grid.append(
                    SweepRun(
                        f"{setting}-{task}-lambda0-seed{seed}",
                        HERE / f"{setting}.yaml",
                        (
                            f"data.task={task}",
                            "semantic.enabled=false",
                            f"seed={seed}",
                            f"data.seed={seed}",
                            f"optim.max_steps={size.steps}",
                        ),
                    )
                )
    return grid


if __name__ == "__main__":
    sweep_main(__doc__, runs, load_sizes(HERE / "sizes.yaml"))
