"""The PDF report of one prediction (fpdf2): notice first, the answer, the checks behind it, key slices, provenance.

Built from the prediction's JSON report (the keys of ``predict --json``; optional parts such as ``quality``,
``tumour``, ``contributions`` or ``reasons`` are shown when present) and its prepared images. Patient
identity appears only when the caller passes it; it comes from the upload in memory and is never stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from core.ingest.identity import SourceIdentity
from core.notice import RESEARCH_NOTICE
from core.report.slices import KeySlice

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
        self.set_y(-12)
        self.set_font(FONT, "I", 7)
        self.set_text_color(110)
        self.cell(0, 5, latin_1(f"Research use only - not a medical device.   Page {self.page_no()}/{{nb}}"),
                  align="C")


def pdf_report(report: dict[str, Any], slices: tuple[str, str, list[KeySlice]] | None,
               identity: SourceIdentity | None = None, created: datetime | None = None) -> bytes:
    """The report as PDF bytes; ``slices`` is (sequence shown, what the point is, the three planes) or None;
    ``identity`` adds the patient block (only pass it when the user asked for it)."""
    created = created or datetime.now(UTC)
    pdf = _Page(format="A4")
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_title(TITLE)
    pdf.set_creator("mgmt-radiogenomics")
    pdf.alias_nb_pages()
    pdf.add_page()
    _notice(pdf)
    _heading(pdf, TITLE, size=14)
    _patient(pdf, identity)
    _answer(pdf, report)
    _quality(pdf, report.get("quality"))
    _tumour(pdf, report.get("tumour"))
    _contributions(pdf, report.get("contributions"))
    _sequences(pdf, report["sequences"])
    if slices is not None:
        _slices(pdf, *slices)
    _provenance(pdf, report, created)
    return bytes(pdf.output())


def _notice(pdf: FPDF) -> None:
    pdf.set_fill_color(255, 243, 205)
    pdf.set_draw_color(200, 150, 30)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(0, 5, latin_1(RESEARCH_NOTICE), border=1, fill=True, padding=2,
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(150)
    pdf.set_fill_color(255)
    pdf.ln(3)


def _heading(pdf: FPDF, text: str, size: int = 11) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.set_text_color(0)
    pdf.cell(0, size * 0.6, latin_1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _text(pdf: FPDF, text: str, style: str = "", size: int = 9) -> None:
    pdf.set_font(FONT, style, size)
    pdf.multi_cell(0, size * 0.5, latin_1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, header: tuple[str, ...] | None, rows: list[tuple[Any, ...]], widths: tuple[int, ...]) -> None:
    pdf.set_font(FONT, "", 8)
    with pdf.table(col_widths=widths, line_height=4.5, text_align="LEFT",
                   first_row_as_headings=header is not None) as table:
        for cells in ([header] if header else []) + rows:
            row = table.row()
            for cell in cells:
                row.cell(latin_1("" if cell is None else cell))
    pdf.ln(2)


def _patient(pdf: FPDF, identity: SourceIdentity | None) -> None:
    if identity is None:
        _text(pdf, "Patient identity: not included (this report names no patient).", "I", 8)
        pdf.ln(2)
        return
    _heading(pdf, "Patient (from the uploaded study; not stored by the service)")
    _table(pdf, None, identity.patient_lines(), (1, 3))


def _answer(pdf: FPDF, report: dict[str, Any]) -> None:
    _heading(pdf, "Result")
    low, high = report["uncertainty"]["interval90"]
    estimate = (f"P(methylated) = {report['probability']:.3f} (90% interval {low:.3f} to {high:.3f}; "
                f"threshold {report['threshold']:.2f})")
    if report.get("abstained"):
        _text(pdf, "The model abstains: label indeterminate.", "B", 12)
        for reason in report.get("reasons") or []:
            _text(pdf, f"- {reason}")
        _text(pdf, f"For reference only, not to be read as an answer: {estimate}.", "I")
    elif report.get("label") == "indeterminate":  # answered, but too unsure to call either way
        _text(pdf, "Label: indeterminate (no call)", "B", 12)
        for reason in report.get("reasons") or []:
            _text(pdf, f"- {reason}")
        _text(pdf, estimate, "B", 10)
    else:
        _text(pdf, f"Label: {report['label']}", "B", 12)
        _text(pdf, estimate, "B", 10)
    _text(pdf, f"Interval: {report['uncertainty'].get('method', '')}.", "", 8)
    for warning in report.get("warnings") or []:
        _text(pdf, f"Warning: {warning}", "", 8)
    pdf.ln(2)


def _quality(pdf: FPDF, quality: Any) -> None:
    if not isinstance(quality, list) or not quality:
        return
    _heading(pdf, "Quality checks")
    rows = [(q.get("check"), q.get("sequence") or "all", q.get("status"), _number(q.get("value")), q.get("detail"))
            for q in quality if isinstance(q, dict)]
    _table(pdf, ("check", "sequence", "status", "value", "detail"), rows, (3, 2, 2, 2, 7))


def _tumour(pdf: FPDF, tumour: Any) -> None:
    if not isinstance(tumour, dict) or not tumour:
        return
    _heading(pdf, "Tumour (model segmentation)")
    rows = []
    for key, value in tumour.items():
        if isinstance(value, dict):
            rows += [(f"{key}: {name}", _number(v)) for name, v in value.items()]
        elif isinstance(value, list):
            rows.append((key, ", ".join(_number(v) for v in value)))
        else:
            rows.append((key, _number(value)))
    _table(pdf, ("measure", "value"), rows, (2, 3))


def _contributions(pdf: FPDF, contributions: Any) -> None:
    if not isinstance(contributions, dict) or not contributions:
        return
    _heading(pdf, "Per-sequence contributions")
    rows = [(name, _number(value) if not isinstance(value, dict) else
             ", ".join(f"{k} {_number(v)}" for k, v in value.items())) for name, value in contributions.items()]
    _table(pdf, ("sequence", "contribution"), rows, (1, 4))


def _sequences(pdf: FPDF, sequences: dict[str, dict[str, Any]]) -> None:
    _heading(pdf, "Which series became which sequence")
    rows = [(name, s.get("source"), s.get("identified_by"), s.get("plane"), " x ".join(map(str, s.get("shape", []))),
             " x ".join(f"{v:.3g}" for v in s.get("spacing_mm", []))) for name, s in sequences.items()]
    _table(pdf, ("sequence", "source", "recognised by", "plane", "shape", "spacing (mm)"), rows, (2, 6, 4, 2, 3, 3))


def _slices(pdf: FPDF, sequence: str, point: str, planes: list[KeySlice]) -> None:
    gap, edge = 2, 4  # between panels; the margin for the direction letters left and right of each image
    panel = (pdf.epw - 2 * gap) / 3
    width = panel - 2 * edge
    tallest = max(width * key.image.height / key.image.width for key in planes)
    if pdf.will_page_break(30 + tallest):  # heading, caption, letters and labels: the block stays on one page
        pdf.add_page()
    _heading(pdf, "Key slices")
    overlay = ("with the Grad-CAM map of the predicted label on top (yellow weak, red strong; shown inside the "
               "brain). The map shows what drove the model, not where the tumour is." if planes[0].overlay else
               "without a Grad-CAM map (the prediction was made without one).")
    _text(pdf, f"{sequence} through the {point}, {overlay} Radiological view: the patient's right on the left.", "",
          8)
    pdf.ln(1)
    top = pdf.get_y()
    bottom = top
    for n, key in enumerate(planes):
        x = pdf.l_margin + n * (panel + gap)
        height = width * key.image.height / key.image.width
        pdf.image(key.image, x=x + edge, y=top + 4, w=width, h=height)
        pdf.set_font(FONT, "", 7)
        left, right, up, down = key.edges
        pdf.set_xy(x, top)
        pdf.cell(panel, 4, latin_1(up), align="C")
        pdf.set_xy(x, top + 4 + height / 2 - 2)
        pdf.cell(edge, 4, latin_1(left), align="C")
        pdf.set_xy(x + panel - edge, top + 4 + height / 2 - 2)
        pdf.cell(edge, 4, latin_1(right), align="C")
        pdf.set_xy(x, top + 4 + height)
        pdf.cell(panel, 4, latin_1(down), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT, "B", 8)
        pdf.cell(panel, 4, latin_1(f"{key.plane.capitalize()}, {key.axis_name} = {key.position_mm:+.0f} mm"),
                 align="C")
        bottom = max(bottom, top + 4 + height + 8)
    pdf.set_xy(pdf.l_margin, bottom + 2)


def _provenance(pdf: FPDF, report: dict[str, Any], created: datetime) -> None:
    _heading(pdf, "Provenance")
    model = report["model"]
    rows = [("model", model.get("repo")), ("revision", model.get("revision")),
            ("preprocessing", f"version {report.get('preprocessing_version', '')}"),
            ("study key", f"{report.get('study_hash', '')} (salted one-way hash; names no patient)"),
            ("report created", created.strftime("%Y-%m-%d %H:%M UTC"))]
    _table(pdf, None, rows, (1, 4))


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float | np.floating):
        return f"{float(value):.3g}"
    return str(value)
