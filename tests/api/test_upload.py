"""received_files: multipart uploads within the size limit, their relative paths kept, their spooled copies closed."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence

import anyio
import pytest
import starlette.formparsers
from starlette.requests import Request
from starlette.types import Message

from core.api.upload import received_files
from core.config import Settings, get_settings
from core.errors import InputError, UploadTooLarge
from tests.api.asgi import multipart

MiB = 1024 * 1024


class Body:
    """The ``receive`` of a request whose body comes in ``chunks``; counts how many were asked for."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        self.chunks = list(chunks)
        self.read = 0

    async def __call__(self) -> Message:
        self.read += 1
        if not self.chunks:
            return {"type": "http.disconnect"}
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[tempfile.SpooledTemporaryFile]:
    """Every SpooledTemporaryFile the multipart parser makes, to check that each was closed."""
    made: list[tempfile.SpooledTemporaryFile] = []

    class Recorded(tempfile.SpooledTemporaryFile):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", Recorded)
    return made


def _settings(**changes: int) -> Settings:
    return dataclasses.replace(get_settings(), **changes)


def _receive(content_type: str | None, body: Body, settings: Settings,
             length: int | None = None) -> list[tuple[str, bytes]]:
    """The files received_files yields, as (relative path, bytes)."""
    headers = [(b"content-type", content_type.encode())] if content_type else []
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    scope = {"type": "http", "method": "POST", "path": "/api/predict", "headers": headers, "query_string": b""}

    async def main() -> list[tuple[str, bytes]]:
        async with received_files(Request(scope, body), settings) as files:
            return [(file.relative_path, file.content.read()) for file in files]

    return anyio.run(main)


def test_files_keep_their_relative_paths_and_bytes() -> None:
    content_type, body = multipart([("files", "FLAIR/Image-1.dcm", b"one"), ("files", "T2w/Image-9.dcm", b"two")])
    received = _receive(content_type, Body([body[:50], body[50:]]), _settings(), length=len(body))
    assert received == [("FLAIR/Image-1.dcm", b"one"), ("T2w/Image-9.dcm", b"two")]


def test_spooled_files_are_closed_after_the_block_also_when_on_disk(spooled: list) -> None:
    big = bytes(range(256)) * (2 * MiB // 256)  # past the 1 MiB spool: written to an unnamed file in TMPDIR
    content_type, body = multipart([("study", "case.zip", big), ("files", "small.dcm", b"x")])
    received = _receive(content_type, Body([body[i:i + 65536] for i in range(0, len(body), 65536)]), _settings())
    assert received[0] == ("case.zip", big)
    assert len(spooled) == 2 and all(file.closed for file in spooled)


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    body = Body([b"never read"])
    with pytest.raises(UploadTooLarge, match="MGMT_MAX_UPLOAD_MB"):
        _receive("multipart/form-data; boundary=x", body, _settings(max_upload_bytes=MiB), length=MiB + 1)
    assert body.read == 0


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(spooled: list) -> None:
    content_type, body = multipart([("study", "case.zip", b"\0" * (3 * MiB))])
    chunks = Body([body[i:i + 65536] for i in range(0, len(body), 65536)])
    with pytest.raises(UploadTooLarge, match="larger than 1,048,576 bytes"):
        _receive(content_type, chunks, _settings(max_upload_bytes=MiB))
    assert chunks.read == MiB // 65536 + 1  # stopped at the chunk that crossed the limit
    assert spooled and all(file.closed for file in spooled)


def test_a_body_that_is_not_multipart_is_refused_naming_its_type() -> None:
    with pytest.raises(InputError, match="The request body is application/json; expected multipart/form-data"):
        _receive("application/json", Body([b"{}"]), _settings())
    with pytest.raises(InputError, match="sent without a Content-Type"):
        _receive(None, Body([b"PK..."]), _settings())


def test_a_form_without_files_is_refused_naming_its_fields() -> None:
    content_type, body = multipart([("note", None, b"hello"), ("user", None, b"me")])
    with pytest.raises(InputError, match="no files \\(found only the fields 'note', 'user'\\)"):
        _receive(content_type, Body([body]), _settings())


def test_an_empty_file_input_of_a_browser_form_is_no_file() -> None:
    content_type, body = multipart([("study", "", b"")])
    with pytest.raises(InputError, match="no files \\(found nothing\\)"):
        _receive(content_type, Body([body]), _settings())


def test_broken_multipart_is_refused_as_unreadable() -> None:
    with pytest.raises(InputError, match="not readable multipart/form-data \\(Missing boundary"):
        _receive("multipart/form-data", Body([b"--x\r\n"]), _settings())


def test_more_files_than_a_study_may_have_is_too_large() -> None:
    content_type, body = multipart([("files", f"FLAIR/Image-{i}.dcm", b"x") for i in range(3)])
    with pytest.raises(UploadTooLarge, match="more than 2 files.*MGMT_MAX_ZIP_ENTRIES"):
        _receive(content_type, Body([body]), _settings(max_zip_entries=2))
