"""The one-page PDF report of one prediction (fpdf2): the notice, the call or why there is none, the checks in one
line, the tumour, the key slices with the segmentation outline, and which model answered.

Built from the typed parts of the prediction's result, with the words of ``core.report.wording`` (the Predict page
says the same). Patient identity appears only when the caller passes it; it comes from the upload in memory and is
never stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from core.ingest.identity import SourceIdentity
from core.notice import RESEARCH_NOTICE
from core.regions import MEASURED
from core.report.slices import KeySlice, outline_legend
from core.report.wording import (
    call_sentence,
    estimate,
    is_call,
    millilitres,
    millimetres,
    quality_issues,
    quality_line,
    reference_estimate,
)

if TYPE_CHECKING:
    from core.inference.report import PredictionResult

TITLE = "MGMT promoter methylation from MRI: research report"
FONT = "Helvetica"
LATIN_1 = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...",
           "\u2264": "<=", "\u2265": ">=", "\u00d7": "x", "\u2192": "->", "\u00b1": "+/-"}
"""Characters the PDF's built-in font lacks, and what stands for them."""


def latin_1(text: Any) -> str:
    """``text`` in the characters of the PDF's built-in font (Latin-1); anything else becomes '?'."""
    shown = str(text)
    for character, replacement in LATIN_1.items():
        shown = shown.replace(character, replacement)
    return shown.encode("latin-1", "replace").decode("latin-1")


class _Page(FPDF):
    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, "I", 7)
        self.set_text_color(110)
        self.cell(0, 4, latin_1("Research use only - not a medical device."), align="C")


def pdf_report(result: PredictionResult, slices: tuple[str, str, list[KeySlice]] | None,
               identity: SourceIdentity | None = None, created: datetime | None = None) -> bytes:
    """The report as PDF bytes; ``slices`` is (sequence shown, what the point is, the three planes) or None;
    ``identity`` adds the patient block (only pass it when the user asked for it)."""
    created = created or datetime.now(UTC)
    pdf = _Page(format="A4")
    pdf.set_margins(12, 10, 12)
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_title(TITLE)
    pdf.set_creator("mgmt-radiogenomics")
    pdf.add_page()
    _notice(pdf)
    _heading(pdf, TITLE, size=13)
    _patient(pdf, identity)
    _answer(pdf, result)
    _quality(pdf, result)
    _tumour(pdf, result)
    _sequences(pdf, result)
    if slices is not None:
        _slices(pdf, *slices)
    _provenance(pdf, result, created)
    return bytes(pdf.output())


