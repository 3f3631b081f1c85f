"""`TensorCircuit`: an SDD as layered index tensors, evaluated batched.

Built once from a PySDD node (`from_sdd`), cached as plain tensors (`save` / `load`), moved with
``.to(device)`` like any module. `log_prob` is the weighted model count under independent
Bernoullis; `mpe` is the max-product pass with back-tracking. Rows go through in chunks of
bounded size (`CHUNK_BYTES`: in cache on a CPU, large on a GPU), and when a gradient is needed
the hand-written backward — a top-down marginal pass — runs right after each chunk's upward pass:
the forward keeps only the ``[rows, V]`` derivative, and autograd's backward scales it.

Probability space first, log space where it would underflow. `log_prob` counts every row with
products and sums of probabilities (no exp or log per element), in the input's dtype. Products and
sums of non-negative numbers lose only a few roundings, unless a value falls below the dtype's
smallest normal number; each such underflow moves the root value (or a literal's derivative, a
number in [0, 1]) by at most that smallest normal number times the number of times it is counted,
which `Layers.paths_through_nodes` bounds. A row whose root probability is at least
`smallest_exact` — that bound over the dtype's epsilon, 2^-80 for float32 and 2^-947 for float64 on
transitivity Node=6 — is therefore as exact as the log-space answer. The other rows are counted
again: float32 rows in float64 probability space, and what is still below (impossible evidence,
very unlikely constraints, logits beyond what σ represents) in log space, which never underflows.

Weights of unmentioned variables. An SDD node leaves out variables its value does not depend on;
evaluating it without smoothing is exact because each variable's two literal weights sum to 1.
Under the max semiring the weights are instead divided by their larger one, so a free variable
contributes 1, and the larger weights are added back at the end.

Masks. A variable outside a row's mask is not asked: the row counts the assignments of the others
that *some* value of it completes to a model (existential quantification, `neurosym.tensor.projection`).
`log_prob` evaluates such rows on the SDD projected for their pattern; `mpe` gets the same meaning
from the max pass by weighing a masked-out variable 1 on both values.
"""

from __future__ import annotations

import pickle
import threading

import torch

from neurosym.errors import ArtifactError
from neurosym.tensor.inputs import Beliefs, CircuitInputError, check_beliefs
from neurosym.tensor.layers import Layers, layers_from_sdd
from neurosym.tensor.products import Products
from neurosym.tensor.projection import DROPPED, KEPT_PATTERNS, Pattern, Projector, row_patterns
from neurosym.tensor.semirings import (
    NEG_INF,
    Workspace,
    argmax_tree,
    marginals,
    probability_marginals,
    probability_upward,
    set_leaves,
    upward,
)

FORMAT = 1
# Bytes of buffers per chunk (node values and derivatives, product values, the largest layer's
# children): on a CPU a chunk should stay in the last-level cache, on a GPU it should be as large
# as memory comfortably allows; never fewer than 16 rows, or the per-layer overhead dominates
# (measurements: docs/benchmarks.md, "Chunk size").
CHUNK_BYTES = {"cpu": 32 << 20, "other": 1 << 30}
MIN_CHUNK_ROWS = 16
# Workspaces kept per circuit on a CPU, where fresh buffers of this size come from the operating
# system each time (their page faults cost a third of a pass); a GPU's allocator reuses its own.
KEPT_WORKSPACES = 6
_WORKSPACES_LOCK = threading.Lock()


