"""Every bad study a user can upload gets an InputError naming the file, what was found and what was expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG2MPML

from core.errors import InputError
from core.ingest import load_study
from core.synth.dicom_writer import PatientHeader
from tests.conftest import PATIENT, write_study


def _message(path: Path) -> str:
    with pytest.raises(InputError) as err:
        load_study(path)
    return err.value.user_message


def _edit(path: Path, **changes) -> None:
    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "'empty' is empty; expected a study folder" in _message(tmp_path / "empty")


def test_folder_without_dicom_or_nifti(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "report.txt").write_text("hello")
    (tmp_path / "notes" / "scan.dcm").write_bytes(b"not really dicom" * 20)
    message = _message(tmp_path / "notes")
    assert "holds no DICOM image or NIfTI file" in message and "report.txt" in message


def test_stray_files_and_dicomdir_are_reported_not_fatal(study_dir) -> None:
    root, _ = study_dir
    (root / "README.txt").write_text("exported by PACS")
    shutil.copy(root / "FLAIR" / "Image-1.dcm", root / "DICOMDIR")
    study = load_study(root)
    assert any("README.txt" in w and "DICOMDIR" in w for w in study.warnings)


def test_a_missing_sequence_is_read_as_missing_not_refused(study_dir) -> None:
    root, _ = study_dir
    shutil.rmtree(root / "T1wCE")
    study = load_study(root)
    assert study.missing == ("T1wCE",) and list(study.volumes) == ["FLAIR", "T1w", "T2w"]


def test_two_patients_mixed(tmp_path: Path) -> None:
    write_study(tmp_path / "a")
    other = PatientHeader("OTHER^PERSON", "PID-OTHER", "19600101", "M", "ACC2", PATIENT.study_uid)
    write_study(tmp_path / "b", patient=other, seed=1)
    shutil.rmtree(tmp_path / "a" / "T2w")
    shutil.move(tmp_path / "b" / "T2w", tmp_path / "a" / "T2w")
    message = _message(tmp_path / "a")
    assert "mixes 2 patients" in message and "'T2w/'" in message and "Upload each study on its own" in message
    assert "PID-OTHER" not in message and "PID-SECRET" not in message


def test_two_studies_mixed(tmp_path: Path) -> None:
    write_study(tmp_path / "a")
    later = PatientHeader(*[getattr(PATIENT, f) for f in ("patient_name", "patient_id", "birth_date", "sex",
                                                           "accession_number")], study_uid="1.2.3.4.5.6")
    write_study(tmp_path / "b", patient=later, seed=1)
    shutil.rmtree(tmp_path / "a" / "FLAIR")
    shutil.move(tmp_path / "b" / "FLAIR", tmp_path / "a" / "FLAIR")
    assert "mixes 2 studies" in _message(tmp_path / "a")


def test_one_slice_series(study_dir) -> None:
    root, _ = study_dir
    for path in sorted((root / "T1w").iterdir())[1:]:
        path.unlink()
    message = _message(root)
    assert "'T1w/' (1 files) has a single slice" in message and "expected a 3D series" in message


def test_slices_with_different_matrix_sizes(study_dir) -> None:
    root, _ = study_dir
    path = root / "FLAIR" / "Image-3.dcm"
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = 9, 10
    ds.PixelData = np.zeros((9, 10), np.uint16).tobytes()
    ds.save_as(path)
    message = _message(root)
    assert "mixes matrix sizes" in message and "Image-3.dcm" in message and "9x10" in message


def test_slices_with_different_orientations(study_dir) -> None:
    root, _ = study_dir
    _edit(root / "T2w" / "Image-5.dcm", ImageOrientationPatient=[0, 1, 0, 0, 0, -1])
    message = _message(root)
    assert "mixes slice orientations" in message and "Image-5.dcm" in message


def test_slices_without_position_tags(study_dir) -> None:
    root, _ = study_dir
    _edit(root / "T1wCE" / "Image-2.dcm", ImagePositionPatient=None)
    message = _message(root)
    assert "Image-2.dcm" in message and "lacks ImagePositionPatient" in message


def test_truncated_dicom_file(study_dir) -> None:
    root, _ = study_dir
    path = root / "FLAIR" / "Image-4.dcm"
    path.write_bytes(path.read_bytes()[:-300])
    message = _message(root)
    assert "FLAIR/Image-4.dcm" in message and "cannot be decoded" in message


def test_pydicom_truncated_file_is_reported(tmp_path: Path) -> None:
    write_study(tmp_path / "case")
    shutil.rmtree(tmp_path / "case" / "T2w")
    (tmp_path / "case" / "T2w").mkdir()
    for k, name in enumerate(["MR_truncated.dcm", "MR_small.dcm", "MR_small.dcm"]):
        ds = pydicom.dcmread(get_testdata_file(name))
        ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = PATIENT.patient_id, PATIENT.study_uid, "1.2.3.77"
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.save_as(tmp_path / "case" / "T2w" / f"Image-{k + 1}.dcm")
    message = _message(tmp_path / "case")
    assert "'T2w/Image-1.dcm'" in message and "cannot be decoded" in message and "less than expected" in message


def test_non_mr_modality(study_dir) -> None:
    root, _ = study_dir
    for path in (root / "T2w").iterdir():
        _edit(path, Modality="CT")
    message = _message(root)
    assert "is modality CT" in message and "'T2w/'" in message and "expected MR images" in message


def test_undecodable_transfer_syntax(study_dir) -> None:
    root, _ = study_dir
    for path in (root / "T1w").iterdir():
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = MPEG2MPML
        ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
        ds["PixelData"].VR = "OB"
        ds.save_as(path)
    message = _message(root)
    assert "T1w/Image-" in message and "MPEG2" in message and "cannot be decoded" in message


def test_volume_beyond_sane_size(study_dir, monkeypatch) -> None:
    root, _ = study_dir
    monkeypatch.setenv("MGMT_MAX_VOXELS", "1000")
    message = _message(root)
    assert "20 x 18 x 12 voxels (4,320)" in message and "at most" in message


def test_duplicate_slice_positions(study_dir) -> None:
    root, _ = study_dir
    ds = pydicom.dcmread(root / "FLAIR" / "Image-1.dcm")
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.InstanceNumber = 99
    ds.save_as(root / "FLAIR" / "Image-99.dcm")
    assert "several slices at the same position" in _message(root)


def test_localizer_is_skipped_and_reported(study_dir) -> None:
    root, _ = study_dir
    (root / "loc").mkdir()
    for k, path in enumerate(sorted((root / "FLAIR").iterdir())[:3]):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = "1.2.3.999"
        ds.SeriesDescription = "3-plane localizer"
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(root / "loc" / f"loc{k}.dcm")
    study = load_study(root)
    assert any("'3-plane localizer'" in w and "localizer" in w for w in study.warnings)
