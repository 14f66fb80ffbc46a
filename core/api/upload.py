"""Receive the files of a multipart upload within its limits, and release them after the request.

Starlette's multipart parser keeps each file part in a ``SpooledTemporaryFile`` (memory up to 1 MiB, then an
unnamed temporary file in ``TMPDIR``) and limits only the size of plain form fields, not of files. So the
declared Content-Length is checked before anything is read, the bytes are counted while they arrive (chunked
uploads declare no length), and the spooled files are closed, which deletes them, when the block ends.

Receiving holds one of the gate's ``max_receiving`` places (never a scoring slot or queue place) and is timed: no
byte for ``MGMT_UPLOAD_IDLE_S``, an average under ``MGMT_UPLOAD_MIN_RATE_KB`` once that long has passed, or more
than ``MGMT_UPLOAD_MAX_S`` in all is an ``UploadTimeout`` (408), so a client that sends headers and then nothing
holds its place for seconds, not for as long as it keeps the connection open.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager, nullcontext

import anyio
from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from core.admission import AdmissionGate, Reception
from core.config import Settings
from core.errors import InputError, UploadTimeout, UploadTooLarge
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


def _check_pace(received: int, elapsed: float, settings: Settings) -> None:
    """UploadTimeout when, past the first ``upload_idle_s``, the body arrives slower than ``upload_min_rate``."""
    if elapsed > settings.upload_idle_s and received < settings.upload_min_rate * elapsed:
        raise UploadTimeout(f"The upload arrived at {received / elapsed / 1024:,.1f} KiB/s on average over "
                            f"{elapsed:.1f} s; expected at least {settings.upload_min_rate // 1024:,} KiB/s "
                            "(MGMT_UPLOAD_MIN_RATE_KB). Nothing was kept; send it again on a faster line.")


async def _counted(request: Request, settings: Settings, reception: Reception | None) -> AsyncIterator[bytes]:
    """The request body chunk by chunk, charged to ``reception``; UploadTooLarge as soon as it passes the limit,
    UploadTimeout when it stalls (no byte for ``upload_idle_s``), crawls (``_check_pace``) or outlasts
    ``upload_max_s``."""
    received, started = 0, time.monotonic()
    deadline = started + settings.upload_max_s
    async with aclosing(request.stream()) as chunks:
        while True:
            wait = min(settings.upload_idle_s, deadline - time.monotonic())
            with anyio.move_on_after(max(wait, 0.0)) as timer:
                chunk = await anext(chunks, None)
            if timer.cancelled_caught:
                stalled = wait >= settings.upload_idle_s
                limit = (f"no byte came for {settings.upload_idle_s:g} s (MGMT_UPLOAD_IDLE_S)" if stalled else
                         f"it was still arriving after {settings.upload_max_s:g} s (MGMT_UPLOAD_MAX_S)")
                raise UploadTimeout(f"The upload did not arrive in time: {limit}, after {received:,} bytes; "
                                    "expected the whole body without long pauses. Nothing was kept.")
            if chunk is None:
                return
            received += len(chunk)
            if received > settings.max_upload_bytes:
                raise UploadTooLarge(_too_large(settings))
            if reception is not None:
                reception.charge(len(chunk))
            _check_pace(received, time.monotonic() - started, settings)
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
async def received_files(request: Request, settings: Settings,
                         gate: AdmissionGate | None = None) -> AsyncIterator[list[UploadedFile]]:
    """The uploaded files with their relative paths as sent; their spooled copies are gone after the block.
    With ``gate``, the body is received in one of its ``max_receiving`` places and charged to its ``receiving_bytes``
    (ServiceBusy when no place is free or the bytes would pass it)."""
    _require_multipart(request)
    check_declared_size(request, settings)
    receiving = gate.receiving(math.ceil(settings.upload_idle_s)) if gate is not None else nullcontext()
    try:
        with receiving as reception:
            parser = MultiPartParser(request.headers, _counted(request, settings, reception),
                                     max_files=settings.max_zip_entries, max_fields=MAX_FIELDS,
                                     max_part_size=MAX_FIELD_BYTES)
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
