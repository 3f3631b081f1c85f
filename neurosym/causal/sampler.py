"""k-node subsets of a premise graph, renamed onto a template circuit's elements.

A constraint template is compiled once for a domain of k nodes (``n0 … n{k-1}``). For a premise
graph of any size the sampler picks k nodes (the query pair first, then the nodes on a path
between them), maps them onto the template's elements, and grounds every atom of the circuit:
observed atoms become 0/1 evidence from the full graph, predicted atoms become questions to ask
the model, labelled from the full graph. Everything is driven by the circuit's variable names
(``pred(arg,…)`` with sets as ``{a,b}``), never by a hard-coded variable order.

A graph with fewer than k nodes leaves some elements unmapped; atoms that mention them are
neither asked nor observed, and the mask leaves them out: they are quantified existentially, so the
asked answers and the evidence need only extend to some model (a sound theory always has one for
the true answers, whatever the unmapped elements stand for).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Union

import networkx as nx

from neurosym.causal.facts import GraphFacts, skeleton_path
from neurosym.causal.records import Label, Question, as_label
from neurosym.causal.text import Query, Task, query_nodes, render_question
from neurosym.errors import DataError

if TYPE_CHECKING:  # torch is imported when a tensor is asked for, so `neurosym data` starts fast
    import torch

Arg = Union[str, frozenset]
# Observed predicates: their argument kinds ("e" an element, "s" a set of elements).
EVIDENCE_PREDICATES: dict[str, str] = {"edge": "ee", "adjacent": "ee", "descendant": "ee", "parents": "es"}
# Predicted predicates: the task whose question they ask, and their argument kinds.
QUESTION_PREDICATES: dict[str, tuple[Task, str]] = {"causes": ("transitivity", "ee"), "dsep": ("dseparation", "ees")}
_ATOM = re.compile(r"(\w+)\((.*)\)")
_ARG = re.compile(r"\{[^{}]*\}|[^,{}]+")
_INDEXED = re.compile(r"(\D*)(\d+)")


def parse_atom(name: str) -> tuple[str, tuple[Arg, ...]]:
    """``dsep(n0,n3,{n1,n2})`` → ``("dsep", ("n0", "n3", frozenset({"n1", "n2"})))``."""
    match = _ATOM.fullmatch(name)
    args = _ARG.findall(match[2]) if match else []
    if match is None or ",".join(args) != match[2] or not args:
        raise DataError(f"variable {name!r} is not an atom of the form pred(arg,…) with sets as {{a,b}}")
    parsed = []
    for arg in args:
        if arg.startswith("{"):
            parsed.append(frozenset(m for m in arg[1:-1].split(",") if m))
        else:
            parsed.append(arg)
    return match[1], tuple(parsed)


class AskedQuery(NamedTuple):
    """A predicted variable to ask the model about: its index, the question, the true label."""

    index: int
    text: str
    label: Label


@dataclass(frozen=True)
class SubsetSample:
    """One grounding of a template on a node subset, aligned with the circuit's variables."""

    mapping: dict[str, Hashable]  # template element → node of the premise graph
    queries: list[AskedQuery]
    evidence: dict[int, int]  # variable index → 0/1, for observed atoms
    num_variables: int

    def targets(self) -> torch.Tensor:
        """The true 0/1 answers of ``queries``, in order (a perfect model's P(Yes))."""
        import torch

        return torch.tensor([q.label == "Yes" for q in self.queries], dtype=torch.get_default_dtype())

    def probabilities(self, p_yes) -> torch.Tensor:
        """The ``[..., V]`` belief tensor: evidence as 0/1, ``p_yes[..., i]`` (the model's P(Yes) for
        ``queries[i]``) at its variable, 0 where the mask is False. Keeps ``p_yes``'s autograd graph."""
        return self._circuit_input(p_yes, "P(Yes)", true=1.0, false=0.0)

    def logits(self, z) -> torch.Tensor:
        """The same in logit space: evidence as ±inf, ``z[..., i]`` (logit_yes − logit_no for
        ``queries[i]``) at its variable, 0 where the mask is False. Keeps ``z``'s autograd graph."""
        return self._circuit_input(z, "logits", true=math.inf, false=-math.inf)

    def _circuit_input(self, asked, what: str, true: float, false: float) -> torch.Tensor:
        import torch

        values = asked if isinstance(asked, torch.Tensor) else torch.tensor(asked, dtype=torch.get_default_dtype())
        if values.shape[-1:] != (len(self.queries),):
            raise DataError(
                f"expected {what} for {len(self.queries)} asked queries, got a tensor of shape {tuple(values.shape)}"
            )
        out = torch.zeros(self.num_variables, dtype=values.dtype, device=values.device)
        if self.evidence:
            out[list(self.evidence)] = torch.tensor(
                [true if v else false for v in self.evidence.values()], dtype=values.dtype, device=values.device
            )
        out = out.expand(*values.shape[:-1], self.num_variables).clone()
        out[..., [q.index for q in self.queries]] = values
        return out

    def mask(self, device=None) -> torch.Tensor:
        """``[V]`` bool: True for the observed and the asked variables."""
        import torch

        mask = torch.zeros(self.num_variables, dtype=torch.bool, device=device)
        mask[[*self.evidence, *(q.index for q in self.queries)]] = True
        return mask


