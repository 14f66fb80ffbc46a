"""Fit a model folder's decision rule (``decision.json``) on held-out predictions of the served model: its
out-of-fold predictions (``oof.csv``: each training case predicted by the fold model that never saw it, calibrated
by the served map), or the predictions ``evaluate`` wrote for a cohort the served model never trained on, on whose
logits the calibration map is then fitted too."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.inference.decision import DecisionRule, error_reject_curve
from core.model.config import ModelConfig
from core.train.calibration import apply_calibration, fit_platt


def _logits_and_labels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        return np.array([float(r["logit"]) for r in rows]), np.array([int(r["MGMT_value"]) for r in rows])
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"'{path}' cannot be read as predictions with a logit and a label per case ({err}); expected "
                         "the oof.csv of `train` or the predictions.csv of `evaluate`.") from err


def fit_decision(folder: Path, target_error: float, predictions: Path | None = None,
                 cohort: str = "") -> DecisionRule:
    """The rule at ``target_error``, written with its error-reject curve; with ``predictions`` (evaluate's
    predictions.csv of the served model on ``cohort``), the calibration map in config.json is refitted on those
    logits first."""
    folder = Path(folder)
    logits, labels = _logits_and_labels(predictions or folder / "oof.csv")
    if predictions is None:
        calibration = ModelConfig.read(folder / "config.json").calibration.to_json()
        fitted_on = (f"out-of-fold predictions of the {len(labels)} training cases (each by the fold model that "
                     "never saw it), calibrated by the served map")
    else:
        where = cohort or predictions.parent.name
        calibration = {**fit_platt(logits, labels),
                       "fitted_on": f"the served model's logits on the {len(labels)} cases of {where}, which it "
                                    "never trained on"}
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "calibration": calibration}, indent=2))
        fitted_on = f"the served model's calibrated predictions on the {len(labels)} cases of {where}"
    probabilities = apply_calibration(logits, calibration)
    rule = DecisionRule.fit(probabilities, labels, target_error, fitted_on)
    rule.write(folder, error_reject_curve(rule, probabilities, labels))
    return rule
