"""`neurosym ask` and `neurosym.eval.ask`: answers with P(Yes), from a premise or a file."""

import json

import pytest
from typer.testing import CliRunner

from neurosym.causal import generate, write_questions
from neurosym.cli import app
from neurosym.errors import DataError
from neurosym.eval.ask import ask, ask_file
from neurosym.eval.runs import load_target
from neurosym.model import YesNoHead, tiny_gemma3

PREMISE = "A causes B. B causes C. D causes C."
QUESTIONS = ["Does A cause C?", "Does C cause A?", "Does A cause D?", "Are A and D d-separated?"]
runner = CliRunner()


def test_the_oracle_answers_every_question_right():
    answers = ask("baseline:oracle", PREMISE, QUESTIONS)
    assert [a.answer for a in answers] == ["Yes", "No", "No", "Yes"]
    assert [a.question.question for a in answers] == QUESTIONS and all(a.correct is None for a in answers)


def test_a_model_is_asked_exactly_as_its_head_predicts():
    model, tokenizer = tiny_gemma3()
    expected = YesNoHead(model, tokenizer).predict([PREMISE] * len(QUESTIONS), QUESTIONS).tolist()
    loaded = load_target("tiny", device="cpu").predictor
    answers = ask(loaded, PREMISE, QUESTIONS)
    assert [a.p_yes for a in answers] == pytest.approx(expected, abs=1e-6)
    assert [a.answer for a in answers] == ["Yes" if p > 0.5 else "No" for p in expected]


def test_a_question_about_an_unknown_node_is_an_error_naming_it():
    with pytest.raises(DataError, match="mentions 'E', which no premise sentence names"):
        ask("baseline:oracle", PREMISE, ["Does A cause E?"])
    with pytest.raises(DataError, match="got one string"):
        ask("baseline:oracle", PREMISE, "Does A cause C?")


def test_command_line_premise_json_and_file(tmp_path):
    table = runner.invoke(app, ["ask", "baseline:oracle", "--premise", PREMISE, *QUESTIONS[:2]])
    assert table.exit_code == 0, table.output
    rows = [line for line in table.output.splitlines() if "Does" in line]
    assert "Yes" in rows[0] and "1.000" in rows[0] and "No" in rows[1] and "0.000" in rows[1]

    lines = runner.invoke(app, ["ask", "baseline:always-no", "--premise", PREMISE, "--json", *QUESTIONS])
    records = [json.loads(line) for line in lines.output.splitlines()]
    assert [r["question"] for r in records] == QUESTIONS and {r["answer"] for r in records} == {"No"}

    questions = generate("transitivity", "dev", 10, seed=1)
    path = tmp_path / "dev.jsonl"
    write_questions(path, questions)
    labelled = runner.invoke(app, ["ask", "baseline:oracle", "--file", str(path), "--limit", "6"])
    assert labelled.exit_code == 0, labelled.output
    assert "6 of 6 answers match their labels" in labelled.output
    wrong = ask_file("baseline:always-no", path)
    assert sum(a.correct for a in wrong) == sum(q.label == "No" for q in questions)


@pytest.mark.parametrize(
    "args, message",
    [
        (["baseline:oracle", "Does A cause C?"], "give either --premise with questions, or --file"),
        (["baseline:oracle", "--premise", PREMISE], "--premise needs at least one question"),
        (["baseline:oracle", "--premise", "A causes", "Does A cause C?"], "A causes"),
        (["baseline:oracle", "--file", "missing.jsonl"], "data file not found: missing.jsonl"),
    ],
)
def test_command_line_mistakes_are_messages(args, message):
    result = runner.invoke(app, ["ask", *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
