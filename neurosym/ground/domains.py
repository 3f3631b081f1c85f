"""Finite domains: the elements each domain of a theory has at compile time.

``{"Node": 4}`` names the elements ``n0 … n3`` (the domain's lower-cased initial and an index);
``{"Node": ["A", "B"]}`` uses the given names. Set domains (``subsets(Node, max 2)``) hold
frozensets of their base domain's elements, smallest first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from neurosym.errors import GroundingError
from neurosym.lang import syntax as s

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

DomainSpec = Mapping[str, "int | Sequence[str]"]


@dataclass(frozen=True)
class Domain:
    """The elements of one domain, in order; ``base`` is set for set domains."""

    name: str
    elements: tuple
    base: Domain | None = None
    max_size: int | None = None
    members: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "members", frozenset(self.elements))

    def index(self) -> dict:
        return {e: i for i, e in enumerate(self.elements)}

    def render(self, element) -> str:
        """How an element appears in an atom name: ``n0``, or ``{n0,n2}`` for a set."""
        if self.base is None:
            return element
        order = self.base.index()
        return "{" + ",".join(sorted(element, key=order.__getitem__)) + "}"

    def contains(self, element) -> bool:
        if self.base is None:
            return element in self.members
        return (
            isinstance(element, frozenset)
            and (self.max_size is None or len(element) <= self.max_size)
            and (element <= self.base.members)
        )

    def spec(self):
        """What the manifest records for this domain."""
        if self.base is not None:
            return {"subsets_of": self.base.name, "max": self.max_size, "size": len(self.elements)}
        return list(self.elements)


def resolve_domains(theory: s.Theory, given: DomainSpec | None) -> dict[str, Domain]:
    """Combine the file's listed elements with the compile-time sizes or names."""
    given = dict(given or {})
    for name in given:
        if name in theory.set_domains:
            decl = theory.set_domains[name]
            raise GroundingError(
                f"domain {name!r} is a set domain (subsets of {decl.base}); give the size of {decl.base!r} instead",
                decl.loc,
            )
        if name not in theory.domains and name not in theory.relations:
            known = ", ".join(theory.domains) or "none"
            raise GroundingError(f"unknown domain {name!r} given at compile time; the theory's domains: {known}")
    domains: dict[str, Domain] = {}
    for name, decl in theory.domains.items():
        if decl.elements is not None:
            if name in given:
                raise GroundingError(
                    f"domain {name!r} lists its elements in the file; do not give it at compile time", decl.loc
                )
            domains[name] = Domain(name, decl.elements)
        elif name in given:
            domains[name] = Domain(name, _elements(name, given[name]))
        else:
            raise GroundingError(
                f"domain {name!r} needs a size or element list at compile time",
                decl.loc,
                hint=f"e.g. `neurosym compile FILE --domain {name}=4` or domains={{{name!r}: 4}}",
            )
    for name, decl in theory.set_domains.items():
        base = domains[decl.base]
        top = len(base.elements) if decl.max_size is None else min(decl.max_size, len(base.elements))
        subsets = tuple(frozenset(c) for size in range(top + 1) for c in combinations(base.elements, size))
        domains[name] = Domain(name, subsets, base, decl.max_size)
    return domains


def resolve_relations(theory: s.Theory, given: DomainSpec | None, domains: dict[str, Domain]) -> dict[str, frozenset]:
    """The tuples of each relation, given at compile time beside the domains: a list of tuples of
    element names, or (from the command line) of ``a:b`` strings."""
    given = dict(given or {})
    relations = {}
    for name, decl in theory.relations.items():
        if name not in given:
            raise GroundingError(
                f"relation {name!r} needs its tuples at compile time",
                decl.loc,
                hint=f"e.g. domains={{..., {name!r}: [(a, b), ...]}} or `--domain {name}=a:b,c:d`",
            )
        value = given[name]
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise GroundingError(f"relation {name!r}: expected a list of tuples of element names, got {value!r}")
        relations[name] = frozenset(_relation_tuple(decl, row, domains) for row in value)
    return relations


def _relation_tuple(decl: s.RelationDecl, row, domains: dict[str, Domain]) -> tuple:
    elements = tuple(row.split(":")) if isinstance(row, str) else tuple(str(e) for e in row)
    if len(elements) != len(decl.arg_domains):
        raise GroundingError(
            f"relation {decl.name!r} relates {len(decl.arg_domains)} element(s) "
            f"({', '.join(decl.arg_domains)}); got {row!r}",
            decl.loc,
        )
    for element, domain in zip(elements, decl.arg_domains):
        if not domains[domain].contains(element):
            raise GroundingError(
                f"relation {decl.name!r}: {element!r} in {row!r} is not an element of domain {domain!r}", decl.loc
            )
    return elements


def _elements(name: str, value) -> tuple[str, ...]:
    if isinstance(value, bool) or not isinstance(value, (int, list, tuple)):
        raise GroundingError(f"domain {name!r}: expected a size or a list of element names, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise GroundingError(f"domain {name!r}: size must be non-negative, got {value}")
        return tuple(f"{name[0].lower()}{i}" for i in range(value))
    elements = tuple(str(e) for e in value)
    for element in elements:
        if not s.ELEMENT_NAME.match(element):
            raise GroundingError(
                f"domain {name!r}: element name {element!r} may hold only letters, digits, '_', '.' and '-'"
            )
    if len(set(elements)) != len(elements):
        dup = next(e for e in elements if elements.count(e) > 1)
        raise GroundingError(f"domain {name!r}: element {dup!r} is listed twice")
    return elements


def parse_domain_option(text: str) -> tuple[str, int | list[str]]:
    """``Node=4`` or ``Node=a,b,c`` from the command line."""
    name, sep, value = (part.strip() for part in text.partition("="))
    if not sep or not name or not value:
        raise GroundingError(f"--domain expects NAME=SIZE or NAME=a,b,c; got {text!r}")
    if value.isdigit():
        return name, int(value)
    if _NUMBER.match(value):
        raise GroundingError(f"--domain {text!r}: a size must be a whole number of at least 0; got {value!r}")
    elements = [v.strip() for v in value.split(",")]
    if "" in elements:
        raise GroundingError(f"--domain {text!r}: an element name is empty; expected NAME=a,b,c")
    return name, elements
