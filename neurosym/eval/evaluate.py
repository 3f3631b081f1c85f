"""Run a predictor over question files and break its answers down every way collapse can hide.

The result is the content of ``eval.json``. Every level — ``overall``, each file (``per_file``),
each split/family (``per_family``), each graph size (``per_size``, and ``per_size`` inside every
file and family) — carries the metrics of `BinaryMetrics.to_dict` (``balanced_accuracy``, ``mcc``,
``yes_rate`` …), ``roc_auc`` (how well P(Yes) ranks the questions whatever the threshold),
``premise_auc`` (the same within each premise of a file; both None for the constrained answers,
which have no score) and the verdict's ``collapsed``, ``status``, ``reasons``. The gold answer is
the file's label, or the graph's answer for an unlabeled question.

``per_case`` (overall, and inside every file and family) holds, per task and answer case
(`neurosym.causal.cases`: what in the graph decides the answer, e.g. ``adjacent`` or
``backward-2``), the questions, the accuracy with its Wilson interval and the mean P(Yes). A case
has one true answer, so accuracy is what it can say; no verdict is given on it.

The overall verdict is strict: it is collapsed when the pooled answers are, or when any file's are
(a model may answer well on one task and say "No" to everything on another).

``predictions`` holds one entry per question (file, position in it, family, size, question, gold
answer, P(Yes), answer, case), so a suspected shortcut can be checked against the questions themselves;
`write_eval` puts it in ``predictions.jsonl`` beside eval.json rather than inside it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

from neurosym.causal import TASKS, GraphFacts, Question, load_questions
from neurosym.causal.cases import answer_case, case_order
from neurosym.errors import DataError
from neurosym.eval.consistency import check_consistency
from neurosym.eval.constrained import constrained_answers
from neurosym.eval.metrics import wilson_interval
from neurosym.eval.sensitivity import context_sensitivity
from neurosym.eval.verdict import answer_report

MAX_REJECTS_SHOWN = 5


@dataclass(frozen=True)
class EvalSettings:
    task: str | None = None  # keep only this task's questions; None = every task in the files
    k: int = 3  # template size for consistency and constrained prediction
    subsets: int = 32  # sampled subsets per file and task for the consistency check (0 = skip)
    edits: int = 64  # questions per file given a minimal premise edit (0 = skip)
    constrained: bool = False
    limit: int | None = None  # evaluate at most this many questions per file
    seed: int = 0

    def check(self) -> None:
        if self.task is not None and self.task not in TASKS:
            raise DataError(f"unknown task {self.task!r}; choose from: {', '.join(TASKS)}")
        for name in ("k", "subsets", "edits", "limit"):
            value = getattr(self, name)
            if value is not None and value < (2 if name == "k" else 0):
                raise DataError(f"--{name} must be at least {2 if name == 'k' else 0}, got {value}")


@dataclass(frozen=True)
class Row:
    """One evaluated question: where it came from and its gold answer."""

    file: str
    question: Question
    gold: bool

    @property
    def family(self) -> str:
        q = self.question
        family = q.family or Path(self.file).stem
        return f"{q.split}/{family}" if q.split else family

    @cached_property
    def case(self) -> str:
        """What in the premise graph decides the answer (`neurosym.causal.cases`)."""
        return answer_case(GraphFacts(self.question.graph), self.question.task, self.question.query)


def load_rows(paths: Sequence[str | Path], settings: EvalSettings) -> tuple[list[Row], dict[str, dict]]:
    """Every question of every file (at most ``limit`` per file), and per-file loading facts."""
    if not paths:
        raise DataError("no data files given; pass --data FILE (repeatable)")
    rows: list[Row] = []
    loaded: dict[str, dict] = {}
    for path in paths:
        result = load_questions(path, settings.task)
        name = str(path)
        if name in loaded:
            raise DataError(f"{name} is given twice")
        questions = result.questions[: settings.limit] if settings.limit is not None else result.questions
        loaded[name] = {
            "sha256": result.sha256,
            "format": result.format,
            "rejected": len(result.rejects),
            "skipped": result.skipped,
            "label_disagreements": len(result.disagreements()),
            "rejects": [str(r) for r in result.rejects[:MAX_REJECTS_SHOWN]],
        }
        rows += [Row(name, q, (q.label or q.truth_label) == "Yes") for q in questions]
    if not rows:
        which = f" of task {settings.task!r}" if settings.task else ""
        raise DataError(f"no questions{which} to evaluate in {', '.join(map(str, paths))}")
    return rows, loaded


def _entry(rows: Sequence[Row], answers: Sequence[bool], scores: Sequence[float] | None) -> dict:
    return answer_report([r.gold for r in rows], answers, scores, [(r.file, r.question.premise) for r in rows])


def _grouped(rows: Sequence[Row], key) -> dict[str, list[int]]:
    """The positions of ``rows`` by ``key(row)``, groups in order of first appearance."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[key(row)].append(i)
    return dict(groups)


