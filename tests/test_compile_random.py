"""Random small theories: the SDD's model count equals brute-force enumeration.

Hypothesis writes `.ns` programs from a small formula generator (unary and binary predicates over a
domain of 2–3 elements; forall / exists / counts, `where` filters, every connective). Each program
is checked three ways: the compiled model count against enumeration of its ground formula, against
an independent reference semantics the generator builds alongside the text (so the grounder is
checked too, not only the compiler), and across compile strategies.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosym as ns
from neurosym.compile.compiler import CompileOptions
from neurosym.ground.formula import evaluate_batch
from neurosym.ground.grounder import ground
from neurosym.resources import constraint_path

PREDICATES = {"p": 1, "q": 1, "r": 2}  # at most 3 + 3 + 9 = 15 ground atoms
HEADER = "domain D\npredicted p(D)\npredicted q(D)\nobserved r(D, D)\n"
STRATEGIES = [  # the reference is the default, order="auto"
    CompileOptions(order="natural", vtree="right", conjoin="source", minimize="none"),
    CompileOptions(order="grouped", vtree="blocks", minimize="final", minimize_seconds=0.2),
    CompileOptions(order="min-fill", minimize="none"),
    CompileOptions(order="min-degree", vtree="right", minimize="dynamic", minimize_seconds=0.2),
]

# A generated formula: its text, the variables it mentions, and its meaning. The meaning maps a
# binding of variables to elements and a world (a function from an atom's name to a boolean column
# over all assignments) to a boolean column.
Meaning = Callable[[dict, Callable[[str], np.ndarray]], np.ndarray]


@st.composite
def formulas(draw, scope: tuple[str, ...], depth: int):
    """(text, mentioned variables, meaning) of a formula whose free variables lie in ``scope``."""
    leaf_ok = bool(scope)
    choice = draw(
        st.sampled_from(
            (["atom", "atom", "truth"] if leaf_ok else [])
            + (["quantifier"] if depth > 0 else [])
            + (["not", "binary", "binary"] if depth > 0 and leaf_ok else [])
        )
    )
    if choice == "atom":
        name = draw(st.sampled_from(sorted(PREDICATES)))
        args = [draw(st.sampled_from(scope)) for _ in range(PREDICATES[name])]
        text = f"{name}({', '.join(args)})"
        return text, set(args), lambda env, world: world(f"{name}({','.join(env[a] for a in args)})")
    if choice == "truth":
        value = draw(st.booleans())
        return ("true" if value else "false"), set(), lambda env, world: np.full(world.rows, value)
    if choice == "not":
        text, used, meaning = draw(formulas(scope, depth - 1))
        return f"not ({text})", used, lambda env, world: ~meaning(env, world)
    if choice == "binary":
        op = draw(st.sampled_from(["and", "or", "->", "<->", "xor"]))
        (lt, lu, lm), (rt, ru, rm) = draw(formulas(scope, depth - 1)), draw(formulas(scope, depth - 1))
        combine = {
            "and": np.logical_and,
            "or": np.logical_or,
            "->": lambda a, b: ~a | b,
            "<->": np.equal,
            "xor": np.not_equal,
        }[op]
        return f"({lt}) {op} ({rt})", lu | ru, lambda env, world: combine(lm(env, world), rm(env, world))
    return draw(quantified(scope, depth))


@st.composite
def quantified(draw, scope: tuple[str, ...], depth: int):
    bound = tuple(f"v{len(scope) + i}" for i in range(draw(st.integers(1, 2))))
    inner = scope + bound
    where_text, where_used, keep = draw(conditions(inner, bound))
    body_text, body_used, body = draw(formulas(inner, depth - 1))
    for v in bound:  # the checker rejects a bound variable that is never used
        if v not in body_used | where_used:
            body_text, body_used, body = _and_mention(v, body_text, body_used, body)
    kind = draw(st.sampled_from(["forall", "exists", "exactly", "at most", "at least"]))
    k = draw(st.integers(0, 3))
    head = kind if kind in ("forall", "exists") else f"{kind} {k}"
    text = f"{head} {', '.join(bound)} in D{where_text}: {body_text}"

    def meaning(env, world):
        values = [
            body({**env, **dict(zip(bound, combo))}, world)
            for combo in itertools.product(world.elements, repeat=len(bound))
            if keep({**env, **dict(zip(bound, combo))})
        ]
        column = np.array(values, dtype=bool).reshape(len(values), world.rows)
        count = column.sum(axis=0)
        return {
            "forall": column.all(axis=0),
            "exists": column.any(axis=0),
            "exactly": count == k,
            "at most": count <= k,
            "at least": count >= k,
        }[kind]

    return f"({text})", (body_used | where_used) - set(bound), meaning


def _and_mention(v, text, used, meaning):
    return (f"({text}) and p({v})", used | {v}, lambda env, world: meaning(env, world) & world(f"p({env[v]})"))


@st.composite
def conditions(draw, inner: tuple[str, ...], bound: tuple[str, ...]):
    """An optional `where` filter comparing a bound variable with the variables in scope."""
    if len(inner) < 2 or not draw(st.booleans()):
        return "", set(), lambda env: True
    kind = draw(st.sampled_from(["!=", "==", "distinct", "not"] if len(inner) >= 3 else ["!=", "==", "not"]))
    first = draw(st.sampled_from(bound))
    others = [v for v in inner if v != first]
    if kind == "distinct":
        pair = draw(st.permutations(others))[:2]
        names = [first, *pair]
        return (
            f" where distinct({', '.join(names)})",
            set(names),
            lambda env: len({env[n] for n in names}) == len(names),
        )
    second = draw(st.sampled_from(others))
    if kind == "not":
        return f" where not ({first} == {second})", {first, second}, lambda env: env[first] != env[second]
    equal = kind == "=="
    return f" where {first} {kind} {second}", {first, second}, lambda env: (env[first] == env[second]) == equal


@st.composite
def theories(draw):
    """(program text, domain size, meanings of the constraints)."""
    size = draw(st.integers(2, 3))
    constraints = draw(st.lists(formulas((), 3), min_size=1, max_size=3))
    text = HEADER + "".join(f"constraint c{i}: {t}\n" for i, (t, _, _) in enumerate(constraints))
    return text, size, [meaning for _, _, meaning in constraints]


class World:
    """Every assignment to a theory's ground atoms, one row each; an atom the grounding folded away
    (say ``p(d0) or true``) cannot change a formula's value, so it reads as all-false."""

    def __init__(self, names: list[str], size: int):
        rows = list(itertools.product([False, True], repeat=len(names)))
        self.table = np.array(rows, dtype=bool).reshape(len(rows), len(names))
        self.rows = len(self.table)
        self.column = {name: i for i, name in enumerate(names)}
        self.elements = [f"d{i}" for i in range(size)]

    def __call__(self, atom: str) -> np.ndarray:
        i = self.column.get(atom)
        return self.table[:, i] if i is not None else np.zeros(self.rows, dtype=bool)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(theories())
