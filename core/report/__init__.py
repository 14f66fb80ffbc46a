"""Reports of one prediction: a PDF for people and a DICOM Structured Report for a PACS."""

from core.report.documents import KINDS, Document, Documents, ReportRequest, load_report_writers, make_documents

__all__ = ["KINDS", "Document", "Documents", "ReportRequest", "load_report_writers", "make_documents"]
