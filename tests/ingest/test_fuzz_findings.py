"""Damage the fuzzer (tests/ingest/test_fuzz.py) found escaping as a crash, now an InputError naming the file."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import nibabel as nib
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian

from core import SEQUENCES
from tests.conftest import OFFSETS, PLANES, render, series_affine
from tests.ingest.test_bad_input import _edit, _message

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")  # the damage is on purpose
NIFTI_DATATYPE_OFFSET = 70
"""Byte offset of the int16 ``datatype`` field in a NIfTI-1 header."""


def _edit_all(folder: Path, **changes) -> None:
    for path in folder.iterdir():
        _edit(path, **changes)


def test_rows_missing_from_every_slice(study_dir) -> None:
    root, _ = study_dir
    _edit_all(root / "T1w", Rows=None)  # was AttributeError: 'FileDataset' object has no attribute 'Rows'
    message = _message(root)
    assert "T1w/Image-" in message and "Rows (missing)" in message
    assert "expected the size of its pixel matrix" in message


def test_zip_entry_name_flagged_utf8_that_is_not(study_dir, tmp_path: Path) -> None:
    root, _ = study_dir
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(root.rglob("*.dcm")):
            archive.write(path, f"case/{path.relative_to(root).as_posix()}")
        archive.writestr("case/notes-ü.txt", b"hello")  # a non-ASCII name: stored with the UTF-8 flag
    data = buffer.getvalue()
    directory = data.rindex("notes-ü".encode())  # the central directory's copy of the name, after the entries
    (tmp_path / "case.zip").write_bytes(data[:directory] + b"notes-\xc3\x28" + data[directory + 8:])
    message = _message(tmp_path / "case.zip")  # was UnicodeDecodeError from zipfile
    assert "'case.zip' is not a readable zip archive" in message and "codec can't decode" in message


def test_deflated_transfer_syntax_over_plain_bytes(study_dir) -> None:
    root, _ = study_dir
    path = root / "FLAIR" / "Image-3.dcm"
    data = bytearray(path.read_bytes())
    explicit = b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"  # (0002,0010) in the file meta
    deflated = b"\x02\x00\x10\x00UI\x16\x00" + str(DeflatedExplicitVRLittleEndian).encode()
    group_length = int.from_bytes(data[140:144], "little")  # (0002,0000) UL, the first element after 'DICM'
    data[140:144] = (group_length + len(deflated) - len(explicit)).to_bytes(4, "little")
    assert data.count(explicit) == 1
    path.write_bytes(bytes(data).replace(explicit, deflated))  # the meta says deflated; the dataset is not
    message = _message(root)  # was zlib.error: invalid stored block lengths
    assert "'FLAIR/Image-3.dcm' is a damaged or truncated DICOM file" in message


def test_element_with_a_length_its_type_cannot_have(study_dir) -> None:
    root, _ = study_dir
    path = root / "T2w" / "Image-2.dcm"
    ds = pydicom.dcmread(path)
    tag = Tag("Columns")
    ds._dict[tag] = RawDataElement(tag, "US", 3, b"\x01\x02\x03", 0, False, True)
    ds.save_as(path)
    message = _message(root)  # was pydicom's BytesLengthException
    assert "'T2w/Image-2.dcm' is a damaged or truncated DICOM file" in message and "bytes" in message


def test_header_element_with_an_unknown_value_representation(study_dir) -> None:
    root, _ = study_dir
    path = root / "T1wCE" / "Image-4.dcm"
    data = path.read_bytes()
    position = b"\x20\x00\x32\x00DS"  # ImagePositionPatient, explicit VR little endian
    assert data.count(position) == 1
    path.write_bytes(data.replace(position, b"\x20\x00\x32\x00Dj"))
    message = _message(root)  # was NotImplementedError: Unknown Value Representation 'Dj'
    assert "'T1wCE/Image-4.dcm' is a damaged or truncated DICOM file" in message and "'Dj'" in message


def test_orientation_that_is_not_finite(study_dir) -> None:
    root, _ = study_dir
    _edit_all(root / "FLAIR", ImageOrientationPatient=["inf", 0, 0, 0, 1, 0])
    message = _message(root)  # was ValueError: cannot convert float NaN to integer
    assert "FLAIR/Image-" in message and "ImageOrientationPatient that is not finite" in message


def test_orientation_that_is_not_two_unit_vectors(study_dir) -> None:
    root, _ = study_dir
    _edit_all(root / "FLAIR", ImageOrientationPatient=[1, 0, 0, 1, 0, 0])
    message = _message(root)
    assert "FLAIR/Image-" in message and "not perpendicular unit vectors" in message


def test_position_with_two_values(study_dir) -> None:
    root, _ = study_dir
    _edit(root / "T2w" / "Image-7.dcm", ImagePositionPatient=[0.0, 0.0])
    message = _message(root)  # was ValueError: inhomogeneous shape
    assert "'T2w/Image-7.dcm' has an ImagePositionPatient with 2 values; expected 3" in message


def test_position_far_from_the_other_slices(study_dir) -> None:
    root, _ = study_dir
    _edit(root / "T1w" / "Image-5.dcm", ImagePositionPatient=[1e300, 0, 0])
    message = _message(root)  # was ValueError: Maximum allowed size exceeded (an interpolated grid of 1e299 slices)
    assert "'T1w/Image-5.dcm'" in message and "is the ImagePositionPatient of one file wrong?" in message


@pytest.mark.parametrize("intercept", ["-inf", "nan"])
def test_rescale_that_is_not_finite(study_dir, intercept: str) -> None:
    root, _ = study_dir
    _edit_all(root / "T2w", RescaleIntercept=intercept)
    message = _message(root)  # was accepted, then preprocessing found "0 ml of brain"
    assert "T2w/Image-" in message and "RescaleIntercept that is not finite" in message


@pytest.mark.parametrize("spacing", [1e-300, 1e5])
def test_pixel_spacing_outside_mri_sizes(study_dir, spacing: float) -> None:
    root, _ = study_dir
    _edit_all(root / "T1wCE", PixelSpacing=[spacing, spacing])
    message = _message(root)  # was a TypeError (no axis codes) for 1e-300, a crash in deepbet for 1e5
    assert "'T1wCE/'" in message and "expected 0.05 to 30 mm along each axis" in message


def test_nifti_with_an_unknown_datatype(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    for sequence, suffix in zip(SEQUENCES, ("flair", "t1", "t1ce", "t2"), strict=True):
        affine = series_affine(PLANES[sequence], (16, 14, 10), (1.0, 1.0, 2.0))
        nib.save(nib.Nifti1Image(render(affine, (16, 14, 10), OFFSETS[sequence]), affine),
                 folder / f"BraTS2021_00042_{suffix}.nii")
    path = folder / "BraTS2021_00042_flair.nii"
    data = bytearray(path.read_bytes())
    data[NIFTI_DATATYPE_OFFSET:NIFTI_DATATYPE_OFFSET + 2] = (4096).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    message = _message(folder)  # was nibabel's HeaderDataError: data code 4096 not recognized
    assert "NIfTI file 'BraTS2021_00042_flair.nii' cannot be read" in message and "4096" in message


def test_non_numeric_repetition_time_when_naming_falls_back_to_physics(study_dir) -> None:
    root, _ = study_dir
    shutil.move(root / "T2w", root / "series-7")
    _edit_all(root / "series-7", SeriesDescription=None, ProtocolName=None)
    for path in (root / "series-7").iterdir():
        ds = pydicom.dcmread(path)
        tag = Tag("RepetitionTime")
        ds._dict[tag] = RawDataElement(tag, "DS", 4, b"abc ", 0, False, True)
        ds.save_as(path)
    message = _message(root)  # was ValueError: could not convert string to float: 'abc'
    assert "'series-7/Image-" in message and "unreadable RepetitionTime ('abc'); expected numbers" in message
