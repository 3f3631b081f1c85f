"""`TensorCircuit`: an SDD as layered index tensors, evaluated batched in log-space.

Built once from a PySDD node (`from_sdd`), cached as plain tensors (`save` / `load`), moved with
``.to(device)`` like any module. `log_prob` is the weighted model count under independent
Bernoullis; `mpe` is the max-product pass with back-tracking. Rows go through in chunks of
bounded size (`CHUNK_CELLS`: in cache on a CPU, large on a GPU), and when a gradient is needed
the hand-written backward — a top-down marginal pass — runs right after each chunk's upward pass:
the forward keeps only the ``[rows, V]`` derivative, and autograd's backward scales it.

Weights of unmentioned variables. An SDD node leaves out variables its value does not depend on;
evaluating it without smoothing is exact because each variable's two literal weights sum to 1 —
for probabilities p and 1 − p, and for masked-out variables, which get 1/2 on both literals. Under
the max semiring the weights are instead divided by their larger one, so a free variable
contributes 1, and the larger weights are added back at the end.
"""
from __future__ import annotations

import math
import pickle

import torch

from neurosym.errors import ArtifactError
from neurosym.tensor.inputs import Beliefs, check_beliefs
from neurosym.tensor.layers import Layers, layers_from_sdd
from neurosym.tensor.semirings import Workspace, argmax_tree, marginals, set_leaves, upward

FORMAT = 1
LOG_HALF = -math.log(2.0)
# Node values and element shares held per chunk: on a CPU a chunk should stay in the caches
# (32 MiB of float32), on a GPU it should be as large as memory comfortably allows (1 GiB); and
# never fewer than 16 rows, or the per-group overhead dominates.
CHUNK_CELLS = {"cpu": 1 << 23, "other": 1 << 28}
MIN_CHUNK_ROWS = 16


