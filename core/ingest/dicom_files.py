"""Find the DICOM files of an upload by their content, read each once, and group slices into series."""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.multival import MultiValue

from core.errors import InputError

IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
LOCALIZER_TEXT = re.compile(r"\b(localizer|localiser|loc|scout|survey|3[ -]?plane|tri[ -]?pilot|aahscout)\b", re.I)
DEFER_BYTES = 64 * 1024
"""Elements larger than this (pixel data) are read from the file only when decoded, so an upload's
pixels are never all in memory twice: once as file bytes and once as the volume."""
HEADER_TAGS_NEEDED = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
SLICE_KEYWORDS = ("SeriesInstanceUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows",
                  "Columns", "BitsAllocated", "BitsStored", "SamplesPerPixel", "NumberOfFrames", "PixelRepresentation",
                  "RescaleSlope", "RescaleIntercept")
"""Header elements ingest reads from every slice. pydicom decodes an element when it is first used; these are
decoded as each file is read, so a damaged one (unknown VR, a number that is not one) is reported with its file."""
SERIES_KEYWORDS = ("StudyInstanceUID", "PatientID", "Modality", "ImageType", "SOPClassUID", "SeriesDescription",
                   "ProtocolName", "RepetitionTime", "EchoTime", "InversionTime", "ContrastBolusAgent")
"""Header elements ingest reads from the first slice of a series only: decoded for that slice once grouped."""
DAMAGED_FILE = (EOFError, OSError, ValueError, KeyError, TypeError, NotImplementedError, zlib.error, struct.error,
                BytesLengthException)
"""What pydicom raises on a file that is cut short or has damaged bytes (deflated data, value lengths, VRs)."""


@dataclass(frozen=True)
class SliceFile:
    """One DICOM image file: the header facts ingest needs, and the dataset to decode pixels from later."""

    path: Path
    relative: str
    dataset: Dataset

    @property
    def series_uid(self) -> str:
        return str(self.dataset.get("SeriesInstanceUID", "")) or f"no-series-uid:{self.path.parent}"

    def float_tuple(self, keyword: str) -> tuple[float, ...] | None:
        value = self.dataset.get(keyword)
        if value is None or value == "":
            return None
        try:
            numbers = tuple(float(v) for v in (value if isinstance(value, MultiValue | list | tuple) else [value]))
        except (TypeError, ValueError) as err:
            raise InputError(f"File '{self.relative}' has an unreadable {keyword} ({value!r}); "
                             "expected numbers.") from err
        if not np.isfinite(numbers).all():
            raise InputError(f"File '{self.relative}' has a value in {keyword} that is not finite ({value!r}); "
                             "expected finite numbers.")
        return numbers


@dataclass
class DicomSeries:
    """The slices of one SeriesInstanceUID, wherever they lie in the upload."""

    uid: str
    slices: list[SliceFile] = field(default_factory=list)

    @property
    def first(self) -> Dataset:
        return self.slices[0].dataset

    @property
    def description(self) -> str:
        ds = self.first
        return str(ds.get("SeriesDescription", "") or ds.get("ProtocolName", "") or "").strip()

    @property
    def folder(self) -> str:
        """The folder most of its files lie in (relative to the upload), e.g. ``00000/FLAIR``."""
        parents = Counter(str(Path(s.relative).parent) for s in self.slices)
        return parents.most_common(1)[0][0]

    @property
    def folder_name(self) -> str:
        return Path(self.folder).name

    @property
    def modality(self) -> str:
        return str(self.first.get("Modality", "")).upper()

    @property
    def image_type(self) -> tuple[str, ...]:
        value = self.first.get("ImageType", [])
        return tuple(str(v).upper() for v in (value if isinstance(value, list | tuple) else list(value)))

    def label(self) -> str:
        """How to name this series to a user: folder, description and size; never an identifier."""
        described = f" '{self.description}'" if self.description else ""
        return f"series{described} in '{self.folder}/' ({len(self.slices)} files)"

    def why_skipped(self) -> str | None:
        """Why this series is no candidate for a sequence (localizer, 2D derived image), or None."""
        if "LOCALIZER" in self.image_type or LOCALIZER_TEXT.search(self.description):
            return "localizer"
        sop_class = str(self.first.get("SOPClassUID", ""))
        if sop_class.startswith("1.2.840.10008.5.1.4.1.1.7"):  # Secondary Capture family
            return "secondary capture (2D derived image)"
        if "DERIVED" in self.image_type and len(self.slices) < 3:
            return "2D derived image"
        return None


