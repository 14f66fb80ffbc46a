"""The decision rule: label-conditional split conformal prediction (crepes) on the calibrated probability, fitted
on out-of-sample predictions of the served models (the out-of-fold predictions of the fold models) and kept in
the model folder as ``decision.json``.

For a study, the rule gives the set of labels whose conformal p-value is at least the target error ``e``: a call
(methylated or unmethylated) is made only when exactly one label is left. Label-conditional validity: for each
true class, at most ``e`` of studies exchangeable with the calibration cases have their true label outside the
set, so at most ``e`` of the methylated and ``e`` of the unmethylated get the wrong call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

DECISION_FILE = "decision.json"
DEFAULT_TARGET_ERROR = 0.1
RULE = "label-conditional split conformal prediction (crepes ConformalClassifier, hinge scores)"
CURVE_ERRORS = tuple(round(e, 3) for e in np.arange(0.02, 0.302, 0.02))
"""Target errors at which the error-reject curve is drawn (beyond about 0.3 sets start to come out empty)."""


@dataclass(frozen=True)
class Call:
    """What the rule says about one probability: the label index called (None: no call) and why not."""

    label: int | None
    reason: str = ""


@dataclass(frozen=True)
class DecisionRule:
    """Calibration scores of the cases the rule was fitted on, their labels, and the target error."""

    target_error: float
    probabilities: tuple[float, ...]  # calibrated probability of methylation of each calibration case
    labels: tuple[int, ...]
    fitted_on: str

    @classmethod
    def fit(cls, probabilities: Sequence[float], labels: Sequence[int], target_error: float = DEFAULT_TARGET_ERROR,
            fitted_on: str = "") -> DecisionRule:
        """The rule over these out-of-sample predictions; ValueError unless both classes are present."""
        labels = tuple(int(y) for y in labels)
        if not 0 < target_error < 1:
            raise ValueError(f"target error {target_error!r}; expected a number between 0 and 1")
        if len(set(labels)) < 2 or len(labels) != len(probabilities):
            raise ValueError("the decision rule needs predictions of both classes, one label per prediction")
        return cls(float(target_error), tuple(float(p) for p in probabilities), labels, fitted_on)

    @property
    def n(self) -> int:
        return len(self.labels)

    @cached_property
    def _classifier(self):
        from crepes import ConformalClassifier
        from crepes.extras import hinge

        probabilities = np.asarray(self.probabilities, float)
        scores = hinge(np.column_stack([1 - probabilities, probabilities]), np.array([0, 1]), np.array(self.labels))
        return ConformalClassifier().fit(scores, bins=np.array(self.labels))

    def p_values(self, probabilities: Sequence[float]) -> np.ndarray:
        """(n, 2) label-conditional conformal p-values of unmethylated and methylated (unsmoothed: conservative)."""
        from crepes.extras import hinge

        probabilities = np.atleast_1d(np.asarray(probabilities, float))
        scores = hinge(np.column_stack([1 - probabilities, probabilities]))
        return np.column_stack([self._classifier.predict_p(scores, np.full(len(scores), c), smoothing=False)[:, c]
                                for c in (0, 1)])

    def prediction_sets(self, probabilities: Sequence[float], target_error: float | None = None) -> np.ndarray:
        """(n, 2) booleans: which labels stay in each study's set at ``target_error`` (default: the rule's)."""
        return self.p_values(probabilities) >= (self.target_error if target_error is None else target_error)

    def called(self, probabilities: Sequence[float], target_error: float | None = None) -> np.ndarray:
        """Per study the label called (0 or 1) or -1 for no call."""
        sets = self.prediction_sets(probabilities, target_error)
        return np.where(sets.sum(axis=1) == 1, sets.argmax(axis=1), -1)

    @cached_property
    def call_region(self) -> tuple[float, float]:
        """Calls are made at or below the first and at or above the second calibrated probability."""
        grid = np.linspace(0, 1, 2001)
        called = self.called(grid)
        low = grid[called == 0].max() if (called == 0).any() else 0.0
        high = grid[called == 1].min() if (called == 1).any() else 1.0
        return float(low), float(high)

    def call(self, probability: float) -> Call:
        """The label called for a calibrated probability, or why there is none (a plain sentence)."""
        unmethylated, methylated = self.prediction_sets([probability])[0]
        if unmethylated != methylated:
            return Call(int(methylated))
        low, high = self.call_region
        if unmethylated:
            return Call(None, f"Probability {probability:.2f} is too close to the middle for a call at the "
                              f"{self.target_error:.0%} error the decision rule allows: it calls unmethylated at "
                              f"{low:.2f} or below and methylated at {high:.2f} or above.")
        return Call(None, f"Neither label fits probability {probability:.2f} as well as {self.target_error:.0%} of "
                          "the calibration cases do: no call.")

    @property
    def guarantee(self) -> str:
        return (f"For studies exchangeable with the {self.n} cases the rule was fitted on, at most "
                f"{self.target_error:.0%} of the methylated and at most {self.target_error:.0%} of the unmethylated "
                "get the wrong call (on average over calibration sets); the others get a right call or none.")

    @property
    def card_sentences(self) -> str:
        """The rule as the model card states it."""
        return (f"{RULE} at target error {self.target_error:g}, fitted on {self.fitted_on}. {self.guarantee} The "
                "held-out error-reject table below checks it on a cohort nobody chose anything on.")

    def to_json(self) -> dict[str, Any]:
        """The ``decision`` object of a prediction's JSON."""
        low, high = self.call_region
        return {"rule": RULE, "target_error": self.target_error, "n": self.n, "guarantee": self.guarantee,
                "calls_below": round(low, 4), "calls_above": round(high, 4)}

    def write(self, folder: Path, curve: list[dict[str, float]] | None = None) -> Path:
        path = Path(folder) / DECISION_FILE
        path.write_text(json.dumps({**self.to_json(), "fitted_on": self.fitted_on,
                                    "probabilities": [round(p, 6) for p in self.probabilities],
                                    "labels": list(self.labels), "error_reject": curve or []}, indent=1))
        return path

    @staticmethod
    def stored_curve(folder: Path) -> list[dict[str, float]]:
        """The error-reject curve on the cases the rule was fitted on, as ``decision.json`` keeps it."""
        path = Path(folder) / DECISION_FILE
        return list(json.loads(path.read_text()).get("error_reject", [])) if path.is_file() else []

    @classmethod
    def read(cls, folder: Path) -> DecisionRule | None:
        """The rule in a model folder, or None when it has none."""
        path = Path(folder) / DECISION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls.fit(data["probabilities"], data["labels"], float(data["target_error"]), str(data["fitted_on"]))


def error_reject_curve(rule: DecisionRule, probabilities: Sequence[float], labels: Sequence[int],
                       errors: Sequence[float] = CURVE_ERRORS,
                       abstained: Sequence[bool] | None = None) -> list[dict[str, float]]:
    """Per target error: the share of studies called and the error among the calls on these cases (``abstained``
    studies are never called)."""
    labels = np.asarray(labels, int)
    kept = np.ones(len(labels), bool) if abstained is None else ~np.asarray(abstained, bool)
    points = []
    for error in errors:
        called = rule.called(probabilities, error)
        made = (called >= 0) & kept
        wrong = float(np.mean(called[made] != labels[made])) if made.any() else 0.0
        points.append({"target_error": float(error), "call_rate": float(made.mean()),
                       "error_among_calls": wrong, "calls": int(made.sum())})
    return points
