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
    return sum(
        p[..., i] * torch.prod(torch.cat([1 - p[..., :i], 1 - p[..., i + 1 :]], -1), -1) for i in range(p.shape[-1])
    )


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


def test_mask_quantifies_variables_existentially(one_of_four):
    """Classes 2 and 3 not asked: exactly one class holds for some value of theirs unless classes 0
    and 1 both do, so P = 1 − p0·p1, whatever the beliefs at the masked-out places."""
    mask = torch.tensor([True, True, False, False])
    for masked_values in ([0.9, 0.4], [0.0, 1.0]):
        p = torch.tensor([0.7, 0.2, *masked_values], dtype=torch.float64, requires_grad=True)
        loss = ns.SemanticLoss(one_of_four)(p, mask=mask)
        torch.testing.assert_close(
            loss, -torch.log1p(torch.tensor(-0.7 * 0.2, dtype=torch.float64)), rtol=1e-12, atol=0
        )
        loss.backward()
        assert (p.grad[2:] == 0).all() and (p.grad[:2] > 0).all()


IMPLICATION = """
domain Item = {a, c}
predicted x(Item)
constraint implies: x(a) -> x(c)
"""


def test_an_unasked_consequence_costs_nothing():
    """x(a) → x(c) with x(c) not asked: every answer for x(a) extends to a model, so the loss is 0
    with gradient 0 (a fair coin at x(c) would give −log(1 − p/2) = 0.598 at p = 0.9 and push p down)."""
    circuit = ns.compile(ns.parse_string(IMPLICATION, "implication.ns"), cache=False)
    z = torch.tensor([[math.log(9.0), 0.0], [-3.0, 5.0]], dtype=torch.float64, requires_grad=True)
    loss = ns.SemanticLoss(circuit)(logits=z, mask=torch.tensor([True, False]))
    assert loss.abs().max() < 1e-12
    loss.sum().backward()
    assert (z.grad == 0).all()


def test_a_true_answer_set_of_a_chain_is_pulled_toward_itself():
    """Premise c → S → K → P seen on the subset {S, P, c}: asked causes(S,P) (true: Yes) and
    causes(S,c) (true: No). Within the subset only the No is forced (c causes S, so S does not cause
    c): the gradient lowers it and leaves the Yes alone, and the confident truth costs almost
    nothing. A fair coin at the unasked atoms scored the truth 2.77 nats and pushed the Yes toward No."""
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    nodes = {"S": "n0", "P": "n1", "c": "n2"}
    evidence = {f"edge({nodes[a]},{nodes[b]})": 0.0 for a in nodes for b in nodes if a != b}
    evidence["edge(n2,n0)"] = 1.0  # c causes S; S reaches P only through K, outside the subset
    asked = ["causes(n0,n1)", "causes(n0,n2)"]
    mask = torch.zeros(len(circuit.variables), dtype=torch.bool)
    logits = torch.zeros(len(circuit.variables), dtype=torch.float64)
    for atom, value in evidence.items():
        mask[circuit.index(atom)] = True
        logits[circuit.index(atom)] = math.inf if value else -math.inf
    for atom, z in zip(asked, (2.0, -2.0)):
        mask[circuit.index(atom)] = True
        logits[circuit.index(atom)] = z
    z = logits.clone().requires_grad_()
    loss = ns.SemanticLoss(circuit)(logits=z, mask=mask)
    loss.backward()
    yes, no = (circuit.index(atom) for atom in asked)
    assert z.grad[yes] == 0, "nothing in the subset decides causes(S,P): no push either way"
    assert z.grad[no] > 0, "descending the loss must lower the forced No"
    confident = logits.clone()
    confident[yes], confident[no] = 30.0, -30.0
    assert ns.SemanticLoss(circuit)(logits=confident, mask=mask) < 1e-3
    wrong = confident.clone()
    wrong[yes] = -30.0
    assert ns.SemanticLoss(circuit)(logits=wrong, mask=mask) < 1e-3, "(No, No) is consistent too: S need not reach P"


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
