"""The passes over a layered circuit, batch as the last dimension (``values[node, row]``).

Upward, each group gathers its elements' children into a dense ``[nodes, width, rows]`` block,
adds them (AND is a sum of logs) and reduces over the width with the semiring's OR: log-sum-exp
for probabilities, max for the most probable explanation. The log-sum-exp pass leaves each
element's share of its node, exp(element − node), in that block; `marginals`, the backward of the
pass, multiplies the shares by their node's derivative and pushes the result to both children,
top to bottom. `argmax_tree` follows each chosen node's maximising element the same way.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from neurosym.tensor.layers import Group

NEG_INF = float("-inf")
# An element more than 60 nats below its node's largest one counts as e^-60 of it: a relative
# change below 1e-25 of the node's value, invisible in float64, and it keeps exp() off the slow
# paths of -inf, zero and subnormal results, which cost 4 to 30 times a normal one on x86.
FLOOR = -60.0


class Workspace:
    """Reused buffers for one chunk of ``rows``: node values, and a scratch block as large as the
    largest group."""

    def __init__(self, circuit, rows: int, like: torch.Tensor):
        largest = max((g.nodes * g.width for g in circuit.groups), default=0)
        self.values = like.new_empty(circuit.num_nodes, rows)
        self.scratch = like.new_empty(largest, rows)
        self.bags = torch.arange(0, 2 * largest, 2, device=like.device)  # each element's bag: 2 children

    def products(self, circuit, group: Group) -> torch.Tensor:
        """log(prime) + log(sub) of the group's elements, ``[nodes, width, rows]``: one fused
        gather-and-add (an embedding bag of the two children)."""
        if self.values.shape[1] == 0:
            return self.values.new_empty(group.nodes, group.width, 0)
        count = group.nodes * group.width
        children = circuit.pairs[2 * group.offset: 2 * (group.offset + count)]
        return F.embedding_bag(children, self.values, self.bags[:count], mode="sum").view(group.nodes, group.width, -1)


def set_leaves(values: torch.Tensor, log_pos: torch.Tensor, log_neg: torch.Tensor) -> None:
    """Rows 0, 1 = false, true; then (pos, neg) per variable, from ``[rows, V]`` log-weights."""
    values[0], values[1] = NEG_INF, 0.0
    literals = values[2: 2 + 2 * log_pos.shape[1]].view(log_pos.shape[1], 2, values.shape[1])
    literals[:, 0], literals[:, 1] = log_pos.T, log_neg.T


def upward(circuit, work: Workspace, semiring: str) -> list[torch.Tensor | None]:
    """Fill ``work.values`` (leaves already set) with every node's log-value, bottom to top.

    Returns one tensor per group: for ``"sum"`` the shares ``[nodes, width, rows]`` (None for
    width 1), for ``"max"`` each node's maximising element ``[nodes, rows]``.
    """
    per_group = []
    for group in circuit.groups:
        out = work.values[group.first: group.first + group.nodes]
        x = work.products(circuit, group)
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
    grads = torch.zeros_like(work.values)
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
