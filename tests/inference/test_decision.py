"""The decision rule: label-conditional split conformal prediction (crepes) with its guarantee, stored and read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.inference.abstention import decide
from core.inference.decision import DecisionRule, error_reject_curve
from core.quality.result import QualityCheck

LABELS = ("unmethylated", "methylated")
PASS = QualityCheck("brain", None, "pass", 1500.0, "The brain measures 1500 ml.")


def _cohort(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities of a model with some signal: labels drawn as Bernoulli(p)."""
    rng = np.random.default_rng(seed)
    probabilities = 1 / (1 + np.exp(-rng.normal(0.0, 1.8, n)))
    return probabilities, (rng.random(n) < probabilities).astype(int)


def test_calls_are_made_at_the_extremes_and_none_in_the_middle() -> None:
    rule = DecisionRule.fit(*_cohort(400, 0), target_error=0.1)
    low, high = rule.call_region
    assert 0.0 < low < 0.5 < high < 1.0
    assert rule.call(low - 0.01).label == 0 and rule.call(high + 0.01).label == 1
    middle = rule.call((low + high) / 2)
    assert middle.label is None and "too close to the middle" in middle.reason
    assert f"unmethylated at {low:.2f} or below and methylated at {high:.2f} or above" in middle.reason


def test_the_wrong_call_rate_per_true_class_stays_within_the_target_error_on_fresh_cases() -> None:
    probabilities, labels = _cohort(3000, 2)
    wrong = []  # the guarantee holds on average over calibration sets: 30 of them
    for seed in range(30):
        called = DecisionRule.fit(*_cohort(200, 100 + seed), target_error=0.1).called(probabilities)
        wrong.append([np.mean(called[labels == truth] == 1 - truth) for truth in (0, 1)])
    assert np.all(np.mean(wrong, axis=0) <= 0.1 + 0.01), np.mean(wrong, axis=0)


def test_a_smaller_target_error_calls_fewer_studies() -> None:
    probabilities, labels = _cohort(400, 3)
    rule = DecisionRule.fit(probabilities, labels, target_error=0.1)
    strict, loose = error_reject_curve(rule, probabilities, labels, errors=(0.04, 0.1))
    assert strict["call_rate"] < loose["call_rate"] and strict["error_among_calls"] <= loose["error_among_calls"]


def test_abstained_studies_are_never_counted_as_calls() -> None:
    probabilities, labels = _cohort(100, 4)
    rule = DecisionRule.fit(probabilities, labels, target_error=0.1)
    everyone, = error_reject_curve(rule, probabilities, labels, errors=(0.1,))
    none, = error_reject_curve(rule, probabilities, labels, errors=(0.1,), abstained=[True] * 100)
    assert everyone["calls"] > 0 and none["calls"] == 0 and none["call_rate"] == 0.0


def test_the_rule_round_trips_through_the_model_folder_with_its_guarantee(tmp_path: Path) -> None:
    rule = DecisionRule.fit(*_cohort(300, 5), target_error=0.08, fitted_on="out-of-fold predictions")
    rule.write(tmp_path, [{"target_error": 0.08, "call_rate": 0.5, "error_among_calls": 0.1, "calls": 150}])
    read = DecisionRule.read(tmp_path)
    assert read is not None and read.call_region == rule.call_region and read.n == 300
    stored = json.loads((tmp_path / "decision.json").read_text())
    assert set(rule.to_json()) == {"rule", "target_error", "n", "guarantee", "calls_below", "calls_above"}
    assert stored["target_error"] == 0.08 and "at most 8% of the methylated" in stored["guarantee"]
    assert DecisionRule.stored_curve(tmp_path)[0]["call_rate"] == 0.5
    assert DecisionRule.read(tmp_path / "none") is None


def test_the_rule_not_the_interval_decides_the_label() -> None:
    rule = DecisionRule.fit(*_cohort(400, 6), target_error=0.1)
    low, high = rule.call_region
    straddling = (0.3, 0.99)  # the fold models disagree, but the rule's guarantee is about the probability
    assert decide(high + 0.01, straddling, 0.5, LABELS, (PASS,), None, rule).label == "methylated"
    middle = decide((low + high) / 2, (0.45, 0.55), 0.5, LABELS, (PASS,), None, rule)
    assert middle.label == "indeterminate" and not middle.abstained and "decision rule" in middle.reasons[0]


def test_a_rule_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        DecisionRule.fit([0.2, 0.3], [0, 0])
