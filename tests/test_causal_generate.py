"""Generators: determinism, balance, family shapes, split disjointness; the `neurosym data` commands."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from neurosym.causal import (
    CASES,
    FAMILIES,
    SPLITS,
    TASKS,
    GraphFacts,
    answer_case,
    families_for,
    generate,
    load_questions,
    premise_split,
)
from neurosym.cli import app
from neurosym.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures" / "public_formats"  # written by fixtures/write_public_formats.py


def _edges(premise: str) -> list[tuple[str, str]]:
    return [tuple(s.strip().split(" causes ")) for s in premise.split(".") if s.strip()]


def _networkx_truth(premise: str, query) -> bool:
    """The answer recomputed from the premise text with networkx alone."""
    graph = nx.DiGraph(_edges(premise))
    if len(query) == 2:
        return query[0] != query[1] and nx.has_path(graph, *query)
    return nx.is_d_separator(graph, {query[0]}, {query[1]}, set(query[2]))


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_questions_other_seed_other_questions(task):
    first = generate(task, "train", 60, seed=3)
    assert first == generate(task, "train", 60, seed=3)
    assert [q.premise for q in first] != [q.premise for q in generate(task, "train", 60, seed=4)]


@pytest.mark.parametrize(("task", "split"), [(t, s) for t in TASKS for s in SPLITS])
def test_labels_are_balanced_and_true(task, split):
    questions = generate(task, split, 140, seed=1)
    assert len(questions) == 140
    assert Counter(q.label for q in questions) == {"Yes": 70, "No": 70}
    for family, count in Counter(q.family for q in questions).items():
        yes = sum(q.label == "Yes" for q in questions if q.family == family)
        assert abs(2 * yes - count) <= 1, family
    for q in questions:
        assert q.label == ("Yes" if _networkx_truth(q.premise, q.query) else "No")
        assert q.split == split and q.task == task
    assert len({(q.premise, q.question) for q in questions}) == len(questions)


def test_other_balances_and_the_natural_distribution():
    assert Counter(q.label for q in generate("transitivity", "train", 100, yes_fraction=0.3)) == {"Yes": 30, "No": 70}
    natural = generate("dseparation", "eval", 90, seed=2, yes_fraction=None)
    assert len(natural) == 90 and len({q.premise for q in natural}) == 90  # one question per graph


@pytest.mark.parametrize("task", TASKS)
def test_per_size_gives_every_graph_size_its_balanced_share(task):
    family = families_for(task, "eval")[0]
    questions = generate(task, "eval", 6 * len(family.sizes), seed=5, families=[family.name], per_size=True)
    for size in family.sizes:
        labels = Counter(q.label for q in questions if q.nodes == size)
        assert labels == {"Yes": 3, "No": 3}, size
    assert questions == generate(task, "eval", 6 * len(family.sizes), seed=5, families=[family.name], per_size=True)


@pytest.mark.parametrize(("task", "name"), sorted(FAMILIES))
def test_family_shapes(task, name):
    family = FAMILIES[task, name]
    split = "eval" if family.split == "eval" else "train"
    questions = generate(task, split, 40, seed=5, families=[name])
    for q in questions:
        edges = _edges(q.premise)
        graph = nx.DiGraph(edges)
        assert q.nodes == graph.number_of_nodes() and q.nodes in family.sizes
        assert len(edges) == graph.number_of_edges()  # no sentence repeated
        assert nx.is_directed_acyclic_graph(graph) and nx.is_weakly_connected(graph)
        assert all(family.name_length[0] <= len(v) <= family.name_length[1] for v in graph)
        if family.shape == "chain":
            assert len(edges) == q.nodes - 1 and max(d for _, d in graph.to_undirected().degree) <= 2
            if family.flip == 0:
                assert max(d for _, d in graph.out_degree) <= 1
                assert max(d for _, d in graph.in_degree) <= 1
        if family.order == "reversed":
            assert all(later[1] == earlier[0] for earlier, later in zip(edges, edges[1:]))
        if family.order == "forward" and family.shape == "chain" and family.flip == 0:
            assert all(later[0] == earlier[1] for earlier, later in zip(edges, edges[1:]))
        if family.branching is not None:
            n = q.nodes
            assert len(edges) == min(round(family.branching * n), n * (n - 1) // 2)
        if task == "dseparation":
            assert len(q.query[2]) <= family.max_given
    if task == "dseparation":
        assert max(len(q.query[2]) for q in questions) == family.max_given


def test_shuffled_order_differs_from_chain_order():
    questions = generate("transitivity", "eval", 60, seed=0, families=["shuffled"])
    in_chain_order = 0
    for q in questions:
        edges = _edges(q.premise)
        in_chain_order += all(set(a) & set(b) for a, b in zip(edges, edges[1:]))
    assert in_chain_order < len(questions)


def test_no_premise_graph_is_shared_between_splits():
    seen: dict[str, set] = {split: set() for split in SPLITS}
    for task in TASKS:
        for seed in (0, 1):
            for split in SPLITS:
                for q in generate(task, split, 300, seed=seed):
                    seen[split].add(frozenset(_edges(q.premise)))
                    assert premise_split(q.graph) == split
    assert not seen["train"] & seen["eval"] and not seen["dev"] & seen["eval"] and not seen["train"] & seen["dev"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcdef"), st.sampled_from("ghij")), min_size=1, max_size=8, unique=True),
    st.randoms(use_true_random=False),
)
def test_a_premise_split_ignores_sentence_order(edges, rng):
    shuffled = list(edges)
    rng.shuffle(shuffled)
    assert premise_split(nx.DiGraph(edges)) == premise_split(nx.DiGraph(shuffled))


def test_bad_choices_raise_data_errors():
    with pytest.raises(DataError, match="no transitivity family 'chain_long' for split 'train'"):
        generate("transitivity", "train", 10, families=["chain_long"])
    with pytest.raises(DataError, match="unknown task"):
        families_for("causality", "train")
    with pytest.raises(DataError, match="Yes fraction"):
        generate("transitivity", "train", 10, yes_fraction=1.5)


# ---- the `neurosym data` commands -------------------------------------------------------------
def test_generate_then_stats(tmp_path):
    runner = CliRunner()
    out = tmp_path / "eval.jsonl"
    done = runner.invoke(
        app,
        [
            "data",
            "generate",
            "--task",
            "dseparation",
            "--split",
            "eval",
            "--n",
            "30",
            "--seed",
            "2",
            "--family",
            "branching_2",
            "-o",
            str(out),
        ],
    )
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 30 and {r["family"] for r in rows} == {"branching_2"} and {r["seed"] for r in rows} == {2}
    shown = runner.invoke(app, ["data", "stats", str(out), str(FIXTURES / "transitivity_chain_8.pkl")])
    assert shown.exit_code == 0, shown.output
    assert "15/15" in shown.output and "3/3" in shown.output and "branching_2" in shown.output
    cases = Counter(answer_case(GraphFacts(q.graph), q.task, q.query) for q in load_questions(out).questions)
    table = runner.invoke(app, ["data", "stats", str(out)]).output.split("by answer case")[1]
    for case, rows in cases.items():
        assert re.search(rf"│ dseparation +│ {case} +│ (Yes|No) +│ {rows} +│", table), (case, table)


def test_stats_reports_rejects_and_disagreements_and_fails_on_unreadable(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"prompt": "Premise: A causes B. Does B cause A?", "completion": "Yes"})
        + "\n"
        + json.dumps({"prompt": "Premise: A causes B. B causes A. Does A cause B?", "completion": "Yes"})
        + "\n"
    )
    result = CliRunner().invoke(app, ["data", "stats", str(bad), str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 1
    assert "bad.jsonl:2: premise describes a cycle" in result.output.replace("\n", "")
    assert "Does B cause A? labelled Yes, the premise says No" in result.output.replace("\n", " ")
    assert "cannot read" in result.output and "Traceback" not in result.output
    alone = CliRunner().invoke(app, ["data", "stats", str(tmp_path / "missing.jsonl")])
    assert alone.exit_code == 1 and "cannot read" in alone.output and "Yes/No" not in alone.output


def test_generate_reports_bad_options_without_traceback(tmp_path):
    result = CliRunner().invoke(
        app, ["data", "generate", "--task", "dseparation", "--family", "nope", "-o", str(tmp_path / "x.jsonl")]
    )
    assert result.exit_code == 1 and "no dseparation family 'nope'" in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_audit_command_prints_the_constraint_table():
    result = CliRunner().invoke(app, ["data", "audit", "--task", "transitivity", "--graphs", "40", "--k", "3"])
    assert result.exit_code == 0, result.output
    for name in ("direct", "transitive", "asymmetric", "(all)"):
        assert name in result.output


def test_audit_of_a_theory_the_sampler_cannot_ground_names_its_file(tmp_path):
    theory = tmp_path / "labels.ns"
    theory.write_text("domain Node\npredicted label(Node)\nconstraint c: exactly 1 x in Node: label(x)\n")
    result = CliRunner().invoke(app, ["data", "audit", "--theory", str(theory), "--graphs", "5", "--k", "3"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{theory}: unknown predicted predicate 'label'" in result.output.replace("\n", "")


@pytest.mark.parametrize("task", TASKS)
def test_per_graph_asks_more_of_each_premise_and_stays_balanced_and_true(task):
    assert generate(task, "train", 80, seed=5, per_graph=1) == generate(task, "train", 80, seed=5)
    questions = generate(task, "train", 120, seed=5, per_graph=3)
    assert len(questions) == 120 and Counter(q.label for q in questions) == {"Yes": 60, "No": 60}
    per_premise = Counter(q.premise for q in questions)
    assert max(per_premise.values()) > 2  # one question per label per graph gives at most 2
    for premise in per_premise:
        labels = Counter(q.label for q in questions if q.premise == premise)
        assert max(labels.values()) <= 3, premise
    for q in questions:
        assert q.label == ("Yes" if _networkx_truth(q.premise, q.query) else "No")
    assert len({(q.premise, q.question) for q in questions}) == len(questions)
    with pytest.raises(DataError, match="at least 1"):
        generate(task, "train", 10, per_graph=0)


@pytest.mark.parametrize("task", TASKS)
def test_balanced_cases_ask_the_rare_cases_as_often_as_the_graphs_allow(task):
    natural = generate(task, "train", 600, seed=4, per_graph=3)
    balanced = generate(task, "train", 600, seed=4, per_graph=3, balance_cases=True)
    assert balanced == generate(task, "train", 600, seed=4, per_graph=3, balance_cases=True)  # reproducible
    assert Counter(q.label for q in balanced) == {"Yes": 300, "No": 300}
    assert len({(q.premise, q.question) for q in balanced}) == 600
    for q in balanced:
        assert q.label == ("Yes" if _networkx_truth(q.premise, q.query) else "No")

    def cases(questions):
        return Counter(answer_case(GraphFacts(q.graph), q.task, q.query) for q in questions)

    before, after = cases(natural), cases(balanced)
    for answer in (True, False):
        kinds = [case for case, truth in CASES[task].items() if truth == answer and case in before]
        rarest = min(kinds, key=before.__getitem__)
        assert after[rarest] >= 2 * before[rarest], (rarest, before, after)
        if task == "dseparation":  # short chains and DAGs give every d-separation case but unlinked
            assert max(after[c] for c in kinds) < 2 * min(after[c] for c in kinds), after
            assert max(before[c] for c in kinds) > 3 * min(before[c] for c in kinds), before


def test_generate_balances_cases_on_request(tmp_path):
    out = tmp_path / "train.jsonl"
    args = ["data", "generate", "--task", "dseparation", "--n", "40", "--seed", "3", "-o", str(out)]
    done = CliRunner().invoke(app, [*args, "--balance-cases"])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line)["question"] for line in out.read_text().splitlines()]
    assert rows == [q.question for q in generate("dseparation", "train", 40, seed=3, balance_cases=True)]
    assert rows != [q.question for q in generate("dseparation", "train", 40, seed=3)]
