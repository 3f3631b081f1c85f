"""The initial vtree: a variable order that keeps interacting variables close, and a tree over it.

Two ways to order the variables:

- ``grouped`` (default): atoms that mention the same set of domain elements are neighbours, and
  the groups follow the elements' order. In ``transitivity.ns`` this puts ``edge(x,y)``,
  ``causes(x,y)``, ``edge(y,x)`` and ``causes(y,x)`` side by side, which is what the ``direct`` and
  ``asymmetric`` constraints link.
- ``min-fill`` / ``min-degree``: variables that occur in one ground conjunct are linked; a greedy
  elimination of that interaction graph gives an elimination tree, and its depth-first order keeps
  each subtree's variables contiguous.

The vtree is a balanced or right-linear tree over that order, or (``blocks``) a tree of blocks:
the atoms over one set of elements form a small balanced subtree, the blocks that mention the first
few elements hang off a right-linear spine, and the other blocks form a balanced tree below it. In
``transitivity.ns`` a block is ``edge(x,y), causes(x,y), edge(y,x), causes(y,x)``, and the spine
decides the first nodes' relations before the rest splits, as in the vtrees PySDD's own search
finds on small domains. `bench/bench_compile.py` compares them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from itertools import combinations, groupby
from typing import Literal, Union

import networkx as nx
from pysdd.sdd import Vtree

from neurosym.ground import formula as g

OrderHeuristic = Literal["grouped", "min-fill", "min-degree", "natural"]
VtreeShape = Literal["balanced", "right", "blocks"]
Tree = Union[int, tuple["Tree", "Tree"]]  # a variable, or (left, right)


def interaction_graph(var_count: int, conjuncts: Iterable) -> nx.Graph:
    """Variables ``1..var_count``, linked when they share a ground conjunct."""
    graph = nx.Graph()
    graph.add_nodes_from(range(1, var_count + 1))
    for f in conjuncts:
        graph.add_edges_from(combinations(sorted(set(g.atoms(f))), 2))
    return graph


def elimination_order(
    graph: nx.Graph, heuristic: OrderHeuristic = "min-fill"
) -> tuple[list[int], dict[int, int | None]]:
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


def build_vtree(order: Sequence[int], shape: VtreeShape = "balanced", element_keys: Sequence[tuple] = ()) -> Vtree:
    """The vtree of ``shape`` over ``order`` (``blocks`` groups the order by ``element_keys``)."""
    if shape == "blocks":
        return _vtree_from_tree(block_tree(order, element_keys))
    return Vtree(var_count=len(order), var_order=list(order), vtree_type=shape)


def block_tree(order: Sequence[int], element_keys: Sequence[tuple]) -> Tree:
    """Blocks of consecutive variables whose atoms mention the same elements, each a balanced
    subtree; the blocks that mention one of the first ``(n - 1) // 3`` elements of a domain (at
    least one) lie on a right-linear spine, in order, above a balanced tree of the other blocks."""
    elements = lambda v: frozenset(element_keys[v - 1])  # noqa: E731
    blocks = [list(group) for _, group in groupby(order, key=elements)]
    sizes: dict[str, int] = {}
    for key in element_keys:
        for domain, position in key:
            sizes[domain] = max(sizes.get(domain, 0), position + 1)
    spine = {domain: max(1, (size - 1) // 3) for domain, size in sizes.items()}
    on_spine = [
        any(position < spine[domain] for domain, position in elements(b[0])) or not elements(b[0]) for b in blocks
    ]
    tree = _balanced([_balanced(b) for b, top in zip(blocks, on_spine) if not top])
    for block, top in reversed(list(zip(blocks, on_spine))):
        if top:
            tree = _balanced(block) if tree is None else (_balanced(block), tree)
    return tree


def tree_leaves(tree: Tree) -> list[int]:
    return [tree] if isinstance(tree, int) else tree_leaves(tree[0]) + tree_leaves(tree[1])


def _balanced(items: Sequence):
    if not items:
        return None
    if len(items) == 1:
        return items[0]
    half = len(items) // 2
    return (_balanced(items[:half]), _balanced(items[half:]))


def project_vtree(vtree: Vtree, keep: int) -> Vtree:
    """``vtree`` with the leaves of variables past ``keep`` removed (and the nodes left with one
    child spliced out): the vtree an SDD has once those variables are quantified out of it."""

    def prune(node: Vtree) -> Tree | None:
        if node.is_leaf():
            return node.var() if node.var() <= keep else None
        left, right = prune(node.left()), prune(node.right())
        return left if right is None else right if left is None else (left, right)

    tree = prune(vtree)
    return Vtree(var_count=1, var_order=[1], vtree_type="balanced") if tree is None else _vtree_from_tree(tree)


def _vtree_from_tree(tree: Tree) -> Vtree:
    """PySDD builds only its standard shapes, so any other vtree goes through its file format."""
    lines: list[str] = []

    def emit(node: Tree) -> int:
        if isinstance(node, int):
            lines.append(f"L {len(lines)} {node}")
        else:
            left, right = emit(node[0]), emit(node[1])
            lines.append(f"I {len(lines)} {left} {right}")
        return len(lines) - 1

    emit(tree)
    fd, path = tempfile.mkstemp(suffix=".vtree")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"vtree {len(lines)}\n" + "\n".join(lines) + "\n")
        return Vtree.from_file(path.encode())
    finally:
        os.unlink(path)


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
