"""The documents of one prediction (PDF, DICOM SR, DICOM SEG), made while the upload's identity is still in memory."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import InputError
from core.ingest.identity import SourceIdentity

if TYPE_CHECKING:
    from core.inference import Prediction
    from core.report.seg import TumourSeg

KINDS = {"pdf": ("application/pdf", "pdf"), "sr": ("application/dicom", "dcm"),
         "seg": ("application/dicom", "seg.dcm")}
"""Report kinds: media type and file suffix (a NIfTI study's segmentation is NIfTI_SEG instead)."""
NIFTI_SEG = ("application/gzip", "seg.nii.gz")
"""The segmentation of a NIfTI study: the label map as NIfTI with its RAS affine (no series to put a SEG on)."""


@dataclass(frozen=True)
class ReportRequest:
    """Which documents to make, and whether the PDF names the patient (only when the user asked for it)."""

    kinds: tuple[str, ...] = ("pdf", "sr", "seg")
    include_identity: bool = False

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown:
            raise InputError(f"Report kind {unknown[0]!r} is not known; expected one of {', '.join(KINDS)}.")


@dataclass(frozen=True)
class Document:
    """One report file: bytes, media type, and a file name that names no patient (the study's salted hash)."""

    kind: str
    data: bytes = field(repr=False)
    file_name: str
    media_type: str


@dataclass(frozen=True)
class Documents:
    """What was made, and why a kind asked for was not (e.g. an SR of a NIfTI upload)."""

    made: dict[str, Document]
    refused: dict[str, str]


def file_name(study_hash: str, suffix: str) -> str:
    return f"mgmt-report-{study_hash[:16]}.{suffix}"


def make_documents(prediction: Prediction, identity: SourceIdentity | None, request: ReportRequest) -> Documents:
    """The documents ``request`` asks for; a kind that cannot be made is refused with the InputError's message.
    The SR references the SEG's segments, so the SEG is made whenever either is asked for."""
    made, refused = {}, {}
    seg, unplaced = None, ""
    if {"sr", "seg"} & set(request.kinds) and identity is not None:
        try:
            seg = _seg(prediction, identity)
        except InputError as err:  # the SR then goes without segment references
            unplaced = err.user_message
    study_hash = prediction.result.study_hash
    for kind in request.kinds:
        media_type, suffix = KINDS[kind]
        try:
            if kind == "pdf":
                data = _pdf(prediction, identity if request.include_identity else None)
            elif kind == "sr":
                data = _sr(prediction, identity, seg)
            elif identity is None:
                data, (media_type, suffix) = _nifti_labels(prediction), NIFTI_SEG
            elif seg is None:
                raise InputError(unplaced)
            else:
                data = seg.to_bytes()
        except InputError as err:
            refused[kind] = err.user_message
            continue
        made[kind] = Document(kind, data, file_name(study_hash, suffix), media_type)
    return Documents(made, refused)


def load_report_writers() -> None:
    """Load the PDF, SR and SEG writers (fpdf2 and highdicom imports, highdicom's tables of the standard: about 2 s
    on first use), so the first report does not wait; done with the model, in the background."""
    import core.report.pdf  # noqa: F401
    from core.report import seg, sr

    sr.warm_up()
    seg.warm_up()


def _seg(prediction: Prediction, identity: SourceIdentity) -> TumourSeg:
    from core.report.seg import tumour_seg

    artefacts, provenance = prediction.artefacts, prediction.result.provenance
    return tumour_seg(artefacts.segmentation, artefacts.prepared.grid.affine, identity, provenance.repo,
                      provenance.revision)


def _pdf(prediction: Prediction, identity: SourceIdentity | None) -> bytes:
    from core.report.pdf import pdf_report
    from core.report.slices import key_point, key_slices

    result, artefacts = prediction.result, prediction.artefacts
    prepared = artefacts.prepared
    centre = result.tumour.centre_mm if result.tumour is not None else None
    point, what = key_point(prepared.grid.affine, prepared.grid.shape, artefacts.cam, prepared.brain_mask, centre)
    sequence, planes = key_slices(prepared.intensities, prepared.sequences, prepared.grid.affine, None,
                                  prepared.brain_mask, point, artefacts.segmentation)
    return pdf_report(result, (sequence, what, planes), identity)


def _sr(prediction: Prediction, identity: SourceIdentity | None, seg: TumourSeg | None) -> bytes:
    from core.report.sr import sr_report

    return sr_report(prediction.result, identity, seg.reference if seg is not None else None)


def _nifti_labels(prediction: Prediction) -> bytes:
    from core.inference.tumour import segmentation_image

    artefacts = prediction.artefacts
    return gzip.compress(segmentation_image(artefacts.segmentation, artefacts.prepared.grid).to_bytes(), mtime=0)
