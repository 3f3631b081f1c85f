"""The experiments' sweep engine on the tiny model: train + evaluate, resume, failures, deadlines."""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import pytest

from neurosym.causal import write_eval_splits
from neurosym.errors import DataError
from neurosym.runs import RunFolder
from trainer.config import load_config
from trainer.sweep import FAILURE, SweepEval, SweepRun, load_sizes, run_sweep, sweep_main

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
PRESET = load_sizes(EXPERIMENTS / "sizes.yaml")["smoke"]  # the tiny model, a handful of steps
SMOKE = (*PRESET.overrides, f"optim.max_steps={PRESET.steps}")


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    files = write_eval_splits(tmp_path_factory.mktemp("eval"), per_size=2, seed=1, tasks=("transitivity",))
    return SweepEval(files, PRESET.settings, batch_size=8, device="cpu")


def test_a_sweep_trains_evaluates_and_is_resumed_without_redoing_a_run(tmp_path, evaluation):
    runs = [
        SweepRun("tuned", EXPERIMENTS / "paper.yaml", SMOKE),
        SweepRun("untuned", EXPERIMENTS / "paper.yaml", SMOKE, train=False),
    ]
    first = run_sweep(runs, tmp_path, evaluation)
    assert [o.status for o in first] == ["done", "done"]
    tuned = json.loads(RunFolder(tmp_path / "tuned").eval_result.read_text())
    assert tuned["run"] == str(tmp_path / "tuned") and tuned["files"] == [
        str(f) for f in evaluation.files["transitivity"]
    ]
    assert (tmp_path / "tuned" / "final" / "neurosym.json").is_file()
    assert not (tmp_path / "untuned" / "final").exists()  # evaluated as it is, never trained
    assert json.loads(RunFolder(tmp_path / "untuned").eval_result.read_text())["model"] == "tiny"
    stamp = RunFolder(tmp_path / "tuned").eval_result.stat().st_mtime_ns
    again = run_sweep(runs, tmp_path, evaluation)
    assert [o.status for o in again] == ["skipped", "skipped"]
    assert RunFolder(tmp_path / "tuned").eval_result.stat().st_mtime_ns == stamp
    assert again[0].summary == first[0].summary
    logged = [json.loads(line) for line in (tmp_path / "sweep.log").read_text().splitlines()]
    assert [(r["run"], r["status"]) for r in logged] == [
        ("tuned", "done"),
        ("untuned", "done"),
        ("tuned", "skipped"),
        ("untuned", "skipped"),
    ]


def test_a_failing_run_is_kept_with_its_traceback_and_the_sweep_goes_on(tmp_path, evaluation):
    runs = [
        SweepRun("broken", EXPERIMENTS / "paper.yaml", (*SMOKE, "optim.lr=-1")),
        SweepRun("late", EXPERIMENTS / "paper.yaml", SMOKE),
    ]
    outcomes = run_sweep(runs, tmp_path, evaluation, deadline=time.time() + 3600)
    assert outcomes[0].status == "failed" and "optim.lr" in (tmp_path / "broken" / FAILURE).read_text()
    assert outcomes[1].status == "done"
    logged = {r["run"]: r for r in map(json.loads, (tmp_path / "sweep.log").read_text().splitlines())}
    assert logged["broken"]["error"].startswith("ConfigError") and "optim.lr" in logged["broken"]["error"]
    assert "error" not in logged["late"]
    fixed = run_sweep([SweepRun("broken", EXPERIMENTS / "paper.yaml", SMOKE)], tmp_path, evaluation)
    assert fixed[0].status == "done" and not (tmp_path / "broken" / FAILURE).exists()
    history = [r for r in map(json.loads, (tmp_path / "sweep.log").read_text().splitlines()) if r["run"] == "broken"]
    assert [r["status"] for r in history] == ["failed", "done"]
    assert "optim.lr" in history[0]["error"]  # why it failed first, kept after the rerun cleared failed.txt
    late = run_sweep(
        [SweepRun("later", EXPERIMENTS / "paper.yaml", SMOKE)], tmp_path, evaluation, deadline=time.time() - 1
    )
    assert late[0].status == "late" and not (tmp_path / "later").exists()
    with pytest.raises(ValueError, match="unique"):
        run_sweep([runs[1], runs[1]], tmp_path, evaluation)


def experiment_script(name: str):
    """experiments/NAME.py as a module (semantic.py imports collapse from its folder)."""
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXPERIMENTS))


