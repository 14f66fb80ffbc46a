"""Cohort tables: per model (repo + revision), named sets of scored cases, and the model's own metrics.

The training cohort is the model's out-of-fold predictions (``oof.csv`` in its folder): each case scored
by the fold model that never saw it, so a new study can be placed against honest scores. Other cohorts come
from ``python -m core batch``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ModelUnavailable
from core.store.schema import utc_naive
from core.store.session import Session

TRAINING_COHORT = "training (out-of-fold)"
"""The cohort every model repo brings along (its oof.csv)."""
CASE_COLUMNS = ("case", "fold", "label", "probability")
OOF_COLUMNS = ("BraTS21ID", "MGMT_value", "fold", "probability")
_CASE_TYPES = {"case": "str", "fold": "Int32", "label": "Int32", "probability": "float64"}
"""The pandas type of each column of a cohort read back."""


def checked_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with exactly CASE_COLUMNS in their stored types; ValueError for anything that cannot be stored."""
    missing = [name for name in CASE_COLUMNS if name not in cases.columns]
    if missing:
        raise ValueError(f"Cohort cases lack column(s) {', '.join(missing)}; expected {', '.join(CASE_COLUMNS)}.")
    frame = pd.DataFrame({
        "case": cases["case"].astype(str),
        "fold": pd.array(cases["fold"], dtype="Int64"),
        "label": pd.array(cases["label"], dtype="Int64"),
        "probability": cases["probability"].astype(float),
    }).reset_index(drop=True)
    if frame["case"].duplicated().any():
        raise ValueError(f"Cohort cases repeat case(s) {sorted(set(frame['case'][frame['case'].duplicated()]))}; "
                         "expected each case once.")
    probabilities = frame["probability"].to_numpy()
    if not (np.isfinite(probabilities) & (probabilities >= 0) & (probabilities <= 1)).all():
        raise ValueError("Cohort probabilities must be numbers from 0 to 1.")
    if not frame["label"].dropna().isin([0, 1]).all():
        raise ValueError("Cohort labels must be 0, 1 or missing.")
    return frame


OOF_CALIBRATION = {
    "cross-fitted": ("calibrated_cross_fitted", "cross-fitted: each fold's probabilities calibrated by a map fitted "
                     "on the other folds' out-of-fold logits, so no case's calibration saw its own label"),
    "in-sample": ("calibrated", "in-sample: calibrated by the map fitted on these same out-of-fold logits, so this "
                  "plot flatters the calibration"),
    "uncalibrated": ("probability", "uncalibrated: the network's own probabilities"),
}
"""Which column of ``oof.csv`` the training cohort shows, by what it is, and a sentence saying so."""


def oof_calibration(columns) -> str:
    """What the training cohort's probabilities are: ``cross-fitted``, ``in-sample`` or ``uncalibrated``."""
    return next(kind for kind, (column, _) in OOF_CALIBRATION.items() if column in set(columns))


def training_calibration(model_folder: Path) -> tuple[dict[str, list[float]] | None, str]:
    """The calibration curve of the training cohort as its calibration plot should show it (cross-fitted when
    ``oof.csv`` has that column), and the sentence saying what it is; (None, sentence) without a readable file."""
    from core.metrics import calibration_curve

    try:
        table = pd.read_csv(Path(model_folder) / "oof.csv")
        column, note = OOF_CALIBRATION[oof_calibration(table.columns)]
        return calibration_curve(table["MGMT_value"].to_numpy(), table[column].to_numpy()), note
    except (OSError, ValueError, KeyError, StopIteration):
        return None, "of the stored training cohort (the model folder has no readable oof.csv to say how calibrated)"


def read_oof(path: Path) -> pd.DataFrame:
    """A model folder's ``oof.csv`` (BraTS21ID, MGMT_value, fold, probability) as cohort cases; where the model is
    calibrated (a ``calibrated`` column), those probabilities, on the scale its predictions are shown on."""
    try:
        table = pd.read_csv(path, dtype={"BraTS21ID": str})
    except (OSError, ValueError) as err:
        raise ModelUnavailable(f"Out-of-fold file '{path}' cannot be read ({err}); expected a CSV with columns "
                               f"{','.join(OOF_COLUMNS)}.") from err
    missing = [name for name in OOF_COLUMNS if name not in table.columns]
    if missing:
        raise ModelUnavailable(f"Out-of-fold file '{path}' has columns {list(table.columns)}; expected "
                               f"{','.join(OOF_COLUMNS)}.")
    cases = table["BraTS21ID"].fillna("").str.strip()
    try:
        if (cases == "").any():
            raise ValueError(f"an empty BraTS21ID on line {int((cases == '').to_numpy().argmax()) + 2}")
        return checked_cases(pd.DataFrame({
            "case": cases.where(~cases.str.isdigit(), cases.str.zfill(5)),
            "fold": table["fold"], "label": table["MGMT_value"],
            "probability": table["calibrated"] if "calibrated" in table.columns else table["probability"]}))
    except (TypeError, ValueError) as err:
        raise ModelUnavailable(f"Out-of-fold file '{path}' holds values that are not cases with a fold, a 0/1 label "
                               f"and a probability from 0 to 1 ({err}).") from err


def write_cases(session: Session, name: str, model_repo: str, model_revision: str, cases: pd.DataFrame) -> int:
    """Replace cohort ``name`` of the model with ``cases`` (within the caller's transaction); rows written."""
    frame = checked_cases(cases)
    key = [name, model_repo, model_revision]
    session.changed("DELETE FROM cohort_cases WHERE cohort = ? AND model_repo = ? AND model_revision = ?", key)
    session.insert_frame("cohort_cases", frame.assign(cohort=name, model_repo=model_repo,
                                                      model_revision=model_revision,
                                                      written_at=utc_naive(datetime.now(UTC))))
    return len(frame)


def read_cases(session: Session, name: str, model_repo: str, model_revision: str) -> pd.DataFrame:
    """Cohort ``name`` of the model: case, fold, label, probability, ordered by case."""
    return session.frame(
        'SELECT "case", fold, label, probability FROM cohort_cases WHERE cohort = ? AND model_repo = ? '
        'AND model_revision = ? ORDER BY "case"', [name, model_repo, model_revision], _CASE_TYPES)


def cohort_names(session: Session, model_repo: str, model_revision: str) -> list[str]:
    """Names of the model's cohorts: the training cohort first, then the others alphabetically."""
    rows = session.rows(
        "SELECT cohort FROM cohort_cases WHERE model_repo = ? AND model_revision = ? GROUP BY cohort "
        "ORDER BY cohort <> ?, cohort", [model_repo, model_revision, TRAINING_COHORT])
    return [row[0] for row in rows]


def write_metrics(session: Session, model_repo: str, model_revision: str,
                  metrics: dict[str, Any]) -> None:
    """Replace the model's saved metrics (its config.json ``metrics``)."""
    key = [model_repo, model_revision]
    session.changed("DELETE FROM model_metrics WHERE model_repo = ? AND model_revision = ?", key)
    session.changed("INSERT INTO model_metrics VALUES (?, ?, ?, ?)",
                    [*key, json.dumps(metrics), utc_naive(datetime.now(UTC))])


def read_metrics(session: Session, model_repo: str, model_revision: str) -> dict | None:
    """The model's saved metrics, or None when none were saved."""
    row = session.row("SELECT metrics FROM model_metrics WHERE model_repo = ? AND model_revision = ?",
                      [model_repo, model_revision])
    return json.loads(row[0]) if row else None
