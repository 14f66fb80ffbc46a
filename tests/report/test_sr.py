"""The DICOM SR: valid for dciodvfy, read back by highdicom; the estimate with its uncertainty, or an explicit no-call
and no probability; the volumes pointing at the SEG's segments; filed with the source study."""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from pydicom.uid import generate_uid

from core import SEQUENCES
from core.errors import InputError
from core.ingest.identity import SourceIdentity
from core.report import ReportRequest, make_documents
from core.report.sr import sr_report
from core.service import Outcome, Service


def read_back(data: bytes) -> hd.sr.Comprehensive3DSR:
    return hd.sr.srread(io.BytesIO(data))


def estimate_group(sr: hd.sr.Comprehensive3DSR) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    (group,) = [g for g in sr.content.get_image_measurement_groups()
                if g.tracking_identifier == "MGMT methylation estimate"]
    return group


def status_of(group: hd.sr.MeasurementsAndQualitativeEvaluations) -> str:
    (status,) = [e for e in group.get_qualitative_evaluations() if e.name.value == "MGMT-STATUS"]
    return status.value.meaning


def texts_of(group: hd.sr.MeasurementsAndQualitativeEvaluations) -> list[str]:
    return [item.TextValue for item in group[0].ContentSequence
            if item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == "MGMT-NOCALL-WHY"]


def probability_items(data: bytes) -> list[pydicom.Dataset]:
    """Every content item anywhere in the SR whose concept is the methylation probability."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    return [item for item in dataset.iterall() if getattr(item, "keyword", "") == "ConceptNameCodeSequence"
            and item.value[0].CodeValue == "MGMT-P"]


def a_call(outcome: Outcome, label: str = "methylated") -> object:
    """The study's result as if the decision rule had accepted it."""
    return replace(outcome.prediction.result, label=label, abstained=False, reasons=())


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


def test_a_call_carries_the_probability_with_its_interval_as_measurement_uncertainty(
        outcome: Outcome, identity: SourceIdentity) -> None:
    result = a_call(outcome)
    group = estimate_group(read_back(sr_report(result, identity, None)))
    (measurement,) = group.get_measurements()
    low, high = result.uncertainty.interval90
    assert (measurement.name.value, measurement.unit.value) == ("MGMT-P", "1")
    assert measurement.value == pytest.approx(result.probability, abs=1e-6)
    properties = {item.ConceptNameCodeSequence[0].CodeMeaning: float(item.MeasuredValueSequence[0].NumericValue)
                  for item in measurement[0].ContentSequence if item.ValueType == "NUM"}
    assert properties == {"+, range of upper measurement uncertainty": pytest.approx(high - result.probability,
                                                                                      abs=1e-6),
                          "-, range of lower measurement uncertainty": pytest.approx(result.probability - low,
                                                                                      abs=1e-6)}
    assert status_of(group) == "methylated" and texts_of(group) == []


def test_a_no_call_is_an_explicit_evaluation_with_its_reasons_and_no_probability(
        outcome: Outcome, identity: SourceIdentity) -> None:
    reason = "The decision rule does not accept a probability this close to the threshold."
    result = replace(outcome.prediction.result, label="indeterminate", abstained=False, reasons=(reason,))
    data = sr_report(result, identity, None)
    group = estimate_group(read_back(data))
    assert status_of(group) == "indeterminate (no call)" and texts_of(group) == [reason]
    assert group.get_measurements() == [] and probability_items(data) == []


def test_the_sr_of_an_abstaining_study_says_so_and_files_no_probability(
        service: Service, dicom_case: Path, tmp_path: Path) -> None:
    """Two series that are the same image (T2w a copy of FLAIR under new UIDs): the tool abstains."""
    case = tmp_path / "copies"
    shutil.copytree(dicom_case, case)
    shutil.rmtree(case / "T2w")
    shutil.copytree(dicom_case / "FLAIR", case / "T2w")
    uid = generate_uid()
    for path in (case / "T2w").glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SeriesDescription = uid, generate_uid(), "T2w"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(path)
    outcome = service.predict(case, log=False, with_cam=False, reports=ReportRequest(("sr",)))
    assert outcome.prediction.result.abstained
    data = outcome.documents.made["sr"].data
    group = estimate_group(read_back(data))
    assert status_of(group) == "abstained (no result)"
    assert texts_of(group) == list(outcome.prediction.result.reasons) != []
    assert group.get_measurements() == [] and probability_items(data) == []


