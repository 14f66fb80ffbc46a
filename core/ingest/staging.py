"""Stage an upload (folder, .zip, single file or browser files) as a plain folder that is removed afterwards.

Zip archives are checked before anything is extracted (entry count, declared size, paths, symlinks,
encryption), then streamed entry by entry against a byte budget, because a zip may lie about its sizes; a ``.gz``
file (gzipped NIfTI) is charged what it expands to (core/ingest/gzip_size.py). Paths deeper than MAX_PATH_DEPTH
are refused and folders are made one level at a time.
A zip inside the zip is not opened: it is extracted as a file, which the reader then passes over.
When the server's temporary folder cannot take the upload (missing, read-only, disk full) staging raises
``ServiceUnavailable`` naming the folder and the OS error; what was written so far is removed.
"""

from __future__ import annotations

import errno
import lzma
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.config import Settings, get_settings
from core.errors import InputError, ServiceUnavailable, UploadTooLarge
from core.ingest.gzip_size import ExpandedSize, is_gzip_name

SKIPPED_NAMES = frozenset({"__MACOSX", ".DS_Store"})
"""Entries at or under these names are dropped silently (macOS archive litter)."""
CHUNK_BYTES = 1 << 20
UNREADABLE_ZIP = (zipfile.BadZipFile, EOFError, NotImplementedError, OSError, zlib.error, lzma.LZMAError,
                  UnicodeDecodeError)
"""What reading a damaged or unsupported archive raises (bad CRC, bad stream, unknown compression, entry names
flagged UTF-8 that are not)."""
DRIVE = re.compile(r"^[A-Za-z]:")
MAX_PATH_DEPTH = 32
"""Folder levels a file of an upload may lie at (``00000/FLAIR/Image-1.dcm`` is 3): deeper paths are refused before
anything is written, so no input can drive a deep walk or recursion through the staging folder."""
STUDY = "one study folder with the FLAIR, T1w, T1wCE and T2w series"


@dataclass(frozen=True)
class UploadedFile:
    """One file of a browser/REST upload: its relative path as sent, and its bytes (or a binary file object)."""

    relative_path: str
    content: bytes | BinaryIO


def safe_relative_path(name: str, what: str, inside: str) -> PurePosixPath | None:
    """``name`` as a relative path inside the upload; None for entries to skip; InputError if it is unusable."""
    text = name.replace("\\", "/")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if not parts or "\0" in text:
        raise InputError(f"{what} has an empty or unusable name; expected a relative file path such as "
                         "'FLAIR/Image-1.dcm'.")
    if text.startswith("/") or DRIVE.match(text) or ".." in parts:
        raise InputError(f"{what} points outside {inside}; expected relative paths inside one study folder.")
    if len(parts) > MAX_PATH_DEPTH:
        raise InputError(f"A path in {inside} lies {len(parts):,} folder levels deep ('{'/'.join(parts[:3])}/…'); "
                         f"expected at most {MAX_PATH_DEPTH} levels (a study folder is a few levels deep).")
    if any(len(part.encode()) > 255 for part in parts):
        raise InputError(f"{what} has a name part longer than 255 bytes; expected ordinary file names.")
    if any(part in SKIPPED_NAMES for part in parts):
        return None
    return PurePosixPath(*parts)


def make_folders(folder: Path) -> None:
    """Create ``folder`` and its missing parents one level at a time (``Path.mkdir(parents=True)`` recurses once per
    level); FileExistsError or NotADirectoryError when a file stands where a folder is needed."""
    missing, level = [], folder
    while not level.is_dir() and level.parent != level:
        missing.append(level)
        level = level.parent
    for path in reversed(missing):
        path.mkdir()


def _unused(destination: Path) -> Path:
    """``destination``, or ``name~2.ext`` etc. when taken, so files sharing a name (flat browser uploads) all stay."""
    if not destination.exists():
        return destination
    name = destination.name
    dot = name.find(".", 1)
    stem, suffix = (name, "") if dot < 0 else (name[:dot], name[dot:])
    number = 2
    while (candidate := destination.with_name(f"{stem}~{number}{suffix}")).exists():
        number += 1
    return candidate


def no_room(err: OSError) -> ServiceUnavailable:
    """The server's temporary folder cannot take the upload: the server's problem, not the uploader's."""
    return ServiceUnavailable(f"The temporary folder '{tempfile.gettempdir()}' of this server cannot take the "
                              f"upload ({err.strerror or err}); expected a writable folder with free space (an "
                              "administrator can free disk space or set TMPDIR). Nothing was kept; try again later.")


def _write_failed(err: OSError, what: str) -> InputError | ServiceUnavailable:
    """Why writing part of an upload into the staging folder failed: its path (the upload's doing) or the folder."""
    if err.errno == errno.ENAMETOOLONG:
        return InputError(f"{what} has a path too long to store ({err.strerror}); expected a study folder a few "
                          "levels deep.")
    return no_room(err)