class TensorCircuit(torch.nn.Module):
    """The layered circuit; index tensors are buffers, so ``.to(device)`` moves it."""

    def __init__(self, layers: Layers, projector: Projector | None = None):
        """``projector`` gives the SDD's projections for masked rows; without it a mask is refused."""
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
        self.chunk_rows: int | None = None  # rows per chunk; None = chosen for the device (CHUNK_BYTES)
        self.product_layout = Products(layers).to(layers.prime.device)  # built on the CPU
        self.paths_through_nodes = layers.paths_through_nodes()
        self._workspaces: dict[tuple, Workspace] = {}  # least recently used first
        self.projector = projector
        self._projections: dict[Pattern, TensorCircuit] = {}  # on this circuit's device, least recently used first

    @classmethod
    def from_sdd(cls, root, num_vars: int, *, collect_garbage: bool = False) -> TensorCircuit:
        """Layer the SDD below ``root``; ``num_vars`` is the number of circuit variables (≥ the SDD's).
        The circuit keeps ``root`` (referenced) to project it for masked rows; ``collect_garbage``
        as in `Projector`."""
        return cls(layers_from_sdd(root, num_vars), Projector(root, num_vars, collect_garbage=collect_garbage))

    # -- files ---------------------------------------------------------------------------------
    def save(self, path) -> None:
        torch.save(
            {
                "format": FORMAT,
                "num_vars": self.num_vars,
                "root": self.root,
                "groups": torch.tensor(self.layers.group_sizes, dtype=torch.long).reshape(-1, 3),
                "prime": self.prime.to("cpu", torch.int32),
                "sub": self.sub.to("cpu", torch.int32),
            },
            path,
        )

    @classmethod
    def load(cls, path, projector: Projector | None = None) -> TensorCircuit:
        """Read a file written by `save`; the file holds no SDD, so masks need ``projector``."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if state.get("format") != FORMAT:
                problem = f"format {state.get('format')!r}, this neurosym reads {FORMAT}"
            else:
                layers = Layers(
                    int(state["num_vars"]),
                    int(state["root"]),
                    state["prime"].long(),
                    state["sub"].long(),
                    [tuple(g) for g in state["groups"].tolist()],
                )
                problem = layers.problem()
        except (
            OSError,
            RuntimeError,
            KeyError,
            AttributeError,
            TypeError,
            ValueError,
            EOFError,
            pickle.UnpicklingError,
        ) as error:
            problem = f"unreadable ({error})"
        if problem is not None:
            raise ArtifactError(f"{path}: tensor circuit {problem}", hint="delete the file; it is rebuilt from the SDD")
        return cls(layers, projector)

    def replica(self) -> TensorCircuit:
        """A new module sharing these index tensors, so moving it leaves this one where it is."""
        layers = Layers(self.num_vars, self.root, self.prime, self.sub, self.layers.group_sizes)
        return TensorCircuit(layers, self.projector)

    # -- what it is ----------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.prime.device

    @property
    def num_elements(self) -> int:
        return int(self.prime.numel())

    def smallest_exact(self, dtype: torch.dtype) -> float:
        """The smallest root probability the probability pass in ``dtype`` returns as exact; rows
        below it are counted again (see the module docstring)."""
        info = torch.finfo(dtype)
        return info.tiny * self.paths_through_nodes / info.eps

    def extra_repr(self) -> str:
        return (
            f"variables={self.num_vars}, nodes={self.num_nodes}, elements={self.num_elements}, "
            f"layers={self.num_layers}, groups={len(self.groups)}"
        )

    # -- queries -------------------------------------------------------------------------------
    def log_prob(self, probs=None, *, logits=None, mask=None) -> torch.Tensor:
        """log P(constraint) per row ``[...]`` for beliefs ``[..., V]``, differentiable.

        Variables are independent Bernoullis with P(true) = ``probs`` (or sigmoid(``logits``)).
        ``mask`` (bool, broadcastable to ``[..., V]``; False = not asked) quantifies a variable
        existentially: the row's value is log P(some values of its masked-out variables complete
        the others to a model), and its gradient with respect to a masked-out variable is 0.
        Probabilities 0 and 1 (logits ±inf) are evidence: exact, −inf for rows the evidence makes
        impossible, whose gradient is 0. The gradient with respect to a probability of exactly 0 or 1
        is 0 (pass logits to get the derivative there); with respect to logits it is always exact.
        """
        beliefs = check_beliefs(self.num_vars, self.device, probs, logits, mask)
        if beliefs.mask is None or bool(beliefs.mask.all()):
            whole = beliefs.without_mask()
            return _LogProbability.apply(self, whole.values, whole).reshape(beliefs.shape)
        return self._log_prob_by_pattern(beliefs).reshape(beliefs.shape)

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
        pos, neg = beliefs.log_weights()
        top = torch.maximum(pos, neg)
        assignments, scores = [], []
        for rows, work in self._chunks(pos):
            set_leaves(work.values, pos[rows] - top[rows], neg[rows] - top[rows], false=NEG_INF, true=0.0)
            picks = upward(self, work, "max")
            score = work.values[self.root] + top[rows].sum(1)
            feasible = score > float("-inf")
            pos_taken, neg_taken = self._literals(argmax_tree(self, picks, feasible))
            assignments.append((pos_taken | (~neg_taken & (pos[rows] > neg[rows]))) & feasible.unsqueeze(1))
            scores.append(score)
        return torch.cat(assignments).reshape(*beliefs.shape, self.num_vars), torch.cat(scores).reshape(beliefs.shape)

    def _log_prob_by_pattern(self, beliefs: Beliefs) -> torch.Tensor:
        """`log_prob` of masked rows: rows with a masked-out variable on the projection for their
        pattern (one pass per distinct pattern), the others on the whole circuit in one pass."""
        if self.projector is None:
            raise CircuitInputError(
                "a mask quantifies variables away on the SDD, and this tensor circuit was loaded "
                "without one: call log_prob on the compiled Circuit (or build SemanticLoss from it)"
            )
        roles = row_patterns(beliefs.values, beliefs.mask, beliefs.from_logits)
        dropping = (roles == DROPPED).any(1)
        whole = beliefs.without_mask()
        groups = [(self, (~dropping).nonzero().squeeze(1))]
        if bool(dropping.any()):
            patterns, group_of_row = torch.unique(roles[dropping], dim=0, return_inverse=True)
            rows_dropping = dropping.nonzero().squeeze(1)
            groups += [
                (self._projected(tuple(pattern)), rows_dropping[group_of_row == g])
                for g, pattern in enumerate(patterns.tolist())
            ]
        parts, rows_in_order = [], []
        for circuit, rows in groups:
            part = whole.take(rows)
            parts.append(_LogProbability.apply(circuit, part.values, part))
            rows_in_order.append(rows)
        return torch.cat(parts)[torch.argsort(torch.cat(rows_in_order))]

    def _projected(self, pattern: Pattern) -> TensorCircuit:
        """The tensor circuit of ``pattern``'s projection, on this circuit's device (kept, least
        recently used dropped first)."""
        circuit = self._projections.pop(pattern, None)
        if circuit is None:
            circuit = TensorCircuit(self.projector.layers(pattern)).to(self.device)
            circuit.chunk_rows = self.chunk_rows
        self._projections[pattern] = circuit
        if len(self._projections) > KEPT_PATTERNS:
            self._projections.pop(next(iter(self._projections)))
        return circuit

    def _chunks(self, like: torch.Tensor):
        """(row slice, workspace) pairs covering the batch; an empty batch is one empty chunk."""
        budget = CHUNK_BYTES["cpu" if like.device.type == "cpu" else "other"]
        row_bytes = like.element_size() * Workspace.cells_per_row(self)
        step = self.chunk_rows or max(MIN_CHUNK_ROWS, budget // row_bytes)
        total = like.shape[0]
        for start in range(0, max(total, 1), step):
            rows = slice(start, min(start + step, total))
            yield rows, self._workspace(rows.stop - rows.start, like)

    def _workspace(self, rows: int, like: torch.Tensor) -> Workspace:
        """Buffers for a chunk of ``rows``; on a CPU the last few are kept (`KEPT_WORKSPACES`),
        one set per thread, so that concurrent calls never share one."""
        if like.device.type != "cpu":
            return Workspace(self, rows, like)
        key = (threading.get_ident(), rows, like.dtype)
        with _WORKSPACES_LOCK:
            work = self._workspaces.pop(key, None) or Workspace(self, rows, like)
            self._workspaces[key] = work
            while len(self._workspaces) > KEPT_WORKSPACES:
                self._workspaces.pop(next(iter(self._workspaces)))
        return work

    def __getstate__(self):
        # caches are not state, and SDD nodes do not pickle: a copy refuses masks until given a projector
        return {**super().__getstate__(), "_workspaces": {}, "_projections": {}, "projector": None}

    def _literals(self, per_node: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The positive and negative literal rows of a ``[num_nodes, rows]`` tensor, as ``[rows, V]``."""
        literals = per_node[2 : 2 + 2 * self.num_vars]
        return literals[0::2].T, literals[1::2].T


