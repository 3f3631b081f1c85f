"""λ(t) schedules: each schedule's values, and the adaptive rule's reaction to dev figures."""

from __future__ import annotations

import pytest

from neurosym.errors import DataError
from trainer.config import LambdaConfig, load_config
from trainer.schedules import LambdaSchedule, lr_factor


def _values(total: int = 11, **fields) -> list[float]:
    schedule = LambdaSchedule(LambdaConfig(**fields), total)
    return [schedule(step) for step in range(total)]


def test_constant_is_start_throughout():
    assert _values(schedule="constant", start=0.2) == [0.2] * 11


def test_linear_goes_from_the_papers_start_to_end():
    values = _values(schedule="linear", start=0.05, end=0.30)
    assert values[0] == pytest.approx(0.05) and values[-1] == pytest.approx(0.30)
    assert values[5] == pytest.approx(0.175)
    assert all(b - a == pytest.approx(0.025) for a, b in zip(values, values[1:]))


def test_cosine_is_a_half_cosine_from_start_to_end():
    values = _values(schedule="cosine", start=0.0, end=1.0)
    assert values[0] == pytest.approx(0.0) and values[-1] == pytest.approx(1.0)
    assert values[5] == pytest.approx(0.5)
    assert values[1] == pytest.approx(0.5 - 0.5 * 0.9510565162951535)  # cos(π/10)
    assert values == sorted(values)


def test_warmup_hold_ramps_from_zero_then_holds():
    values = _values(schedule="warmup_hold", end=0.4, warmup_steps=4)
    assert values[:5] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert values[5:] == pytest.approx([0.4] * 6)
    assert _values(schedule="warmup_hold", end=0.4, warmup_steps=0) == pytest.approx([0.4] * 11)


def test_adaptive_raises_on_drift_and_decays_on_recovery():
    schedule = LambdaSchedule(
        LambdaConfig(
            schedule="adaptive", start=0.1, up=2.0, down=0.5, max=0.3, yes_rate_band=0.15, violation_rise=0.05
        ),
        total_steps=100,
    )
    assert schedule(0) == pytest.approx(0.1)
    schedule.observe(yes_rate=0.9, label_yes_rate=0.5, violation_rate=0.2)  # drift toward always-Yes
    assert schedule(10) == pytest.approx(0.2)
    schedule.observe(yes_rate=0.55, label_yes_rate=0.5, violation_rate=0.3)  # violations rose by 0.1
    assert schedule(20) == pytest.approx(0.3)  # 0.4, capped at max
    schedule.observe(yes_rate=0.5, label_yes_rate=0.5, violation_rate=0.3)  # healthy
    assert schedule(30) == pytest.approx(0.15)
    schedule.observe(yes_rate=0.5, label_yes_rate=0.5, violation_rate=0.2)
    schedule.observe(yes_rate=0.5, label_yes_rate=0.5, violation_rate=0.2)
    assert schedule(40) == pytest.approx(0.1)  # floored at start

    restored = LambdaSchedule(schedule.config, 100)
    restored.load_state_dict(schedule.state_dict())
    assert restored(50) == schedule(50) and restored.last_violation == schedule.last_violation


def test_against_pull_raises_only_when_the_term_pulls_back():
    config = LambdaConfig(schedule="adaptive", start=0.1, up=2.0, down=0.5, max=1.0, yes_drift="against_pull")
    schedule = LambdaSchedule(config, total_steps=100)
    schedule.observe(yes_rate=0.1, label_yes_rate=0.5, violation_rate=0.5, pull=0.02)  # No-drift, pulled to Yes
    assert schedule(10) == pytest.approx(0.2)
    schedule.observe(yes_rate=0.0, label_yes_rate=0.5, violation_rate=0.5, pull=-0.02)  # pulled further to No
    assert schedule(20) == pytest.approx(0.1)
    schedule.observe(yes_rate=0.9, label_yes_rate=0.5, violation_rate=0.5, pull=-0.02)  # Yes-drift, pulled to No
    assert schedule(30) == pytest.approx(0.2)
    schedule.observe(yes_rate=0.5, label_yes_rate=0.5, violation_rate=0.7, pull=-0.02)  # violations rose
    assert schedule(40) == pytest.approx(0.4)
    any_drift = LambdaSchedule(config.model_copy(update={"yes_drift": "any"}), total_steps=100)
    any_drift.observe(yes_rate=0.0, label_yes_rate=0.5, violation_rate=0.5, pull=-0.02)
    assert any_drift(10) == pytest.approx(0.2)  # the rule up to now: any drift raises λ


def test_fixed_schedules_ignore_dev_figures():
    schedule = LambdaSchedule(LambdaConfig(schedule="linear"), 11)
    before = [schedule(s) for s in range(11)]
    schedule.observe(yes_rate=1.0, label_yes_rate=0.5, violation_rate=0.9)
    assert [schedule(s) for s in range(11)] == before


def test_learning_rate_warms_up_then_holds_or_decays_to_its_floor():
    assert [lr_factor(s, 4, 20, "constant", 0.1) for s in (0, 1, 3, 4, 19)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    linear = [lr_factor(s, 4, 20, "linear", 0.1) for s in (4, 12, 20, 30)]
    assert linear == pytest.approx([1.0, 0.55, 0.1, 0.1])
    cosine = [lr_factor(s, 0, 10, "cosine", 0.0) for s in range(11)]
    assert cosine[0] == 1.0 and cosine[5] == pytest.approx(0.5) and cosine[10] == pytest.approx(0.0)
    assert all(a > b for a, b in zip(cosine, cosine[1:]))


def test_patience_needs_the_best_check_kept():
    with pytest.raises(DataError, match="eval.patience .* needs eval.select: best"):
        load_config(None, ["eval.patience=3"])
    assert load_config(None, ["eval.patience=3", "eval.select=best"]).eval.patience == 3
