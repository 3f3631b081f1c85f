"""TensorCircuit: log_prob and mpe against brute-force enumeration and PySDD's own WMC."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pysdd.sdd import SddManager, Vtree

import neurosym as ns
from neurosym.compile.artifact import TENSOR_FILE
from neurosym.errors import ArtifactError
from neurosym.ground.formula import evaluate_batch
from neurosym.resources import constraint_path
from neurosym.tensor import TensorCircuit

TRANSITIVITY = constraint_path("causal/transitivity.ns")
DSEPARATION = constraint_path("causal/dseparation.ns")
EXACTLY_ONE = constraint_path("examples/exactly_one.ns")
HIERARCHY = constraint_path("examples/hierarchy.ns")
SMALL = [(TRANSITIVITY, {"Node": 3}), (EXACTLY_ONE, {"Class": 5}), (HIERARCHY, {})]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path / "cache"))


# -- references -------------------------------------------------------------------------------
def all_assignments(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool).reshape(-1, n)


def models_of_theory(circuit) -> torch.Tensor:
    """Every satisfying assignment, by evaluating the ground formulas on all 2^V assignments."""
    table = all_assignments(len(circuit.variables))
    ok = np.ones(len(table), dtype=bool)
    for constraint in circuit.ground_theory.constraints:
        for f in constraint.conjuncts:
            ok &= evaluate_batch(f, table)
    return torch.from_numpy(table[ok])


def models_of_cnf(clauses, num_vars: int) -> torch.Tensor:
    table = all_assignments(num_vars)
    ok = np.ones(len(table), dtype=bool)
    for clause in clauses:
        ok &= np.any([table[:, abs(literal) - 1] == (literal > 0) for literal in clause], axis=0)
    return torch.from_numpy(table[ok])


def literal_log_weights(probs, mask, masked):
    pos, neg = torch.log(probs), torch.log1p(-probs)
    if mask is not None:
        pos, neg = pos.masked_fill(~mask, masked), neg.masked_fill(~mask, masked)
    return pos, neg


def projected_log_count(models, pos, neg, mask=None) -> torch.Tensor:
    """log Σ over the assignments of the taking-part variables that some values of the masked-out
    ones complete to a model, of Π their literal weights (``pos``, ``neg``: ``[B, V]`` log-weights)."""
    rows = []
    for row in range(len(pos)):
        keep = mask[row] if mask is not None else torch.ones(models.shape[1], dtype=torch.bool)
        extendable = torch.unique(models[:, keep], dim=0) if len(models) and keep.any() else models[:1, keep]
        terms = torch.where(extendable, pos[row, keep], neg[row, keep]).sum(-1)
        rows.append(torch.logsumexp(terms, 0) if len(terms) else pos.new_tensor(-math.inf))
    return torch.stack(rows)


def brute_log_prob(models, probs, mask=None) -> torch.Tensor:
    """log P(some values of the masked-out variables complete the others to a model)."""
    return projected_log_count(models, *literal_log_weights(probs, None, 0.0), mask)


def brute_mpe_value(models, probs, mask=None) -> torch.Tensor:
    pos, neg = literal_log_weights(probs, mask, 0.0)
    terms = torch.where(models[None], pos[:, None], neg[:, None]).sum(-1)
    return terms.amax(-1) if len(models) else torch.full(probs.shape[:1], -math.inf, dtype=probs.dtype)


def pysdd_log_wmc(circuit, probs) -> float:
    wmc = circuit.root.wmc(log_mode=True)
    for i, p in enumerate(probs.tolist(), start=1):
        wmc.set_literal_weight(circuit.manager.literal(i), math.log(p))
        wmc.set_literal_weight(circuit.manager.literal(-i), math.log1p(-p))
    return wmc.propagate()


def random_beliefs(rows: int, num_vars: int, seed: int, evidence: float = 0.2, masked: float = 0.2):
    """float64 probabilities with some exact 0/1 evidence, and a mask with some False entries."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(rows, num_vars, generator=g, dtype=torch.float64)
    hard = torch.rand(rows, num_vars, generator=g) < evidence
    probs = torch.where(hard, probs.round(), probs)
    mask = torch.rand(rows, num_vars, generator=g) >= masked
    return probs, mask


