"""Asking a model questions about a premise: what `neurosym ask` prints, as a library call.

    answers = ask("runs/strong", "A causes B. B causes C.", ["Does A cause C?", "Does C cause A?"])
    answers[0].answer, answers[0].p_yes          # "Yes" or "No", and the model's P(Yes)

The model is anything `neurosym eval` takes (a run folder, "tiny", "gemma3-270m", a local model
folder, a baseline) or an already loaded `Predictor`, which repeated calls should pass to load the
weights once. Every question is parsed against its premise first, so a question about a node that
no premise sentence names is an error that names it, not an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from neurosym.causal import Question, load_questions
from neurosym.errors import DataError
from neurosym.eval.predictors import Predictor


@dataclass(frozen=True)
class Answer:
    """One question, the model's P(Yes) and its 0/1 answer; ``label`` when the question came with one."""

    question: Question
    p_yes: float

    @property
    def answer(self) -> str:
        return "Yes" if self.p_yes > 0.5 else "No"

    @property
    def correct(self) -> bool | None:
        """Whether the answer matches the question's label (None without one)."""
        return None if self.question.label is None else self.answer == self.question.label

    def to_dict(self) -> dict:
        return {
            "premise": self.question.premise,
            "question": self.question.question,
            "answer": self.answer,
            "p_yes": self.p_yes,
            "label": self.question.label,
        }


def ask(
    model: str | Path | Predictor, premise: str, questions: Sequence[str], *, batch_size: int = 16, device: str = "auto"
) -> list[Answer]:
    """The model's answers to ``questions`` about ``premise``, in order."""
    if isinstance(questions, str):
        raise DataError("questions must be a list of strings, got one string; wrap it in a list")
    return ask_questions(
        model, [Question.parse(premise, text) for text in questions], batch_size=batch_size, device=device
    )


def ask_file(
    model: str | Path | Predictor,
    path: str | Path,
    *,
    limit: int | None = None,
    batch_size: int = 16,
    device: str = "auto",
) -> list[Answer]:
    """The model's answers to the questions of a data file (any format `neurosym eval` reads)."""
    questions = list(load_questions(path))[:limit]
    if not questions:
        raise DataError(f"{path}: no question could be read from it")
    return ask_questions(model, questions, batch_size=batch_size, device=device)


def ask_questions(
    model: str | Path | Predictor, questions: Sequence[Question], *, batch_size: int = 16, device: str = "auto"
) -> list[Answer]:
    """The model's answers to parsed questions: one batched call, questions of a premise together."""
    predictor = _predictor(model, batch_size, device)
    p_yes = predictor.predict([q.premise for q in questions], [q.question for q in questions]) if questions else []
    return [Answer(question, float(p)) for question, p in zip(questions, p_yes)]


def _predictor(model: str | Path | Predictor, batch_size: int, device: str) -> Predictor:
    if hasattr(model, "predict"):
        return model
    from neurosym.eval.runs import load_target

    return load_target(str(model), batch_size=batch_size, device=device).predictor
