"""The passes over a layered circuit, batch as the last dimension (``values[node, row]``).

Two ways to evaluate the weighted model count. The probability pass multiplies each element's
children (AND) and sums a node's elements (OR) in linear space: a gather, a product and a share of
a sum per element, no exp or log, and a backward of one product and two index-adds per element.
It is exact while nothing underflows, which the caller checks per row (see `TensorCircuit`). The
log-space pass gathers an element's children into a dense ``[nodes, width, rows]`` block, adds
them (AND is a sum of logs) and reduces over the width with the semiring's OR: log-sum-exp for
probabilities, max for the most probable explanation; it never underflows and is the fallback.

Both backward passes push each node's derivative d log P / d log value down to its elements in
proportion to their share of the node, element / node, and from an element to both children, top
to bottom. `argmax_tree` follows each chosen node's maximising element the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

from neurosym.tensor.layers import Group

NEG_INF = float("-inf")
# An element more than 60 nats below its node's largest one counts as e^-60 of it: a relative
# change below 1e-25 of the node's value, invisible in float64, and it keeps exp() off the slow
# paths of -inf, zero and subnormal results, which cost 4 to 30 times a normal one on x86.
FLOOR = -60.0


@dataclass(frozen=True)
class GroupViews:
    """One group's part of the index tensors and of a `Workspace` (``rows`` last)."""

    width: int
    pairs: torch.Tensor  # (prime, sub) node numbers of its elements, interleaved
    prime: torch.Tensor
    sub: torch.Tensor
    values: torch.Tensor  # [nodes, rows]
    grads: torch.Tensor  # [nodes, rows]
    children: torch.Tensor  # [2 * elements, rows], gathered (prime, sub) values
    prime_values: torch.Tensor  # [elements, rows], views into children
    sub_values: torch.Tensor
    elements: torch.Tensor  # [elements, rows]
    by_node: torch.Tensor  # the same as [nodes, width, rows]


class Workspace:
    """Reused buffers for one chunk of ``rows``, each made on first use: node values and
    derivatives ``[nodes, rows]``, every element's value (probability pass) and scratch blocks as
    large as the largest group."""

    def __init__(self, circuit, rows: int, like: torch.Tensor):
        self.circuit, self.rows, self.like = circuit, rows, like
        self.largest = _largest_group(circuit)
        self.values = like.new_empty(circuit.num_nodes, rows)

    @staticmethod
    def cells_per_row(circuit) -> int:
        """Entries per row of the buffers a probability pass with its backward uses."""
        return 2 * circuit.num_nodes + circuit.num_elements + 2 * _largest_group(circuit)

    @cached_property
    def grads(self) -> torch.Tensor:
        return torch.empty_like(self.values)

    @cached_property
    def elements(self) -> torch.Tensor:
        return self.like.new_empty(self.circuit.num_elements, self.rows)

    @cached_property
    def children(self) -> torch.Tensor:
        """Room for the (prime, sub) values of the largest group's elements."""
        return self.like.new_empty(2 * self.largest, self.rows)

    @cached_property
    def scratch(self) -> torch.Tensor:
        return self.like.new_empty(self.largest, self.rows)

    @cached_property
    def bags(self) -> torch.Tensor:
        return torch.arange(0, 2 * self.largest, 2, device=self.like.device)  # each element's bag: 2 children

    @cached_property
    def per_group(self) -> list[GroupViews]:
        """Each group's slices of the index tensors and of these buffers, made once: the
        probability passes run about a dozen tensor operations per group, and building the same
        views again per chunk cost a tenth of their time."""
        circuit, views = self.circuit, []
        for g in circuit.groups:
            count, span = g.nodes * g.width, slice(g.offset, g.offset + g.nodes * g.width)
            both = self.children[: 2 * count].view(count, 2, self.rows)
            views.append(GroupViews(
                g.width, circuit.pairs[2 * span.start: 2 * span.stop], circuit.prime[span], circuit.sub[span],
                self.values[g.first: g.first + g.nodes], self.grads[g.first: g.first + g.nodes],
                self.children[: 2 * count], both[:, 0], both[:, 1], self.elements[span],
                self.elements[span].view(g.nodes, g.width, self.rows)))
        return views

    def log_products(self, group: Group) -> torch.Tensor:
        """log(prime) + log(sub) of the group's elements, ``[nodes, width, rows]``: one fused
        gather-and-add (an embedding bag of the two children)."""
        if self.rows == 0:
            return self.values.new_empty(group.nodes, group.width, 0)
        count = group.nodes * group.width
        children = self.circuit.pairs[2 * group.offset: 2 * (group.offset + count)]
        return F.embedding_bag(children, self.values, self.bags[:count], mode="sum").view(group.nodes, group.width, -1)


def _largest_group(circuit) -> int:
    return max((g.nodes * g.width for g in circuit.groups), default=0)