def staging_folder() -> Path:
    """A new, empty ``mgmt-upload-*`` folder in ``tempfile.gettempdir()``; ServiceUnavailable when there is none."""
    try:
        root = tempfile.gettempdir()
    except FileNotFoundError as err:  # none of TMPDIR, /tmp, /var/tmp, /usr/tmp or the working folder is writable
        raise ServiceUnavailable(f"The server has no usable temporary folder ({err}); expected TMPDIR to name a "
                                 "writable folder. Try again later.") from err
    try:
        return Path(tempfile.mkdtemp(prefix="mgmt-upload-", dir=root))
    except OSError as err:
        raise no_room(err) from err


def _write_within_budget(chunks: Iterable[bytes], destination: Path, budget: int, what: str,
                         too_large: str) -> tuple[Path, int]:
    """Write ``chunks`` to a new file at (or beside) ``destination``; UploadTooLarge past ``budget`` bytes (a
    ``.gz`` file's expanded bytes count), ServiceUnavailable when the temporary folder cannot take them (the caller
    removes the partial file). The bytes charged: those written, or what a ``.gz`` file expands to if more."""
    expanded = ExpandedSize(budget, too_large) if is_gzip_name(destination.name) else None
    try:
        make_folders(destination.parent)
        destination = _unused(destination)
        out = open(destination, "xb")
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as err:
        raise InputError(f"{what} needs a folder where the upload already has a file of that name; "
                         "expected one study folder.") from err
    except OSError as err:
        raise _write_failed(err, what) from err
    written = 0
    try:
        with out:
            for chunk in chunks:
                written += len(chunk)
                if written > budget:
                    raise UploadTooLarge(too_large)
                if expanded is not None:
                    expanded.feed(chunk)
                out.write(chunk)
    except OSError as err:  # ENOSPC, EFBIG, EDQUOT, EIO: also when the buffer is flushed on close
        raise _write_failed(err, what) from err
    return destination, max(written, expanded.bytes if expanded is not None else 0)


def _too_large(shown: str, limit: int) -> str:
    return (f"{shown} unpacks to more than {limit:,} bytes; expected one MRI study "
            "(raise MGMT_MAX_UNZIPPED_BYTES for larger ones).")


def _too_many(shown: str, count: int, limit: int) -> str:
    return (f"{shown} has {count:,} entries; expected at most {limit:,} for one study "
            "(raise MGMT_MAX_ZIP_ENTRIES for larger ones).")


def _declared_bytes(entries: Sequence[zipfile.ZipInfo]) -> int:
    return sum(entry.file_size for entry in entries)


def _unreadable(shown: str, reason: object) -> InputError:
    text = str(reason) or type(reason).__name__
    return InputError(f"'{shown}' is not a readable zip archive ({text}); "
                      "expected a .zip of one study folder, or the folder itself.")


def _member_chunks(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, shown: str) -> Iterator[bytes]:
    """The bytes of one entry, chunk by chunk; InputError when they cannot be read (only reading is guarded)."""
    try:
        with archive.open(entry) as source:
            while chunk := source.read(CHUNK_BYTES):
                yield chunk
    except UNREADABLE_ZIP as err:
        reason = str(err) if entry.filename in str(err) else f"entry '{entry.filename}': {err}"
        raise _unreadable(shown, reason) from err


def _checked_entries(archive: zipfile.ZipFile, shown: str, settings: Settings) -> list[zipfile.ZipInfo]:
    """The entries of ``archive`` after every check that needs no extraction; raises on the first failure."""
    entries = archive.infolist()
    if len(entries) > settings.max_zip_entries:
        raise UploadTooLarge(_too_many(f"'{shown}'", len(entries), settings.max_zip_entries))
    declared = _declared_bytes(entries)
    if declared > settings.max_unzipped_bytes:
        raise UploadTooLarge(f"'{shown}' unpacks to {declared:,} bytes; expected at most "
                             f"{settings.max_unzipped_bytes:,} for one study (raise MGMT_MAX_UNZIPPED_BYTES "
                             "for larger ones).")
    for entry in entries:
        what = f"Zip entry '{entry.filename}' in '{shown}'"
        safe_relative_path(entry.filename, what, "the archive")
        if entry.flag_bits & 0x1:
            raise InputError(f"{what} is encrypted; expected an archive without a password.")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise InputError(f"{what} is a symbolic link; expected plain files and folders only.")
    return entries


def extract_zip(path: Path, target: Path, settings: Settings, shown: str | None = None) -> None:
    """Extract a checked study archive into ``target``, streaming each entry against the byte budget."""
    shown = shown or path.name
    try:
        archive = zipfile.ZipFile(path)
    except UNREADABLE_ZIP as err:
        raise _unreadable(shown, err) from err
    budget, files = settings.max_unzipped_bytes, 0
    with archive:
        for entry in _checked_entries(archive, shown, settings):
            what = f"Zip entry '{entry.filename}' in '{shown}'"
            relative = safe_relative_path(entry.filename, what, "the archive")
            if relative is None:
                continue
            destination = target.joinpath(*relative.parts)
            if entry.is_dir():
                try:
                    make_folders(destination)
                except (FileExistsError, NotADirectoryError) as err:
                    raise InputError(f"{what} is a folder where the archive already has a file of that name; "
                                     "expected one study folder.") from err
                except OSError as err:
                    raise _write_failed(err, what) from err
                continue
            budget -= _write_within_budget(_member_chunks(archive, entry, shown), destination, budget, what,
                                           _too_large(f"'{shown}'", settings.max_unzipped_bytes))[1]
            files += 1
    if not files:
        raise InputError(f"'{shown}' is empty (no files among its {len(archive.filelist)} entries); expected a "
                         f".zip of {STUDY}.")