class _LogProbability(torch.autograd.Function):
    """log WMC per row; the derivative is computed with the value (see the module docstring)."""

    @staticmethod
    def forward(ctx, circuit: TensorCircuit, values_in: torch.Tensor, beliefs: Beliefs):
        with_grad = ctx.needs_input_grad[1]
        out = grad = rows = None  # rows: those still to count, None = all
        for in_log_space, dtype in _passes(beliefs.values.dtype):
            part = beliefs if rows is None else beliefs.take(rows)
            log_count, part_grad, late = _weighted_count(circuit, part.to(dtype), with_grad, in_log_space)
            if rows is None:
                out, grad = log_count, part_grad
            else:
                out[rows] = log_count.to(out.dtype)
                if with_grad:
                    grad[rows] = part_grad.to(grad.dtype)
            if not bool(late.any()):
                break
            rows = late.nonzero().squeeze(1) if rows is None else rows[late]
        if with_grad:
            ctx.save_for_backward(grad)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return None, grad * grad_out.unsqueeze(1), None


def _passes(dtype: torch.dtype) -> list[tuple[bool, torch.dtype]]:
    """(in log space, dtype) of the passes a row may go through, in order: probability space in
    the input's dtype, then in float64 (float32 underflows below ~1e-25 on the shipped circuits,
    where exactly_one n=100 already is for random logits), then log space."""
    wider = [(False, torch.float64)] if dtype != torch.float64 else []
    return [(False, dtype), *wider, (True, dtype)]


