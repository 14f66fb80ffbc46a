"""The documents of one prediction (PDF, DICOM SR), made while the upload's identity is still in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import InputError
from core.ingest.identity import SourceIdentity

if TYPE_CHECKING:
    from core.inference import Prediction

KINDS = {"pdf": ("application/pdf", "pdf"), "sr": ("application/dicom", "dcm")}
"""Report kinds: media type and file suffix."""


@dataclass(frozen=True)
class ReportRequest:
    """Which documents to make, and whether the PDF names the patient (only when the user asked for it)."""

    kinds: tuple[str, ...] = ("pdf", "sr")
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

    @property
    def media_type(self) -> str:
        return KINDS[self.kind][0]


@dataclass(frozen=True)
class Documents:
    """What was made, and why a kind asked for was not (e.g. an SR of a NIfTI upload)."""

    made: dict[str, Document]
    refused: dict[str, str]


def file_name(report: dict[str, Any], kind: str) -> str:
    return f"mgmt-report-{report.get('study_hash', 'study')[:16]}.{KINDS[kind][1]}"


def make_documents(prediction: Prediction, report: dict[str, Any], identity: SourceIdentity | None,
                   request: ReportRequest) -> Documents:
    """The documents ``request`` asks for; a kind that cannot be made is refused with the InputError's message."""
    made, refused = {}, {}
    for kind in request.kinds:
        try:
            data = _pdf(prediction, report, identity if request.include_identity else None) if kind == "pdf" \
                else _sr(report, identity)
        except InputError as err:
            refused[kind] = err.user_message
            continue
        made[kind] = Document(kind, data, file_name(report, kind))
    return Documents(made, refused)


def load_report_writers() -> None:
    """Load the PDF and SR writers (fpdf2 and highdicom imports, highdicom's tables of the standard: about 2 s on
    first use), so the first report does not wait; done with the model, in the background."""
    import core.report.pdf  # noqa: F401
    from core.report.sr import warm_up

    warm_up()


def _pdf(prediction: Prediction, report: dict[str, Any], identity: SourceIdentity | None) -> bytes:
    from core.report.pdf import pdf_report
    from core.report.slices import key_point, key_slices

    prepared, cam = prediction.artefacts.prepared, prediction.artefacts.cam
    point, what = key_point(prepared.grid.affine, prepared.grid.shape, cam, prepared.brain_mask,
                            report.get("tumour"))
    sequence, planes = key_slices(prepared.intensities, prepared.sequences, prepared.grid.affine, cam,
                                  prepared.brain_mask, point)
    return pdf_report(report, (sequence, what, planes), identity)


def _sr(report: dict[str, Any], identity: SourceIdentity | None) -> bytes:
    from core.report.sr import sr_report

    return sr_report(report, identity)
