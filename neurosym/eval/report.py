"""Several evaluated runs side by side: λ = 0 against the semantic loss, over seeds.

Each run folder must hold ``eval/eval.json`` (from `neurosym eval RUN`), or be a folder that holds
``eval.json`` itself (`neurosym eval MODEL --output-dir FOLDER`, for a baseline or an untuned
model); a run's ``config.yaml`` and ``metrics.jsonl`` are read when present; a key the config lacks
(a run made before the key existed) takes its value from ``defaults``, the trainer's config defaults
when the trainer calls. Runs are grouped by their config without
the keys that only name a repetition (``seed``, ``data.seed``, ``output_dir``, ``progress``,
``plots``) and the keys of a section switched off (``semantic.lam.*`` where ``semantic.enabled`` is
false: they change nothing); a group is named by its runs' folder name less ``-seedN``, else by the
keys whose values differ among the groups that have them in effect. Per group every metric is given
as the mean and the spread (the sample standard deviation; None for a single run) over its runs,
overall, per split/family and per graph size, with each run's collapse verdict. Runs that trained
on different numbers of labelled questions also give balanced accuracy against that number, one
series per method (`label_efficiency`).
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

from neurosym.causal import load_questions
from neurosym.causal.cases import CASES
from neurosym.causal.records import as_label
from neurosym.errors import DataError
from neurosym.eval.verdict import flagged
from neurosym.runs import EVAL_RESULT_NAME, RunFolder

SEED_SUFFIX = re.compile(r"[-_]seed\d+$")
REPETITION_KEYS = ("seed", "data.seed", "output_dir", "progress", "plots")
EXECUTION_KEYS = ("optim.max_tokens",)  # how a step's work is split into passes, not what it computes
SIZE_KEYS = ("data.train", "data.generate_train", "optim.max_steps")  # what a label-efficiency grid sets per point
METRICS = (
    "accuracy",
    "balanced_accuracy",
    "mcc",
    "roc_auc",
    "premise_auc",
    "yes_rate",
    "label_yes_rate",
    "recall_yes",
    "recall_no",
)


@dataclass(frozen=True)
class RunResult:
    folder: Path
    config: dict  # flattened: "optim.lr" → value
    result: dict  # eval.json
    curve: list[dict]  # metrics.jsonl records with dev metrics

    @property
    def seed(self):
        return self.config.get("seed")


def read_config(path: Path, defaults: Mapping = MappingProxyType({})) -> dict:
    """The run's config.yaml with the keys it lacks filled in from ``defaults``; {} when absent."""
    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise DataError(f"cannot read the run config {path}: {error}") from None
    if not isinstance(config, dict):
        raise DataError(f"{path}: a run config must be a mapping, got {type(config).__name__}")
    return _with_defaults(dict(defaults), config)


def _with_defaults(defaults: dict, config: dict) -> dict:
    filled = dict(config)
    for key, value in defaults.items():
        if key not in config:
            filled[key] = value
        elif isinstance(value, dict) and isinstance(config[key], dict):
            filled[key] = _with_defaults(value, config[key])
    return filled


def _flatten(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def load_run(folder: str | Path, defaults: Mapping = MappingProxyType({})) -> RunResult:
    """A run folder's eval.json (``eval/eval.json``, or ``eval.json`` in the folder itself), its config
    and the metrics records that carry a dev report."""
    run = RunFolder(folder)
    path = run.eval_result
    if not path.is_file() and (run.path / EVAL_RESULT_NAME).is_file():
        path = (
            run.path / EVAL_RESULT_NAME
        )  # the --output-dir of a model that is not a run (a baseline, the untuned model)
    if not path.is_file():
        raise DataError(
            f"{run} has no eval/eval.json (nor eval.json)", hint=f"evaluate it first: neurosym eval {run} --data FILE"
        )
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path} is not readable JSON ({error})") from None
    missing = (
        [key for key in ("model", "files", "overall", "per_family", "per_size") if key not in result]
        if isinstance(result, dict)
        else ["everything"]
    )
    if missing:
        raise DataError(f"{path} is not an eval.json written by neurosym eval (it lacks {', '.join(missing)})")
    curve = [
        r
        for r in run.read_metrics()
        if isinstance(r.get("dev"), dict) and {"balanced_accuracy", "yes_rate"} <= set(r["dev"])
    ]
    return RunResult(run.path, _flatten(read_config(run.config, defaults)), result, curve)


def _spread(values: list[float | None]) -> dict:
    present = [v for v in values if v is not None]
    return {
        "mean": statistics.fmean(present) if present else None,
        "spread": statistics.stdev(present) if len(present) > 1 else None,
        "values": values,
    }