def test_the_experiment_scripts_build_their_grids_from_the_presets(tmp_path):
    collapse, semantic = experiment_script("collapse"), experiment_script("semantic")
    sizes = load_sizes(EXPERIMENTS / "sizes.yaml")
    grid = semantic.runs(sizes["gpu"])
    # per task and seed: 2 settings × 4 schedules, then k = 4 (and 5 on transitivity)
    assert len({r.name for r in grid}) == len(grid) == sizes["gpu"].seeds * (2 * (2 * 4 + 1) + 1)
    assert {
        "strong-transitivity-adaptive-k3-seed0",
        "strong-dseparation-constant-k3-seed2",
        "paper-dseparation-guarded-k3-seed1",
    } <= {r.name for r in grid}
    assert not any("dseparation" in r.name and "k5" in r.name for r in grid)
    names = [r.name for r in collapse.runs(sizes["cpu"])]
    assert names[:2] == ["untuned-transitivity", "untuned-dseparation"]
    assert all("semantic.enabled=false" in r.overrides for r in collapse.runs(sizes["cpu"])[2:])
    outcomes = sweep_main(
        collapse.__doc__,
        collapse.runs,
        sizes,
        [
            "--size",
            "smoke",
            "--out",
            str(tmp_path / "out"),
            "--data",
            str(tmp_path / "data"),
            "--only",
            "paper-transitivity-lambda0-seed0",
            "untuned-transitivity",
            "--set",
            "eval.select=best",
        ],
    )
    assert [o.status for o in outcomes] == ["done", "done"]
    trained = tmp_path / "out" / "paper-transitivity-lambda0-seed0"
    assert load_config(trained / "config.yaml").eval.select == "best"
    assert 1 <= json.loads((trained / "final" / "neurosym.json").read_text())["selected_step"] <= 4
    report = json.loads((tmp_path / "out" / "report" / "report.json").read_text())
    assert report["same_data"] and len(report["groups"]) == 2


def test_a_bad_set_stops_the_sweep_before_any_run_naming_the_key(tmp_path, capsys):
    collapse = experiment_script("collapse")
    with pytest.raises(SystemExit) as stopped:
        sweep_main(
            collapse.__doc__,
            collapse.runs,
            load_sizes(EXPERIMENTS / "sizes.yaml"),
            [
                "--size",
                "smoke",
                "--out",
                str(tmp_path / "out"),
                "--data",
                str(tmp_path / "data"),
                "--set",
                "eval.selekt=best",
            ],
        )
    assert stopped.value.code == 2 and "eval.selekt: unknown key" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_bad_sizes_file_names_itself(tmp_path):
    bad = tmp_path / "sizes.yaml"
    bad.write_text("gpu: {steps: 3, colour: red}\n")
    with pytest.raises(DataError, match="sizes.yaml"):
        load_sizes(bad)


def test_the_convergence_grid_puts_the_full_runs_first_and_gives_unlabelled_premises_to_the_semantic_runs(tmp_path):
    converge = experiment_script("converge")
    sizes = load_sizes(EXPERIMENTS / "sizes-converge.yaml")
    grid = converge.runs(sizes["gpu"])
    per_seed = 2 * (2 + 2 * len(converge.LABELS))  # per task: λ = 0 and semantic, in full and at each label count
    assert len({r.name for r in grid}) == len(grid) == sizes["gpu"].seeds * per_seed
    assert [r.name for r in grid[:4]] == [
        "transitivity-lambda0-seed0",
        "transitivity-semantic-seed0",
        "dseparation-lambda0-seed0",
        "dseparation-semantic-seed0",
    ]
    assert all(r.config == EXPERIMENTS / "converge-gpu.yaml" for r in grid)
    labelled = {r.name: load_config(r.config, r.overrides) for r in grid if "-1000-" in r.name}
    assert labelled["dseparation-semantic-1000-seed2"].data.generate_unlabeled == converge.UNLABELED
    assert labelled["dseparation-lambda0-1000-seed2"].data.generate_unlabeled == 0
    assert not labelled["dseparation-lambda0-1000-seed2"].semantic.enabled
    assert {c.data.generate_train for c in labelled.values()} == {1000}
    assert {c.optim.max_steps for c in labelled.values()} == {sizes["gpu"].steps}
    out = tmp_path / "out"
    only = ["transitivity-lambda0-250-seed0", "transitivity-semantic-250-seed0"]
    arguments = ["--size", "smoke", "--out", str(out), "--data", str(tmp_path / "data"), "--only", *only]
    outcomes = sweep_main(converge.__doc__, converge.runs, sizes, arguments)
    assert [(o.name, o.status) for o in outcomes] == [(name, "done") for name in only]
    trained = load_config(out / "transitivity-semantic-250-seed0" / "config.yaml")
    assert trained.data.generate_train == 250 and trained.data.generate_unlabeled == converge.UNLABELED
    metrics = [json.loads(line) for line in (out / "transitivity-semantic-250-seed0" / "metrics.jsonl").open()]
    assert any(row.get("sl") is not None for row in metrics)
    series = json.loads((out / "report" / "report.json").read_text())["label_efficiency"]
    assert series == {}  # one label count: no curve to draw