def _weighted_count(circuit: TensorCircuit, beliefs: Beliefs, with_grad: bool, in_log_space: bool):
    """(log count ``[B]``, d log count / d input ``[B, V]`` or None, rows to count again ``[B]``),
    chunk by chunk. In probability space the rows below `TensorCircuit.smallest_exact` are to be
    counted again, and a chunk made only of them skips its backward."""
    if in_log_space:
        pos, neg = beliefs.log_weights()
    else:
        pos, neg = beliefs.weights()
        smallest = circuit.smallest_exact(pos.dtype)
    counts, grads, late = [], [], []
    for rows, work in circuit._chunks(pos):
        if in_log_space:
            set_leaves(work.values, pos[rows], neg[rows], false=NEG_INF, true=0.0)
            shares = upward(circuit, work, "sum")
            count = work.values[circuit.root].clone()
            late.append(torch.zeros_like(count, dtype=torch.bool))
        else:
            set_leaves(work.values, pos[rows], neg[rows], false=0.0, true=1.0)
            probability_upward(work)
            count = work.values[circuit.root].log()
            late.append(~(work.values[circuit.root] >= smallest))
        counts.append(count)
        if not with_grad:
            continue
        if in_log_space:  # impossible rows get gradient 0
            node_grads = marginals(circuit, work, shares, seed=(count > NEG_INF).to(count.dtype))
        elif bool(late[-1].all()):  # every row is counted again: no backward here
            grads.append(beliefs.values.new_zeros(count.shape[0], circuit.num_vars))
            continue
        else:
            node_grads = probability_marginals(work)
        weights = None if in_log_space else (pos[rows], neg[rows])
        grads.append(_input_gradient(beliefs, rows, *circuit._literals(node_grads), weights))
    return torch.cat(counts), torch.cat(grads) if with_grad else None, torch.cat(late)


def _input_gradient(
    beliefs: Beliefs,
    rows: slice,
    m_pos: torch.Tensor,
    m_neg: torch.Tensor,
    weights: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """d log P / d input from the literal marginals m = d log P / d log w, ``[rows, V]``;
    ``weights`` are the chunk's (σ(z), σ(−z)) where the probability pass has them already."""
    x = beliefs.values[rows]
    if beliefs.from_logits and weights is not None:  # at ±inf the zero-weight literal's m is exactly 0
        grad = m_pos * weights[1] - m_neg * weights[0]
    elif beliefs.from_logits:  # d log σ(z)/dz = σ(−z), d log σ(−z)/dz = −σ(z); 0 at ±inf
        grad = torch.where(torch.isinf(x), 0.0, m_pos * torch.sigmoid(-x) - m_neg * torch.sigmoid(x))
    else:  # d log p/dp = 1/p, d log(1 − p)/dp = −1/(1 − p); 0 at the evidence values 0 and 1
        grad = torch.where((x > 0) & (x < 1), m_pos / x - m_neg / (1 - x), 0.0)
    return grad
