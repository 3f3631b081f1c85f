"""SemanticLoss: the module API, its input checks, evidence as logits ±inf, impossible rows."""
from __future__ import annotations

import math

import pytest
import torch

import neurosym as ns
from neurosym.errors import NeurosymError
from neurosym.resources import constraint_path
from neurosym.tensor import CircuitInputError, ImpossibleEvidenceError

EXACTLY_ONE = constraint_path("examples/exactly_one.ns")
TRANSITIVITY = constraint_path("causal/transitivity.ns")


@pytest.fixture(scope="module")
def one_of_four():
    return ns.compile(EXACTLY_ONE, {"Class": 4}, cache=False)


def exactly_one_probability(p: torch.Tensor) -> torch.Tensor:
    """Σᵢ pᵢ Πⱼ≠ᵢ (1 − pⱼ), the closed form the loss must match."""
    return sum(p[..., i] * torch.prod(torch.cat([1 - p[..., :i], 1 - p[..., i + 1:]], -1), -1) for i in range(p.shape[-1]))


@pytest.mark.parametrize("n", [2, 10, 100])
def test_exactly_one_loss_matches_the_closed_form(n):
    circuit = ns.compile(EXACTLY_ONE, {"Class": n}, cache=False)
    loss = ns.SemanticLoss(circuit)
    p = torch.rand(6, n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    expected = -torch.log(exactly_one_probability(p))
    torch.testing.assert_close(loss(p), expected, rtol=1e-10, atol=0)
    torch.testing.assert_close(loss(logits=torch.logit(p)), expected, rtol=1e-10, atol=0)


def test_accepts_a_circuit_or_a_tensor_circuit_and_moves_only_itself(one_of_four):
    p = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    by_circuit, by_tensor = ns.SemanticLoss(one_of_four), ns.SemanticLoss(one_of_four.tensor_circuit())
    assert by_circuit(p) == by_tensor(p)
    by_circuit.to("meta")
    assert by_circuit.circuit.device.type == "meta"
    assert one_of_four.tensor_circuit().device.type == "cpu"
    with pytest.raises(NeurosymError, match="Circuit or a TensorCircuit"):
        ns.SemanticLoss("constraints/examples/exactly_one.ns")


def test_batch_shapes(one_of_four):
    loss = ns.SemanticLoss(one_of_four)
    single = loss(torch.full((4,), 0.25))
    assert single.shape == ()
    assert loss(torch.rand(2, 3, 4)).shape == (2, 3)
    empty = torch.zeros(0, 4, requires_grad=True)
    out = loss(empty)
    assert out.shape == (0,)
    out.sum().backward()
    assert empty.grad.shape == (0, 4)


def test_logits_never_go_through_one_minus_p(one_of_four):
    """Two classes at logit −200 (p ≈ e⁻²⁰⁰, far below float32's range as a probability)."""
    z = torch.tensor([-200.0, -200.0, 30.0, -30.0], requires_grad=True)
    loss = ns.SemanticLoss(one_of_four)(logits=z)
    reference = -torch.log(exactly_one_probability(torch.sigmoid(z.detach().double())))
    assert torch.isfinite(loss) and abs(loss.item() - reference.item()) < 1e-4
    loss.backward()
    assert torch.isfinite(z.grad).all()


def test_infinite_logits_are_exact_evidence(one_of_four):
    inf = math.inf
    z = torch.tensor([[inf, -inf, 0.3, -0.2], [-inf, -inf, 1.0, -1.0]], requires_grad=True)
    loss = ns.SemanticLoss(one_of_four)(logits=z)
    p = torch.sigmoid(z.detach()).double()
    torch.testing.assert_close(loss.double(), -torch.log(exactly_one_probability(p)), rtol=1e-6, atol=1e-6)
    loss.sum().backward()
    assert torch.isfinite(z.grad).all() and (z.grad[torch.isinf(z.detach())] == 0).all()
    assert (z.grad[1, 2:] != 0).all()


def test_impossible_evidence_gives_inf_a_warning_and_zero_gradient(one_of_four):
    z = torch.tensor([[math.inf, math.inf, 0.0, 0.0], [0.5, -0.5, 0.1, 0.2]], requires_grad=True)
    with pytest.warns(RuntimeWarning, match="1 of 2 rows rules out every model"):
        loss = ns.SemanticLoss(one_of_four)(logits=z)
    assert loss[0] == math.inf and torch.isfinite(loss[1])
    loss[1].backward()
    assert torch.isfinite(z.grad).all() and (z.grad[0] == 0).all() and (z.grad[1] != 0).all()
    with pytest.raises(ImpossibleEvidenceError, match="first at index \\(0,\\)"):
        ns.SemanticLoss(one_of_four, on_impossible="raise")(logits=z)


def test_mask_sums_variables_out(one_of_four):
    """Masking out classes 2 and 3: the mean over their four values of P(exactly one)."""
    p = torch.tensor([0.7, 0.2, 0.9, 0.4], dtype=torch.float64)
    mask = torch.tensor([True, True, False, False])
    rest = [torch.tensor([0.7, 0.2, a, b], dtype=torch.float64) for a in (0.0, 1.0) for b in (0.0, 1.0)]
    expected = -torch.log(torch.stack([exactly_one_probability(r) for r in rest]).mean())
    torch.testing.assert_close(ns.SemanticLoss(one_of_four)(p, mask=mask), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda sl: sl(torch.rand(2, 5)), r"shape \[\.\.\., 4\].*got shape \(2, 5\)"),
        (lambda sl: sl(torch.tensor(0.5)), r"got shape \(\)"),
        (lambda sl: sl(torch.tensor([0.1, 1.5, 0.2, 0.3])), r"probs\[1\] = 1\.5 is outside \[0, 1\]"),
        (lambda sl: sl(torch.tensor([[0.1, 0.2, 0.3, -0.25]])), r"probs\[0, 3\] = -0\.25 is outside"),
        (lambda sl: sl(logits=torch.tensor([0.0, math.nan, 0.0, 0.0])), r"logits\[1\] = nan is NaN"),
        (lambda sl: sl(), "exactly one of probs or logits \\(got neither\\)"),
        (lambda sl: sl(torch.rand(4), logits=torch.rand(4)), "got both"),
        (lambda sl: sl(torch.rand(4), mask=torch.ones(4)), "mask must be a bool tensor"),
        (lambda sl: sl(torch.rand(2, 4), mask=torch.ones(3, 4, dtype=torch.bool)), r"does not broadcast"),
    ],
)
def test_bad_input_names_the_offending_value(one_of_four, call, message):
    with pytest.raises(CircuitInputError, match=message):
        call(ns.SemanticLoss(one_of_four))


def test_log_prob_and_loss_agree_across_dtypes():
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    p = torch.rand(32, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    loss = ns.SemanticLoss(circuit)
    torch.testing.assert_close(loss(p), -circuit.log_prob(p), rtol=0, atol=0)
    torch.testing.assert_close(loss(p.float()).double(), loss(p), rtol=1e-5, atol=1e-5)
