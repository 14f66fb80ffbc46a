"""Fit a model folder's decision rule (``decision.json``) on its out-of-fold predictions (``oof.csv``): each
training case predicted by the fold model that never saw it, calibrated by the served map."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.inference.decision import DecisionRule, error_reject_curve
from core.model.config import ModelConfig
from core.train.calibration import apply_calibration


def fit_decision(folder: Path, target_error: float) -> DecisionRule:
    """The rule at ``target_error`` over the folder's out-of-fold logits, written with its error-reject curve."""
    folder = Path(folder)
    try:
        with open(folder / "oof.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        logits = np.array([float(r["logit"]) for r in rows])
        labels = np.array([int(r["MGMT_value"]) for r in rows])
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"'{folder / 'oof.csv'}' cannot be read as out-of-fold predictions ({err}); expected the "
                         "oof.csv that `python -m core train` writes.") from err
    calibration = ModelConfig.read(folder / "config.json").calibration.to_json()
    probabilities = apply_calibration(logits, calibration)
    rule = DecisionRule.fit(probabilities, labels, target_error,
                            f"out-of-fold predictions of the {len(labels)} training cases (each by the fold model "
                            "that never saw it), calibrated by the served map")
    rule.write(folder, error_reject_curve(rule, probabilities, labels))
    return rule
