"""The benchmark's text forms, both ways: premise sentences ⇄ graph, question ⇄ query.

The forms are those of the axiomatic-training benchmark (Vashishtha et al., ICML 2025):
``A causes B.`` sentences joined by spaces, ``Does A cause B?``, ``Are A and B d-separated?`` and
``Are A and B d-separated given {C, D}?``. Node names are case-sensitive words (letters, digits,
``_``) and may look like English words (``No``, ``yes``, ``Does``), so parsing is anchored on the
sentence structure, never on what a name looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal, Union

import networkx as nx

from neurosym.errors import DataError

Task = Literal["transitivity", "dseparation"]
TASKS: tuple[Task, ...] = ("transitivity", "dseparation")
TransitivityQuery = tuple[str, str]
DsepQuery = tuple[str, str, frozenset]
Query = Union[TransitivityQuery, DsepQuery]

_NAME = r"\w+"
_SENTENCE = re.compile(rf"\s*({_NAME})\s+causes\s+({_NAME})\s*")
_TRANSITIVITY = rf"Does\s+({_NAME})\s+cause\s+({_NAME})\s*\?"
_DSEP = rf"Are\s+({_NAME})\s+and\s+({_NAME})\s+d-separated(?:\s+given\s+\{{([^{{}}]*)\}})?\s*\?"
_QUESTION = {"transitivity": re.compile(rf"\s*{_TRANSITIVITY}\s*"), "dseparation": re.compile(rf"\s*{_DSEP}\s*")}
# A question at the very end of a text, preceded by whitespace, a period or nothing.
_TRAILING_QUESTION = re.compile(rf"(?:^|(?<=[\s.]))(?:{_TRANSITIVITY}|{_DSEP})\s*$")
_NAME_ONLY = re.compile(rf"{_NAME}")


def premise_sentences(text: str) -> list[str]:
    """The sentences of a premise, without their periods; a missing final period is fine."""
    return [s.strip() for s in text.split(".") if s.strip()]


def parse_premise(text: str) -> tuple[nx.DiGraph, list[tuple[str, str]]]:
    """The premise as a DAG plus its edges in sentence order.

    Raises DataError naming the offending sentence when one is not ``A causes B`` or when the
    sentences describe a cycle (the sentence that closes it is named, with the cycle).
    """
    sentences = premise_sentences(text)
    if not sentences:
        raise DataError(f"empty premise: {text!r}")
    edges = []
    for sentence in sentences:
        match = _SENTENCE.fullmatch(sentence)
        if match is None:
            raise DataError(f"premise sentence {sentence + '.'!r} is not of the form 'A causes B.'")
        edges.append((match[1], match[2]))
    graph = nx.DiGraph(edges)
    if not nx.is_directed_acyclic_graph(graph):
        _raise_cycle(edges)
    return graph, edges


def _raise_cycle(edges: Sequence[tuple[str, str]]) -> None:
    """Name the first sentence whose edge closes a cycle (only called on cyclic premises)."""
    partial = nx.DiGraph()
    for a, b in edges:
        if a == b or (a in partial and b in partial and nx.has_path(partial, b, a)):
            cycle = [a, *nx.shortest_path(partial, b, a)] if a != b else [a, a]
            raise DataError(f"premise describes a cycle: {render_sentence(a, b)!r} closes {' → '.join(cycle)}")
        partial.add_edge(a, b)


def render_sentence(cause: str, effect: str) -> str:
    return f"{cause} causes {effect}."


def render_premise(edges: Iterable[tuple[str, str]]) -> str:
    return " ".join(render_sentence(a, b) for a, b in edges)


def parse_question(text: str) -> tuple[Task, Query]:
    """``Does A cause B?`` → ("transitivity", (A, B)); the d-separation form → (…, (A, B, Z))."""
    for task, pattern in _QUESTION.items():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        if task == "transitivity":
            return task, (match[1], match[2])
        members = [m.strip() for m in (match[3] or "").split(",") if m.strip()]
        for member in members:
            if not _NAME_ONLY.fullmatch(member):
                raise DataError(f"conditioning set member {member!r} in question {text!r} is not a node name")
        return task, (match[1], match[2], frozenset(members))
    raise DataError(
        f"question {text.strip()!r} is neither 'Does A cause B?' nor 'Are A and B d-separated [given {{…}}]?'"
    )


def query_nodes(query: Query) -> tuple[str, ...]:
    """Every node a query names: the pair, then the conditioning set in sorted order."""
    return (query[0], query[1], *sorted(query[2])) if len(query) == 3 else tuple(query)


def render_question(task: Task, query: Query) -> str:
    if task == "transitivity":
        return f"Does {query[0]} cause {query[1]}?"
    x, y, given = query
    if not given:
        return f"Are {x} and {y} d-separated?"
    return f"Are {x} and {y} d-separated given {{{', '.join(sorted(given))}}}?"


def split_text(text: str) -> tuple[str, str]:
    """``"<premise> <question>"`` → (premise, question): the question is the trailing one."""
    match = _TRAILING_QUESTION.search(text)
    if match is None:
        raise DataError(f"no question at the end of {_clip(text)!r}")
    return text[: match.start()].strip(), text[match.start() :].strip()


def _clip(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
