"""The tumour a prediction reports: volumes in ml, centre in world mm, the exported label map's affine; the
calibration map and the availability vector as the predictor applies them."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from core.inference import Predictor
from core.inference.tumour import Tumour, export_segmentation
from core.ingest import load_study
from core.model import MGMTNet, ModelSource
from core.preprocess import Grid
from core.synth.cases import write_case

TINY = {"input_shape": [32, 32, 32], "spacing_mm": [6.0, 6.0, 6.0]}


def _labels_and_grid() -> tuple[np.ndarray, Grid]:
    grid = Grid.centred(np.array([10.0, -20.0, 30.0]), (3.0, 3.0, 3.0), (20, 20, 20))
    labels = np.zeros(grid.shape, np.uint8)
    labels[4:9, 4:8, 4:8] = 2  # 80 voxels of oedema
    labels[5:7, 5:7, 5:7] = 4  # 8 enhancing
    labels[5, 5, 5] = 1  # 1 necrotic
    return labels, grid


def test_volumes_are_voxel_counts_times_the_voxel_volume_in_ml() -> None:
    labels, grid = _labels_and_grid()
    tumour = Tumour.measure(labels, grid)
    voxel_ml = 27 / 1000
    assert tumour.volumes_ml["enhancing"] == pytest.approx(7 * voxel_ml)
    assert tumour.volumes_ml["necrotic"] == pytest.approx(1 * voxel_ml)
    assert tumour.volumes_ml["oedema"] == pytest.approx(72 * voxel_ml)
    assert tumour.volumes_ml["whole"] == pytest.approx(80 * voxel_ml)


def test_the_tumour_core_is_the_necrotic_core_and_the_enhancing_tumour_together() -> None:
    labels, grid = _labels_and_grid()
    volumes = Tumour.measure(labels, grid).volumes_ml
    assert volumes["core"] == pytest.approx(8 * 27 / 1000)  # 1 necrotic + 7 enhancing voxels of 3 mm
    assert volumes["core"] == pytest.approx(volumes["necrotic"] + volumes["enhancing"])
    assert list(volumes) == ["whole", "core", "enhancing", "necrotic", "oedema"]


def test_centre_is_the_whole_tumours_centroid_in_world_mm() -> None:
    labels, grid = _labels_and_grid()
    centroid_voxel = np.array([6.0, 5.5, 5.5])
    expected = grid.affine[:3, :3] @ centroid_voxel + grid.affine[:3, 3]
    assert Tumour.measure(labels, grid).centre_mm == pytest.approx(tuple(expected))
    assert Tumour.measure(np.zeros_like(labels), grid).to_json() == {
        "volumes_ml": {"whole": 0.0, "core": 0.0, "enhancing": 0.0, "necrotic": 0.0, "oedema": 0.0}, "centre_mm": None}


def test_exported_segmentation_carries_the_grids_affine_and_brats_values(tmp_path: Path) -> None:
    labels, grid = _labels_and_grid()
    image = nib.load(export_segmentation(labels, grid, tmp_path / "seg.nii.gz"))
    np.testing.assert_allclose(image.affine, grid.affine)
    np.testing.assert_allclose(image.get_sform(), grid.affine)
    assert nib.aff2axcodes(image.affine) == ("R", "A", "S")
    np.testing.assert_array_equal(np.asarray(image.dataobj), labels)


@pytest.fixture(scope="module")
def prepared_case(tmp_path_factory):
    out = tmp_path_factory.mktemp("case")
    truth = write_case(out, 2, seed=11)
    return load_study(out / "train" / truth.case_id)


def _predictor(calibration: dict | None = None) -> Predictor:
    torch.manual_seed(0)
    model = MGMTNet(widen_factor=0.25, preprocessing=TINY, calibration=calibration).eval()
    return Predictor(model, ModelSource("test", "local", Path(".")), device=torch.device("cpu"))


def test_prediction_applies_the_calibration_map_to_the_logit(prepared_case) -> None:
    plain = _predictor().predict(prepared_case, with_cam=False)
    calibrated = _predictor({"method": "platt", "slope": 2.0, "intercept": -1.0}).predict(prepared_case,
                                                                                          with_cam=False)
    assert calibrated.artefacts.logit == pytest.approx(plain.artefacts.logit, abs=1e-5)
    expected = 1 / (1 + np.exp(-(2.0 * plain.artefacts.logit - 1.0)))  # the map applied to the uncalibrated logit
    assert calibrated.result.probability == pytest.approx(expected, abs=1e-5)


def test_missing_sequences_are_blanked_and_reported(prepared_case) -> None:
    predictor = _predictor()
    full = predictor.predict(prepared_case, with_cam=False)
    without = predictor.predict(prepared_case, with_cam=False, missing=("T2w", "FLAIR"))
    assert without.result.missing == ("FLAIR", "T2w") and full.result.missing == ()
    x = torch.from_numpy(without.artefacts.prepared.image[None]).clone()
    x[:, [0, 3]] = 0
    with torch.no_grad():
        expected = predictor.model(x, torch.tensor([[0.0, 1, 1, 0]]))
    assert without.artefacts.logit == pytest.approx(float(expected.mean()), abs=1e-5)
    assert without.artefacts.logit != pytest.approx(full.artefacts.logit, abs=1e-6)
    report = without.to_json()
    assert report["missing"] == ["FLAIR", "T2w"]
    assert set(report["tumour"]) == {"volumes_ml", "centre_mm"}
    segmentation = without.artefacts.segmentation
    assert segmentation.shape == (32, 32, 32) and set(np.unique(segmentation)) <= {0, 1, 2, 4}
    json.dumps(report)
    with pytest.raises(ValueError, match="at least one sequence"):
        predictor.predict(prepared_case, with_cam=False, missing=("FLAIR", "T1w", "T1wCE", "T2w"))
