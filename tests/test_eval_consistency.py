"""Exact violation checks on partial assignments, and consistency of reference predictors."""

import itertools
import random

import pytest

import neurosym as ns
from neurosym.causal import generate
from neurosym.eval.consistency import JOINT, ConstraintChecker, check_consistency
from neurosym.eval.predictors import ConstantPredictor, OraclePredictor
from neurosym.ground import formula as g
from neurosym.resources import constraint_path


@pytest.fixture(scope="module")
def transitivity():
    return ns.compile(constraint_path("causal/transitivity.ns"), {"Node": 3}, cache=False)


@pytest.fixture(scope="module")
def dseparation():
    return ns.compile(constraint_path("causal/dseparation.ns"), {"Node": 3}, cache=False)


def completions(circuit, known):
    """Every complete assignment that agrees with ``known`` (1-based), brute force."""
    free = [v for v in range(1, len(circuit.variables) + 1) if v not in known]
    for values in itertools.product([False, True], repeat=len(free)):
        full = {**known, **dict(zip(free, values))}
        yield [full[v] for v in range(1, len(circuit.variables) + 1)]


def test_complete_assignments_agree_with_the_sdd_and_the_named_constraints(transitivity):
    assignments = list(itertools.product([False, True], repeat=len(transitivity.variables)))
    results = ConstraintChecker(transitivity).check([{i + 1: v for i, v in enumerate(a)} for a in assignments])
    assert any(r.violated for r in results) and not all(r.violated for r in results)
    for values, result in zip(assignments, results):
        assert result.violated == (not transitivity.satisfied_by(values))
        assert result.constraints == transitivity.violated_constraints(values)


def test_partial_assignments_match_brute_force_over_completions(dseparation):
    rng = random.Random(0)
    checker = ConstraintChecker(dseparation)
    constraints = dseparation.ground_theory.constraints
    variables = range(1, len(dseparation.variables) + 1)
    knowns = [
        {v: rng.random() < 0.5 for v in rng.sample(variables, len(variables) - 8)}  # 8 unknown atoms
        for _ in range(40)
    ]
    violated_seen = 0
    for known, result in zip(knowns, checker.check(knowns)):
        full = list(completions(dseparation, known))
        assert result.violated == (not any(dseparation.satisfied_by(a) for a in full))
        if result.violated:
            violated_seen += 1
            alone = [
                c.name
                for c in constraints
                if not any(all(g.evaluate(f, lambda v, a=a: a[v - 1]) for f in c.conjuncts) for a in full)
            ]
            assert result.constraints == (alone or [JOINT])
    assert violated_seen > 5  # the comparison exercised the naming, not only satisfiable cases


@pytest.fixture(scope="module")
def questions():
    return generate("transitivity", "eval", 40, seed=3)


def test_the_oracle_never_violates_a_sound_theory(transitivity, dseparation, questions):
    report = check_consistency(OraclePredictor(), questions, transitivity, subsets=24, seed=0)
    assert report.subsets == 24 and report.violated == 0 and report.violation_rate == 0.0 and report.worst is None
    dsep = generate("dseparation", "eval", 24, seed=3)
    assert check_consistency(OraclePredictor(), dsep, dseparation, subsets=24).violated == 0


def test_always_yes_violates_asymmetry_of_causation(transitivity, questions):
    report = check_consistency(ConstantPredictor(True), questions, transitivity, subsets=24, seed=0)
    # "Yes" to both "Does a cause b?" and "Does b cause a?" breaks `asymmetric` on every full subset.
    assert report.violation_rate == 1.0
    assert report.by_constraint["asymmetric"] == 24 and report.worst == "asymmetric"
    assert report.prompts == 24 * 6  # the 6 ordered pairs of 3 nodes, each asked


def test_always_no_violates_direct_edges(transitivity, questions):
    report = check_consistency(ConstantPredictor(False), questions, transitivity, subsets=24, seed=0)
    # every sampled subset contains the query pair and a path between them, so an edge: `direct` fails
    assert report.violated == 24 and report.worst == "direct" and report.by_constraint["asymmetric"] == 0


def test_reports_pool_by_adding(transitivity, questions):
    a = check_consistency(ConstantPredictor(False), questions[:20], transitivity, subsets=8)
    b = check_consistency(ConstantPredictor(True), questions[20:], transitivity, subsets=8)
    pooled = (a + b).to_dict()
    assert pooled["subsets"] == 16 and pooled["violated"] == a.violated + b.violated
    assert pooled["by_constraint"]["direct"] == a.by_constraint["direct"] + b.by_constraint["direct"]
