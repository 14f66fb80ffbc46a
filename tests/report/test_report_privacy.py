"""Reports carry the patient only where they must (the SR; the PDF when asked) and leave it nowhere else: not in
the JSON report, the log, the server's files or its log lines."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest

from core.config import get_settings
from core.report import ReportRequest
from core.service import Service
from tests.report.conftest import patient_words
from tests.test_privacy import files_leaking, found_in, stored_text


def test_a_prediction_with_both_reports_stores_and_logs_no_patient(dicom_case: Path, source_header: pydicom.Dataset,
                                                                   tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    secrets = [*patient_words(source_header), str(source_header.StudyInstanceUID),
               str(source_header.SeriesInstanceUID), str(source_header.AccessionNumber)]
    data = tmp_path / "data"
    settings = replace(get_settings(), data_dir=data, db_path=data / "mgmt.duckdb")
    with caplog.at_level(logging.DEBUG):
        outcome = Service(settings=settings, import_cohort=False).start(background=False).predict(
            dicom_case, reports=ReportRequest(include_identity=True))
    sr = pydicom.dcmread(io.BytesIO(outcome.documents.made["sr"].data))
    assert sr.PatientID == source_header.PatientID  # the SR carries the patient, back to the uploader only
    assert found_in(json.dumps(outcome.report), secrets) == []
    assert found_in(stored_text(data / "mgmt.duckdb"), secrets) == []
    assert files_leaking(data, secrets) == {}
    assert found_in(caplog.text, secrets) == []
