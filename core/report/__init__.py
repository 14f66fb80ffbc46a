"""Reports of one prediction: a PDF for people, and a DICOM SR and a DICOM SEG of the tumour for a PACS."""

from core.report.documents import KINDS, Document, Documents, ReportRequest, load_report_writers, make_documents

__all__ = ["KINDS", "Document", "Documents", "ReportRequest", "load_report_writers", "make_documents"]
