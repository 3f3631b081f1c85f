"""Minimal premise edits flip the truth; a collapsed model never follows them, the oracle always."""

import networkx as nx
import pytest

from neurosym.causal import GraphFacts, Question, generate, parse_premise
from neurosym.eval.predictors import ConstantPredictor, OraclePredictor
from neurosym.eval.sensitivity import context_sensitivity, minimal_edit


@pytest.fixture(scope="module", params=["transitivity", "dseparation"])
def questions(request):
    return generate(request.param, "eval", 40, seed=5)


def test_every_edit_flips_the_networkx_answer_and_keeps_a_valid_premise(questions):
    edited = 0
    for q in questions:
        edit = minimal_edit(q)
        if edit is None:
            continue
        edited += 1
        graph, edges = parse_premise(edit.question.premise)  # parses: still a DAG of sentences
        assert nx.is_directed_acyclic_graph(graph)
        assert GraphFacts(graph).answer(q.task, q.query) != q.truth
        assert edit.question.truth != q.truth and edit.question.label == edit.question.truth_label
        assert edit.question.question == q.question and edit.question.family == q.family
        before = set(parse_premise(q.premise)[1])
        assert before - set(edges) == set(edit.removed) and set(edges) - before == set(edit.added)
        if edit.kind in ("remove", "reverse", "add"):
            assert len(edit.removed) + len(edit.added) == {"remove": 1, "reverse": 2, "add": 1}[edit.kind]
    assert edited >= 0.8 * len(questions)


def test_a_reversed_sentence_stays_in_place():
    q = Question.parse("A causes B. B causes C. D causes C.", "Does A cause C?", "Yes")
    edit = minimal_edit(q)
    assert edit.kind == "reverse" and edit.removed == (("A", "B"),)
    assert edit.question.premise == "B causes A. B causes C. D causes C."
    assert edit.question.label == "No"


def test_a_no_question_gets_the_missing_link():
    q = Question.parse("A causes B. C causes B.", "Does A cause C?", "No")
    edit = minimal_edit(q)
    assert edit.question.label == "Yes" and GraphFacts(edit.question.graph).causes("A", "C")


def test_several_paths_are_cut_with_the_fewest_removals():
    q = Question.parse("A causes B. B causes D. A causes C. C causes D.", "Does A cause D?", "Yes")
    edit = minimal_edit(q)
    assert edit.kind == "cut" and len(edit.removed) == 2 and edit.question.label == "No"


def test_collapsed_models_score_zero_and_the_oracle_one(questions):
    for predictor in (ConstantPredictor(True), ConstantPredictor(False)):
        report = context_sensitivity(predictor, questions, limit=30)
        assert report.edited > 20 and report.changed == 0 and report.sensitivity == 0.0
    oracle = context_sensitivity(OraclePredictor(), questions, limit=30)
    assert oracle.sensitivity == 1.0 and oracle.both_correct == oracle.edited
    assert sum(e for e, _ in oracle.by_kind.values()) == oracle.edited
