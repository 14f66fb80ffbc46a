"""``python -m core predict PATH --report DIR``: the PDF, the DICOM SR and SEG written, named by the study's hash."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

from core.__main__ import main


def test_report_writes_the_pdf_the_sr_and_the_seg_named_without_the_patient(
        synthetic_case: Path, tmp_path: Path, db: Path, capsys: pytest.CaptureFixture) -> None:
    case = synthetic_case
    header = pydicom.dcmread(next((case / "T1w").glob("*.dcm")), stop_before_pixels=True)
    assert main(["predict", str(case), "--json", "--no-log", "--report", str(tmp_path / "reports")]) == 0
    said = capsys.readouterr()
    stem = f"mgmt-report-{json.loads(said.out)['study_hash'][:16]}"
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [f"{stem}.dcm", f"{stem}.pdf",
                                                                         f"{stem}.seg.dcm"]
    assert pydicom.dcmread(tmp_path / "reports" / f"{stem}.seg.dcm").Modality == "SEG"
    assert (tmp_path / "reports" / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")
    assert pydicom.dcmread(tmp_path / "reports" / f"{stem}.dcm").StudyInstanceUID == header.StudyInstanceUID
    assert f"report: {tmp_path / 'reports' / stem}.pdf" in said.err
    assert str(header.PatientID) not in said.out + said.err


def test_a_nifti_study_gets_the_pdf_the_label_map_and_an_error_for_the_sr(
        bases: dict[str, Path], tmp_path: Path, db: Path, capsys: pytest.CaptureFixture) -> None:
    case = bases["nifti"]
    assert main(["predict", str(case), "--no-log", "--no-cam", "--report", str(tmp_path)]) == 2
    said = capsys.readouterr()
    assert sorted("".join(p.suffixes) for p in tmp_path.iterdir()) == [".pdf", ".seg.nii.gz"]
    assert "error: A DICOM Structured Report needs a DICOM study" in said.err
    assert "P(methylated) = " in said.out  # the prediction itself was printed