def _aggregate(entries: list[dict | None]) -> dict:
    """Mean and spread of each metric over runs (a run without the level counts as missing)."""
    return {key: _spread([None if e is None else e.get(key) for e in entries]) for key in METRICS} | {
        "flagged": sum(bool(e) and flagged(e) for e in entries),
        "runs": len(entries),
    }


def _levels(runs: Sequence[RunResult], level: str) -> dict[str, dict]:
    names = dict.fromkeys(name for run in runs for name in run.result[level])
    return {name: _aggregate([run.result[level].get(name) for run in runs]) for name in names}


def _family_by_size(runs: Sequence[RunResult]) -> dict[str, dict[str, dict]]:
    """Mean and spread of the balanced accuracy at each graph size of each family: family → size → stats."""
    families = dict.fromkeys(name for run in runs for name in run.result["per_family"])
    table = {}
    for family in families:
        entries = [run.result["per_family"].get(family, {}).get("per_size", {}) for run in runs]
        sizes = sorted({size for entry in entries for size in entry}, key=int)
        table[family] = {
            size: _spread([entry.get(size, {}).get("balanced_accuracy") for entry in entries]) for size in sizes
        }
    return table


def _case_accuracy(runs: Sequence[RunResult]) -> dict[str, dict[str, dict]]:
    """Mean and spread of the accuracy on each answer case of each task: task → case → stats (runs
    evaluated before eval.json held ``per_case`` count as missing)."""
    tables = [run.result.get("per_case", {}) for run in runs]
    tasks = sorted({task for table in tables for task in table})
    return {
        task: {
            case: _spread([table.get(task, {}).get(case, {}).get("accuracy") for table in tables])
            for case in CASES[task]
            if any(case in table.get(task, {}) for table in tables)
        }
        for task in tasks
    }


def _per_task(runs: Sequence[RunResult], section: str, key: str) -> dict[str, dict]:
    """Mean and spread of ``eval.json[section][task][key]`` per task."""
    tables = [run.result.get(section) or {} for run in runs]
    tasks = dict.fromkeys(task for table in tables for task in table)
    return {task: _spread([table.get(task, {}).get(key) for table in tables]) for task in tasks}


def _in_effect(config: dict) -> dict:
    """The config less its repetition and execution keys and the keys under a section whose
    ``enabled`` is false."""
    off = [key[: -len("enabled")] for key, value in config.items() if key.endswith(".enabled") and value is False]
    return {
        k: v
        for k, v in config.items()
        if k not in REPETITION_KEYS + EXECUTION_KEYS and not any(k.startswith(p) and k != p + "enabled" for p in off)
    }


def _differing(settings: Sequence[dict]) -> list[str]:
    """The keys whose values differ among the settings that have them."""
    return sorted(
        {k for s in settings for k in s if len({json.dumps(t[k], default=str) for t in settings if k in t}) > 1}
    )


def group_runs(runs: Sequence[RunResult]) -> dict[str, tuple[list[RunResult], str]]:
    """Runs with equal configs in effect (``_in_effect``): name → (runs, the settings that set the
    group apart: the keys whose values differ among the groups that have them in effect). A group
    is named by its runs' common folder name less a ``-seedN`` suffix (the experiment scripts'
    naming), else by those settings; a run without a config by its folder."""
    keyed: dict[str, list[RunResult]] = {}
    settings: dict[str, dict] = {}
    for run in runs:
        kept = _in_effect(run.config)
        key = json.dumps(kept, sort_keys=True, default=str) if run.config else f"run:{run.folder}"
        keyed.setdefault(key, []).append(run)
        settings[key] = kept
    differing = _differing([kept for key, kept in settings.items() if not key.startswith("run:")])
    named: dict[str, tuple[list[RunResult], str]] = {}
    for key, members in keyed.items():
        if key.startswith("run:"):
            folder = members[0].folder
            named[folder.name if folder.name not in named else str(folder)] = (members, "")
            continue
        described = ", ".join(f"{k}={settings[key][k]}" for k in differing if k in settings[key])
        described = described or members[0].result["model"]
        stems = {SEED_SUFFIX.sub("", run.folder.name) for run in members}
        names = [stems.pop() if len(stems) == 1 else described, described, f"{described} ({members[0].folder})"]
        named[next(name for name in names if name not in named)] = (members, described)
    return named


