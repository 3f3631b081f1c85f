"""Loaders for the benchmark's public formats and neurosym's own, and the atomic writer."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import networkx as nx
import pytest
from fixtures.write_public_formats import write_public_formats

from neurosym.atomic import atomic_write_text
from neurosym.causal import Question, load_questions, write_questions
from neurosym.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures" / "public_formats"  # written by fixtures/write_public_formats.py
EXPECTED_FORMATS = {
    "transitivity_chain_8.pkl": ("pickle", "transitivity"),
    "transitivity_branching_8.pkl": ("pickle", "transitivity"),
    "dsep_branching_8.jsonl": ("premise_hypothesis", "dseparation"),
    "dsep_chain_8_prompt_completion.jsonl": ("prompt_completion", "dseparation"),
}


def _networkx_answer(premise: str, question: str) -> bool:
    """The label recomputed here from the raw texts, independently of the package's parser."""
    edges = [s.strip().split(" causes ") for s in premise.split(".") if s.strip()]
    graph = nx.DiGraph([tuple(e) for e in edges])
    words = question.rstrip("?").split()
    if words[0] == "Does":
        return words[1] != words[3] and nx.has_path(graph, words[1], words[3])
    given = question[question.index("{") + 1 : question.index("}")].split(", ") if "{" in question else []
    return nx.is_d_separator(graph, {words[1]}, {words[3]}, set(given))


@pytest.mark.parametrize("name", sorted(EXPECTED_FORMATS))
def test_public_fixtures_load_with_labels_that_match_networkx(name):
    result = load_questions(FIXTURES / name)
    fmt, task = EXPECTED_FORMATS[name]
    assert result.format == fmt and not result.rejects and result.skipped == 0
    assert len(result) == 6 and [q.label for q in result].count("Yes") == 3
    for question in result:
        assert question.task == task
        assert question.truth == _networkx_answer(question.premise, question.question)
        assert question.label == ("Yes" if question.truth else "No")
    assert result.disagreements() == []


def test_public_fixtures_are_what_their_script_writes(tmp_path):
    written = write_public_formats(tmp_path)
    assert [p.name for p in written] == sorted(EXPECTED_FORMATS)
    for path in written:
        assert path.read_bytes() == (FIXTURES / path.name).read_bytes(), path.name


def test_task_filter_skips_other_tasks():
    result = load_questions(FIXTURES / "dsep_branching_8.jsonl", task="transitivity")
    assert len(result) == 0 and result.skipped == 6


def test_malformed_rows_are_collected_with_file_and_row(tmp_path):
    rows = [
        json.dumps({"premise": "A causes B. B causes C", "hypothesis": "Does A cause C?", "label": "Yes"}),
        json.dumps({"premise": "A causes B. B causes A.", "hypothesis": "Does A cause B?", "label": "Yes"}),
        "{not json",
        "",
        json.dumps({"premise": "A causes B. B leads to C.", "hypothesis": "Does A cause B?", "label": "No"}),
        json.dumps({"premise": "A causes B.", "hypothesis": "Does A cause B?", "label": "maybe"}),
        json.dumps({"premise": "A causes B.", "label": "No"}),
        json.dumps(["a", "list"]),
        json.dumps({"premise": "A causes B. B causes C.", "hypothesis": "Does C cause A?", "label": "Yes"}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = load_questions(path)
    assert result.format == "premise_hypothesis"
    assert result.rows == [1, 9]
    reasons = {r.row: r.reason for r in result.rejects}
    assert sorted(reasons) == [2, 3, 5, 6, 7, 8]
    assert "'B causes A.'" in reasons[2] and "cycle" in reasons[2]
    assert "not valid JSON" in reasons[3]
    assert "'B leads to C.'" in reasons[5]
    assert "'maybe'" in reasons[6]
    assert "'hypothesis'" in reasons[7]
    assert all(str(r).startswith(f"{path}:{r.row}: ") for r in result.rejects)
    # Row 9 is readable but its label contradicts the graph: flagged, not rejected.
    assert [(row, q.question) for row, q in result.disagreements()] == [(9, "Does C cause A?")]


def test_pickle_rows_are_numbered_and_rejected_individually(tmp_path):
    path = tmp_path / "rows.pkl"
    path.write_bytes(
        pickle.dumps(
            {
                "x causes y. Does x cause y?": "Yes",
                "x causes y. y causes x. Does x cause y?": "Yes",
                "x causes y. Does y cause x?": "No",
            }
        )
    )
    result = load_questions(path)
    assert result.rows == [1, 3] and [r.row for r in result.rejects] == [2]


def test_a_pickle_that_names_a_class_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x causes y. Does x cause y?": Path("Yes")}))
    with pytest.raises(DataError, match="refers to"):
        load_questions(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe binary", "neither a pickle nor UTF-8"),
        (b"just some text\nmore text\n", "no JSON object rows"),
        (b'{"a": 1}\n', "no JSON object rows"),
        (pickle.dumps(["a list"]), "expected a dict"),
    ],
)
def test_entirely_unreadable_files_raise(tmp_path, content, message):
    path = tmp_path / "file"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        load_questions(path)
    assert str(path) in str(error.value)


def test_missing_file_raises():
    with pytest.raises(DataError, match="cannot read"):
        load_questions("/nonexistent/questions.jsonl")


def test_neurosym_format_round_trip_and_checks(tmp_path):
    questions = [
        Question.parse("A causes B. B causes C.", "Does A cause C?", "Yes", split="eval", family="chain"),
        Question.parse("A causes B. C causes B.", "Are A and C d-separated?", "Yes"),
        Question.parse("A causes B. C causes B.", "Are A and C d-separated given {B}?", None),
    ]
    path = tmp_path / "out" / "q.jsonl"
    assert write_questions(path, questions, seed=7) == 3
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's private mode
    assert rows[0] == {
        "task": "transitivity",
        "split": "eval",
        "family": "chain",
        "nodes": 3,
        "seed": 7,
        "premise": "A causes B. B causes C.",
        "question": "Does A cause C?",
        "label": "Yes",
    }
    assert rows[2]["label"] is None
    loaded = load_questions(path)
    assert loaded.format == "neurosym" and loaded.questions == questions

    rows[0]["nodes"] = 4
    rows[1]["task"] = "transitivity"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    reasons = {r.row: r.reason for r in load_questions(path).rejects}
    assert "'nodes' says 4" in reasons[1] and "dseparation question" in reasons[2]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "new \udcff")  # a lone surrogate cannot be encoded
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["q.jsonl"]
