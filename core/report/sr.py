"""The DICOM Structured Report of one prediction: a TID 1500 Measurement Report (Comprehensive 3D SR, highdicom).

It lists, as one measurement group: the methylation probability with its 90% interval bounds, the tumour volumes
when the prediction has them, and the label as a qualitative evaluation; the model (repo and revision) is the
algorithm identification of the group and the device observer. Its evidence lists every source instance the model
read, so a PACS files it with the source study; it copies the source's Patient and Study modules (from the upload,
in memory) because a report without them cannot be filed. It goes back to the uploader only.

No standard codes exist for MGMT methylation; the report's own concepts use the private coding scheme
``99MGMTRG`` (DICOM reserves designators beginning with "99" for such local codes).
"""

from __future__ import annotations

import io
from typing import Any

from highdicom.sr import (
    AlgorithmIdentification,
    CodedConcept,
    Comprehensive3DSR,
    DeviceObserverIdentifyingAttributes,
    FindingSite,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    QualitativeEvaluation,
    TrackingIdentifier,
)
from pydicom import dcmwrite
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from core.errors import InputError
from core.ingest.identity import MR_IMAGE_STORAGE, SourceIdentity, SourceSeries

SCHEME = "99MGMTRG"
PROBABILITY = CodedConcept("MGMT-P", SCHEME, "MGMT promoter methylation probability")
LOWER_BOUND = CodedConcept("MGMT-P-LOW90", SCHEME, "MGMT methylation probability, 90% interval lower bound")
UPPER_BOUND = CodedConcept("MGMT-P-HIGH90", SCHEME, "MGMT methylation probability, 90% interval upper bound")
STATUS = CodedConcept("MGMT-STATUS", SCHEME, "MGMT promoter methylation status (model estimate)")
LABELS = {label: CodedConcept(label.upper()[:16], SCHEME, label)
          for label in ("methylated", "unmethylated", "indeterminate")}
NO_UNITS = CodedConcept("1", "UCUM", "no units")
MILLILITRE = CodedConcept("ml", "UCUM", "milliliter")
SERIES_NUMBER = 9901
SERIES_DESCRIPTION = "MGMT estimate - research use only, not for diagnosis"
MANUFACTURER = "mgmt-radiogenomics (open-source research demo)"


def sr_report(report: dict[str, Any], identity: SourceIdentity | None) -> bytes:
    """The SR as a DICOM file (bytes); InputError when the upload was not a DICOM study (nothing to reference)."""
    if identity is None:
        raise InputError("A DICOM Structured Report needs a DICOM study: this upload has no study, series and "
                         "instance UIDs to reference (NIfTI files carry none), so a PACS could not file the report "
                         "with the study. Upload the study's DICOM series, or ask for the PDF report.")
    repo, revision = str(report["model"]["repo"]), str(report["model"]["revision"])
    algorithm = AlgorithmIdentification(name=f"MGMT methylation CNN ({repo})", version=revision,
                                        family=codes.cid7162.ArtificialIntelligence,
                                        parameters=[f"{repo}@{revision}",
                                                    f"preprocessing version {report.get('preprocessing_version')}"])
    device = DeviceObserverIdentifyingAttributes(uid=generate_uid(entropy_srcs=[repo, revision]),
                                                 name="MGMT methylation CNN", manufacturer_name=MANUFACTURER,
                                                 model_name=_lo(f"{repo}@{revision}"))
    context = ObservationContext(observer_device_context=ObserverContext(observer_type=codes.DCM.Device,
                                                                        observer_identifying_attributes=device))
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=generate_uid(), identifier="MGMT methylation estimate"),
        finding_type=codes.SCT.Tumor, finding_sites=[FindingSite(codes.SCT.Brain)], algorithm_id=algorithm,
        measurements=_measurements(report, algorithm),
        qualitative_evaluations=[QualitativeEvaluation(STATUS, LABELS.get(report["label"], LABELS["indeterminate"]))])
    document = MeasurementReport(observation_context=context, procedure_reported=codes.LN.BrainMRI,
                                 imaging_measurements=[group])
    sr = Comprehensive3DSR(evidence=identity.evidence(), content=document, series_instance_uid=generate_uid(),
                           series_number=SERIES_NUMBER, sop_instance_uid=generate_uid(), instance_number=1,
                           manufacturer=MANUFACTURER, is_complete=True, is_final=False, is_verified=False,
                           series_description=SERIES_DESCRIPTION)
    sr.SoftwareVersions = _lo(f"{repo}@{revision}")
    sr.CodingSchemeIdentificationSequence = [_private_scheme()]
    buffer = io.BytesIO()
    dcmwrite(buffer, sr, enforce_file_format=True)
    return buffer.getvalue()


def _measurements(report: dict[str, Any], algorithm: AlgorithmIdentification) -> list[Measurement]:
    low, high = report["uncertainty"]["interval90"]
    values = [(PROBABILITY, report["probability"], NO_UNITS), (LOWER_BOUND, low, NO_UNITS),
              (UPPER_BOUND, high, NO_UNITS)]
    values += [(CodedConcept(f"VOL-{name}"[:16], SCHEME, f"{name} volume (model segmentation)"), ml, MILLILITRE)
               for name, ml in _volumes(report.get("tumour")).items()]
    return [Measurement(name=name, value=float(value), unit=unit, algorithm_id=algorithm)
            for name, value, unit in values]


def _volumes(tumour: Any) -> dict[str, float]:
    """Tumour volumes in ml by sub-region, however the prediction nests them (``volumes_ml`` or ``*_ml`` keys)."""
    if not isinstance(tumour, dict):
        return {}
    nested = tumour.get("volumes_ml") or tumour.get("volume_ml")
    if isinstance(nested, dict):
        return {str(k): float(v) for k, v in nested.items() if isinstance(v, int | float)}
    return {k.removesuffix("_ml"): float(v) for k, v in tumour.items()
            if k.endswith("_ml") and isinstance(v, int | float) and not isinstance(v, bool)}


def warm_up() -> None:
    """Write one SR of made-up values and drop it: highdicom reads its tables of the standard (~1 s) on first use."""
    header = Dataset()
    header.StudyInstanceUID = generate_uid()
    series = SourceSeries("FLAIR", generate_uid(), MR_IMAGE_STORAGE, (generate_uid(),))
    report = {"model": {"repo": "warm-up", "revision": "0"}, "probability": 0.5, "label": "indeterminate",
              "uncertainty": {"interval90": [0.4, 0.6]}}
    sr_report(report, SourceIdentity(header, (series,)))


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

