"""The initial vtree: a variable order that keeps interacting variables close, and a tree over it.

Two ways to order the variables:

- ``grouped`` (default): atoms that mention the same set of domain elements are neighbours, and
  the groups follow the elements' order. In ``transitivity.ns`` this puts ``edge(x,y)``,
  ``causes(x,y)``, ``edge(y,x)`` and ``causes(y,x)`` side by side, which is what the ``direct`` and
  ``asymmetric`` constraints link.
- ``min-fill`` / ``min-degree``: variables that occur in one ground conjunct are linked; a greedy
  elimination of that interaction graph gives an elimination tree, and its depth-first order keeps
  each subtree's variables contiguous.

The vtree is a balanced or right-linear tree over that order. `bench/bench_compile.py` compares them.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Literal

import networkx as nx
from pysdd.sdd import Vtree

from neurosym.ground import formula as g

OrderHeuristic = Literal["grouped", "min-fill", "min-degree", "natural"]
VtreeShape = Literal["balanced", "right"]


def interaction_graph(var_count: int, conjuncts: Iterable) -> nx.Graph:
    """Variables ``1..var_count``, linked when they share a ground conjunct."""
    graph = nx.Graph()
    graph.add_nodes_from(range(1, var_count + 1))
    for f in conjuncts:
        graph.add_edges_from(combinations(sorted(set(g.atoms(f))), 2))
    return graph


def elimination_order(graph: nx.Graph, heuristic: OrderHeuristic = "min-fill") -> tuple[list[int], dict[int, int | None]]:
    """Greedy elimination order and, for each variable, its parent in the elimination tree.

    The parent of ``v`` is the neighbour (at ``v``'s elimination) that is eliminated next.
    """
    work = {v: set(graph[v]) for v in graph}
    order: list[int] = []
    neighbours_at_elimination: dict[int, set[int]] = {}
    while work:
        if heuristic == "natural":
            v = min(work)
        else:
            v = min(work, key=lambda u: (_fill_in(work, u) if heuristic == "min-fill" else 0, len(work[u]), u))
        nbrs = work.pop(v)
        for a, b in combinations(nbrs, 2):
            work[a].add(b)
            work[b].add(a)
        for u in nbrs:
            work[u].discard(v)
        order.append(v)
        neighbours_at_elimination[v] = nbrs
    position = {v: i for i, v in enumerate(order)}
    parent = {v: (min(n, key=position.__getitem__) if n else None) for v, n in neighbours_at_elimination.items()}
    return order, parent


def _fill_in(work: dict[int, set[int]], v: int) -> int:
    nbrs = list(work[v])
    return sum(1 for a, b in combinations(nbrs, 2) if b not in work[a])


def tree_order(order: Sequence[int], parent: dict[int, int | None]) -> list[int]:
    """Depth-first order of the elimination tree: each subtree's variables are contiguous."""
    children: dict[int, list[int]] = {v: [] for v in order}
    roots = []
    for v in order:
        (children[parent[v]] if parent[v] is not None else roots).append(v)
    out: list[int] = []
    stack = list(roots)
    while stack:
        v = stack.pop()
        out.append(v)
        stack.extend(reversed(children[v]))
    return out


def grouped_order(element_keys: Sequence[tuple]) -> list[int]:
    """Variables ``1..n`` ordered by the sorted element positions their atoms mention.

    ``element_keys[i]`` is the tuple of element positions atom ``i + 1`` mentions (set arguments
    flattened); inside a group, atoms over the same argument tuple stay together, and a stable
    sort keeps the canonical (predicate) order among them.
    """
    keyed = sorted(range(len(element_keys)), key=lambda i: (tuple(sorted(set(element_keys[i]))), element_keys[i]))
    return [i + 1 for i in keyed]


def variable_order(
    var_count: int, conjuncts: Sequence, heuristic: OrderHeuristic = "grouped", element_keys: Sequence[tuple] = ()
) -> list[int]:
    if heuristic == "natural":
        return list(range(1, var_count + 1))
    if heuristic == "grouped":
        return grouped_order(element_keys)
    order, parent = elimination_order(interaction_graph(var_count, conjuncts), heuristic)
    return tree_order(order, parent)


def build_vtree(order: Sequence[int], shape: VtreeShape = "balanced") -> Vtree:
    return Vtree(var_count=len(order), var_order=list(order), vtree_type=shape)


def conjunct_depths(vtree: Vtree, conjuncts: Sequence) -> list[int]:
    """Depth in ``vtree`` of the lowest node covering each conjunct's variables (deeper = more local)."""
    paths: dict[int, list[int]] = {}
    stack = [(vtree, [])]
    while stack:
        node, above = stack.pop()
        here = [*above, node.position()]
        if node.is_leaf():
            paths[node.var()] = here
        else:
            stack.append((node.left(), here))
            stack.append((node.right(), here))
    depths = []
    for f in conjuncts:
        vs = set(g.atoms(f))
        if not vs:
            depths.append(0)
            continue
        ps = [paths[v] for v in vs]
        depth = 0
        while all(len(p) > depth for p in ps) and len({p[depth] for p in ps}) == 1:
            depth += 1
        depths.append(depth)
    return depths
