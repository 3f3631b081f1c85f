"""The passes over a layered circuit, batch as the last dimension (``values[node, row]``).

Two ways to evaluate the weighted model count. The probability pass (`neurosym.tensor.products`
layout) multiplies each distinct product's children (AND) and sums each node's products (OR) in
linear space: per layer a gather, a product and a fused gather-and-sum, no exp or log; its
backward pulls each node's and each product's derivative with the same fused gather-and-sum. It
is exact while nothing underflows, which the caller checks per row (see `TensorCircuit`). The
log-space pass (`neurosym.tensor.layers` groups) gathers an element's children into a dense
``[nodes, width, rows]`` block, adds them (AND is a sum of logs) and reduces over the width with
the semiring's OR: log-sum-exp for probabilities, max for the most probable explanation; it never
underflows and is the fallback.

Both backward passes give each node's derivative d log P / d log value to its elements (products)
in proportion to their share of the node, element / node, and from an element to both children,
top to bottom. `argmax_tree` follows each chosen node's maximising element the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

from neurosym.tensor.layers import Group
from neurosym.tensor.products import bag_sums

NEG_INF = float("-inf")
# An element more than 60 nats below its node's largest one counts as e^-60 of it: a relative
# change below 1e-25 of the node's value, invisible in float64, and it keeps exp() off the slow
# paths of -inf, zero and subnormal results, which cost 4 to 30 times a normal one on x86.
FLOOR = -60.0


@dataclass(frozen=True)
class LayerViews:
    """One layer's part of the product layout and of a `Workspace` (``rows`` last)."""

    pairs: torch.Tensor  # (prime, sub) node numbers of its products, interleaved
    children: torch.Tensor  # [2 * products, rows], their gathered (prime, sub) values
    prime_values: torch.Tensor  # [products, rows], views into children
    sub_values: torch.Tensor
    products: torch.Tensor  # [products, rows]: values on the way up, d log P / d log product down
    values: torch.Tensor  # [nodes, rows]
    grads: torch.Tensor  # [nodes, rows]: d log P / d node value, on the way down
    node_products: tuple[torch.Tensor, torch.Tensor]  # embedding-bag arguments, `Products.bags`
    child_products: tuple[torch.Tensor, torch.Tensor]
    product_parents: tuple[torch.Tensor, torch.Tensor]


