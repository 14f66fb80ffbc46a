"""Every POST /api/predict that reaches the API is logged, also when it is refused while its upload is parsed: no
file field, a body that is not multipart, broken multipart, a declared size over the limit, too many parts, a bad
query parameter, a client that went away; with its status and without the names it carried."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette
from starlette.types import Message

from core.api import api_routes
from core.config import get_settings
from core.service import Service, reset_service
from tests.api.asgi import call, multipart

SECRET_NAME = "DOE_JANE_4711"
"""A name that a file of the upload carries: it must never reach the log."""


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """The process's service with a new log, small limits (1 MiB, 2 files), the model not loaded."""
    for name in ("MGMT_API_TOKEN", "MGMT_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MGMT_MAX_UPLOAD_MB", "1")
    monkeypatch.setenv("MGMT_MAX_ZIP_ENTRIES", "2")
    settings = dataclasses.replace(get_settings(), db_path=tmp_path / "log.duckdb")
    service = Service(settings=settings, import_cohort=False)
    reset_service(service)
    yield service
    reset_service(None)


def _post(content_type: str | None, body: bytes, query: str = "", length: int | None = None) -> int:
    headers = {"Content-Type": content_type} if content_type else {}
    headers["Content-Length"] = str(len(body) if length is None else length)
    return call(Starlette(routes=api_routes()), "POST", "/api/predict", headers, [body], query).status


def _rows(service: Service) -> list[tuple[str, str, str]]:
    frame = service.store.predictions(limit=50)
    return list(zip(frame["status"], frame["channel"], frame["error"], strict=True))


@pytest.mark.parametrize(("content_type", "parts", "query", "length", "answer", "status", "says"), [
    ("form", [("note", None, b"hello")], "", None, 400, "rejected", "has no files"),
    ("application/json", [], "", None, 400, "rejected", "The request body is application/json"),
    ("multipart/form-data", [], "", None, 400, "rejected", "not readable multipart/form-data"),
    ("form", [("study", f"{SECRET_NAME}.zip", b"x")], "", 2 * 1024**2, 413, "too_large", "larger than"),
    ("form", [("files", f"{SECRET_NAME}/{i}.dcm", b"x") for i in range(3)], "", None, 413, "too_large",
     "more than 2 files"),
    ("form", [("study", f"{SECRET_NAME}.zip", b"x")], "report=docx", None, 400, "rejected", "report='…'"),
])
def test_a_refusal_while_parsing_is_logged_with_its_status(service: Service, content_type: str, parts: list,
                                                           query: str, length: int | None, answer: int, status: str,
                                                           says: str) -> None:
    form_type, body = multipart(parts) if parts else ("", b"--x\r\n")
    assert _post(form_type if content_type == "form" else content_type, body, query, length) == answer
    [(logged, channel, error)] = _rows(service)
    assert (logged, channel) == (status, "api") and says in error
    assert SECRET_NAME not in error


def test_a_client_that_goes_away_before_its_upload_arrived_is_logged_as_disconnected(service: Service) -> None:
    content_type, body = multipart([("study", f"{SECRET_NAME}.zip", b"\1" * 4096)])
    pending = [{"type": "http.request", "body": body[:100], "more_body": True}]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/predict", "raw_path": b"/api/predict", "root_path": "",
             "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
             "headers": [(b"content-type", content_type.encode())]}

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    anyio.run(Starlette(routes=api_routes()), scope, receive, send)
    [(logged, _, error)] = _rows(service)
    assert logged == "disconnected" and error == "The client went away before its upload had arrived."


def test_a_busy_refusal_is_counted_not_logged(service: Service) -> None:
    service.admission.max_receiving = 1
    content_type, body = multipart([("study", "case.zip", b"x")])
    with service.admission.receiving(retry_after_s=1):
        assert _post(content_type, body) == 503
    assert _rows(service) == [] and service.admission.status().refused == 1
