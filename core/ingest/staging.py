"""Stage an upload (folder, .zip, or browser files) as a plain folder that is removed afterwards.

Zip archives are checked before anything is extracted (entry count, declared size, paths, symlinks,
encryption) and extracted by streaming with a byte budget, because a zip may lie about its sizes.
A zip inside the zip is not opened: it is extracted as a file and then passed over by the reader.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.config import Settings, get_settings
from core.errors import InputError, UploadTooLarge

SKIPPED_PARTS = ("__MACOSX", ".DS_Store")
CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadedFile:
    """One file of a browser or REST upload: its relative path as sent, and its bytes (or a binary file)."""

    relative_path: str
    content: bytes | BinaryIO


def safe_relative_path(name: str, where: str) -> PurePosixPath | None:
    """``name`` as a relative path inside the upload; None for entries to skip; InputError if it escapes."""
    text = name.replace("\\", "/")
    path = PurePosixPath(text)
    if not text.strip("/"):
        raise InputError(f"{where} has an entry with an empty name; expected relative file paths.")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or ".." in path.parts:
        raise InputError(f"{where} has the entry '{name}', which points outside the upload; "
                         "expected relative paths inside one study folder.")
    if any(part in SKIPPED_PARTS for part in path.parts):
        return None
    return path


def _copy_with_budget(source: BinaryIO, target: Path, budget: int, where: str, limit: int) -> int:
    """Copy in chunks; raise UploadTooLarge once more than ``budget`` bytes arrive. Returns bytes written."""
    written = 0
    with open(target, "wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > budget:
                raise UploadTooLarge(f"{where} unpacks to more than {limit:,} bytes; expected one MRI study "
                                     "(raise MGMT_MAX_UNZIPPED_BYTES for larger ones).")
            out.write(chunk)
    return written


def _check_zip_entries(archive: zipfile.ZipFile, shown: str, settings: Settings) -> list[zipfile.ZipInfo]:
    entries = archive.infolist()
    if len(entries) > settings.max_zip_entries:
        raise UploadTooLarge(f"'{shown}' has {len(entries):,} entries; expected at most {settings.max_zip_entries:,} "
                             "for one study (raise MGMT_MAX_ZIP_ENTRIES for larger ones).")
    declared = sum(entry.file_size for entry in entries)
    if declared > settings.max_unzipped_bytes:
        raise UploadTooLarge(f"'{shown}' unpacks to {declared:,} bytes; expected at most "
                             f"{settings.max_unzipped_bytes:,} (raise MGMT_MAX_UNZIPPED_BYTES for larger ones).")
    for entry in entries:
        where = f"Zip entry '{entry.filename}' in '{shown}'"
        if entry.flag_bits & 0x1:
            raise InputError(f"{where} is encrypted; expected an archive without a password.")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise InputError(f"{where} is a symbolic link; expected plain files only.")
        safe_relative_path(entry.filename, f"'{shown}'")
    return entries


def extract_zip(path: Path, target: Path, settings: Settings, shown: str | None = None) -> None:
    """Extract a study archive into ``target`` after checking it, with a byte budget on what is written."""
    shown = shown or path.name
    try:
        with zipfile.ZipFile(path) as archive:
            entries = _check_zip_entries(archive, shown, settings)
            budget = settings.max_unzipped_bytes
            for entry in entries:
                relative = safe_relative_path(entry.filename, f"'{shown}'")
                if relative is None:
                    continue
                destination = target.joinpath(*relative.parts)
                if entry.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(entry) as source:
                    budget -= _copy_with_budget(source, destination, budget, f"'{shown}'",
                                                settings.max_unzipped_bytes)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as err:
        raise InputError(f"'{shown}' is not a readable zip archive ({err}); expected a .zip of one study "
                         "folder, or the folder itself.") from err


def _write_uploads(files: Sequence[UploadedFile], target: Path, settings: Settings) -> None:
    if len(files) > settings.max_zip_entries:
        raise UploadTooLarge(f"The upload has {len(files):,} files; expected at most {settings.max_zip_entries:,} "
                             "for one study (raise MGMT_MAX_ZIP_ENTRIES for larger ones).")
    budget = settings.max_unzipped_bytes
    for upload in files:
        relative = safe_relative_path(upload.relative_path, "The upload")
        if relative is None:
            continue
        destination = target.joinpath(*relative.parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        content = upload.content
        if isinstance(content, bytes | bytearray | memoryview):
            if len(content) > budget:
                raise UploadTooLarge(f"The upload is larger than {settings.max_unzipped_bytes:,} bytes; expected "
                                     "one MRI study (raise MGMT_MAX_UNZIPPED_BYTES for larger ones).")
            destination.write_bytes(content)
            budget -= len(content)
        else:
            budget -= _copy_with_budget(content, destination, budget, "The upload", settings.max_unzipped_bytes)
    zips = [p for p in target.rglob("*") if p.is_file() and zipfile.is_zipfile(p)]
    if len(zips) == 1 and sum(1 for p in target.rglob("*") if p.is_file()) == 1:
        archive = zips[0]
        extract_zip(archive, target / "study", settings, shown=archive.name)
        archive.unlink()


@contextmanager
def staged(source: Path | str | Sequence[UploadedFile], settings: Settings | None = None) -> Iterator[Path]:
    """Yield a folder holding the study: a folder as it is; a zip or uploaded files in a temporary folder.

    The temporary folder is removed when the block ends, also when it raises.
    """
    settings = settings or get_settings()
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise InputError(f"'{path}' does not exist; expected a study folder, a .zip of one, or NIfTI files.")
        if path.is_dir():
            yield path
            return
    temporary = Path(tempfile.mkdtemp(prefix="mgmt-upload-"))
    try:
        if isinstance(source, str | Path):
            path = Path(source)
            if zipfile.is_zipfile(path):
                extract_zip(path, temporary / path.stem, settings)
            elif path.suffix.lower() == ".zip":
                raise InputError(f"'{path.name}' is not a readable zip archive; expected a .zip of one study "
                                 "folder, or the folder itself.")
            else:
                shutil.copy(path, temporary / path.name)
        else:
            if not source:
                raise InputError("The upload is empty; expected a .zip of one study, its folder, or its files.")
            _write_uploads(source, temporary, settings)
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