def _notice(pdf: FPDF) -> None:
    pdf.set_fill_color(255, 243, 205)
    pdf.set_draw_color(200, 150, 30)
    pdf.set_font(FONT, "B", 8.5)
    pdf.multi_cell(0, 4, latin_1(RESEARCH_NOTICE), border=1, fill=True, padding=1.5,
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(150)
    pdf.set_fill_color(255)
    pdf.ln(2)


def _heading(pdf: FPDF, text: str, size: float = 10) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.set_text_color(0)
    pdf.cell(0, size * 0.55, latin_1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(0.5)


def _text(pdf: FPDF, text: str, style: str = "", size: float = 8.5) -> None:
    pdf.set_font(FONT, style, size)
    pdf.multi_cell(0, size * 0.48, latin_1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, rows: list[tuple[str, ...]], widths: tuple[int, ...], header: bool = True) -> None:
    pdf.set_font(FONT, "", 7.5)
    with pdf.table(col_widths=widths, line_height=3.8, text_align="LEFT", first_row_as_headings=header) as table:
        for cells in rows:
            row = table.row()
            for cell in cells:
                row.cell(latin_1(cell))
    pdf.ln(1.5)


def _patient(pdf: FPDF, identity: SourceIdentity | None) -> None:
    if identity is None:
        _text(pdf, "Patient identity: not included (this report names no patient).", "I", 7.5)
        pdf.ln(1)
        return
    lines = identity.patient_lines()
    _text(pdf, "Patient (from the uploaded study; not stored by the service): "
          + "; ".join(f"{label} {value}" for label, value in lines), "", 8)
    pdf.ln(1)


def _answer(pdf: FPDF, result: PredictionResult) -> None:
    _heading(pdf, "Result")
    _text(pdf, call_sentence(result), "B", 11)
    if is_call(result):
        _text(pdf, f"{estimate(result)}; decision threshold {result.threshold:.0%}.", "", 8.5)
    else:
        _text(pdf, reference_estimate(result), "I", 8.5)
    _text(pdf, f"Interval: {result.uncertainty.method}.", "", 7)
    for warning in result.warnings:
        _text(pdf, f"Warning: {warning}", "", 7.5)
    pdf.ln(1)


def _quality(pdf: FPDF, result: PredictionResult) -> None:
    _heading(pdf, "Quality checks")
    _text(pdf, quality_line(result.quality))
    for line in quality_issues(result.quality):
        _text(pdf, f"- {line}", "", 7.5)
    if result.ood is not None:
        _text(pdf, f"Out-of-distribution distance {result.ood.score:.1f} (threshold {result.ood.threshold:.1f}).", "",
              7.5)
    pdf.ln(1)


def _tumour(pdf: FPDF, result: PredictionResult) -> None:
    tumour = result.tumour
    _heading(pdf, "Tumour (model segmentation)")
    if tumour is None or not tumour.found:
        _text(pdf, "The model found no tumour.")
        pdf.ln(1)
        return
    regions = [region for region in MEASURED if region.key in tumour.volumes_ml]
    _table(pdf, [tuple(region.name for region in regions),
                 tuple(millilitres(tumour.volumes_ml[region.key]) for region in regions)], (1,) * len(regions))
    where = f"Whole-tumour centre: {millimetres(tumour.centre_mm)} (RAS world coordinates)."
    contributions = result.contributions or {}
    if contributions:
        where += " Per-sequence contributions (probability with the sequence minus without it): " + ", ".join(
            f"{name} {100 * delta:+.1f} points" for name, delta in contributions.items()) + "."
    _text(pdf, where, "", 7.5)
    pdf.ln(1)


def _sequences(pdf: FPDF, result: PredictionResult) -> None:
    _heading(pdf, "Which series became which sequence")
    rows = [("sequence", "source", "recognised by", "plane", "slices", "voxel (mm)")]
    rows += [(name, s.source, s.identified_by, s.plane, str(s.shape[2]),
              " x ".join(f"{v:.2f}" for v in s.spacing_mm)) for name, s in result.sequences.items()]
    if result.missing:
        rows += [(name, "missing (the model was told)", "", "", "", "") for name in result.missing]
    _table(pdf, rows, (2, 6, 5, 2, 1, 3))


def _slices(pdf: FPDF, sequence: str, point: str, planes: list[KeySlice]) -> None:
    gap, edge = 2, 4  # between panels; the margin for the direction letters left and right of each image
    panel = (pdf.epw - 2 * gap) / 3
    width = min(panel - 2 * edge, 56)
    _heading(pdf, "Key slices")
    outline = f"with the segmentation outline ({outline_legend()})" if planes[0].outline else \
        "(the model found no tumour to outline)"
    _text(pdf, f"{sequence} through the {point}, {outline}. Radiological view: the patient's right on the left.",
          "", 7.5)
    top = pdf.get_y() + 1
    bottom = top
    for n, key in enumerate(planes):
        x = pdf.l_margin + n * (panel + gap) + (panel - width - 2 * edge) / 2
        height = width * key.image.height / key.image.width
        pdf.image(key.image, x=x + edge, y=top + 4, w=width, h=height)
        pdf.set_font(FONT, "", 7)
        left, right, up, down = key.edges
        pdf.set_xy(x, top)
        pdf.cell(width + 2 * edge, 4, latin_1(up), align="C")
        pdf.set_xy(x, top + 4 + height / 2 - 2)
        pdf.cell(edge, 4, latin_1(left), align="C")
        pdf.set_xy(x + width + edge, top + 4 + height / 2 - 2)
        pdf.cell(edge, 4, latin_1(right), align="C")
        pdf.set_xy(x, top + 4 + height)
        pdf.cell(width + 2 * edge, 3.5, latin_1(down), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT, "B", 7.5)
        pdf.cell(width + 2 * edge, 3.5, latin_1(f"{key.plane.capitalize()}, {key.axis_name} = "
                                                f"{key.position_mm:+.0f} mm"), align="C")
        bottom = max(bottom, top + 4 + height + 7)
    pdf.set_xy(pdf.l_margin, bottom + 1)


def _provenance(pdf: FPDF, result: PredictionResult, created: datetime) -> None:
    _heading(pdf, "Provenance")
    provenance = result.provenance
    _text(pdf, f"Model {provenance.repo}, revision {provenance.revision}; preprocessing version "
          f"{provenance.preprocessing_version}. Study key {result.study_hash} (a salted one-way hash; it names no "
          f"patient). Report created {created.strftime('%Y-%m-%d %H:%M UTC')}.", "", 7.5)
