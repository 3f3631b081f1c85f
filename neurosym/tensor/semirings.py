"""The passes over a layered circuit, batch as the last dimension (``values[node, row]``).

Upward, each group gathers its elements' children into a dense ``[nodes, width, rows]`` block,
adds them (AND is a sum of logs) and reduces over the width with the semiring's OR: log-sum-exp
for probabilities, max for the most probable explanation. The log-sum-exp pass can keep each
element's share of its node, exp(element − node), in a ``[elements, rows]`` buffer; `marginals`,
the backward of that pass, then only multiplies shares by their node's derivative and pushes the
result to both children, top to bottom. `argmax_tree` follows each chosen node's maximising
element. Gathers write into reused buffers, which matters once a block outgrows the caches.
"""
from __future__ import annotations

import torch

from neurosym.tensor.layers import Group

NEG_INF = float("-inf")
# An element more than 60 nats below its node's largest one counts as e^-60 of it: a relative
# change below 1e-25 of the node's value, invisible in float64, and it keeps exp() off the slow
# paths of -inf, zero and subnormal results, which cost 4 to 30 times a normal one on x86.
FLOOR = -60.0


class Workspace:
    """Buffers for one chunk of ``rows``: node values, and the elements of the largest group
    (``shares`` holds every element instead when the marginal pass will follow)."""

    def __init__(self, circuit, rows: int, like: torch.Tensor, keep_shares: bool):
        largest = max((g.nodes * g.width for g in circuit.groups), default=0)
        self.values = like.new_empty(circuit.num_nodes, rows)
        self.right = like.new_empty(largest, rows)
        self.left = like.new_empty(largest, rows)
        self.shares = like.new_empty(circuit.num_elements, rows) if keep_shares else None

    def products(self, circuit, group: Group) -> torch.Tensor:
        """log(prime) + log(sub) of the group's elements, ``[nodes, width, rows]``."""
        count = group.nodes * group.width
        span = slice(group.offset, group.offset + count)
        into = self.shares[span] if self.shares is not None else self.left[:count]
        left = torch.index_select(self.values, 0, circuit.prime[span], out=into)
        right = torch.index_select(self.values, 0, circuit.sub[span], out=self.right[:count])
        return left.add_(right).view(group.nodes, group.width, self.values.shape[1])


def set_leaves(values: torch.Tensor, log_pos: torch.Tensor, log_neg: torch.Tensor) -> None:
    """Rows 0, 1 = false, true; then (pos, neg) per variable, from ``[rows, V]`` log-weights."""
    values[0], values[1] = NEG_INF, 0.0
    literals = values[2: 2 + 2 * log_pos.shape[1]].view(log_pos.shape[1], 2, -1)
    literals[:, 0], literals[:, 1] = log_pos.T, log_neg.T


def upward(circuit, work: Workspace, semiring: str) -> list[torch.Tensor]:
    """Fill ``work.values`` (leaves set) with every node's log-value; for ``"max"`` return each
    group's maximising element per node, for ``"sum"`` leave the shares in ``work.shares``."""
    values, picks = work.values, []
    for group in circuit.groups:
        x = work.products(circuit, group)
        out = values[group.first: group.first + group.nodes]
        if semiring == "max":
            picks.append(torch.max(x, dim=1, out=(out, out.new_empty(out.shape, dtype=torch.long)))[1])
            continue
        top = x.amax(dim=1)
        dead = top == NEG_INF  # every element −inf: the node is −inf
        top.masked_fill_(dead, 0.0)
        total = x.sub_(top.unsqueeze(1)).clamp_min_(FLOOR).exp_().sum(dim=1)
        torch.log(total, out=out).add_(top).masked_fill_(dead, NEG_INF)
        if work.shares is not None:
            x.div_(total.unsqueeze(1))
    return picks


def marginals(circuit, work: Workspace, seed: torch.Tensor) -> torch.Tensor:
    """``seed[row]`` times d log value(root) / d log value(node), for every node, from the shares.

    Elements at −inf pass down at most e^-60 of their node's derivative (see `FLOOR`); the
    callers zero the derivatives of inputs at ±inf and of rows whose value is −inf.
    """
    grads = torch.zeros_like(work.values)
    grads[circuit.root] = seed
    for group in reversed(circuit.groups):
        count = group.nodes * group.width
        shares = work.shares[group.offset: group.offset + count].view(group.nodes, group.width, -1)
        amounts = torch.mul(shares, grads[group.first: group.first + group.nodes].unsqueeze(1),
                            out=work.left[:count].view_as(shares))
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
