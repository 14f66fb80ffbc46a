"""Cohorts: the bundled model's out-of-fold predictions, batch cohorts replaced whole, and model metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.errors import ModelUnavailable
from core.metrics import auc
from core.model.hub import BUNDLED, ModelSource
from core.store import TRAINING_COHORT, Store

CONFIG = json.loads((BUNDLED / "config.json").read_text())
SOURCE = ModelSource(repo="bundled weights/", revision="local", folder=BUNDLED)


def _cases(probabilities: list[float], labels: list[int | None] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"case": [f"{i:05d}" for i in range(len(probabilities))], "fold": [None] * len(probabilities),
                         "label": labels or [None] * len(probabilities), "probability": probabilities})


def test_the_bundled_training_cohort_reproduces_the_model_card_auc(store: Store) -> None:
    assert store.import_training_cohort(SOURCE, CONFIG["metrics"]) == 358
    cases = store.cohort(TRAINING_COHORT, SOURCE.repo, "local")
    assert len(cases) == 358 and cases["case"].iloc[0] == "00000"
    assert set(cases["fold"]) == set(range(CONFIG["metrics"]["cv_folds"]))
    oof = pd.read_csv(BUNDLED / "oof.csv")
    assert cases["probability"].to_numpy() == pytest.approx(oof["calibrated"].to_numpy())  # the scale predictions use
    assert auc(cases["label"].to_numpy(), cases["probability"].to_numpy()) == pytest.approx(
        CONFIG["metrics"]["auc"], abs=1e-6)


def test_importing_the_training_cohort_again_replaces_it(store: Store) -> None:
    store.import_training_cohort(SOURCE, CONFIG["metrics"])
    assert store.import_training_cohort(SOURCE, CONFIG["metrics"]) == 358
    assert len(store.cohort(TRAINING_COHORT, SOURCE.repo, "local")) == 358
    assert store.cohorts(SOURCE.repo, "local") == [TRAINING_COHORT]


def test_the_model_metrics_are_saved_with_the_training_cohort(store: Store) -> None:
    store.import_training_cohort(SOURCE, CONFIG["metrics"])
    assert store.model_metrics(SOURCE.repo, "local") == CONFIG["metrics"]
    assert store.model_metrics(SOURCE.repo, "0123abc") is None


def test_a_model_without_oof_csv_has_an_empty_training_cohort_but_its_metrics(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    source = ModelSource("org/new-model", "abc123", folder)
    assert store.import_training_cohort(source, {"auc": 0.61}) == 0
    assert store.cohorts("org/new-model", "abc123") == [] and store.model_metrics("org/new-model", "abc123") == {
        "auc": 0.61}


def test_an_oof_csv_without_its_columns_is_named_in_the_error(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "oof.csv").write_text("id,p\n1,0.5\n")
    with pytest.raises(ModelUnavailable, match="expected BraTS21ID,MGMT_value,fold,probability") as caught:
        store.import_training_cohort(ModelSource("m", "local", folder), {})
    assert str(folder / "oof.csv") in caught.value.user_message


def test_an_oof_csv_with_a_probability_above_one_is_refused(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "oof.csv").write_text("BraTS21ID,MGMT_value,fold,probability\n7,1,0,1.5\n")
    with pytest.raises(ModelUnavailable, match="probability from 0 to 1"):
        store.import_training_cohort(ModelSource("m", "local", folder), {})


def test_replace_cohort_swaps_the_whole_cohort(store: Store) -> None:
    store.replace_cohort("site-a", "m", "r1", _cases([0.1, 0.2, 0.3], [0, 1, 0]))
    assert store.replace_cohort("site-a", "m", "r1", _cases([0.9, 0.8])) == 2
    cases = store.cohort("site-a", "m", "r1")
    assert cases["probability"].tolist() == [0.9, 0.8] and cases["label"].isna().all() and cases["fold"].isna().all()


def test_cohorts_are_kept_apart_by_model_revision(store: Store) -> None:
    store.replace_cohort("site-a", "m", "r1", _cases([0.1]))
    store.replace_cohort("site-a", "m", "r2", _cases([0.7, 0.6]))
    assert store.cohort("site-a", "m", "r1")["probability"].tolist() == [0.1]
    assert len(store.cohort("site-a", "m", "r2")) == 2 and store.cohort("site-a", "other", "r1").empty


def test_a_failed_replacement_leaves_the_previous_cohort(store: Store) -> None:
    store.replace_cohort("site-a", "m", "r1", _cases([0.1, 0.2]))
    with pytest.raises(ValueError, match="from 0 to 1"):
        store.replace_cohort("site-a", "m", "r1", _cases([0.5, 1.5]))
    assert store.cohort("site-a", "m", "r1")["probability"].tolist() == [0.1, 0.2]


def test_repeated_cases_are_refused(store: Store) -> None:
    cases = pd.DataFrame({"case": ["00001", "00001"], "fold": [0, 1], "label": [0, 1], "probability": [0.2, 0.3]})
    with pytest.raises(ValueError, match="repeat case"):
        store.replace_cohort("x", "m", "r", cases)


def test_the_training_cohort_is_listed_first(store: Store) -> None:
    store.replace_cohort("a-site", SOURCE.repo, "local", _cases([0.4]))
    store.import_training_cohort(SOURCE, CONFIG["metrics"])
    store.replace_cohort("z-site", SOURCE.repo, "local", _cases([0.5]))
    assert store.cohorts(SOURCE.repo, "local") == [TRAINING_COHORT, "a-site", "z-site"]


def test_the_training_calibration_plot_is_cross_fitted_and_says_so() -> None:
    from core.store.cohort_tables import training_calibration

    curve, note = training_calibration(BUNDLED)
    assert note.startswith("cross-fitted: each fold's probabilities calibrated by a map fitted on the other folds")
    assert sum(curve["count"]) == 358
    oof = pd.read_csv(BUNDLED / "oof.csv")
    first = oof["calibrated_cross_fitted"] < 0.1
    assert curve["predicted"][0] == pytest.approx(oof["calibrated_cross_fitted"][first].mean())