@dataclass(frozen=True)
class _Slot:
    """One circuit variable, its arguments as element positions."""

    index: int
    predicate: str
    args: tuple  # int (element position) or frozenset of ints
    observed: bool
    top: int  # the highest element position it mentions: it needs that many nodes mapped


class SubsetSampler:
    """Grounds a k-node template (given by its variable names) on subsets of premise graphs."""

    def __init__(self, variables: Sequence[str], observed: Iterable[int] | None = None, source: str | None = None):
        """``source``, the template's constraint file, names it in any error about its variables."""
        try:
            self._read(variables, observed)
        except DataError as error:
            if source is None:
                raise
            raise DataError(
                f"{source}: {error}",
                hint="a theory of causal questions speaks of observed "
                f"{', '.join(EVIDENCE_PREDICATES)} and predicted {', '.join(QUESTION_PREDICATES)} "
                '(docs/data.md, "The subset sampler")',
            ) from None

    def _read(self, variables: Sequence[str], observed: Iterable[int] | None) -> None:
        atoms = [parse_atom(v) for v in variables]
        self.variables = list(variables)
        self.elements = _elements(atoms)
        self.k = len(self.elements)
        position = {e: i for i, e in enumerate(self.elements)}
        observed_set = (
            set(observed)
            if observed is not None
            else {i for i, (pred, _) in enumerate(atoms) if pred not in QUESTION_PREDICATES}
        )
        self._slots: list[_Slot] = []
        for i, (pred, args) in enumerate(atoms):
            kinds = _kinds(self.variables[i], pred, i in observed_set)
            if "".join("s" if isinstance(a, frozenset) else "e" for a in args) != kinds:
                raise DataError(
                    f"variable {self.variables[i]!r}: {pred} takes arguments of kinds {kinds!r} (e = element, s = set)"
                )
            mapped = tuple(position[a] if isinstance(a, str) else frozenset(position[m] for m in a) for a in args)
            if pred == "dsep" and (args[0] == args[1] or {args[0], args[1]} & args[2]):
                raise DataError(
                    f"variable {self.variables[i]!r} asks about a node pair that is not two distinct "
                    "nodes outside the conditioning set"
                )
            top = max((j for a in mapped for j in (a if isinstance(a, frozenset) else (a,))), default=-1)
            self._slots.append(_Slot(i, pred, mapped, i in observed_set, top))
        self._by_key = {(s.predicate, s.args): s for s in self._slots}
        self._predicates = {s.predicate for s in self._slots}

    @classmethod
    def for_circuit(cls, circuit) -> SubsetSampler:
        """From anything with ``variables`` and ``observed`` (a compiled circuit, whose errors name
        its constraint file)."""
        return cls(circuit.variables, circuit.observed, getattr(circuit, "manifest", {}).get("source"))

    def choose(self, graph: nx.DiGraph, query: Query, rng: random.Random) -> tuple:
        """Up to k nodes, element order random: the query pair, the inner nodes of a shortest path
        between them (directed either way, else in the skeleton), the conditioning set, then
        random others."""
        x, y, *_ = query
        for source, target in ((x, y), (y, x)):
            if nx.has_path(graph, source, target):
                path = nx.shortest_path(graph, source, target)[1:-1]
                break
        else:
            path = skeleton_path(graph, x, y)[1:-1]
        preferred = list(dict.fromkeys([x, y, *path, *query_nodes(query)[2:]]))[: self.k]
        rest = [v for v in graph.nodes if v not in preferred]
        chosen = preferred + rng.sample(rest, min(len(rest), self.k - len(preferred)))
        rng.shuffle(chosen)
        return tuple(chosen)

    def ground(
        self,
        graph: nx.DiGraph,
        nodes: Sequence[Hashable],
        *,
        focus: Query | None = None,
        max_queries: int | None = None,
        rng: random.Random | None = None,
        facts: GraphFacts | None = None,
    ) -> SubsetSample:
        """Ground the template with element i ↦ ``nodes[i]``; ask every predicted atom, or
        ``max_queries`` of them (drawn with ``rng``, seed 0 when none is given), always including the
        ``focus`` query's own atom when the template has it. Pass ``facts`` to share networkx answers
        across calls."""
        if len(nodes) > self.k or len(set(nodes)) != len(nodes):
            raise DataError(f"expected at most {self.k} distinct nodes for the template, got {list(nodes)!r}")
        if max_queries is not None and max_queries < 1:
            raise DataError(f"max_queries must be at least 1, got {max_queries}")
        facts = facts or GraphFacts(graph)
        slots = [s for s in self._slots if s.top < len(nodes)]
        asked = [s for s in slots if not s.observed]
        if max_queries is not None and len(asked) > max_queries:
            first = self._focus_slot(nodes, focus)
            others = [s for s in asked if s is not first]
            picked = (rng or random.Random(0)).sample(others, max_queries - (first is not None))
            asked = sorted(picked + ([first] if first is not None else []), key=lambda s: s.index)
        fact = {predicate: facts.fact(predicate) for predicate in self._predicates}
        evidence = {s.index: int(fact[s.predicate](*_resolve(s.args, nodes))) for s in slots if s.observed}
        queries = []
        for s in asked:
            args = _resolve(s.args, nodes)
            text = render_question(QUESTION_PREDICATES[s.predicate][0], args)
            queries.append(AskedQuery(s.index, text, as_label(fact[s.predicate](*args))))
        mapping = {self.elements[i]: node for i, node in enumerate(nodes)}
        return SubsetSample(mapping, queries, evidence, len(self.variables))

    def sample(
        self, question: Question, rng: random.Random, max_queries: int | None = None, facts: GraphFacts | None = None
    ) -> SubsetSample:
        """`choose` a subset around the question's query and `ground` the template on it."""
        nodes = self.choose(question.graph, question.query, rng)
        return self.ground(question.graph, nodes, focus=question.query, max_queries=max_queries, rng=rng, facts=facts)

    def _focus_slot(self, nodes: Sequence[Hashable], focus: Query | None) -> _Slot | None:
        if focus is None or not set(query_nodes(focus)) <= set(nodes):
            return None
        position = {node: i for i, node in enumerate(nodes)}
        args = tuple(frozenset(position[m] for m in a) if isinstance(a, frozenset) else position[a] for a in focus)
        predicate = "dsep" if len(focus) == 3 else "causes"
        slot = self._by_key.get((predicate, args))
        return slot if slot is not None and not slot.observed else None


