"""The exact semantic loss (Xu et al. 2018): −log P(constraint) under independent Bernoullis."""

from __future__ import annotations

import warnings

import torch

from neurosym.errors import NeurosymError
from neurosym.tensor import ImpossibleEvidenceError, TensorCircuit

ON_IMPOSSIBLE = ("warn", "raise", "ignore")


class SemanticLoss(torch.nn.Module):
    """``SemanticLoss(circuit)(probs)`` → ``[...]``, −log P(constraint) per row of ``probs [..., V]``.

    ``circuit`` is a compiled `neurosym.Circuit` or a `neurosym.tensor.TensorCircuit`; the module
    holds its own copy of the index tensors, so ``.to(device)`` moves the loss and not the circuit.
    Call it with ``probs`` in [0, 1] or with ``logits=`` (log-sigmoid of +z and −z, never
    log(1 − p)), and optionally ``mask=`` (bool ``[..., V]``, False = not asked: the row's loss is
    −log P(some values of the masked-out variables complete the rest to a model), see
    `TensorCircuit.log_prob`). Observed variables carry their evidence in the same tensor:
    probability 0 or 1, or logit −inf or +inf. Evidence that rules out every model gives ``inf``
    for that row with gradient 0, and ``on_impossible`` decides what else happens: ``"warn"``
    (a `RuntimeWarning`), ``"raise"`` (`ImpossibleEvidenceError`) or ``"ignore"``.
    At probability exactly 0 or 1 the gradient with respect to that probability is 0; logits
    give the exact derivative everywhere (it is 0 at ±inf).
    """

    def __init__(self, circuit, on_impossible: str = "warn"):
        super().__init__()
        if on_impossible not in ON_IMPOSSIBLE:
            raise NeurosymError(f"on_impossible must be one of {', '.join(ON_IMPOSSIBLE)}, got {on_impossible!r}")
        if isinstance(circuit, TensorCircuit):
            tensor = circuit
        elif callable(getattr(circuit, "tensor_circuit", None)):
            tensor = circuit.tensor_circuit()
        else:
            raise NeurosymError(
                f"SemanticLoss needs a compiled Circuit or a TensorCircuit, got {type(circuit).__name__}"
            )
        self.circuit = tensor.replica()
        self.on_impossible = on_impossible

    def forward(self, probs=None, *, logits=None, mask=None) -> torch.Tensor:
        loss = -self.circuit.log_prob(probs, logits=logits, mask=mask)
        if self.on_impossible != "ignore":
            impossible = torch.isinf(loss.detach())
            if bool(impossible.any()):
                rows = impossible.nonzero().tolist()
                where = f" (first at index {tuple(rows[0])})" if loss.dim() else ""
                message = (
                    f"the evidence in {len(rows)} of {loss.numel()} rows rules out every model of the "
                    f"constraint{where}; their semantic loss is inf with gradient 0"
                )
                if self.on_impossible == "raise":
                    raise ImpossibleEvidenceError(message)
                warnings.warn(message, RuntimeWarning, stacklevel=4)  # the caller of the module
        return loss
