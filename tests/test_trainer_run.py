"""The training loop on the tiny random Gemma 3: run folder, data order, the semantic term, demo.

Tests that start processes (kill -9 and resume, data parallelism) are in test_trainer_processes.py."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random

import networkx as nx
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from neurosym.causal import generate, write_questions
from neurosym.cli import app
from neurosym.errors import ConfigError, DataError, RunFolderExistsError
from neurosym.eval import binary_metrics
from neurosym.eval.consistency import check_answers
from neurosym.eval.runs import load_target
from neurosym.model import tiny_gemma3
from neurosym.resources import resource_dir
from trainer.checkpoint import BestWeights, load_checkpoint
from trainer.config import load_config
from trainer.data import TrainingData
from trainer.recipe import ask, build_head, losses, train
from trainer.report import better_earlier_check, final_dev
from trainer.schedules import LambdaSchedule
from trainer.semantic import SemanticTerm

pytestmark = pytest.mark.slow
TIMING_KEYS = {"seconds", "examples_per_s", "prompts_per_s"}


@pytest.fixture(autouse=True, scope="module")
def one_thread_own_cache(tmp_path_factory):
    """One intra-op thread (two on a busy 2-core machine are many times slower), and a fresh
    compile cache, so the runs compile their template as a first run does."""
    threads, cache = torch.get_num_threads(), os.environ.get("NEUROSYM_CACHE")
    torch.set_num_threads(1)
    os.environ["NEUROSYM_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    torch.set_num_threads(threads)
    if cache is None:
        os.environ.pop("NEUROSYM_CACHE")
    else:
        os.environ["NEUROSYM_CACHE"] = cache


def tiny_overrides(folder, *overrides: str) -> list[str]:
    return [
        f"output_dir={folder}",
        "data.generate_train=32",
        "data.generate_dev=16",
        "optim.batch_size=4",
        "eval.subsets=4",
        "progress=false",
        *overrides,
    ]


def tiny(folder, *overrides: str):
    return load_config(resource_dir("experiments") / "tiny.yaml", tiny_overrides(folder, *overrides))


def records(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def untimed_records(folder) -> list[dict]:
    """The metrics records less their wall-clock timings: what two runs of the same steps share."""
    return [{key: value for key, value in record.items() if key not in TIMING_KEYS} for record in records(folder)]


def test_a_run_writes_its_folder(tmp_path):
    config = tiny(
        tmp_path / "run", "optim.max_steps=4", "eval.interval=2", "checkpoint.every=2", "checkpoint.keep_last=1"
    )
    folder = train(config)
    assert folder == tmp_path / "run"
    assert load_config(folder / "config.yaml") == config
    rows = records(folder)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    schedule = LambdaSchedule(config.semantic.lam, 4)
    assert [r["lambda"] for r in rows] == pytest.approx([schedule(s) for s in range(4)])
    for r in rows:
        assert r["ce"] > 0 and r["sl"] > 0 and r["lr"] == pytest.approx(1e-3)
        assert r["examples_per_s"] > 0 and r["prompts"] > 4 and r["impossible_subsets"] == 0
        assert r["skipped"] is False
    dev = [r["dev"] for r in rows if "dev" in r]
    assert [r["step"] for r in rows if "dev" in r] == [2, 4]
    for report in dev:
        assert report["n"] == 16 and report["label_yes_rate"] == 0.5
        assert 0 <= report["violation_rate"] <= 1 and isinstance(report["collapsed"], bool)
        assert math.isfinite(report["semantic_pull"])
        for key in ("balanced_accuracy", "mcc", "yes_rate", "recall_yes", "recall_no", "roc_auc", "premise_auc"):
            assert report[key] is not None  # premise_auc: the generated dev premises carry a Yes and a No question
    questions = TrainingData.load(config.data).dev
    p_yes = load_target(str(folder), device="cpu").predictor.predict(
        [q.premise for q in questions], [q.question for q in questions]
    )
    gold_p = [p if q.label == "Yes" else 1 - p for p, q in zip(p_yes, questions)]
    assert dev[-1]["log_loss"] == pytest.approx(-sum(map(math.log, gold_p)) / len(gold_p), rel=1e-4)
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["step-0000004.pt"]
    manifest = json.loads((folder / "final" / "neurosym.json").read_text())
    assert manifest["base_model"] == "tiny" and manifest["lora"] is True and manifest["answer_tokens"] == ["Yes", "No"]
    assert (folder / "final" / "adapter_model.safetensors").is_file()
    assert not list(folder.glob(".*tmp*"))
    for plot in ("losses.png", "lambda.png", "dev.png"):
        assert (folder / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_attention_auto_keeps_the_cpu_default_and_eager_can_be_asked_for():
    config = load_config(None, ["model.name=tiny"])
    default = build_head(config.model, config.prompt, torch.device("cpu")).model.config._attn_implementation
    eager = build_head(config.model.model_copy(update={"attention": "eager"}), config.prompt, torch.device("cpu"))
    assert eager.model.config._attn_implementation == "eager" != default


def test_a_step_with_a_non_finite_gradient_is_skipped(tmp_path, monkeypatch):
    real = torch.nn.utils.clip_grad_norm_
    calls = []

    def poisoned(params, max_norm):  # the second step's gradient norm comes out NaN, as a bf16 overflow would
        calls.append(1)
        norm = real(params, max_norm)
        return torch.tensor(float("nan")) if len(calls) == 2 else norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", poisoned)
    folder = train(tiny(tmp_path / "nan", "optim.max_steps=3", "eval.interval=3", "semantic.enabled=false"))
    assert [r["skipped"] for r in records(folder)] == [False, True, False]


def test_full_fine_tuning_keeps_frozen_embeddings(tmp_path):
    folder = train(tiny(tmp_path / "full", "model.lora=null", "optim.max_steps=2", "eval.interval=2"))
    final = load_file(folder / "final" / "model.safetensors")
    base = tiny_gemma3()[0].state_dict()
    assert torch.equal(final["model.embed_tokens.weight"], base["model.embed_tokens.weight"])
    assert not torch.equal(
        final["model.layers.0.self_attn.q_proj.weight"], base["model.layers.0.self_attn.q_proj.weight"]
    )


def test_fresh_run_over_an_old_one_or_resume_with_another_config_is_refused(tmp_path):
    folder = train(tiny(tmp_path / "run", "optim.max_steps=1", "eval.interval=1", "plots=false"))
    with pytest.raises(RunFolderExistsError, match="already holds a run"):
        train(tiny(folder, "optim.max_steps=1"))
    with pytest.raises(ConfigError, match="optim.lr"):
        train(tiny(folder, "optim.max_steps=1", "eval.interval=1", "plots=false", "optim.lr=0.5"), resume=True)


def _dev(balanced: float, collapsed: bool) -> dict:
    return {"balanced_accuracy": balanced, "collapsed": collapsed}


@pytest.mark.parametrize(
    "checks, selected, expected",
    [
        ({10: _dev(0.7, False), 20: _dev(0.8, False), 30: _dev(0.85, False), 40: _dev(0.5, True)}, None, 30),
        ({10: _dev(0.8, False), 20: _dev(0.8, False), 30: _dev(0.5, True)}, 30, 10),  # the earlier on a tie
        ({10: _dev(0.5, True), 20: _dev(0.51, True)}, None, None),  # no check was healthy
        ({10: _dev(0.6, False), 20: _dev(0.7, False)}, None, None),  # the final model is not collapsed
        ({10: _dev(0.52, False), 20: _dev(0.55, True)}, None, None),  # the healthy one is no better
        ({10: _dev(0.8, False), 20: _dev(0.5, True)}, 10, None),  # eval.select=best kept step 10 already
    ],
)
def test_a_collapsed_final_model_points_to_a_better_earlier_dev_check(tmp_path, checks, selected, expected):
    (tmp_path / "metrics.jsonl").write_text(
        "".join(
            json.dumps({"step": s, "ce": 0.7}) + "\n" + json.dumps({"step": s + 1, "ce": 0.7, "dev": d}) + "\n"
            for s, d in ((s - 1, d) for s, d in checks.items())
        )
    )
    if selected is not None:
        (tmp_path / "final").mkdir()
        (tmp_path / "final" / "neurosym.json").write_text(json.dumps({"selected_step": selected}))
    found = better_earlier_check(tmp_path)
    assert (found and found[0]) == expected
    if expected is not None:
        assert found[1] == checks[expected]


@pytest.mark.parametrize(
    "select_by, score",
    [("balanced_accuracy", lambda dev: dev["balanced_accuracy"]), ("log_loss", lambda dev: -dev["log_loss"])],
)
def test_select_best_keeps_the_weights_of_the_best_dev_check(tmp_path, select_by, score):
    folder = train(
        tiny(
            tmp_path / "best",
            "optim.max_steps=6",
            "eval.interval=1",
            "checkpoint.every=1",
            "checkpoint.keep_last=6",
            "eval.select=best",
            f"eval.select_by={select_by}",
            "plots=false",
            "semantic.enabled=false",
        )
    )
    dev = {r["step"]: r["dev"] for r in records(folder)}
    chosen = max(dev, key=lambda step: (score(dev[step]), -step))  # the earlier on a tie
    assert chosen < 6, "the test needs a run whose best dev check is not its last"
    assert json.loads((folder / "final" / "neurosym.json").read_text())["selected_step"] == chosen
    assert final_dev(folder) == dev[chosen] != dev[6]
    # peft saves `model.<path>.lora_A.default.weight` of the head as `<path>.lora_A.weight`
    final = load_file(folder / "final" / "adapter_model.safetensors")
    for step in (chosen, 6):
        weights = load_checkpoint(folder / "checkpoints" / f"step-{step:07d}.pt")["weights"]
        saved = {name.removeprefix("model.").replace(".default", ""): value for name, value in weights.items()}
        assert saved.keys() == final.keys()
        assert all(torch.equal(saved[name], final[name]) for name in final) == (step == chosen)


def test_patience_stops_after_that_many_checks_without_a_better_one_and_a_resume_without_it_trains_on(tmp_path):
    config = tiny(
        tmp_path / "patient",
        "optim.max_steps=12",
        "eval.interval=1",
        "checkpoint.every=5",
        "eval.select=best",
        "eval.patience=2",
        "plots=false",
        "semantic.enabled=false",
    )
    folder = train(config)
    dev = {r["step"]: r["dev"]["balanced_accuracy"] for r in records(folder)}
    best = max(dev, key=lambda step: (dev[step], -step))
    assert max(dev) == best + 2 < 12, "the test needs a run that stalls before its last step"
    assert all(dev[step] <= dev[best] for step in dev)
    manifest = json.loads((folder / "final" / "neurosym.json").read_text())
    assert (manifest["trained_steps"], manifest["selected_step"], manifest["steps"]) == (best + 2, best, 12)
    train(config, resume=True)  # resumes from the checkpoint written at the stop, and stays stopped
    assert max(r["step"] for r in records(folder)) == best + 2

    # resumed without patience, it trains on to the last step as a run that never stopped does
    config.eval.patience = None
    train(config, resume=True)
    unstopped = train(config.model_copy(update={"output_dir": str(tmp_path / "unstopped")}))
    assert untimed_records(folder) == untimed_records(unstopped) and max(r["step"] for r in records(folder)) == 12
    assert load_config(folder / "config.yaml").eval.patience is None
    manifest = json.loads((folder / "final" / "neurosym.json").read_text())
    assert manifest == json.loads((unstopped / "final" / "neurosym.json").read_text())
    assert manifest["trained_steps"] == 12
    final, reference = (load_file(f / "final" / "adapter_model.safetensors") for f in (folder, unstopped))
    assert all(torch.equal(final[name], reference[name]) for name in reference)


def test_best_weights_treat_scores_equal_up_to_rounding_as_a_tie():
    def balanced_accuracy(yes_right: int, no_right: int) -> float:  # on 24 Yes then 24 No questions
        answers = [True] * yes_right + [False] * (24 - yes_right) + [False] * no_right + [True] * (24 - no_right)
        return binary_metrics([True] * 24 + [False] * 24, answers).balanced_accuracy

    first, second = balanced_accuracy(24, 11), balanced_accuracy(20, 15)
    assert first < second and first == pytest.approx(35 / 48) == second  # 35/48 both, rounded apart
    layer = torch.nn.Linear(2, 1)
    best = BestWeights()
    best.offer(10, first, layer)
    kept = layer.weight.detach().clone()
    with torch.no_grad():
        layer.weight.add_(1.0)
    best.offer(20, second, layer)
    assert best.step == 10 and torch.equal(best.weights["weight"], kept)
    best.offer(30, 36 / 48, layer)
    assert best.step == 30 and torch.equal(best.weights["weight"], layer.weight)


def test_baseline_and_semantic_runs_see_the_same_rows(tmp_path):
    common = ["optim.max_steps=3", "eval.interval=3", "plots=false", "optim.grad_accum=2"]
    baseline = records(train(tiny(tmp_path / "base", "semantic.enabled=false", *common)))
    semantic = records(train(tiny(tmp_path / "sem", *common)))
    assert [r["rows"] for r in baseline] == [r["rows"] for r in semantic]
    assert len(baseline[0]["rows"]) == 8 and len(set(map(tuple, (r["rows"] for r in baseline)))) == 3
    assert all(r["lambda"] == 0 and r["sl"] is None for r in baseline)
    assert all(r["lambda"] > 0 and r["sl"] > 0 for r in semantic)
    # same initial weights and rows: the first step's cross-entropy agrees (padding aside)
    assert baseline[0]["ce"] == pytest.approx(semantic[0]["ce"], abs=1e-4)
    assert semantic[0]["prompts"] > baseline[0]["prompts"] == 8


def test_unlabeled_premises_feed_only_the_semantic_term(tmp_path):
    unlabeled = tmp_path / "unlabeled.jsonl"
    write_questions(
        unlabeled, [dataclasses.replace(q, label=None) for q in generate("transitivity", "train", 8, seed=5)]
    )
    config = tiny(
        tmp_path / "run",
        f"data.unlabeled={unlabeled}",
        "data.unlabeled_batch_size=2",
        "optim.max_steps=1",
        "eval.interval=1",
        "plots=false",
        "semantic.max_queries=1",
    )
    assert len(TrainingData.load(config.data).unlabeled) == 8
    (record,) = records(train(config))
    assert record["prompts"] == 4 + (4 + 2) * 1  # gold questions, then one query per subset of 4 + 2 premises


@pytest.mark.parametrize(
    "text, fragments",
    [
        (
            "domain Node\npredicted foo(Node)\nconstraint c: forall x in Node: foo(x)\n",
            ["unknown predicted predicate 'foo'", "hint:", "predicted causes, dsep"],
        ),
        (
            "domain Node\nobserved edge(Node, Node)\nconstraint c: forall x in Node: not edge(x, x)\n",
            ["has no predicted atoms"],
        ),
    ],
)
def test_a_constraints_file_the_sampler_cannot_ground_is_named_before_training(tmp_path, text, fragments):
    theory = tmp_path / "mine.ns"
    theory.write_text(text)
    with pytest.raises(DataError) as caught:
        train(tiny(tmp_path / "run", f"semantic.constraints={theory}", "optim.max_steps=1"))
    message = str(caught.value)
    assert message.startswith(f"{theory}: ")
    for fragment in fragments:
        assert fragment in message
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


@pytest.fixture(scope="module")
def tiny_batch(tmp_path_factory):
    config = tiny(tmp_path_factory.mktemp("batch"))
    torch.manual_seed(0)
    head = build_head(config.model, config.prompt, torch.device("cpu"))
    term = SemanticTerm.compile(config.semantic, "transitivity")
    rows = TrainingData.load(config.data).supervised[:4]
    return head, term, rows, term.sample(rows, random.Random(0))


def test_semantic_term_gradient_is_finite_nonzero_and_its_own(tiny_batch):
    head, term, rows, asked = tiny_batch
    trainable = [p for p in head.parameters() if p.requires_grad]
    grads = {}
    for part in ("ce", "sl"):
        head.zero_grad()
        ce, sl, impossible = losses(ask(head, head, rows, asked), rows, term, asked)
        (ce if part == "ce" else sl).backward()
        grads[part] = torch.cat([p.grad.flatten() for p in trainable])
        assert impossible == 0
    assert torch.isfinite(grads["sl"]).all() and grads["sl"].norm() > 0
    assert not torch.allclose(grads["sl"], grads["ce"])


def test_impossible_subsets_are_counted_and_left_out_of_the_mean(tiny_batch):
    head, term, rows, asked = tiny_batch
    two_cycle = nx.DiGraph([("a", "b"), ("b", "a"), ("b", "c")])  # edge both ways: no model of asymmetry
    impossible = term.sampler.ground(two_cycle, ["a", "b", "c"])
    z = torch.zeros(sum(len(s.queries) for _, s in asked) + len(impossible.queries), requires_grad=True)
    mean, count = term(z, [*asked, ("premise", impossible)])
    assert count == 1
    alone, _ = term(z[: -len(impossible.queries)], asked)
    assert mean.item() == pytest.approx(alone.item())
    mean.backward()
    assert torch.isfinite(z.grad).all() and z.grad[-len(impossible.queries) :].abs().sum() == 0


def test_violations_flag_exactly_the_inconsistent_answer_sets(tiny_batch):
    _, term, _, asked = tiny_batch
    truth = [bool(t) for _, sample in asked for t in sample.targets()]
    assert not any(c.violated for c in check_answers(term.circuit, asked, truth))  # the graph's own answers fit
    all_no = [c.violated for c in check_answers(term.circuit, asked, [False] * len(truth))]
    has_edge = [
        any(sample.evidence[i] for i in sample.evidence if term.circuit.variables[i].startswith("edge"))
        for _, sample in asked
    ]
    assert all_no == has_edge  # "No" to everything breaks edge(x,y) → causes(x,y) iff an edge is seen


def test_pull_is_the_mean_downhill_slope_and_points_away_from_a_rejected_collapse(tiny_batch):
    _, term, _, asked = tiny_batch
    n = sum(len(s.queries) for _, s in asked)
    for value in (-6.0, 0.0, 6.0):
        z, h = torch.full((n,), value, dtype=torch.float64), 1e-4
        slope = (term(z + h, asked)[0] - term(z - h, asked)[0]).item() / (2 * h)
        assert term.pull(z, asked) == pytest.approx(-slope / n, rel=1e-4, abs=1e-9)
    assert term.pull(torch.full((n,), 6.0), asked) < 0  # always-Yes breaks asymmetry on every subset
    assert term.pull(torch.full((n,), -6.0), asked) > 0  # always-No breaks edge(x,y) → causes(x,y)


def test_dseparation_term_pulls_undecided_beliefs_toward_no():
    """Most atoms of a d-separation subset are not d-separated, and the template knows it: at
    P(Yes) = 0.5 the term alone lowers P(Yes), which is why the adaptive rule can ask `against_pull`."""
    config = load_config(None, ["data.task=dseparation", "semantic.k=3"])
    term = SemanticTerm.compile(config.semantic, "dseparation")
    asked = term.sample(generate("dseparation", "train", 48, seed=0), random.Random(0), max_queries=2)
    truth = torch.cat([sample.targets() for _, sample in asked])
    assert truth.mean() < 0.3
    assert term.pull(torch.zeros(len(truth)), asked) < 0


def test_demo_quick_prints_the_untuned_and_both_trained_reports(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--quick", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for text in ("untuned", "baseline (λ = 0)", "semantic loss", "balanced accuracy", "constraint violations"):
        assert text in result.output
    assert "demo finished" in result.output and "accuracy, 95% interval" in result.output
    dev = TrainingData.load(load_config(resource_dir("experiments") / "tiny.yaml").data).dev
    row = next(line for line in result.output.splitlines() if "dev questions" in line)
    assert row.split("│")[2:5] == [f" {len(dev)} ".rjust(len(cell)) for cell in row.split("│")[2:5]]
    for run in ("baseline", "semantic"):
        assert "dev" in records(tmp_path / run)[-1]
