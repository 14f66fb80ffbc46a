"""Ingestion: any upload of one brain MRI study becomes a geometry-correct, de-identified ``Study``."""

from core.ingest.loader import load_study, read_study_folder
from core.ingest.staging import UploadedFile, staged
from core.ingest.study import Study, Volume

__all__ = ["Study", "UploadedFile", "Volume", "load_study", "read_study_folder", "staged"]
