"""Predictions: probability and uncertainty, Grad-CAM that finds what the model responds to, CLI = API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.inference import Predictor
from core.ingest import load_study
from core.model import MGMTNet, ModelSource
from core.synth.cases import write_case

ROOT = Path(__file__).resolve().parents[2]


def _cube_input(corner: tuple[int, int, int], size: int = 96, seed: int = 0) -> torch.Tensor:
    x = torch.from_numpy(np.random.default_rng(seed).normal(0, 0.3, (1, 4, size, size, size)).astype(np.float32))
    i, j, k = corner
    x[:, :, i:i + 16, j:j + 16, k:k + 16] += 3.0
    return x


def test_grad_cam_gives_a_normalised_map_of_the_predicted_class() -> None:
    """An untrained U-Net spreads its soft volumes over the whole grid, so where the map lands is only checked on
    the trained bundled model (test_bundled_model_activation_map_weighs_the_tumour_...); here: the map is on the
    input grid, non-negative, peaks at 1 (not MONAI's inverted default, which maps the maximum to 0)."""
    torch.manual_seed(0)
    model = MGMTNet().eval()
    cube = (8, 64, 40)
    positive, negative = _cube_input(cube), _cube_input(cube, seed=1)
    negative[:, :, 8:24, 64:80, 40:56] = negative[:, :, 24:40, 24:40, 24:40]  # same noise level, no cube
    with torch.no_grad():  # a head built to respond to the cube: a linear discriminant of the features
        first, last = model.head[0], model.head[3]
        plus, minus = model.encode(positive)[0], model.encode(negative)[0]
        direction = plus - minus
        first.weight.zero_()
        first.bias.zero_()
        first.weight[0].copy_(direction[0] / direction.norm())
        first.bias[0] = -(first.weight[0] * (plus + minus)[0] / 2).sum()
        last.weight.zero_()
        last.weight[0, 0] = 1.0
        last.bias.fill_(-1e-3)  # cube -> positive logit, no cube -> negative
    predictor = Predictor(model, ModelSource("test", "local", Path(".")))
    _, _, cam = predictor._features_and_cam(positive, torch.ones(1, 4), with_cam=True)
    assert cam.shape == (96, 96, 96) and cam.max() == pytest.approx(1.0) and cam.min() >= 0
    assert cam.std() > 0.01  # a map, not a constant


def test_predict_gives_probability_uncertainty_and_provenance(synthetic_case: Path) -> None:
    predictor = Predictor.load()
    study = load_study(synthetic_case)
    predicted = predictor.predict(study)
    first, second = predicted.result, predictor.predict(study, with_cam=False).result
    assert 0.0 <= first.probability <= 1.0 and first.probability == pytest.approx(second.probability, abs=1e-6)
    assert not predictor.model.training  # the activation map leaves the network in eval mode
    low, high = first.uncertainty.interval90
    assert low <= first.probability <= high and first.uncertainty.std > 0
    call = "methylated" if first.probability >= 0.5 else "unmethylated"
    straddles = low < 0.5 <= high
    assert first.label == ("indeterminate" if straddles or first.abstained else call)
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
    assert reports[0]["model"]["revision"] == "local" and reports[0]["preprocessing_version"] == "1"
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


@pytest.mark.slow
def test_bundled_model_activation_map_weighs_the_tumour_more_than_the_rest_of_the_brain(tmp_path: Path) -> None:
    from tests.preprocess.test_skull import _true_mask_on_grid

    predictor = Predictor.load()
    ratios = []
    for index in (3, 7, 20, 31, 42, 50):  # held-out cases (seed 2000, never used in training)
        truth = write_case(tmp_path, index, seed=2000)
        artefacts = predictor.predict(load_study(tmp_path / "train" / truth.case_id)).artefacts
        tumour = _true_mask_on_grid(tmp_path / "masks" / f"{truth.case_id}_seg.nii.gz", artefacts.prepared.grid)
        elsewhere = ~tumour & artefacts.prepared.brain_mask
        ratios.append(float(artefacts.cam[tumour].mean() / artefacts.cam[elsewhere].mean()))
    assert np.median(ratios) > 1.3, ratios
