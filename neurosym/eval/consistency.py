"""Do the model's answers about one premise contradict each other?

On a sampled k-node subset of a premise (`SubsetSampler`), every predicted atom of the compiled
template is asked and answered 0/1 (P(Yes) > 0.5); observed atoms carry the premise's evidence;
atoms the subset cannot ground (a graph smaller than k) are unknown: any value of theirs will do.

Exact definitions, for a partial assignment ``a`` (evidence + answers, unknown atoms free):

* ``a`` **violates the theory** when no completion of it satisfies the circuit:
  ``circuit.log_prob(probs, mask=mask) == -inf`` with the known values as 0/1 probabilities and
  the unknown atoms masked out (quantified existentially), all subsets in one batch.
* ``a`` **violates the named constraint C** when no completion satisfies C alone: the known values
  are substituted into C's ground conjuncts; a conjunct that folds to False convicts C at once;
  otherwise the conjunction of what is left (over unknown atoms only) is compiled to an SDD and
  tested for emptiness. On a complete assignment this is `Circuit.violated_constraints`.
* A violation that no single constraint explains (each is satisfiable alone, not together) is
  counted as **joint**.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from neurosym.causal import Question, SubsetSample, SubsetSampler
from neurosym.causal.subsets import Asked, asked_prompts, sample_subsets
from neurosym.ground import formula as g

JOINT = "(joint)"  # a violation that needs several constraints together


def substitute(f, known: Mapping[int, bool]):
    """Ground formula ``f`` with the known variables replaced by their values, folded."""
    if f is True or f is False:
        return f
    tag = f[0]
    if tag == "var":
        return known.get(f[1], f)
    if tag == "not":
        return g.neg(substitute(f[1], known))
    if tag == "and":
        return g.conj(substitute(item, known) for item in f[1])
    if tag == "or":
        return g.disj(substitute(item, known) for item in f[1])
    if tag in ("iff", "xor"):
        same = g.iff(substitute(f[1], known), substitute(f[2], known))
        return same if tag == "iff" else g.neg(same)
    return g.count(f[1], f[2], [substitute(item, known) for item in f[3]])


@dataclass(frozen=True)
class Check:
    """The verdict on one assignment: does it violate the theory, and which constraints."""

    violated: bool
    constraints: list[str] = field(default_factory=list)  # named ones; [JOINT] when none alone


class ConstraintChecker:
    """Exact violation checks of partial assignments against one compiled circuit."""

    def __init__(self, circuit):
        self.circuit = circuit
        self._manager = None  # built on the first residual that needs an SDD

    def check(self, knowns: Sequence[Mapping[int, bool]]) -> list[Check]:
        """One `Check` per assignment (1-based variable → value; absent = unknown)."""
        import torch

        if not knowns:
            return []
        shape = (len(knowns), len(self.circuit.variables))
        probs, mask = torch.zeros(shape, dtype=torch.float64), torch.zeros(shape, dtype=torch.bool)
        for row, known in enumerate(knowns):
            for variable, value in known.items():
                probs[row, variable - 1] = float(value)
                mask[row, variable - 1] = True
        with torch.no_grad():
            possible = torch.isfinite(self.circuit.log_prob(probs, mask=mask)).tolist()
        return [Check(False) if ok else Check(True, self.named(known)) for ok, known in zip(possible, knowns)]

    def named(self, known: Mapping[int, bool]) -> list[str]:
        """The constraints that ``known`` violates on their own, or [JOINT] when none does."""
        names = [c.name for c in self.circuit.ground_theory.constraints if not self._satisfiable_alone(c, known)]
        return names or [JOINT]

    def _satisfiable_alone(self, constraint, known: Mapping[int, bool]) -> bool:
        residual = [substitute(f, known) for f in constraint.conjuncts]
        if any(f is False for f in residual):
            return False
        residual = [f for f in residual if f is not True]
        if not residual:
            return True
        from pysdd.sdd import SddManager

        from neurosym.compile.compiler import to_sdd

        if self._manager is None:
            self._manager = SddManager(var_count=max(len(self.circuit.variables), 1))
        return not to_sdd(self._manager, g.conj(residual)).is_false()


def known_values(sample: SubsetSample, answers: Sequence[bool]) -> dict[int, bool]:
    """The 1-based SDD assignment of a subset: its evidence and the given answers to its queries."""
    known = {index + 1: bool(value) for index, value in sample.evidence.items()}
    known.update({query.index + 1: bool(answer) for query, answer in zip(sample.queries, answers)})
    return known


@dataclass(frozen=True)
class ConsistencyReport:
    """How often sampled subsets of a task's premises were answered inconsistently, and by what."""

    task: str
    k: int
    subsets: int
    violated: int
    by_constraint: dict[str, int]
    prompts: int

    @property
    def violation_rate(self) -> float | None:
        return self.violated / self.subsets if self.subsets else None

    @property
    def worst(self) -> str | None:
        """The constraint violated in the most subsets (ties: the theory's order)."""
        return max(self.by_constraint, key=self.by_constraint.get) if self.violated else None

    def __add__(self, other: ConsistencyReport) -> ConsistencyReport:
        """Two reports on the same task's circuit pooled (files of one task)."""
        counts = {
            name: self.by_constraint.get(name, 0) + other.by_constraint.get(name, 0)
            for name in {**self.by_constraint, **other.by_constraint}
        }
        return ConsistencyReport(
            self.task,
            self.k,
            self.subsets + other.subsets,
            self.violated + other.violated,
            counts,
            self.prompts + other.prompts,
        )

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "k": self.k,
            "subsets": self.subsets,
            "violated": self.violated,
            "violation_rate": self.violation_rate,
            "worst_constraint": self.worst,
            "by_constraint": dict(self.by_constraint),
            "prompts": self.prompts,
        }


def check_answers(circuit, asked: Sequence[Asked], answers: Sequence[bool]) -> list[Check]:
    """The exact verdict on each asked subset: its evidence and its share of ``answers`` (0/1, in
    `asked_prompts` order)."""
    knowns, offset = [], 0
    for _, sample in asked:
        knowns.append(known_values(sample, answers[offset : offset + len(sample.queries)]))
        offset += len(sample.queries)
    return ConstraintChecker(circuit).check(knowns)


def consistency_report(
    circuit, asked: Sequence[Asked], answers: Sequence[bool], task: str, k: int
) -> ConsistencyReport:
    """How many of the ``asked`` subsets the 0/1 ``answers`` violate, and which constraints."""
    counts = Counter({c.name: 0 for c in circuit.ground_theory.constraints})
    violated = 0
    for result in check_answers(circuit, asked, answers):
        violated += result.violated
        counts.update(result.constraints)
    return ConsistencyReport(task, k, len(asked), violated, dict(counts), len(answers))


def check_consistency(
    predictor, questions: Sequence[Question], circuit, subsets: int, seed: int = 0
) -> ConsistencyReport:
    """Sample ``subsets`` questions, ground the circuit's template around each, ask every query in one
    batch, and check the 0/1 answers exactly."""
    sampler = SubsetSampler.for_circuit(circuit)
    asked = sample_subsets(sampler, questions, subsets, random.Random(f"{seed}/consistency"))
    premises, texts = asked_prompts(asked)
    answers = [p > 0.5 for p in predictor.predict(premises, texts)] if texts else []
    task = questions[0].task if asked else "-"
    return consistency_report(circuit, asked, answers, task, sampler.k)