def _picked(positions: Sequence[int], *columns: Sequence | None) -> list[list | None]:
    return [None if column is None else [column[i] for i in positions] for column in columns]


def _by_size(rows: Sequence[Row], answers: Sequence[bool], scores: Sequence[float] | None) -> dict[str, dict]:
    groups = _grouped(rows, lambda r: r.question.nodes)
    return {str(size): _entry(*_picked(groups[size], rows, answers, scores)) for size in sorted(groups)}


def _by_case(rows: Sequence[Row], answers: Sequence[bool], scores: Sequence[float] | None) -> dict[str, dict]:
    """task → case → questions, accuracy, its Wilson interval and the mean P(Yes), cases in `CASES` order."""
    groups = _grouped(rows, lambda r: (r.question.task, r.case))
    table: dict[str, dict] = {}
    for task, case in sorted(groups, key=case_order):
        group_rows, group_answers, group_scores = _picked(groups[task, case], rows, answers, scores)
        right = sum(row.gold == answer for row, answer in zip(group_rows, group_answers))
        table.setdefault(task, {})[case] = {
            "n": len(group_rows),
            "accuracy": right / len(group_rows),
            "interval": list(wilson_interval(right, len(group_rows))),
            "mean_p_yes": None if group_scores is None else sum(group_scores) / len(group_scores),
        }
    return table


def breakdown(rows: Sequence[Row], answers: Sequence[bool], scores: Sequence[float] | None) -> dict:
    """``overall``, ``per_file``, ``per_family``, ``per_size`` and ``per_case`` entries for one set of answers;
    ``scores`` (P(Yes), or None for answers that have none) give each entry's ``roc_auc``."""
    levels = {
        "overall": _entry(rows, answers, scores),
        "per_file": {},
        "per_family": {},
        "per_size": _by_size(rows, answers, scores),
        "per_case": _by_case(rows, answers, scores),
    }
    for level, key in (("per_file", lambda r: r.file), ("per_family", lambda r: r.family)):
        groups = _grouped(rows, key)
        for name in groups if level == "per_file" else sorted(groups):  # files in the order given
            group = _picked(groups[name], rows, answers, scores)
            tasks = sorted({r.question.task for r in group[0]})
            levels[level][name] = {
                **_entry(*group),
                "tasks": tasks,
                "per_size": _by_size(*group),
                "per_case": _by_case(*group),
            }
    overall = levels["overall"]
    bad = [name for name, entry in levels["per_file"].items() if entry["flagged"]]
    if bad and len(levels["per_file"]) > 1:
        statuses = sorted({levels["per_file"][name]["status"] for name in bad})
        overall["reasons"] = [
            *overall["reasons"],
            f"{' or '.join(statuses)} on {len(bad)} of {len(levels['per_file'])} "
            f"files: {', '.join(Path(name).name for name in bad)}",
        ]
        if not overall["flagged"]:  # strict: a flagged file flags the whole evaluation
            status = "collapsed" if "collapsed" in statuses else "inverted"
            overall.update(collapsed=status == "collapsed", inverted=status == "inverted", flagged=True, status=status)
    return levels


