"""Compiler: model counts against enumeration, artifacts, the cache, and the compile strategies."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
import torch

import neurosym as ns
from neurosym.compile import build
from neurosym.compile.compiler import CompileOptions
from neurosym.ground.formula import evaluate_batch
from neurosym.ground.grounder import ground
from neurosym.resources import constraint_path

TRANSITIVITY = constraint_path("causal/transitivity.ns")
DSEPARATION = constraint_path("causal/dseparation.ns")
EXACTLY_ONE = constraint_path("examples/exactly_one.ns")
HIERARCHY = constraint_path("examples/hierarchy.ns")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path / "cache"))


def satisfying_rows(grounded, table: np.ndarray) -> np.ndarray:
    """Which rows of a boolean table (column ``v - 1`` is variable ``v``) satisfy every constraint."""
    ok = np.ones(len(table), dtype=bool)
    for c in grounded.constraints:
        for f in c.conjuncts:
            ok &= evaluate_batch(f, table)
    return ok


def all_assignments(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool).reshape(-1, n)


@pytest.mark.parametrize(
    "path, domains",
    [
        (TRANSITIVITY, {"Node": 3}),
        (EXACTLY_ONE, {"Class": 5}),
        (HIERARCHY, {}),
    ],
)
def test_model_count_equals_enumeration(path, domains):
    grounded = ground(ns.parse_file(path), domains)
    expected = int(satisfying_rows(grounded, all_assignments(len(grounded.atoms))).sum())
    assert ns.compile(path, domains, cache=False).model_count() == expected


def test_dseparation_counts_equal_enumeration_under_sampled_evidence():
    """33 atoms at Node=3 are too many to enumerate, so the observed atoms are fixed to sampled 0/1
    evidence and the 12 predicted atoms enumerated: the SDD conditioned on that evidence must count
    the same completions."""
    circuit = ns.compile(DSEPARATION, {"Node": 3}, cache=False)
    grounded = ground(ns.parse_file(DSEPARATION), {"Node": 3})
    observed, predicted = circuit.observed, circuit.predicted
    completions = all_assignments(len(predicted))
    rng = np.random.default_rng(0)
    samples = [np.zeros(len(observed), bool), np.ones(len(observed), bool)]
    samples += [rng.random(len(observed)) < rng.random() for _ in range(60)]
    for evidence in samples:
        table = np.zeros((len(completions), len(circuit)), dtype=bool)
        table[:, observed] = evidence
        table[:, predicted] = completions
        expected = int(satisfying_rows(grounded, table).sum())
        node = circuit.root
        for index, value in zip(observed, evidence):
            node = circuit.manager.condition(index + 1 if value else -(index + 1), node)
        assert node.global_model_count() == expected * 2 ** len(observed)


@pytest.mark.parametrize("nodes", [3, 4, 5])
def test_transitivity_counts_strict_partial_orders_with_their_edge_subsets(nodes):
    """Models = Σ over strict partial orders R on the nodes of 2^|R| (edge ⊆ causes, each edge free)."""
    pairs = [(x, y) for x in range(nodes) for y in range(nodes) if x != y]
    expected = 0
    for bits in itertools.product([0, 1], repeat=len(pairs)):
        rel = {p for p, b in zip(pairs, bits) if b}
        asymmetric = all((y, x) not in rel for x, y in rel)
        transitive = all((x, z) in rel for x, y in rel for y2, z in rel if y == y2 and x != z)
        if asymmetric and transitive:
            expected += 2 ** len(rel)
    assert ns.compile(TRANSITIVITY, {"Node": nodes}, cache=False).model_count() == expected


@pytest.mark.parametrize("n", [1, 2, 7, 30])
def test_exactly_one_has_n_models(n):
    circuit = ns.compile(EXACTLY_ONE, {"Class": n}, cache=False)
    assert circuit.model_count() == n
    assert circuit.variables == [f"label(c{i})" for i in range(n)]


@pytest.mark.parametrize(
    "options",
    [
        CompileOptions(),
        CompileOptions(order="min-fill", minimize="none"),
        CompileOptions(order="min-degree", vtree="right", conjoin="source"),
        CompileOptions(order="natural", minimize="dynamic", minimize_seconds=1),
    ],
)
def test_every_strategy_compiles_the_same_function(options):
    reference = ns.compile(
        TRANSITIVITY, {"Node": 4}, cache=False, options=CompileOptions(order="natural", minimize="none")
    )
    circuit = ns.compile(TRANSITIVITY, {"Node": 4}, cache=False, options=options)
    assert circuit.variables == reference.variables
    assert circuit.model_count() == reference.model_count()
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.integers(0, 2, len(circuit))
        assert circuit.satisfied_by(a) == reference.satisfied_by(a)


def test_atoms_exist_only_for_mentioned_tuples_in_canonical_order():
    circuit = ns.compile(TRANSITIVITY, {"Node": 3}, cache=False)
    assert "causes(n0,n0)" not in circuit.variables
    assert circuit.variables[:2] == ["edge(n0,n1)", "edge(n0,n2)"]
    assert [circuit.variables[i] for i in circuit.observed] == [v for v in circuit.variables if v.startswith("edge")]
    assert [circuit.variables[i] for i in circuit.predicted] == [v for v in circuit.variables if v.startswith("causes")]
    named = ns.compile(TRANSITIVITY, {"Node": ["A", "B"]}, cache=False)
    assert named.variables == ["edge(A,B)", "edge(B,A)", "causes(A,B)", "causes(B,A)"]


def test_set_domain_atoms_and_skipped_instances():
    grounded = ground(ns.parse_file(DSEPARATION), {"Node": 5})
    assert "dsep(n0,n1,{})" in grounded.names
    assert "dsep(n0,n1,{n2,n3})" in grounded.names
    assert not any(v.count(",") > 3 for v in grounded.names if v.startswith("dsep"))  # no 3-sets
    skipped = {c.name: c.skipped for c in grounded.constraints}
    # Z + y grows past max 2 when |Z| = 2: those instances are skipped, and counted
    assert skipped["contraction"] > 0
    assert skipped["symmetry"] == 0


def test_save_load_round_trip(tmp_path):
    circuit = ns.compile(DSEPARATION, {"Node": 3}, cache=False)
    folder = circuit.save(tmp_path / "dsep3")
    loaded = ns.load_circuit(folder)
    assert loaded.variables == circuit.variables
    assert loaded.observed == circuit.observed and loaded.predicted == circuit.predicted
    assert loaded.model_count() == circuit.model_count()
    assert loaded.size() == circuit.size()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["domains"]["Node"] == ["n0", "n1", "n2"]
    assert manifest["atoms"][0] == {"name": circuit.variables[0], "kind": "observed"}
    assert {"pysdd", "neurosym"} <= set(manifest["versions"])
    # the loaded artifact re-grounds its stored sources to name violated constraints
    assignment = [0] * len(loaded)
    assignment[loaded.index("adjacent(n0,n1)")] = 1
    assignment[loaded.index("dsep(n0,n1,{})")] = 1
    assert "adjacency" in loaded.violated_constraints(assignment)
    assert not loaded.satisfied_by(assignment)


@pytest.mark.parametrize(
    "text, meant, not_meant",
    [
        ("q and exists x in D: p(x) or r", "q and (exists x in D: (p(x) or r))", "(q and (exists x in D: p(x))) or r"),
        ("not exists x in D: p(x) or r", "not (exists x in D: (p(x) or r))", "(not (exists x in D: p(x))) or r"),
        ("q or forall x in D: p(x) and r", "q or (forall x in D: (p(x) and r))", "(q or (forall x in D: p(x))) and r"),
        (
            "q <-> exists x in D: p(x) and r",
            "q <-> (exists x in D: (p(x) and r))",
            "(q <-> (exists x in D: p(x))) and r",
        ),
        (
            "q xor at least 1 x in D: p(x) -> r",
            "q xor (at least 1 x in D: (p(x) -> r))",
            "(q xor (at least 1 x in D: p(x))) -> r",
        ),
    ],
)
def test_a_quantifier_right_of_a_connective_or_not_takes_the_rest_of_the_formula(text, meant, not_meant):
    def count(formula: str) -> int:
        source = f"domain D\npredicted p(D)\npredicted q\npredicted r\nconstraint c: {formula}\n"
        return ns.compile(ns.parse_string(source, name="t.ns"), {"D": 2}, cache=False).model_count()

    assert count(text) == count(meant) != count(not_meant)


def test_cache_reuses_unchanged_inputs_and_notices_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path / "c"))
    first = ns.compile(TRANSITIVITY, {"Node": 4})
    again = ns.compile(TRANSITIVITY, {"Node": 4})
    assert again.folder == first.folder and str(first.folder).startswith(str(tmp_path / "c"))
    assert again.manifest["source_hash"] == first.manifest["source_hash"]
    other_size = ns.compile(TRANSITIVITY, {"Node": 3})
    assert other_size.folder != first.folder
    edited = tmp_path / "transitivity.ns"
    edited.write_text(TRANSITIVITY.read_text() + "\n# a comment changes the hash\n")
    assert ns.compile(edited, {"Node": 4}).manifest["source_hash"] != first.manifest["source_hash"]
    # a damaged cache entry is rebuilt, not trusted
    (first.folder / "circuit.sdd").write_text("garbage")
    rebuilt = ns.compile(TRANSITIVITY, {"Node": 4})
    assert rebuilt.model_count() == first.model_count()
    # cache=False writes nothing to the cache
    before = sorted(p.name for p in (tmp_path / "c" / "circuits").iterdir())
    ns.compile(TRANSITIVITY, {"Node": 5}, cache=False)
    assert sorted(p.name for p in (tmp_path / "c" / "circuits").iterdir()) == before


def test_a_cache_hit_names_the_file_compiled_now(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROSYM_CACHE", str(tmp_path / "c"))
    copies = [tmp_path / name / "transitivity.ns" for name in ("first", "second")]
    for copy in copies:
        copy.parent.mkdir()
        copy.write_text(TRANSITIVITY.read_text())
    first = ns.compile(copies[0], {"Node": 3})
    second = ns.compile(copies[1], {"Node": 3}, output=tmp_path / "artifact")
    assert second.manifest["source_hash"] == first.manifest["source_hash"]  # the same cache entry
    saved = ns.load_circuit(tmp_path / "artifact")
    for circuit in (second, saved):
        assert circuit.manifest["source"] == str(copies[1])
        assert list(circuit.manifest["sources"]) == [str(copies[1])]
    assert ns.load_circuit(first.folder).manifest["source"] == str(copies[0])  # the entry itself is left as it was
    assert saved.ground_theory.names == saved.variables


def test_a_compile_that_missed_the_cache_keeps_the_entry_published_meanwhile(monkeypatch):
    """A sweep's workers start together, all miss the cache and compile: the first entry published
    stays in place (others may be reading it) and the later ones take it."""
    first = ns.compile(TRANSITIVITY, {"Node": 3})
    first.tensor_circuit()  # tensor.pt joins the entry
    entry, inode = first.folder, first.folder.stat().st_ino
    real, looked = build._from_cache, []

    def missed_once(folder):  # the cache looked empty to this process: it checked before `first` was published
        looked.append(folder)
        return None if len(looked) == 1 else real(folder)

    monkeypatch.setattr(build, "_from_cache", missed_once)
    late = ns.compile(TRANSITIVITY, {"Node": 3})
    assert entry.stat().st_ino == inode and (entry / "tensor.pt").is_file()
    assert late.folder == entry and late.model_count() == first.model_count()
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no staging or backup folder left


def test_save_without_replace_leaves_an_existing_folder_alone(tmp_path):
    three = ns.compile(EXACTLY_ONE, {"Class": 3}, cache=False)
    four = ns.compile(EXACTLY_ONE, {"Class": 4}, cache=False)
    folder = three.save(tmp_path / "labels")
    with pytest.raises(FileExistsError):
        four.save(folder, replace=False)
    assert ns.load_circuit(folder).model_count() == 3 and four.folder is None
    assert four.save(folder) == folder and ns.load_circuit(folder).model_count() == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels"]


def test_the_tensor_form_is_built_when_its_folder_can_no_longer_take_the_file(tmp_path):
    folder = ns.compile(EXACTLY_ONE, {"Class": 3}, cache=False).save(tmp_path / "labels")
    circuit = ns.load_circuit(folder)
    shutil.rmtree(folder)  # the cache was cleared while a process held the circuit
    assert len(circuit) == 3
    assert circuit.log_prob(torch.full((1, 3), 0.5)).exp().item() == pytest.approx(3 * 0.5**3)


def test_included_theory_compiles_like_the_merged_text(tmp_path):
    (tmp_path / "base.ns").write_text("domain Node\npredicted causes(Node, Node)\n")
    (tmp_path / "rules.ns").write_text(
        'include "base.ns"\nconstraint asym: forall x, y in Node where x != y: causes(x, y) -> not causes(y, x)\n'
    )
    merged = ns.parse_string(
        "domain Node\npredicted causes(Node, Node)\n"
        "constraint asym: forall x, y in Node where x != y: causes(x, y) -> not causes(y, x)\n"
    )
    a = ns.compile(tmp_path / "rules.ns", {"Node": 4}, cache=False)
    b = ns.compile(merged, {"Node": 4}, cache=False)
    assert a.variables == b.variables and a.model_count() == b.model_count() == 3**6
