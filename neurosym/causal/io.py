"""Reading the benchmark's file formats and writing neurosym's own, atomically.

Formats (detected from the file's content, not its name):

* ``pickle`` — a pickled ``dict[str, str]``: ``"<premise> <question>"`` → ``"Yes"``/``"No"``;
* ``premise_hypothesis`` — JSON lines ``{"premise", "hypothesis", "label"}``;
* ``prompt_completion`` — JSON lines ``{"prompt": "…Premise: <premise> <question>", "completion"}``;
* ``neurosym`` — JSON lines ``{"task", "split", "family", "nodes", "seed", "premise", "question",
  "label"}``; ``task``, ``premise``, ``question`` and ``label`` are required (``label`` may be
  null for an unlabeled question), the others optional.

A malformed row becomes a `Reject` naming file, row and reason, and reading goes on; only a file
that cannot be read at all (missing, not a pickle of a dict, no JSON object on any line) raises
DataError.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from neurosym.atomic import atomic_write_jsonl
from neurosym.causal.records import Question
from neurosym.causal.text import TASKS, Task, split_text
from neurosym.errors import DataError, Location

FORMATS = ("pickle", "premise_hypothesis", "prompt_completion", "neurosym")
_INSTRUCTION_END = "Premise:"


@dataclass(frozen=True)
class Reject:
    """A row that could not be read: where, why, and the row itself (clipped)."""

    file: str
    row: int
    reason: str
    value: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.reason}"


@dataclass
class LoadResult:
    """The questions of one file, with the row number of each and the rows that were rejected."""

    path: Path
    format: str
    questions: list[Question] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    skipped: int = 0  # well-formed rows of another task than the one asked for
    sha256: str = ""  # digest of the bytes read: eval.json keeps it, so runs compare after files move

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def disagreements(self) -> list[tuple[int, Question]]:
        """(row, question) for every loaded label that the graph contradicts."""
        return [(row, q) for row, q in zip(self.rows, self.questions) if q.agrees is False]


def load_questions(path: str | Path, task: Task | None = None) -> LoadResult:
    """Every question in ``path`` (any of `FORMATS`), keeping only ``task`` when one is given."""
    path = Path(path)
    if task is not None and task not in TASKS:
        raise DataError(f"unknown task {task!r}; choose from: {', '.join(TASKS)}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror or error}") from None
    if not data.strip():
        raise DataError(f"{path} is empty", Location(str(path), 1, 1))
    fmt, rows, rejects = _read_pickle(path, data) if data[:1] == b"\x80" else _read_jsonl(path, data)
    result = LoadResult(path, fmt, rejects=rejects, sha256=hashlib.sha256(data).hexdigest())
    convert = _CONVERTERS[fmt]
    for row, raw in rows:
        try:
            question = convert(raw)
        except DataError as error:
            result.rejects.append(Reject(str(path), row, error.message, _clip(raw)))
            continue
        if task is not None and question.task != task:
            result.skipped += 1
            continue
        result.questions.append(question)
        result.rows.append(row)
    result.rejects.sort(key=lambda reject: reject.row)
    return result


class _DictUnpickler(pickle.Unpickler):
    """Reads plain containers only: a pickle may not name any class or function to call."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"the pickle refers to {module}.{name}; only a plain dict[str, str] is read")


def _read_pickle(path: Path, data: bytes) -> tuple[str, list[tuple[int, object]], list[Reject]]:
    try:
        obj = _DictUnpickler(io.BytesIO(data)).load()
    except Exception as error:  # a corrupt pickle can fail in many ways; all mean "unreadable"
        raise DataError(f"{path} is not a readable pickle: {error}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds a pickled {type(obj).__name__}, expected a dict of question text → label")
    return "pickle", [(i, item) for i, item in enumerate(obj.items(), start=1)], []


