"""``POST /api/predict?report=pdf|sr|seg``: the document instead of the JSON, with its media type; refusals as JSON."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from starlette.applications import Starlette

from core.api import api_routes
from core.config import get_settings
from core.service import Service, reset_service
from tests.api.asgi import Answer, call, multipart
from tests.api.uploads import study_zip
from tests.report.test_pdf import pdf_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    """The API routes in this process, over a service of the bundled model with its own store."""
    data = tmp_path_factory.mktemp("api-report-data")
    settings = replace(get_settings(), data_dir=data, db_path=data / "mgmt.duckdb")
    reset_service(Service(settings=settings, import_cohort=False).start(background=False))
    yield Starlette(routes=api_routes())
    reset_service(None)


@pytest.fixture(scope="module")
def nifti_case(bases: dict[str, Path]) -> Path:
    return bases["nifti"]


def post(app: Starlette, folder: Path, query: str, monkeypatch: pytest.MonkeyPatch) -> Answer:
    monkeypatch.delenv("MGMT_API_TOKEN", raising=False)
    content_type, body = multipart([("study", "study.zip", study_zip(folder))])
    return call(app, "POST", "/api/predict", headers={"Content-Type": content_type}, chunks=[body], query=query)


def test_report_pdf_answers_the_pdf_named_by_the_study_hash(app: Starlette, synthetic_case: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    answer = post(app, synthetic_case, "report=pdf", monkeypatch)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.body.startswith(b"%PDF-")
    assert answer.headers["content-disposition"].startswith('attachment; filename="mgmt-report-')
    assert answer.headers["content-disposition"].endswith('.pdf"')


def test_report_sr_answers_a_dicom_file(app: Starlette, synthetic_case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = post(app, synthetic_case, "report=sr", monkeypatch)
    assert answer.status == 200 and answer.headers["content-type"] == "application/dicom"
    assert answer.body[128:132] == b"DICM" and answer.headers["content-disposition"].endswith('.dcm"')


def test_report_seg_answers_the_dicom_seg_on_the_t1wce_series(app: Starlette, synthetic_case: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    answer = post(app, synthetic_case, "report=seg", monkeypatch)
    assert answer.status == 200 and answer.headers["content-type"] == "application/dicom"
    assert answer.headers["content-disposition"].endswith('.seg.dcm"')
    seg = pydicom.dcmread(io.BytesIO(answer.body))
    t1wce = pydicom.dcmread(next((synthetic_case / "T1wCE").glob("*.dcm")), stop_before_pixels=True)
    assert seg.Modality == "SEG" and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == t1wce.SeriesInstanceUID


def test_report_seg_of_a_nifti_study_answers_the_label_map_as_nifti(app: Starlette, nifti_case: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    answer = post(app, nifti_case, "report=seg", monkeypatch)
    assert answer.status == 200 and answer.headers["content-type"] == "application/gzip"
    assert answer.headers["content-disposition"].endswith('.seg.nii.gz"')
    image = nib.Nifti1Image.from_bytes(gzip.decompress(answer.body))
    assert set(np.unique(np.asarray(image.dataobj))) <= {0, 1, 2, 4} and image.header["sform_code"] == 1


def test_no_report_parameter_keeps_the_json_answer(app: Starlette, synthetic_case: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    answer = post(app, synthetic_case, "", monkeypatch)
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    assert 0.0 <= answer.json()["probability"] <= 1.0 and "reports" not in answer.json()["timings_s"]


def test_an_unknown_report_kind_is_refused_before_the_upload_is_read(app: Starlette, synthetic_case: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    answer = post(app, synthetic_case, "report=docx", monkeypatch)
    assert answer.status == 400
    assert answer.json() == {"error": "report='docx' is not usable; expected one of pdf, sr, seg (or no report "
                                      "parameter for the JSON answer)."}


def test_an_sr_of_a_nifti_study_is_refused_saying_a_dicom_study_is_needed(app: Starlette, nifti_case: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    answer = post(app, nifti_case, "report=sr", monkeypatch)
    assert answer.status == 400 and "needs a DICOM study" in answer.json()["error"]
    assert post(app, nifti_case, "report=pdf", monkeypatch).headers["content-type"] == "application/pdf"


def test_identity_true_puts_the_patient_in_the_pdf(app: Starlette, synthetic_case: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    patient_id = str(pydicom.dcmread(next((synthetic_case / "T2w").glob("*.dcm")), stop_before_pixels=True).PatientID)
    answer = post(app, synthetic_case, "report=pdf&identity=true", monkeypatch)
    assert answer.status == 200
    assert f"Patient ID {patient_id}" in pdf_text(answer.body, tmp_path)
    assert patient_id not in pdf_text(post(app, synthetic_case, "report=pdf", monkeypatch).body, tmp_path)


def test_identity_without_a_report_or_with_a_bad_value_is_refused(app: Starlette, synthetic_case: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert post(app, synthetic_case, "identity=true", monkeypatch).json() == {
        "error": "identity= applies to a report only; expected report=pdf with it."}
    assert post(app, synthetic_case, "report=pdf&identity=maybe", monkeypatch).json() == {
        "error": "identity='maybe' is not usable; expected true or false."}
