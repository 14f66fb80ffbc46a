"""Report fixtures: the shared synthetic DICOM study (fake patient in its headers), predicted once with reports."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pydicom
import pytest

from core.config import get_settings
from core.ingest.identity import SourceIdentity
from core.ingest.loader import read_study_and_identity
from core.report import ReportRequest
from core.service import Outcome, Service


@pytest.fixture(scope="session")
def dicom_case(synthetic_case: Path) -> Path:
    """The shared synthetic study (fake patient names and ids in its headers)."""
    return synthetic_case


@pytest.fixture(scope="session")
def source_header(dicom_case: Path) -> pydicom.Dataset:
    """The header of one source file: the patient and study the reports must (or must not) name."""
    return pydicom.dcmread(next((dicom_case / "FLAIR").glob("*.dcm")), stop_before_pixels=True)


@pytest.fixture(scope="session")
def identity(dicom_case: Path) -> SourceIdentity:
    identity = read_study_and_identity(dicom_case, dicom_case.name, get_settings())[1]
    assert identity is not None
    return identity


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Service:
    data = tmp_path_factory.mktemp("report-data")
    settings = replace(get_settings(), data_dir=data, db_path=data / "mgmt.duckdb")
    return Service(settings=settings, import_cohort=False).start(background=False)


@pytest.fixture(scope="session")
def outcome(service: Service, dicom_case: Path) -> Outcome:
    """The study predicted with both reports, the PDF without patient identity (the default)."""
    return service.predict(dicom_case, log=False, reports=ReportRequest())


def patient_words(header: pydicom.Dataset) -> list[str]:
    """The parts of the patient's name, their ID and birth date: what a de-identified document must not hold."""
    name = str(header.PatientName).replace("^", " ").split()
    return [*name, str(header.PatientID), str(header.PatientBirthDate)]
