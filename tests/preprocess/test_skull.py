"""Studies with scalp and skull are recognised and skull-stripped with deepbet; stripped ones are left alone."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from core.ingest import load_study
from core.preprocess import prepare
from core.preprocess.settings import Preprocessing
from core.synth.cases import write_case


def _true_mask_on_grid(mask_path: Path, grid) -> np.ndarray:
    image = nib.load(mask_path)
    to_voxel = np.linalg.inv(image.affine) @ grid.affine
    ijk = np.indices(grid.shape, dtype=np.float32).reshape(3, -1)
    coords = to_voxel[:3, :3] @ ijk + to_voxel[:3, 3:4]
    values = ndimage.map_coordinates(np.asarray(image.dataobj, np.float32), coords, order=1)
    return values.reshape(grid.shape) > 0.5


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


@pytest.mark.slow
def test_skull_on_case_is_stripped_by_deepbet_close_to_the_true_brain(tmp_path: Path) -> None:
    truth = write_case(tmp_path, 1, seed=4, skull=True)
    prepared = prepare(load_study(tmp_path / "train" / truth.case_id), Preprocessing())
    assert prepared.skull.action == "stripped by deepbet" and prepared.skull.reason == "detected"
    assert any("deepbet" in w for w in prepared.warnings)
    score = dice(prepared.brain_mask, _true_mask_on_grid(tmp_path / "masks" / "00001_brain.nii.gz", prepared.grid))
    assert score >= 0.9, score


def test_stripped_case_keeps_its_own_mask(tmp_path: Path) -> None:
    truth = write_case(tmp_path, 2, seed=4, skull=False)
    prepared = prepare(load_study(tmp_path / "train" / truth.case_id), Preprocessing())
    assert prepared.skull.action == "already stripped"
    score = dice(prepared.brain_mask, _true_mask_on_grid(tmp_path / "masks" / "00002_brain.nii.gz", prepared.grid))
    assert score >= 0.9, score


def test_skull_stripping_can_be_switched_off(tmp_path: Path, monkeypatch) -> None:
    truth = write_case(tmp_path, 1, seed=4, skull=True)
    monkeypatch.setenv("MGMT_SKULL_STRIP", "never")
    prepared = prepare(load_study(tmp_path / "train" / truth.case_id), Preprocessing())
    assert (prepared.skull.action, prepared.skull.reason, prepared.skull.mode) == ("kept (skull stripping off)",
                                                                                   "forced", "never")


def test_an_empty_t1_is_a_clear_input_error_not_a_deepbet_crash() -> None:
    from core.errors import InputError
    from core.preprocess.brain import strip_skull
    from core.preprocess.grid import Grid

    grid = Grid.centred(np.zeros(3), (3.0, 3.0, 3.0), (64, 64, 64))
    with pytest.raises(InputError, match="found no brain in the T1w series"):
        strip_skull(np.zeros(grid.shape, np.float32), grid)
