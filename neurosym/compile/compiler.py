"""Ground formula → SDD with PySDD.

The recipe that keeps SDDs small and compilation fast (see `bench/bench_compile.py`):
an initial vtree over a locality-preserving variable order (`neurosym.compile.vtree`; by default
the order and vtree shape that give the smallest SDD on a smaller instance of the theory), ground
conjuncts conjoined deepest-scope first (conjuncts whose variables sit low in the vtree are local
and cheap, and they prune the space before the global ones arrive), and an optional bounded
minimization of the vtree at the end (or dynamic minimization throughout).

Hidden atoms are quantified out exactly, one hidden predicate at a time and its atoms group by
group (`_project`), and the SDD then moves to a manager over the observed and predicted atoms.
"""

from __future__ import annotations

import array
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal, get_args

from pysdd.sdd import SddManager, SddNode

from neurosym.compile.artifact import model_count
from neurosym.compile.vtree import (
    OrderHeuristic,
    VtreeShape,
    build_vtree,
    conjunct_depths,
    project_vtree,
    variable_order,
)
from neurosym.errors import CompilationError
from neurosym.ground import formula as g
from neurosym.ground.grounder import GroundTheory
from neurosym.ground.grounder import ground as ground_theory

# The (order, vtree) pairs that ``order="auto"`` tries, best first on the shipped theories:
# blocks suit relations over pairs (transitivity), min-fill suits many observed side atoms (d-separation).
AUTO_CANDIDATES = (("grouped", "blocks"), ("min-fill", "balanced"), ("grouped", "balanced"))


