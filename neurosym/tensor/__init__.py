"""The SDD as layered index tensors, evaluated batched in log-space (sum and max semirings)."""
from neurosym.tensor.circuit import TensorCircuit
from neurosym.tensor.inputs import CircuitInputError, ImpossibleEvidenceError

__all__ = ["CircuitInputError", "ImpossibleEvidenceError", "TensorCircuit"]
