"""Deterministic generators for the causal benchmark families.

Everything comes from ``random.Random`` seeded with a string (``"{seed}/{task}/{split}/{family}"``),
so a file is reproducible from its command line on any machine.

Two guarantees the original generator lacks:

* node names are unique within a graph (drawn without replacement), so no accidental cycles;
* no premise graph is shared between train, dev and eval, for any seeds: every graph has a
  split of its own, a hash of its edge list (`premise_split`), and a generator keeps only graphs
  of the split it is making. Reordering the sentences (the reversed and shuffled families) does
  not change the hash, so an evaluation premise is never a training graph in another order.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import networkx as nx

from neurosym.causal.cases import CASES, answer_case
from neurosym.causal.facts import GraphFacts
from neurosym.causal.io import write_questions
from neurosym.causal.records import Question, as_label
from neurosym.causal.text import TASKS, Query, Task, render_premise, render_question
from neurosym.errors import DataError

Split = Literal["train", "dev", "eval"]
SPLITS: tuple[Split, ...] = ("train", "dev", "eval")
# Hash buckets out of 20: 80% of all premise graphs belong to train, 10% to dev, 10% to eval.
_BUCKETS: dict[str, range] = {"train": range(0, 16), "dev": range(16, 18), "eval": range(18, 20)}
_ALPHABET = string.ascii_letters + string.digits
_TRIES = 64  # random queries tried per wanted label before a graph is given up
_CASE_POOL = 256  # random queries sorted by answer case per question when the cases are balanced
_IDLE_GRAPHS = 10_000


@dataclass(frozen=True)
class Family:
    """How one family draws its premise graphs and questions."""

    name: str
    task: Task
    split: Literal["train", "eval"]  # "train" families serve both train and dev
    shape: Literal["chain", "dag"]
    sizes: tuple[int, ...]
    flip: float = 0.0  # chains: probability that an edge points backwards (forks, colliders)
    branching: float | None = None  # DAGs: about branching × nodes edges; None = between n−1 and 2n
    order: Literal["forward", "reversed", "shuffled"] = "forward"
    name_length: tuple[int, int] = (1, 3)
    max_given: int = 3  # d-separation: conditioning sets hold 0..max_given nodes


def _families() -> dict[tuple[str, str], Family]:
    short, long_chain, dag_eval = tuple(range(3, 7)), tuple(range(7, 16)), (5, 8, 10, 12)
    listed = [
        Family("chain", "transitivity", "train", "chain", short, flip=0.5),
        Family("dag", "transitivity", "train", "dag", short),
        Family("chain_long", "transitivity", "eval", "chain", long_chain),
        Family("chain_long_flip", "transitivity", "eval", "chain", long_chain, flip=0.5),
        Family("reversed", "transitivity", "eval", "chain", short, order="reversed"),
        Family("shuffled", "transitivity", "eval", "chain", short, flip=0.5, order="shuffled"),
        Family("branching_1.4", "transitivity", "eval", "dag", dag_eval, branching=1.4),
        Family("branching_2", "transitivity", "eval", "dag", dag_eval, branching=2.0),
        Family("long_names", "transitivity", "eval", "chain", short, flip=0.5, name_length=(8, 10)),
        Family("chain", "dseparation", "train", "chain", short, flip=0.5, max_given=3),
        Family("dag", "dseparation", "train", "dag", short, max_given=3),
        Family("chain_long_flip", "dseparation", "eval", "chain", long_chain, flip=0.5, max_given=4),
        Family("branching_1.4", "dseparation", "eval", "dag", tuple(range(5, 13)), branching=1.4, max_given=4),
        # 5 nodes with branching factor 2 is the complete DAG (10 edges): no two nodes are d-separated
        Family("branching_2", "dseparation", "eval", "dag", tuple(range(6, 13)), branching=2.0, max_given=4),
    ]
    return {(f.task, f.name): f for f in listed}


FAMILIES: dict[tuple[str, str], Family] = _families()


def families_for(task: Task, split: Split, names: Sequence[str] | None = None) -> list[Family]:
    """The families of ``task`` that serve ``split`` (all of them, or those named)."""
    _check_choice("task", task, TASKS)
    _check_choice("split", split, SPLITS)
    kind = "eval" if split == "eval" else "train"
    available = [f for (t, _), f in FAMILIES.items() if t == task and f.split == kind]
    if not names:
        return available
    by_name = {f.name: f for f in available}
    for name in names:
        if name not in by_name:
            raise DataError(f"no {task} family {name!r} for split {split!r}; choose from: {', '.join(by_name)}")
    return [by_name[name] for name in names]


def _check_choice(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise DataError(f"unknown {what} {value!r}; choose from: {', '.join(choices)}")


def premise_split(graph: nx.DiGraph) -> Split:
    """The split a premise graph belongs to: a hash of its sorted nodes and edges."""
    key = repr((sorted(graph.nodes), sorted(graph.edges))).encode()
    bucket = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % 20
    return next(split for split, bucket_range in _BUCKETS.items() if bucket in bucket_range)


def node_names(count: int, length: tuple[int, int], rng: random.Random) -> list[str]:
    """``count`` distinct case-sensitive names of letters and digits."""
    names: dict[str, None] = {}
    while len(names) < count:
        names.setdefault("".join(rng.choices(_ALPHABET, k=rng.randint(*length))))
    return list(names)


def draw_edges(family: Family, rng: random.Random) -> list[tuple[str, str]]:
    """One premise graph of ``family`` as its edges in premise order."""
    n = rng.choice(family.sizes)
    names = node_names(n, family.name_length, rng)
    if family.shape == "chain":
        edges = [(a, b) if rng.random() >= family.flip else (b, a) for a, b in zip(names, names[1:])]
    else:
        edges = _dag_edges(names, family.branching, rng)
    if family.order == "reversed":
        edges.reverse()
    elif family.order == "shuffled":
        rng.shuffle(edges)
    return edges


def _dag_edges(names: list[str], branching: float | None, rng: random.Random) -> list[tuple[str, str]]:
    """A connected DAG whose topological order is ``names``: a random tree, then random extra edges."""
    n = len(names)
    most = n * (n - 1) // 2
    total = min(round(branching * n), most) if branching is not None else rng.randint(n - 1, min(2 * n, most))
    tree = {(rng.randrange(j), j) for j in range(1, n)}
    others = [(i, j) for j in range(n) for i in range(j) if (i, j) not in tree]
    chosen = sorted(tree | set(rng.sample(others, max(0, total - len(tree)))))
    return [(names[i], names[j]) for i, j in chosen]


def draw_query(task: Task, nodes: Sequence[str], rng: random.Random, max_given: int) -> Query:
    """A random question about two distinct nodes (and, for d-separation, a conditioning set)."""
    x, y = rng.sample(list(nodes), 2)
    if task == "transitivity":
        return (x, y)
    others = [v for v in nodes if v not in (x, y)]
    size = rng.randint(0, min(max_given, len(others)))
    return (x, y, frozenset(rng.sample(others, size)))


def generate(
    task: Task,
    split: Split,
    n: int,
    seed: int = 0,
    families: Sequence[str] | None = None,
    yes_fraction: float | None = 0.5,
    per_size: bool = False,
    per_graph: int = 1,
    balance_cases: bool = False,
) -> list[Question]:
    """``n`` questions for ``split``, shared out evenly over the chosen families.

    With ``yes_fraction`` (default 0.5) the Yes count is exactly ``round(n × yes_fraction)``, each
    family within one of its share; ``None`` keeps the natural label distribution (one random
    question per graph). ``per_size`` shares each family's questions out evenly over its graph sizes
    too, each size with its own exact Yes share, so a per-size breakdown is balanced at every size.
    ``per_graph`` is the most questions of each label drawn from one premise graph.
    ``balance_cases`` draws each question for the answer case of its label (`neurosym.causal.cases`)
    asked least so far among those its premise graph gives, so a rare case is asked as often as a
    common one as far as the graphs have it, rather than as often as random queries fall into it.
    """
    if n < 0:
        raise DataError(f"--n must be non-negative, got {n}")
    if per_graph < 1:
        raise DataError(f"questions per graph must be at least 1, got {per_graph}")
    if yes_fraction is not None and not 0.0 <= yes_fraction <= 1.0:
        raise DataError(f"the Yes fraction must lie in [0, 1], got {yes_fraction}")
    chosen = families_for(task, split, families)
    if per_size:
        chosen = [replace(f, sizes=(size,)) for f in chosen for size in f.sizes]
    out: list[Question] = []
    yes_shares = _shares(round(n * yes_fraction), len(chosen)) if yes_fraction is not None else None
    for i, (family, share) in enumerate(zip(chosen, _shares(n, len(chosen)))):
        wanted = {None: share} if yes_shares is None else {True: yes_shares[i], False: share - yes_shares[i]}
        key = f"{seed}/{task}/{split}/{family.name}" + (f"/{family.sizes[0]}" if per_size else "")
        out.extend(_family_questions(family, split, wanted, per_graph, balance_cases, random.Random(key)))
    random.Random(f"{seed}/{task}/{split}").shuffle(out)  # families interleaved, as a trainer reads them
    return out


def write_eval_splits(
    out: str | Path, per_size: int, seed: int = 0, tasks: Sequence[Task] = TASKS
) -> dict[str, list[Path]]:
    """One balanced file per task and evaluation family under ``out`` (``per_size`` questions of each
    graph size, half Yes), reused when already written; task → paths."""
    files: dict[str, list[Path]] = {}
    for task in tasks:
        for family in families_for(task, "eval"):
            path = Path(out) / task / f"{family.name}-seed{seed}-{per_size}.jsonl"
            if not path.is_file():
                write_questions(
                    path, generate(task, "eval", per_size * len(family.sizes), seed, [family.name], per_size=True), seed
                )
            files.setdefault(task, []).append(path)
    return files


def _shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal whole shares, the larger ones first."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def _family_questions(
    family: Family,
    split: Split,
    wanted: dict[bool | None, int],
    per_graph: int,
    balance_cases: bool,
    rng: random.Random,
) -> list[Question]:
    """Draw graphs of ``split`` until ``wanted`` (label → count, None = any label) is filled; at
    most ``per_graph`` questions per wanted label per graph, no (premise, question) pair twice."""
    questions: list[Question] = []
    seen: set[tuple[str, str]] = set()
    asked: Counter = Counter()  # answer case → questions drawn, for balance_cases
    idle = 0  # graphs in a row that gave nothing: the family cannot make the labels still wanted
    while any(wanted.values()):
        idle += 1
        if idle > _IDLE_GRAPHS:
            missing = ", ".join(
                f"{left} × {'any' if label is None else as_label(label)}" for label, left in wanted.items() if left
            )
            raise DataError(
                f"family {family.task}/{family.name} yields no more questions of the labels still "
                f"wanted ({missing}) after {_IDLE_GRAPHS} graphs; lower --n or change the Yes fraction"
            )
        edges = draw_edges(family, rng)
        graph = nx.freeze(nx.DiGraph(edges))
        if premise_split(graph) != split:
            continue
        facts, premise = GraphFacts(graph), render_premise(edges)
        for label in [label for label, left in wanted.items() if left]:
            for _ in range(min(per_graph, wanted[label])):
                question = _new_question(family, split, graph, facts, premise, label, seen, balance_cases, asked, rng)
                if question is None:
                    break
                questions.append(question)
                wanted[label] -= 1
                idle = 0
    return questions


def _new_question(
    family: Family,
    split: Split,
    graph: nx.DiGraph,
    facts: GraphFacts,
    premise: str,
    label: bool | None,
    seen: set[tuple[str, str]],
    balance_cases: bool,
    asked: Counter,
    rng: random.Random,
) -> Question | None:
    """A random question about ``graph`` with answer ``label`` (None: any) not asked before, or None
    when ``_TRIES`` draws find none. With ``balance_cases``, ``_CASE_POOL`` draws are sorted by
    answer case and the question is drawn from the case of the label among them that the family
    has asked least so far (``asked``: case → count)."""
    if balance_cases and label is not None:
        return _case_balanced_question(family, split, graph, facts, premise, label, seen, asked, rng)
    for _ in range(_TRIES):
        query = draw_query(family.task, list(graph.nodes), rng, family.max_given)
        truth = facts.answer(family.task, query)
        text = render_question(family.task, query)
        if (label is None or truth == label) and (premise, text) not in seen:
            seen.add((premise, text))
            return Question(family.task, premise, text, as_label(truth), graph, query, truth, split, family.name)
    return None


def _case_balanced_question(
    family: Family,
    split: Split,
    graph: nx.DiGraph,
    facts: GraphFacts,
    premise: str,
    label: bool,
    seen: set[tuple[str, str]],
    asked: Counter,
    rng: random.Random,
) -> Question | None:
    by_case: dict[str, dict[str, Query]] = {}  # case → question text → query, in order of drawing
    for _ in range(_CASE_POOL):
        query = draw_query(family.task, list(graph.nodes), rng, family.max_given)
        text = render_question(family.task, query)
        if facts.answer(family.task, query) == label and (premise, text) not in seen:
            by_case.setdefault(answer_case(facts, family.task, query), {})[text] = query
    if not by_case:
        return None
    case = min((case for case in CASES[family.task] if case in by_case), key=lambda case: asked[case])
    text, query = rng.choice(list(by_case[case].items()))
    seen.add((premise, text))
    asked[case] += 1
    return Question(family.task, premise, text, as_label(label), graph, query, label, split, family.name)
