"""Ground formula → SDD with PySDD.

The recipe that keeps SDDs small and compilation fast (see `bench/bench_compile.py`):
an initial vtree over a locality-preserving variable order (`neurosym.compile.vtree`), ground
conjuncts conjoined deepest-scope first (conjuncts whose variables sit low in the vtree are local
and cheap, and they prune the space before the global ones arrive), and an optional bounded
minimization of the vtree at the end (or dynamic minimization throughout).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from pysdd.sdd import SddManager, SddNode

from neurosym.compile.vtree import OrderHeuristic, VtreeShape, build_vtree, conjunct_depths, variable_order
from neurosym.errors import CompilationError
from neurosym.ground import formula as g
from neurosym.ground.grounder import GroundTheory


@dataclass(frozen=True)
class CompileOptions:
    """How to compile; every field enters the cache key."""

    order: OrderHeuristic = "grouped"
    vtree: VtreeShape = "balanced"
    conjoin: str = "depth"  # "depth": deepest scopes first; "source": as written
    minimize: str = "final"  # "none", "final" (one bounded pass at the end) or "dynamic"
    minimize_seconds: float = 5.0
    max_size: int | None = None  # live SDD size at which to give up
    timeout: float | None = None  # seconds at which to give up

    def key(self) -> dict:
        return {"order": self.order, "vtree": self.vtree, "conjoin": self.conjoin,
                "minimize": self.minimize, "minimize_seconds": self.minimize_seconds}


@dataclass
class Compiled:
    manager: SddManager
    root: SddNode
    seconds: float
    order: list[int]


class _Budget:
    def __init__(self, ground: GroundTheory, options: CompileOptions, manager: SddManager):
        self.ground, self.options, self.manager = ground, options, manager
        self.start = time.perf_counter()

    def check(self) -> None:
        o = self.options
        elapsed = time.perf_counter() - self.start
        over_time = o.timeout is not None and elapsed > o.timeout
        size = self.manager.live_size() if o.max_size is not None else 0
        if over_time or (o.max_size is not None and size > o.max_size):
            what = f"ran past {o.timeout:g} s" if over_time else f"reached SDD size {size:,} > --max-size {o.max_size:,}"
            domains = ", ".join(f"{d.name}={len(d.elements)}" for d in self.ground.domains.values() if d.base is None)
            raise CompilationError(
                f"compiling theory {self.ground.theory.name!r} with {domains or 'no domains'} "
                f"({len(self.ground.atoms)} variables) {what}",
                hint="try smaller domain sizes, split the theory into separate constraint files, "
                "or raise --timeout/--max-size; `--order min-fill` or `--minimize dynamic` may also help",
            )


def compile_ground(ground: GroundTheory, options: CompileOptions = CompileOptions()) -> Compiled:
    """Compile the conjunction of all ground constraints into one SDD."""
    n = len(ground.atoms)
    conjuncts = [(c.name, f) for c in ground.constraints for f in c.conjuncts]
    order = variable_order(max(n, 1), [f for _, f in conjuncts], options.order, ground.element_keys or [()])
    manager = SddManager.from_vtree(build_vtree(order, options.vtree))
    if options.minimize == "dynamic":
        manager.auto_gc_and_minimize_on()
        manager.set_vtree_search_time_limit(options.minimize_seconds)
    budget = _Budget(ground, options, manager)
    if options.conjoin == "depth":
        depths = conjunct_depths(manager.vtree(), [f for _, f in conjuncts])
        conjuncts = [c for _, c in sorted(zip(depths, conjuncts), key=lambda t: -t[0])]
    root = manager.true()
    root.ref()
    for _, f in conjuncts:
        part = to_sdd(manager, f)
        new = root.conjoin(part)
        new.ref()
        root.deref()
        root = new
        budget.check()
        if root.is_false():
            break
    if root.is_false():
        root.deref()
        raise CompilationError(
            f"theory {ground.theory.name!r} is unsatisfiable with "
            f"{', '.join(f'{d.name}={len(d.elements)}' for d in ground.domains.values() if d.base is None) or 'its domains'}: "
            f"the constraints {', '.join(repr(c) for c in unsat_core(ground))} cannot hold together",
            hint="no assignment satisfies them; drop or weaken one of them",
        )
    if options.minimize == "final" and n > 1:
        manager.set_vtree_search_time_limit(options.minimize_seconds)
        manager.minimize_limited()
    manager.garbage_collect()
    return Compiled(manager, root, time.perf_counter() - budget.start, order)


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
    manager = SddManager(var_count=max(len(ground.atoms), 1))
    parts: dict[str, SddNode] = {}
    for c in ground.constraints:
        node = manager.true()
        for f in c.conjuncts:
            node = manager.conjoin(node, to_sdd(manager, f))
        parts[c.name] = node
    core = list(parts)
    for name in list(core):
        rest = [n for n in core if n != name]
        node = manager.true()
        for other in rest:
            node = manager.conjoin(node, parts[other])
        if node.is_false():
            core = rest
    return core


def constraint_figures(ground: GroundTheory, order: list[int], seconds: float) -> dict[str, dict]:
    """Per-constraint figures: ground instances, skipped instances, atoms, and (when quick) the
    model count and SDD size of the constraint alone, over all the theory's variables."""
    figures: dict[str, dict] = {}
    deadline = time.perf_counter() + seconds
    for c in ground.constraints:
        atoms = {a for f in c.conjuncts for a in g.atoms(f)}
        entry: dict = {"instances": len(c.conjuncts), "skipped": c.skipped, "atoms": len(atoms),
                       "model_count": None, "sdd_size": None}
        if time.perf_counter() < deadline:
            manager = SddManager.from_vtree(build_vtree(order))
            node = manager.true()
            for f in c.conjuncts:
                node = manager.conjoin(node, to_sdd(manager, f))
                if time.perf_counter() > deadline:
                    break
            else:
                entry["model_count"] = node.global_model_count()
                entry["sdd_size"] = node.size()
        figures[c.name] = entry
    return figures


def options_from(mapping: Mapping | None) -> CompileOptions:
    return CompileOptions(**dict(mapping or {}))
