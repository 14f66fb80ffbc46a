"""Metric functions agree with scikit-learn; the bootstrap interval holds the estimate and narrows with n."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score

from core.metrics import bootstrap_auc_interval, calibration_curve, evaluate_predictions

LABELS = np.array([0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1])
PROBS = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.55, 0.7, 0.3, 0.45, 0.65])


def test_metrics_agree_with_scikit_learn() -> None:
    metrics = evaluate_predictions(LABELS, PROBS, threshold=0.5)
    predicted = (PROBS >= 0.5).astype(int)
    assert metrics.auc == pytest.approx(roc_auc_score(LABELS, PROBS))
    assert metrics.accuracy == pytest.approx(accuracy_score(LABELS, predicted))
    assert metrics.precision == pytest.approx(precision_score(LABELS, predicted))
    assert metrics.recall == pytest.approx(recall_score(LABELS, predicted))
    assert metrics.f1 == pytest.approx(f1_score(LABELS, predicted))
    assert metrics.brier == pytest.approx(brier_score_loss(LABELS, PROBS))
    assert metrics.confusion == {"tp": 5, "tn": 4, "fp": 1, "fn": 2}
    assert metrics.n == 12


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_cases() -> None:
    rng = np.random.default_rng(1)

    def cohort(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 2, n)
        return labels, rng.normal(labels * 1.0, 1.0)

    small, large = cohort(60), cohort(2000)
    intervals = [bootstrap_auc_interval(*c, rounds=500) for c in (small, large)]
    for (labels, scores), (low, high) in zip((small, large), intervals, strict=True):
        assert low <= roc_auc_score(labels, scores) <= high
    assert intervals[1][1] - intervals[1][0] < 0.5 * (intervals[0][1] - intervals[0][0])


def test_calibration_curve_bins_the_probabilities() -> None:
    curve = calibration_curve(np.array([0, 1, 1, 1]), np.array([0.05, 0.15, 0.95, 0.92]), bins=10)
    assert curve["predicted"] == pytest.approx([0.05, 0.15, 0.935])
    assert curve["observed"] == [0.0, 1.0, 1.0] and curve["count"] == [1, 1, 2]
