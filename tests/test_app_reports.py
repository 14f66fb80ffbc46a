"""Pages and reports: the Predict page offers both reports (patient identity off by default); the Model page says
which repo and revision are in use and links a Hub model to its files."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from streamlit.testing.v1 import AppTest

from core.examples import example_study
from core.inference import Predictor
from core.model import BUNDLED, load_model
from core.model.hub import ModelSource
from core.model.publish import tree_url
from core.service import Service, reset_service
from tests.report.test_pdf import pdf_text

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "a" * 40


def app_test() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def downloads(app: AppTest) -> dict[str, str]:
    """Label -> media URL of the page's download buttons."""
    return {button.proto.label: button.proto.url for button in app.get("download_button")}


@pytest.mark.slow
def test_predict_offers_the_pdf_the_sr_and_the_seg_without_the_patient_in_the_pdf(tmp_path: Path) -> None:
    app = app_test().run()
    app.switch_page("pages/predict.py").run()
    assert app.checkbox(key="report_identity").value is False
    app.selectbox[0].select("case-3").run()
    app.button(key="predict").click().run()
    assert not app.exception and not app.error
    documents = app.session_state["outcome"].documents
    assert sorted(documents.made) == ["pdf", "seg", "sr"] and documents.refused == {}
    assert {"Download the PDF report", "Download the DICOM SR (for a PACS)",
            "Download the tumour segmentation (DICOM SEG for a PACS; NIfTI for a NIfTI study)"} <= set(downloads(app))
    header = pydicom.dcmread(next((example_study("case-3") / "FLAIR").glob("*.dcm")), stop_before_pixels=True)
    assert str(header.PatientID) not in pdf_text(documents.made["pdf"].data, tmp_path)
    assert pydicom.dcmread(io.BytesIO(documents.made["sr"].data)).PatientID == header.PatientID
    assert pydicom.dcmread(io.BytesIO(documents.made["seg"].data)).PatientID == header.PatientID


@pytest.mark.slow
def test_the_pdf_names_the_patient_when_the_box_is_ticked(tmp_path: Path) -> None:
    app = app_test().run()
    app.switch_page("pages/predict.py").run()
    app.checkbox(key="report_identity").check().run()
    app.selectbox[0].select("case-3").run()
    app.button(key="predict").click().run()
    assert not app.exception and not app.error
    header = pydicom.dcmread(next((example_study("case-3") / "FLAIR").glob("*.dcm")), stop_before_pixels=True)
    text = pdf_text(app.session_state["outcome"].documents.made["pdf"].data, tmp_path)
    assert f"Patient ID {header.PatientID}" in text


def test_the_model_page_names_the_local_folder_and_links_nothing() -> None:
    app = app_test().run()
    app.switch_page("pages/model.py").run()
    said = " ".join(m.value for m in app.markdown)
    assert "`bundled weights/` (a local folder, revision `local`)" in said and "/tree/" not in said


def test_the_model_page_links_a_hub_model_to_its_files_at_the_revision_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = load_model()
    predictor = Predictor(model, ModelSource("mgmt-demo/resnet10", COMMIT, BUNDLED))
    service = Service(import_cohort=False)
    monkeypatch.setattr(service, "predictor", lambda timeout=None: predictor)
    reset_service(service)
    try:
        app = app_test().run()
        app.switch_page("pages/model.py").run()
    finally:
        reset_service(None)
    said = " ".join(m.value for m in app.markdown)
    assert f"[browse it on the Hub](https://huggingface.co/mgmt-demo/resnet10/tree/{COMMIT})" in said


def test_the_hub_link_follows_hf_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert tree_url("org/name", "v2") == "http://127.0.0.1:9/org/name/tree/v2"
    monkeypatch.delenv("HF_ENDPOINT")
    assert tree_url("org/name", "v2") == "https://huggingface.co/org/name/tree/v2"