def test_model_count_equals_enumeration_of_random_theories(case):
    text, size, meanings = case
    theory = ns.parse_string(text, name="random.ns")
    grounded = ground(theory, {"D": size})
    assert len(grounded.atoms) <= 15
    world = World(grounded.names, size)

    by_ground_formula = np.ones(world.rows, dtype=bool)
    for constraint in grounded.constraints:
        for conjunct in constraint.conjuncts:
            by_ground_formula &= evaluate_batch(conjunct, world.table)
    by_meaning = np.logical_and.reduce([meaning({}, world) for meaning in meanings])
    assert np.array_equal(by_ground_formula, by_meaning), text

    try:
        circuit = ns.compile(theory, {"D": size}, cache=False)
    except ns.NeurosymError as error:  # only an unsatisfiable theory may fail to compile
        assert not by_meaning.any() and "unsatisfiable" in str(error), text
        return
    assert circuit.variables == grounded.names
    assert circuit.model_count() == int(by_meaning.sum()), text
    rows = np.random.default_rng(0).choice(world.rows, size=min(world.rows, 64), replace=False)
    for row in rows:
        assert circuit.satisfied_by(world.table[row]) == by_meaning[row], text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(theories())
def test_every_compile_strategy_agrees_on_random_theories(case):
    text, size, _ = case
    theory = ns.parse_string(text, name="random.ns")
    try:
        reference = ns.compile(theory, {"D": size}, cache=False)
    except ns.NeurosymError:
        for options in STRATEGIES:
            with pytest.raises(ns.NeurosymError, match="unsatisfiable"):
                ns.compile(theory, {"D": size}, cache=False, options=options)
        return
    table = World(reference.variables, size).table
    expected = [reference.satisfied_by(row) for row in table[:: max(1, len(table) // 128)]]
    for options in STRATEGIES:
        circuit = ns.compile(theory, {"D": size}, cache=False, options=options)
        assert circuit.variables == reference.variables
        assert circuit.model_count() == reference.model_count(), (text, options)
        assert [circuit.satisfied_by(row) for row in table[:: max(1, len(table) // 128)]] == expected, (text, options)


def test_a_theory_whose_atoms_all_fold_away_has_one_model():
    """Found by the property test above: with no atoms left, the SDD manager's one spare variable
    must not double the count."""
    theory = ns.parse_string(HEADER + "constraint c: at least 0 x in D: p(x)\n")
    circuit = ns.compile(theory, {"D": 2}, cache=False)
    assert circuit.variables == [] and circuit.model_count() == 1
    assert circuit.manifest["model_count"] == 1


def test_auto_strategy_picks_the_shape_that_suits_each_shipped_theory():
    """`order="auto"` compares candidate vtrees on a smaller instance and records its choice."""
    transitivity = ns.compile(constraint_path("causal/transitivity.ns"), {"Node": 5}, cache=False)
    assert transitivity.manifest["strategy"] == {"order": "grouped", "vtree": "blocks"}
    dseparation = ns.compile(constraint_path("causal/dseparation.ns"), {"Node": 3}, cache=False)
    assert dseparation.manifest["strategy"] == {"order": "min-fill", "vtree": "balanced"}
