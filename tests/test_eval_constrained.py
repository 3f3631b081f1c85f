"""Constrained prediction: the circuit's MPE answers each question jointly with its neighbours."""

import pytest

import neurosym as ns
from neurosym.causal import generate
from neurosym.eval import binary_metrics
from neurosym.eval.constrained import constrained_answers
from neurosym.eval.predictors import ConstantPredictor, OraclePredictor
from neurosym.resources import constraint_path


class Leaning:
    """A soft collapsed model: P(Yes) = 0.2 for every question."""

    name = "leaning-no"

    def predict(self, premises, questions):
        return [0.2] * len(questions)


@pytest.fixture(scope="module")
def setting():
    circuit = ns.compile(constraint_path("causal/transitivity.ns"), {"Node": 3}, cache=False)
    return circuit, generate("transitivity", "eval", 60, seed=9)


def gold(questions):
    return [q.truth for q in questions]


def test_the_oracle_keeps_its_answers(setting):
    circuit, questions = setting
    found = constrained_answers(OraclePredictor(), questions, gold(questions), circuit)
    assert found.joint == len(questions) and found.answers == gold(questions)
    assert found.prompts == 6 * len(questions)  # every ordered pair of the 3 nodes is asked


def test_the_constraints_pull_a_leaning_model_towards_the_graph(setting):
    circuit, questions = setting
    own = [False] * len(questions)
    found = constrained_answers(Leaning(), questions, own, circuit)
    plain = binary_metrics(gold(questions), own)
    joint = binary_metrics(gold(questions), found.answers)
    # every direct edge among the subset's nodes forces its "causes" atom Yes, so the Yes answers
    # appear where the premise states them, and never where the graph says No
    assert joint.recall_yes > 0.3 and joint.recall_no == 1.0
    assert joint.balanced_accuracy > plain.balanced_accuracy == 0.5


def test_saturated_answers_are_overruled_not_dropped(setting):
    circuit, questions = setting
    found = constrained_answers(ConstantPredictor(False), questions, [False] * len(questions), circuit)
    assert found.joint == len(questions)  # P(Yes) = 0 exactly is clipped, so the MPE is still defined
    assert any(found.answers)
