"""The constraint with some variables existentially quantified: what a mask means.

A row's mask says which variables take part. The others are not asked, so the row's answers are
consistent when *some* values of them complete the answers to a model:

    P(∃ masked-out variables: constraint) = Σ over the taking-part variables' values of their
    probability × [some completion of them satisfies the constraint].

That is the weighted model count of the SDD with the masked-out variables quantified away, which
PySDD computes exactly (``exists_multiple``). The rows' evidence (taking-part variables at exactly
0 or 1, or logits ±inf) is conditioned on first: it weighs 1 on its value and 0 on the other
either way, and the conditioned SDD is a few nodes where quantifying the whole SDD can be larger
than the SDD itself (d-separation k = 4: 13k nodes, quantified 33k–98k, conditioned first ≤ 60). Each distinct (evidence, masked-out) pattern is projected once and kept.
"""

from __future__ import annotations

import array
import threading
from collections import OrderedDict

import torch

from neurosym.tensor.layers import Layers, layers_from_sdd

# Patterns kept per SDD: a causal training run meets a few thousand (transitivity k = 3 far fewer).
KEPT_PATTERNS = 4096
# Dead SDD nodes a circuit's own manager may pile up from projections before they are collected.
DEAD_NODES_BEFORE_COLLECTING = 200_000

FREE, TRUE, FALSE, DROPPED = 0, 1, 2, 3  # a variable's role in one row's pattern

Pattern = tuple[int, ...]  # one role per variable


def row_patterns(values: torch.Tensor, mask: torch.Tensor, from_logits: bool) -> torch.Tensor:
    """``[B, V]`` roles: masked out, evidence True or False (a taking-part value at exactly 1 or 0,
    or logit ±inf), or free (a belief to count over)."""
    high, low = (torch.inf, -torch.inf) if from_logits else (1.0, 0.0)
    roles = torch.full(values.shape, FREE, dtype=torch.int8, device=values.device)
    roles[values == high] = TRUE
    roles[values == low] = FALSE
    return roles.masked_fill(~mask, DROPPED)


class Projector:
    """Projections of one SDD, by pattern, as `Layers`: conditioned on the pattern's evidence,
    with its masked-out variables existentially quantified.

    The root is referenced for the projector's lifetime. ``collect_garbage`` lets it collect the
    manager's dead nodes now and then: only for a manager whose every other live node is
    referenced (a compiled `Circuit`'s), since collection frees unreferenced nodes."""

    def __init__(self, root, num_vars: int, *, collect_garbage: bool = False):
        root.ref()
        self.root = root
        self.manager = root.manager
        self.num_vars = num_vars
        self.collect_garbage = collect_garbage
        self._layers: OrderedDict[Pattern, Layers] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()  # PySDD managers are not thread-safe

    def layers(self, pattern: Pattern) -> Layers:
        with self._lock:
            layers = self._layers.pop(pattern, None) or self._project(pattern)
            self._layers[pattern] = layers
            if len(self._layers) > KEPT_PATTERNS:
                self._layers.popitem(last=False)
        return layers

    def _project(self, pattern: Pattern) -> Layers:
        manager, known = self.manager, self.manager.var_count()
        automatic = manager.is_auto_gc_and_minimize_on()
        if automatic:  # a vtree search per projection would cost far more than the projection
            manager.auto_gc_and_minimize_off()
        try:
            evidence = manager.true()
            quantified = array.array("i", [0] * (known + 1))
            for index, role in enumerate(pattern[:known]):
                if role in (TRUE, FALSE):
                    evidence = evidence & manager.literal(index + 1 if role == TRUE else -(index + 1))
                quantified[index + 1] = role != FREE
            # ∃ evidence, masked-out: (constraint ∧ evidence) is the constraint conditioned on the evidence,
            # with the masked-out variables quantified; one conjunction beats one conditioning per literal
            node = manager.exists_multiple(quantified, self.root & evidence)
            layers = layers_from_sdd(node, self.num_vars)
            if self.collect_garbage and manager.dead_count() > DEAD_NODES_BEFORE_COLLECTING:
                manager.garbage_collect()
        finally:
            if automatic:
                manager.auto_gc_and_minimize_on()
        return layers
