"""`neurosym eval` and `neurosym report` end to end: the tiny Gemma 3, a LoRA run folder, baselines."""

import dataclasses
import json
import shutil
import statistics
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from neurosym.causal import generate, load_questions, write_eval_splits, write_questions
from neurosym.causal.cases import CASES
from neurosym.cli import app
from neurosym.eval import premise_auc, roc_auc
from neurosym.eval.evaluate import EvalSettings, breakdown, load_rows, predictions
from neurosym.eval.plots import label_axis_floor
from neurosym.eval.report import build_report
from neurosym.eval.runs import load_target
from neurosym.model import YesNoHead, apply_lora, tiny_gemma3

FIXTURES = Path(__file__).parent / "fixtures" / "public_formats"  # written by fixtures/write_public_formats.py
FILES = sorted(str(p) for p in FIXTURES.iterdir())
LEVEL_KEYS = {
    "balanced_accuracy",
    "mcc",
    "roc_auc",
    "premise_auc",
    "yes_rate",
    "collapsed",
    "accuracy",
    "recall_yes",
    "recall_no",
}
runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def private_cache(tmp_path_factory):
    """Compiled circuits go to a cache of this module's own, not the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEUROSYM_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def invoke(*args: str):
    return runner.invoke(app, list(args))


def every_level(result: dict, section: dict | None = None):
    """(name, entry) for the overall entry and every file, family and size entry, nested ones too."""
    section = section or result
    yield "overall", section["overall"]
    for level in ("per_file", "per_family", "per_size"):
        for name, entry in section[level].items():
            yield f"{level}/{name}", entry
            for size, nested in entry.get("per_size", {}).items():
                yield f"{level}/{name}/{size}", nested


def test_premise_auc_pairs_the_questions_of_each_premise_of_each_file(tmp_path):
    files = write_eval_splits(tmp_path, per_size=2, seed=3, tasks=("transitivity",))["transitivity"][:2]
    rows, _ = load_rows(files, EvalSettings())  # each premise: one Yes and one No question
    first = [r.file == str(files[0]) for r in rows]
    # the first file's scores follow the answer, the second's the premise alone
    scores = [(0.9 if r.gold else 0.1) if f else len(r.question.premise) / 1000 for r, f in zip(rows, first)]
    levels = breakdown(rows, [s > 0.5 for s in scores], scores)
    assert levels["per_file"][str(files[0])]["premise_auc"] == 1.0
    assert levels["per_file"][str(files[1])]["premise_auc"] == 0.5
    assert levels["overall"]["premise_auc"] == pytest.approx(
        premise_auc([r.gold for r in rows], scores, [(r.file, r.question.premise) for r in rows])
    )
    assert levels["overall"]["premise_auc"] == pytest.approx(0.75)  # as many premises in both files
    assert breakdown(rows, [s > 0.5 for s in scores], None)["overall"]["premise_auc"] is None


def test_predictions_keep_the_scores_the_evaluation_ranked(tmp_path):
    """Near-certain answers that six decimals would tie keep their order in predictions.jsonl."""
    files = write_eval_splits(tmp_path, per_size=2, seed=3, tasks=("transitivity",))["transitivity"][:1]
    rows, _ = load_rows(files, EvalSettings())
    scores = [2e-7 if r.gold else 1e-7 for r in rows]  # every answer No, every Yes question ranked first
    records = predictions(rows, scores, [False] * len(rows))
    recomputed = premise_auc(
        [r["gold"] == "Yes" for r in records],
        [r["p_yes"] for r in records],
        [(r.file, r.question.premise) for r in rows],
    )
    assert recomputed == breakdown(rows, [False] * len(rows), scores)["overall"]["premise_auc"] == 1.0


def test_accuracy_per_answer_case_counts_the_questions_of_each_case(tmp_path):
    files = write_eval_splits(tmp_path, per_size=2, seed=3)
    rows, _ = load_rows([*files["transitivity"], *files["dseparation"]], EvalSettings())
    scores = [0.9 if r.question.nodes % 2 else 0.2 for r in rows]  # answers that depend on the size alone
    answers = [s > 0.5 for s in scores]
    levels = breakdown(rows, answers, scores)
    records = predictions(rows, scores, answers)
    for task, cases in levels["per_case"].items():
        assert list(cases) == [case for case in CASES[task] if case in cases]  # in the documented order
        for case, entry in cases.items():
            picked = [r for r in records if r["task"] == task and r["case"] == case]
            assert entry["n"] == len(picked) > 0
            assert entry["accuracy"] == sum(r["answer"] == r["gold"] for r in picked) / len(picked)
            assert entry["interval"][0] <= entry["accuracy"] <= entry["interval"][1]
            assert entry["mean_p_yes"] == pytest.approx(statistics.fmean(r["p_yes"] for r in picked))
            assert {r["gold"] == "Yes" for r in picked} == {CASES[task][case]}  # one true answer a case
    assert sum(e["n"] for cases in levels["per_case"].values() for e in cases.values()) == len(rows)
    family = levels["per_family"]["eval/chain_long_flip"]["per_case"]
    assert (
        sum(e["n"] for cases in family.values() for e in cases.values())
        == levels["per_family"]["eval/chain_long_flip"]["n"]
    )
    assert breakdown(rows, answers, None)["per_case"]["dseparation"]["adjacent"]["mean_p_yes"] is None


def test_tiny_model_end_to_end(tmp_path):
    out = tmp_path / "eval"
    # `--data a b c d` as a shell glob expands it: the files after the first are extra arguments
    result = invoke(
        "eval",
        "tiny",
        "--data",
        *FILES,
        "--output-dir",
        str(out),
        "--subsets",
        "2",
        "--edits",
        "2",
        "--constrained",
        "--limit",
        "3",
    )
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().splitlines()[0].startswith("╭")  # the verdict panel comes first
    assert "VERDICT" in result.output.split("overall")[0]
    data = json.loads((out / "eval.json").read_text())
    assert set(data["per_file"]) == set(FILES) and data["overall"]["n"] == 12
    for name, entry in [*every_level(data), *every_level(data, data["constrained"])]:
        assert LEVEL_KEYS <= set(entry), name
    assert set(data["consistency"]) == {"transitivity", "dseparation"}
    assert all(c["subsets"] == 4 for c in data["consistency"].values())  # 2 per file, two files per task
    assert {"sensitivity", "edited", "changed"} <= set(data["sensitivity"]["transitivity"])
    for name in ("eval.md", "accuracy_by_size.png", "yes_rate.png", "confusion.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "eval.md").read_text().startswith("# Evaluation of tiny\n\n```\nVERDICT")

    # The counts are those of the answer head run directly on the same questions.
    model, tokenizer = tiny_gemma3()
    head = YesNoHead(model, tokenizer)
    questions = [q for f in FILES for q in load_questions(f).questions[:3]]
    answers = (head.predict([q.premise for q in questions], [q.question for q in questions]) > 0.5).tolist()
    gold = [q.label == "Yes" for q in questions]
    expected = {
        "tp": sum(g and a for g, a in zip(gold, answers)),
        "fn": sum(g and not a for g, a in zip(gold, answers)),
        "fp": sum(a and not g for g, a in zip(gold, answers)),
        "tn": sum(not g and not a for g, a in zip(gold, answers)),
    }
    assert data["overall"]["confusion"] == expected
    p_yes = head.predict([q.premise for q in questions], [q.question for q in questions]).tolist()
    assert data["overall"]["roc_auc"] == pytest.approx(roc_auc(gold, p_yes))
    assert data["constrained"]["overall"]["roc_auc"] is None  # joint answers have no score
    assert data["overall"]["premise_auc"] is None  # the first 3 questions of each file are all Yes

    # predictions.jsonl: the same answers, question by question, in the order of the files.
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [(r["file"], r["index"]) for r in records] == [(f, i) for f in FILES for i in range(3)]
    assert [r["question"] for r in records] == [q.question for q in questions]
    assert [r["answer"] == "Yes" for r in records] == answers and [r["gold"] == "Yes" for r in records] == gold
    assert all((r["p_yes"] > 0.5) == (r["answer"] == "Yes") for r in records)
    assert roc_auc([r["gold"] == "Yes" for r in records], [r["p_yes"] for r in records]) == data["overall"]["roc_auc"]
    assert "predictions" not in data
    cases = {(r["task"], r["case"]) for r in records}
    assert cases == {(task, case) for task, found in data["per_case"].items() for case in found}
    assert "## per answer case" in (out / "eval.md").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["tiny", "--data", "missing.jsonl", "--output-dir", "out"], "data file(s) not found: missing.jsonl"),
        (["tiny", "--data", FILES[0], "--task", "causality", "--output-dir", "out"], "unknown task 'causality'"),
        (["tiny", "--data", FILES[0]], "--output-dir is required"),
        (["baseline:sometimes", "--data", FILES[0], "--output-dir", "out"], "unknown baseline 'sometimes'"),
        (["no-such-model", "--data", FILES[0], "--output-dir", "out"], "neither a local folder nor the alias"),
        (["tiny", "--data", FILES[0], "--output-dir", "out", "--k", "1"], "--k must be at least 2"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke("eval", *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_task_filter_keeps_an_empty_entry_for_files_of_the_other_task(tmp_path):
    out = tmp_path / "out"
    result = invoke("eval", "baseline:oracle", "--data", *FILES, "--task", "transitivity", "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads((out / "eval.json").read_text())
    assert data["overall"]["n"] == 12 and set(data["consistency"]) == {"transitivity"}
    dsep = data["per_file"][FILES[0]]
    assert dsep["n"] == 0 and dsep["skipped"] == 6 and dsep["status"] == "undetermined"


def test_unreadable_data_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("this is not json\n")
    result = invoke("eval", "baseline:oracle", "--data", str(bad), "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 1 and "bad.jsonl" in result.output and "Traceback" not in result.output


def make_lora_run(folder: Path) -> YesNoHead:
    """A run folder as the trainer writes it, with a LoRA adapter whose weights matter."""
    model, tokenizer = tiny_gemma3()
    model = apply_lora(model, r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(len(name))) * 2.0)
    final = folder / "final"
    model.save_pretrained(final)
    tokenizer.save_pretrained(final)
    head = YesNoHead(model, tokenizer)
    (final / "neurosym.json").write_text(
        json.dumps({"base_model": "tiny", "lora": True, "prompt": {"text": head.template.text, "style": "auto"}})
    )
    (folder / "config.yaml").write_text(yaml.safe_dump({"model": {"name": "tiny"}, "seed": 0}))
    return head


def test_a_lora_run_is_evaluated_with_its_adapter(tmp_path):
    run = tmp_path / "run"
    trained = make_lora_run(run)
    questions = list(load_questions(FILES[-1]))
    premises, texts = [q.premise for q in questions], [q.question for q in questions]
    loaded = load_target(str(run), device="cpu").predictor.predict(premises, texts)
    assert loaded == pytest.approx(trained.predict(premises, texts).tolist(), abs=1e-5)
    bare_model, tokenizer = tiny_gemma3()
    bare = YesNoHead(bare_model, tokenizer).predict(premises, texts).tolist()
    assert max(abs(a - b) for a, b in zip(loaded, bare)) > 1e-3  # the adapter changes the answers

    result = invoke("eval", str(run), "--data", FILES[-1], "--subsets", "2", "--edits", "2")
    assert result.exit_code == 0, result.output
    data = json.loads((run / "eval" / "eval.json").read_text())  # the run's eval/ is the default
    assert data["run"] == str(run) and data["overall"]["n"] == len(questions)


def fake_run(folder: Path, predictor: str, seed: int, semantic: bool, files=FILES, schedule: str = "linear") -> None:
    """A run folder holding only what `neurosym report` reads: config.yaml and eval/eval.json."""
    folder.mkdir(parents=True)
    config = {
        "model": {"name": "tiny"},
        "semantic": {"enabled": semantic, "lam": {"schedule": schedule}},
        "seed": seed,
        "output_dir": str(folder),
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    result = invoke(
        "eval",
        predictor,
        "--data",
        *files,
        "--output-dir",
        str(folder / "eval"),
        "--seed",
        str(seed),
        "--subsets",
        "2",
        "--edits",
        "2",
    )
    assert result.exit_code == 0, result.output


def test_report_groups_runs_by_config_without_the_seed(tmp_path):
    fake_run(tmp_path / "base", "baseline:always-no", 0, semantic=False)
    fake_run(tmp_path / "sl0", "baseline:oracle", 0, semantic=True)
    fake_run(tmp_path / "sl1", "baseline:random", 1, semantic=True)
    dev = {"balanced_accuracy": 0.5, "yes_rate": 0.9}
    records = [{"step": 1, "ce": 0.7}, {"step": 2, "ce": 0.6, "dev": dev}]
    (tmp_path / "sl1" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "report"
    result = invoke(
        "report", str(tmp_path / "base"), str(tmp_path / "sl0"), str(tmp_path / "sl1"), "--output-dir", str(out)
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    groups = report["groups"]
    assert set(groups) == {"base", "semantic.enabled=True"}  # one run: its folder; sl0 + sl1: their settings
    semantic = groups["semantic.enabled=True"]
    assert semantic["seeds"] == [0, 1] and semantic["overall"]["flagged"] == 1  # the coin has no signal
    runs = [
        json.loads((tmp_path / r / "eval" / "eval.json").read_text())["overall"]["balanced_accuracy"]
        for r in ("sl0", "sl1")
    ]
    stats = semantic["overall"]["balanced_accuracy"]
    assert stats["mean"] == pytest.approx(statistics.fmean(runs)) and stats["spread"] == pytest.approx(
        statistics.stdev(runs)
    )
    assert groups["base"]["overall"]["balanced_accuracy"]["spread"] is None  # a single run
    assert semantic["overall"]["roc_auc"]["values"][0] == 1.0  # the oracle ranks every Yes above every No
    assert groups["base"]["overall"]["roc_auc"]["mean"] == 0.5  # always No: every pair a tie
    assert groups["base"]["settings"] == "semantic.enabled=False"
    markdown = (out / "report.md").read_text()
    assert "semantic.enabled=False" in markdown and "1 of 1" in markdown
    assert report["curves"] == {str(tmp_path / "sl1"): [records[1]]}  # the records with dev metrics
    for name in ("report_by_size.png", "report_yes_rate.png", "report_training.png"):
        assert (out / name).stat().st_size > 0, name


def test_report_names_a_group_by_its_runs_folder_name_less_the_seed(tmp_path):
    for seed in (0, 1):
        fake_run(tmp_path / f"sl-k3-seed{seed}", "baseline:oracle", seed, semantic=True)
    fake_run(tmp_path / "lambda0-seed0", "baseline:always-yes", 0, semantic=False)
    out = tmp_path / "report"
    result = invoke("report", *(str(p) for p in sorted(tmp_path.glob("*-seed*"))), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    groups = json.loads((out / "report.json").read_text())["groups"]
    assert set(groups) == {"sl-k3", "lambda0"}
    assert groups["sl-k3"]["settings"] == "semantic.enabled=True" and groups["sl-k3"]["seeds"] == [0, 1]
    assert "| sl-k3 | semantic.enabled=True |" in (out / "report.md").read_text()


def test_report_ignores_the_settings_of_a_section_switched_off(tmp_path):
    fake_run(tmp_path / "a", "baseline:always-yes", 0, semantic=False, schedule="linear")
    fake_run(tmp_path / "b", "baseline:always-yes", 1, semantic=False, schedule="adaptive")  # λ = 0 all the same
    fake_run(tmp_path / "c", "baseline:oracle", 0, semantic=True, schedule="linear")
    fake_run(tmp_path / "d", "baseline:oracle", 0, semantic=True, schedule="adaptive")
    groups = build_report([tmp_path / name for name in "abcd"])["groups"]
    described = {g["settings"]: [Path(run).name for run in g["runs"]] for g in groups.values()}
    assert described == {
        "semantic.enabled=False": ["a", "b"],
        "semantic.enabled=True, semantic.lam.schedule=linear": ["c"],
        "semantic.enabled=True, semantic.lam.schedule=adaptive": ["d"],
    }
    lambda0 = build_report([tmp_path / "a", tmp_path / "c"])["groups"]  # the schedule sets nothing apart here
    assert sorted(g["settings"] for g in lambda0.values()) == ["semantic.enabled=False", "semantic.enabled=True"]


def test_report_groups_runs_that_split_their_steps_into_passes_differently(tmp_path):
    for name, seed, max_tokens in (("whole-seed0", 0, None), ("passes-seed1", 1, 256), ("slower-seed0", 0, None)):
        fake_run(tmp_path / name, "baseline:random", seed, semantic=True)
        set_config(tmp_path / name, optim={"max_tokens": max_tokens})
    set_config(tmp_path / "slower-seed0", optim={"lr": 1e-5})
    groups = build_report([tmp_path / n for n in ("whole-seed0", "passes-seed1", "slower-seed0")])["groups"]
    assert sorted(g["seeds"] for g in groups.values()) == [[0], [0, 1]]  # the gradient is the same either way
    assert all("max_tokens" not in g["settings"] for g in groups.values())


def test_report_groups_a_run_made_before_a_key_existed_with_one_at_its_default(tmp_path):
    for name, seed in (("old-seed0", 0), ("new-seed1", 1), ("best-seed0", 0)):
        fake_run(tmp_path / name, "baseline:random", seed, semantic=True)
    for name, select in (("new-seed1", "last"), ("best-seed0", "best")):
        config = yaml.safe_load((tmp_path / name / "config.yaml").read_text())
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump({**config, "eval": {"select": select}}))
    out = tmp_path / "report"
    result = invoke(
        "report", *(str(tmp_path / n) for n in ("old-seed0", "new-seed1", "best-seed0")), "--output-dir", str(out)
    )
    assert result.exit_code == 0, result.output
    groups = json.loads((out / "report.json").read_text())["groups"]
    assert {name: group["seeds"] for name, group in groups.items()} == {"eval.select=last": [0, 1], "best": [0]}


def test_report_compares_evaluation_data_by_the_digests_eval_recorded(tmp_path):
    copies, other = tmp_path / "copies", tmp_path / "other"
    copies.mkdir(), other.mkdir()
    moved = [shutil.copy(f, copies) for f in FILES]
    changed = [shutil.copy(f, other) for f in FILES]
    first = Path(changed[0])
    first.write_text(first.read_text().splitlines()[0] + "\n")  # one question left: other data
    fake_run(tmp_path / "here-seed0", "baseline:oracle", 0, semantic=True)
    fake_run(tmp_path / "there-seed1", "baseline:oracle", 1, semantic=True, files=moved)
    fake_run(tmp_path / "other-seed2", "baseline:oracle", 2, semantic=True, files=changed)
    for file in [*moved, *changed]:  # the files are gone: eval.json's digests still tell them apart
        Path(file).unlink()
    same = [tmp_path / "here-seed0", tmp_path / "there-seed1"]
    assert build_report(same)["same_data"]
    assert not build_report([*same, tmp_path / "other-seed2"])["same_data"]


def test_report_reads_the_files_of_runs_evaluated_before_digests_were_kept(tmp_path):
    copies = tmp_path / "copies"
    copies.mkdir()
    moved = [shutil.copy(f, copies) for f in FILES]
    fake_run(tmp_path / "here-seed0", "baseline:oracle", 0, semantic=True)
    fake_run(tmp_path / "there-seed1", "baseline:oracle", 1, semantic=True, files=moved)
    folders = [tmp_path / "here-seed0", tmp_path / "there-seed1"]
    for folder in folders:
        path = folder / "eval" / "eval.json"
        result = json.loads(path.read_text())
        for entry in result["per_file"].values():
            del entry["sha256"]
        path.write_text(json.dumps(result))
    assert build_report(folders)["same_data"]  # same content in another place
    first = Path(moved[0])
    first.write_text(first.read_text().splitlines()[0] + "\n")  # one question left: other data
    assert not build_report(folders)["same_data"]


def test_report_takes_the_output_folder_of_a_model_that_is_not_a_run(tmp_path):
    fake_run(tmp_path / "run", "baseline:oracle", 0, semantic=True)
    result = invoke(
        "eval",
        "baseline:always-no",
        "--data",
        *FILES,
        "--output-dir",
        str(tmp_path / "always-no"),
        "--subsets",
        "2",
        "--edits",
        "2",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    result = invoke("report", str(tmp_path / "run"), str(tmp_path / "always-no"), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    groups = json.loads((out / "report.json").read_text())["groups"]
    assert groups["always-no"]["runs"] == [str(tmp_path / "always-no")]
    assert groups["always-no"]["overall"]["flagged"] == 1 and groups["run"]["overall"]["flagged"] == 0


def test_report_of_an_unevaluated_run_says_what_to_do(tmp_path):
    (tmp_path / "run").mkdir()
    result = invoke("report", str(tmp_path / "run"), "--output-dir", str(tmp_path / "report"))
    assert result.exit_code == 1 and "has no eval/eval.json" in result.output and "neurosym eval" in result.output
    assert "Traceback" not in result.output


def set_config(folder: Path, **sections) -> None:
    """Merge ``sections`` into a fake run's config.yaml."""
    config = yaml.safe_load((folder / "config.yaml").read_text())
    for section, values in sections.items():
        config[section] = {**config.get(section, {}), **values}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


