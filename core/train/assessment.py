"""What ``evaluate`` measures beyond the classification metrics: AUC with sequences missing, segmentation
Dice against label maps, the latent-score ceiling of the same cases, and calibration before and after."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core import SEQUENCES
from core.errors import InputError
from core.metrics import auc, bootstrap_auc_interval
from core.scoring.results import CaseResult
from core.train.calibration import ece_of_a_calibrated_model, expected_calibration_error

if TYPE_CHECKING:
    from core.inference import Predictor


def parse_without(text: str | None) -> tuple[str, ...]:
    """``--without FLAIR,T2w`` -> ("FLAIR", "T2w"); InputError for an unknown name or all four."""
    if not text:
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in SEQUENCES]
    if unknown:
        raise InputError(f"--without names {', '.join(unknown)}; expected sequences from {', '.join(SEQUENCES)} "
                         "separated by commas.")
    if len(names) >= len(SEQUENCES):
        raise InputError(f"--without names all {len(SEQUENCES)} sequences; expected at least one left.")
    return names


def missing_combinations() -> list[tuple[str, ...]]:
    """None missing, each one missing, each two-missing pair (11 settings)."""
    return [()] + [(s,) for s in SEQUENCES] + list(combinations(SEQUENCES, 2))


def describe(missing: tuple[str, ...]) -> str:
    return "all four" if not missing else "without " + " and ".join(missing)


@dataclass
class Collected:
    """Per-case results gathered by ``evaluate``: probabilities per missing-sequence setting, uncalibrated
    logits, Dice per region, and the label and abstention served."""

    labels: list[int] = field(default_factory=list)
    probabilities: dict[tuple[str, ...], list[float]] = field(default_factory=dict)
    logits: list[float] = field(default_factory=list)
    dice: list[dict[str, float]] = field(default_factory=list)
    served: list[str] = field(default_factory=list)  # the label ``predict`` answers
    abstained: list[bool] = field(default_factory=list)

    def add(self, missing: tuple[str, ...], probability: float) -> None:
        self.probabilities.setdefault(missing, []).append(probability)


def auc_table(labels: list[int], probabilities: dict[tuple[str, ...], list[float]],
              reference: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """AUC with its bootstrap interval for each setting, and its ratio to the ``reference`` setting's AUC."""
    base = auc(np.array(labels), np.array(probabilities[reference])) if reference in probabilities else None
    rows = []
    for missing, values in probabilities.items():
        value = auc(np.array(labels), np.array(values))
        low, high = bootstrap_auc_interval(np.array(labels), np.array(values))
        rows.append({"missing": list(missing), "setting": describe(missing), "auc": value, "auc_ci95": [low, high],
                     "ratio_to_all_four": None if not base else value / base})
    return rows


def dice_summary(dice: list[dict[str, float]]) -> dict[str, Any]:
    """Median (and quartiles) of Dice per region over the cases that have a label map."""
    if not dice:
        return {"n": 0}
    summary: dict[str, Any] = {"n": len(dice)}
    for region in dice[0]:
        values = np.array([d[region] for d in dice])
        summary[region] = {"median": float(np.median(values)), "q25": float(np.percentile(values, 25)),
                           "q75": float(np.percentile(values, 75))}
    return summary


def latent_auc(truth: Path, case_ids: list[str], labels: list[int]) -> dict[str, Any] | None:
    """AUC of the synthetic generator's latent score on the same cases (the ceiling of any image model), when
    the data folder has a truth.csv."""
    if not truth.is_file():
        return None
    with open(truth, newline="") as handle:
        scores = {f"{int(r['BraTS21ID']):05d}": float(r["latent_score"]) for r in csv.DictReader(handle)}
    if not all(c in scores for c in case_ids):
        return None
    values = np.array([scores[c] for c in case_ids])
    low, high = bootstrap_auc_interval(np.array(labels), values)
    return {"auc": auc(np.array(labels), values), "auc_ci95": [low, high], "n": len(case_ids)}


def calibration_summary(labels: list[int], logits: list[float], calibrated: list[float]) -> dict[str, Any]:
    """Brier and ECE of the uncalibrated sigmoid(logit) and of the calibrated probabilities."""
    y = np.array(labels, float)
    raw = 1.0 / (1.0 + np.exp(-np.array(logits, float)))
    fitted = np.array(calibrated, float)
    return {"before": {"brier": float(np.mean((raw - y) ** 2)), "ece": expected_calibration_error(y, raw)},
            "after": {"brier": float(np.mean((fitted - y) ** 2)), "ece": expected_calibration_error(y, fitted),
                      "ece_if_perfectly_calibrated": ece_of_a_calibrated_model(fitted)}}


def assess_case(predictor: Predictor, case: str, folder: Path, *, settings: tuple[tuple[str, ...], ...],
                masks: Path | None) -> CaseResult:
    """``evaluate``'s work on one study, for any scoring engine: the served answer for the first missing-sequence
    setting (``predict``'s path: probability, label, abstention), one model pass per further setting on the same
    preprocessing, and the Dice of its segmentation when the case has a label map."""
    from core.ingest import load_study
    from core.train.masks import mask_on_grid, mask_path, region_dice

    try:
        served = predictor.predict(load_study(folder), with_cam=False, missing=settings[0], with_contributions=False)
    except InputError as err:
        return CaseResult.failed(case, err.user_message)
    first, prepared = served.result, served.artefacts.prepared
    probabilities = [(settings[0], first.probability)]
    probabilities += [(missing, predictor.assess(prepared, missing).probability) for missing in settings[1:]]
    label_file = mask_path(masks, case) if masks else None
    segmentation = served.artefacts.segmentation
    dice = region_dice(segmentation, mask_on_grid(label_file, prepared.grid)) if label_file else None
    return CaseResult(case, first.probability, first.label, abstained=first.abstained,
                      details={"logit": served.artefacts.logit, "probabilities": probabilities, "dice": dice})


def calls_summary(labels: list[int], served: list[str], names: tuple[str, str]) -> dict[str, Any]:
    """How many studies got a call (methylated or unmethylated, neither abstained nor indeterminate) and how many
    of those calls were right."""
    truth = np.array(labels, int)
    called = np.array([label in names for label in served])
    right = np.array([label == names[y] for label, y in zip(served, truth, strict=True)])
    calls = int(called.sum())
    return {"call_rate": calls / len(truth) if len(truth) else 0.0,
            "accuracy_among_calls": float(right[called].mean()) if calls else None, "calls": calls}


def recalibration(labels: list[int], probabilities: list[float]) -> dict[str, float]:
    """Logistic recalibration (Cox): the intercept and slope of the label regressed on logit(probability); a
    calibrated model gives 0 and 1."""
    from sklearn.linear_model import LogisticRegression

    p = np.clip(np.asarray(probabilities, float), 1e-6, 1 - 1e-6)
    model = LogisticRegression(C=1e6, max_iter=1000).fit(np.log(p / (1 - p)).reshape(-1, 1), np.asarray(labels, int))
    return {"intercept": float(model.intercept_[0]), "slope": float(model.coef_[0, 0])}
