"""The PDF report, read back as text with pdftotext: notice first, the answer, provenance; a patient only if asked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.ingest.identity import SourceIdentity
from core.notice import RESEARCH_NOTICE
from core.report import ReportRequest, make_documents
from core.report.pdf import pdf_report
from core.report.slices import key_point, key_slices
from core.service import Outcome
from tests.report.conftest import patient_words


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The PDF's text in reading order (pdftotext, poppler-utils), whitespace runs made single spaces."""
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def test_the_notice_comes_first_then_probability_label_and_model(outcome: Outcome, tmp_path: Path) -> None:
    report = outcome.report
    text = pdf_text(outcome.documents.made["pdf"].data, tmp_path)
    low, high = report["uncertainty"]["interval90"]
    assert text.startswith(" ".join(RESEARCH_NOTICE.split()))
    assert f"P(methylated) = {report['probability']:.3f} (90% interval {low:.3f} to {high:.3f}" in text
    assert f"Label: {report['label']}" in text
    assert f"model {report['model']['repo']} revision {report['model']['revision']}" in text
    assert text.index("Research use only") < text.index("P(methylated)")


def test_the_pdf_shows_which_series_became_which_sequence_and_the_three_planes(outcome: Outcome,
                                                                               tmp_path: Path) -> None:
    text = pdf_text(outcome.documents.made["pdf"].data, tmp_path)
    for name, sequence in outcome.report["sequences"].items():
        assert f"{name} {sequence['source'].split()[0]}" in text
    assert all(f"{plane}, " in text for plane in ("Axial", "Coronal", "Sagittal"))
    assert "T1wCE through the tumour centre" in text  # the model measures the tumour: the slices go through it


def test_the_pdf_names_no_patient_by_default(outcome: Outcome, source_header: pydicom.Dataset,
                                              tmp_path: Path) -> None:
    text = pdf_text(outcome.documents.made["pdf"].data, tmp_path)
    assert [word for word in patient_words(source_header) if word.lower() in text.lower()] == []
    assert "Patient identity: not included" in text


def test_the_pdf_names_the_patient_when_asked(outcome: Outcome, identity: SourceIdentity,
                                              source_header: pydicom.Dataset, tmp_path: Path) -> None:
    asked = make_documents(outcome.prediction, outcome.report, identity, ReportRequest(("pdf",), True))
    text = pdf_text(asked.made["pdf"].data, tmp_path)
    name = str(source_header.PatientName).replace("^", " ")
    assert f"Patient name {name}" in text and f"Patient ID {source_header.PatientID}" in text


def test_the_file_name_is_the_study_hash_not_the_patient(outcome: Outcome, source_header: pydicom.Dataset) -> None:
    names = [document.file_name for document in outcome.documents.made.values()]
    assert names == [f"mgmt-report-{outcome.report['study_hash'][:16]}.pdf",
                     f"mgmt-report-{outcome.report['study_hash'][:16]}.dcm"]


def test_an_abstention_shows_its_reasons_checks_volumes_and_contributions(outcome: Outcome, tmp_path: Path) -> None:
    report = {**outcome.report, "label": "indeterminate", "abstained": True,
              "reasons": ["The T1wCE series looks out of distribution (score 9.1 above 4.0)."],
              "quality": [{"check": "snr", "sequence": "T1wCE", "status": "fail", "value": 2.5,
                           "detail": "signal-to-noise too low"}],
              "tumour": {"volumes_ml": {"enhancing": 12.25, "oedema": 40.5}, "centre_mm": [1.0, 2.0, 3.0]},
              "contributions": {"FLAIR": 0.031, "T1wCE": -0.12}}
    text = pdf_text(pdf_report(report, None), tmp_path)
    assert "The model abstains: label indeterminate." in text and "Label: indeterminate" not in text
    assert "score 9.1 above 4.0" in text and "For reference only" in text
    assert "snr T1wCE fail 2.5 signal-to-noise too low" in text
    assert "volumes_ml: enhancing 12.2" in text and "volumes_ml: oedema 40.5" in text
    assert "FLAIR 0.031" in text and "T1wCE -0.12" in text


def test_the_slices_go_through_the_tumour_centre_when_there_is_one() -> None:
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = -96.0
    cam = np.zeros((64, 64, 64), np.float32)
    cam[10, 20, 30] = 1.0
    assert key_point(affine, cam.shape, cam, None, {"centre_mm": [0.0, 3.0, -6.0]}) == ((32, 33, 30), "tumour centre")
    assert key_point(affine, cam.shape, cam, None, None) == ((10, 20, 30), "Grad-CAM peak")
    assert key_point(affine, cam.shape, None, None, {}) == ((32, 32, 32), "grid centre")


@pytest.mark.parametrize("text", ["Åsa Ñúñez ≥ 0.5 – ok", "王小明"])
def test_text_outside_the_built_in_font_does_not_break_the_pdf(outcome: Outcome, text: str, tmp_path: Path) -> None:
    report = {**outcome.report, "warnings": [text]}
    assert "Warning:" in pdf_text(pdf_report(report, None), tmp_path)


def test_the_key_slices_stay_on_one_page_when_every_section_is_present(outcome: Outcome, tmp_path: Path) -> None:
    report = {**outcome.report, "label": "indeterminate", "abstained": True,
              "reasons": ["The T1wCE series looks unlike the training data.", "The T2w series is too noisy."],
              "quality": [{"check": f"check {n}", "sequence": "T2w", "status": "pass", "value": n,
                           "detail": "fine"} for n in range(2)],
              "tumour": {"volumes_ml": {"enhancing": 12.25, "necrosis": 3.1, "oedema": 40.5, "whole": 55.85},
                         "centre_mm": [20.0, -10.0, 15.0]},
              "contributions": {"FLAIR": 0.031, "T1w": 0.004, "T1wCE": -0.12, "T2w": 0.02}}
    prepared = outcome.prediction.artefacts.prepared
    sequence, planes = key_slices(prepared.intensities, prepared.sequences, prepared.grid.affine, None, None,
                                  (32, 32, 32))
    path = tmp_path / "full.pdf"
    path.write_bytes(pdf_report(report, (sequence, "grid centre", planes)))
    pages = [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(path), "-"], capture_output=True,
                            text=True, check=True).stdout for n in (1, 2)]
    (page,) = [text for text in pages if "Key slices" in text]
    assert all(f"{plane}, " in page for plane in ("Axial", "Coronal", "Sagittal"))


def test_a_prediction_without_a_map_says_so_under_its_slices(outcome: Outcome, tmp_path: Path) -> None:
    prepared = outcome.prediction.artefacts.prepared
    sequence, planes = key_slices(prepared.intensities, prepared.sequences, prepared.grid.affine, None, None,
                                  (32, 32, 32))
    text = pdf_text(pdf_report(outcome.report, (sequence, "grid centre", planes)), tmp_path)
    assert "T1wCE through the grid centre, without a Grad-CAM map" in text and "Grad-CAM map of" not in text
