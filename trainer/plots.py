"""PNG plots of a run's metrics.jsonl: losses, λ, dev Yes-rate and balanced accuracy over steps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from neurosym.eval.plots import save_figure  # noqa: E402
from neurosym.runs import RunFolder  # noqa: E402


def plot_run(run: RunFolder) -> list[Path]:
    """losses.png, lambda.png and dev.png in the run folder."""
    out, records = run.path, run.read_metrics()
    steps = [r["step"] for r in records]
    dev = [r for r in records if "dev" in r]
    written = []
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [r["ce"] for r in records], label="cross-entropy")
    sl = [(r["step"], r["sl"]) for r in records if r.get("sl") is not None]
    if sl:
        ax.plot(*zip(*sl), label="semantic loss")
    ax.set_xlabel("step"), ax.set_ylabel("loss"), ax.legend(), ax.set_title("losses")
    written.append(save_figure(fig, out / "losses.png"))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, [r["lambda"] for r in records])
    ax.set_xlabel("step"), ax.set_ylabel("λ"), ax.set_title("semantic-loss weight λ(t)")
    written.append(save_figure(fig, out / "lambda.png"))
    if dev:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ds = [r["step"] for r in dev]
        ax.plot(ds, [r["dev"]["yes_rate"] for r in dev], marker="o", label="predicted Yes-rate")
        ax.plot(ds, [r["dev"]["label_yes_rate"] for r in dev], linestyle="--", label="label Yes-rate")
        ax.plot(ds, [r["dev"]["balanced_accuracy"] for r in dev], marker="s", label="balanced accuracy")
        if any(r["dev"].get("violation_rate") is not None for r in dev):
            ax.plot(ds, [r["dev"].get("violation_rate") for r in dev], marker="^", label="constraint violations")
        ax.set_ylim(-0.02, 1.02), ax.set_xlabel("step"), ax.legend(fontsize=8), ax.set_title("dev collapse monitor")
        written.append(save_figure(fig, out / "dev.png"))
    return written
