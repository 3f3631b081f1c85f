"""PNG plots of an evaluation (and of several runs, for `neurosym report`), written atomically."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib.ticker import MaxNLocator  # noqa: E402

from neurosym.atomic import atomic_write  # noqa: E402


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` atomically, then close it."""
    try:
        fig.tight_layout()
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))
    finally:
        plt.close(fig)


def _value(metric: float | None) -> float:
    """An undefined metric (None in eval.json) is not drawn."""
    return math.nan if metric is None else metric


def _by_size_axes(ax, series: dict[str, dict[str, dict]], key: str, title: str) -> None:
    """One line per series over graph size; ``series[name][size]`` is a metrics entry."""
    for name, per_size in series.items():
        sizes = sorted(per_size, key=int)
        ax.plot([int(s) for s in sizes], [_value(per_size[s][key]) for s in sizes], marker="o", label=name)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-0.02, 1.02), ax.set_xlabel("graph size (nodes)"), ax.set_title(title)


def _spread_lines(ax, series: dict[str, dict[str, dict]]) -> None:
    """One line per series over its integer keys; ``series[name][x]`` holds a mean and a spread
    (error bar; none for a single run)."""
    for name, points in series.items():
        xs = sorted(points, key=int)
        ax.errorbar(
            [int(x) for x in xs],
            [_value(points[x]["mean"]) for x in xs],
            yerr=[points[x]["spread"] or 0 for x in xs],
            marker="o",
            capsize=3,
            label=name,
        )
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)


def plot_eval(result: dict, out: Path) -> list[Path]:
    """accuracy_by_size.png, yes_rate.png and confusion.png for one evaluation."""
    families = {name: entry["per_size"] for name, entry in result["per_family"].items()}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    _by_size_axes(axes[0], families, "accuracy", "accuracy by graph size")
    _by_size_axes(axes[1], families, "balanced_accuracy", "balanced accuracy by graph size")
    axes[1].legend(fontsize=7, loc="lower left")
    written = [save_figure(fig, out / "accuracy_by_size.png")]

    files = result["per_file"]
    names = [Path(name).name for name in files]
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(files) + 2), 3.8))
    x = range(len(files))
    for shift, key, label in ((-0.2, "yes_rate", "predicted Yes-rate"), (0.2, "label_yes_rate", "label Yes-rate")):
        ax.bar([i + shift for i in x], [_value(e[key]) for e in files.values()], width=0.4, label=label)
    ax.set_xticks(list(x), names, rotation=20, ha="right", fontsize=7)
    ax.set_ylim(0, 1.05), ax.legend(fontsize=8), ax.set_title("Yes-rate: answers vs labels")
    written.append(save_figure(fig, out / "yes_rate.png"))

    columns = min(4, len(files))
    fig, axes = plt.subplots(
        math.ceil(len(files) / columns),
        columns,
        figsize=(2.8 * columns, 2.8 * math.ceil(len(files) / columns)),
        squeeze=False,
    )
    for ax in axes.flat[len(files) :]:
        ax.axis("off")
    for ax, name, entry in zip(axes.flat, names, files.values()):
        c = entry["confusion"]
        matrix = [[c["tp"], c["fn"]], [c["fp"], c["tn"]]]
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=max(1, entry["n"]))
        for i in range(2):
            for j in range(2):
                ax.text(j, i, str(matrix[i][j]), ha="center", va="center")
        ax.set_xticks([0, 1], ["Yes", "No"]), ax.set_yticks([0, 1], ["Yes", "No"])
        ax.set_xlabel("answer"), ax.set_ylabel("label"), ax.set_title(name, fontsize=8)
    written.append(save_figure(fig, out / "confusion.png"))
    return written


def plot_report(groups: dict[str, dict], out: Path) -> list[Path]:
    """report_by_size.png (balanced accuracy by size, one line per run group, error bars = spread)
    and report_yes_rate.png (predicted Yes-rate per group against the labels')."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    by_size = {name: {size: e["balanced_accuracy"] for size, e in g["per_size"].items()} for name, g in groups.items()}
    _spread_lines(ax, by_size)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-0.02, 1.02), ax.set_xlabel("graph size (nodes)"), ax.set_ylabel("balanced accuracy")
    ax.legend(fontsize=7), ax.set_title("balanced accuracy by graph size (mean ± spread over seeds)")
    written = [save_figure(fig, out / "report_by_size.png")]

    fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(groups) + 2), 3.8))
    x = range(len(groups))
    overall = [g["overall"] for g in groups.values()]
    ax.bar(
        list(x),
        [_value(o["yes_rate"]["mean"]) for o in overall],
        yerr=[o["yes_rate"]["spread"] or 0 for o in overall],
        capsize=3,
        label="predicted Yes-rate",
    )
    ax.scatter(
        list(x),
        [_value(o["label_yes_rate"]["mean"]) for o in overall],
        color="black",
        marker="_",
        s=400,
        label="label Yes-rate",
        zorder=3,
    )
    ax.set_xticks(list(x), list(groups), rotation=15, ha="right", fontsize=7)
    ax.set_ylim(0, 1.05), ax.legend(fontsize=8), ax.set_title("Yes-rate per run group")
    written.append(save_figure(fig, out / "report_yes_rate.png"))
    return written


def plot_curves(curves: dict[str, list[dict]], out: Path) -> Path:
    """report_training.png: each run's dev balanced accuracy and Yes-rate over training steps
    (from the records of metrics.jsonl that carry a ``dev`` report)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for name, records in curves.items():
        steps = [r["step"] for r in records]
        axes[0].plot(steps, [r["dev"]["balanced_accuracy"] for r in records], marker="o", label=name)
        axes[1].plot(steps, [r["dev"]["yes_rate"] for r in records], marker="o", label=name)
    axes[0].set_title("dev balanced accuracy"), axes[1].set_title("dev Yes-rate")
    for ax in axes:
        ax.set_ylim(-0.02, 1.02), ax.set_xlabel("step")
    axes[1].legend(fontsize=7)
    return save_figure(fig, out / "report_training.png")


def label_axis_floor(series: dict[str, dict[str, dict]]) -> float:
    """Where the label-efficiency axis starts: just under chance, so that gaps of a few points show,
    or lower when an error bar reaches below it."""
    bottoms = [
        p["mean"] - (p["spread"] or 0) for points in series.values() for p in points.values() if p["mean"] is not None
    ]
    return min([0.45, *(bottom - 0.02 for bottom in bottoms)])


def plot_labels(series: dict[str, dict[str, dict]], out: Path) -> Path:
    """report_labels.png: balanced accuracy against the labelled questions trained on, one line per
    series, error bars = spread over seeds."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    _spread_lines(ax, series)
    ax.set_xscale("log"), ax.set_ylim(label_axis_floor(series), 1.01)
    ax.set_xlabel("labelled training questions"), ax.set_ylabel("balanced accuracy")
    ax.legend(fontsize=7), ax.set_title("label efficiency (mean ± spread over seeds)")
    return save_figure(fig, out / "report_labels.png")
