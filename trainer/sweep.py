"""Many training runs and their evaluations in one go: the engine of the scripts in ``experiments/``.

A sweep is a list of named runs, each a config file plus ``--set`` overrides. A run trains
(`trainer.recipe.train`), then is evaluated on the sweep's files of its task exactly as
``neurosym eval RUN`` would, writing ``RUN/eval/eval.json``. A run already evaluated is skipped and
a run whose training was cut off resumes from its last checkpoint, so a sweep that stopped (a
deadline, a killed machine) continues when started again.

On a GPU several worker processes can share the card: a 270M-parameter model at batch 8 leaves it
mostly idle between small kernels, so runs side by side finish sooner than one after another.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from neurosym.eval.evaluate import EvalSettings
from neurosym.runs import RunFolder

EVAL_SEED = 2026  # the evaluation splits' seed: every experiment reads the same files
FAILURE = "failed.txt"


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: ``ROOT/name``, trained from ``config`` with ``overrides``; with
    ``train=False`` the config's base model is evaluated as it is (the untuned reference)."""

    name: str
    config: Path
    overrides: tuple[str, ...] = ()
    train: bool = True


@dataclass(frozen=True)
class SweepSize:
    """How big an experiment is run: a preset per machine (the scripts' ``--size``)."""

    steps: int  # optimizer steps per run
    seeds: int  # repetitions of every setting
    per_size: int  # evaluation questions per graph size and family
    workers: int = 1  # runs side by side
    overrides: tuple[str, ...] = ()  # applied to every run (smaller batches of subset queries on a CPU, say)
    settings: EvalSettings = EvalSettings()  # the evaluation's consistency subsets and premise edits per file
    config: str | None = None  # the training preset in experiments/, for scripts with one preset per machine


@dataclass(frozen=True)
class SweepEval:
    """How every run is evaluated: task → question files, and the `neurosym eval` options."""

    files: dict[str, list[Path]]
    settings: EvalSettings = EvalSettings()
    batch_size: int = 64
    device: str = "auto"


@dataclass
class SweepOutcome:
    """What became of one run: ``done``, ``skipped`` (already evaluated), ``failed`` or ``late``
    (not started before the deadline)."""

    name: str
    folder: Path
    status: str
    seconds: float = 0.0
    summary: dict = field(default_factory=dict)
    error: str = ""  # a failed run's exception, kept in sweep.log after a rerun clears its failed.txt


def run_sweep(
    runs: Sequence[SweepRun], root: Path, evaluation: SweepEval, workers: int = 1, deadline: float | None = None
) -> list[SweepOutcome]:
    """Train and evaluate ``runs`` under ``root``, in list order, ``workers`` at a time; no run
    starts after ``deadline`` (a `time.time()` value). One line per run goes to ``root/sweep.log``."""
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"sweep run names must be unique: {sorted(n for n in set(names) if names.count(n) > 1)}")
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(run, root, evaluation, deadline) for run in runs]
    if workers <= 1:
        outcomes = [_job(job) for job in jobs]
    else:  # spawn: CUDA cannot be used in a forked child
        with multiprocessing.get_context("spawn").Pool(workers, maxtasksperchild=1) as pool:
            outcomes = list(pool.imap(_job, jobs, chunksize=1))
    return outcomes


def _job(job) -> SweepOutcome:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True  # evaluation's float32 matmuls; training runs in bf16 autocast
    run, root, evaluation, deadline = job
    outcome = run_one(run, root, evaluation, deadline)
    failure = {"error": outcome.error} if outcome.error else {}
    with (root / "sweep.log").open("a", encoding="utf-8") as log:
        log.write(
            json.dumps(
                {
                    "run": outcome.name,
                    "status": outcome.status,
                    "seconds": round(outcome.seconds, 1),
                    **outcome.summary,
                    **failure,
                }
            )
            + "\n"
        )
    detail = outcome.summary or outcome.error
    print(f"[sweep] {outcome.name}: {outcome.status} in {outcome.seconds:.0f} s {detail}", flush=True)
    return outcome


