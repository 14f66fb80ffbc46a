"""The summary the Cohort page shows, computed from a cohort's rows (case, fold, label, probability) in the store."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.metrics import Metrics, calibration_curve, evaluate_predictions, roc_points


@dataclass(frozen=True)
class CohortSummary:
    """Counts, class balance and, when the cohort is labelled, metrics with the ROC and calibration curves."""

    n: int
    n_labelled: int
    n_methylated: int
    probabilities: np.ndarray
    labels: np.ndarray | None  # 0/1 of the labelled cases, aligned with ``probabilities`` (labelled only)
    metrics: Metrics | None
    roc: dict[str, list[float]] | None
    calibration: dict[str, list[float]] | None

    @property
    def methylated_fraction(self) -> float:
        return self.n_methylated / self.n_labelled if self.n_labelled else float("nan")


def summarise_cohort(cases: pd.DataFrame, threshold: float, rounds: int = 2000) -> CohortSummary:
    """Metrics of a cohort's predictions against its labels (AUC with a bootstrap 95% interval at ``rounds``)."""
    labelled = cases.dropna(subset=["label"])
    if len(labelled) and labelled["label"].nunique() == 2:
        labels = labelled["label"].to_numpy(int)
        probabilities = labelled["probability"].to_numpy(float)
        metrics = evaluate_predictions(labels, probabilities, threshold=threshold, rounds=rounds)
        return CohortSummary(len(cases), len(labelled), int(labels.sum()), probabilities, labels, metrics,
                             roc_points(labels, probabilities), calibration_curve(labels, probabilities))
    return CohortSummary(len(cases), len(labelled), int(labelled["label"].sum()) if len(labelled) else 0,
                         cases["probability"].to_numpy(float), None, None, None, None)
