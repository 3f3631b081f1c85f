"""Syntax tree → ground formulas: expand quantifiers and counting over finite domains.

Each constraint becomes a list of ground conjuncts (its top-level ``forall`` instances), so the
compiler can order them. Ground atoms exist only for the argument tuples a constraint mentions.
Observed and predicted atoms are the variables ``1..n``; hidden atoms come after them, so the
compiler can quantify them out and keep the circuit over the first ``n``. Relations, given at
compile time, only filter bindings and never become atoms.
A binding whose atom falls outside its predicate's domain (say ``Z + w`` grows past a set
domain's ``max``) is skipped: that instance of the innermost quantifier or count is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

from neurosym.ground import formula as g
from neurosym.ground.domains import (
    Domain,
    DomainSpec,
    resolve_domains,
    resolve_relations,
)
from neurosym.lang import syntax as s

AtomKey = tuple  # (predicate, (element, ...))


class _OutOfDomain(Exception):
    """An atom's argument is not in its predicate's domain: skip the enclosing binding."""


@dataclass
class GroundConstraint:
    """One named constraint, grounded: the conjunction of ``conjuncts``."""

    name: str
    conjuncts: list  # list of ground formulas over variable indices after `GroundTheory` is built
    skipped: int  # bindings left out because an atom fell outside its predicate's domain


@dataclass
class GroundTheory:
    """Ground constraints over SDD variables ``1..len(atoms)``; ``atoms[i]`` is variable ``i + 1``.

    The hidden atoms are the variables after those: ``hidden[j]`` is variable ``len(atoms) + j + 1``.
    """

    theory: s.Theory
    domains: dict[str, Domain]
    atoms: list[AtomKey]
    names: list[str]
    kinds: list[str]  # "observed" / "predicted", per atom
    constraints: list[GroundConstraint]
    element_keys: list[tuple]  # per atom, the (domain, position) of every element it mentions
    hidden: list[AtomKey] = field(default_factory=list)
    hidden_names: list[str] = field(default_factory=list)
    hidden_element_keys: list[tuple] = field(default_factory=list)
    relations: dict[str, frozenset] = field(default_factory=dict)

    @property
    def var_count(self) -> int:
        """Every variable the constraints mention, hidden ones included."""
        return len(self.atoms) + len(self.hidden)

    def hidden_variables(self) -> list[int]:
        return list(range(len(self.atoms) + 1, self.var_count + 1))


def ground(theory: s.Theory, domains: DomainSpec | None = None) -> GroundTheory:
    """Ground every constraint of ``theory`` over the given domain sizes or element lists."""
    resolved = resolve_domains(theory, domains)
    relations = resolve_relations(theory, domains, resolved)
    grounder = _Grounder(theory, resolved, relations)
    raw = [(c.name, *grounder.constraint(c)) for c in theory.constraints.values()]
    # Variables in a canonical order: predicate declaration order, then argument tuples in domain order.
    order = {name: i for i, name in enumerate(theory.predicates)}
    keys = sorted(
        {k for _, conjuncts, _ in raw for f in conjuncts for k in g.atoms(f)},
        key=lambda k: (order[k[0]], grounder.sort_key(k)),
    )
    hidden = [k for k in keys if theory.predicates[k[0]].kind == "hidden"]
    atoms = [k for k in keys if theory.predicates[k[0]].kind != "hidden"]
    index = {k: i + 1 for i, k in enumerate(atoms + hidden)}
    constraints = [
        GroundConstraint(name, [g.relabel(f, index) for f in conjuncts], skipped) for name, conjuncts, skipped in raw
    ]
    return GroundTheory(
        theory,
        resolved,
        atoms,
        [grounder.atom_name(k) for k in atoms],
        [theory.predicates[k[0]].kind for k in atoms],
        constraints,
        [grounder.elements_of(k) for k in atoms],
        hidden,
        [grounder.atom_name(k) for k in hidden],
        [grounder.elements_of(k) for k in hidden],
        relations,
    )


class _Grounder:
    def __init__(self, theory: s.Theory, domains: dict[str, Domain], relations: dict[str, frozenset]):
        self.theory = theory
        self.domains = domains
        self.relations = relations
        self.arg_domains = {
            name: tuple(domains[d] for d in decl.arg_domains) for name, decl in theory.predicates.items()
        }
        self.positions = {name: d.index() for name, d in domains.items()}
        self.skipped = 0

    def constraint(self, decl: s.ConstraintDecl) -> tuple[list, int]:
        self.skipped = 0
        conjuncts: list = []
        self._top(decl.formula, {}, conjuncts)
        unique = dict.fromkeys(f for f in conjuncts if f is not True)  # x,y and y,x often give one clause
        return list(unique), self.skipped

    def _top(self, node: s.Formula, env: dict, out: list) -> None:
        """Split top-level ``forall`` and ``and`` into separate conjuncts."""
        if isinstance(node, s.Quantified) and node.quantifier == "forall":
            for inner in self._bindings(node, env):
                try:
                    instance: list = []
                    self._top(node.body, inner, instance)
                except _OutOfDomain:
                    self.skipped += 1
                    continue
                out.extend(instance)
        elif isinstance(node, s.Binary) and node.op == "and":
            self._top(node.left, env, out)
            self._top(node.right, env, out)
        else:
            out.append(self.formula(node, env))

    # -- formulas ------------------------------------------------------------------------------
    def formula(self, node: s.Formula, env: dict):
        if isinstance(node, s.Atom):
            return g.var(self._atom_key(node, env))
        if isinstance(node, s.Truth):
            return node.value
        if isinstance(node, s.Not):
            return g.neg(self.formula(node.operand, env))
        if isinstance(node, s.Binary):
            left, right = self.formula(node.left, env), self.formula(node.right, env)
            build = {
                "and": lambda: g.conj((left, right)),
                "or": lambda: g.disj((left, right)),
                "implies": lambda: g.implies(left, right),
                "iff": lambda: g.iff(left, right),
                "xor": lambda: g.xor(left, right),
            }[node.op]
            return build()
        items = []
        for inner in self._bindings(node, env):
            try:
                items.append(self.formula(node.body, inner))
            except _OutOfDomain:
                self.skipped += 1
        if isinstance(node, s.Counting):
            return g.count(node.op, node.k, items)
        return g.conj(items) if node.quantifier == "forall" else g.disj(items)

    def _bindings(self, node: s.Quantified | s.Counting, env: dict):
        names = [b.var for b in node.binders]
        for values in product(*(self.domains[b.domain].elements for b in node.binders)):
            inner = {**env, **dict(zip(names, values))}
            if node.where is None or self.condition(node.where, inner):
                yield inner

    def _atom_key(self, node: s.Atom, env: dict) -> AtomKey:
        values = tuple(self.term(t, env) for t in node.args)
        for value, domain in zip(values, self.arg_domains[node.predicate]):
            if not domain.contains(value):
                raise _OutOfDomain
        return (node.predicate, values)

    # -- terms and conditions ------------------------------------------------------------------
    def term(self, term: s.Term, env: dict):
        if isinstance(term, s.Name):
            return env.get(term.name, term.name)
        if isinstance(term, s.Constant):
            return term.value
        if isinstance(term, s.EmptySet):
            return frozenset()
        base = self.term(term.base, env)
        element = self.term(term.element, env)
        return base | {element} if isinstance(term, s.SetAdd) else base - {element}

    def condition(self, node: s.Condition, env: dict) -> bool:
        if isinstance(node, s.Compare):
            return (self.term(node.left, env) == self.term(node.right, env)) == node.equal
        if isinstance(node, s.Distinct):
            values = [self.term(t, env) for t in node.terms]
            return len(set(values)) == len(values)
        if isinstance(node, s.Member):
            return (self.term(node.element, env) in self.term(node.collection, env)) != node.negated
        if isinstance(node, s.RelationTest):
            return tuple(self.term(t, env) for t in node.args) in self.relations[node.relation]
        if isinstance(node, s.CondNot):
            return not self.condition(node.operand, env)
        if node.op == "and":
            return self.condition(node.left, env) and self.condition(node.right, env)
        return self.condition(node.left, env) or self.condition(node.right, env)

    # -- naming --------------------------------------------------------------------------------
    def sort_key(self, key: AtomKey) -> tuple:
        domains = self.arg_domains[key[0]]
        return tuple(self.positions[d.name][v] for v, d in zip(key[1], domains))

    def elements_of(self, key: AtomKey) -> tuple:
        """The base-domain elements an atom mentions, set arguments flattened, as (domain, position)."""
        out = []
        for value, domain in zip(key[1], self.arg_domains[key[0]]):
            base = domain.base or domain
            members = sorted(value, key=self.positions[base.name].__getitem__) if domain.base else [value]
            out.extend((base.name, self.positions[base.name][m]) for m in members)
        return tuple(out)

    def atom_name(self, key: AtomKey) -> str:
        domains = self.arg_domains[key[0]]
        if not domains:
            return key[0]
        return f"{key[0]}({','.join(d.render(v) for v, d in zip(key[1], domains))})"