def set_leaves(values: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, false: float, true: float) -> None:
    """Rows 0, 1 = false, true; then (pos, neg) per variable, from ``[rows, V]`` literal weights."""
    values[0], values[1] = false, true
    literals = values[2: 2 + 2 * pos.shape[1]].view(pos.shape[1], 2, values.shape[1])
    literals[:, 0], literals[:, 1] = pos.T, neg.T


# -- probability (linear) space ---------------------------------------------------------------
def probability_upward(work: Workspace) -> None:
    """Fill ``work.values`` (leaves already set) with every node's probability, bottom to top,
    keeping every element's value in ``work.elements`` for `probability_marginals`."""
    for g in work.per_group:
        torch.index_select(work.values, 0, g.pairs, out=g.children)
        if g.width == 1:  # a conjunction: its one element is its value
            torch.mul(g.prime_values, g.sub_values, out=g.values)
        else:
            torch.mul(g.prime_values, g.sub_values, out=g.elements)
            torch.sum(g.by_node, dim=1, out=g.values)


def probability_marginals(work: Workspace) -> torch.Tensor:
    """d log value(root) / d log value(node) for every node, ``[nodes, rows]``, after
    `probability_upward`: a node passes its derivative divided by its value to each element,
    times the element's value (a node at 0 passes 0). Overwrites ``work.elements``."""
    grads = work.grads.zero_()
    grads[work.circuit.root] = 1.0
    for g in reversed(work.per_group):
        if g.width == 1:  # a conjunction passes its derivative on unchanged
            g.elements.copy_(g.grads)
        else:
            g.by_node.mul_(g.grads.div_(g.values).nan_to_num_(0.0).unsqueeze(1))
        grads.index_add_(0, g.prime, g.elements)
        grads.index_add_(0, g.sub, g.elements)
    return grads


# -- log space ---------------------------------------------------------------------------------
def upward(circuit, work: Workspace, semiring: str) -> list[torch.Tensor | None]:
    """Fill ``work.values`` (leaves already set) with every node's log-value, bottom to top.

    Returns one tensor per group: for ``"sum"`` the shares ``[nodes, width, rows]`` (None for
    width 1), for ``"max"`` each node's maximising element ``[nodes, rows]``.
    """
    per_group = []
    for group in circuit.groups:
        out = work.values[group.first: group.first + group.nodes]
        x = work.log_products(group)
        if group.width == 1:  # a conjunction: its one element is its value
            out.copy_(x.squeeze(1))
            per_group.append(torch.zeros_like(out, dtype=torch.long) if semiring == "max" else None)
        elif semiring == "max":
            per_group.append(torch.max(x, dim=1, out=(out, out.new_empty(out.shape, dtype=torch.long)))[1])
        else:
            top = x.amax(dim=1)  # −inf where every element is: adding it back keeps the node at −inf
            total = x.sub_(top.nan_to_num(neginf=0.0).unsqueeze(1)).clamp_min_(FLOOR).exp_().sum(dim=1)
            torch.log(total, out=out).add_(top)
            per_group.append(x.div_(total.unsqueeze(1)))
    return per_group


def marginals(circuit, work: Workspace, shares: list, seed: torch.Tensor) -> torch.Tensor:
    """``seed[row]`` times d log value(root) / d log value(node), for every node: ``[nodes, rows]``.

    Elements at −inf pass down at most e^-60 of their node's derivative (see `FLOOR`); the
    callers zero the derivatives of inputs at ±inf and of rows whose value is −inf.
    """
    grads = work.grads.zero_()
    grads[circuit.root] = seed
    for group, share in zip(reversed(circuit.groups), reversed(shares)):
        node_grads = grads[group.first: group.first + group.nodes].unsqueeze(1)
        amounts = work.scratch[: group.nodes * group.width].view(group.nodes, group.width, -1)
        if share is None:  # a conjunction passes its derivative on unchanged
            amounts.copy_(node_grads)
        else:
            torch.mul(share, node_grads, out=amounts)
        _push_down(circuit, grads, group, amounts)
    return grads


def argmax_tree(circuit, picks: list[torch.Tensor], feasible: torch.Tensor) -> torch.Tensor:
    """Nodes on each row's max-product tree, ``[num_nodes, rows]`` bool (none for infeasible rows)."""
    chosen = feasible.new_zeros((circuit.num_nodes, feasible.shape[0]), dtype=torch.float32)
    chosen[circuit.root] = feasible.float()
    for group, pick in zip(reversed(circuit.groups), reversed(picks)):
        taken = chosen.new_zeros(group.nodes, group.width, pick.shape[1])
        taken.scatter_(1, pick.unsqueeze(1), chosen[group.first: group.first + group.nodes].unsqueeze(1))
        _push_down(circuit, chosen, group, taken)
    return chosen > 0


def _push_down(circuit, into: torch.Tensor, group: Group, amounts: torch.Tensor) -> None:
    """Add each element's amount ``[nodes, width, rows]`` to both of its children."""
    span = slice(group.offset, group.offset + group.nodes * group.width)
    flat = amounts.flatten(0, 1)
    into.index_add_(0, circuit.prime[span], flat)
    into.index_add_(0, circuit.sub[span], flat)