def check_mpe(circuit_or_tensor, models, probs, mask):
    assignment, log_p = circuit_or_tensor.mpe(probs, mask=mask)
    expected = brute_mpe_value(models, probs, mask)
    torch.testing.assert_close(log_p, expected, rtol=0, atol=1e-9)
    pos, neg = literal_log_weights(probs, mask, 0.0)
    for row in range(len(probs)):
        if expected[row] == -math.inf:
            assert not assignment[row].any()
            continue
        assert (models == assignment[row]).all(-1).any(), "the MPE must be a model"
        score = torch.where(assignment[row], pos[row], neg[row]).sum()
        assert abs(float(score - expected[row])) <= 1e-9
        if mask is not None:  # masked-out variables free on the chosen path are False
            forced = (models[:, ~mask[row]] == assignment[row, ~mask[row]]).all(-1)
            assert forced.any()


def value_and_gradient(tensor, logits, mask):
    """log P per row and its summed gradient with respect to the logits."""
    z = logits.clone().requires_grad_()
    out = tensor.log_prob(logits=z, mask=mask)
    out.sum().backward()
    return out.detach(), z.grad


# -- the shipped theories ---------------------------------------------------------------------
@pytest.mark.parametrize("path, domains", SMALL)
def test_log_prob_equals_enumeration_on_shipped_theories(path, domains):
    circuit = ns.compile(path, domains, cache=False)
    models = models_of_theory(circuit)
    probs, mask = random_beliefs(64, len(circuit.variables), seed=1)
    torch.testing.assert_close(circuit.log_prob(probs), brute_log_prob(models, probs), rtol=0, atol=1e-9)
    torch.testing.assert_close(
        circuit.log_prob(probs, mask=mask), brute_log_prob(models, probs, mask), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("path, domains", SMALL)
def test_mpe_equals_brute_force_argmax(path, domains):
    circuit = ns.compile(path, domains, cache=False)
    probs, mask = random_beliefs(48, len(circuit.variables), seed=2)
    models = models_of_theory(circuit)
    check_mpe(circuit, models, probs, None)
    check_mpe(circuit, models, probs, mask)


@pytest.mark.parametrize("path, domains", [(TRANSITIVITY, {"Node": 4}), (DSEPARATION, {"Node": 3}), (HIERARCHY, {})])
def test_log_prob_equals_pysdd_weighted_model_count(path, domains):
    circuit = ns.compile(path, domains, cache=False)
    g = torch.Generator().manual_seed(3)
    probs = torch.rand(4, len(circuit.variables), generator=g, dtype=torch.float64) * 0.98 + 0.01
    ours = circuit.log_prob(probs)
    for row in range(len(probs)):
        assert abs(float(ours[row]) - pysdd_log_wmc(circuit, probs[row])) <= 1e-9


def test_exactly_one_closed_form():
    for n in (1, 3, 10):
        circuit = ns.compile(EXACTLY_ONE, {"Class": n}, cache=False)
        p = torch.rand(5, n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
        expected = sum(p[:, i] * torch.prod(torch.cat([1 - p[:, :i], 1 - p[:, i + 1 :]], 1), 1) for i in range(n))
        torch.testing.assert_close(circuit.log_prob(p).exp(), expected, rtol=1e-12, atol=0)


# -- random SDDs: arbitrary vtrees, unmentioned variables, true and false roots ---------------
clause = st.lists(st.integers(1, 6).flatmap(lambda v: st.sampled_from([v, -v])), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None)
@given(
    clauses=st.lists(clause, max_size=8),
    extra=st.integers(0, 2),
    vtree=st.sampled_from(["balanced", "right", "left", "vertical"]),
    seed=st.integers(0, 2**16),
)
def test_random_cnf_against_enumeration(clauses, extra, vtree, seed):
    used = max((abs(literal) for clause in clauses for literal in clause), default=1)
    manager = SddManager.from_vtree(Vtree(var_count=used, vtree_type=vtree))
    root = manager.true()
    for c in clauses:
        root = root & _disjunction(manager, c)
    num_vars = used + extra  # variables the SDD manager does not know at all
    tensor = TensorCircuit.from_sdd(root, num_vars)
    models = models_of_cnf(clauses, num_vars)
    probs, mask = random_beliefs(16, num_vars, seed)
    torch.testing.assert_close(tensor.log_prob(probs), brute_log_prob(models, probs), rtol=0, atol=1e-9)
    torch.testing.assert_close(
        tensor.log_prob(probs, mask=mask), brute_log_prob(models, probs, mask), rtol=0, atol=1e-9
    )
    check_mpe(tensor, models, probs, mask)


def _disjunction(manager, literals):
    node = manager.false()
    for literal in literals:
        node = node | manager.literal(literal)
    return node


# -- gradients --------------------------------------------------------------------------------
def test_gradcheck_probs_logits_and_mask():
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    g = torch.Generator().manual_seed(4)
    probs = (torch.rand(3, 12, generator=g, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    logits = (torch.randn(3, 12, generator=g, dtype=torch.float64) * 3).requires_grad_()
    mask = torch.rand(3, 12, generator=g) > 0.3
    assert torch.autograd.gradcheck(lambda p: circuit.log_prob(p), (probs,))
    assert torch.autograd.gradcheck(lambda z: circuit.log_prob(logits=z, mask=mask), (logits,))


def test_gradient_equals_autograd_through_enumeration():
    circuit = ns.compile(HIERARCHY, {}, cache=False)
    models = models_of_theory(circuit)
    probs, mask = random_beliefs(8, len(circuit.variables), seed=5, evidence=0.0)
    mine = probs.clone().requires_grad_()
    circuit.log_prob(mine, mask=mask).sum().backward()
    ref = probs.clone().requires_grad_()
    brute_log_prob(models, ref, mask).sum().backward()
    torch.testing.assert_close(mine.grad, ref.grad, rtol=1e-9, atol=1e-9)


def test_evidence_at_the_boundaries_keeps_values_exact_and_gradients_finite():
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    models = models_of_theory(circuit)
    probs, mask = random_beliefs(32, 12, seed=6, evidence=0.5)
    logits = torch.logit(probs).requires_grad_()  # exact 0/1 become ∓inf
    out = circuit.log_prob(logits=logits, mask=mask)
    torch.testing.assert_close(out.detach(), brute_log_prob(models, probs, mask), rtol=0, atol=1e-9)
    assert (out == -math.inf).any() and (out > -math.inf).any(), "the batch should mix possible and impossible rows"
    out.masked_fill(out == -math.inf, 0).sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad[torch.isinf(logits.detach())] == 0).all()
    assert (logits.grad[out.detach() == -math.inf] == 0).all()
    leaf = probs.clone().requires_grad_()
    circuit.log_prob(leaf, mask=mask).sum().backward()
    assert torch.isfinite(leaf.grad).all() and (leaf.grad[(probs == 0) | (probs == 1)] == 0).all()


def test_batches_split_into_chunks_give_the_same_values_and_gradients():
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    whole = circuit.tensor_circuit()
    chunked = whole.replica()
    chunked.chunk_rows = 3
    probs, mask = random_beliefs(10, 12, seed=7)
    logits = torch.logit(probs.clamp(0.01, 0.99))
    torch.testing.assert_close(
        value_and_gradient(whole, logits, mask), value_and_gradient(chunked, logits, mask), rtol=1e-12, atol=1e-12
    )
    for a, b in zip(whole.mpe(probs, mask=mask), chunked.mpe(probs, mask=mask)):
        assert torch.equal(a, b)


# -- probability space and its log-space fallback -----------------------------------------------
def brute_log_prob_of_logits(models, logits, mask=None) -> torch.Tensor:
    """Enumeration in log space from log-sigmoid weights: the reference for extreme logits."""
    pos, neg = torch.nn.functional.logsigmoid(logits), torch.nn.functional.logsigmoid(-logits)
    return projected_log_count(models, pos, neg, mask)


def extreme_logits(dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Ordinary rows, rows scaled to ±30 (log P from −20 to −110: in float32's range or not),
    ±700 and ±1e4 (σ underflows in float32, and at 1e4 in float64 too), and rows mixing one
    extreme entry into ordinary ones; with a mask."""
    g = torch.Generator().manual_seed(10)
    base = torch.randn(8, 12, generator=g, dtype=torch.float64)
    mixed = base.clone()
    mixed[:, 0] = torch.tensor([-700.0, 700.0, -1e4, 1e4, -90.0, 90.0, -40.0, 40.0], dtype=torch.float64)
    logits = torch.cat([base, base * 30, base * 700, base * 1e4, base.sign() * 1e4, mixed]).to(dtype)
    return logits, torch.rand(logits.shape, generator=g) > 0.2


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rows_that_would_underflow_are_counted_again(dtype):
    """float64 matches enumeration on every row. In float32, rows counted in probability space
    (in float32, or again in float64 below float32's range) match it to float32 precision, and the
    rows left to log space give exactly what log space alone gives (whose own float32 error grows
    with the logits' magnitude)."""
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    tensor = circuit.tensor_circuit()
    log_space_only = tensor.replica()
    log_space_only.paths_through_nodes = math.inf  # no row is exact in probability space
    logits, mask = extreme_logits(dtype)
    ref = logits.double().clone().requires_grad_()
    expected = brute_log_prob_of_logits(models_of_theory(circuit), ref, mask)
    expected.sum().backward()
    below_dtype = expected.detach() < math.log(tensor.smallest_exact(dtype))
    in_log_space = expected.detach() < math.log(tensor.smallest_exact(torch.float64))
    assert in_log_space.any() and (~below_dtype).any(), "the batch should mix the passes"
    assert dtype == torch.float64 or (below_dtype & ~in_log_space).any()
    out, grad = value_and_gradient(tensor, logits, mask)
    log_out, log_grad = value_and_gradient(log_space_only, logits, mask)
    tolerance = 1e-9 if dtype == torch.float64 else 1e-5
    rows = slice(None) if dtype == torch.float64 else ~in_log_space
    torch.testing.assert_close(out[rows].double(), expected.detach()[rows], rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(grad[rows].double(), ref.grad[rows], rtol=tolerance, atol=tolerance)
    assert torch.equal(out[in_log_space], log_out[in_log_space])
    assert torch.equal(grad[in_log_space], log_grad[in_log_space])


def test_paths_through_nodes_counts_root_to_leaf_paths_by_their_nodes():
    """Against a walk over every root-to-leaf path of a small SDD (padding elements excluded)."""
    manager = SddManager.from_vtree(Vtree(var_count=5, vtree_type="balanced"))
    root = manager.false()
    for c in ([1, -2], [2, 3, -4], [-1, 4, 5], [-3, -5]):
        root = root | (manager.literal(c[0]) & _disjunction(manager, c[1:]))
    layers = TensorCircuit.from_sdd(root, 5).layers
    children = {}
    for group in layers.groups():
        for k in range(group.nodes):
            span = range(group.offset + k * group.width, group.offset + (k + 1) * group.width)
            children[group.first + k] = [
                c for e in span if int(layers.prime[e]) for c in (int(layers.prime[e]), int(layers.sub[e]))
            ]

    def nodes_on_paths(node: int) -> tuple[int, int]:  # (paths below, Σ over them of their length + 1)
        if node not in children:
            return 1, 1
        below = [nodes_on_paths(c) for c in children[node]]
        paths = sum(p for p, _ in below)
        return paths, paths + sum(n for _, n in below)

    assert layers.paths_through_nodes() == nodes_on_paths(layers.root)[1]


def test_products_are_the_distinct_elements_layered_below_their_nodes():
    """Each (prime, sub) pair of the SDD is one product, computed at a layer no higher than any
    node summing it and above both its children; the three maps agree with the element arrays."""
    circuit = ns.compile(TRANSITIVITY, {"Node": 4}, cache=False).tensor_circuit()
    layers, layout = circuit.layers, circuit.product_layout
    real = layers.prime != 0
    elements = {
        (int(p), int(s), int(n))
        for p, s, n in zip(layers.prime[real], layers.sub[real], layers.node_of_element()[real])
    }
    pairs = [tuple(pair) for pair in layout.pairs.view(-1, 2).tolist()]
    assert len(pairs) == len(set(pairs)) == len({(p, s) for p, s, _ in elements}) < len(elements)

    node_layer, product_layer = {}, {}
    for number, layer in enumerate(layout.layers, start=1):
        node_layer.update((n, number) for n in range(layer.nodes.start, layer.nodes.stop))
        product_layer.update((u, number) for u in range(layer.products.start, layer.products.stop))
    assert sorted(product_layer) == list(range(len(pairs)))

    def bag(name: str, row: int) -> list[int]:
        items, offsets = layout.bags(name, slice(row, row + 1))
        return items[int(offsets[0]) : int(offsets[1])].tolist()

    summed = {(*pairs[u], n) for n in node_layer for u in bag("node_products", n)}
    assert summed == elements
    for u, (p, s) in enumerate(pairs):
        assert max(node_layer.get(p, 0), node_layer.get(s, 0)) < product_layer[u]
        assert all(node_layer[n] >= product_layer[u] for n in bag("product_parents", u))
        assert {(*pairs[u], n) for n in bag("product_parents", u)} <= elements
        for child in {p, s} - {0, 1}:
            assert u in bag("child_products", child)
    assert bag("child_products", layers.root) == [len(pairs)]  # the ones row


def test_kept_workspaces_give_the_same_results_as_fresh_ones():
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    kept = circuit.tensor_circuit()
    probs, mask = random_beliefs(40, 12, seed=11)
    calls = [(probs[:n].to(dtype), mask[:n]) for n in (40, 7, 40, 1) for dtype in (torch.float64, torch.float32)]
    for p, m in calls:
        assert torch.equal(kept.log_prob(p, mask=m), kept.replica().log_prob(p, mask=m))
    copied = pickle.loads(pickle.dumps(kept))
    assert not copied._workspaces and torch.equal(copied.log_prob(probs), kept.log_prob(probs))


# -- the cache --------------------------------------------------------------------------------
def test_tensor_form_is_cached_in_the_artifact_folder():
    circuit = ns.compile(TRANSITIVITY, {"Node": 3})
    first = circuit.tensor_circuit()
    path = circuit.folder / TENSOR_FILE
    assert path.is_file()
    reloaded = ns.load_circuit(circuit.folder).tensor_circuit()
    assert reloaded is not first and reloaded.num_nodes == first.num_nodes
    probs, _ = random_beliefs(4, 12, seed=8)
    assert torch.equal(reloaded.log_prob(probs), first.log_prob(probs))
    state = torch.load(path, weights_only=True)
    state["sub"][-1] = first.num_nodes  # an index past the last node
    torch.save(state, path)
    with pytest.raises(ArtifactError, match="points to a node that does not come before it"):
        TensorCircuit.load(path)
    path.write_bytes(b"not a tensor file")
    with pytest.raises(ArtifactError, match="tensor circuit unreadable"):
        TensorCircuit.load(path)
    # through the artifact, a damaged or stale cache file is rebuilt from the SDD and replaced
    rebuilt = ns.load_circuit(circuit.folder)
    assert torch.equal(rebuilt.log_prob(probs), first.log_prob(probs))
    assert TensorCircuit.load(path).num_nodes == first.num_nodes


def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    cpu = circuit.tensor_circuit()
    gpu = cpu.replica().to("cuda")
    probs, mask = random_beliefs(16, 12, seed=9)
    torch.testing.assert_close(gpu.log_prob(probs.cuda(), mask=mask.cuda()).cpu(), cpu.log_prob(probs, mask=mask))
    assert torch.equal(gpu.mpe(probs.cuda(), mask=mask.cuda())[0].cpu(), cpu.mpe(probs, mask=mask)[0])
