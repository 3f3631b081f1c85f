"""Metrics and the collapse verdict, against hand-computed values and reference predictors."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neurosym.errors import DataError
from neurosym.eval import binary_metrics, collapse_verdict, premise_auc, roc_auc, wilson_interval
from neurosym.eval.predictors import CoinPredictor, ConstantPredictor

MONITOR_KEYS = {"accuracy", "balanced_accuracy", "mcc", "yes_rate", "label_yes_rate", "recall_yes", "recall_no"}


def labels(yes: int, no: int) -> list[bool]:
    return [True] * yes + [False] * no


def from_counts(tp: int, fn: int, fp: int, tn: int):
    gold = labels(tp + fn, fp + tn)
    pred = labels(tp, fn) + labels(fp, tn)
    return binary_metrics(gold, pred)


def test_small_confusion_matrix_by_hand():
    m = from_counts(tp=3, fn=1, fp=2, tn=4)
    d = m.to_dict()
    assert MONITOR_KEYS <= set(d)
    assert d["confusion"] == {"tp": 3, "fn": 1, "fp": 2, "tn": 4}
    assert d["accuracy"] == pytest.approx(7 / 10)
    assert d["recall_yes"] == pytest.approx(3 / 4)
    assert d["recall_no"] == pytest.approx(4 / 6)
    assert d["balanced_accuracy"] == pytest.approx((3 / 4 + 4 / 6) / 2)
    assert d["precision_yes"] == pytest.approx(3 / 5)
    assert d["precision_no"] == pytest.approx(4 / 5)
    assert d["f1_yes"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))  # 2TP / (2TP + FP + FN)
    assert d["f1_no"] == pytest.approx(2 * 4 / (2 * 4 + 1 + 2))
    assert d["mcc"] == pytest.approx((3 * 4 - 2 * 1) / math.sqrt(5 * 5 * 4 * 6))
    assert d["yes_rate"] == pytest.approx(5 / 10) and d["label_yes_rate"] == pytest.approx(4 / 10)
    assert d["intervals"]["accuracy"] == pytest.approx(list(wilson_interval(7, 10)))


def test_order_of_pairs_does_not_matter_only_the_pairs():
    gold = [True, False, True, True, False, False, True]
    pred = [True, True, False, True, False, True, True]
    shuffled = list(zip(gold, pred))[::-1]
    assert binary_metrics(gold, pred) == binary_metrics([g for g, _ in shuffled], [p for _, p in shuffled])


def test_mcc_is_symmetric_in_the_classes_and_perfect_inverse_is_minus_one():
    assert from_counts(5, 0, 0, 5).mcc == pytest.approx(1.0)
    assert from_counts(0, 5, 5, 0).mcc == pytest.approx(-1.0)
    assert from_counts(3, 1, 2, 4).mcc == pytest.approx(from_counts(4, 2, 1, 3).mcc)  # Yes and No swapped


@pytest.mark.parametrize(
    "successes, n, low, high",
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_the_textbook(successes, n, low, high):
    lo, hi = wilson_interval(successes, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_wilson_interval_edge_cases():
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and 0.65 < lo < 0.75
    with pytest.raises(DataError, match="successes"):
        wilson_interval(11, 10)


def test_length_mismatch_is_a_data_error():
    with pytest.raises(DataError, match="3 gold labels but 2 predictions"):
        binary_metrics([True, False, True], [True, False])


def test_empty_set_has_undefined_rates_and_no_verdict():
    m = binary_metrics([], [])
    d = m.to_dict()
    assert d["n"] == 0 and d["accuracy"] is None and d["balanced_accuracy"] is None and d["yes_rate"] is None
    assert d["mcc"] == 0.0 and d["intervals"]["accuracy"] is None
    verdict = collapse_verdict(m)
    assert not verdict.collapsed and verdict.status == "undetermined" and verdict.notes


def test_one_class_labels_balanced_accuracy_over_the_class_present():
    right = from_counts(tp=0, fn=0, fp=0, tn=10)  # every label No, every answer No
    assert right.balanced_accuracy == 1.0 and right.recall_yes is None and right.mcc == 0.0
    assert right.precision_yes is None and right.f1_yes is None
    verdict = collapse_verdict(right)
    assert not verdict.collapsed and verdict.status == "undetermined"
    assert "every label is No" in verdict.notes[0]
    wrong = from_counts(tp=0, fn=0, fp=10, tn=0)  # every label No, every answer Yes
    assert wrong.balanced_accuracy == 0.0
    assert collapse_verdict(wrong).collapsed


def test_never_predicting_a_class_gives_undefined_precision_zero_recall():
    m = from_counts(tp=0, fn=4, fp=0, tn=6)
    assert m.precision_yes is None and m.recall_yes == 0.0 and m.f1_yes is None
    assert m.f1_no == pytest.approx(2 * 6 / (2 * 6 + 4))


BALANCED = [i % 2 == 0 for i in range(400)]


@pytest.mark.parametrize("yes", [True, False])
def test_constant_predictors_collapse_on_a_balanced_set(yes):
    pred = [p > 0.5 for p in ConstantPredictor(yes).predict([""] * 400, [""] * 400)]
    m = binary_metrics(BALANCED, pred)
    assert (m.accuracy, m.balanced_accuracy, m.mcc) == (0.5, 0.5, 0.0)
    assert m.yes_rate == (1.0 if yes else 0.0)
    verdict = collapse_verdict(m)
    assert verdict.collapsed and verdict.status == "collapsed"
    assert any(f"answers {'Yes' if yes else 'No'} to 100.0%" in r for r in verdict.reasons)
    assert any(r.startswith("no signal") for r in verdict.reasons)


def test_an_inverted_model_is_called_inverted_not_collapsed():
    """Balanced accuracy 0.1, MCC −0.8: a signal, backwards; flagged, with a reason that says so."""
    m = from_counts(tp=20, fn=180, fp=180, tn=20)
    assert m.balanced_accuracy == pytest.approx(0.1) and m.mcc == pytest.approx(-0.8)
    verdict = collapse_verdict(m)
    assert verdict.inverted and not verdict.collapsed and verdict.flagged and verdict.status == "inverted"
    assert verdict.reasons[0].startswith("inverted: MCC -0.800")
    assert verdict.to_dict()["flagged"] and verdict.to_dict()["status"] == "inverted"
    slightly_below_chance = collapse_verdict(from_counts(tp=90, fn=110, fp=110, tn=90))  # MCC −0.1
    assert slightly_below_chance.collapsed and slightly_below_chance.reasons[0].startswith("no signal")


def test_the_seed_papers_always_no_model_is_caught_despite_high_accuracy():
    gold = labels(20, 80)  # an 80%-No test set
    m = binary_metrics(gold, [False] * 100)
    assert m.accuracy == 0.8 and m.balanced_accuracy == 0.5 and m.recall_yes == 0.0
    verdict = collapse_verdict(m)
    assert verdict.collapsed
    assert verdict.reasons == [
        "no signal: MCC 0.000 < 0.05 and balanced accuracy 0.500 < 0.55"
    ]  # not rule 1: unbalanced


def test_a_fair_coin_has_no_signal():
    gold = [i % 2 == 0 for i in range(4000)]
    pred = [p > 0.5 for p in CoinPredictor(seed=7).predict([""] * 4000, [""] * 4000)]
    m = binary_metrics(gold, pred)
    assert abs(m.balanced_accuracy - 0.5) < 0.03 and abs(m.mcc) < 0.05 and abs(m.yes_rate - 0.5) < 0.03
    verdict = collapse_verdict(m)
    assert verdict.collapsed and verdict.reasons[0].startswith("no signal")


def test_an_oracle_and_a_good_model_on_an_unbalanced_set_are_not_collapsed():
    oracle = binary_metrics(BALANCED, BALANCED)
    assert (oracle.accuracy, oracle.balanced_accuracy, oracle.mcc) == (1.0, 1.0, 1.0)
    assert collapse_verdict(oracle).status == "ok"
    # 70% Yes labels, a model that says Yes to 96%: one answer dominates, but the set is not balanced
    # and the answers carry signal (MCC 280 / sqrt(96·4·70·30) ≈ 0.31), so neither rule fires.
    leaning = from_counts(tp=70, fn=0, fp=26, tn=4)
    assert leaning.yes_rate == pytest.approx(0.96) and leaning.mcc == pytest.approx(280 / math.sqrt(96 * 4 * 70 * 30))
    assert not collapse_verdict(leaning).collapsed


def pairwise_auc(gold, scores) -> float:
    """The definition: over every (Yes, No) pair, 1 if the Yes question scores higher, ½ on a tie."""
    yes = [s for g, s in zip(gold, scores) if g]
    no = [s for g, s in zip(gold, scores) if not g]
    return sum((a > b) + (a == b) / 2 for a in yes for b in no) / (len(yes) * len(no))


def test_roc_auc_by_hand_with_a_tie():
    # pairs (Yes, No): (0.9, 0.1) 1, (0.9, 0.4) 1, (0.4, 0.1) 1, (0.4, 0.4) ½ → 3.5 / 4
    assert roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.4]) == 0.875


@given(
    st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 0.2, 0.5, 0.5000001, 0.9, 1.0])), min_size=2, max_size=60)
)
def test_roc_auc_is_the_share_of_yes_no_pairs_ranked_right(pairs):
    gold, scores = [g for g, _ in pairs], [s for _, s in pairs]
    if all(gold) or not any(gold):
        assert roc_auc(gold, scores) is None
    else:
        assert roc_auc(gold, scores) == pytest.approx(pairwise_auc(gold, scores))


def test_premise_auc_by_hand():
    # premise a: (Yes 0.9, No 0.6) 1, (Yes 0.5, No 0.6) 0; premise b: (Yes 0.2, No 0.2) ½; premise c has no No question
    gold = [True, True, False, True, False, True]
    scores = [0.9, 0.5, 0.6, 0.2, 0.2, 0.99]
    premises = ["a", "a", "a", "b", "b", "c"]
    assert premise_auc(gold, scores, premises) == 0.5  # (1 + 0 + ½) / 3 pairs
    assert roc_auc(gold, scores) == 5.5 / 8  # across premises the same answers rank 5½ of 8 pairs right
    assert premise_auc([True, False], [0.3, 0.7], ["a", "b"]) is None  # no premise with both answers
    with pytest.raises(DataError, match="2 gold labels, 2 scores and 1 premises"):
        premise_auc([True, False], [0.5, 0.5], ["a"])


@given(st.lists(st.tuples(st.booleans(), st.sampled_from([0.0, 0.2, 0.5, 0.9]), st.sampled_from("abc")), max_size=40))
def test_premise_auc_is_the_share_of_pairs_within_a_premise_ranked_right(rows):
    pairs = [
        (yes[1] > no[1]) + (yes[1] == no[1]) / 2
        for yes in rows
        if yes[0]
        for no in rows
        if not no[0] and no[2] == yes[2]
    ]
    result = premise_auc(*zip(*rows)) if rows else premise_auc([], [], [])
    assert result == (pytest.approx(sum(pairs) / len(pairs)) if pairs else None)


def test_premise_auc_sees_a_model_that_reads_only_the_premise():
    # P(Yes) set by the premise alone: it ranks well across premises whose questions lean one way,
    # and not at all within a premise
    gold = [True, True, False, False, True, False, False, False]
    premises = ["a", "a", "a", "a", "b", "b", "b", "b"]
    by_premise = [0.8 if p == "a" else 0.2 for p in premises]
    assert roc_auc(gold, by_premise) == pytest.approx(9.5 / 15)
    assert premise_auc(gold, by_premise, premises) == 0.5


def test_roc_auc_tells_a_slid_threshold_from_no_signal():
    gold = BALANCED
    ranked_low = [0.3 if g else 0.1 for g in gold]  # every answer No, yet every Yes question ranked higher
    assert binary_metrics(gold, [p > 0.5 for p in ranked_low]).balanced_accuracy == 0.5
    assert roc_auc(gold, ranked_low) == 1.0
    assert roc_auc(gold, [1 - p for p in ranked_low]) == 0.0
    assert roc_auc(gold, ConstantPredictor(False).predict([""] * 400, [""] * 400)) == 0.5
    assert abs(roc_auc(gold, CoinPredictor(seed=3).predict([""] * 400, [""] * 400)) - 0.5) < 0.07
    assert roc_auc([True, True], [0.2, 0.8]) is None and roc_auc([], []) is None
    with pytest.raises(DataError, match="2 gold labels but 1 scores"):
        roc_auc([True, False], [0.5])


def test_dominant_answer_threshold_is_inclusive_at_95_percent():
    # 100 balanced questions, 95 Yes answers: rule 1 fires exactly at the threshold.
    at = from_counts(tp=50, fn=0, fp=45, tn=5)
    assert at.yes_rate == 0.95
    assert any("answers Yes to 95.0%" in r for r in collapse_verdict(at).reasons)
    below = from_counts(tp=50, fn=0, fp=44, tn=6)
    assert not any(r.startswith("answers") for r in collapse_verdict(below).reasons)


def test_a_model_with_nan_weights_is_an_error_not_a_row_of_no_answers():
    import torch

    from neurosym.eval.predictors import HeadPredictor
    from neurosym.model import YesNoHead, tiny_gemma3

    model, tokenizer = tiny_gemma3()
    predictor = HeadPredictor(YesNoHead(model, tokenizer), batch_size=2, name="broken")
    premises, questions = ["A causes B.", "B causes C."], ["Does A cause B?", "Does C cause B?"]
    assert all(0 < p < 1 for p in predictor.predict(premises, questions))
    with torch.no_grad():
        model.model.norm.weight[0] = float("nan")
    with pytest.raises(DataError, match="'broken' gave a non-finite P\\(Yes\\) for 2 of 2"):
        predictor.predict(premises, questions)


def test_a_value_just_below_a_threshold_does_not_print_as_the_threshold():
    m = from_counts(tp=38, fn=10, fp=36, tn=12)  # the demo's untuned model: MCC 0.0498, balanced accuracy 0.521
    assert 0.0495 < m.mcc < 0.05
    reason = collapse_verdict(m).reasons[0]
    assert reason.startswith(f"no signal: MCC {m.mcc:.4f} < 0.05 and balanced accuracy 0.521 < 0.55")