@dataclass(frozen=True)
class CompileOptions:
    """How to compile; every field enters the cache key."""

    order: OrderHeuristic | Literal["auto"] = "auto"  # "auto" picks the order and the vtree together
    vtree: VtreeShape = "balanced"  # used when the order is not "auto"
    conjoin: str = "depth"  # "depth": deepest scopes first; "source": as written
    minimize: str = "final"  # "none", "final" (one bounded pass at the end) or "dynamic"
    minimize_seconds: float = 5.0
    # Past this size a final pass costs far more than it saves (docs/benchmarks.md), so it is skipped.
    minimize_up_to: int = 50_000
    max_size: int | None = None  # live SDD size at which to give up
    timeout: float | None = None  # seconds at which to give up

    def __post_init__(self):
        choices = {
            "order": ("auto", *get_args(OrderHeuristic)),
            "vtree": get_args(VtreeShape),
            "conjoin": ("depth", "source"),
            "minimize": ("none", "final", "dynamic"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise CompilationError(
                    f"compile option {_flag(name)} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}"
                )
        for name, low in (("minimize_seconds", 0), ("minimize_up_to", 0), ("max_size", 1), ("timeout", 0)):
            value = getattr(self, name)
            if value is None and name in ("max_size", "timeout"):
                continue
            whole = name in ("minimize_up_to", "max_size")
            if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) or value < low:
                raise CompilationError(
                    f"compile option {_flag(name)} must be a {'whole ' if whole else ''}number "
                    f"of at least {low}; got {value!r}"
                )

    def key(self) -> dict:
        return {
            "order": self.order,
            "vtree": self.vtree,
            "conjoin": self.conjoin,
            "minimize": self.minimize,
            "minimize_seconds": self.minimize_seconds,
            "minimize_up_to": self.minimize_up_to,
        }


@dataclass
class Compiled:
    manager: SddManager
    root: SddNode
    seconds: float
    order: list[int]
    options: CompileOptions  # with the order and vtree that "auto" chose


class _Budget:
    def __init__(self, ground: GroundTheory, options: CompileOptions, manager: SddManager, start: float):
        self.ground, self.options, self.manager, self.start = ground, options, manager, start

    def check(self) -> None:
        o = self.options
        elapsed = time.perf_counter() - self.start
        over_time = o.timeout is not None and elapsed > o.timeout
        size = self.manager.live_size() if o.max_size is not None else 0
        if over_time or (o.max_size is not None and size > o.max_size):
            what = (
                f"ran past {o.timeout:g} s" if over_time else f"reached SDD size {size:,} > --max-size {o.max_size:,}"
            )
            domains = ", ".join(f"{d.name}={len(d.elements)}" for d in self.ground.domains.values() if d.base is None)
            raise CompilationError(
                f"compiling theory {self.ground.theory.name!r} with {domains or 'no domains'} "
                f"({len(self.ground.atoms)} variables) {what}",
                hint="try smaller domain sizes, split the theory into separate constraint files, "
                "or raise --timeout/--max-size; `--order min-fill` or `--minimize dynamic` may also help",
            )


def compile_ground(ground: GroundTheory, options: CompileOptions = CompileOptions()) -> Compiled:
    """Compile the conjunction of all ground constraints into one SDD."""
    start = time.perf_counter()
    if options.order == "auto":
        order_name, shape = choose_strategy(ground, options)
        options = replace(options, order=order_name, vtree=shape)
    n = len(ground.atoms)
    conjuncts = [(c.name, f) for c in ground.constraints for f in c.conjuncts]
    keys = ground.element_keys + ground.hidden_element_keys or [()]
    order = variable_order(max(ground.var_count, 1), [f for _, f in conjuncts], options.order, keys)
    manager = SddManager.from_vtree(build_vtree(order, options.vtree, keys))
    if options.minimize == "dynamic":
        manager.auto_gc_and_minimize_on()
        manager.set_vtree_search_time_limit(options.minimize_seconds)
    budget = _Budget(ground, options, manager, start)
    if options.conjoin == "depth":
        depths = conjunct_depths(manager.vtree(), [f for _, f in conjuncts])
        conjuncts = [c for _, c in sorted(zip(depths, conjuncts), key=lambda t: -t[0])]
    root = _project(manager, ground, [f for _, f in conjuncts], budget)
    if root.is_false():
        root.deref()
        raise CompilationError(
            f"theory {ground.theory.name!r} is unsatisfiable with "
            f"{', '.join(f'{d.name}={len(d.elements)}' for d in ground.domains.values() if d.base is None) or 'its domains'}: "
            f"the constraints {', '.join(repr(c) for c in unsat_core(ground))} cannot hold together",
            hint="no assignment satisfies them; drop or weaken one of them",
        )
    if ground.hidden:
        manager, root = _drop_hidden(manager, root, n)
    if options.minimize == "final" and n > 1 and root.size() <= options.minimize_up_to:
        manager.set_vtree_search_time_limit(options.minimize_seconds)
        manager.minimize_limited()
    manager.garbage_collect()
    return Compiled(manager, root, time.perf_counter() - budget.start, order, options)


def _replace(old: SddNode, new: SddNode) -> SddNode:
    """Keep ``new`` alive in place of ``old``."""
    new.ref()
    old.deref()
    return new


def _conjoin(start: SddNode, items, budget: _Budget | None = None) -> SddNode:
    """``start`` and every item (a ground formula, or an SDD of the same manager), referenced."""
    manager = start.manager
    root = start
    root.ref()
    for item in items:
        root = _replace(root, root.conjoin(item if isinstance(item, SddNode) else to_sdd(manager, item)))
        if budget is not None:
            budget.check()
        if root.is_false():
            break
    return root


def _project(manager: SddManager, ground: GroundTheory, formulas: list, budget: _Budget) -> SddNode:
    """exists hidden: f1 and ... and fm, one hidden predicate at a time (without hidden atoms, the
    plain conjunction).

    The parts that mention a predicate's atoms fall into groups that share none of those atoms
    (in the route file, reach(a, y) for each anchor a); each group is conjoined with the parts that
    mention none of them, and the group's atoms are quantified out in one pass. This is exact:
    exists X1, X2: B and G1(X1) and G2(X2) = (exists X1: B and G1) and (exists X2: B and G2), and
    each group's SDD stays far smaller than the conjunction of everything with every hidden atom
    alive. The predicate that splits into the most groups goes first (ties: the last declared)."""
    n = len(ground.atoms)
    variables_of: dict[str, frozenset[int]] = {}
    for j, atom in enumerate(ground.hidden):
        variables_of[atom[0]] = variables_of.get(atom[0], frozenset()) | {n + 1 + j}
    declared = {name: i for i, name in enumerate(ground.theory.predicates)}
    parts = [(frozenset(v for v in g.atoms(f) if v > n), f) for f in formulas]
    while remaining := [p for p, variables in variables_of.items() if any(h & variables for h, _ in parts)]:
        groups = {p: _groups(parts, variables_of[p]) for p in remaining}
        predicate = max(remaining, key=lambda p: (len(groups[p]), declared[p]))
        eliminated = variables_of[predicate]
        rest = [part for part in parts if not part[0] & eliminated]
        context = _conjoin(manager.true(), [item for _, item in rest], budget)
        _release(rest)
        projected = []
        for group in groups[predicate]:
            node = _conjoin(context, [item for _, item in group], budget)
            _release(group)
            hidden = frozenset().union(*(h for h, _ in group + rest))
            node = _replace(node, _exists(manager, hidden & eliminated, node))
            budget.check()
            projected.append((hidden - eliminated, node))
        context.deref()
        parts = projected
    root = _conjoin(manager.true(), [item for _, item in parts], budget)
    _release(parts)
    return root


def _groups(parts: list[tuple], variables: frozenset[int]) -> list[list[tuple]]:
    """The parts that mention ``variables``, in groups that share none of them (union-find)."""
    owner: dict[int, int] = {}

    def find(i: int) -> int:
        while owner.setdefault(i, i) != i:
            i = owner[i]
        return i

    first: dict[int, int] = {}
    mentioning = [part for part in parts if part[0] & variables]
    for i, (hidden, _) in enumerate(mentioning):
        for v in hidden & variables:
            owner[find(i)] = find(first.setdefault(v, i))
    groups: dict[int, list[tuple]] = {}
    for i, part in enumerate(mentioning):
        groups.setdefault(find(i), []).append(part)
    return list(groups.values())


def _exists(manager: SddManager, variables: frozenset[int], node: SddNode) -> SddNode:
    """``node`` with ``variables`` quantified out in one pass (far cheaper than one at a time)."""
    chosen = array.array("i", [0] * (manager.var_count() + 1))
    for v in variables:
        chosen[v] = 1
    return manager.exists_multiple(chosen, node)


def _release(parts: list[tuple]) -> None:
    """Drop the reference each SDD part held (ground formulas hold none)."""
    for _, item in parts:
        if isinstance(item, SddNode):
            item.deref()


def _drop_hidden(manager: SddManager, root: SddNode, keep: int) -> tuple[SddManager, SddNode]:
    """The SDD (which no longer mentions variables past ``keep``) rebuilt in a manager over the
    variables ``1..keep`` whose vtree is the old one without the quantified leaves; every decision
    node maps to a node of that vtree, so the rebuild is one linear pass."""
    target = SddManager.from_vtree(project_vtree(manager.vtree(), keep))
    memo: dict[int, SddNode] = {}

    def rebuild(node: SddNode) -> SddNode:
        if node.is_true() or node.is_false():
            return target.true() if node.is_true() else target.false()
        if node.is_literal():
            return target.literal(node.literal)
        if node.id not in memo:
            result = target.false()
            for prime, sub in node.elements():
                result = target.disjoin(result, target.conjoin(rebuild(prime), rebuild(sub)))
            memo[node.id] = result
        return memo[node.id]

    projected = rebuild(root)
    projected.ref()
    root.deref()
    return target, projected


def choose_strategy(ground: GroundTheory, options: CompileOptions) -> tuple[str, str]:
    """The `AUTO_CANDIDATES` pair whose SDD is smallest for the theory grounded over smaller
    domains (n - 2 elements, but at least 3 and below n where possible: the ranking holds across
    neighbouring sizes, and the small instance compiles in a fraction of the time). A try stops
    once it grows past twice the best size so far or runs twice as long."""
    smaller = {
        name: list(d.elements[: max(2, min(len(d.elements) - 1, 3), len(d.elements) - 2)])
        for name, d in ground.domains.items()
        if name in ground.theory.domains and ground.theory.domains[name].elements is None
    }
    kept = {
        name: [
            row
            for row in rows
            if all(
                e in smaller.get(d, ground.domains[d].elements)
                for e, d in zip(row, ground.theory.relations[name].arg_domains)
            )
        ]
        for name, rows in ground.relations.items()
    }  # the relations among the elements kept
    probe = ground_theory(ground.theory, {**smaller, **kept})
    best, best_size, best_seconds = AUTO_CANDIDATES[0], None, None
    for order_name, shape in AUTO_CANDIDATES:
        bounded = best_size is not None
        limits = [t for t in (options.timeout, 2 * best_seconds + 1 if bounded else None) if t is not None]
        trial = CompileOptions(
            order=order_name,
            vtree=shape,
            minimize="none",
            timeout=min(limits, default=None),
            max_size=2 * best_size + 100 if bounded else None,
        )
        try:
            compiled = compile_ground(probe, trial)
        except CompilationError:  # over the best so far, or unsatisfiable when smaller
            continue
        if best_size is None or compiled.root.size() < best_size:
            best, best_size, best_seconds = (order_name, shape), compiled.root.size(), compiled.seconds
    return best


def to_sdd(manager: SddManager, f) -> SddNode:
    """One ground formula (over variable indices) as an SDD."""
    if f is True:
        return manager.true()
    if f is False:
        return manager.false()
    tag = f[0]
    if tag == "var":
        return manager.literal(f[1])
    if tag == "not":
        return manager.negate(to_sdd(manager, f[1]))
    if tag == "and":
        node = manager.true()
        for item in f[1]:
            node = manager.conjoin(node, to_sdd(manager, item))
        return node
    if tag == "or":
        node = manager.false()
        for item in f[1]:
            node = manager.disjoin(node, to_sdd(manager, item))
        return node
    if tag in ("iff", "xor"):
        a, b = to_sdd(manager, f[1]), to_sdd(manager, f[2])
        same = manager.disjoin(manager.conjoin(a, b), manager.conjoin(manager.negate(a), manager.negate(b)))
        return same if tag == "iff" else manager.negate(same)
    return _count_sdd(manager, f[1], f[2], [to_sdd(manager, item) for item in f[3]])


def _count_sdd(manager: SddManager, op: str, k: int, items: list[SddNode]) -> SddNode:
    """Cardinality by dynamic programming: ``exact[j]`` = exactly j of the items so far hold."""
    cap = k if op == "at_least" else k + 1  # the last slot means "at least cap"
    exact = [manager.true()] + [manager.false()] * cap
    for item in items:
        not_item = manager.negate(item)
        new = [manager.conjoin(exact[0], not_item)]
        for j in range(1, cap + 1):
            keep = exact[j] if j == cap else manager.conjoin(exact[j], not_item)
            new.append(manager.disjoin(keep, manager.conjoin(exact[j - 1], item)))
        exact = new
    if op == "at_least":
        return exact[cap]
    if op == "exactly":
        return exact[k]
    node = manager.false()
    for j in range(k + 1):
        node = manager.disjoin(node, exact[j])
    return node


def unsat_core(ground: GroundTheory) -> list[str]:
    """A minimal set of constraints that cannot hold together (deletion-based)."""
    manager = SddManager(var_count=max(ground.var_count, 1))
    return _minimal_core(manager, _constraint_sdds(ground.constraints, manager.true()))


def violated_constraints(ground: GroundTheory, assignment) -> list[str]:
    """The constraints a complete 0/1 assignment of the observed and predicted atoms violates.
    Constraints that mention hidden atoms hold when some hidden values satisfy them all together;
    when none do, a minimal set of them that cannot hold together is named."""
    value = lambda v: bool(assignment[v - 1])  # noqa: E731 - variables are 1-based
    n = len(ground.atoms)
    linked = [c for c in ground.constraints if any(v > n for f in c.conjuncts for v in g.atoms(f))]
    violated = {
        c.name for c in ground.constraints if c not in linked and not all(g.evaluate(f, value) for f in c.conjuncts)
    }
    if linked:
        manager = SddManager(var_count=ground.var_count)
        evidence = to_sdd(manager, g.conj(g.var(v) if value(v) else g.neg(g.var(v)) for v in range(1, n + 1)))
        parts = _constraint_sdds(linked, evidence)
        if _conjoin(evidence, parts.values()).is_false():
            violated.update(_minimal_core(manager, parts))
    return [c.name for c in ground.constraints if c.name in violated]


def _constraint_sdds(constraints, start: SddNode) -> dict[str, SddNode]:
    """Each constraint's conjuncts conjoined onto ``start``."""
    return {c.name: _conjoin(start, c.conjuncts) for c in constraints}


def _minimal_core(manager: SddManager, parts: dict[str, SddNode]) -> list[str]:
    """Drop each part in turn while the rest still cannot hold together."""
    core = list(parts)
    for name in list(core):
        rest = [n for n in core if n != name]
        if _conjoin(manager.true(), (parts[other] for other in rest)).is_false():
            core = rest
    return core


def constraint_figures(ground: GroundTheory, order: list[int], seconds: float) -> dict[str, dict]:
    """Per-constraint figures: ground instances, skipped instances, atoms, and (when quick) the
    model count and SDD size of the constraint alone, over all the theory's variables."""
    figures: dict[str, dict] = {}
    deadline = time.perf_counter() + seconds
    for c in ground.constraints:
        atoms = {a for f in c.conjuncts for a in g.atoms(f)}
        entry: dict = {
            "instances": len(c.conjuncts),
            "skipped": c.skipped,
            "atoms": len(atoms),
            "model_count": None,
            "sdd_size": None,
        }
        # alone, a constraint over hidden atoms has no count of its own: only the whole theory is projected
        if time.perf_counter() < deadline and max(atoms, default=0) <= len(ground.atoms):
            manager = SddManager.from_vtree(build_vtree(order))
            node = manager.true()
            for f in c.conjuncts:
                node = manager.conjoin(node, to_sdd(manager, f))
                if time.perf_counter() > deadline:
                    break
            else:
                entry["model_count"] = model_count(node, len(ground.atoms))
                entry["sdd_size"] = node.size()
        figures[c.name] = entry
    return figures


def options_from(mapping: Mapping | None) -> CompileOptions:
    """`CompileOptions` from keyword fields, naming any unknown one instead of a bare TypeError."""
    known = [f.name for f in fields(CompileOptions)]
    unknown = [k for k in (mapping or {}) if k not in known]
    if unknown:
        raise CompilationError(f"unknown compile option {unknown[0]!r}; the options are {', '.join(known)}")
    return CompileOptions(**dict(mapping or {}))


def _flag(field_name: str) -> str:
    """A field as both its Python name and its command-line flag."""
    return f"{field_name!r} (--{field_name.replace('_', '-')})"
