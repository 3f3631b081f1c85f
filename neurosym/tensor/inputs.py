"""Checking a batch of beliefs and turning it into literal weights or log-weights.

Beliefs are ``[..., V]``: probabilities in [0, 1] or logits in [−inf, +inf]. Logits become
log-weights through log-sigmoid of +z and −z, never log(1 − p), so +inf is weight (1, 0) exactly
and a very negative logit keeps its precision. A boolean mask ``[..., V]`` (broadcastable) marks
the variables that take part (see `neurosym.tensor.projection` for what the others mean).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from neurosym.errors import NeurosymError


class CircuitInputError(NeurosymError, ValueError):
    """Beliefs or a mask passed to a circuit have the wrong shape, type, range or device."""


class ImpossibleEvidenceError(NeurosymError):
    """The evidence in some rows rules out every model of the constraint."""


@dataclass(frozen=True)
class Beliefs:
    """A checked batch, flattened to ``[B, V]``; ``shape`` is the batch shape to restore."""

    values: torch.Tensor
    from_logits: bool
    mask: torch.Tensor | None
    shape: torch.Size

    def log_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(log w(x), log w(¬x)) ``[B, V]``; variables outside the mask weigh 1 on both values,
        which in a max pass leaves them free."""
        x = self.values
        if self.from_logits:
            pos, neg = F.logsigmoid(x), F.logsigmoid(-x)
        else:
            pos, neg = torch.log(x), torch.log1p(-x)
        return self._masked(pos, neg)

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(w(x), w(¬x)) ``[B, V]``: σ(z) and σ(−z) from logits, p and 1 − p from probabilities."""
        x = self.values
        return (torch.sigmoid(x), torch.sigmoid(-x)) if self.from_logits else (x, 1 - x)

    def to(self, dtype: torch.dtype) -> Beliefs:
        return self if self.values.dtype == dtype else replace(self, values=self.values.to(dtype))

    def without_mask(self) -> Beliefs:
        return replace(self, mask=None)

    def take(self, rows: torch.Tensor) -> Beliefs:
        """The rows at the indices ``rows``, as a flat batch."""
        mask = None if self.mask is None else self.mask[rows]
        return Beliefs(self.values[rows], self.from_logits, mask, rows.shape)

    def _masked(self, pos: torch.Tensor, neg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mask is not None:
            pos, neg = pos.masked_fill(~self.mask, 0.0), neg.masked_fill(~self.mask, 0.0)
        return pos, neg


def check_beliefs(num_vars: int, device: torch.device, probs, logits, mask) -> Beliefs:
    """Validate one call's arguments; every message names the offending value."""
    if (probs is None) == (logits is None):
        raise CircuitInputError(
            "pass exactly one of probs or logits (got " + ("both" if probs is not None else "neither") + ")"
        )
    name, x = ("probs", probs) if probs is not None else ("logits", logits)
    x = _as_float_tensor(name, x)
    if x.dim() == 0 or x.shape[-1] != num_vars:
        raise CircuitInputError(
            f"{name} must have shape [..., {num_vars}] (one entry per circuit variable), got shape {tuple(x.shape)}"
        )
    if x.device != device:
        raise CircuitInputError(
            f"{name} is on {x.device} but the circuit is on {device}; move one of them with .to(device)"
        )
    _reject(name, x, torch.isnan(x), "is NaN")
    if name == "probs":
        _reject(name, x, (x < 0) | (x > 1), "is outside [0, 1]")
    shape = x.shape[:-1]
    flat_mask = None
    if mask is not None:
        mask = torch.as_tensor(mask, device=x.device)
        if mask.dtype != torch.bool:
            raise CircuitInputError(
                f"mask must be a bool tensor (True = the variable takes part), got dtype {mask.dtype}"
            )
        try:
            mask = mask.expand(x.shape)
        except RuntimeError:
            raise CircuitInputError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to {name} of shape {tuple(x.shape)}"
            ) from None
        flat_mask = mask.reshape(-1, num_vars)
    return Beliefs(x.reshape(-1, num_vars), name == "logits", flat_mask, shape)


def _as_float_tensor(name: str, x) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.dtype in (torch.float32, torch.float64):
        return x
    if x.is_complex():
        raise CircuitInputError(f"{name} must be real, got dtype {x.dtype}")
    return x.to(torch.float32)


def _reject(name: str, x: torch.Tensor, bad: torch.Tensor, what: str) -> None:
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        raise CircuitInputError(f"{name}[{', '.join(map(str, where))}] = {x[where].item()} {what}")
