"""Ground formulas: propositional formulas over atom keys, folded as they are built.

A ground formula is a nested tuple, cheap to build and hash:
``True`` / ``False``, ``("var", key)``, ``("not", f)``, ``("and", fs)``, ``("or", fs)``,
``("iff", a, b)``, ``("xor", a, b)``, ``("count", op, k, fs)`` with op in exactly/at_most/at_least.
After grounding, keys are replaced by 1-based SDD variable indices (`relabel`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy

GroundFormula = Any  # bool | tuple, see the module docstring


def var(key) -> GroundFormula:
    return ("var", key)


def neg(f: GroundFormula) -> GroundFormula:
    if f is True or f is False:
        return not f
    if f[0] == "not":
        return f[1]
    return ("not", f)


def conj(items: Iterable[GroundFormula]) -> GroundFormula:
    return _junction("and", items)


def disj(items: Iterable[GroundFormula]) -> GroundFormula:
    return _junction("or", items)


def _junction(tag: str, items: Iterable[GroundFormula]) -> GroundFormula:
    """Flattened ``and``/``or`` with constants folded: ``False`` absorbs a conjunction, ``True`` a disjunction."""
    absorbing = tag == "or"
    out = []
    for f in items:
        if f is absorbing:
            return absorbing
        if f is (not absorbing):
            continue
        out.extend(f[1] if f[0] == tag else (f,))
    if not out:
        return not absorbing
    return out[0] if len(out) == 1 else (tag, tuple(out))


def implies(a: GroundFormula, b: GroundFormula) -> GroundFormula:
    return disj((neg(a), b))


def iff(a: GroundFormula, b: GroundFormula) -> GroundFormula:
    if a is True or a is False:
        return b if a else neg(b)
    if b is True or b is False:
        return a if b else neg(a)
    return ("iff", a, b)


def xor(a: GroundFormula, b: GroundFormula) -> GroundFormula:
    return neg(iff(a, b))


def count(op: str, k: int, items: Iterable[GroundFormula]) -> GroundFormula:
    """``op`` in exactly / at_most / at_least: how many of ``items`` are true compared to ``k``."""
    open_items = []
    for f in items:
        if f is True:
            k -= 1
        elif f is not False:
            open_items.append(f)
    n = len(open_items)
    low, high = {"exactly": (k, k), "at_most": (None, k), "at_least": (k, None)}[op]
    low = 0 if low is None else max(low, 0)
    high = n if high is None else min(high, n)
    if low > high:
        return False
    if low == 0 and high == n:
        return True
    if high == 0:
        return conj(neg(f) for f in open_items)
    if low == n:
        return conj(open_items)
    if low == 0:
        return ("count", "at_most", high, tuple(open_items))
    if high == n:
        return ("count", "at_least", low, tuple(open_items))
    if low == high:
        return ("count", "exactly", low, tuple(open_items))
    return conj((("count", "at_least", low, tuple(open_items)), ("count", "at_most", high, tuple(open_items))))


def atoms(f: GroundFormula) -> Iterator:
    """The keys of the variables in ``f`` (with repetitions)."""
    if f is True or f is False:
        return
    tag = f[0]
    if tag == "var":
        yield f[1]
    elif tag == "not":
        yield from atoms(f[1])
    elif tag in ("and", "or"):
        for g in f[1]:
            yield from atoms(g)
    elif tag in ("iff", "xor"):
        yield from atoms(f[1])
        yield from atoms(f[2])
    else:
        for g in f[3]:
            yield from atoms(g)


def relabel(f: GroundFormula, mapping: Mapping | Callable) -> GroundFormula:
    """Replace every variable key ``k`` by ``mapping[k]``."""
    get = mapping if callable(mapping) else mapping.__getitem__
    if f is True or f is False:
        return f
    tag = f[0]
    if tag == "var":
        return ("var", get(f[1]))
    if tag == "not":
        return ("not", relabel(f[1], get))
    if tag in ("and", "or"):
        return (tag, tuple(relabel(g, get) for g in f[1]))
    if tag in ("iff", "xor"):
        return (tag, relabel(f[1], get), relabel(f[2], get))
    return ("count", f[1], f[2], tuple(relabel(g, get) for g in f[3]))


def evaluate(f: GroundFormula, value: Callable[[Any], bool]) -> bool:
    """Truth value of ``f`` when variable ``k`` has the value ``value(k)``."""
    if f is True or f is False:
        return f
    tag = f[0]
    if tag == "var":
        return bool(value(f[1]))
    if tag == "not":
        return not evaluate(f[1], value)
    if tag == "and":
        return all(evaluate(g, value) for g in f[1])
    if tag == "or":
        return any(evaluate(g, value) for g in f[1])
    if tag == "iff":
        return evaluate(f[1], value) == evaluate(f[2], value)
    if tag == "xor":
        return evaluate(f[1], value) != evaluate(f[2], value)
    n = sum(evaluate(g, value) for g in f[3])
    return {"exactly": n == f[2], "at_most": n <= f[2], "at_least": n >= f[2]}[f[1]]


def evaluate_batch(formula, assignments):
    """``formula`` on every row of a boolean table (column ``v - 1`` is variable ``v``), vectorised."""
    if formula is True or formula is False:
        return numpy.full(len(assignments), formula)
    tag = formula[0]
    if tag == "var":
        return assignments[:, formula[1] - 1]
    if tag == "not":
        return ~evaluate_batch(formula[1], assignments)
    if tag in ("and", "or"):
        parts = [evaluate_batch(f, assignments) for f in formula[1]]
        return numpy.logical_and.reduce(parts) if tag == "and" else numpy.logical_or.reduce(parts)
    if tag in ("iff", "xor"):
        same = evaluate_batch(formula[1], assignments) == evaluate_batch(formula[2], assignments)
        return same if tag == "iff" else ~same
    count = numpy.sum([evaluate_batch(f, assignments) for f in formula[3]], axis=0)
    return {"exactly": count == formula[2], "at_most": count <= formula[2], "at_least": count >= formula[2]}[formula[1]]


def to_sympy(f: GroundFormula, name: Callable[[Any], str] = str):
    """The formula as a sympy Boolean expression, for printing and simplifying small formulas."""
    import sympy
    from sympy.logic import boolalg

    if f is True or f is False:
        return sympy.true if f else sympy.false
    tag = f[0]
    if tag == "var":
        return sympy.Symbol(name(f[1]))
    if tag == "not":
        return boolalg.Not(to_sympy(f[1], name))
    if tag in ("and", "or"):
        op = boolalg.And if tag == "and" else boolalg.Or
        return op(*(to_sympy(g, name) for g in f[1]))
    if tag == "iff":
        return boolalg.Equivalent(to_sympy(f[1], name), to_sympy(f[2], name))
    if tag == "xor":
        return boolalg.Xor(to_sympy(f[1], name), to_sympy(f[2], name))
    items = [to_sympy(g, name) for g in f[3]]
    n, k = len(items), f[2]
    exact = {"exactly": [k], "at_most": range(0, k + 1), "at_least": range(k, n + 1)}[f[1]]
    return boolalg.Or(
        *(
            boolalg.And(*(items[i] if i in chosen else boolalg.Not(items[i]) for i in range(n)))
            for j in exact
            for chosen in _subsets(n, j)
        )
    )


def _subsets(n: int, size: int):
    from itertools import combinations

    return (set(c) for c in combinations(range(n), size))
