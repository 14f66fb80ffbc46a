"""The tumour as a DICOM Segmentation (highdicom) on one source series, so a PACS or OHIF overlays it on that series.

Segments are the BraTS sub-regions of ``core.regions`` (necrotic core, oedema, enhancing tumour), coded as
highdicom's examples code tumours (category SCT "Morphologically Abnormal Structure"; types Necrosis, Edema and
Neoplasm). The label map leaves the model grid through world coordinates (``core.report.resample``) onto every
instance of the series shown (T1wCE when present), one binary frame per source slice and segment, each frame
referencing its source instance. UIDs are derived from the source series, the model and the label map, so the same
prediction always gives the same SEG and an SR made in another request references it correctly.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from core.errors import InputError
from core.ingest.identity import MR_IMAGE_STORAGE, SeriesGeometry, SourceIdentity, SourceSeries
from core.regions import ENHANCING, LABELS, NECROTIC, OEDEMA
from core.report.resample import labels_on_slices

SHOWN_ON = ("T1wCE", "FLAIR", "T2w", "T1w")
"""The series the SEG lies on: the first present (contrast-enhanced T1 shows the tumour rim best)."""
CATEGORY = codes.SCT.MorphologicallyAbnormalStructure
TYPES = {NECROTIC: codes.SCT.Necrosis, OEDEMA: codes.SCT.Edema, ENHANCING: codes.SCT.Neoplasm}
"""Segmented property type of each BraTS label."""
COLOURS = {NECROTIC: (65, 105, 225), OEDEMA: (50, 205, 50), ENHANCING: (255, 215, 0)}
"""Display colours (RGB) as on the page's overlay."""
SERIES_NUMBER = 9902
SERIES_DESCRIPTION = "MGMT tumour segmentation - research use only"
MANUFACTURER = "mgmt-radiogenomics (open-source research demo)"


@dataclass(frozen=True)
class SegReference:
    """What an SR needs to point at the SEG's segments: its UIDs and the segment number of each BraTS label."""

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    source_series_uid: str
    segment_numbers: dict[int, int]  # BraTS label value -> segment number


@dataclass(frozen=True)
class TumourSeg:
    """A SEG made for one prediction: the dataset and how to reference it."""

    dataset: hd.seg.Segmentation
    reference: SegReference

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        dcmwrite(buffer, self.dataset, enforce_file_format=True)
        return buffer.getvalue()


def seg_series(identity: SourceIdentity) -> SourceSeries:
    """The source series the SEG lies on (the first of SHOWN_ON the study has, with its slice geometry)."""
    placed = {series.sequence: series for series in identity.series if series.geometry is not None}
    for sequence in SHOWN_ON:
        if sequence in placed:
            return placed[sequence]
    raise InputError("A DICOM SEG needs the slice positions of a source series; none of this study's series kept "
                     "them, so the segmentation cannot be placed on the study's slices.")


def tumour_seg(labels: np.ndarray, grid_affine: np.ndarray, identity: SourceIdentity | None, model: str,
               algorithm_version: str) -> TumourSeg:
    """The SEG of a BraTS label map on the model grid; InputError for a NIfTI upload (no series to lie on)."""
    if identity is None:
        raise InputError("A DICOM SEG needs a DICOM study: this upload has no series to place the segmentation on "
                         "(NIfTI files carry no UIDs); the label map comes as NIfTI with its RAS affine instead.")
    series = seg_series(identity)
    geometry = series.geometry
    values = tuple(label.value for label in LABELS)
    numbers = {value: number for number, value in enumerate(values, start=1)}
    on_slices = labels_on_slices(labels, grid_affine, geometry, values)
    segments = np.zeros_like(on_slices)
    for value, number in numbers.items():
        segments[on_slices == value] = number
    entropy = [series.series_uid, model, algorithm_version, hashlib.sha256(segments.tobytes()).hexdigest()]
    algorithm = hd.AlgorithmIdentificationSequence(name="MGMT methylation CNN, tumour segmentation",
                                                   family=codes.cid7162.ArtificialIntelligence,
                                                   version=_lo(algorithm_version), source=_lo(model))
    descriptions = [hd.seg.SegmentDescription(
        segment_number=numbers[label.value], segment_label=label.name, segmented_property_category=CATEGORY,
        segmented_property_type=TYPES[label.value], algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm, tracking_uid=generate_uid(entropy_srcs=[*entropy, label.key]),
        tracking_id=f"model segmentation: {label.name}", anatomic_regions=[codes.SCT.Brain],
        display_color=hd.color.CIELabColor.from_rgb(*COLOURS[label.value])) for label in LABELS]
    order = geometry.order()
    dataset = hd.seg.Segmentation(
        source_images=[_source_image(identity, series, int(index)) for index in order], pixel_array=segments,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
        series_instance_uid=generate_uid(entropy_srcs=[*entropy, "series"]), series_number=SERIES_NUMBER,
        sop_instance_uid=generate_uid(entropy_srcs=[*entropy, "instance"]), instance_number=1,
        manufacturer=MANUFACTURER, manufacturer_model_name="MGMT methylation CNN",
        software_versions=_lo(f"{model}@{algorithm_version}"), device_serial_number="none",
        pixel_measures=_pixel_measures(geometry), omit_empty_frames=False,
        content_label="TUMOUR", content_description="Tumour sub-regions segmented by the model (research use only)",
        series_description=SERIES_DESCRIPTION)
    reference = SegReference(str(dataset.SOPClassUID), str(dataset.SOPInstanceUID),
                             str(dataset.SeriesInstanceUID), series.series_uid,
                             {value: numbers[value] for value in values})
    return TumourSeg(dataset, reference)


