"""Classification metrics with honest uncertainty: ROC AUC with a bootstrap 95% interval, Brier, calibration.

Neutral ground: training, evaluation, the store's cohort summaries and the pages all count the same way here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Confusion:
    """True/false positives and negatives when P(methylated) >= a threshold is called methylated."""

    tp: int
    tn: int
    fp: int
    fn: int

    @classmethod
    def at(cls, labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> Confusion:
        predicted = np.asarray(probabilities, float) >= threshold
        truth = np.asarray(labels).astype(bool)
        return cls(tp=int(np.sum(predicted & truth)), tn=int(np.sum(~predicted & ~truth)),
                   fp=int(np.sum(predicted & ~truth)), fn=int(np.sum(~predicted & truth)))

    @property
    def sensitivity(self) -> float:
        """Recall of the methylated class (0 when there is none)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def specificity(self) -> float:
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    def to_json(self) -> dict[str, int]:
        return {"tp": self.tp, "tn": self.tn, "fp": self.fp, "fn": self.fn}


@dataclass(frozen=True)
class Metrics:
    """Metrics of probabilities against binary labels at a threshold."""

    n: int
    auc: float
    auc_ci95: tuple[float, float]
    accuracy: float
    precision: float
    recall: float
    f1: float
    brier: float
    threshold: float
    confusion: dict[str, int]

    def to_json(self) -> dict:
        data = asdict(self)
        data["auc_ci95"] = list(self.auc_ci95)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Metrics:
        """The metrics as ``to_json`` wrote them (a model's config.json, a cohort); KeyError/TypeError if not."""
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        fields["auc_ci95"] = tuple(float(v) for v in fields["auc_ci95"])
        fields["confusion"] = {k: int(v) for k, v in fields["confusion"].items()}
        return cls(**fields)


def auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """ROC AUC (0.5 when only one class is present, where it is undefined)."""
    from sklearn.metrics import roc_auc_score  # scikit-learn loads in ~1 s: only when a curve is computed

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return 0.5
    return float(roc_auc_score(labels, probabilities))


def bootstrap_auc_interval(
    labels: np.ndarray, probabilities: np.ndarray, rounds: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile 95% interval of the AUC over case resamples (stratified, so each draw has both classes)."""
    labels, probabilities = np.asarray(labels), np.asarray(probabilities)
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(positives) == 0 or len(negatives) == 0:
        return (0.0, 1.0)
    draws = np.empty(rounds)
    for r in range(rounds):
        pos = probabilities[rng.choice(positives, len(positives))]
        neg = probabilities[rng.choice(negatives, len(negatives))]
        greater = (pos[:, None] > neg[None, :]).mean()
        ties = (pos[:, None] == neg[None, :]).mean()
        draws[r] = greater + 0.5 * ties
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def evaluate_predictions(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5, rounds: int = 2000
) -> Metrics:
    """All metrics the model card and ``evaluate`` report."""
    labels = np.asarray(labels).astype(int)
    probabilities = np.asarray(probabilities, float)
    confusion = Confusion.at(labels, probabilities, threshold)
    precision, recall = confusion.precision, confusion.sensitivity
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(
        n=len(labels),
        auc=auc(labels, probabilities),
        auc_ci95=bootstrap_auc_interval(labels, probabilities, rounds=rounds),
        accuracy=float((confusion.tp + confusion.tn) / len(labels)) if len(labels) else 0.0,
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        brier=float(np.mean((probabilities - labels) ** 2)) if len(labels) else 0.0,
        threshold=threshold,
        confusion=confusion.to_json(),
    )


def calibration_curve(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Reliability curve: mean predicted probability and observed frequency per equal-width bin (non-empty)."""
    labels, probabilities = np.asarray(labels, float), np.asarray(probabilities, float)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    predicted, observed, counts = [], [], []
    for b in range(bins):
        members = index == b
        if members.any():
            predicted.append(float(probabilities[members].mean()))
            observed.append(float(labels[members].mean()))
            counts.append(int(members.sum()))
    return {"predicted": predicted, "observed": observed, "count": counts}


def roc_points(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, list[float]]:
    """False and true positive rates of the ROC curve."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(labels), np.asarray(probabilities))
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
