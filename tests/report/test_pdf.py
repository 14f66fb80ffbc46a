"""The PDF report, read back with pdftotext: one page, notice first, the call or why there is none, the checks in
one line, the tumour in ml and mm, no raw keys or e-notation, the model; a patient only if asked."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.inference.tumour import Tumour
from core.ingest.identity import SourceIdentity
from core.notice import RESEARCH_NOTICE
from core.quality.result import QualityCheck
from core.report import ReportRequest, make_documents
from core.report.pdf import pdf_report
from core.report.slices import key_point, key_slices
from core.report.wording import call_sentence, quality_line
from core.service import Outcome
from tests.report.conftest import patient_words


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The PDF's text in reading order (pdftotext, poppler-utils), whitespace runs made single spaces."""
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def page_count(data: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def test_the_report_is_one_page(outcome: Outcome, tmp_path: Path) -> None:
    assert page_count(outcome.documents.made["pdf"].data, tmp_path) == 1


def test_the_notice_comes_first_then_the_call_sentence_and_the_model(outcome: Outcome, tmp_path: Path) -> None:
    result = outcome.prediction.result
    text = pdf_text(outcome.documents.made["pdf"].data, tmp_path)
    assert text.startswith(" ".join(RESEARCH_NOTICE.split()))
    assert " ".join(call_sentence(result).split()) in text
    assert f"Model {result.provenance.repo}, revision {result.provenance.revision}" in text
    assert text.index("Research use only") < text.index(call_sentence(result)[:20])


def test_quality_is_one_line_and_only_what_did_not_pass_is_listed(outcome: Outcome, tmp_path: Path) -> None:
    checks = (*outcome.prediction.result.quality,
              QualityCheck("coverage", "T2w", "warn", 0.61, "The T2w series covers 61% of the brain."))
    text = pdf_text(pdf_report(replace(outcome.prediction.result, quality=checks), None), tmp_path)
    passed = sum(check.status == "pass" for check in checks)
    assert f"{passed} of {len(checks)} quality checks passed (1 warning)." in text
    assert "Warning (T2w): The T2w series covers 61% of the brain." in text
    assert all(check.detail not in text for check in checks if check.status == "pass")


def test_no_raw_keys_and_no_e_notation_even_for_a_large_volume(outcome: Outcome, tmp_path: Path) -> None:
    result = outcome.prediction.result
    tumour = Tumour({**result.tumour.volumes_ml, "whole": 2157.4}, (12.345, -30.0, 8.0))
    text = pdf_text(pdf_report(replace(result, tumour=tumour), None), tmp_path)
    assert "2157 ml" in text and "x +12, y -30, z +8 mm" in text
    assert re.search(r"\d\.?\d*e[+-]\d", text) is None
    assert re.findall(r"[a-z]+_[a-z0-9]+", text) == []  # volumes_ml, centre_mm, interval90 ...
    assert "interval90" not in text


def test_an_abstention_gives_its_reasons_and_marks_the_probability_as_not_a_result(outcome: Outcome,
                                                                                   tmp_path: Path) -> None:
    reason = "The study is unlike the training data (distance 30.1, beyond the threshold 11.7)."
    result = replace(outcome.prediction.result, label="indeterminate", abstained=True, reasons=(reason,))
    text = pdf_text(pdf_report(result, None), tmp_path)
    assert f"No call: the tool abstains on this study. {reason}" in text
    assert "For reference only, not a result: P(methylated)" in text


def test_a_call_states_the_label_with_the_probability_in_percent(outcome: Outcome, tmp_path: Path) -> None:
    result = replace(outcome.prediction.result, label="unmethylated", abstained=False, reasons=(), probability=0.1234,
                     uncertainty=replace(outcome.prediction.result.uncertainty, interval90=(0.05, 0.2)))
    text = pdf_text(pdf_report(result, None), tmp_path)
    assert ("The model calls the MGMT promoter unmethylated: P(methylated) 12% (90% interval 5% to 20%)." in text)
    assert "For reference only" not in text


def test_the_slices_show_the_segmentation_outline_through_the_tumour_centre(outcome: Outcome, tmp_path: Path) -> None:
    text = pdf_text(outcome.documents.made["pdf"].data, tmp_path)
    assert all(f"{plane}, " in text for plane in ("Axial", "Coronal", "Sagittal"))
    assert "T1wCE through the tumour centre, with the segmentation outline (blue necrotic core" in text


def test_the_outline_is_drawn_in_the_label_colours(outcome: Outcome) -> None:
    artefacts = outcome.prediction.artefacts
    prepared = artefacts.prepared
    point = tuple(int(v) for v in np.argwhere(artefacts.segmentation == 2).mean(axis=0))
    _, planes = key_slices(prepared.intensities, prepared.sequences, prepared.grid.affine, None, None, point,
                           artefacts.segmentation)
    pixels = np.asarray(planes[0].image).reshape(-1, 3)
    assert planes[0].outline and np.any(np.all(pixels == (50, 205, 50), axis=1))  # oedema: green


def test_the_pdf_shows_which_series_became_which_sequence(outcome: Outcome, tmp_path: Path) -> None:
    text = pdf_text(outcome.documents.made["pdf"].data, tmp_path)
    for sequence in outcome.prediction.result.sequences.values():
        assert sequence.source in text and sequence.identified_by in text


def test_the_pdf_names_no_patient_by_default(outcome: Outcome, source_header: pydicom.Dataset,
                                              tmp_path: Path) -> None:
    text = pdf_text(outcome.documents.made["pdf"].data, tmp_path)
    assert [word for word in patient_words(source_header) if word.lower() in text.lower()] == []
    assert "Patient identity: not included" in text


def test_the_pdf_names_the_patient_when_asked(outcome: Outcome, identity: SourceIdentity,
                                              source_header: pydicom.Dataset, tmp_path: Path) -> None:
    asked = make_documents(outcome.prediction, identity, ReportRequest(("pdf",), True))
    text = pdf_text(asked.made["pdf"].data, tmp_path)
    name = str(source_header.PatientName).replace("^", " ")
    assert f"Patient name {name}" in text and f"Patient ID {source_header.PatientID}" in text
    assert page_count(asked.made["pdf"].data, tmp_path) == 1


def test_the_file_names_are_the_study_hash_not_the_patient(outcome: Outcome) -> None:
    stem = f"mgmt-report-{outcome.prediction.result.study_hash[:16]}"
    assert {kind: document.file_name for kind, document in outcome.documents.made.items()} == {
        "pdf": f"{stem}.pdf", "sr": f"{stem}.dcm", "seg": f"{stem}.seg.dcm"}


def test_the_slices_go_through_the_tumour_centre_when_there_is_one() -> None:
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = -96.0
    cam = np.zeros((64, 64, 64), np.float32)
    cam[10, 20, 30] = 1.0
    assert key_point(affine, cam.shape, cam, None, (0.0, 3.0, -6.0)) == ((32, 33, 30), "tumour centre")
    assert key_point(affine, cam.shape, cam, None, None) == ((10, 20, 30), "Grad-CAM peak")
    assert key_point(affine, cam.shape, None, None, None) == ((32, 32, 32), "grid centre")


@pytest.mark.parametrize("text", ["Åsa Ñúñez ≥ 0.5 – ok", "王小明"])
def test_text_outside_the_built_in_font_does_not_break_the_pdf(outcome: Outcome, text: str, tmp_path: Path) -> None:
    result = replace(outcome.prediction.result, warnings=(text,))
    assert "Warning:" in pdf_text(pdf_report(result, None), tmp_path)


def test_every_section_at_once_still_fits_one_page(outcome: Outcome, identity: SourceIdentity,
                                                   tmp_path: Path) -> None:
    result = outcome.prediction.result
    failing = tuple(QualityCheck(f"check {n}", "T2w", "fail", n, f"Problem number {n} with the T2w series.")
                    for n in range(4))
    crowded = replace(result, abstained=True, label="indeterminate", quality=result.quality + failing,
                      reasons=tuple(check.detail for check in failing), warnings=("A warning about the study.",) * 3)
    prepared = outcome.prediction.artefacts.prepared
    sequence, planes = key_slices(prepared.intensities, prepared.sequences, prepared.grid.affine, None, None,
                                  (32, 32, 32), outcome.prediction.artefacts.segmentation)
    data = pdf_report(crowded, (sequence, "grid centre", planes), identity)
    assert page_count(data, tmp_path) == 1
    assert quality_line(crowded.quality) in pdf_text(data, tmp_path)
