"""Static checks of a parsed theory: names, arities, types and variable bindings.

Everything here runs without domain sizes, so ``neurosym check FILE`` catches these mistakes
before any grounding. Each error points at the offending token.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosym.errors import ConstraintTypeError
from neurosym.lang import syntax as s


@dataclass(frozen=True)
class _Type:
    """The type of a term: an element of ``domain``, or (``is_set``) a member of set domain ``domain``."""

    domain: str
    is_set: bool

    def __str__(self) -> str:
        return f"set domain {self.domain}" if self.is_set else f"domain {self.domain}"


def check_theory(theory: s.Theory) -> None:
    """Raise `ConstraintTypeError` at the first problem; return quietly if the theory is well-formed."""
    _Checker(theory).run()


class _Checker:
    def __init__(self, theory: s.Theory):
        self.theory = theory

    # -- declarations --------------------------------------------------------------------------
    def run(self) -> None:
        for decl in self.theory.domains.values():
            if decl.elements is not None:
                seen: set[str] = set()
                for element in decl.elements:
                    if element in seen:
                        raise ConstraintTypeError(
                            f"element {element!r} is listed twice in domain {decl.name!r}", decl.loc
                        )
                    seen.add(element)
        for decl in self.theory.set_domains.values():
            if decl.base not in self.theory.domains:
                what = "a set domain" if decl.base in self.theory.set_domains else "not declared"
                raise ConstraintTypeError(
                    f"set domain {decl.name!r} is built from {decl.base!r}, which is {what}; "
                    "expected a plain domain declared with `domain`",
                    decl.loc,
                )
        for decl in self.theory.predicates.values():
            for domain in decl.arg_domains:
                if domain not in self.theory.domains and domain not in self.theory.set_domains:
                    raise ConstraintTypeError(
                        f"predicate {decl.name!r} uses unknown domain {domain!r}",
                        decl.loc,
                        hint=self._known_domains(),
                    )
        for decl in self.theory.relations.values():
            for domain in decl.arg_domains:
                if domain not in self.theory.domains:
                    what = "a set domain" if domain in self.theory.set_domains else "not declared"
                    raise ConstraintTypeError(
                        f"relation {decl.name!r} is over {domain!r}, which is {what}; "
                        "expected a plain domain declared with `domain`",
                        decl.loc,
                    )
        for constraint in self.theory.constraints.values():
            self.formula(constraint.formula, {})
        self._hidden_predicates_are_constrained()

    def _hidden_predicates_are_constrained(self) -> None:
        """A hidden predicate only means something through the rules that mention it."""
        mentioned = {a.predicate for c in self.theory.constraints.values() for a in _atoms(c.formula)}
        for decl in self.theory.predicates.values():
            if decl.kind == "hidden" and decl.name not in mentioned:
                raise ConstraintTypeError(
                    f"hidden predicate {decl.name!r} is declared but no constraint mentions it",
                    decl.loc,
                    hint="a hidden predicate is defined by the constraints that use it; add them, or remove it",
                )

    def _known_domains(self) -> str:
        names = self.theory.domain_names()
        return f"declared domains: {', '.join(names)}" if names else "no domain is declared; add `domain NAME`"

    def _type_of_domain(self, name: str) -> _Type:
        return _Type(name, name in self.theory.set_domains)

    # -- formulas ------------------------------------------------------------------------------
    def formula(self, node: s.Formula, env: dict[str, _Type]) -> None:
        if isinstance(node, s.Atom):
            self.atom(node, env)
        elif isinstance(node, s.Not):
            self.formula(node.operand, env)
        elif isinstance(node, s.Binary):
            self.formula(node.left, env)
            self.formula(node.right, env)
        elif isinstance(node, (s.Quantified, s.Counting)):
            self.scope(node, env)

    def scope(self, node: s.Quantified | s.Counting, env: dict[str, _Type]) -> None:
        inner = dict(env)
        for binder in node.binders:
            if binder.domain not in self.theory.domains and binder.domain not in self.theory.set_domains:
                raise ConstraintTypeError(f"unknown domain {binder.domain!r}", binder.loc, hint=self._known_domains())
            if binder.var in inner:
                where = "outer scope" if binder.var in env else "same binder list"
                raise ConstraintTypeError(f"variable {binder.var!r} is bound twice ({where})", binder.loc)
            inner[binder.var] = self._type_of_domain(binder.domain)
        if isinstance(node, s.Counting) and node.k < 0:
            raise ConstraintTypeError("a count must be non-negative", node.loc)
        used: set[str] = set()
        if node.where is not None:
            self.condition(node.where, inner, used)
        self.collect_and_check(node.body, inner, used)
        for binder in node.binders:
            if binder.var not in used:
                raise ConstraintTypeError(
                    f"variable {binder.var!r} is bound but never used",
                    binder.loc,
                    hint="remove it from the binder list or use it in the formula",
                )

    def collect_and_check(self, node: s.Formula, env: dict[str, _Type], used: set[str]) -> None:
        """Check ``node`` and record which variables it mentions."""
        self.formula(node, env)
        used.update(_mentioned_names(node))

    def atom(self, node: s.Atom, env: dict[str, _Type]) -> None:
        if node.predicate in self.theory.relations:
            raise ConstraintTypeError(
                f"relation {node.predicate!r} is known at compile time and has no atoms to use in a formula",
                node.loc,
                hint=f"test it in a `where` filter: `forall x, y in D where {node.predicate}(x, y): ...`",
            )
        decl = self.theory.predicates.get(node.predicate)
        if decl is None:
            known = ", ".join(self.theory.predicates) or "none"
            raise ConstraintTypeError(
                f"unknown predicate {node.predicate!r}", node.loc, hint=f"declared predicates: {known}"
            )
        self._arguments(node, decl.arg_domains, env)

    def _arguments(self, node: s.Atom | s.RelationTest, arg_domains: tuple[str, ...], env: dict[str, _Type]) -> None:
        kind, name = ("predicate", node.predicate) if isinstance(node, s.Atom) else ("relation", node.relation)
        if len(node.args) != len(arg_domains):
            raise ConstraintTypeError(
                f"{kind} {name!r} takes {len(arg_domains)} argument(s) ({', '.join(arg_domains) or 'none'}), "
                f"got {len(node.args)}",
                node.loc,
            )
        for arg, domain in zip(node.args, arg_domains):
            self.expect(arg, self._type_of_domain(domain), env, f"argument of {name!r}")

    def relation_test(self, node: s.RelationTest, env: dict[str, _Type]) -> None:
        decl = self.theory.relations.get(node.relation)
        if decl is None:
            predicate = self.theory.predicates.get(node.relation)
            if predicate is not None:
                raise ConstraintTypeError(
                    f"{predicate.kind} predicate {node.relation!r} cannot be tested in a `where` filter: a filter "
                    "is decided while grounding, before any evidence or belief exists",
                    node.loc,
                    hint="move the atom into the formula, or declare a `relation` given at compile time",
                )
            known = ", ".join(self.theory.relations) or "none"
            raise ConstraintTypeError(
                f"unknown relation {node.relation!r}", node.loc, hint=f"declared relations: {known}"
            )
        self._arguments(node, decl.arg_domains, env)

    # -- terms ---------------------------------------------------------------------------------
    def expect(self, term: s.Term, expected: _Type, env: dict[str, _Type], role: str) -> None:
        actual = self.term(term, env, expected)
        if actual != expected:
            raise ConstraintTypeError(
                f"{role} must be an element of {expected}, but this is an element of {actual}", term.loc
            )

    def term(self, term: s.Term, env: dict[str, _Type], expected: _Type | None) -> _Type:
        """The type of ``term``; ``expected`` decides what a constant or ``{}`` is."""
        if isinstance(term, s.Name):
            if term.name in env:
                return env[term.name]
            if expected is not None and self._is_listed_element(term.name, expected):
                return expected
            raise ConstraintTypeError(
                f"unbound variable {term.name!r}",
                term.loc,
                hint='bind it with forall/exists/exactly, or quote it ("name") to mean a domain element',
            )
        if isinstance(term, s.Constant):
            if expected is None:
                raise ConstraintTypeError(f"cannot tell which domain the constant {term.value!r} belongs to", term.loc)
            if expected.is_set:
                raise ConstraintTypeError(
                    f"expected an element of {expected}, got the constant {term.value!r}", term.loc
                )
            decl = self.theory.domains[expected.domain]
            if decl.elements is not None and term.value not in decl.elements:
                raise ConstraintTypeError(
                    f"{term.value!r} is not an element of domain {expected.domain!r}",
                    term.loc,
                    hint=f"its elements: {', '.join(decl.elements)}",
                )
            return expected
        if isinstance(term, s.EmptySet):
            if expected is None or not expected.is_set:
                raise ConstraintTypeError(f"`{{}}` is a set, but an element of {expected} is expected here", term.loc)
            return expected
        # SetAdd / SetRemove
        base = self.term(term.base, env, expected)
        if not base.is_set:
            op = "+" if isinstance(term, s.SetAdd) else "-"
            raise ConstraintTypeError(f"`{op}` needs a set on its left, got an element of {base}", term.base.loc)
        element_domain = self.theory.set_domains[base.domain].base
        self.expect(term.element, _Type(element_domain, False), env, "a set's element")
        return base

    def _is_listed_element(self, name: str, expected: _Type) -> bool:
        decl = self.theory.domains.get(expected.domain)
        return not expected.is_set and decl is not None and decl.elements is not None and name in decl.elements

    # -- conditions ----------------------------------------------------------------------------
    def condition(self, node: s.Condition, env: dict[str, _Type], used: set[str]) -> None:
        if isinstance(node, s.CondNot):
            self.condition(node.operand, env, used)
            return
        if isinstance(node, s.CondJunction):
            self.condition(node.left, env, used)
            self.condition(node.right, env, used)
            return
        used.update(_mentioned_names(node))
        if isinstance(node, s.Compare):
            left = self._infer(node.left, node.right, env)
            self.expect(node.right, left, env, "the right side of the comparison")
        elif isinstance(node, s.RelationTest):
            self.relation_test(node, env)
        elif isinstance(node, s.Distinct):
            first = self._infer(node.terms[0], node.terms[1], env)
            for term in node.terms[1:]:
                self.expect(term, first, env, "an argument of distinct(...)")
        else:  # Member
            collection = self.term(node.collection, env, None)
            if not collection.is_set:
                raise ConstraintTypeError(
                    f"`in` needs a set on its right, got an element of {collection}", node.collection.loc
                )
            base = self.theory.set_domains[collection.domain].base
            self.expect(node.element, _Type(base, False), env, "the left side of `in`")

    def _infer(self, term: s.Term, other: s.Term, env: dict[str, _Type]) -> _Type:
        """Type a comparison side, borrowing the other side's type for constants."""
        if isinstance(term, (s.Constant, s.EmptySet)) or (isinstance(term, s.Name) and term.name not in env):
            return self.term(term, env, self.term(other, env, None))
        return self.term(term, env, None)


def _atoms(node: s.Formula):
    """Every atom in a formula."""
    if isinstance(node, s.Atom):
        yield node
    elif isinstance(node, s.Not):
        yield from _atoms(node.operand)
    elif isinstance(node, s.Binary):
        yield from _atoms(node.left)
        yield from _atoms(node.right)
    elif isinstance(node, (s.Quantified, s.Counting)):
        yield from _atoms(node.body)


def _mentioned_names(node) -> set[str]:
    """Every bare name used anywhere under ``node`` (variables, and listed elements)."""
    if isinstance(node, s.Name):
        return {node.name}
    names: set[str] = set()
    for value in vars(node).values():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if hasattr(item, "loc") and not isinstance(item, s.Binder):
                names |= _mentioned_names(item)
    return names
