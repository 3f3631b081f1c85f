"""The probability pass's view of a layered SDD: each distinct (prime, sub) product once.

SDD nodes share elements: on transitivity Node=6 the 8,936 elements are 5,388 distinct
``(prime, sub)`` pairs. The probability pass multiplies each distinct pair once and gives every
node the sum of its products with one fused gather-and-sum (an embedding bag) per layer, without
the padding of the grouped layout (`neurosym.tensor.layers`); the backward pulls derivatives the
same way, so neither direction adds into zeroed rows.

Layer ``L`` holds the products whose deeper child is at layer ``L − 1`` and the decision nodes of
layer ``L``: a node's products are at its layer or below, so going up a layer computes its
products, then its nodes; going down, its nodes' derivatives, then its products'. A product
buffer has one more row after the products, all ones, from which the root takes its derivative.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neurosym.tensor.layers import Layers


@dataclass(frozen=True)
class Layer:
    """Layer ``L``'s ranges: its products ``[products.start, products.stop)`` and its decision
    nodes ``[nodes.start, nodes.stop)`` (node numbers)."""

    products: slice
    nodes: slice


class Products(torch.nn.Module):
    """Distinct products and three maps, each a compressed list per row (``items[offsets[i]:
    offsets[i + 1]]``): a node's products, a product's parent nodes, and the products a node is a
    child of (the root: the ones row). Buffers, so ``.to(device)`` moves them; not saved, since
    they are rebuilt from the layers."""

    def __init__(self, layers: Layers):
        super().__init__()
        num_nodes, root = layers.num_nodes, layers.root
        node_layer = torch.zeros(num_nodes, dtype=torch.long)
        for g, (layer, _, _) in zip(layers.groups(), layers.group_sizes):
            node_layer[g.first : g.first + g.nodes] = layer
        prime, sub = layers.prime.cpu(), layers.sub.cpu()
        real = prime != 0  # padding elements are (false, false)
        prime, sub, owner = prime[real], sub[real], layers.node_of_element()[real]

        pair_keys, product_of_element = torch.unique(prime * num_nodes + sub, return_inverse=True)
        first, second = pair_keys // num_nodes, pair_keys % num_nodes
        product_layer = 1 + torch.maximum(node_layer[first], node_layer[second])
        order = torch.argsort(product_layer, stable=True)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(order))
        product_of_element, product_layer = rank[product_of_element], product_layer[order]
        first, second = first[order], second[order]
        self.num_products = len(pair_keys)

        top = int(node_layer.max())
        product_stops = torch.searchsorted(product_layer, torch.arange(1, top + 1), right=True).tolist()
        node_stops = torch.searchsorted(node_layer[layers.num_leaves :], torch.arange(1, top + 1), right=True)
        node_stops = (node_stops + layers.num_leaves).tolist()
        self.layers = [
            Layer(slice(p0, p1), slice(n0, n1))
            for p0, p1, n0, n1 in zip([0, *product_stops], product_stops, [layers.num_leaves, *node_stops], node_stops)
        ]
        self.num_leaves = layers.num_leaves

        is_child = torch.cat([first, second]) >= 2  # the constants' derivatives are never needed
        children = torch.cat([first, second, torch.tensor([root])])
        parents_of = torch.cat([torch.arange(self.num_products).repeat(2), torch.tensor([self.num_products])])
        keep = torch.cat([is_child, torch.tensor([True])])
        self.bounds: dict[str, list[int]] = {}  # the offsets as Python ints
        self.register_buffer("pairs", torch.stack([first, second], 1).flatten(), persistent=False)  # prime, sub, ...
        for name, rows, items, count in [
            ("node_products", owner, product_of_element, num_nodes),
            ("product_parents", product_of_element, owner, self.num_products),
            ("child_products", children[keep], parents_of[keep], num_nodes),
        ]:
            sorted_items, offsets = _compressed(rows, items, count)
            self.register_buffer(name, sorted_items, persistent=False)
            self.register_buffer(f"{name}_offsets", offsets, persistent=False)
            self.bounds[name] = offsets.tolist()  # slicing by them never waits for a GPU

    def bags(self, name: str, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Map ``name``'s items for ``rows`` and their ``len(rows) + 1`` offsets counted from 0:
        what `bag_sums` needs to sum, for each of those rows, the rows its items name."""
        start, stop = self.bounds[name][rows.start], self.bounds[name][rows.stop]
        return getattr(self, name)[start:stop], getattr(self, f"{name}_offsets")[rows.start : rows.stop + 1] - start

    def extra_repr(self) -> str:
        return f"products={self.num_products}, layers={len(self.layers)}"

    @property
    def largest_layer(self) -> int:
        """Products in the layer with most."""
        return max((layer.products.stop - layer.products.start for layer in self.layers), default=0)


def _compressed(rows: torch.Tensor, items: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``items`` grouped by their ``rows`` (each group sorted: nearby rows are read together) and
    the ``count + 1`` offsets of the groups."""
    order = torch.argsort(rows * (int(items.max()) + 1 if len(items) else 1) + items)
    offsets = torch.zeros(count + 1, dtype=torch.long)
    offsets[1:] = torch.bincount(rows, minlength=count).cumsum(0)
    return items[order], offsets


def bag_sums(bags: tuple[torch.Tensor, torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """For each bag of `Products.bags`, the sum of the ``rows`` its items name (0 for none):
    one fused gather-and-sum."""
    items, offsets = bags
    return F.embedding_bag(items, rows, offsets, mode="sum", include_last_offset=True)
