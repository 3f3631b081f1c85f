"""neurosym: logical constraints compiled to SDDs, and the exact semantic loss they define.

theory = ns.parse_file("constraints/causal/transitivity.ns")
circuit = ns.compile(theory, domains={"Node": 4})
loss = ns.SemanticLoss(circuit)(probs)
"""

from neurosym.compile.artifact import Circuit, load_circuit
from neurosym.compile.build import compile
from neurosym.compile.compiler import CompileOptions
from neurosym.errors import NeurosymError
from neurosym.ground.grounder import ground
from neurosym.lang.parser import parse_file, parse_string

__version__ = "0.1.0"

__all__ = [
    "Circuit",
    "CompileOptions",
    "NeurosymError",
    "SemanticLoss",
    "compile",
    "ground",
    "load_circuit",
    "parse_file",
    "parse_string",
]


def __getattr__(name: str):
    # torch is imported only when the loss is asked for, so the compiler CLI starts fast.
    if name == "SemanticLoss":
        from neurosym.loss import SemanticLoss

        return SemanticLoss
    raise AttributeError(f"module 'neurosym' has no attribute {name!r}")
