"""Experiment 3 — training to convergence: λ = 0 against the semantic loss, and label efficiency.

Per seed and task, the machine's preset (`config` in experiments/sizes-converge.yaml) trained to
its early stop at λ = 0 and with the semantic loss; then the label-efficiency grid: `steps` steps on
250, 1k, 4k and 16k generated labelled questions, λ = 0 on the labels alone, the semantic loss also
given the premises of 4,000 generated questions without their labels (`data.generate_unlabeled`).
Seeds outermost and the full runs first, so a sweep cut short by `--minutes` holds the headline
comparison; started again, it skips the evaluated runs and resumes the cut-off one.

    python experiments/converge.py --size gpu --out results/converge-gpu --minutes 9
    python experiments/converge.py --size cpu --out results/converge --only transitivity-lambda0-250
"""

from __future__ import annotations

from pathlib import Path

from neurosym.causal import TASKS
from trainer.sweep import SweepRun, SweepSize, load_sizes, sweep_main

HERE = Path(__file__).resolve().parent
LABELS = (250, 1000, 4000, 16000)
UNLABELED = 4000  # generated questions whose premises the label-count semantic runs also read


def runs(size: SweepSize) -> list[SweepRun]:
    preset = HERE / size.config
    grid = []
    for seed in range(size.seeds):  # seeds outermost: a sweep cut short still has every setting once
        seeded = {task: (f"data.task={task}", f"seed={seed}", f"data.seed={seed}") for task in TASKS}
        for task in TASKS:
            grid.append(SweepRun(f"{task}-lambda0-seed{seed}", preset, (*seeded[task], "semantic.enabled=false")))
            grid.append(SweepRun(f"{task}-semantic-seed{seed}", preset, seeded[task]))
        for task in TASKS:
            for labels in LABELS:
                few = (*seeded[task], f"data.generate_train={labels}", f"optim.max_steps={size.steps}")
                grid.append(SweepRun(f"{task}-lambda0-{labels}-seed{seed}", preset, (*few, "semantic.enabled=false")))
                unlabeled = f"data.generate_unlabeled={UNLABELED}"
                grid.append(SweepRun(f"{task}-semantic-{labels}-seed{seed}", preset, (*few, unlabeled)))
    return grid


if __name__ == "__main__":
    sweep_main(__doc__, runs, load_sizes(HERE / "sizes-converge.yaml"))
