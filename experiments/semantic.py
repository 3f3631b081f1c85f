"""Experiment 2 — does the exact semantic loss keep fine-tuning from collapsing?

The runs of experiments/collapse.py again with cross-entropy + λ(t) · exact semantic loss:
(a) the paper's linear λ 0.05 → 0.30, (b) the adaptive schedule (λ multiplied up while the dev
Yes-rate drifts from the labels' or violations rise, down again when they recover), (c) a constant
λ = 0.30, (d) the adaptive schedule "guarded": a Yes-rate drift raises λ only when the semantic term
pulls against it (`semantic.lam.yes_drift=against_pull`); all four with the k = 3 template in both
settings, and the linear schedule with k = 4, 5 in the paper's setting. d-separation stops at
k = 4: its k = 5 template does not compile in reasonable time (docs/compiler.md).

    python experiments/semantic.py --size gpu --out results/gpu/semantic
    python experiments/semantic.py --size cpu --out results/cpu/semantic --only linear-k3
"""

from __future__ import annotations

from pathlib import Path

from collapse import SETTINGS  # the same settings as the λ = 0 runs (this script's folder is on sys.path)

from neurosym.causal import TASKS
from trainer.sweep import SweepRun, SweepSize, load_sizes, sweep_main

HERE = Path(__file__).resolve().parent
SCHEDULES = {
    "linear": ("semantic.lam.schedule=linear", "semantic.lam.start=0.05", "semantic.lam.end=0.30"),
    "adaptive": ("semantic.lam.schedule=adaptive", "semantic.lam.start=0.05"),
    "constant": ("semantic.lam.schedule=constant", "semantic.lam.start=0.30"),
    "guarded": ("semantic.lam.schedule=adaptive", "semantic.lam.start=0.05", "semantic.lam.yes_drift=against_pull"),
}
TEMPLATE_SIZES = {"transitivity": (3, 4, 5), "dseparation": (3, 4)}


def runs(size: SweepSize) -> list[SweepRun]:
    grid = []
    for seed in range(size.seeds):  # seeds outermost: a sweep cut short still has every setting once
        for task in TASKS:
            settings = [(setting, schedule, 3) for setting in SETTINGS for schedule in SCHEDULES]
            settings += [("paper", "linear", k) for k in TEMPLATE_SIZES[task][1:]]
            for setting, schedule, k in settings:
                grid.append(
                    SweepRun(
                        f"{setting}-{task}-{schedule}-k{k}-seed{seed}",
                        HERE / f"{setting}.yaml",
                        (
                            f"data.task={task}",
                            "semantic.enabled=true",
                            f"semantic.k={k}",
                            *SCHEDULES[schedule],
                            f"seed={seed}",
                            f"data.seed={seed}",
                            f"optim.max_steps={size.steps}",
                        ),
                    )
                )
    return grid


if __name__ == "__main__":
    sweep_main(__doc__, runs, load_sizes(HERE / "sizes.yaml"))
