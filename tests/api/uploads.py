"""Uploads of a study folder as the REST API receives them: one .zip, or its files named by relative path."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pydicom


def study_zip(folder: Path, padding: int = 0) -> bytes:
    """``folder`` as a stored (uncompressed) zip holding ``<folder name>/<sequence>/Image-N.dcm``, plus a
    ``<folder name>/padding.bin`` of ``padding`` random bytes when asked (a larger upload of the same study)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
        if padding:
            archive.writestr(f"{folder.name}/padding.bin", os.urandom(padding))
    return buffer.getvalue()


def study_files(folder: Path, field: str = "files") -> list[tuple[str, tuple[str, bytes]]]:
    """``folder``'s files as ``requests`` multipart parts, each named by its path relative to ``folder``."""
    return [(field, (path.relative_to(folder).as_posix(), path.read_bytes()))
            for path in sorted(folder.rglob("*")) if path.is_file()]


def garbage_zip(size: int) -> bytes:
    """A readable zip of random bytes where a study was expected: ``case/notes.txt`` and ``case/FLAIR/Image-1.dcm``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("case/notes.txt", os.urandom(size // 2))
        archive.writestr("case/FLAIR/Image-1.dcm", os.urandom(size // 2))
    return buffer.getvalue()


def patient_identity(folder: Path) -> list[str]:
    """The patient name parts and id written in the study's DICOM headers (must never come back from the API)."""
    header = pydicom.dcmread(next(folder.rglob("*.dcm")), stop_before_pixels=True)
    name = str(header.PatientName)
    return [part for part in name.replace("^", " ").split() if len(part) > 2] + [str(header.PatientID)]
