"""The DICOM SEG: valid for dciodvfy, read back by highdicom, on the T1wCE series' slices, where the tumour is."""

from __future__ import annotations

import gzip
import io
import subprocess
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest

from core.ingest.geometry import LPS_TO_RAS
from core.ingest.identity import SourceIdentity
from core.regions import LABELS
from core.report import ReportRequest, make_documents
from core.service import Outcome


def read_back(data: bytes) -> hd.seg.Segmentation:
    return hd.seg.segread(io.BytesIO(data))


def t1wce_headers(dicom_case: Path) -> dict[str, pydicom.Dataset]:
    """SOP Instance UID -> header of each T1wCE file."""
    headers = [pydicom.dcmread(path, stop_before_pixels=True) for path in (dicom_case / "T1wCE").glob("*.dcm")]
    return {str(header.SOPInstanceUID): header for header in headers}


def test_the_seg_passes_dciodvfy_without_errors_or_warnings(outcome: Outcome, tmp_path: Path) -> None:
    path = tmp_path / "seg.dcm"
    path.write_bytes(outcome.documents.made["seg"].data)
    checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    said = [line for line in (checked.stdout + checked.stderr).splitlines() if line.strip()]
    assert said == ["Segmentation"]


def test_the_segments_are_the_three_sub_regions_coded_as_tumour_parts(outcome: Outcome) -> None:
    seg = read_back(outcome.documents.made["seg"].data)
    found = {item.SegmentNumber: (item.SegmentLabel, item.SegmentedPropertyCategoryCodeSequence[0].CodeValue,
                                  item.SegmentedPropertyTypeCodeSequence[0].CodeMeaning)
             for item in seg.SegmentSequence}
    assert found == {1: ("necrotic core", "49755003", "Necrosis"), 2: ("oedema", "49755003", "Edema"),
                     3: ("enhancing tumour", "49755003", "Neoplasm")}
    assert [label.name for label in LABELS] == [found[n][0] for n in (1, 2, 3)]
    assert {item.SegmentAlgorithmType for item in seg.SegmentSequence} == {"AUTOMATIC"}


def test_one_frame_per_source_slice_and_segment_each_on_its_instance(outcome: Outcome, dicom_case: Path) -> None:
    seg = read_back(outcome.documents.made["seg"].data)
    headers = t1wce_headers(dicom_case)
    assert seg.NumberOfFrames == 3 * len(headers)
    assert (seg.Rows, seg.Columns) == (headers[next(iter(headers))].Rows, headers[next(iter(headers))].Columns)
    for frame in seg.PerFrameFunctionalGroupsSequence:
        source = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        position = [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient]
        assert position == pytest.approx([float(v) for v in headers[source].ImagePositionPatient], abs=1e-4)


def test_the_seg_references_the_t1wce_series_of_the_source_study(outcome: Outcome, dicom_case: Path,
                                                                  identity: SourceIdentity) -> None:
    seg = read_back(outcome.documents.made["seg"].data)
    header = next(iter(t1wce_headers(dicom_case).values()))
    assert seg.StudyInstanceUID == header.StudyInstanceUID and seg.PatientID == header.PatientID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == header.SeriesInstanceUID
    assert seg.FrameOfReferenceUID == header.FrameOfReferenceUID
    assert seg.SeriesInstanceUID not in {series.series_uid for series in identity.series}


def test_the_whole_tumour_on_the_source_slices_matches_the_synthetic_truth(outcome: Outcome,
                                                                           dicom_case: Path) -> None:
    """Dice of the SEG's whole tumour against the planted one, both in the T1wCE series' own space (each SEG voxel's
    centre placed through highdicom's affine, LPS, and looked up in the truth's RAS grid)."""
    volume = read_back(outcome.documents.made["seg"].data).get_volume(combine_segments=True)
    truth = nib.load(dicom_case.parent.parent / "masks" / f"{dicom_case.name}_seg.nii.gz")
    index = np.indices(volume.array.shape).reshape(3, -1)
    world = LPS_TO_RAS @ volume.affine @ np.vstack([index, np.ones(index.shape[1])])
    ijk = np.rint((np.linalg.inv(truth.affine) @ world)[:3]).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.array(truth.shape)[:, None]), axis=0)
    planted = np.zeros(index.shape[1], bool)
    planted[inside] = np.asarray(truth.dataobj)[tuple(ijk[:, inside])] > 0
    found = volume.array.reshape(-1) > 0
    dice = 2 * np.sum(found & planted) / (found.sum() + planted.sum())
    assert planted.sum() > 100 and dice >= 0.8


def test_the_same_prediction_gives_the_same_seg_that_the_sr_of_another_request_references(
        outcome: Outcome, identity: SourceIdentity) -> None:
    again = make_documents(outcome.prediction, identity, ReportRequest(("sr",)))
    sr = hd.sr.srread(io.BytesIO(again.made["sr"].data))
    seg = read_back(outcome.documents.made["seg"].data)
    referenced = {group.referenced_segment.referenced_sop_instance_uid
                  for group in sr.content.get_volumetric_roi_measurement_groups()}
    assert referenced == {seg.SOPInstanceUID}


def test_a_nifti_study_gets_its_label_map_as_nifti_with_the_ras_affine(outcome: Outcome, tmp_path: Path) -> None:
    made = make_documents(outcome.prediction, None, ReportRequest(("seg",))).made["seg"]
    assert made.file_name.endswith(".seg.nii.gz") and made.media_type == "application/gzip"
    path = tmp_path / "labels.nii"
    path.write_bytes(gzip.decompress(made.data))
    image = nib.load(path)
    grid = outcome.prediction.artefacts.prepared.grid
    assert np.allclose(image.affine, grid.affine) and image.shape == grid.shape
    assert np.array_equal(np.asarray(image.dataobj), outcome.prediction.artefacts.segmentation)


def test_a_label_lands_on_the_source_pixel_at_its_world_position() -> None:
    """RAS grid vs LPS slices: the voxel at RAS (7, 5, 0) is the pixel whose LPS centre is (-7, -5, 0)."""
    from core.ingest.identity import SeriesGeometry
    from core.report.resample import labels_on_slices

    grid = np.eye(4)
    grid[:3, 3] = -16.0  # voxel (i, j, k) lies at RAS (i - 16, j - 16, k - 16)
    labels = np.zeros((32, 32, 32), np.uint8)
    labels[7 + 16, 5 + 16, 16] = 4
    axial = SeriesGeometry((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (1.0, 1.0), 20, 20,
                           ((-10.0, -10.0, 1.0), (-10.0, -10.0, 0.0)))
    on_slices = labels_on_slices(labels, grid, axial, (1, 2, 4))
    assert np.argwhere(on_slices).tolist() == [[0, 5, 3]]  # slice z = 0 comes first along the normal; row 5, column 3


def test_the_seg_lies_on_flair_when_there_is_no_t1wce() -> None:
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    from core.ingest.identity import MR_IMAGE_STORAGE, SeriesGeometry, SourceSeries
    from core.report.seg import seg_series

    geometry = SeriesGeometry((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), (1.0, 1.0), 4, 4, ((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)))
    series = tuple(SourceSeries(name, generate_uid(), MR_IMAGE_STORAGE, (generate_uid(), generate_uid()), geometry)
                   for name in ("T1w", "FLAIR", "T2w"))
    assert seg_series(SourceIdentity(Dataset(), series)).sequence == "FLAIR"