def predictions(rows: Sequence[Row], p_yes: Sequence[float], answers: Sequence[bool]) -> list[dict]:
    """One record per question, in the order evaluated; ``index`` counts the questions kept from its file.
    ``p_yes`` is kept unrounded, so that the scores recomputed from these records equal eval.json's."""
    seen: dict[str, int] = defaultdict(int)
    records = []
    for row, p, answer in zip(rows, p_yes, answers):
        q = row.question
        records.append(
            {
                "file": row.file,
                "index": seen[row.file],
                "task": q.task,
                "family": row.family,
                "nodes": q.nodes,
                "question": q.question,
                "gold": "Yes" if row.gold else "No",
                "p_yes": float(p),
                "answer": "Yes" if answer else "No",
                "case": row.case,
            }
        )
        seen[row.file] += 1
    return records


def _circuit(task: str, k: int):
    import neurosym as ns
    from neurosym.resources import constraint_path

    return ns.compile(constraint_path(f"causal/{task}.ns"), {"Node": k})


def evaluate(predictor, paths: Sequence[str | Path], settings: EvalSettings = EvalSettings()) -> dict:
    """The whole evaluation of ``predictor`` on ``paths``: see the module docstring."""
    settings.check()
    rows, loaded = load_rows(paths, settings)
    needed = settings.subsets or settings.constrained
    circuits = {task: _circuit(task, settings.k) for task in sorted({r.question.task for r in rows})} if needed else {}
    started = time.perf_counter()
    p_yes = predictor.predict([r.question.premise for r in rows], [r.question.question for r in rows])
    answers = [p > 0.5 for p in p_yes]
    result = {
        "model": predictor.name,
        "settings": asdict(settings),
        "files": list(loaded),
        **breakdown(rows, answers, p_yes),
    }
    for name, facts in loaded.items():  # a file with no question of the task keeps an empty entry
        empty = {**_entry([], [], []), "tasks": [], "per_size": {}, "per_case": {}}
        result["per_file"].setdefault(name, empty).update(facts)
    consistency, sensitivity = {}, {}
    for name, in_file in _grouped(rows, lambda r: r.file).items():
        file_rows = [rows[i] for i in in_file]
        for task, in_task in _grouped(file_rows, lambda r: r.question.task).items():
            questions = [file_rows[i].question for i in in_task]
            if settings.subsets:
                report = check_consistency(predictor, questions, circuits[task], settings.subsets, settings.seed)
                consistency.setdefault(task, []).append(report)
                result["per_file"][name].setdefault("consistency", {})[task] = report.to_dict()
            if settings.edits:
                report = context_sensitivity(predictor, questions, settings.edits, settings.seed)
                sensitivity.setdefault(task, []).append(report)
                result["per_file"][name].setdefault("sensitivity", {})[task] = report.to_dict()
    result["consistency"] = {task: sum(reports[1:], reports[0]).to_dict() for task, reports in consistency.items()}
    result["sensitivity"] = {task: sum(reports[1:], reports[0]).to_dict() for task, reports in sensitivity.items()}
    result["constrained"] = _constrained(predictor, rows, answers, circuits, settings) if settings.constrained else None
    result["predictions"] = predictions(rows, p_yes, answers)
    prompts = (
        len(rows)
        + sum(c["prompts"] for c in result["consistency"].values())
        + sum(2 * s["edited"] for s in result["sensitivity"].values())
        + (result["constrained"]["prompts"] if result["constrained"] else 0)
    )
    seconds = time.perf_counter() - started
    result["timing"] = {"seconds": seconds, "prompts": prompts, "prompts_per_s": prompts / seconds if seconds else None}
    return result


def _constrained(
    predictor, rows: Sequence[Row], answers: Sequence[bool], circuits: dict, settings: EvalSettings
) -> dict:
    """The breakdown again, for the answers the circuit's MPE gives jointly."""
    joint_answers = list(answers)
    joint, prompts = 0, 0
    for task, circuit in circuits.items():
        positions = [i for i, r in enumerate(rows) if r.question.task == task]
        found = constrained_answers(
            predictor, [rows[i].question for i in positions], [answers[i] for i in positions], circuit, settings.seed
        )
        for i, answer in zip(positions, found.answers):
            joint_answers[i] = answer
        joint += found.joint
        prompts += found.prompts
    return {**breakdown(rows, joint_answers, None), "answered_jointly": joint, "prompts": prompts}
