"""Write a volume with a known RAS affine as a valid DICOM MR series, the way scanners (and RSNA) do it.

Each slice ``k`` of ``volume[i, j, k]`` becomes one MR Image Storage file whose ImagePositionPatient,
ImageOrientationPatient and PixelSpacing reproduce ``affine`` exactly; pixel values are stored as
``round((value - intercept) / slope)`` in uint16, so a reader must apply RescaleSlope/Intercept.
InstanceNumbers and file names can be made not to follow position, as in the RSNA-MICCAI data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from core.ingest.geometry import LPS_TO_RAS

InstanceOrder = Literal["ascending", "descending", "shuffled", "offset"]


@dataclass(frozen=True)
class PatientHeader:
    """Identity of a fake patient and study, written into every file so privacy handling can be tested."""

    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    accession_number: str
    study_uid: str
    study_date: str = "20210715"
    institution: str = "Synthetic General Hospital"


@dataclass(frozen=True)
class MRProtocol:
    """Acquisition parameters of one series: what a scanner writes to describe the sequence."""

    description: str
    repetition_time: float
    echo_time: float
    inversion_time: float | None = None
    contrast_agent: str | None = None
    acquisition_type: Literal["2D", "3D"] = "2D"


PROTOCOLS: dict[str, MRProtocol] = {
    "FLAIR": MRProtocol("AX T2 FLAIR", 9000.0, 120.0, inversion_time=2500.0),
    "T1w": MRProtocol("AX T1 SE", 500.0, 12.0),
    "T1wCE": MRProtocol("AX T1 POST GAD", 550.0, 12.0, contrast_agent="GADOLINIUM"),
    "T2w": MRProtocol("AX T2 FSE", 4500.0, 95.0),
}
"""Typical scanner parameters per RSNA sequence name."""


def seeded_uid(rng: np.random.Generator) -> str:
    """A valid UID drawn from ``rng``, so the same seed writes the same bytes."""
    return generate_uid(entropy_srcs=[str(int(rng.integers(0, 2**63)))])


def fake_patient(rng: np.random.Generator) -> PatientHeader:
    """A realistic but invented patient, unique enough to grep for in logs and databases."""
    given = ["ANNA", "JONAS", "MARIA", "LUCA", "ELIF", "TOMAS", "SARA", "IVAN"][rng.integers(8)]
    family = ["MUELLER", "ROSSI", "NOVAK", "GARCIA", "KOWALSKI", "HANSEN"][rng.integers(6)]
    tag = "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ"), size=6))
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 50)))
    return PatientHeader(
        patient_name=f"{family}{tag}^{given}",
        patient_id=f"PID{int(rng.integers(10**7, 10**8))}",
        birth_date=birth.strftime("%Y%m%d"),
        sex=str(rng.choice(["F", "M"])),
        accession_number=f"ACC{int(rng.integers(10**6, 10**7))}",
        study_uid=seeded_uid(rng),
    )


def instance_numbers(n: int, order: InstanceOrder, rng: np.random.Generator) -> np.ndarray:
    """InstanceNumber of each slice in position order; only ``ascending`` follows position."""
    if order == "ascending":
        return np.arange(1, n + 1)
    if order == "descending":
        return np.arange(n, 0, -1)
    if order == "offset":  # RSNA series often start at an arbitrary number and wrap around
        start = int(rng.integers(1, n))
        return (np.arange(n) + start) % n + 1
    return rng.permutation(n) + 1


def _series_geometry(affine: np.ndarray) -> tuple[list[float], tuple[float, float], np.ndarray, np.ndarray]:
    lps = LPS_TO_RAS @ np.asarray(affine, float)
    i_step, j_step = lps[:3, 0], lps[:3, 1]  # along a row (next column), along a column (next row)
    spacing = (float(np.linalg.norm(j_step)), float(np.linalg.norm(i_step)))  # DICOM: (row, column)
    orientation = np.concatenate([i_step / spacing[1], j_step / spacing[0]])
    return [round(float(v), 8) for v in orientation], spacing, lps[:3, 2], lps[:3, 3]


def _stored_pixels(slice_values: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    stored = np.rint((slice_values - intercept) / slope)
    return np.clip(stored, 0, 65535).astype(np.uint16)


def write_series(
    volume: np.ndarray,
    affine: np.ndarray,
    folder: Path,
    *,
    patient: PatientHeader,
    protocol: MRProtocol,
    series_number: int,
    rescale: tuple[float, float] = (1.0, 0.0),
    order: InstanceOrder = "ascending",
    rng: np.random.Generator | None = None,
    frame_of_reference_uid: str | None = None,
    file_prefix: str = "Image-",
) -> list[Path]:
    """Write ``volume[i, j, k]`` (i along columns, j along rows, k slices) as one series; return the files.

    Files are named ``{file_prefix}{InstanceNumber}.dcm`` (the RSNA convention), so file names do not
    follow position whenever InstanceNumbers do not.
    """
    rng = rng or np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    orientation, spacing, slice_step, origin = _series_geometry(affine)
    slope, intercept = rescale
    series_uid = seeded_uid(rng)
    frame_uid = frame_of_reference_uid or seeded_uid(rng)
    numbers = instance_numbers(volume.shape[2], order, rng)
    thickness = float(np.linalg.norm(slice_step))
    paths = []
    for k in range(volume.shape[2]):
        ds = _header(patient, protocol, series_number, series_uid, frame_uid, seeded_uid(rng))
        ds.InstanceNumber = int(numbers[k])
        ds.ImagePositionPatient = [round(float(v), 6) for v in origin + k * slice_step]
        ds.ImageOrientationPatient = orientation
        ds.PixelSpacing = [round(spacing[0], 6), round(spacing[1], 6)]
        ds.SliceThickness = round(thickness, 6)
        ds.SpacingBetweenSlices = round(thickness, 6)
        ds.SliceLocation = round(float(np.dot(origin + k * slice_step, np.cross(orientation[:3], orientation[3:]))), 6)
        ds.RescaleSlope = f"{slope:.6g}"
        ds.RescaleIntercept = f"{intercept:.6g}"
        ds.RescaleType = "US"
        pixels = _stored_pixels(np.asarray(volume[:, :, k]).T, slope, intercept)
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.tobytes()
        path = folder / f"{file_prefix}{ds.InstanceNumber}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _header(
    patient: PatientHeader, protocol: MRProtocol, series_number: int, series_uid: str, frame_uid: str, sop_uid: str
) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = patient.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
    ds.AccessionNumber = patient.accession_number
    ds.Modality = "MR"
    ds.Manufacturer = "SYNTHETIC"
    ds.InstitutionName = patient.institution
    ds.ReferringPhysicianName = ""
    ds.BodyPartExamined = "BRAIN"
    ds.PatientPosition = "HFS"
    ds.SeriesDescription = protocol.description
    ds.ProtocolName = protocol.description
    ds.PatientName = patient.patient_name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    if protocol.contrast_agent:
        ds.ContrastBolusAgent = protocol.contrast_agent
    ds.ScanningSequence = "IR" if protocol.inversion_time else "SE"
    ds.SequenceVariant = "SK"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = protocol.acquisition_type
    ds.RepetitionTime = protocol.repetition_time
    ds.EchoTime = protocol.echo_time
    if protocol.inversion_time:
        ds.InversionTime = protocol.inversion_time
    ds.EchoTrainLength = 1
    ds.ImagedNucleus = "1H"
    ds.MagneticFieldStrength = 3.0
    ds.StudyInstanceUID = patient.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    return ds
