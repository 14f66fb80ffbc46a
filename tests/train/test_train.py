"""Training end to end on tiny synthetic cases; cross-validation keeps held-out cases out of training; caching."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core.train.crossval as crossval
import core.train.dataset as dataset
from core.cohort import BROKEN_CASES, find_cases, read_labels
from core.inference import Predictor
from core.ingest import load_study
from core.model import load_model
from core.preprocess.settings import PREPROCESSING_VERSION, Preprocessing
from core.synth.cases import write_cohort
from core.train.dataset import TensorCache, load_cohort
from core.train.loop import TrainSettings

ROOT = Path(__file__).resolve().parents[2]
TINY = Preprocessing(input_shape=(32, 32, 32), spacing_mm=(6.0, 6.0, 6.0))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cohort")
    write_cohort(out, 8, seed=9)
    return out


@pytest.mark.slow
def test_two_epochs_end_to_end_write_a_loadable_model_folder(cohort: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "core", "train", str(cohort), "--labels", str(cohort / "train_labels.csv"), "--out",
         str(tmp_path / "model"), "--folds", "2", "--epochs", "2", "--input-shape", "32", "--spacing", "6",
         "--cache", str(tmp_path / "cache"), "--quiet", "--masks", str(cohort / "masks")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "out-of-fold AUC" in run.stdout and "best achievable 0.850" in run.stdout
    assert "Segmentation trained on the label maps of 8 of 8 cases" in run.stdout
    cached = tmp_path / "cache" / f"v{PREPROCESSING_VERSION}"
    assert list(cached.glob("00003-*-seg-*.npy"))  # masks cached beside the tensors
    model, source = load_model(str(tmp_path / "model"))
    assert model.config.calibration.method == "platt" and model.config.calibration.slope != 1.0
    assert len(model.members) == 2  # the fold models are what is served
    assert model.config.preprocessing.input_shape == (32, 32, 32) and model.config.training["epochs"] == 2
    assert model.config.metrics.metrics.n == 8 and model.config.metrics.cv_folds == 2
    with open(tmp_path / "model" / "oof.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(int(r["BraTS21ID"]) for r in rows) == list(range(8))
    assert {"probability", "logit", "calibrated", "calibrated_cross_fitted"} <= set(rows[0])
    decision = json.loads((tmp_path / "model" / "decision.json").read_text())  # the rule, fitted on oof.csv
    assert decision["n"] == 8 and decision["target_error"] == 0.1 and len(decision["labels"]) == 8
    assert all(0 <= float(r["probability"]) <= 1 for r in rows)
    card = (tmp_path / "model" / "README.md").read_text()
    assert "Trained on synthetic data only" in card and "0.62174" in card and "0.562" in card
    prediction = Predictor(model, source).predict(load_study(cohort / "train" / "00003"))
    assert prediction.artefacts.cam.shape == (32, 32, 32) and 0 <= prediction.result.probability <= 1
    ood = json.loads((tmp_path / "model" / "ood.json").read_text())  # the OOD gate's reference, fitted by train
    assert ood["n_cases"] == 8 and ood["percentile"] == 99.0 and prediction.result.ood.threshold == ood["threshold"]
    assert len(ood["patterns"]) == 14  # a reference per availability pattern besides all four
    assert prediction.to_json()["decision"]["n"] == 8
    assert json.loads((tmp_path / "model" / "metrics.json").read_text())["oof"]["n"] == 8
    evaluated = subprocess.run(
        [sys.executable, "-m", "core", "evaluate", str(cohort), "--labels", str(cohort / "train_labels.csv"),
         "--model", str(tmp_path / "model"), "--out", str(tmp_path / "eval"), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    report = json.loads(evaluated.stdout)
    assert set(report) == {"n", "auc", "auc_ci95", "accuracy", "precision", "recall", "f1", "brier", "ece",
                           "call_rate", "accuracy_among_calls"}
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["dice"]["n"] == 8 and 0 <= written["dice"]["whole"]["median"] <= 1
    assert written["latent_score"]["n"] == 8
    with open(tmp_path / "eval" / "predictions.csv") as handle:
        scored = list(csv.DictReader(handle))
    from sklearn.metrics import roc_auc_score

    assert report["n"] == 8 and report["auc"] == pytest.approx(
        roc_auc_score([int(r["MGMT_value"]) for r in scored], [float(r["probability"]) for r in scored]))
    assert (tmp_path / "eval" / "roc.html").stat().st_size > 100_000  # plotly embedded: opens offline
    served = Predictor.load(str(tmp_path / "model")).predict(load_study(cohort / "train" / "00003")).result
    row = next(r for r in scored if int(r["BraTS21ID"]) == 3)  # what predict answers for that study
    assert (row["label"], row["abstained"]) == (served.label, str(served.abstained).lower())
    assert float(row["probability"]) == pytest.approx(served.probability, abs=1e-6)
    calls = [r for r in scored if r["label"] in ("methylated", "unmethylated")]
    assert report["call_rate"] == pytest.approx(len(calls) / 8)


def test_cross_validation_never_trains_on_the_held_out_fold(monkeypatch) -> None:
    n = 12
    images = np.stack([np.full((4, 32, 32, 32), i, np.float16) for i in range(n)])
    labels = np.array([0, 1] * (n // 2))
    seen: list[set[int]] = []
    real = crossval.train_model

    def recording(images_used, *args, **kwargs):
        seen.append({int(x[0, 0, 0, 0]) for x in images_used})
        return real(images_used, *args, **kwargs)

    monkeypatch.setattr(crossval, "train_model", recording)
    result = crossval.cross_validate(images, labels, 3, TrainSettings(epochs=1, batch_size=4, augment=False), TINY,
                                     log=lambda _: None, progress=False)
    assert np.all(np.isfinite(result.oof)) and sorted(np.bincount(result.folds)) == [4, 4, 4]
    for fold in range(3):
        held_out = set(np.flatnonzero(result.folds == fold).tolist())
        assert not held_out & seen[fold]
    assert len(seen) == 3 and len(result.members) == 3  # the fold models are what is served: no final model


def test_cache_is_reused_and_broken_cases_are_skipped(cohort: Path, tmp_path: Path, monkeypatch) -> None:
    labels = read_labels(cohort / "train_labels.csv")
    cases, skipped = find_cases(cohort, {**labels, "00109": 1, "00999": 0})
    assert len(cases) == 8 and any(s.startswith("00109: flagged") for s in skipped)
    assert any(s.startswith("00999: no folder") for s in skipped) and "00109" in BROKEN_CASES
    cache = TensorCache(tmp_path, TINY)
    first, _, _, failed = load_cohort(cases[:2], cache)
    assert failed == [] and first.shape == (2, 4, 32, 32, 32) and first.dtype == np.float16
    monkeypatch.setattr(dataset, "prepare", lambda *a: pytest.fail("the cache should have been used"))
    again, _, _, _ = load_cohort(cases[:2], cache)
    np.testing.assert_array_equal(first, again)


def test_a_forced_skull_setting_keys_the_cache_apart(cohort: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = cohort / "train" / "00000"
    automatic = dataset.content_key(folder, TINY)
    monkeypatch.setenv("MGMT_SKULL_STRIP", "never")
    assert dataset.content_key(folder, TINY) != automatic  # training under a forced mode never reuses auto tensors


def test_training_without_masks_says_it_is_classification_only(cohort: Path, tmp_path: Path) -> None:
    import argparse

    from core.cli.train import _segmentations

    maps, note = _segmentations(argparse.Namespace(masks=None), [], TINY)
    assert maps is None and note.startswith("No --masks: classification only")


def test_segmentations_are_read_on_each_cases_grid_and_cached(cohort: Path, tmp_path: Path, monkeypatch) -> None:
    labels = read_labels(cohort / "train_labels.csv")
    cases, _ = find_cases(cohort, labels)
    cache = TensorCache(tmp_path, TINY)
    maps, missing = dataset.load_segmentations(cases[:2], cache, cohort / "masks")
    assert missing == [] and maps.shape == (2, 32, 32, 32) and set(np.unique(maps)) <= {0, 1, 2, 4}
    assert (maps > 0).sum() > 0
    monkeypatch.setattr(dataset, "mask_on_grid", lambda *a: pytest.fail("the cached label map should be used"))
    again, _ = dataset.load_segmentations(cases[:2], cache, cohort / "masks")
    np.testing.assert_array_equal(maps, again)
    absent, missing = dataset.load_segmentations(cases[:1], cache, tmp_path / "nowhere")
    assert (absent == 255).all() and missing[0].startswith(f"{cases[0].case_id}: No label file")


def test_labels_file_with_wrong_columns(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("id,label\n1,0\n")
    with pytest.raises(Exception) as err:
        read_labels(tmp_path / "labels.csv")
    assert "expected BraTS21ID,MGMT_value" in err.value.user_message


@pytest.mark.slow
def test_two_trial_tuning_persists_resumes_and_feeds_train(cohort: Path, tmp_path: Path) -> None:
    common = [str(cohort), "--labels", str(cohort / "train_labels.csv"), "--epochs", "1", "--input-shape", "32",
              "--spacing", "6", "--cache", str(tmp_path / "cache"), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def tune(trials: int) -> dict:
        run = subprocess.run([sys.executable, "-m", "core", "tune", *common, "--trials", str(trials), "--out",
                              str(tmp_path / "tuning")], cwd=ROOT, capture_output=True, text=True, timeout=600,
                             env=env)
        assert run.returncode == 0, run.stderr[-2000:]
        return json.loads((tmp_path / "tuning" / "best.json").read_text())

    assert tune(2)["trials"] == 2
    best = tune(1)
    assert best["trials"] == 3  # resumed from the SQLite study, not started afresh
    assert set(best["params"]) == {"learning_rate", "weight_decay", "dropout", "widen_factor", "architecture",
                                   "batch_size"}
    run = subprocess.run([sys.executable, "-m", "core", "train", *common, "--folds", "2", "--out",
                          str(tmp_path / "model"), "--params", str(tmp_path / "tuning" / "best.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["training"]["tuning"]["trial"] == best["trial"]
    assert config["architecture"] == best["params"]["architecture"]
    assert config["dropout"] == pytest.approx(best["params"]["dropout"])
