"""Calibration: a Platt map (logistic regression of the label on the logit, scikit-learn) fitted on
out-of-fold logits, and the expected calibration error that judges it."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

ECE_BINS = 10
MIN_SLOPE = 1e-3
"""A calibration map keeps the model's ranking: its slope is at least this."""


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """``{"method": "platt", "slope": a, "intercept": b}``: calibrated logit = a * logit + b, fitted by
    (practically unpenalised) logistic regression of the labels on the logits."""
    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(np.asarray(logits, float).reshape(-1, 1), np.asarray(labels, int))
    slope, note = float(model.coef_[0, 0]), ""
    if slope < MIN_SLOPE:  # the logits do not rank the cases: keep their order, predict about the base rate
        slope, note = MIN_SLOPE, f" (fitted slope {slope:.3g} clipped to {MIN_SLOPE}: the logits carried no signal)"
    return {"method": "platt", "slope": slope, "intercept": float(model.intercept_[0]),
            "fitted_on": f"out-of-fold logits of {len(labels)} training cases{note}"}


def apply_calibration(logits: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    """Calibrated probabilities of uncalibrated logits."""
    z = np.asarray(logits, float) * float(calibration.get("slope", 1.0)) + float(calibration.get("intercept", 0.0))
    return 1.0 / (1.0 + np.exp(-z))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE over ``bins`` equal-width probability bins: sum over bins of (share of cases) x |mean predicted -
    observed frequency|."""
    labels, probabilities = np.asarray(labels, float), np.asarray(probabilities, float)
    if len(labels) == 0:
        return 0.0
    index = np.clip(np.digitize(probabilities, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(probabilities[members].mean() - labels[members].mean())
    return float(error)


def ece_of_a_calibrated_model(probabilities: np.ndarray, draws: int = 1000, seed: int = 0,
                              bins: int = ECE_BINS) -> float:
    """The ECE a perfectly calibrated model with these probabilities shows on average from sampling alone (labels
    drawn as Bernoulli(p), seeded): the floor an ECE measured on this many cases can be compared with."""
    probabilities = np.asarray(probabilities, float)
    rng = np.random.default_rng(seed)
    return float(np.mean([expected_calibration_error((rng.random(len(probabilities)) < probabilities).astype(int),
                                                     probabilities, bins) for _ in range(draws)]))


def cross_fitted(logits: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each fold's probabilities calibrated by a Platt map fitted on the other folds' logits (an out-of-sample
    picture of calibration on the training cohort; the plain map is fitted on all of them)."""
    logits, labels, folds = np.asarray(logits, float), np.asarray(labels, int), np.asarray(folds, int)
    out = np.empty(len(logits))
    for fold in np.unique(folds):
        here, rest = folds == fold, folds != fold
        if len(np.unique(labels[rest])) < 2:  # a map needs both classes: leave this fold's logits as they are
            out[here] = apply_calibration(logits[here], {})
            continue
        out[here] = apply_calibration(logits[here], fit_platt(logits[rest], labels[rest]))
    return out
