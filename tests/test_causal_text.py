"""Premise and question texts ⇄ graphs and queries, including the awkward cases of the benchmark."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosym.causal import Question, parse_premise, parse_question, render_premise, render_question, split_text
from neurosym.errors import DataError

NAMES = st.text(alphabet="abcXYZ019", min_size=1, max_size=3) | st.text(alphabet="qrsQRS78", min_size=8, max_size=10)


@st.composite
def dags(draw):
    """Edges of a DAG over distinct names, in a random sentence order."""
    names = draw(st.lists(NAMES, min_size=2, max_size=8, unique=True))
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    edges = draw(st.lists(st.sampled_from(pairs), min_size=1, unique=True))
    return draw(st.permutations(edges))


@settings(max_examples=150, deadline=None)
@given(dags(), st.booleans())
def test_premise_round_trip_in_any_order_with_or_without_final_period(edges, drop_period):
    text = render_premise(edges)
    graph, order = parse_premise(text[:-1] if drop_period else text)
    assert order == list(edges)
    assert set(graph.edges) == set(edges)
    assert nx.is_directed_acyclic_graph(graph)


def test_names_that_look_like_words_or_numbers():
    premise = "No causes yes. yes causes 9. Does causes No. 9 causes causes"
    graph, _ = parse_premise(premise)
    assert set(graph.edges) == {("No", "yes"), ("yes", "9"), ("Does", "No"), ("9", "causes")}
    question = Question.parse(premise, "Does Does cause causes?", "yes")
    assert question.query == ("Does", "causes") and question.label == "Yes" and question.truth
    assert Question.parse(premise, "Does No cause Does?").truth is False


def test_names_are_case_sensitive():
    graph, _ = parse_premise("a causes A. A causes b.")
    assert set(graph.nodes) == {"a", "A", "b"}
    assert Question.parse("a causes A. A causes b.", "Does a cause b?").truth
    with pytest.raises(DataError, match="'B'"):
        Question.parse("a causes A. A causes b.", "Does a cause B?")


@pytest.mark.parametrize(
    ("premise", "sentence"),
    [
        ("A causes B. B causes C. C causes A.", "C causes A."),
        ("A causes B. C causes C. B causes D", "C causes C."),
        ("X1 causes y. y causes X1", "y causes X1."),
    ],
)
def test_cycle_names_the_sentence_that_closes_it(premise, sentence):
    with pytest.raises(DataError, match="cycle") as error:
        parse_premise(premise)
    assert repr(sentence) in str(error.value)


@pytest.mark.parametrize(
    ("premise", "offending"),
    [
        ("A causes B. B affects C.", "B affects C."),
        ("A causes B C causes D.", "A causes B C causes D."),
        ("A causes", "A causes."),
    ],
)
def test_malformed_sentence_is_named(premise, offending):
    with pytest.raises(DataError) as error:
        parse_premise(premise)
    assert repr(offending) in str(error.value)


def test_question_forms_as_in_the_benchmark():
    assert parse_question("Does A cause B?") == ("transitivity", ("A", "B"))
    assert parse_question("Are A and B d-separated?") == ("dseparation", ("A", "B", frozenset()))
    assert parse_question("Are 0er and J d-separated given {9J, X1, w4P}?") == (
        "dseparation",
        ("0er", "J", frozenset({"9J", "X1", "w4P"})),
    )
    # Sets print in the benchmark's order: sorted as strings (digits, upper case, lower case).
    assert (
        render_question("dseparation", ("0DZ", "4", frozenset({"uHo", "p", "2lu", "d"})))
        == "Are 0DZ and 4 d-separated given {2lu, d, p, uHo}?"
    )
    assert render_question("dseparation", ("A", "B", frozenset())) == "Are A and B d-separated?"
    with pytest.raises(DataError, match="neither"):
        parse_question("Is A a cause of B?")


def test_split_text_finds_the_trailing_question():
    assert split_text("Does causes Does. Does Does cause Does?") == ("Does causes Does.", "Does Does cause Does?")
    assert split_text("A causes B Are A and B d-separated given {C}?") == (
        "A causes B",
        "Are A and B d-separated given {C}?",
    )
    with pytest.raises(DataError, match="no question"):
        split_text("A causes B. B causes C.")


def test_dseparation_questions_must_leave_the_pair_outside_the_set():
    with pytest.raises(DataError, match="outside the conditioning set"):
        Question.parse("A causes B. B causes C.", "Are A and C d-separated given {A}?")


def test_premise_questions_start_with_the_question_and_ask_each_ordered_pair_once():
    asked = Question.parse("A causes B. B causes C.", "Does A cause C?", "Yes")
    assert asked.premise_questions(3) == ["Does A cause C?", "Does A cause B?", "Does B cause A?"]
    every = asked.premise_questions(100)
    assert len(every) == len(set(every)) == 6  # the question's own pair is not asked twice
    assert [Question.parse(asked.premise, text).truth for text in every] == [True, True, False, True, False, False]
    given = Question.parse("A causes B. B causes C.", "Are A and C d-separated given {B}?")
    assert given.premise_questions(3) == [given.question, "Are A and B d-separated?", "Are A and C d-separated?"]
