"""Receiving an upload is timed and bounded: a body that stalls, crawls or outlasts its time is an UploadTimeout
(408), and at most ``max_receiving`` bodies arrive at once, each place given back however receiving ended."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import anyio
import pytest
from starlette.requests import Request
from starlette.types import Message

from core.admission import AdmissionGate
from core.api.upload import received_files
from core.config import Settings, get_settings
from core.errors import DISPOSITIONS, ServiceBusy, UploadTimeout
from tests.api.asgi import multipart

FOREVER_S = 3600.0


class PacedBody:
    """The ``receive`` of a request whose ``chunks`` arrive ``pause_s`` apart; after the last, with ``stall``, nothing
    more ever comes (a client that keeps the connection open and sends no byte)."""

    def __init__(self, chunks: Sequence[bytes], pause_s: float, stall: bool = False) -> None:
        self.chunks, self.pause_s, self.stall = list(chunks), pause_s, stall

    async def __call__(self) -> Message:
        if not self.chunks:
            await anyio.sleep(FOREVER_S if self.stall else 0)
            return {"type": "http.disconnect"}
        await anyio.sleep(self.pause_s)
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks) or self.stall}


def _settings(**changes: float) -> Settings:
    limits = {"upload_idle_s": 0.3, "upload_min_rate": 0, "upload_max_s": 60.0, **changes}
    return dataclasses.replace(get_settings(), **limits)


def _receive(body: PacedBody, settings: Settings, content_type: str,
             gate: AdmissionGate | None = None) -> list[str]:
    """The relative paths received_files yields."""
    scope = {"type": "http", "method": "POST", "path": "/api/predict", "query_string": b"",
             "headers": [(b"content-type", content_type.encode())]}

    async def main() -> list[str]:
        async with received_files(Request(scope, body), settings, gate) as files:
            return [file.relative_path for file in files]

    return anyio.run(main)


def _study_body(size: int = 64 * 1024) -> tuple[str, list[bytes]]:
    content_type, body = multipart([("study", "case.zip", b"\1" * size)])
    return content_type, [body[i:i + 4096] for i in range(0, len(body), 4096)]


def test_a_body_that_stops_arriving_is_a_timeout_naming_the_idle_limit() -> None:
    content_type, chunks = _study_body()
    with pytest.raises(UploadTimeout, match=r"no byte came for 0.3 s \(MGMT_UPLOAD_IDLE_S\), after 4,096 bytes"):
        _receive(PacedBody(chunks[:1], 0.0, stall=True), _settings(), content_type)


def test_a_body_trickling_below_the_minimum_rate_is_a_timeout() -> None:
    content_type, chunks = _study_body()
    trickle = [byte for chunk in chunks for byte in (chunk[i:i + 16] for i in range(0, len(chunk), 16))]
    with pytest.raises(UploadTimeout, match=r"KiB/s on average over 0\.\d s; expected at least 1 KiB/s"):
        _receive(PacedBody(trickle, 0.05), _settings(upload_idle_s=0.2, upload_min_rate=1024), content_type)


def test_a_body_still_arriving_after_the_maximum_time_is_a_timeout() -> None:
    content_type, chunks = _study_body()
    with pytest.raises(UploadTimeout, match=r"still arriving after 0.5 s \(MGMT_UPLOAD_MAX_S\)"):
        _receive(PacedBody(chunks, 0.05), _settings(upload_max_s=0.5), content_type)


def test_a_body_with_pauses_under_the_idle_limit_is_received() -> None:
    content_type, chunks = _study_body(8 * 1024)
    assert _receive(PacedBody(chunks, 0.1), _settings(), content_type) == ["case.zip"]


def test_a_timeout_answers_408_and_is_logged_as_timeout() -> None:
    answer = DISPOSITIONS[UploadTimeout]
    assert (answer.http_status, answer.log_status) == (408, "timeout")


def test_an_upload_beyond_the_receiving_places_is_busy_at_once() -> None:
    gate = AdmissionGate(slots=1, queue_size=0, timeout_s=1, max_receiving=1)
    content_type, chunks = _study_body()
    with gate.receiving(retry_after_s=3):
        with pytest.raises(ServiceBusy, match="receiving 1 uploads, its most at once; please try again in 1 s"):
            _receive(PacedBody(chunks, 0.0), _settings(upload_idle_s=0.3), content_type, gate)
    assert gate.status().refused == 1


def test_a_stalled_upload_gives_its_receiving_place_back_and_holds_no_queue_place() -> None:
    gate = AdmissionGate(slots=1, queue_size=0, timeout_s=1, max_receiving=1)
    content_type, chunks = _study_body()
    seen: list[tuple[int, int]] = []

    class Watched(PacedBody):
        async def __call__(self) -> Message:
            status = gate.status()
            seen.append((status.receiving, status.staging + status.active + status.waiting))
            return await super().__call__()

    with pytest.raises(UploadTimeout):
        _receive(Watched(chunks[:2], 0.0, stall=True), _settings(), content_type, gate)
    assert set(seen) == {(1, 0)}  # receiving, and no place of the queue or a slot taken meanwhile
    assert gate.status().receiving == 0
    assert _receive(PacedBody(chunks, 0.0), _settings(), content_type, gate) == ["case.zip"]


def test_an_upload_that_would_pass_the_bytes_being_received_is_busy() -> None:
    gate = AdmissionGate(slots=1, queue_size=0, timeout_s=1, max_receiving=4, receiving_bytes=32 * 1024)
    content_type, chunks = _study_body()
    with pytest.raises(ServiceBusy, match="the uploads it is receiving hold 32,768 bytes, its most at once is 32,768"):
        _receive(PacedBody(chunks, 0.0), _settings(), content_type, gate)
    assert (gate.status().receiving_bytes, gate.status().refused) == (0, 1)