def test_each_sub_region_volume_references_its_segment_of_the_seg(outcome: Outcome) -> None:
    sr = read_back(outcome.documents.made["sr"].data)
    seg = hd.seg.segread(io.BytesIO(outcome.documents.made["seg"].data))
    segments = {item.SegmentNumber: item.SegmentLabel for item in seg.SegmentSequence}
    volumes = outcome.prediction.result.tumour.volumes_ml
    found = {}
    for group in sr.content.get_volumetric_roi_measurement_groups():
        reference = group.referenced_segment
        assert reference.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert reference.referenced_sop_class_uid == seg.SOPClassUID
        (volume,) = group.get_measurements()
        found[segments[reference.referenced_segment_numbers[0]]] = (group.tracking_identifier, volume.value,
                                                                     volume.unit.value)
    assert found == {name: (name, pytest.approx(volumes[key], abs=1e-3), "ml")
                     for key, name in (("necrotic", "necrotic core"), ("oedema", "oedema"),
                                       ("enhancing", "enhancing tumour"))}
    evidence = {item[2] for item in sr.get_evidence()}
    assert seg.SOPInstanceUID in evidence


def test_the_whole_tumour_is_a_volume_of_its_own(outcome: Outcome) -> None:
    sr = read_back(outcome.documents.made["sr"].data)
    (group,) = [g for g in sr.content.get_image_measurement_groups() if g.tracking_identifier == "whole tumour"]
    (volume,) = group.get_measurements()
    assert volume.value == pytest.approx(outcome.prediction.result.tumour.volumes_ml["whole"], abs=1e-3)


def test_the_sr_references_the_source_study_and_every_series_instance(outcome: Outcome,
                                                                      identity: SourceIdentity,
                                                                      dicom_case: Path) -> None:
    sr = read_back(outcome.documents.made["sr"].data)
    source = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): p
              for sequence in SEQUENCES for p in (dicom_case / sequence).glob("*.dcm")}
    seg_uid = hd.seg.segread(io.BytesIO(outcome.documents.made["seg"].data)).SOPInstanceUID
    evidence = sr.get_evidence()
    source_study = str(pydicom.dcmread(next(iter(source.values())), stop_before_pixels=True).StudyInstanceUID)
    assert sr.StudyInstanceUID == identity.study_uid == source_study
    assert {item[0] for item in evidence} == {identity.study_uid}
    assert {item[2] for item in evidence} == set(source) | {seg_uid}


def test_the_sr_carries_the_source_patient_module(outcome: Outcome, source_header: pydicom.Dataset) -> None:
    sr = pydicom.dcmread(io.BytesIO(outcome.documents.made["sr"].data))
    assert (sr.PatientName, sr.PatientID, sr.PatientBirthDate, sr.PatientSex, sr.AccessionNumber) == (
        source_header.PatientName, source_header.PatientID, source_header.PatientBirthDate, source_header.PatientSex,
        source_header.AccessionNumber)
    assert sr.Modality == "SR" and sr.VerificationFlag == "UNVERIFIED" and "research use only" in sr.SeriesDescription


def test_the_model_is_the_algorithm_and_the_device_observer(outcome: Outcome) -> None:
    sr = read_back(outcome.documents.made["sr"].data)
    provenance = outcome.prediction.result.provenance
    repo, revision = provenance.repo, provenance.revision
    dataset = pydicom.dcmread(io.BytesIO(outcome.documents.made["sr"].data))
    texts = {str(element.value) for element in dataset.iterall() if element.keyword in ("TextValue", "UID")}
    assert {f"MGMT methylation CNN ({repo})", f"{repo}@{revision}", revision} <= texts
    (context,) = sr.content.get_observer_contexts()
    assert context.observer_type.value == "121007"  # Device


def test_a_nifti_upload_gets_no_sr_and_is_told_a_dicom_study_is_needed(outcome: Outcome) -> None:
    with pytest.raises(InputError) as caught:
        sr_report(outcome.prediction.result, None, None)
    assert "needs a DICOM study" in caught.value.user_message and "NIfTI" in caught.value.user_message
    refused = make_documents(outcome.prediction, None, ReportRequest(("sr",))).refused
    assert "needs a DICOM study" in refused["sr"]


def test_the_identity_shows_no_value_when_printed(identity: SourceIdentity, source_header: pydicom.Dataset) -> None:
    shown = repr(identity)
    assert str(source_header.PatientID) not in shown and identity.study_uid not in shown
    assert identity.series[0].series_uid not in shown
    assert str(identity.series[0].geometry.positions[0][0]) not in shown
