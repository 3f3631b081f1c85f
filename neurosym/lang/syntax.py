"""The typed syntax tree of a neurosym theory, as the parser builds it from a `.ns` file.

Every node carries the `Location` it came from, so the checker and the grounder can point at
the exact place in the source when something is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Union

from neurosym.errors import Location

# What an element may be called, in a file or at compile time: atom names such as ``p(n0,{n1,n2})``
# must stay unambiguous and free of spaces.
ELEMENT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

# ---- terms: elements of a domain, or sets of elements ---------------------------------------


@dataclass(frozen=True)
class Name:
    """A bare name: a bound variable, or an element of a domain declared with its elements."""

    name: str
    loc: Location


@dataclass(frozen=True)
class Constant:
    """A quoted or numeric element name, e.g. ``"dog"`` or ``3``."""

    value: str
    loc: Location


@dataclass(frozen=True)
class EmptySet:
    loc: Location


@dataclass(frozen=True)
class SetAdd:
    """``Z + w``: the set ``Z`` with ``w`` added."""

    base: Term
    element: Term
    loc: Location


@dataclass(frozen=True)
class SetRemove:
    """``Z - w``: the set ``Z`` without ``w``."""

    base: Term
    element: Term
    loc: Location


Term = Union[Name, Constant, EmptySet, SetAdd, SetRemove]

# ---- conditions on bound variables (`where`) ------------------------------------------------


@dataclass(frozen=True)
class Compare:
    """``a == b`` or ``a != b``."""

    left: Term
    right: Term
    equal: bool
    loc: Location


@dataclass(frozen=True)
class Distinct:
    terms: tuple[Term, ...]
    loc: Location


@dataclass(frozen=True)
class Member:
    """``x in Z`` (or ``x not in Z`` when ``negated``)."""

    element: Term
    collection: Term
    negated: bool
    loc: Location


@dataclass(frozen=True)
class CondNot:
    operand: Condition
    loc: Location


@dataclass(frozen=True)
class CondJunction:
    """``and`` / ``or`` of conditions."""

    op: Literal["and", "or"]
    left: Condition
    right: Condition
    loc: Location


@dataclass(frozen=True)
class RelationTest:
    """``adjacent(x, y)`` in a filter: the tuple is one the relation holds (given at compile time)."""

    relation: str
    args: tuple[Term, ...]
    loc: Location


Condition = Union[Compare, Distinct, Member, CondNot, CondJunction, RelationTest]

# ---- formulas --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Atom:
    predicate: str
    args: tuple[Term, ...]
    loc: Location


@dataclass(frozen=True)
class Truth:
    value: bool
    loc: Location


@dataclass(frozen=True)
class Not:
    operand: Formula
    loc: Location


@dataclass(frozen=True)
class Binary:
    """A binary connective: ``and``, ``or``, ``->``, ``<->`` or ``xor``."""

    op: Literal["and", "or", "implies", "iff", "xor"]
    left: Formula
    right: Formula
    loc: Location


@dataclass(frozen=True)
class Binder:
    """One bound variable and the domain it ranges over."""

    var: str
    domain: str
    loc: Location


@dataclass(frozen=True)
class Quantified:
    """``forall``/``exists`` over the binders' domains, filtered by ``where``."""

    quantifier: Literal["forall", "exists"]
    binders: tuple[Binder, ...]
    where: Condition | None
    body: Formula
    loc: Location


@dataclass(frozen=True)
class Counting:
    """``exactly/at most/at least K`` bindings make the body true."""

    op: Literal["exactly", "at_most", "at_least"]
    k: int
    binders: tuple[Binder, ...]
    where: Condition | None
    body: Formula
    loc: Location


Formula = Union[Atom, Truth, Not, Binary, Quantified, Counting]

# ---- declarations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainDecl:
    """A finite domain; ``elements`` is set when the file lists them, else sized at compile time."""

    name: str
    elements: tuple[str, ...] | None
    loc: Location


@dataclass(frozen=True)
class SetDomainDecl:
    """``set Cond = subsets(Node, max 2)``: the subsets of ``base`` of size at most ``max_size``."""

    name: str
    base: str
    max_size: int | None
    loc: Location


@dataclass(frozen=True)
class RelationDecl:
    """``relation adjacent(Node, Node)``: tuples of elements given at compile time, tested in filters."""

    name: str
    arg_domains: tuple[str, ...]
    loc: Location


@dataclass(frozen=True)
class PredicateDecl:
    """A predicate; a ``hidden`` one's atoms are auxiliary and quantified out of the circuit."""

    name: str
    kind: Literal["observed", "predicted", "hidden"]
    arg_domains: tuple[str, ...]
    loc: Location


@dataclass(frozen=True)
class ConstraintDecl:
    name: str
    formula: Formula
    loc: Location


@dataclass
class Theory:
    """A whole theory: the declarations of a file and of everything it includes, in order."""

    source: str
    domains: dict[str, DomainDecl] = field(default_factory=dict)
    set_domains: dict[str, SetDomainDecl] = field(default_factory=dict)
    relations: dict[str, RelationDecl] = field(default_factory=dict)
    predicates: dict[str, PredicateDecl] = field(default_factory=dict)
    constraints: dict[str, ConstraintDecl] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # absolute paths, the including file first
    texts: dict[str, str] = field(default_factory=dict)  # path -> source text

    @property
    def name(self) -> str:
        from pathlib import Path

        return Path(self.source).stem

    def domain_names(self) -> list[str]:
        return [*self.domains, *self.set_domains]