def _slice_step(geometry: SeriesGeometry) -> float:
    """The slice step measured from the positions (the headers' SliceThickness may not give it)."""
    along = np.sort(np.asarray(geometry.positions, float) @ np.cross(geometry.orientation[:3],
                                                                   geometry.orientation[3:]))
    return round(float(np.median(np.diff(along))), 6) if len(along) > 1 else 1.0


def warm_up() -> None:
    """Make one SEG of made-up values and drop it: highdicom reads its tables of the standard on first use."""
    header = Dataset()
    header.StudyInstanceUID = generate_uid()
    geometry = SeriesGeometry((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (1.0, 1.0), 4, 4, ((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)))
    series = SourceSeries("T1wCE", generate_uid(), MR_IMAGE_STORAGE, (generate_uid(), generate_uid()), geometry)
    labels = np.zeros((4, 4, 2), np.uint8)
    labels[1:3, 1:3, :] = ENHANCING
    tumour_seg(labels, np.eye(4), SourceIdentity(header, (series,)), "warm-up", "0").to_bytes()


def _pixel_measures(geometry: SeriesGeometry) -> hd.PixelMeasuresSequence:
    """Pixel spacing of the source, and its slice step as thickness and spacing."""
    step = _slice_step(geometry)
    return hd.PixelMeasuresSequence(pixel_spacing=list(geometry.pixel_spacing), slice_thickness=step,
                                    spacing_between_slices=step)


def _source_image(identity: SourceIdentity, series: SourceSeries, index: int) -> Dataset:
    """The header of one source instance as highdicom reads it: patient and study modules, UIDs and geometry."""
    geometry = series.geometry
    image = Dataset()
    for element in identity.header:
        image.add(element)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "ReferringPhysicianName", "StudyID", "AccessionNumber"):
        if keyword not in image:
            setattr(image, keyword, "")
    image.Modality = "MR"
    image.SOPClassUID = series.sop_class_uid
    image.SOPInstanceUID = series.instance_uids[index]
    image.SeriesInstanceUID = series.series_uid
    image.SeriesNumber = 1
    image.InstanceNumber = index + 1
    # A source without a frame of reference (RSNA files have none) gets one derived from its series UID.
    image.FrameOfReferenceUID = geometry.frame_of_reference_uid or generate_uid(entropy_srcs=[series.series_uid])
    image.ImageOrientationPatient = list(geometry.orientation)
    image.ImagePositionPatient = list(geometry.positions[index])
    image.PixelSpacing = list(geometry.pixel_spacing)
    image.SliceThickness = image.SpacingBetweenSlices = _slice_step(geometry)
    image.Rows, image.Columns = geometry.rows, geometry.columns
    image.SamplesPerPixel, image.PhotometricInterpretation = 1, "MONOCHROME2"
    image.BitsAllocated, image.BitsStored, image.HighBit, image.PixelRepresentation = 16, 16, 15, 1
    return image


def _lo(text: str) -> str:
    """A Long String value: at most 64 characters, no backslash."""
    return text.replace("\\", "/")[-64:]
