"""An SDD flattened into topological layers of index tensors (the KLay layout): what is cached
with the artifact, and the grouped view the log-space and max passes run on (the probability pass
runs on `neurosym.tensor.products`, built from it).

Node numbering, shared by every pass:

* ``0`` is false (log-value −inf), ``1`` is true (log-value 0);
* ``2 + 2*i`` and ``3 + 2*i`` are the positive and negative literal of variable ``i`` (0-based);
* then the decision nodes, layer by layer: a node's layer is one more than its deepest child's.

A decision node is the disjunction of its elements ``(prime, sub)``, each the conjunction of two
children. Elements with a false child add nothing and are left out (a compressed SDD has many
``(prime, false)`` elements), so some nodes keep a single element: a plain conjunction, which
needs no log-sum-exp. Within a layer, nodes are grouped by their number of elements (the
group's width), so a group's elements form a dense ``[nodes, width]`` block: a pass gathers the
block's children and reduces over the width, with no scatter. Small groups are padded up into the
next wider one with ``(false, false)`` elements, which add nothing.
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
    """The (padded) element arrays of a layered SDD and the groups that cut them."""

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

    def problem(self) -> str | None:
        """What makes these arrays unusable (read from a file), or None: every element must point
        to nodes numbered below its own node, which also keeps every index in range."""
        sizes = self._sizes()
        if self.prime.shape != self.sub.shape or self.prime.numel() != int((sizes[:, 0] * sizes[:, 1]).sum()):
            return "element arrays do not match the group sizes"
        children = torch.cat([self.prime, self.sub])
        if (
            not (0 <= self.root < self.num_nodes)
            or bool((children < 0).any())
            or bool((children >= self.node_of_element().repeat(2)).any())
        ):
            return "an element points to a node that does not come before it"
        return None

    def node_of_element(self) -> torch.Tensor:
        """The node each element belongs to, ``[elements]``."""
        sizes = self._sizes()
        return torch.arange(self.num_leaves, self.num_nodes).repeat_interleave(
            sizes[:, 1].repeat_interleave(sizes[:, 0])
        )

    def _sizes(self) -> torch.Tensor:
        """(nodes, width) of each group, ``[groups, 2]``."""
        return torch.tensor([(nodes, width) for _, nodes, width in self.group_sizes], dtype=torch.long).reshape(-1, 2)

    def paths_through_nodes(self) -> float:
        """Σ over nodes of (root-to-node paths) × (node-to-leaf paths): how many times a rounding
        error at some node can be counted into the root value or a literal's derivative (it bounds
        the underflow error of the probability pass; see `TensorCircuit.smallest_exact`)."""
        groups, node_of_element = self.groups(), self.node_of_element()
        prime, sub = self.prime.cpu(), self.sub.cpu()
        real = (prime != 0).double()  # padding elements are (false, false)
        above = torch.zeros(self.num_nodes, dtype=torch.float64)
        above[self.root] = 1.0
        below = torch.zeros(self.num_nodes, dtype=torch.float64)
        below[: self.num_leaves] = 1.0
        for g in groups:
            span = slice(g.offset, g.offset + g.nodes * g.width)
            per_element = real[span] * (below[prime[span]] + below[sub[span]])
            below[g.first : g.first + g.nodes] = per_element.view(g.nodes, g.width).sum(1)
        for g in reversed(groups):
            span = slice(g.offset, g.offset + g.nodes * g.width)
            amounts = real[span] * above[node_of_element[span]]
            above.index_add_(0, prime[span], amounts)
            above.index_add_(0, sub[span], amounts)
        return float((above * below).sum())

    def groups(self) -> list[Group]:
        out, first, offset = [], self.num_leaves, 0
        for _, nodes, width in self.group_sizes:
            out.append(Group(first, nodes, width, offset))
            first, offset = first + nodes, offset + nodes * width
        return out


MERGE_SLACK = 64  # padding elements always worth saving a group's fixed cost


def leaf_index(literal: int) -> int:
    """Node number of a signed 1-based SDD literal."""
    return 2 * abs(literal) + (1 if literal < 0 else 0)


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
            pairs = [(p.id, s.id) for p, s in node.elements() if number.get(p.id) != 0 and number.get(s.id) != 0]
            if pairs:
                elements[node.id] = pairs
                height[node.id] = 1 + max(max(height[p], height[s]) for p, s in pairs)
            else:  # every element has a false child: the node is false
                number[node.id], height[node.id] = 0, 0
        else:
            number[node.id], height[node.id] = _leaf_number(node, num_vars), 0

    order = sorted(elements, key=lambda i: (height[i], len(elements[i]), i))
    groups = _merge_small_groups([(height[i], len(elements[i]), [i]) for i in order])
    first = 2 + 2 * num_vars
    in_order = [node_id for _, _, ids in groups for node_id in ids]
    number.update((node_id, first + position) for position, node_id in enumerate(in_order))
    prime, sub, group_sizes = [], [], []
    for layer, width, ids in groups:
        group_sizes.append((layer, len(ids), width))
        for node_id in ids:
            padding = [0] * (width - len(elements[node_id]))
            prime += [number[p] for p, _ in elements[node_id]] + padding
            sub += [number[s] for _, s in elements[node_id]] + padding
    as_index = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
    return Layers(num_vars, number[root.id], as_index(prime), as_index(sub), group_sizes)


def _merge_small_groups(nodes: list[tuple[int, int, list]]) -> list[tuple[int, int, list]]:
    """(layer, width, node ids) groups from per-node entries sorted by layer and width: equal
    widths share a group, and a group joins the next wider one of its layer when the padding
    that costs is small (each group is a fixed cost of about ten tensor operations per pass)."""
    groups: list[tuple[int, int, list]] = []
    for layer, width, ids in nodes:
        if groups and groups[-1][0] == layer and (groups[-1][1] == width or _cheap_padding(groups[-1], width)):
            groups[-1] = (layer, width, groups[-1][2] + ids)
        else:
            groups.append((layer, width, list(ids)))
    return groups


def _cheap_padding(group: tuple[int, int, list], width: int) -> bool:
    _, old_width, ids = group
    if old_width == 1:  # conjunctions need no log-sum-exp: keep them apart
        return False
    added = len(ids) * (width - old_width)
    return added <= max(MERGE_SLACK, len(ids) * old_width // 8)


def _leaf_number(node, num_vars: int) -> int:
    if node.is_false():
        return 0
    if node.is_true():
        return 1
    literal = node.literal
    if not 1 <= abs(literal) <= num_vars:
        raise ValueError(f"SDD literal {literal} is outside the {num_vars} circuit variables")
    return leaf_index(literal)
