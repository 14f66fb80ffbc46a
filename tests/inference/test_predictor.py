"""Predictions: probability and uncertainty, the explanation map, CLI = API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.inference import Predictor
from core.ingest import load_study
from core.preprocess.settings import PREPROCESSING_VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_predict_gives_probability_uncertainty_and_provenance(synthetic_case: Path) -> None:
    predictor = Predictor.load()
    study = load_study(synthetic_case)
    predicted = predictor.predict(study)
    first, second = predicted.result, predictor.predict(study, with_cam=False).result
    assert 0.0 <= first.probability <= 1.0 and first.probability == pytest.approx(second.probability, abs=1e-6)
    assert not predictor.model.training  # the activation map leaves the network in eval mode
    low, high = first.uncertainty.interval90  # the fold models' range holds their calibrated mean logit
    assert low - 1e-6 <= first.probability <= high + 1e-6 and len(first.uncertainty.members) == len(
        predictor.model.members)
    called = predictor.decision_rule.call(first.probability).label
    expected = "indeterminate" if first.abstained or called is None else ("unmethylated", "methylated")[called]
    assert first.label == expected and first.to_json()["decision"]["n"] == predictor.decision_rule.n
    assert first.missing == () and set(first.contributions) == {"FLAIR", "T1w", "T1wCE", "T2w"}
    assert {c.check for c in first.quality} >= {"blank", "coverage", "brain"}
    assert (first.provenance.repo, first.provenance.revision) == ("bundled weights/", "local")
    artefacts = predicted.artefacts
    assert artefacts.cam.shape == artefacts.prepared.brain_mask.shape == predictor.config.preprocessing.input_shape
    report = predicted.to_json()
    assert set(report) >= {"probability", "label", "uncertainty", "sequences", "model", "timings_s", "warnings"}
    assert list(report["sequences"]) == ["FLAIR", "T1w", "T1wCE", "T2w"]
    json.dumps(report)  # JSON-ready


def test_the_viewers_volumes_come_only_when_asked_for(synthetic_case: Path) -> None:
    predictor = Predictor.load()
    study = load_study(synthetic_case)
    plain, shown = predictor.predict(study, with_cam=False), predictor.predict(study, with_display=True)
    assert plain.artefacts.viewer is None and "display" not in dict(plain.result.timings)
    viewer = shown.artefacts.viewer
    assert viewer is not None and shown.result.timings["display"] > 0
    segmented = bool((shown.artefacts.segmentation > 0).any())
    assert viewer.start_from == ("tumour centre" if segmented else "Grad-CAM peak")
    assert viewer.cam is not None and viewer.labels is not None
    assert viewer.sequences == shown.artefacts.prepared.sequences
    assert {"display", "viewer"}.isdisjoint(shown.to_json())  # the viewer's arrays stay out of the JSON


def test_predict_cli_json_equals_the_python_api(synthetic_case: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [subprocess.run([sys.executable, "-m", "core", "predict", str(synthetic_case), "--json"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300, env=env) for _ in range(2)]
    reports = [json.loads(run.stdout) for run in runs]
    assert reports[0]["probability"] == reports[1]["probability"]
    assert reports[0]["uncertainty"] == reports[1]["uncertainty"]
    api = Predictor.load().predict(load_study(synthetic_case)).result
    assert reports[0]["probability"] == pytest.approx(api.probability, abs=1e-6)
    assert reports[0]["model"]["revision"] == "local" and reports[0]["preprocessing_version"] == PREPROCESSING_VERSION
    assert {"read", "resample", "model_and_cam", "total"} <= set(reports[0]["timings_s"])


def test_predict_cli_bad_input_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    run = subprocess.run([sys.executable, "-m", "core", "predict", str(tmp_path / "empty"), "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr


def test_concurrent_callers_share_one_model_and_get_the_serial_answer(synthetic_case: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    predictor = Predictor.load()
    study = load_study(synthetic_case)
    serial = predictor.predict(study).result.probability
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: predictor.predict(study), range(3)))
    assert all(r.result.probability == pytest.approx(serial, abs=1e-6) for r in results)
    assert all(float(r.artefacts.cam.max()) == pytest.approx(1.0) for r in results)

