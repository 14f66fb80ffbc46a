"""The source study's identity, for the one document that must carry it (the DICOM SR) and nothing else.

A ``SourceIdentity`` is read from the headers ingest has in memory anyway (one file per series for the patient and
study modules, plus each slice's SOP Instance UID), lives only as long as one request, and is handed to the report
writers. It never enters the ``Study``, the prediction's JSON, the log or a file the server keeps; its ``repr``
shows no value, so a stray log line or traceback cannot print it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from core.ingest.dicom_files import DicomSeries

STUDY_KEYWORDS = ("SpecificCharacterSet", "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate",
                  "PatientSex", "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
                  "ReferringPhysicianName", "StudyDescription")
"""The source's Patient and General Study module elements a report copies (those a PACS files the report by)."""
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


@dataclass(frozen=True)
class SeriesGeometry:
    """Where a series' slices lie in DICOM patient coordinates (LPS mm), one position per instance (in the order of
    ``SourceSeries.instance_uids``), so a label map can be brought onto exactly those slices (the DICOM SEG)."""

    orientation: tuple[float, ...]  # ImageOrientationPatient: row then column direction cosines
    pixel_spacing: tuple[float, float]  # PixelSpacing: between rows, between columns
    rows: int
    columns: int
    positions: tuple[tuple[float, float, float], ...]  # ImagePositionPatient of each instance
    frame_of_reference_uid: str = field(default="", repr=False)  # empty when the source has none (RSNA files)

    def order(self) -> np.ndarray:
        """Instance indices sorted along the slice normal (the order ingest stacks the volume in)."""
        normal = np.cross(self.orientation[:3], self.orientation[3:])
        return np.argsort(np.asarray(self.positions, float) @ normal, kind="stable")


@dataclass(frozen=True)
class SourceSeries:
    """One series a sequence came from: its UIDs, every instance of it the model read, and where they lie."""

    sequence: str
    series_uid: str = field(repr=False)
    sop_class_uid: str = field(repr=False)
    instance_uids: tuple[str, ...] = field(repr=False)
    geometry: SeriesGeometry | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SourceIdentity:
    """Patient and study of a DICOM upload, and its series per sequence; in memory, for one request only."""

    header: Dataset = field(repr=False)
    series: tuple[SourceSeries, ...]

    @property
    def study_uid(self) -> str:
        return str(self.header.get("StudyInstanceUID", ""))

    def patient_lines(self) -> list[tuple[str, str]]:
        """Name, ID, birth date, sex, study date and accession as (label, text), for a report that asks for them."""
        wanted = (("Patient name", "PatientName"), ("Patient ID", "PatientID"), ("Birth date", "PatientBirthDate"),
                  ("Sex", "PatientSex"), ("Study date", "StudyDate"), ("Accession number", "AccessionNumber"))
        return [(label, str(self.header.get(keyword, "") or "").replace("^", " ").strip() or "(not given)")
                for label, keyword in wanted]

    def evidence(self) -> list[Dataset]:
        """One small dataset per source instance (study, series, SOP class and instance UIDs), the first carrying
        the patient and study modules: what an SR's evidence lists and copies."""
        items = []
        for series in self.series:
            for uid in series.instance_uids:
                item = Dataset()
                item.StudyInstanceUID = self.study_uid
                item.SeriesInstanceUID = series.series_uid
                item.SOPClassUID = series.sop_class_uid
                item.SOPInstanceUID = uid
                items.append(item)
        for keyword in STUDY_KEYWORDS:  # Type 2 elements of the Patient and Study modules: present, maybe empty
            if keyword in self.header:
                setattr(items[0], keyword, self.header[keyword].value)
            elif keyword not in ("SpecificCharacterSet", "IssuerOfPatientID", "StudyDescription"):
                setattr(items[0], keyword, "")
        return items


def identity_of(chosen: dict[str, DicomSeries]) -> SourceIdentity | None:
    """The identity of the series chosen per sequence (None when a series has no UIDs to reference)."""
    if not chosen:
        return None
    first = next(iter(chosen.values())).first
    header = Dataset()
    for keyword in STUDY_KEYWORDS:
        if keyword in first:
            header[keyword] = first[keyword]
    series = []
    for sequence, item in chosen.items():
        uid = str(item.first.get("SeriesInstanceUID", "") or "")
        instances = tuple(str(s.dataset.get("SOPInstanceUID", "") or "") for s in item.slices)
        if not uid or not all(instances):
            return None
        sop_class = str(item.first.get("SOPClassUID", "") or MR_IMAGE_STORAGE)
        series.append(SourceSeries(sequence, uid, sop_class, instances, geometry_of(item)))
    if not header.get("StudyInstanceUID"):
        return None
    return SourceIdentity(header, tuple(series))


def geometry_of(series: DicomSeries) -> SeriesGeometry:
    """The slice geometry of a series ingest has read (its headers were checked when its volume was built)."""
    first = series.slices[0]
    return SeriesGeometry(
        orientation=first.float_tuple("ImageOrientationPatient"), pixel_spacing=first.float_tuple("PixelSpacing"),
        rows=int(first.dataset.Rows), columns=int(first.dataset.Columns),
        positions=tuple(s.float_tuple("ImagePositionPatient") for s in series.slices),
        frame_of_reference_uid=str(first.dataset.get("FrameOfReferenceUID", "") or ""))