def _write_uploads(files: Sequence[UploadedFile], target: Path, settings: Settings) -> None:
    """Write uploaded files at their sanitised paths; a lone uploaded zip is extracted in place of itself."""
    if len(files) > settings.max_zip_entries:
        raise UploadTooLarge(_too_many("The upload", len(files), settings.max_zip_entries))
    budget, written = settings.max_unzipped_bytes, []
    too_large = _too_large("The upload", settings.max_unzipped_bytes)
    for upload in files:
        what = f"Uploaded file '{upload.relative_path}'"
        relative = safe_relative_path(upload.relative_path, what, "the upload")
        if relative is None:
            continue
        content = upload.content
        if isinstance(content, bytes | bytearray):
            chunks: Iterable[bytes] = [content]
        else:
            chunks = iter(lambda c=content: c.read(CHUNK_BYTES), b"")
        path, size = _write_within_budget(chunks, target.joinpath(*relative.parts), budget, what, too_large)
        budget -= size
        written.append((relative, path))
    if not written:
        raise InputError(f"The upload is empty (only {', '.join(f.relative_path for f in files[:3])}); "
                         f"expected a .zip of {STUDY}, or its files.")
    if len(written) == 1:
        relative, path = written[0]
        if zipfile.is_zipfile(path):
            extract_zip(path, path.parent / path.stem, settings, shown=str(relative))
            path.unlink()
        elif path.suffix.lower() == ".zip":
            raise _unreadable(str(relative), "no zip central directory found")


def _copy_single_file(path: Path, target: Path, settings: Settings) -> None:
    """Copy a lone non-zip file (e.g. one NIfTI) into the staging folder, within the byte limit."""
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"'{path.name}' is empty (0 bytes); expected a study folder, a .zip of one, or its files.")
    if size > settings.max_unzipped_bytes:
        raise UploadTooLarge(_too_large(f"'{path.name}'", settings.max_unzipped_bytes))
    try:
        source = open(path, "rb")
    except OSError as err:
        raise InputError(f"'{path.name}' cannot be read ({err.strerror or err}); expected a readable file.") from err
    with source:
        _write_within_budget(_file_chunks(source, path), target / path.name, settings.max_unzipped_bytes,
                             f"'{path.name}'", _too_large(f"'{path.name}'", settings.max_unzipped_bytes))


def _file_chunks(source: BinaryIO, path: Path) -> Iterator[bytes]:
    """The bytes of a local file chunk by chunk; InputError when reading it fails (only reading is guarded)."""
    try:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk
    except OSError as err:
        raise InputError(f"'{path.name}' cannot be read ({err.strerror or err}); expected a readable file.") from err


def _has_files(folder: Path) -> bool:
    return any(p.is_file() and not SKIPPED_NAMES.intersection(p.relative_to(folder).parts) for p in folder.rglob("*"))


@contextmanager
def staged(source: Path | str | Sequence[UploadedFile], settings: Settings | None = None) -> Iterator[Path]:
    """Yield a folder holding the study; anything staged in a temporary folder is removed when the block ends.

    A folder is yielded as it is (no copy). A zip (recognised by content, not by name) is checked, then
    extracted under ``<tmp>/<zip stem>/``. Another single file is copied into ``<tmp>/``. Uploaded files are
    written at their sanitised relative paths (files sharing a path get ``~2``, ``~3`` before the extension);
    a single uploaded zip is extracted like a zip path. The temporary folder (``mgmt-upload-*`` in
    ``tempfile.gettempdir()``) is removed also when staging or the body of the ``with`` raises; a temporary
    folder that cannot take the upload raises ServiceUnavailable. Nested zips are not opened.
    """
    settings = settings or get_settings()
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise InputError(f"'{path}' does not exist; expected a study folder, a .zip of one, or NIfTI files.")
        if path.is_dir():
            if not _has_files(path):
                raise InputError(f"'{path.name}' is empty; expected a study folder with the FLAIR, T1w, T1wCE "
                                 "and T2w series (DICOM), or four NIfTI files.")
            yield path
            return
        if not path.is_file():
            raise InputError(f"'{path}' is not a regular file (it is a device, pipe or socket); expected a study "
                             "folder, a .zip of one, or NIfTI files.")
    temporary = staging_folder()
    try:
        if not isinstance(source, str | Path):
            if not source:
                raise InputError(f"The upload is empty (no files); expected a .zip of {STUDY}, or its files.")
            _write_uploads(source, temporary, settings)
        elif zipfile.is_zipfile(path):
            extract_zip(path, temporary / path.stem, settings)
        elif path.suffix.lower() == ".zip":
            raise _unreadable(path.name, "no zip central directory found")
        else:
            _copy_single_file(path, temporary, settings)
        yield temporary
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
