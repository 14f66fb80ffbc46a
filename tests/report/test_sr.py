"""The DICOM SR: valid for dciodvfy, read back by highdicom and pydicom, filed with the source study."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import highdicom as hd
import pydicom
import pytest

from core import SEQUENCES
from core.errors import InputError
from core.ingest.identity import SourceIdentity
from core.report.sr import sr_report
from core.service import Outcome


def read_back(data: bytes) -> hd.sr.Comprehensive3DSR:
    return hd.sr.srread(io.BytesIO(data))


def measurements(sr: hd.sr.Comprehensive3DSR) -> dict[str, tuple[float, str]]:
    """Code value of each measurement -> (value, unit code) of the report's one measurement group."""
    (group,) = sr.content.get_image_measurement_groups()
    return {m.name.value: (m.value, m.unit.value) for m in group.get_measurements()}


def test_the_sr_passes_dciodvfy_without_errors(outcome: Outcome, tmp_path: Path) -> None:
    path = tmp_path / "report.dcm"
    path.write_bytes(outcome.documents.made["sr"].data)
    checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    said = (checked.stdout + checked.stderr).splitlines()
    assert said[0].strip() == "Comprehensive3DSR"
    assert [line for line in said if line.startswith("Error")] == []
    # only the report's own coding scheme is unknown to the validator (declared in CodingSchemeIdentificationSequence)
    assert {line for line in said if line.startswith("Warning")} <= {
        "Warning - Unrecognized defined term <99MGMTRG> for value 1 of attribute <Coding Scheme Designator>"}


def test_highdicom_reads_back_the_probability_its_interval_and_the_label(outcome: Outcome) -> None:
    sr = read_back(outcome.documents.made["sr"].data)
    low, high = outcome.report["uncertainty"]["interval90"]
    volumes = {f"VOL-{name}": (pytest.approx(ml, abs=1e-3), "ml")
               for name, ml in outcome.report["tumour"]["volumes_ml"].items()}
    assert len(volumes) == 5 and volumes["VOL-whole"][0] == pytest.approx(sum(
        outcome.report["tumour"]["volumes_ml"][part] for part in ("enhancing", "necrotic", "oedema")), abs=1e-2)
    assert measurements(sr) == {"MGMT-P": (pytest.approx(outcome.report["probability"]), "1"),
                                "MGMT-P-LOW90": (pytest.approx(low), "1"), "MGMT-P-HIGH90": (pytest.approx(high), "1"),
                                **volumes}
    (group,) = sr.content.get_image_measurement_groups()
    (status,) = [e for e in group.get_qualitative_evaluations() if e.name.value == "MGMT-STATUS"]
    assert status.value.meaning == outcome.report["label"]


def test_the_sr_references_the_source_study_and_every_series_instance(outcome: Outcome,
                                                                      identity: SourceIdentity,
                                                                      dicom_case: Path) -> None:
    sr = read_back(outcome.documents.made["sr"].data)
    source = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
              for sequence in SEQUENCES for p in (dicom_case / sequence).glob("*.dcm")}
    evidence = sr.get_evidence()
    source_study = str(pydicom.dcmread(next(iter(source.values())), stop_before_pixels=True).StudyInstanceUID)
    assert sr.StudyInstanceUID == identity.study_uid == source_study
    assert {item[0] for item in evidence} == {identity.study_uid}
    assert {item[1] for item in evidence} == {series.series_uid for series in identity.series}
    assert {item[2] for item in evidence} == set(source)


def test_the_sr_carries_the_source_patient_module(outcome: Outcome, source_header: pydicom.Dataset) -> None:
    sr = pydicom.dcmread(io.BytesIO(outcome.documents.made["sr"].data))
    assert (sr.PatientName, sr.PatientID, sr.PatientBirthDate, sr.PatientSex, sr.AccessionNumber) == (
        source_header.PatientName, source_header.PatientID, source_header.PatientBirthDate, source_header.PatientSex,
        source_header.AccessionNumber)
    assert sr.Modality == "SR" and sr.VerificationFlag == "UNVERIFIED" and "research use only" in sr.SeriesDescription


def test_the_model_is_the_algorithm_and_the_device_observer(outcome: Outcome) -> None:
    sr = read_back(outcome.documents.made["sr"].data)
    repo, revision = outcome.report["model"]["repo"], outcome.report["model"]["revision"]
    dataset = pydicom.dcmread(io.BytesIO(outcome.documents.made["sr"].data))
    texts = {str(element.value) for element in dataset.iterall() if element.keyword in ("TextValue", "UID")}
    assert {f"MGMT methylation CNN ({repo})", f"{repo}@{revision}", revision} <= texts
    (context,) = sr.content.get_observer_contexts()
    assert context.observer_type.value == "121007"  # Device


def test_tumour_volumes_become_measurements_in_millilitres(outcome: Outcome, identity: SourceIdentity) -> None:
    report = {**outcome.report, "tumour": {"volumes_ml": {"enhancing": 12.25, "whole": 60.5}}}
    found = measurements(read_back(sr_report(report, identity)))
    assert found["VOL-enhancing"] == (pytest.approx(12.25), "ml") and found["VOL-whole"] == (pytest.approx(60.5), "ml")


def test_a_nifti_upload_gets_no_sr_and_is_told_a_dicom_study_is_needed(outcome: Outcome) -> None:
    with pytest.raises(InputError) as caught:
        sr_report(outcome.report, None)
    assert "needs a DICOM study" in caught.value.user_message and "NIfTI" in caught.value.user_message


def test_the_identity_shows_no_value_when_printed(identity: SourceIdentity, source_header: pydicom.Dataset) -> None:
    shown = repr(identity)
    assert str(source_header.PatientID) not in shown and identity.study_uid not in shown
    assert identity.series[0].series_uid not in shown