def test_report_draws_balanced_accuracy_against_the_labels_each_method_trained_on(tmp_path):
    runs = {  # name: predictor, seed, semantic term, labelled questions, unlabelled premises
        "lambda0-250-seed0": ("baseline:always-yes", 0, False, 250, {}),
        "lambda0-250-seed1": ("baseline:random", 1, False, 250, {}),
        "lambda0-seed0": ("baseline:oracle", 0, False, 20000, {}),
        "semantic-250-seed0": ("baseline:oracle", 0, True, 250, {"unlabeled": "pool.jsonl"}),
        "semantic-1000-seed0": ("baseline:always-no", 0, True, 1000, {"generate_unlabeled": 4000}),
        "semantic-seed0": ("baseline:always-no", 0, True, 20000, {}),
    }
    for name, (predictor, seed, semantic, labels, unlabeled) in runs.items():
        fake_run(tmp_path / name, predictor, seed, semantic=semantic)
        set_config(tmp_path / name, data={"generate_train": labels, **unlabeled})
    out = tmp_path / "report"
    result = invoke("report", *(str(tmp_path / name) for name in runs), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    series = json.loads((out / "report.json").read_text())["label_efficiency"]
    assert {name: list(points) for name, points in series.items()} == {
        "semantic loss": ["20000"],
        "semantic loss + unlabelled premises": ["250", "1000"],  # a file of them or generated ones
        "λ = 0": ["250", "20000"],
    }

    def accuracy(name):
        return json.loads((tmp_path / name / "eval" / "eval.json").read_text())["overall"]["balanced_accuracy"]

    assert series["λ = 0"]["250"]["values"] == [accuracy("lambda0-250-seed0"), accuracy("lambda0-250-seed1")]
    assert series["λ = 0"]["20000"]["mean"] == accuracy("lambda0-seed0") == 1.0
    assert "| semantic loss + unlabelled premises | 250 | 1 | 1.000 |" in (out / "report.md").read_text()
    assert (out / "report_labels.png").stat().st_size > 0


def test_the_label_plot_starts_under_chance_unless_an_error_bar_reaches_lower():
    def point(mean, spread):
        return {"mean": mean, "spread": spread}

    close_runs = {
        "λ = 0": {"250": point(0.84, 0.04), "4000": point(0.87, None)},
        "semantic": {"250": point(None, None)},
    }
    assert label_axis_floor(close_runs) == 0.45
    inverted = {"λ = 0": {"250": point(0.40, 0.05)}}
    assert label_axis_floor(inverted) == pytest.approx(0.33)


def test_report_counts_the_labelled_rows_of_a_training_file_and_draws_no_curve_for_one_count(tmp_path):
    questions = generate("transitivity", "train", 6, seed=0)
    unlabelled = [dataclasses.replace(q, label=None) for q in generate("transitivity", "train", 4, seed=1)]
    write_questions(tmp_path / "train.jsonl", questions + unlabelled)
    for name, seed in (("a", 0), ("b", 1)):
        fake_run(tmp_path / name, "baseline:oracle", seed, semantic=False)
    set_config(tmp_path / "a", data={"train": str(tmp_path / "train.jsonl"), "task": "transitivity"})
    set_config(tmp_path / "b", data={"generate_train": 6, "task": "transitivity"})
    report = build_report([tmp_path / "a", tmp_path / "b"])
    assert report["label_efficiency"] == {}  # 6 labelled rows in the file, 6 generated: one count
    set_config(tmp_path / "b", data={"generate_train": 12})
    assert list(build_report([tmp_path / "a", tmp_path / "b"])["label_efficiency"]["λ = 0"]) == ["6", "12"]


def test_report_tables_balanced_accuracy_by_family_and_graph_size(tmp_path):
    for name, predictor, seed in (("a-seed0", "baseline:oracle", 0), ("a-seed1", "baseline:random", 1)):
        fake_run(tmp_path / name, predictor, seed, semantic=False)
    out = tmp_path / "report"
    result = invoke("report", str(tmp_path / "a-seed0"), str(tmp_path / "a-seed1"), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    table = json.loads((out / "report.json").read_text())["groups"]["a"]["family_by_size"]
    evals = [json.loads((tmp_path / n / "eval" / "eval.json").read_text()) for n in ("a-seed0", "a-seed1")]
    families = evals[0]["per_family"]
    assert list(table) == list(families) and len(families) > 1
    for family, entry in families.items():
        assert list(table[family]) == sorted(entry["per_size"], key=int)
        for size, stats in table[family].items():
            runs = [e["per_family"][family]["per_size"][size]["balanced_accuracy"] for e in evals]
            assert stats["values"] == runs and stats["mean"] == pytest.approx(statistics.fmean(runs))
    markdown = (out / "report.md").read_text().split("## balanced accuracy by family and graph size")[1]
    family, sizes = next(iter(table.items()))
    size, stats = next(iter(sizes.items()))
    header, _, *rows = [line.split(" | ") for line in markdown.strip().splitlines()]
    cell = rows[0][[h.strip("| ") for h in header].index(size)]
    assert rows[0][0] == f"| a · {family}" and cell.startswith(f"{stats['mean']:.3f} ± ")


def test_report_tables_accuracy_by_answer_case(tmp_path):
    for name, predictor, seed in (("a-seed0", "baseline:oracle", 0), ("a-seed1", "baseline:random", 1)):
        fake_run(tmp_path / name, predictor, seed, semantic=False)
    fake_run(tmp_path / "b-seed0", "baseline:always-no", 0, semantic=True)
    out = tmp_path / "report"
    folders = [str(tmp_path / name) for name in ("a-seed0", "a-seed1", "b-seed0")]
    assert invoke("report", *folders, "--output-dir", str(out)).exit_code == 0
    groups = json.loads((out / "report.json").read_text())["groups"]
    evals = [json.loads((tmp_path / n / "eval" / "eval.json").read_text()) for n in ("a-seed0", "a-seed1")]
    assert set(groups["a"]["case_accuracy"]) == {"transitivity", "dseparation"}
    for task, cases in groups["a"]["case_accuracy"].items():
        assert list(cases) == list(evals[0]["per_case"][task])
        for case, stats in cases.items():
            assert stats["values"] == [e["per_case"][task][case]["accuracy"] for e in evals]
            assert stats["values"][0] == 1.0  # the oracle
        for case, stats in groups["b"]["case_accuracy"][task].items():
            assert stats["values"] == [0.0 if CASES[task][case] else 1.0]  # always No
    markdown = (out / "report.md").read_text().split("## accuracy by answer case: dseparation")[1]
    header, _, first, second = markdown.strip().split("\n\n")[0].splitlines()
    assert "| adjacent (No) |" in header and "blocked-given (Yes)" in header
    adjacent = groups["a"]["case_accuracy"]["dseparation"]["adjacent"]
    assert first.startswith(f"| a | {adjacent['mean']:.3f} ± {adjacent['spread']:.3f} |")
    assert second.startswith("| b | 1.000 | ")  # always No, right on every adjacent pair
