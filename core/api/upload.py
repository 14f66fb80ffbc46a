"""Receive the files of a multipart upload within ``MGMT_MAX_UPLOAD_MB``, and release them after the request.

Starlette's multipart parser keeps each file part in a ``SpooledTemporaryFile`` (memory up to 1 MiB, then an
unnamed temporary file in ``TMPDIR``) and limits only the size of plain form fields, not of files. So the
declared Content-Length is checked before anything is read, the bytes are counted while they arrive (chunked
uploads declare no length), and the spooled files are closed, which deletes them, when the block ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from core.config import Settings
from core.errors import InputError, UploadTooLarge
from core.ingest import UploadedFile
from core.ingest.staging import no_room

MULTIPART = b"multipart/form-data"
MAX_FIELDS = 100
"""Plain (non-file) form fields accepted; the API reads none, a browser form may send a few."""
MAX_FIELD_BYTES = 64 * 1024
EXPECTED = ("expected multipart/form-data with a .zip of one study folder, or its files named by relative path "
            "such as 'FLAIR/Image-1.dcm' (curl -F 'study=@case.zip' ...)")


def _too_large(settings: Settings) -> str:
    return (f"The upload is larger than {settings.max_upload_bytes:,} bytes; expected one MRI study "
            "(raise MGMT_MAX_UPLOAD_MB for larger ones).")


def check_declared_size(request: Request, settings: Settings) -> None:
    """UploadTooLarge when the Content-Length header alone exceeds the limit (nothing is read)."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise InputError(f"The Content-Length header is {declared!r}; expected a number of bytes.")
    if int(declared) > settings.max_upload_bytes:
        raise UploadTooLarge(_too_large(settings))


async def _counted(request: Request, settings: Settings) -> AsyncIterator[bytes]:
    """The request body chunk by chunk; UploadTooLarge as soon as it passes the limit."""
    received = 0
    async with aclosing(request.stream()) as chunks:
        async for chunk in chunks:
            received += len(chunk)
            if received > settings.max_upload_bytes:
                raise UploadTooLarge(_too_large(settings))
            yield chunk


def _require_multipart(request: Request) -> None:
    content_type, _ = parse_options_header(request.headers.get("content-type"))
    if content_type != MULTIPART:
        found = content_type.decode("latin-1") or "sent without a Content-Type"
        raise InputError(f"The request body is {found}; {EXPECTED}.")


def _chosen(part: UploadFile) -> bool:
    """False for the empty part a browser form sends when no file was chosen."""
    return bool(part.filename) or bool(part.size)


@asynccontextmanager
async def received_files(request: Request, settings: Settings) -> AsyncIterator[list[UploadedFile]]:
    """The uploaded files with their relative paths as sent; their spooled copies are gone after the block."""
    _require_multipart(request)
    check_declared_size(request, settings)
    parser = MultiPartParser(request.headers, _counted(request, settings), max_files=settings.max_zip_entries,
                             max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
    try:
        form = await parser.parse()  # on failure the parser closes the files it spooled
    except MultiPartException as err:
        if err.message.startswith("Too many files"):
            raise UploadTooLarge(f"The upload has more than {settings.max_zip_entries:,} files; expected one "
                                 "study (raise MGMT_MAX_ZIP_ENTRIES for larger ones).") from err
        raise InputError(f"The upload is not readable multipart/form-data ({err.message}); {EXPECTED}.") from err
    except OSError as err:  # spooling a file part to TMPDIR failed (disk full, TMPDIR unusable): the server's fault
        raise no_room(err) from err
    try:
        parts = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        files = [UploadedFile(part.filename or "", part.file) for part in parts if _chosen(part)]
        if not files:
            fields = sorted({name for name, value in form.multi_items() if isinstance(value, str)})
            found = f"only the fields {', '.join(map(repr, fields))}" if fields else "nothing"
            raise InputError(f"The upload has no files (found {found}); {EXPECTED}.")
        yield files
    finally:
        await form.close()
