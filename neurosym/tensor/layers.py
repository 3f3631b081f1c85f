"""An SDD flattened into topological layers of index tensors (the KLay layout).

Node numbering, shared by every pass:

* ``0`` is false (log-value −inf), ``1`` is true (log-value 0);
* ``2 + 2*i`` and ``3 + 2*i`` are the positive and negative literal of variable ``i`` (0-based);
* then the decision nodes, layer by layer: a node's layer is one more than its deepest child's.

A decision node is the disjunction of its elements ``(prime, sub)``, each the conjunction of two
children. Within a layer, nodes are grouped by their number of elements, padded up to the group's
width with ``(false, false)`` elements, so a group's elements form a dense ``[nodes, width]``
block: a pass gathers the block's children and reduces over the width, with no scatter. Widths
above 4 are rounded up to a power of two to keep the number of groups small.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Group:
    """``nodes`` decision nodes of one layer, numbered from ``first``, each with ``width`` elements
    at ``[offset, offset + nodes * width)`` of the element arrays."""

    first: int
    nodes: int
    width: int
    offset: int


@dataclass(frozen=True)
class Layers:
    """The padded element arrays of a layered SDD and the groups that cut them."""

    num_vars: int
    root: int
    prime: torch.Tensor
    sub: torch.Tensor
    group_sizes: list[tuple[int, int, int]]  # (layer, nodes, width), bottom to top

    @property
    def num_leaves(self) -> int:
        return 2 + 2 * self.num_vars

    @property
    def num_nodes(self) -> int:
        return self.num_leaves + sum(nodes for _, nodes, _ in self.group_sizes)

    def groups(self) -> list[Group]:
        out, first, offset = [], self.num_leaves, 0
        for _, nodes, width in self.group_sizes:
            out.append(Group(first, nodes, width, offset))
            first, offset = first + nodes, offset + nodes * width
        return out


def leaf_index(literal: int) -> int:
    """Node number of a signed 1-based SDD literal."""
    return 2 * abs(literal) + (1 if literal < 0 else 0)


def padded_width(elements: int) -> int:
    return elements if elements <= 4 else 1 << (elements - 1).bit_length()


def layers_from_sdd(root, num_vars: int) -> Layers:
    """Walk the SDD below ``root`` once (iteratively: SDDs can be deeper than Python's stack)."""
    height: dict[int, int] = {}
    elements: dict[int, list[tuple[int, int]]] = {}
    number: dict[int, int] = {}

    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if node.id in height:
            continue
        if node.is_decision() and not expanded:
            stack.append((node, True))
            stack.extend((child, False) for pair in node.elements() for child in pair if child.id not in height)
        elif node.is_decision():
            pairs = [(p.id, s.id) for p, s in node.elements()]
            elements[node.id] = pairs
            height[node.id] = 1 + max(max(height[p], height[s]) for p, s in pairs)
        else:
            number[node.id], height[node.id] = _leaf_number(node, num_vars), 0

    key = lambda i: (height[i], padded_width(len(elements[i])))  # noqa: E731
    order = sorted(elements, key=lambda i: (*key(i), i))
    first = 2 + 2 * num_vars
    number.update((node_id, first + position) for position, node_id in enumerate(order))
    prime, sub, group_sizes = [], [], []
    for node_id in order:
        layer, width = key(node_id)
        if group_sizes and group_sizes[-1][0] == layer and group_sizes[-1][2] == width:
            group_sizes[-1] = (layer, group_sizes[-1][1] + 1, width)
        else:
            group_sizes.append((layer, 1, width))
        pairs = elements[node_id]
        prime += [number[p] for p, _ in pairs] + [0] * (width - len(pairs))
        sub += [number[s] for _, s in pairs] + [0] * (width - len(pairs))
    as_index = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
    return Layers(num_vars, number[root.id], as_index(prime), as_index(sub), group_sizes)


def _leaf_number(node, num_vars: int) -> int:
    if node.is_false():
        return 0
    if node.is_true():
        return 1
    literal = node.literal
    if not 1 <= abs(literal) <= num_vars:
        raise ValueError(f"SDD literal {literal} is outside the {num_vars} circuit variables")
    return leaf_index(literal)