def build_report(folders: Sequence[str | Path], defaults: Mapping = MappingProxyType({})) -> dict:
    """The report's content (also written as report.json); ``defaults`` fill the keys a run's config lacks."""
    if not folders:
        raise DataError("no run folders given")
    runs = [load_run(folder, defaults) for folder in folders]
    groups = {}
    for name, (members, described) in group_runs(runs).items():
        groups[name] = {
            "settings": described,
            "runs": [str(r.folder) for r in members],
            "seeds": [r.seed for r in members],
            "verdicts": {str(r.folder): r.result["overall"]["status"] for r in members},
            "overall": _aggregate([r.result["overall"] for r in members]),
            "per_family": _levels(members, "per_family"),
            "per_size": _levels(members, "per_size"),
            "family_by_size": _family_by_size(members),
            "case_accuracy": _case_accuracy(members),
            "violation_rate": _per_task(members, "consistency", "violation_rate"),
            "sensitivity": _per_task(members, "sensitivity", "sensitivity"),
        }
    data: dict[str, set] = {}  # task → the file lists its runs were evaluated on
    identities: dict[str, str] = {}  # runs share their files: each is read once
    for run in runs:
        task = (run.result.get("settings") or {}).get("task") or run.config.get("data.task")
        identity = []
        for file in run.result["files"]:
            recorded = run.result.get("per_file", {}).get(file, {}).get("sha256")
            if recorded is None and file not in identities:
                identities[file] = _content_or_path(file)
            identity.append(recorded or identities[file])
        data.setdefault(str(task), set()).add(tuple(identity))
    return {
        "groups": groups,
        "same_data": all(len(files) == 1 for files in data.values()),
        "curves": {str(r.folder): r.curve for r in runs if r.curve},
        "label_efficiency": label_efficiency(runs),
    }


def labelled_questions(config: dict) -> int | None:
    """The labelled questions a run trained on: its generated count, else the labelled rows of its
    training file; None when neither is known."""
    if config.get("data.train") is None:
        return config.get("data.generate_train")
    try:
        loaded = load_questions(config["data.train"], task=config.get("data.task"))
    except DataError:
        return None
    return sum(question.label is not None for question in loaded.questions)


def _method(config: dict) -> dict:
    """What stays fixed along a label-efficiency series: the config in effect less the sizes, the
    unlabelled premises (a file or generated ones) reduced to whether the semantic term reads any."""
    unlabeled_keys = ("data.unlabeled", "data.generate_unlabeled")
    kept = {k: v for k, v in _in_effect(config).items() if k not in SIZE_KEYS and not k.startswith(unlabeled_keys)}
    unlabeled = any(config.get(k) for k in unlabeled_keys) and config.get("semantic.enabled") is not False
    return kept | {"unlabeled": unlabeled}


def label_efficiency(runs: Sequence[RunResult]) -> dict[str, dict[str, dict]]:
    """Balanced accuracy against the labelled questions trained on, one series per method (λ = 0,
    the semantic loss, the semantic loss with unlabelled premises, each set apart by any other
    setting that differs): series → labels → mean and spread over the runs. Empty unless the runs
    trained on at least two label counts."""
    counted = [(run, labelled_questions(run.config)) for run in runs if run.config]
    counted = [(run, labels) for run, labels in counted if labels is not None]
    if len({labels for _, labels in counted}) < 2:
        return {}
    methods: dict[str, dict] = {}
    points: dict[str, dict[int, list]] = {}
    for run, labels in counted:
        method = _method(run.config)
        key = json.dumps(method, sort_keys=True, default=str)
        methods[key] = method
        points.setdefault(key, {}).setdefault(labels, []).append(run.result["overall"].get("balanced_accuracy"))
    differing = [k for k in _differing(list(methods.values())) if k not in ("semantic.enabled", "unlabeled")]
    series: dict[str, dict[str, dict]] = {}
    for key, method in methods.items():
        name = "λ = 0" if method.get("semantic.enabled") is False else "semantic loss"
        name += " + unlabelled premises" if method["unlabeled"] else ""
        name += "".join(f", {k}={method[k]}" for k in differing if k in method)
        if name in series:  # two methods apart only by a key one of them lacks
            name += f" ({len(series) + 1})"
        series[name] = {str(labels): _spread(values) for labels, values in sorted(points[key].items())}
    return dict(sorted(series.items()))


def _content_or_path(file: str) -> str:
    """What tells apart the files of a run evaluated before eval.json kept their digests: their
    content where they can still be read (the same questions copied elsewhere are the same data),
    else their path."""
    try:
        return hashlib.sha256(Path(file).read_bytes()).hexdigest()
    except OSError:
        return file


def _pm(stat: dict) -> str:
    if stat["mean"] is None:
        return "-"
    return f"{stat['mean']:.3f}" + ("" if stat["spread"] is None else f" ± {stat['spread']:.3f}")


HEADER = [
    "group",
    "runs",
    "flagged",
    "accuracy",
    "balanced acc.",
    "MCC",
    "ROC AUC",
    "AUC within premises",
    "Yes-rate",
    "label Yes-rate",
    "recall Yes",
    "recall No",
]


