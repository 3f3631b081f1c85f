"""The SDD as layered index tensors, evaluated batched: probabilities in linear space with a
log-space fallback where they would underflow, the most probable explanation in log space."""

from neurosym.tensor.circuit import TensorCircuit
from neurosym.tensor.inputs import CircuitInputError, ImpossibleEvidenceError

__all__ = ["CircuitInputError", "ImpossibleEvidenceError", "TensorCircuit"]
