"""DICOM series become volumes whose voxels sit at the right world coordinates, whatever the plane or order."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from core.ingest import load_study
from core.ingest.geometry import world_of_voxels
from tests.conftest import OFFSETS, field_value, write_study


def _max_field_error(volume, offset: float, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    ijk = np.stack([rng.integers(0, n, 200) for n in volume.shape], axis=1)
    world = world_of_voxels(volume.affine, ijk)
    values = volume.intensities()[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    return float(np.max(np.abs(values - field_value(world, offset))))


@pytest.mark.parametrize("plane", ["axial", "sagittal", "coronal", "oblique"])
@pytest.mark.parametrize("order", ["shuffled", "descending", "offset"])
def test_world_coordinates_survive_every_plane_and_instance_order(tmp_path: Path, plane: str, order: str) -> None:
    written = write_study(tmp_path / "case", planes=dict.fromkeys(OFFSETS, plane), order=order)
    study = load_study(tmp_path / "case")
    for sequence, series in written.items():
        volume = study[sequence]
        assert volume.plane == plane
        assert volume.shape == series.shape
        # slope 0.5 quantises stored values to 0.25 at most
        assert _max_field_error(volume, series.offset) <= 0.26


def test_corner_voxels_land_on_the_written_world_positions(study_dir) -> None:
    root, written = study_dir
    study = load_study(root)
    for sequence, series in written.items():
        volume = study[sequence]
        corners = np.array([[0, 0, 0], [series.shape[0] - 1, series.shape[1] - 1, series.shape[2] - 1]])
        expected = {tuple(np.round(p, 3)) for p in world_of_voxels(series.affine, corners)}
        loaded_corners = np.array([[i, j, k] for i in (0, volume.shape[0] - 1) for j in (0, volume.shape[1] - 1)
                                   for k in (0, volume.shape[2] - 1)])
        loaded = {tuple(np.round(p, 3)) for p in world_of_voxels(volume.affine, loaded_corners)}
        assert expected <= loaded


def test_slices_follow_position_not_instance_number_or_file_name(study_dir) -> None:
    root, written = study_dir
    numbers = sorted(p.name for p in (root / "FLAIR").iterdir())
    assert numbers != sorted(numbers, key=lambda n: int(n.split("-")[1].split(".")[0]))  # names scrambled
    volume = load_study(root)["FLAIR"]
    along_slices = np.diff(volume.intensities().mean(axis=(0, 1)))
    assert np.all(along_slices > 0) or np.all(along_slices < 0)  # the linear field is monotonic along k
    assert np.allclose(np.linalg.norm(volume.affine[:3, 2]), 3.0)


def test_rescale_slope_and_intercept_are_applied(tmp_path: Path) -> None:
    written = write_study(tmp_path / "case", rescale=(2.0, -500.0))
    ds = pydicom.dcmread(next((tmp_path / "case" / "T1w").iterdir()))
    assert float(ds.RescaleSlope) == 2.0 and float(ds.RescaleIntercept) == -500.0
    volume = load_study(tmp_path / "case")["T1w"]
    assert volume.rescale == (2.0, -500.0) and volume.array.dtype == np.uint16  # stored values kept
    assert _max_field_error(volume, written["T1w"].offset) <= 1.01


def test_slices_with_different_rescales_become_float_intensities(tmp_path: Path) -> None:
    written = write_study(tmp_path / "case", rescale=(2.0, -500.0))
    path = sorted((tmp_path / "case" / "FLAIR").iterdir())[0]
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array.astype(float) * 2.0 - 500.0
    ds.RescaleSlope, ds.RescaleIntercept = 4.0, -100.0
    ds.PixelData = np.rint((stored + 100.0) / 4.0).astype(np.uint16).tobytes()
    ds.save_as(path)
    volume = load_study(tmp_path / "case")["FLAIR"]
    assert volume.rescale == (1.0, 0.0) and volume.array.dtype == np.float32
    assert _max_field_error(volume, written["FLAIR"].offset) <= 3.01  # quantised twice: slope 2, then 4


def test_series_spread_across_folders_is_one_series(tmp_path: Path) -> None:
    root = tmp_path / "case"
    write_study(root)
    t2 = sorted((root / "T2w").iterdir())
    (root / "T2w" / "more").mkdir()
    for path in t2[: len(t2) // 2]:
        shutil.move(path, root / "T2w" / "more" / path.name)
    assert load_study(root)["T2w"].shape == (20, 18, 12)


def test_missing_slice_is_reported_and_interpolated(tmp_path: Path) -> None:
    root = tmp_path / "case"
    written = write_study(root, order="ascending")
    (root / "FLAIR" / "Image-6.dcm").unlink()
    study = load_study(root)
    assert any("misses 1 slice" in w for w in study.warnings)
    assert study["FLAIR"].shape == (20, 18, 12)
    assert _max_field_error(study["FLAIR"], written["FLAIR"].offset) <= 0.26  # linear field: exact interpolation


def test_non_uniform_spacing_is_reported_and_resampled(tmp_path: Path) -> None:
    root = tmp_path / "case"
    written = write_study(root, order="ascending")
    path = root / "T1wCE" / "Image-4.dcm"
    ds = pydicom.dcmread(path)
    normal = np.cross(np.array(ds.ImageOrientationPatient[:3], float), np.array(ds.ImageOrientationPatient[3:], float))
    ds.ImagePositionPatient = list(np.array(ds.ImagePositionPatient, float) + 0.9 * normal)
    ds.save_as(path)
    study = load_study(root)
    assert any("non-uniform slice spacing" in w for w in study.warnings)
    assert np.isclose(np.linalg.norm(study["T1wCE"].affine[:3, 2]), 3.0, atol=0.01)
    assert written["T1wCE"].offset == OFFSETS["T1wCE"]


@pytest.mark.parametrize(
    "variant",
    ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
     "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_padded.dcm"],
)
def test_pydicom_mr_files_decode_to_the_reference_pixels(tmp_path: Path, variant: str) -> None:
    reference = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array.astype(np.float32)
    root = tmp_path / "case"
    for sequence, source in zip(OFFSETS, [variant, "MR_small.dcm", variant, "MR_small.dcm"], strict=True):
        _stack_copies(get_testdata_file(source), root / sequence, n=3)
    study = load_study(root)
    volume = study["FLAIR"]
    assert volume.shape == (64, 64, 3)
    for k in range(3):
        np.testing.assert_array_equal(volume.intensities()[:, :, k].T, reference)
    # the header says: first pixel at (-83.9063, -91.2, 6.6406) LPS, rows along +x (L), 0.3125 mm
    assert np.allclose(volume.affine[:3, 3], [83.9063, 91.2, 6.6406])
    assert np.allclose(np.diag(volume.affine)[:3], [-0.3125, -0.3125, 2.0])


def _stack_copies(source: str, folder: Path, n: int) -> None:
    """n copies of one real slice as a series 2 mm apart, InstanceNumbers reversed."""
    folder.mkdir(parents=True)
    series_uid = pydicom.uid.generate_uid()
    for k in range(n):
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        position = [float(v) for v in ds.ImagePositionPatient]
        ds.ImagePositionPatient = [position[0], position[1], position[2] + 2.0 * k]
        ds.InstanceNumber = n - k
        ds.save_as(folder / f"slice{n - k}.dcm")


def test_jpeg_baseline_series_decodes(tmp_path: Path) -> None:
    from io import BytesIO

    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    root = tmp_path / "case"
    write_study(root, rescale=(1.0, 0.0))
    image = (np.arange(20 * 18).reshape(18, 20) % 200 + 20).astype(np.uint8)
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=100, subsampling=0)
    for path in (root / "T2w").iterdir():
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = encapsulate([buffer.getvalue()])
        ds["PixelData"].VR = "OB"
        ds.save_as(path)
    volume = load_study(root)["T2w"]
    assert np.max(np.abs(volume.intensities()[:, :, 0].T - image)) <= 3  # lossy, at quality 100


def test_privacy_nothing_identifying_leaves_ingest(study_dir) -> None:
    root, _ = study_dir
    study = load_study(root)
    text = repr(study.summary()) + repr([v.source for v in study.volumes.values()])
    for secret in ("SECRETNAME", "PID-SECRET-0042", "19510203", "ACC-SECRET-77", "1.2.826.0.1.3680043.8.498"):
        assert secret not in text
    assert len(study.study_hash) == 24


def test_study_hash_is_salted(study_dir, monkeypatch) -> None:
    root, _ = study_dir
    monkeypatch.setenv("MGMT_SALT", "one")
    first = load_study(root).study_hash
    assert load_study(root).study_hash == first
    monkeypatch.setenv("MGMT_SALT", "two")
    assert load_study(root).study_hash != first