def group_row(name: str, stats: dict) -> list[str]:
    return [name, str(stats["runs"]), f"{stats['flagged']} of {stats['runs']}", *(_pm(stats[key]) for key in METRICS)]


def _family_by_size_table(groups: dict[str, dict]) -> str:
    from neurosym.eval.summary import markdown_table

    tables = {
        f"{name} · {family}": sizes for name, g in groups.items() for family, sizes in g["family_by_size"].items()
    }
    columns = sorted({size for sizes in tables.values() for size in sizes}, key=int)
    rows = [[row, *(_pm(sizes[size]) if size in sizes else "" for size in columns)] for row, sizes in tables.items()]
    return markdown_table(["group · family", *columns], rows)


def _case_table(groups: dict[str, dict], task: str) -> str:
    from neurosym.eval.summary import markdown_table

    tables = {name: g["case_accuracy"][task] for name, g in groups.items() if task in g["case_accuracy"]}
    cases = [case for case in CASES[task] if any(case in table for table in tables.values())]
    rows = [[name, *(_pm(table[case]) if case in table else "" for case in cases)] for name, table in tables.items()]
    header = [f"{case} ({as_label(CASES[task][case])})" for case in cases]
    return markdown_table(["group", *header], rows)


def print_report(report: dict, console) -> None:
    from neurosym.eval.summary import rich_table

    rows = [group_row(name, g["overall"]) for name, g in report["groups"].items()]
    console.print(rich_table("runs side by side (mean ± sd over seeds)", HEADER, rows))
    if not report["same_data"]:
        console.print("[yellow]warning:[/] runs of the same task were evaluated on different data files")


def report_markdown(report: dict, plots: Sequence[str] = ()) -> str:
    from neurosym.eval.summary import markdown_table

    parts = ["# Report", "Mean ± sample standard deviation over the runs of each group (runs differ only in seeds)."]
    if not report["same_data"]:
        parts.append("**Warning:** runs of the same task were evaluated on different data files; compare with care.")
    groups = report["groups"]
    described = [[name, g.get("settings") or "-"] for name, g in groups.items()]
    parts += ["## groups", markdown_table(["group", "what sets it apart"], described)]
    parts += ["## overall", markdown_table(HEADER, [group_row(name, g["overall"]) for name, g in groups.items()])]
    parts += [
        "## verdicts",
        "\n".join(
            f"- {name}: " + ", ".join(f"`{run}` {status}" for run, status in g["verdicts"].items())
            for name, g in groups.items()
        ),
    ]
    checks = [
        [name, task, _pm(g["violation_rate"][task]), _pm(g["sensitivity"].get(task, {"mean": None}))]
        for name, g in groups.items()
        for task in g["violation_rate"]
    ]
    if checks:
        parts += [
            "## consistency and context sensitivity",
            markdown_table(["group", "task", "violation rate", "sensitivity"], checks),
        ]
    for level, title in (("per_family", "per split/family"), ("per_size", "per graph size")):
        rows = [group_row(f"{name} · {key}", stats) for name, g in groups.items() for key, stats in g[level].items()]
        parts += [f"## {title}", markdown_table(HEADER, rows)]
    parts += ["## balanced accuracy by family and graph size", _family_by_size_table(groups)]
    for task in sorted({task for g in groups.values() for task in g["case_accuracy"]}):
        parts += [f"## accuracy by answer case: {task}", _case_table(groups, task)]
    efficiency = [
        [name, labels, str(len(stats["values"])), _pm(stats)]
        for name, points in report.get("label_efficiency", {}).items()
        for labels, stats in points.items()
    ]
    if efficiency:
        parts += [
            "## label efficiency",
            markdown_table(["series", "labelled questions", "runs", "balanced acc."], efficiency),
        ]
    parts += [f"![{name}]({name})" for name in plots]
    return "\n\n".join(parts) + "\n"


def write_report(
    folders: Sequence[str | Path], out: Path, defaults: Mapping = MappingProxyType({})
) -> tuple[dict, list[Path]]:
    """report.json, report.md and the PNGs in ``out``; returns the report and the files written."""
    from neurosym.atomic import atomic_write_text
    from neurosym.eval.plots import plot_curves, plot_labels, plot_report

    report = build_report(folders, defaults)
    plots = plot_report(report["groups"], out)
    if report["curves"]:
        plots.append(plot_curves(report["curves"], out))
    if report["label_efficiency"]:
        plots.append(plot_labels(report["label_efficiency"], out))
    # compact: report.md is the one to read, and a study's report.json stays a small tracked file
    atomic_write_text(out / "report.json", json.dumps(report, separators=(",", ":")) + "\n")
    atomic_write_text(out / "report.md", report_markdown(report, [p.name for p in plots]))
    return report, [out / "report.json", out / "report.md", *plots]