def run_one(run: SweepRun, root: Path, evaluation: SweepEval, deadline: float | None = None) -> SweepOutcome:
    """Train ``run`` unless its final model exists, then evaluate it unless its eval.json exists."""
    folder = root / run.name
    done = RunFolder(folder)
    if done.eval_result.is_file():
        return SweepOutcome(run.name, folder, "skipped", summary=_summary(done.eval_result))
    if deadline is not None and time.time() > deadline:
        return SweepOutcome(run.name, folder, "late")
    started = time.perf_counter()
    try:
        from trainer.config import load_config
        from trainer.recipe import train

        config = load_config(run.config, [*run.overrides, f"output_dir={folder}", "progress=false"])
        model = str(folder)
        if not run.train:
            model = config.model.name
        elif not done.is_run():
            train(config, resume=True)
        evaluate_folder(model, done.eval_dir, evaluation, config.data.task)
    except Exception as error:  # one broken run must not end the sweep: its traceback is kept beside it
        folder.mkdir(parents=True, exist_ok=True)
        (folder / FAILURE).write_text(traceback.format_exc(), encoding="utf-8")
        message = " ".join(f"{type(error).__name__}: {error}".split())  # one line, hint included
        return SweepOutcome(run.name, folder, "failed", time.perf_counter() - started, error=message)
    (folder / FAILURE).unlink(missing_ok=True)
    return SweepOutcome(run.name, folder, "done", time.perf_counter() - started, _summary(done.eval_result))


def evaluate_folder(model: str, out: Path, evaluation: SweepEval, task: str) -> dict:
    """``neurosym eval MODEL --task TASK`` on the sweep's files of ``task``, written to ``out``."""
    from neurosym.eval.runs import evaluate_model

    settings = replace(evaluation.settings, task=task)
    return evaluate_model(model, evaluation.files[task], settings, out, evaluation.batch_size, evaluation.device)[0]


def _summary(path: Path) -> dict:
    """The headline numbers of an eval.json, for the log."""
    result = json.loads(path.read_text(encoding="utf-8"))
    overall = result["overall"]
    return {
        "verdict": overall["status"],
        **{
            key: None if overall[key] is None else round(overall[key], 4)
            for key in ("balanced_accuracy", "mcc", "yes_rate")
        },
    }


def load_sizes(path: Path) -> dict[str, SweepSize]:
    """The presets of ``experiments/sizes.yaml``: name → `SweepSize`."""
    import yaml

    from neurosym.errors import ConfigError

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return {
            name: SweepSize(
                **{
                    **entry,
                    "overrides": tuple(entry.get("overrides", ())),
                    "settings": EvalSettings(**entry.get("settings", {})),
                }
            )
            for name, entry in raw.items()
        }
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as error:
        raise ConfigError(f"{path}: not a table of sweep sizes ({error})") from None


def sweep_main(
    doc: str,
    make_runs: Callable[[SweepSize], list[SweepRun]],
    sizes: dict[str, SweepSize],
    argv: Sequence[str] | None = None,
) -> list[SweepOutcome]:
    """The command line of an experiment script: write the evaluation splits, run the sweep, and
    write ``neurosym report`` over every evaluated run to ``OUT/report``."""
    from neurosym.causal import write_eval_splits
    from neurosym.errors import DataError
    from neurosym.eval.report import write_report
    from trainer.config import TrainConfig, load_config

    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=list(sizes), default=next(iter(sizes)), help="preset: how big a run")
    parser.add_argument("--out", type=Path, required=True, help="sweep folder (one subfolder per run)")
    parser.add_argument("--data", type=Path, default=Path("data/eval"), help="where the evaluation splits are written")
    parser.add_argument("--workers", type=int, default=None, help="runs side by side (default: the preset's)")
    parser.add_argument("--minutes", type=float, default=None, help="start no run after this many minutes")
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--only", nargs="*", default=None, help="run only the runs whose name holds one of these")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default: the preset's)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key of every run, after the grid's own (repeatable)",
    )
    args = parser.parse_args(argv)
    size = sizes[args.size] if args.steps is None else replace(sizes[args.size], steps=args.steps)
    runs = [
        SweepRun(r.name, r.config, (*size.overrides, *r.overrides, *args.overrides), r.train) for r in make_runs(size)
    ]
    if args.only:
        runs = [r for r in runs if any(part in r.name for part in args.only)]
    try:  # a bad --set stops the sweep here, not in every run
        for run in runs:
            load_config(run.config, run.overrides)
    except DataError as error:
        parser.error(str(error))
    files = write_eval_splits(args.data, size.per_size, seed=EVAL_SEED)
    evaluation = SweepEval(files, size.settings, batch_size=args.eval_batch_size)
    deadline = time.time() + 60 * args.minutes if args.minutes is not None else None
    outcomes = run_sweep(runs, args.out, evaluation, args.workers or size.workers, deadline)
    evaluated = [o.folder for o in outcomes if RunFolder(o.folder).eval_result.is_file()]
    if evaluated:
        write_report(evaluated, args.out / "report", TrainConfig().model_dump())
    counts = {status: sum(o.status == status for o in outcomes) for status in ("done", "skipped", "failed", "late")}
    print(f"[sweep] {len(runs)} runs: {counts}; report in {args.out / 'report'}", flush=True)
    return outcomes