def _kinds(variable: str, predicate: str, observed: bool) -> str:
    """The argument kinds of a known predicate; DataError for an unknown one."""
    if observed and predicate in EVIDENCE_PREDICATES:
        return EVIDENCE_PREDICATES[predicate]
    if not observed and predicate in QUESTION_PREDICATES:
        return QUESTION_PREDICATES[predicate][1]
    role, known = ("observed", EVIDENCE_PREDICATES) if observed else ("predicted", QUESTION_PREDICATES)
    raise DataError(
        f"unknown {role} predicate {predicate!r} (variable {variable!r}); the causal sampler knows {', '.join(known)}"
    )


def _elements(atoms: list[tuple[str, tuple[Arg, ...]]]) -> tuple[str, ...]:
    """The template's elements: ``n0, n1, …`` in index order (first-appearance order otherwise)."""
    seen: dict[str, None] = {}
    for _, args in atoms:
        for arg in args:
            for element in sorted(arg) if isinstance(arg, frozenset) else (arg,):
                seen.setdefault(element)
    indexed = {e: _INDEXED.fullmatch(e) for e in seen}
    if all(indexed.values()):
        return tuple(sorted(seen, key=lambda e: (indexed[e][1], int(indexed[e][2]))))
    return tuple(seen)


def _resolve(args: tuple, nodes: Sequence[Hashable]) -> tuple:
    """Element positions → nodes (sets of positions → frozensets of nodes)."""
    return tuple(nodes[a] if type(a) is int else frozenset([nodes[j] for j in a]) for a in args)