@dataclass
class FolderScan:
    """What an upload folder holds: DICOM image series, NIfTI files, and files that were passed over."""

    series: list[DicomSeries]
    nifti: list[Path]
    passed_over: list[str]


def _is_dicom(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith((".nii", ".nii.gz"))


def read_slice(path: Path, relative: str) -> SliceFile | None:
    """Read one DICOM file (pixel bytes kept, not decoded); None when it holds no image."""
    try:
        ds = pydicom.dcmread(path, defer_size=DEFER_BYTES)
    except InvalidDicomError as err:
        raise InputError(f"File '{relative}' starts like DICOM but cannot be read ({err}); "
                         "expected a complete DICOM file.") from err
    except DAMAGED_FILE as err:
        raise _damaged(relative, err) from err
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        return None
    slice_file = SliceFile(path=path, relative=relative, dataset=ds)
    decode_header(slice_file, SLICE_KEYWORDS)
    return slice_file


def _damaged(relative: str, err: Exception) -> InputError:
    return InputError(f"File '{relative}' is a damaged or truncated DICOM file ({str(err) or type(err).__name__}); "
                      "expected a complete DICOM file: upload the study again.")


def decode_header(slice_file: SliceFile, keywords: tuple[str, ...]) -> None:
    """Decode the elements ``keywords`` of a file's header now; InputError naming the file when one is damaged."""
    try:
        for keyword in keywords:
            slice_file.dataset.get(keyword)
    except DAMAGED_FILE as err:
        raise _damaged(slice_file.relative, err) from err


def scan_folder(root: Path, shown_name: str | None = None) -> FolderScan:
    """Walk ``root``; recognise DICOM by content and NIfTI by name; group DICOM images by series."""
    shown = shown_name or root.name
    if not root.is_dir():
        raise InputError(f"'{shown}' is not a folder; expected a study folder, a .zip of one, or NIfTI files.")
    series: dict[str, DicomSeries] = {}
    nifti: list[Path] = []
    passed_over: list[str] = []
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    for path in files:
        relative = path.relative_to(root).as_posix()
        if path.name in IGNORED_NAMES or "__MACOSX" in path.parts:
            continue
        if path.name.upper() == "DICOMDIR":
            passed_over.append(f"'{relative}' (DICOMDIR index)")
        elif _is_nifti(path):
            nifti.append(path)
        elif _is_dicom(path):
            slice_file = read_slice(path, relative)
            if slice_file is None:
                passed_over.append(f"'{relative}' (DICOM without pixel data)")
                continue
            series.setdefault(slice_file.series_uid, DicomSeries(slice_file.series_uid)).slices.append(slice_file)
        else:
            passed_over.append(f"'{relative}' (not DICOM or NIfTI)")
    if not files:
        raise InputError(f"'{shown}' is empty; expected a study folder with the FLAIR, T1w, T1wCE and T2w "
                         "series (DICOM), or four NIfTI files.")
    if not series and not nifti:
        examples = ", ".join(passed_over[:3])
        raise InputError(f"'{shown}' holds no DICOM image or NIfTI file ({len(files)} files, e.g. {examples}); "
                         "expected DICOM files (recognised by content) or .nii/.nii.gz files.")
    for item in series.values():
        decode_header(item.slices[0], SERIES_KEYWORDS)
    return FolderScan(series=list(series.values()), nifti=nifti, passed_over=passed_over)


def check_one_study(series: list[DicomSeries]) -> None:
    """Raise when the image series come from more than one patient or more than one study."""
    for keyword, what in (("PatientID", "patients"), ("StudyInstanceUID", "studies")):
        groups: dict[str, list[DicomSeries]] = {}
        for item in series:
            groups.setdefault(str(item.first.get(keyword, "")), []).append(item)
        if len(groups) > 1:
            listing = "; ".join(
                f"{what[:-1] if what != 'studies' else 'study'} {n}: " + ", ".join(s.label() for s in members)
                for n, members in enumerate(groups.values(), start=1)
            )
            raise InputError(f"The upload mixes {len(groups)} {what} ({listing}); expected the four series of "
                             f"one study of one patient. Upload each study on its own.")


def check_modality(series: DicomSeries) -> None:
    """Raise unless the series is MR."""
    if series.modality != "MR":
        raise InputError(f"The {series.label()} is modality {series.modality or 'unknown'} "
                         f"(e.g. file '{series.slices[0].relative}'); expected MR images of a brain study.")


def slice_order(series: DicomSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order slices along their normal; return (order, positions sorted, orientation), checking headers."""
    first = series.slices[0]
    for slice_file in series.slices:
        missing = [tag for tag in HEADER_TAGS_NEEDED if slice_file.dataset.get(tag) in (None, "")]
        if missing:
            raise InputError(f"File '{slice_file.relative}' of the {series.label()} lacks {', '.join(missing)}; "
                             "expected position and orientation tags to place each slice in space.")
        position = slice_file.float_tuple("ImagePositionPatient")
        if len(position) != 3:
            raise InputError(f"File '{slice_file.relative}' has an ImagePositionPatient with {len(position)} "
                             "values; expected 3 (x, y, z in mm).")
    orientation = np.array(first.float_tuple("ImageOrientationPatient"))
    shape = (first.dataset.get("Rows"), first.dataset.get("Columns"))
    if not all(isinstance(n, int) and n > 0 for n in shape):
        rows, columns = ("(missing)" if n is None else n for n in shape)
        raise InputError(f"File '{first.relative}' of the {series.label()} has Rows {rows} and Columns {columns}; "
                         "expected the size of its pixel matrix (two positive numbers).")
    for slice_file in series.slices[1:]:
        other = np.array(slice_file.float_tuple("ImageOrientationPatient"))
        if other.shape != orientation.shape or np.max(np.abs(other - orientation)) > 1e-3:
            raise InputError(f"The {series.label()} mixes slice orientations ('{first.relative}' and "
                             f"'{slice_file.relative}' differ); expected one 3D volume with one orientation.")
        other_shape = (slice_file.dataset.get("Rows"), slice_file.dataset.get("Columns"))
        if other_shape != shape:
            raise InputError(f"The {series.label()} mixes matrix sizes: '{first.relative}' is "
                             f"{shape[0]}x{shape[1]}, '{slice_file.relative}' is {other_shape[0]}x{other_shape[1]}; "
                             "expected every slice of a series to have the same size.")
    if orientation.shape != (6,):
        raise InputError(f"File '{first.relative}' has an ImageOrientationPatient with {orientation.size} values; "
                         "expected 6.")
    normal = np.cross(orientation[:3], orientation[3:])
    if not 0.9 < np.linalg.norm(normal) < 1.1:
        shown = "\\".join(f"{value:g}" for value in orientation)
        raise InputError(f"File '{first.relative}' has ImageOrientationPatient {shown}, whose row and column "
                         "directions are not perpendicular unit vectors; expected two such directions.")
    positions = np.array([s.float_tuple("ImagePositionPatient") for s in series.slices], dtype=float)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    return order, positions[order], orientation