class TensorCircuit(torch.nn.Module):
    """The layered circuit; index tensors are buffers, so ``.to(device)`` moves it."""

    def __init__(self, layers: Layers):
        super().__init__()
        self.layers = layers
        self.num_vars = layers.num_vars
        self.root = layers.root
        self.num_nodes = layers.num_nodes
        self.num_layers = max((layer for layer, _, _ in layers.group_sizes), default=0)
        self.groups = layers.groups()
        self.register_buffer("prime", layers.prime)
        self.register_buffer("sub", layers.sub)
        self.register_buffer("pairs", torch.stack([layers.prime, layers.sub], dim=1).flatten())  # prime, sub, ...
        self.chunk_rows: int | None = None  # rows per chunk; None = chosen for the device (CHUNK_CELLS)

    @classmethod
    def from_sdd(cls, root, num_vars: int) -> "TensorCircuit":
        """Layer the SDD below ``root``; ``num_vars`` is the number of circuit variables (≥ the SDD's)."""
        return cls(layers_from_sdd(root, num_vars))

    # -- files ---------------------------------------------------------------------------------
    def save(self, path) -> None:
        torch.save({"format": FORMAT, "num_vars": self.num_vars, "root": self.root,
                    "groups": torch.tensor(self.layers.group_sizes, dtype=torch.long).reshape(-1, 3),
                    "prime": self.prime.to("cpu", torch.int32), "sub": self.sub.to("cpu", torch.int32)}, path)

    @classmethod
    def load(cls, path) -> "TensorCircuit":
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if state.get("format") != FORMAT:
                problem = f"format {state.get('format')!r}, this neurosym reads {FORMAT}"
            else:
                layers = Layers(int(state["num_vars"]), int(state["root"]), state["prime"].long(), state["sub"].long(),
                                [tuple(g) for g in state["groups"].tolist()])
                problem = layers.problem()
        except (OSError, RuntimeError, KeyError, AttributeError, TypeError, ValueError, EOFError,
                pickle.UnpicklingError) as error:
            problem = f"unreadable ({error})"
        if problem is not None:
            raise ArtifactError(f"{path}: tensor circuit {problem}", hint="delete the file; it is rebuilt from the SDD")
        return cls(layers)

    def replica(self) -> "TensorCircuit":
        """A new module sharing these index tensors, so moving it leaves this one where it is."""
        return TensorCircuit(Layers(self.num_vars, self.root, self.prime, self.sub, self.layers.group_sizes))

    # -- what it is ----------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.prime.device

    @property
    def num_elements(self) -> int:
        return int(self.prime.numel())

    def extra_repr(self) -> str:
        return (f"variables={self.num_vars}, nodes={self.num_nodes}, elements={self.num_elements}, "
                f"layers={self.num_layers}, groups={len(self.groups)}")

    # -- queries -------------------------------------------------------------------------------
    def log_prob(self, probs=None, *, logits=None, mask=None) -> torch.Tensor:
        """log P(constraint) per row ``[...]`` for beliefs ``[..., V]``, differentiable.

        Variables are independent Bernoullis with P(true) = ``probs`` (or sigmoid(``logits``)).
        ``mask`` (bool, broadcastable to ``[..., V]``; False = does not take part) sums a variable
        out: the result is the mean over its two values, i.e. both literal weights 1 then divided by
        2 per masked variable — the gradient is that of summing out, the value stays a probability.
        Probabilities 0 and 1 (logits ±inf) are evidence: exact, −inf for rows the evidence makes
        impossible, whose gradient is 0. The gradient with respect to a probability of exactly 0 or 1
        is 0 (pass logits to get the derivative there); with respect to logits it is always exact.
        """
        beliefs = check_beliefs(self.num_vars, self.device, probs, logits, mask)
        return _LogProbability.apply(self, beliefs.values, beliefs).reshape(beliefs.shape)

    forward = log_prob

    @torch.no_grad()
    def mpe(self, probs=None, *, logits=None, mask=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The most probable satisfying assignment per row and its log-probability.

        Returns ``(assignment [..., V] bool, log_prob [...])``. Masked-out variables weigh 1 on both
        values and add nothing to the log-probability. Along the chosen path a node takes its
        maximising element (ties broken by `torch.max`); a variable the path leaves free takes its
        more probable value, and False on a tie — so masked-out variables are False unless the
        constraint needs them True. Rows whose evidence is impossible get −inf and all False.
        """
        beliefs = check_beliefs(self.num_vars, self.device, probs, logits, mask)
        pos, neg = beliefs.log_weights(masked=0.0)
        top = torch.maximum(pos, neg)
        assignments, scores = [], []
        for rows, work in self._chunks(pos):
            set_leaves(work.values, pos[rows] - top[rows], neg[rows] - top[rows])
            picks = upward(self, work, "max")
            score = work.values[self.root] + top[rows].sum(1)
            feasible = score > float("-inf")
            pos_taken, neg_taken = self._literals(argmax_tree(self, picks, feasible))
            assignments.append((pos_taken | (~neg_taken & (pos[rows] > neg[rows]))) & feasible.unsqueeze(1))
            scores.append(score)
        return torch.cat(assignments).reshape(*beliefs.shape, self.num_vars), torch.cat(scores).reshape(beliefs.shape)

    def _chunks(self, like: torch.Tensor):
        """(row slice, workspace) pairs covering the batch; an empty batch is one empty chunk."""
        cells = CHUNK_CELLS["cpu" if like.device.type == "cpu" else "other"]
        step = self.chunk_rows or max(MIN_CHUNK_ROWS, cells // (self.num_nodes + self.num_elements))
        total = like.shape[0]
        work = {}
        for start in range(0, max(total, 1), step):
            rows = slice(start, min(start + step, total))
            size = rows.stop - rows.start
            if size not in work:
                work[size] = Workspace(self, size, like)
            yield rows, work[size]

    def _literals(self, per_node: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The positive and negative literal rows of a ``[num_nodes, rows]`` tensor, as ``[rows, V]``."""
        literals = per_node[2: 2 + 2 * self.num_vars]
        return literals[0::2].T, literals[1::2].T


class _LogProbability(torch.autograd.Function):
    """log WMC per row; the derivative is computed with the value (see the module docstring)."""

    @staticmethod
    def forward(ctx, circuit: TensorCircuit, values_in: torch.Tensor, beliefs: Beliefs):
        pos, neg = beliefs.log_weights(masked=LOG_HALF)
        outputs, grads = [], []
        for rows, work in circuit._chunks(pos):
            set_leaves(work.values, pos[rows], neg[rows])
            shares = upward(circuit, work, "sum")
            out = work.values[circuit.root].clone()
            outputs.append(out)
            if ctx.needs_input_grad[1]:
                seed = (out > float("-inf")).to(out.dtype)  # impossible rows get gradient 0
                m_pos, m_neg = circuit._literals(marginals(circuit, work, shares, seed))
                grads.append(_input_gradient(beliefs, rows, m_pos, m_neg))
        if grads:
            ctx.save_for_backward(torch.cat(grads))
        return torch.cat(outputs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return None, grad * grad_out.unsqueeze(1), None


def _input_gradient(beliefs: Beliefs, rows: slice, m_pos: torch.Tensor, m_neg: torch.Tensor) -> torch.Tensor:
    """d log P / d input from the literal marginals m = d log P / d log w, ``[rows, V]``."""
    x = beliefs.values[rows]
    if beliefs.from_logits:  # d log σ(z)/dz = σ(−z), d log σ(−z)/dz = −σ(z); 0 at ±inf
        grad = torch.where(torch.isinf(x), 0.0, m_pos * torch.sigmoid(-x) - m_neg * torch.sigmoid(x))
    else:  # d log p/dp = 1/p, d log(1 − p)/dp = −1/(1 − p); 0 at the evidence values 0 and 1
        grad = torch.where((x > 0) & (x < 1), m_pos / x - m_neg / (1 - x), 0.0)
    if beliefs.mask is not None:
        grad = grad.masked_fill(~beliefs.mask[rows], 0.0)
    return grad
