"""The DICOM Structured Report of one prediction: a TID 1500 Measurement Report (Comprehensive 3D SR, highdicom).

Measurement groups:
- the MGMT estimate: where the model made a call, the probability with its 90% interval as measurement uncertainty
  (TID 310: the ranges up and down from the value) and the call as a qualitative evaluation; where it did not
  (an abstention, or a decision rule that did not accept), an evaluation saying so and each reason as text, and no
  probability at all, so that nothing in the PACS reads as a result that is not one;
- one volumetric group per tumour sub-region, its volume referencing the segment of the DICOM SEG
  (``core.report.seg``) that holds it; the whole tumour and the tumour core (unions of segments) as plain volumes.

The model (repo and revision) is the algorithm of every group and the device observer. The evidence lists every
source instance the model read, so a PACS files the report with the source study; it copies the source's Patient
and Study modules (from the upload, in memory) because a report without them cannot be filed.

No standard codes exist for MGMT methylation; the report's own concepts use the private coding scheme
``99MGMTRG`` (DICOM reserves designators beginning with "99" for such local codes).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from highdicom.sr import (
    AlgorithmIdentification,
    CodedConcept,
    Comprehensive3DSR,
    DeviceObserverIdentifyingAttributes,
    FindingSite,
    Measurement,
    MeasurementProperties,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    QualitativeEvaluation,
    ReferencedSegment,
    RelationshipTypeValues,
    SourceSeriesForSegmentation,
    TextContentItem,
    TrackingIdentifier,
    VolumetricROIMeasurementsAndQualitativeEvaluations,
)
from pydicom import dcmwrite
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from core.errors import InputError
from core.ingest.identity import SourceIdentity
from core.regions import LABELS, REGIONS
from core.report.seg import TYPES, SegReference
from core.report.wording import is_call

if TYPE_CHECKING:
    from core.inference.report import PredictionResult

SCHEME = "99MGMTRG"
PROBABILITY = CodedConcept("MGMT-P", SCHEME, "MGMT promoter methylation probability")
STATUS = CodedConcept("MGMT-STATUS", SCHEME, "MGMT promoter methylation status (model estimate)")
REASON = CodedConcept("MGMT-NOCALL-WHY", SCHEME, "Reason the model made no call")
CALLS = {label: CodedConcept(label.upper(), SCHEME, label) for label in ("methylated", "unmethylated")}
NO_CALL = CodedConcept("NO-CALL", SCHEME, "indeterminate (no call)")
ABSTAINED = CodedConcept("ABSTAINED", SCHEME, "abstained (no result)")
NO_UNITS = CodedConcept("1", "UCUM", "no units")
MILLILITRE = CodedConcept("ml", "UCUM", "milliliter")
SERIES_NUMBER = 9901
SERIES_DESCRIPTION = "MGMT estimate - research use only, not for diagnosis"
MANUFACTURER = "mgmt-radiogenomics (open-source research demo)"


def sr_report(result: PredictionResult, identity: SourceIdentity | None, seg: SegReference | None) -> bytes:
    """The SR as a DICOM file (bytes), its volumes referencing ``seg``'s segments; InputError when the upload was
    not a DICOM study (nothing to reference)."""
    if identity is None:
        raise InputError("A DICOM Structured Report needs a DICOM study: this upload has no study, series and "
                         "instance UIDs to reference (NIfTI files carry none), so a PACS could not file the report "
                         "with the study. Upload the study's DICOM series, or ask for the PDF report.")
    repo, revision = result.provenance.repo, result.provenance.revision
    algorithm = AlgorithmIdentification(name=f"MGMT methylation CNN ({repo})", version=revision,
                                        family=codes.cid7162.ArtificialIntelligence,
                                        parameters=[f"{repo}@{revision}",
                                                    f"preprocessing version {result.provenance.preprocessing_version}"])
    device = DeviceObserverIdentifyingAttributes(uid=generate_uid(entropy_srcs=[repo, revision]),
                                                 name="MGMT methylation CNN", manufacturer_name=MANUFACTURER,
                                                 model_name=_lo(f"{repo}@{revision}"))
    context = ObservationContext(observer_device_context=ObserverContext(observer_type=codes.DCM.Device,
                                                                        observer_identifying_attributes=device))
    groups = [_estimate(result, algorithm), *_volumes(result, algorithm, seg)]
    document = MeasurementReport(observation_context=context, procedure_reported=codes.LN.BrainMRI,
                                 imaging_measurements=groups)
    sr = Comprehensive3DSR(evidence=identity.evidence() + _seg_evidence(identity, seg), content=document,
                           series_instance_uid=generate_uid(), series_number=SERIES_NUMBER,
                           sop_instance_uid=generate_uid(), instance_number=1,
                           manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False,
                           series_description=SERIES_DESCRIPTION)
    sr.SoftwareVersions = _lo(f"{repo}@{revision}")
    sr.CodingSchemeIdentificationSequence = [_private_scheme()]
    buffer = io.BytesIO()
    dcmwrite(buffer, sr, enforce_file_format=True)
    return buffer.getvalue()


def _estimate(result: PredictionResult, algorithm: AlgorithmIdentification) -> MeasurementsAndQualitativeEvaluations:
    """The MGMT estimate: probability (with uncertainty) and call, or the explicit no-call with its reasons."""
    tracking = TrackingIdentifier(uid=generate_uid(), identifier="MGMT methylation estimate")
    if is_call(result):
        low, high = result.uncertainty.interval90
        probability = result.probability
        spread = MeasurementProperties(upper_measurement_uncertainty=round(max(high - probability, 0.0), 6),
                                       lower_measurement_uncertainty=round(max(probability - low, 0.0), 6))
        return MeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking, finding_type=codes.SCT.Tumor, finding_sites=[FindingSite(codes.SCT.Brain)],
            algorithm_id=algorithm,
            measurements=[Measurement(PROBABILITY, round(probability, 6), NO_UNITS,
                                      properties=spread)],
            qualitative_evaluations=[QualitativeEvaluation(STATUS, CALLS[result.label])])
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking, finding_type=codes.SCT.Tumor, finding_sites=[FindingSite(codes.SCT.Brain)],
        algorithm_id=algorithm,
        qualitative_evaluations=[QualitativeEvaluation(STATUS, ABSTAINED if result.abstained else NO_CALL)])
    for reason in result.reasons:
        group[0].ContentSequence.append(TextContentItem(name=REASON, value=reason,
                                                        relationship_type=RelationshipTypeValues.CONTAINS))
    return group


def _volumes(result: PredictionResult, algorithm: AlgorithmIdentification, seg: SegReference | None
             ) -> list[MeasurementsAndQualitativeEvaluations]:
    """Per segment a volumetric group referencing it; the BraTS regions made of several segments as plain volumes."""
    volumes = result.tumour.volumes_ml if result.tumour is not None else {}
    groups: list[MeasurementsAndQualitativeEvaluations] = []
    for label in LABELS:
        if label.key not in volumes:
            continue
        measurement = Measurement(codes.SCT.Volume, round(volumes[label.key], 3), MILLILITRE)
        tracking = TrackingIdentifier(uid=generate_uid(), identifier=label.name)
        if seg is None:
            groups.append(MeasurementsAndQualitativeEvaluations(
                tracking_identifier=tracking, finding_type=TYPES[label.value], algorithm_id=algorithm,
                measurements=[measurement]))
            continue
        segment = ReferencedSegment(sop_class_uid=seg.sop_class_uid, sop_instance_uid=seg.sop_instance_uid,
                                    segment_number=seg.segment_numbers[label.value],
                                    source_series=SourceSeriesForSegmentation(seg.source_series_uid))
        groups.append(VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking, referenced_segment=segment, finding_type=TYPES[label.value],
            finding_sites=[FindingSite(codes.SCT.Brain)], algorithm_id=algorithm, measurements=[measurement]))
    unions = [Measurement(codes.SCT.Volume, round(volumes[region.key], 3), MILLILITRE)
              for region in REGIONS if len(region.values) > 1 and region.key in volumes]
    names = [region.name for region in REGIONS if len(region.values) > 1 and region.key in volumes]
    for measurement, name in zip(unions, names, strict=True):
        groups.append(MeasurementsAndQualitativeEvaluations(
            tracking_identifier=TrackingIdentifier(uid=generate_uid(), identifier=name),
            finding_type=codes.SCT.Tumor, finding_sites=[FindingSite(codes.SCT.Brain)], algorithm_id=algorithm,
            measurements=[measurement]))
    return groups


def _seg_evidence(identity: SourceIdentity, seg: SegReference | None) -> list[Dataset]:
    """The SEG as evidence of the report: its volumes reference it (the SEG is in the same study)."""
    if seg is None:
        return []
    item = Dataset()
    item.StudyInstanceUID = identity.study_uid
    item.SeriesInstanceUID = seg.series_instance_uid
    item.SOPClassUID = seg.sop_class_uid
    item.SOPInstanceUID = seg.sop_instance_uid
    return [item]


def warm_up() -> None:
    """Write one SR of made-up values and drop it: highdicom reads its tables of the standard (~1 s) on first use."""
    from types import SimpleNamespace

    from core.ingest.identity import MR_IMAGE_STORAGE, SourceSeries

    header = Dataset()
    header.StudyInstanceUID = generate_uid()
    series = SourceSeries("FLAIR", generate_uid(), MR_IMAGE_STORAGE, (generate_uid(),))
    result = SimpleNamespace(provenance=SimpleNamespace(repo="warm-up", revision="0", preprocessing_version="0"),
                             probability=0.5, label="methylated", abstained=False, reasons=(), tumour=None,
                             uncertainty=SimpleNamespace(interval90=(0.4, 0.6)))
    sr_report(result, SourceIdentity(header, (series,)), None)


def _private_scheme() -> Dataset:
    """The declaration of the report's own coding scheme (SOP Common module), so readers know whose codes they are."""
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "MGMT radiogenomics research demo concepts"
    item.CodingSchemeResponsibleOrganization = "mgmt-radiogenomics open-source project"
    return item


def _lo(text: str) -> str:
    """A Long String value: at most 64 characters, no backslash."""
    return text.replace("\\", "/")[-64:]