def _read_jsonl(path: Path, data: bytes) -> tuple[str, list[tuple[int, object]], list[Reject]]:
    """The JSON object rows with their line numbers, the format their keys show, and the lines
    that are not JSON objects."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is neither a pickle nor UTF-8 JSON lines (byte {error.start} is not UTF-8)") from None
    rows: list[tuple[int, object]] = []
    rejects: list[Reject] = []
    fmt = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            rejects.append(
                Reject(str(path), number, f"not valid JSON ({error.msg}, column {error.colno})", _clip(line))
            )
            continue
        if not isinstance(obj, dict):
            rejects.append(Reject(str(path), number, f"expected a JSON object, got {type(obj).__name__}", _clip(line)))
            continue
        fmt = fmt or _detect(obj)
        rows.append((number, obj))
    if fmt is None:
        first = min([r.row for r in rejects] + [number for number, _ in rows], default=1)
        raise DataError(
            f"{path} has no JSON object rows in a known format ({', '.join(FORMATS)})", Location(str(path), first, 1)
        )
    return fmt, rows, rejects


def _detect(obj: dict) -> str | None:
    keys = set(obj)
    if {"task", "question"} <= keys:
        return "neurosym"
    if {"premise", "hypothesis"} <= keys:
        return "premise_hypothesis"
    if {"prompt", "completion"} <= keys:
        return "prompt_completion"
    return None


def _text(obj: dict, key: str) -> str:
    if key not in obj:
        raise DataError(f"row has no {key!r} field (fields: {', '.join(map(repr, obj)) or 'none'})")
    value = obj[key]
    if not isinstance(value, str):
        raise DataError(f"field {key!r} must be a string, got {value!r}")
    return value


def _from_pickle_item(item) -> Question:
    text, label = item
    if not isinstance(text, str):
        raise DataError(f"key must be the question text, got {text!r}")
    return Question.parse(*split_text(text), label)


def _from_premise_hypothesis(obj) -> Question:
    return Question.parse(_text(obj, "premise"), _text(obj, "hypothesis"), _text(obj, "label"))


def _from_prompt_completion(obj) -> Question:
    prompt = _text(obj, "prompt")
    _, marker, rest = prompt.partition(_INSTRUCTION_END)
    return Question.parse(*split_text(rest if marker else prompt), _text(obj, "completion"))


def _from_neurosym(obj) -> Question:
    task = _text(obj, "task")
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if "label" not in obj:
        raise DataError("row has no 'label' field (use null for an unlabeled question)")
    label = obj["label"]  # None: unlabeled; anything else must read as Yes/No
    meta = {key: obj.get(key) for key in ("split", "family")}
    for key, value in meta.items():
        if value is not None and not isinstance(value, str):
            raise DataError(f"field {key!r} must be a string, got {value!r}")
    question = Question.parse(_text(obj, "premise"), _text(obj, "question"), label, task=task, **meta)
    nodes = obj.get("nodes")
    if nodes is not None and nodes != question.nodes:
        raise DataError(f"field 'nodes' says {nodes!r}, but the premise names {question.nodes} nodes")
    return question


_CONVERTERS: dict[str, Callable[[object], Question]] = {
    "pickle": _from_pickle_item,
    "premise_hypothesis": _from_premise_hypothesis,
    "prompt_completion": _from_prompt_completion,
    "neurosym": _from_neurosym,
}


def _clip(raw, width: int = 160) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False) if isinstance(raw, dict) else repr(raw)
    return text if len(text) <= width else text[: width - 1] + "…"


def question_row(question: Question, seed: int | None = None) -> dict:
    """One question as a row of the neurosym format."""
    row = {
        "task": question.task,
        "split": question.split,
        "family": question.family,
        "nodes": question.nodes,
        "seed": seed,
        "premise": question.premise,
        "question": question.question,
        "label": question.label,
    }
    return {key: value for key, value in row.items() if value is not None or key == "label"}


def write_questions(path: str | Path, questions: Iterable[Question], seed: int | None = None) -> int:
    """Write ``questions`` as neurosym JSON lines; returns the row count. Atomic: a failure
    leaves whatever ``path`` held before untouched."""
    return atomic_write_jsonl(path, (question_row(q, seed) for q in questions))
