"""The Service logs every prediction attempt: the probability it returned, redacted errors, no patient data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pydicom
import pytest

from core.config import get_settings
from core.errors import InputError
from core.ingest import UploadedFile
from core.preprocess.settings import PREPROCESSING_VERSION
from core.service import Service
from core.store import TRAINING_COHORT, Store
from tests.conftest import PATIENT


@pytest.fixture
def brain_case(synthetic_case: Path) -> Path:
    """A brain-like study the bundled model accepts (fake patient identity in its DICOM headers)."""
    return synthetic_case


@pytest.fixture
def secrets(brain_case: Path) -> list[str]:
    """The identity in the study's headers: name and surname, id, accession, study UID, birth date."""
    header = pydicom.dcmread(next(brain_case.glob("FLAIR/*.dcm")), stop_before_pixels=True)
    name = str(header.PatientName)
    found = [name, name.split("^")[0], str(header.PatientID), str(header.AccessionNumber),
             str(header.StudyInstanceUID), str(header.PatientBirthDate)]
    assert all(len(secret) >= 5 for secret in found)  # long enough that finding one is no accident
    return found


@pytest.fixture
def service(tmp_path: Path) -> Service:
    settings = replace(get_settings(), db_path=tmp_path / "mgmt.duckdb")
    return Service(settings=settings).start(background=False)


def _everything_stored(path: Path) -> str:
    """Every value of every table of the database, as text."""
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = [row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return "\n".join(str(connection.execute(f'SELECT * FROM "{table}"').fetchall()) for table in tables)


def test_a_prediction_logs_one_ok_row_with_the_probability_returned(service: Service, brain_case: Path) -> None:
    outcome = service.predict(brain_case, user="tester", channel="api", with_cam=False)
    rows = service.store.predictions()
    assert len(rows) == 1 and outcome.report["logged"] is True
    assert outcome.report["log_id"] == int(rows.iloc[0]["id"])
    row = rows.iloc[0]
    assert (row["status"], row["user"], row["channel"]) == ("ok", "tester", "api")
    assert row["probability"] == outcome.prediction.result.probability
    assert row["label"] == outcome.prediction.result.label and row["study_hash"] == outcome.prediction.result.study_hash
    assert (row["interval_low"], row["interval_high"]) == tuple(outcome.prediction.result.uncertainty.interval90)
    assert row["model_revision"] == "local" and row["preprocessing_version"] == PREPROCESSING_VERSION


def test_a_rejected_upload_logs_its_error_without_the_uploaded_names(service: Service) -> None:
    upload = [UploadedFile(f"{PATIENT.patient_id}/{PATIENT.accession_number}.dcm", b"not an image")]
    with pytest.raises(InputError, match=PATIENT.patient_id):  # the user is told which file...
        service.predict(upload)
    row = service.store.predictions().iloc[0]
    assert row["status"] == "rejected" and "holds no DICOM image" in row["error"]
    assert PATIENT.patient_id not in row["error"] and PATIENT.accession_number not in row["error"]  # ...the log is not


def test_a_prediction_without_log_writes_no_row(service: Service, brain_case: Path) -> None:
    outcome = service.predict(brain_case, with_cam=False, log=False)
    assert outcome.report["logged"] is False and service.store.predictions().empty


def test_loading_the_model_imports_its_training_cohort(service: Service) -> None:
    source = service.predictor().source
    assert len(service.store.cohort(TRAINING_COHORT, source.repo, source.revision)) == 358


def test_no_patient_identifier_reaches_the_database_file(service: Service, brain_case: Path, tmp_path: Path,
                                                         secrets: list[str]) -> None:
    outcome = service.predict(brain_case, with_cam=False)
    named = tmp_path / PATIENT.patient_name
    named.mkdir()
    (named / f"{PATIENT.patient_id}.dcm").write_bytes(b"junk")
    with pytest.raises(InputError):
        service.predict(named)
    path = Store(service.settings.db_path).path
    stored = _everything_stored(path)
    assert outcome.prediction.result.study_hash in stored and "'…'" in stored  # both attempts are in there
    raw = b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*"))
    assert outcome.prediction.result.study_hash.encode() in raw  # stored text is plainly visible in the file's bytes
    for secret in secrets:
        assert secret not in stored and secret.encode() not in raw, secret