class Workspace:
    """Reused buffers for one chunk of ``rows``, each made on first use: node values and
    derivatives ``[nodes, rows]``, the probability pass's products (and a row of ones) and the
    log-space pass's scratch blocks, as large as the largest layer or group."""

    def __init__(self, circuit, rows: int, like: torch.Tensor):
        self.circuit, self.rows, self.like = circuit, rows, like
        self.values = like.new_empty(circuit.num_nodes, rows)

    @staticmethod
    def cells_per_row(circuit) -> int:
        """Entries per row of the buffers a probability pass with its backward uses."""
        layout = circuit.product_layout
        return 2 * circuit.num_nodes + layout.num_products + 1 + 2 * layout.largest_layer

    @cached_property
    def grads(self) -> torch.Tensor:
        return torch.empty_like(self.values)

    @cached_property
    def products(self) -> torch.Tensor:
        products = self.like.new_empty(self.circuit.product_layout.num_products + 1, self.rows)
        products[-1] = 1.0
        return products

    @cached_property
    def children(self) -> torch.Tensor:
        return self.like.new_empty(2 * self.circuit.product_layout.largest_layer, self.rows)

    @cached_property
    def scratch(self) -> torch.Tensor:
        return self.like.new_empty(_largest_group(self.circuit), self.rows)

    @cached_property
    def bags(self) -> torch.Tensor:
        return torch.arange(0, 2 * _largest_group(self.circuit), 2, device=self.like.device)  # 2 children each

    @cached_property
    def per_layer(self) -> list[LayerViews]:
        """Each layer's slices of the index tensors and of these buffers, made once: the passes
        run a handful of tensor operations per layer, and building the views per chunk costs."""
        layout, views = self.circuit.product_layout, []
        for layer in layout.layers:
            count = layer.products.stop - layer.products.start
            both = self.children[: 2 * count].view(count, 2, self.rows)
            views.append(
                LayerViews(
                    layout.pairs[2 * layer.products.start : 2 * layer.products.stop],
                    self.children[: 2 * count],
                    both[:, 0],
                    both[:, 1],
                    self.products[layer.products],
                    self.values[layer.nodes],
                    self.grads[layer.nodes],
                    layout.bags("node_products", layer.nodes),
                    layout.bags("child_products", layer.nodes),
                    layout.bags("product_parents", layer.products),
                )
            )
        return views

    @cached_property
    def leaf_products(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The embedding-bag arguments that give the leaves their derivatives."""
        layout = self.circuit.product_layout
        return layout.bags("child_products", slice(0, layout.num_leaves))

    def log_products(self, group: Group) -> torch.Tensor:
        """log(prime) + log(sub) of the group's elements, ``[nodes, width, rows]``: one fused
        gather-and-add (an embedding bag of the two children)."""
        if self.rows == 0:
            return self.values.new_empty(group.nodes, group.width, 0)
        count = group.nodes * group.width
        children = self.circuit.pairs[2 * group.offset : 2 * (group.offset + count)]
        return F.embedding_bag(children, self.values, self.bags[:count], mode="sum").view(group.nodes, group.width, -1)


def _largest_group(circuit) -> int:
    """Elements in the group with most."""
    return max((g.nodes * g.width for g in circuit.groups), default=0)


def set_leaves(values: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, false: float, true: float) -> None:
    """Rows 0, 1 = false, true; then (pos, neg) per variable, from ``[rows, V]`` literal weights."""
    values[0], values[1] = false, true
    literals = values[2 : 2 + 2 * pos.shape[1]].view(pos.shape[1], 2, values.shape[1])
    literals[:, 0], literals[:, 1] = pos.T, neg.T


# -- probability (linear) space ---------------------------------------------------------------
def probability_upward(work: Workspace) -> None:
    """Fill ``work.values`` (leaves already set) with every node's probability, bottom to top,
    keeping every product's value in ``work.products`` for `probability_marginals`."""
    if work.rows == 0:  # an embedding bag refuses rows of width 0
        return
    for layer in work.per_layer:
        torch.index_select(work.values, 0, layer.pairs, out=layer.children)
        torch.mul(layer.prime_values, layer.sub_values, out=layer.products)
        layer.values.copy_(bag_sums(layer.node_products, work.products))


def probability_marginals(work: Workspace) -> torch.Tensor:
    """d log value(root) / d log value(leaf), ``[2 + 2V, rows]``, after `probability_upward`.

    Top-down, a node's derivative d log P / d log value is the sum of those of the products it is
    a child of (the root's is 1, the ones row); divided by its value, it is what each of its
    products gets per unit of its own value (a node at 0 passes 0), so a product's derivative is
    its value times that sum over its parents. Overwrites ``work.products``.
    """
    if work.rows == 0:
        return work.values.new_zeros(work.circuit.product_layout.num_leaves, 0)
    for layer in reversed(work.per_layer):
        pulled = bag_sums(layer.child_products, work.products)
        torch.div(pulled, layer.values, out=layer.grads).nan_to_num_(0.0)
        layer.products.mul_(bag_sums(layer.product_parents, work.grads))
    return bag_sums(work.leaf_products, work.products)


# -- log space ---------------------------------------------------------------------------------
def upward(circuit, work: Workspace, semiring: str) -> list[torch.Tensor | None]:
    """Fill ``work.values`` (leaves already set) with every node's log-value, bottom to top.

    Returns one tensor per group: for ``"sum"`` the shares ``[nodes, width, rows]`` (None for
    width 1), for ``"max"`` each node's maximising element ``[nodes, rows]``.
    """
    per_group = []
    for group in circuit.groups:
        out = work.values[group.first : group.first + group.nodes]
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
        node_grads = grads[group.first : group.first + group.nodes].unsqueeze(1)
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
        taken.scatter_(1, pick.unsqueeze(1), chosen[group.first : group.first + group.nodes].unsqueeze(1))
        _push_down(circuit, chosen, group, taken)
    return chosen > 0


def _push_down(circuit, into: torch.Tensor, group: Group, amounts: torch.Tensor) -> None:
    """Add each element's amount ``[nodes, width, rows]`` to both of its children."""
    span = slice(group.offset, group.offset + group.nodes * group.width)
    flat = amounts.flatten(0, 1)
    into.index_add_(0, circuit.prime[span], flat)
    into.index_add_(0, circuit.sub[span], flat)
