"""Losses defined by compiled constraints."""

from neurosym.loss.semantic import SemanticLoss

__all__ = ["SemanticLoss"]
