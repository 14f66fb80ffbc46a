"""Folders of four BraTS-named NIfTI files load with their affines; broken NIfTI gets a clear error."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from core.errors import InputError
from core.ingest import load_study
from tests.conftest import OFFSETS, PLANES, render, series_affine

BRATS_2021 = {"FLAIR": "_flair", "T1w": "_t1", "T1wCE": "_t1ce", "T2w": "_t2"}
BRATS_2023 = {"FLAIR": "-t2f", "T1w": "-t1n", "T1wCE": "-t1c", "T2w": "-t2w"}


def write_nifti_study(folder: Path, suffixes: dict[str, str], stem: str = "BraTS2021_00042") -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    affines = {}
    for sequence, suffix in suffixes.items():
        affine = series_affine(PLANES[sequence], (16, 14, 10), (1.0, 1.0, 2.0))
        nib.save(nib.Nifti1Image(render(affine, (16, 14, 10), OFFSETS[sequence]), affine),
                 folder / f"{stem}{suffix}.nii.gz")
        affines[sequence] = affine
    return affines


@pytest.mark.parametrize("suffixes", [BRATS_2021, BRATS_2023], ids=["brats2021", "brats2023"])
def test_brats_named_files_become_the_four_sequences(tmp_path: Path, suffixes: dict[str, str]) -> None:
    affines = write_nifti_study(tmp_path / "case", suffixes)
    mask = nib.Nifti1Image(np.zeros((16, 14, 10), np.uint8), np.eye(4))
    nib.save(mask, tmp_path / "case" / "BraTS2021_00042_seg.nii.gz")
    study = load_study(tmp_path / "case")
    for sequence, affine in affines.items():
        assert np.allclose(study[sequence].affine, affine, atol=1e-4)
        assert study[sequence].array[3, 4, 5] == pytest.approx(render(affine, (16, 14, 10), OFFSETS[sequence])[3, 4, 5])
    assert study["T1wCE"].identified_by == f"file name 'BraTS2021_00042{suffixes['T1wCE']}.nii.gz'"
    assert any("segmentation/mask" in w for w in study.warnings)


def test_4d_nifti_is_refused(tmp_path: Path) -> None:
    write_nifti_study(tmp_path / "case", BRATS_2021)
    series_4d = nib.Nifti1Image(np.zeros((8, 8, 8, 3), np.float32), np.eye(4))
    nib.save(series_4d, tmp_path / "case" / "BraTS2021_00042_t2.nii.gz")
    with pytest.raises(InputError) as err:
        load_study(tmp_path / "case")
    assert "'BraTS2021_00042_t2.nii.gz' is 4D with shape (8, 8, 8, 3)" in err.value.user_message


def test_nan_voxels_are_refused(tmp_path: Path) -> None:
    write_nifti_study(tmp_path / "case", BRATS_2021)
    data = np.ones((8, 8, 8), np.float32)
    data[1, 2, 3] = np.nan
    data[2, 2, 2] = np.inf
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "case" / "BraTS2021_00042_flair.nii.gz")
    with pytest.raises(InputError) as err:
        load_study(tmp_path / "case")
    assert "'BraTS2021_00042_flair.nii.gz' has 2 NaN or infinite voxels" in err.value.user_message


def test_damaged_nifti_is_refused(tmp_path: Path) -> None:
    write_nifti_study(tmp_path / "case", BRATS_2021)
    path = tmp_path / "case" / "BraTS2021_00042_t1.nii.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError) as err:
        load_study(tmp_path / "case")
    assert "BraTS2021_00042_t1.nii.gz" in err.value.user_message


def test_dicom_and_nifti_mixed_is_refused(tmp_path: Path, study_dir) -> None:
    root, _ = study_dir
    write_nifti_study(root, BRATS_2021)
    with pytest.raises(InputError) as err:
        load_study(root)
    assert "both DICOM series (4) and NIfTI images (4)" in err.value.user_message
